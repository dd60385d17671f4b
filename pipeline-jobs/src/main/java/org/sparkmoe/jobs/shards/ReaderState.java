package org.sparkmoe.jobs.shards;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import org.sparkmoe.jobs.cli.UsageException;

/**
 * Where a {@link SequenceLoader} stands: enough to resume on exactly the next sequence. Small and serialisable
 * (Java serialisation, or {@link #encode()} as one line for a checkpoint's JSON).
 *
 * @param dataset   the dataset version it reads (checked on resume)
 * @param split     train or validation
 * @param tokens    the split's token count (checked on resume, guards against a rebuilt version of the same name)
 * @param seqLen    the packing length
 * @param seed      the shuffle seed
 * @param workers   how many workers share the epoch
 * @param worker    this worker, 0-based
 * @param epoch     the current epoch, 0-based
 * @param position  sequences this worker has already returned in this epoch
 */
public record ReaderState(String dataset, String split, long tokens, int seqLen, long seed, int workers, int worker,
                          int epoch, long position) implements Serializable {

    public ReaderState {
        if (workers <= 0 || worker < 0 || worker >= workers) {
            throw new IllegalArgumentException("worker " + worker + " of " + workers + ": need 0 <= worker < workers");
        }
        if (epoch < 0 || position < 0 || seqLen <= 0) {
            throw new IllegalArgumentException("epoch, position must be >= 0 and seqLen > 0, got " + this);
        }
    }

    /** One line: {@code dataset=v1;split=train;tokens=...;seqLen=...;seed=...;workers=...;worker=...;epoch=...;position=...}. */
    public String encode() {
        return "dataset=" + dataset + ";split=" + split + ";tokens=" + tokens + ";seqLen=" + seqLen + ";seed=" + seed
                + ";workers=" + workers + ";worker=" + worker + ";epoch=" + epoch + ";position=" + position;
    }

    public static ReaderState decode(String line) {
        Map<String, String> fields = new LinkedHashMap<>();
        for (String part : line.strip().split(";")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                fields.put(part.substring(0, eq), part.substring(eq + 1));
            }
        }
        try {
            return new ReaderState(required(fields, "dataset", line), required(fields, "split", line),
                    Long.parseLong(required(fields, "tokens", line)), Integer.parseInt(required(fields, "seqLen", line)),
                    Long.parseLong(required(fields, "seed", line)), Integer.parseInt(required(fields, "workers", line)),
                    Integer.parseInt(required(fields, "worker", line)), Integer.parseInt(required(fields, "epoch", line)),
                    Long.parseLong(required(fields, "position", line)));
        } catch (IllegalArgumentException e) {
            throw new UsageException("reader state '" + line + "' is invalid: " + e.getMessage()
                    + "; it must be what ReaderState.encode() wrote");
        }
    }

    private static String required(Map<String, String> fields, String key, String line) {
        String value = fields.get(key);
        if (value == null) {
            throw new UsageException("reader state '" + line + "' has no " + key);
        }
        return value;
    }
}
