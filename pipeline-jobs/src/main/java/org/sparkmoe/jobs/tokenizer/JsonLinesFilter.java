package org.sparkmoe.jobs.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The shape shared by {@code encode} and {@code decode}: one JSON object per input line, one per output line. A line
 * that cannot be converted becomes {@code {"error": "line N: ..."}} so outputs stay aligned with inputs; such lines
 * are counted and the count is logged at the end. Blank lines are passed through as blank lines.
 */
abstract class JsonLinesFilter {

    private static final Logger LOG = LogManager.getLogger(JsonLinesFilter.class);
    static final ObjectMapper JSON = new ObjectMapper();

    /** Converts one input object; throws {@link IllegalArgumentException} for a bad record. */
    abstract ObjectNode convert(JsonNode in);

    /** Returns the number of bad lines. */
    final long run(InputStream in, PrintStream out, String jobName) throws IOException {
        long lines = 0;
        long bad = 0;
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        for (String line; (line = reader.readLine()) != null; ) {
            lines++;
            if (line.isBlank()) {
                out.println();
                continue;
            }
            ObjectNode result;
            try {
                result = convert(JSON.readTree(line));
            } catch (IOException | IllegalArgumentException e) {
                bad++;
                result = JSON.createObjectNode().put("error", "line " + lines + ": " + e.getMessage());
            }
            out.println(JSON.writeValueAsString(result));
        }
        out.flush();
        if (bad > 0) {
            LOG.warn("{}: {} of {} lines could not be converted (see their \"error\" field)", jobName, bad, lines);
        }
        return bad;
    }
}
