package org.sparkmoe.model.backend;

/**
 * The shapes one engine runs, for a backend's {@link Backend#workspaceBytes} estimate: {@code rows} = batch ·
 * seqLen tokens per micro-batch, model width, heads, vocabulary, the widest dense FFN (0 if none), routed experts,
 * experts per token and expert width (0 without MoE layers), and whether backward runs (training) or forward only.
 */
public record Workload(int batch, int seqLen, int dim, int heads, int vocab, int widestFfn, int experts, int k,
                       int expertWidth, boolean training) {

    /** Tokens per micro-batch. */
    public long rows() {
        return (long) batch * seqLen;
    }
}
