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
 * @param ablationLossSum  per routing ablation (in the order the pass was given), the same sum as {@code lossSum}
 *                         over the same targets with the layers routing as the ablation says
 * @param scoreSeconds     task seconds spent in the trained-routing forwards
 * @param ablationSeconds  task seconds spent in the ablated forwards
 */
public record ValidationResult(double lossSum, long targets, long targetBytes, long sequences, long[][] load_LE,
                               int[] moeLayers, double[] ablationLossSum, double scoreSeconds,
                               double ablationSeconds) implements Serializable {

    public ValidationResult merge(ValidationResult o) {
        double[] ablations = ablationLossSum.clone();
        for (int a = 0; a < ablations.length; a++) {
            ablations[a] += o.ablationLossSum[a];
        }
        return new ValidationResult(lossSum + o.lossSum, targets + o.targets, targetBytes + o.targetBytes,
                sequences + o.sequences, mergeLoad(o), load_LE == null ? o.moeLayers : moeLayers, ablations,
                scoreSeconds + o.scoreSeconds, ablationSeconds + o.ablationSeconds);
    }

    private long[][] mergeLoad(ValidationResult o) {
        if (load_LE == null) {
            return o.load_LE;
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
        return load;
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
        return bitsPerByte(lossSum);
    }

    /** Mean cross-entropy under routing ablation {@code a} (index into the pass's ablations), in nats. */
    public double ablationLoss(int a) {
        return ablationLossSum[a] / targets;
    }

    /** Bits per byte under routing ablation {@code a}; NaN when the bytes were not counted. */
    public double ablationBitsPerByte(int a) {
        return bitsPerByte(ablationLossSum[a]);
    }

    private double bitsPerByte(double nats) {
        return targetBytes == 0 ? Double.NaN : nats / Math.log(2) / targetBytes;
    }
}
