package org.sparkmoe.jobs.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.InputStream;
import java.io.PrintStream;
import org.sparkmoe.jobs.cli.Job;
import org.sparkmoe.jobs.cli.JobSettings;
import org.sparkmoe.jobs.spark.JobHadoop;
import org.sparkmoe.tokenizer.Tokenizer;

/**
 * {@code sparkmoe encode --tokenizer tokenizer.json}: reads JSON Lines {@code {"text": ...}} on standard input and
 * writes {@code {"ids": [...]}} per line on standard output. Special tokens are added as HF's {@code encode} adds them
 * by default; {@code --no-special} leaves them out. No Spark: for inspecting tokenization from a shell.
 */
public final class EncodeJob implements Job {

    private final InputStream in;
    private final PrintStream out;

    public EncodeJob() {
        this(System.in, System.out);
    }

    EncodeJob(InputStream in, PrintStream out) {
        this.in = in;
        this.out = out;
    }

    @Override
    public String name() {
        return "encode";
    }

    @Override
    public String summary() {
        return "JSON Lines {\"text\": ...} on stdin to {\"ids\": [...]} on stdout";
    }

    @Override
    public int run(JobSettings settings) throws Exception {
        Tokenizer tokenizer = TokenizerJson.read(settings.string("tokenizer"), JobHadoop.forJob(settings)).tokenizer();
        boolean addSpecial = !settings.bool("no-special");
        new JsonLinesFilter() {
            @Override
            ObjectNode convert(JsonNode doc) {
                JsonNode text = doc.get("text");
                if (text == null || !text.isTextual()) {
                    throw new IllegalArgumentException("expected an object with a string field \"text\"");
                }
                ObjectNode result = JSON.createObjectNode();
                ArrayNode ids = result.putArray("ids");
                for (int id : tokenizer.encode(text.asText(), addSpecial)) {
                    ids.add(id);
                }
                return result;
            }
        }.run(in, out, name());
        return 0;
    }
}
