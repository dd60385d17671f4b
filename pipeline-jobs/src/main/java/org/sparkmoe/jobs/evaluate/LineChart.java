package org.sparkmoe.jobs.evaluate;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/** A PNG line chart (pure Java2D, headless): one or more named series of (x, y) points on shared axes. */
public final class LineChart {

    private static final int WIDTH = 900;
    private static final int HEIGHT = 540;
    private static final int MARGIN = 70;
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
            new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b)};

    /** One series; points with a non-finite y are left out. */
    public record Series(String name, double[] x, double[] y) {}

    private final String title;
    private final String xLabel;
    private final String yLabel;
    private final List<Series> series = new ArrayList<>();

    public LineChart(String title, String xLabel, String yLabel) {
        this.title = title;
        this.xLabel = xLabel;
        this.yLabel = yLabel;
    }

    public LineChart add(Series s) {
        series.add(s);
        return this;
    }

    public BufferedImage render() {
        double minX = Double.POSITIVE_INFINITY, maxX = Double.NEGATIVE_INFINITY;
        double minY = Double.POSITIVE_INFINITY, maxY = Double.NEGATIVE_INFINITY;
        for (Series s : series) {
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.y()[i])) {
                    minX = Math.min(minX, s.x()[i]);
                    maxX = Math.max(maxX, s.x()[i]);
                    minY = Math.min(minY, s.y()[i]);
                    maxY = Math.max(maxY, s.y()[i]);
                }
            }
        }
        if (!(maxX > minX)) {
            maxX = minX + 1;
        }
        if (!(maxY > minY)) {
            maxY = minY + 1;
        }
        BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, WIDTH, HEIGHT);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
        g.drawString(title, MARGIN, 30);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int plotW = WIDTH - 2 * MARGIN;
        int plotH = HEIGHT - 2 * MARGIN;
        g.drawRect(MARGIN, MARGIN, plotW, plotH);
        for (int t = 0; t <= 4; t++) {
            double xv = minX + (maxX - minX) * t / 4;
            double yv = minY + (maxY - minY) * t / 4;
            int px = MARGIN + plotW * t / 4;
            int py = MARGIN + plotH - plotH * t / 4;
            g.drawString(String.format("%.4g", xv), px - 20, MARGIN + plotH + 18);
            g.drawString(String.format("%.4g", yv), 8, py + 4);
        }
        g.drawString(xLabel, MARGIN + plotW / 2 - 30, HEIGHT - 20);
        g.drawString(yLabel, 8, MARGIN - 12);
        g.setStroke(new BasicStroke(2f));
        for (int k = 0; k < series.size(); k++) {
            Series s = series.get(k);
            g.setColor(PALETTE[k % PALETTE.length]);
            int prevX = -1, prevY = -1;
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.y()[i])) {
                    continue;
                }
                int px = MARGIN + (int) Math.round((s.x()[i] - minX) / (maxX - minX) * plotW);
                int py = MARGIN + plotH - (int) Math.round((s.y()[i] - minY) / (maxY - minY) * plotH);
                if (prevX >= 0) {
                    g.drawLine(prevX, prevY, px, py);
                }
                g.fillOval(px - 2, py - 2, 5, 5);
                prevX = px;
                prevY = py;
            }
            g.drawString(s.name(), WIDTH - MARGIN - 160, MARGIN + 20 + 16 * k);
        }
        g.dispose();
        return image;
    }
}
