package org.sparkmoe.jobs.charts;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.text.DecimalFormat;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.HeatMapChart;
import org.knowm.xchart.HeatMapChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.internal.chartpart.IChart;
import org.knowm.xchart.style.Styler;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Every figure SparkMoE draws, as XChart charts rendered to {@link BufferedImage}s of {@link #WIDTH} x
 * {@link #HEIGHT}: the {@code evaluate} job's PNGs and the notebooks' plots (the rapaio Java kernel shows a
 * {@code BufferedImage} given to {@code display(...)}; Zeppelin shows {@link #html}). Each chart has a title, axis
 * titles, tick labels formatted for the data's range ({@link AxisFormat}) and a legend when it has more than one
 * series; heat maps carry a colour bar. Rendering needs no display ({@code java.awt.headless=true} is harmless).
 */
public final class Charts {

    /** Pixel size of every chart; wide enough for a notebook cell or a report page, small enough to keep both light. */
    public static final int WIDTH = 900;
    public static final int HEIGHT = 420;

    /** Bands of the heat maps' colour bar. */
    private static final int COLOUR_BANDS = 8;
    /** The heat maps' scale, near white (least) to dark blue (most): reads in print and for colour-blind readers. */
    private static final Color[] HEAT = blues(COLOUR_BANDS);

    private Charts() {}

    /** One category per key, in the map's order. */
    public static BufferedImage bars(String title, String xTitle, String yTitle, Map<String, ? extends Number> values) {
        return groupedBars(title, xTitle, yTitle, Map.of(yTitle, values));
    }

    /** Several named bar series over the same categories (for example documents per language, per run). */
    public static BufferedImage groupedBars(String title, String xTitle, String yTitle,
                                            Map<String, ? extends Map<String, ? extends Number>> seriesByName) {
        CategoryChart chart = new CategoryChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(chart.getStyler());
        chart.getStyler().setLegendVisible(seriesByName.size() > 1);
        int categories = seriesByName.values().stream().mapToInt(Map::size).max().orElse(0);
        chart.getStyler().setXAxisLabelRotation(categories > 8 ? 45 : 0);
        List<double[]> all = new ArrayList<>();
        seriesByName.forEach((name, values) -> {
            List<Number> ys = new ArrayList<>(values.values());
            all.add(ys.stream().mapToDouble(Number::doubleValue).toArray());
            chart.addSeries(name, new ArrayList<>(values.keySet()), ys);
        });
        all.add(new double[] {0});
        chart.getStyler().setYAxisDecimalPattern(AxisFormat.pattern(all.toArray(double[][]::new)));
        return image(chart);
    }

    /**
     * Curves on shared axes, one per entry (points whose y is not finite are left out); {@code logY} for
     * quantities that span decades.
     */
    public static BufferedImage lines(String title, String xTitle, String yTitle, Map<String, Series> curves,
                                      boolean logY) {
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(chart.getStyler());
        chart.getStyler().setYAxisLogarithmic(logY);
        List<double[]> xs = new ArrayList<>();
        List<double[]> ys = new ArrayList<>();
        Map<String, Series> drawn = new LinkedHashMap<>();
        curves.forEach((name, s) -> {
            Series finite = s.finite();
            if (!finite.isEmpty()) {
                drawn.put(name, finite);
                xs.add(finite.x());
                ys.add(finite.y());
            }
        });
        chart.getStyler().setLegendVisible(drawn.size() > 1);
        chart.getStyler().setMarkerSize(drawn.values().stream().anyMatch(s -> s.size() > 50) ? 0 : 6);
        drawn.forEach((name, s) ->
                chart.addSeries(name, s.x(), s.y()).setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line));
        if (drawn.isEmpty()) {
            // XChart cannot draw an empty chart; one invisible point keeps the title and axes.
            chart.addSeries("no data", new double[] {0}, new double[] {0}).setShowInLegend(false);
        }
        chart.getStyler().setXAxisDecimalPattern(AxisFormat.pattern(xs.toArray(double[][]::new)));
        if (!logY) {
            chart.getStyler().setYAxisDecimalPattern(AxisFormat.pattern(ys.toArray(double[][]::new)));
        }
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
        XYChart chart = new XYChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle + " (log scale)").yAxisTitle("documents per bin").build();
        style(chart.getStyler());
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setLegendVisible(valuesBySeries.size() > 1);
        List<double[]> counts = new ArrayList<>();
        for (Map.Entry<String, double[]> e : valuesBySeries.entrySet()) {
            double[] perBin = new double[bins];
            for (double v : e.getValue()) {
                int b = (int) ((Math.log10(Math.max(1, v)) - lo) / width);
                perBin[Math.min(bins - 1, Math.max(0, b))]++;
            }
            counts.add(perBin);
            chart.addSeries(e.getKey(), centres, perBin);
        }
        chart.getStyler().setYAxisDecimalPattern(AxisFormat.pattern(counts.toArray(double[][]::new)));
        return image(chart);
    }

    /**
     * A heat map of {@code z_RC}: row r along y labelled {@code rows.get(r)}, column c along x labelled
     * {@code columns.get(c)}, with a colour bar from the smallest to the largest value, titled {@code valueTitle}
     * (for example tokens per routed expert (x) in each round (y)).
     */
    public static BufferedImage heatmap(String title, String xTitle, List<String> columns, String yTitle,
                                        List<String> rows, double[][] z_RC, String valueTitle) {
        if (rows.size() != z_RC.length || (z_RC.length > 0 && columns.size() != z_RC[0].length)) {
            throw new IllegalArgumentException("heat map '" + title + "': " + rows.size() + " row and "
                    + columns.size() + " column labels for a " + z_RC.length + " x "
                    + (z_RC.length == 0 ? 0 : z_RC[0].length) + " matrix");
        }
        HeatMapChart chart = new HeatMapChartBuilder().width(WIDTH).height(HEIGHT)
                .title(title).xAxisTitle(xTitle).yAxisTitle(yTitle).build();
        style(chart.getStyler());
        chart.getStyler().setLegendVisible(true);
        chart.getStyler().setShowValue(false);
        chart.getStyler().setRangeColors(HEAT);
        // XChart labels a continuous colour bar with raw doubles; bands label their ranges with our formatter.
        chart.getStyler().setPiecewise(true);
        chart.getStyler().setPiecewiseRanged(true);
        chart.getStyler().setSplitNumber(COLOUR_BANDS);
        List<Number[]> cells = new ArrayList<>();
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (int r = 0; r < z_RC.length; r++) {
            for (int c = 0; c < z_RC[r].length; c++) {
                cells.add(new Number[] {c, r, z_RC[r][c]});
                min = Math.min(min, z_RC[r][c]);
                max = Math.max(max, z_RC[r][c]);
            }
        }
        List<String> xs = new ArrayList<>(columns);
        List<String> ys = new ArrayList<>(rows);
        if (cells.isEmpty()) {
            cells.add(new Number[] {0, 0, 0.0});
            xs = List.of("-");
            ys = List.of("-");
            min = 0;
            max = 1;
        }
        chart.getStyler().setMin(min);
        chart.getStyler().setMax(max > min ? max : min + 1);
        DecimalFormat values = AxisFormat.format(AxisFormat.pattern(min, max));
        chart.getStyler().setHeatMapDecimalValueFormatter(values::format);
        chart.addSeries(valueTitle, xs, ys, cells);
        return image(chart);
    }

    /** Writes a chart image as PNG to a local file (Zeppelin's %html can show it, and CI keeps it as evidence). */
    public static Path savePng(BufferedImage image, Path file) throws IOException {
        if (file.getParent() != null) {
            Files.createDirectories(file.getParent());
        }
        try (OutputStream out = Files.newOutputStream(file)) {
            writePng(image, out);
        }
        return file;
    }

    /** Encodes a chart image as PNG onto {@code out} (for example a Hadoop file being published). */
    public static void writePng(BufferedImage image, OutputStream out) throws IOException {
        if (!ImageIO.write(image, "png", out)) {
            throw new IOException("no PNG writer in this JVM: the JDK's javax.imageio is needed to write charts");
        }
    }

    /** An HTML {@code <img>} with the PNG inline, for Zeppelin's {@code %html} display (docs/notebooks.md). */
    public static String html(BufferedImage image) throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        writePng(image, png);
        return "<img src=\"data:image/png;base64," + Base64.getEncoder().encodeToString(png.toByteArray()) + "\"/>";
    }

    /** The look every chart shares: white background, the legend right of the plot (never over data), no border. */
    private static void style(Styler styler) {
        styler.setChartBackgroundColor(Color.WHITE);
        styler.setLegendPosition(Styler.LegendPosition.OutsideE);
        styler.setLegendBorderColor(Color.LIGHT_GRAY);
        styler.setPlotBorderVisible(false);
        styler.setChartTitleBoxVisible(false);
    }

    /** {@code n} colours from near white to dark blue, evenly spaced. */
    private static Color[] blues(int n) {
        Color light = new Color(0xeff3ff);
        Color dark = new Color(0x08306b);
        Color[] colours = new Color[n];
        for (int i = 0; i < n; i++) {
            double t = (double) i / (n - 1);
            colours[i] = new Color(mix(light.getRed(), dark.getRed(), t), mix(light.getGreen(), dark.getGreen(), t),
                    mix(light.getBlue(), dark.getBlue(), t));
        }
        return colours;
    }

    private static int mix(int from, int to, double t) {
        return (int) Math.round(from + (to - from) * t);
    }

    /**
     * Fails, naming what to install, when Java2D cannot draw text here: a host without fontconfig or without any
     * font (minimal images, GPU nodes) fails every chart, so a job checks before it computes what it would plot.
     */
    public static void requireFonts(String job) {
        try {
            Graphics2D g = new BufferedImage(16, 16, BufferedImage.TYPE_INT_RGB).createGraphics();
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.drawString("0", 2, 12);
            g.dispose();
        } catch (RuntimeException | InternalError | UnsatisfiedLinkError e) {
            throw new UsageException(job + " draws PNG plots with Java2D, which cannot find a font on this host (" + e
                    + "): install fontconfig and one font family on the driver's host (Debian/Ubuntu: apt-get install"
                    + " fontconfig fonts-dejavu-core; RHEL/Rocky: dnf install fontconfig dejavu-sans-fonts), or point"
                    + " FONTCONFIG_FILE at a fonts.conf whose <dir> holds .ttf files", e);
        }
    }

    private static BufferedImage image(IChart chart) {
        return BitmapEncoder.getBufferedImage(chart);
    }
}
