package org.sparkmoe.jobs.evaluate;

import java.io.Serializable;

/**
 * Sums over validation sequences, merged across Spark tasks.
 *
 * @param lossSum          sum of per-token cross-entropy (nats) over scored targets
 * @param targets          scored target tokens
 * @param targetBytes      UTF-8 bytes of the scored targets' text (0 when no tokenizer was given)
 * @param sequences        sequences scored
 * @param load_LE          per MoE layer (in layer order), tokens routed to each routed expert
 * @param moeLayers        the decoder layer index of each row of {@code load_LE}
 */
public record ValidationResult(double lossSum, long targets, long targetBytes, long sequences, long[][] load_LE,
                               int[] moeLayers) implements Serializable {

    public static ValidationResult empty() {
        return new ValidationResult(0, 0, 0, 0, null, null);
    }

    public ValidationResult merge(ValidationResult o) {
        if (load_LE == null) {
            return new ValidationResult(lossSum + o.lossSum, targets + o.targets, targetBytes + o.targetBytes,
                    sequences + o.sequences, o.load_LE, o.moeLayers);
        }
        long[][] load = new long[load_LE.length][];
        for (int l = 0; l < load.length; l++) {
            load[l] = load_LE[l].clone();
            if (o.load_LE != null) {
                for (int e = 0; e < load[l].length; e++) {
                    load[l][e] += o.load_LE[l][e];
                }
            }
        }
        return new ValidationResult(lossSum + o.lossSum, targets + o.targets, targetBytes + o.targetBytes,
                sequences + o.sequences, load, moeLayers);
    }

    /** Mean cross-entropy per target token, in nats. */
    public double loss() {
        return lossSum / targets;
    }

    public double perplexity() {
        return Math.exp(loss());
    }

    /** Bits per UTF-8 byte of text, comparable across tokenizers; NaN when the bytes were not counted. */
    public double bitsPerByte() {
        return targetBytes == 0 ? Double.NaN : lossSum / Math.log(2) / targetBytes;
    }
}
