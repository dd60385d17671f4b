package org.sparkmoe.model.backend;

/**
 * The shapes one engine runs, for a backend's {@link Backend#workspaceBytes} estimate: {@code rows} = batch ·
 * seqLen tokens per micro-batch, model width, heads, vocabulary, the widest dense FFN (0 if none), routed experts,
 * experts per token and expert width (0 without MoE layers), whether backward runs (training) or forward only, and
 * the elements of the parameter arena (for a backend that keeps an image of it: {@link Backend#allocateParameters}).
 */
public record Workload(int batch, int seqLen, int dim, int heads, int vocab, int widestFfn, int experts, int k,
                       int expertWidth, boolean training, long parameters) {

    /** Tokens per micro-batch. */
    public long rows() {
        return (long) batch * seqLen;
    }
}
