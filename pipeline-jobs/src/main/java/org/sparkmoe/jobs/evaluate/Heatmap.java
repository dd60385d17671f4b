package org.sparkmoe.jobs.evaluate;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;

/**
 * A PNG heatmap (pure Java2D, headless) of a rows x columns matrix, white (0) to dark blue (the maximum), for expert
 * loads: one row per round or per layer, one column per routed expert.
 */
public final class Heatmap {

    private static final int CELL = 18;
    private static final int LEFT = 90;
    private static final int TOP = 50;

    private Heatmap() {}

    public static BufferedImage render(String title, String rowLabel, String[] rowNames, double[][] values_RC) {
        int rows = values_RC.length;
        int cols = rows == 0 ? 0 : values_RC[0].length;
        double max = 0;
        for (double[] row : values_RC) {
            for (double v : row) {
                max = Math.max(max, v);
            }
        }
        int width = Math.max(420, LEFT + cols * CELL + 30);
        int height = TOP + rows * CELL + 50;
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = image.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, width, height);
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
        g.drawString(title, 10, 22);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.drawString(rowLabel + " \\ expert", 10, TOP - 8);
        for (int r = 0; r < rows; r++) {
            g.setColor(Color.BLACK);
            g.drawString(rowNames[r], 10, TOP + r * CELL + 13);
            for (int c = 0; c < cols; c++) {
                float share = max == 0 ? 0 : (float) (values_RC[r][c] / max);
                g.setColor(new Color(1 - 0.85f * share, 1 - 0.7f * share, 1 - 0.25f * share));
                g.fillRect(LEFT + c * CELL, TOP + r * CELL, CELL - 1, CELL - 1);
            }
        }
        g.setColor(Color.BLACK);
        g.drawString(String.format("white = 0, darkest = %.4g", max), 10, height - 15);
        g.dispose();
        return image;
    }
}
