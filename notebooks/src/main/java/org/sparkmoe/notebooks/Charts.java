package org.sparkmoe.notebooks;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;

/**
 * XChart plots as {@link BufferedImage}s: the rapaio Java kernel shows a {@code BufferedImage} given to
 * {@code display(...)} as a PNG in the notebook, and Zeppelin users write the same image with {@link #savePng}.
 * Rendering needs no display ({@code java.awt.headless=true} is set by install-kernel.sh and harmless elsewhere).
 */
public final class Charts {

    /** Pixel size of every chart; wide enough for a notebook cell, small enough to keep notebooks light. */
    public static final int WIDTH = 900;
    public static final int HEIGHT = 420;

    private Charts() {}

    /** One category per key, in the map's order. */
    public static BufferedImage bars(String title, String xTitle, String yTitle, Map<String, ? extends Number> values) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setXAxisLabelRotation(values.size() > 8 ? 45 : 0);
        chart.addSeries(yTitle, new ArrayList<>(values.keySet()), new ArrayList<Number>(values.values()));
        return image(chart);
    }

    /** Several named bar series over the same categories (for example documents per language, per run). */
    public static BufferedImage groupedBars(String title, String xTitle, String yTitle,
                                            Map<String, Map<String, ? extends Number>> seriesByName) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        seriesByName.forEach((name, values) ->
                chart.addSeries(name, new ArrayList<>(values.keySet()), new ArrayList<Number>(values.values())));
        return image(chart);
    }

    /** Curves on shared axes, one per entry; {@code logY} for quantities such as loss that span decades. */
    public static BufferedImage lines(String title, String xTitle, String yTitle, Map<String, Series> curves,
                                      boolean logY) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setYAxisLogarithmic(logY);
        chart.getStyler().setMarkerSize(curves.values().stream().anyMatch(s -> s.size() > 50) ? 0 : 5);
        curves.forEach((name, s) -> {
            if (s.size() > 0) {
                chart.addSeries(name, s.x(), s.y()).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            }
        });
        return image(chart);
    }

    /**
     * Histograms on a log10 x axis, one curve per series (document lengths span five decades, and overlapping bars
     * would hide the smaller languages). Each point is a bin's centre and its count.
     */
    public static BufferedImage log10Histogram(String title, String xTitle, Map<String, double[]> valuesBySeries,
                                               int bins) {
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double[] values : valuesBySeries.values()) {
            for (double v : values) {
                double l = Math.log10(Math.max(1, v));
                lo = Math.min(lo, l);
                hi = Math.max(hi, l);
            }
        }
        if (lo > hi) {
            lo = 0;
            hi = 1;
        }
        double width = Math.max(1e-9, (hi - lo) / bins);
        double[] centres = new double[bins];
        for (int b = 0; b < bins; b++) {
            centres[b] = Math.pow(10, lo + (b + 0.5) * width);
        }
        Map<String, Series> curves = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, double[]> e : valuesBySeries.entrySet()) {
            double[] counts = new double[bins];
            for (double v : e.getValue()) {
                int b = (int) ((Math.log10(Math.max(1, v)) - lo) / width);
                counts[Math.min(bins - 1, Math.max(0, b))]++;
            }
            curves.put(e.getKey(), new Series(centres, counts));
        }
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle + " (log scale)").yAxisTitle("documents per bin").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNE);
        chart.getStyler().setXAxisLogarithmic(true);
        curves.forEach((name, c) -> chart.addSeries(name, c.x(), c.y()));
        return image(chart);
    }

    /**
     * A heat map of {@code z_RC} (rows along y, columns along x), for example tokens per expert (y) over steps (x).
     */
    public static BufferedImage heatmap(String title, String xTitle, String yTitle, double[][] z_RC) {
        int rows = z_RC.length;
        int cols = rows == 0 ? 0 : z_RC[0].length;
        HeatMapChart chart = new HeatMapChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        chart.getStyler().setShowValue(false);
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        List<Number[]> cells = new ArrayList<>();
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                cells.add(new Number[] {c, r, z_RC[r][c]});
                min = Math.min(min, z_RC[r][c]);
                max = Math.max(max, z_RC[r][c]);
            }
        }
        if (cells.isEmpty()) {
            cells.add(new Number[] {0, 0, 0.0});
            min = 0;
            max = 1;
        }
        chart.getStyler().setMin(min);
        chart.getStyler().setMax(max > min ? max : min + 1);
        List<Integer> xs = new ArrayList<>();
        for (int c = 0; c < Math.max(1, cols); c++) {
            xs.add(c);
        }
        List<Integer> ys = new ArrayList<>();
        for (int r = 0; r < Math.max(1, rows); r++) {
            ys.add(r);
        }
        chart.addSeries(yTitle, xs, ys, cells);
        return image(chart);
    }

    /** Writes a chart image as PNG (Zeppelin's %html can show it, and CI keeps it as evidence). */
    public static Path savePng(BufferedImage image, Path file) throws IOException {
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        javax.imageio.ImageIO.write(image, "png", file.toFile());
        return file;
    }

    /** An HTML {@code <img>} with the PNG inline, for Zeppelin's {@code %html} display (docs/notebooks.md). */
    public static String html(BufferedImage image) throws IOException {
        java.io.ByteArrayOutputStream png = new java.io.ByteArrayOutputStream();
        javax.imageio.ImageIO.write(image, "png", png);
        return "<img src=\"data:image/png;base64," + java.util.Base64.getEncoder().encodeToString(png.toByteArray())
                + "\"/>";
    }

    private static BufferedImage image(Chart<?, ?> chart) {
        return BitmapEncoder.getBufferedImage(chart);
    }
}
