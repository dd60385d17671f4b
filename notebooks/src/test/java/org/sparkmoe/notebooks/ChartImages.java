package org.sparkmoe.notebooks;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;
import org.sparkmoe.jobs.charts.Charts;

/** What every notebook chart must be: a PNG that decodes again, of the stated size, with a chart drawn on it. */
final class ChartImages {

    private ChartImages() {}

    static void assertChart(BufferedImage image, String what) throws IOException {
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        Charts.writePng(image, png);
        BufferedImage decoded = ImageIO.read(new ByteArrayInputStream(png.toByteArray()));
        assertNotNull(decoded, what + " must encode as a readable PNG");
        assertEquals(Charts.WIDTH, decoded.getWidth(), what);
        assertEquals(Charts.HEIGHT, decoded.getHeight(), what);
        Set<Integer> colours = new HashSet<>();
        for (int y = 0; y < decoded.getHeight(); y += 3) {
            for (int x = 0; x < decoded.getWidth(); x += 3) {
                colours.add(decoded.getRGB(x, y));
            }
        }
        assertTrue(colours.size() > 20, what + " must show a chart, has " + colours.size() + " colours");
    }
}
