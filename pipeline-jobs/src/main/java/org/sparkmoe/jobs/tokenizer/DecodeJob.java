package org.sparkmoe.jobs.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.io.PrintStream;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * {@code sparkmoe decode --tokenizer tokenizer.json}: the reverse of {@code encode}, {@code {"ids": [...]}} lines to
 * {@code {"text": ...}} lines. Special tokens are shown as their text unless {@code --no-special}.
 */
public final class DecodeJob implements Job {

    private final InputStream in;
    private final PrintStream out;

    public DecodeJob() {
        this(System.in, System.out);
    }

    DecodeJob(InputStream in, PrintStream out) {
        this.in = in;
        this.out = out;
    }

    @Override
    public String name() {
        return "decode";
    }

    @Override
    public String summary() {
        return "JSON Lines {\"ids\": [...]} on stdin to {\"text\": ...} on stdout";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        Tokenizer tokenizer = TokenizerJson.read(settings.string("tokenizer"), JobHadoop.forJob(settings)).tokenizer();
        boolean skipSpecial = settings.bool("no-special");
        new JsonLinesFilter() {
            @Override
            ObjectNode convert(JsonNode doc) {
                JsonNode ids = doc.get("ids");
                if (ids == null || !ids.isArray()) {
                    throw new IllegalArgumentException("expected an object with an array field \"ids\"");
                }
                int[] values = new int[ids.size()];
                for (int i = 0; i < values.length; i++) {
                    JsonNode id = ids.get(i);
                    if (!id.canConvertToInt()) {
                        throw new IllegalArgumentException("ids[" + i + "] = " + id + " is not an integer id");
                    }
                    values[i] = id.asInt();
                }
                return JSON.createObjectNode().put("text", tokenizer.decode(values, skipSpecial));
            }
        }.run(in, out, name());
        return 0;
    }
}
