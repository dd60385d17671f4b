package org.sparkmoe.model.attention;

import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;

/**
 * Multi-head causal self-attention with rotate-half RoPE and no biases ({@code self_attn.{q,k,v,o}_proj}).
 * Saves q, k (after RoPE), v, the attention output and the per-row log-sum-exp for backward.
 *
 * <p>With a scratch that {@link AttentionScratch#recomputesProjections() holds q, k, v} (the engine's
 * {@code recompute-attention}), the layer keeps only the attention output and the log-sum-exp: q, k, v live in the
 * buffers every layer shares, and backward computes them again from its input x (which the decoder layer keeps for
 * the weight gradients) right before the attention backward: the forward's projections and RoPE on the same x and
 * weights, so the same bits.
 *
 * <p>Legend: R = B·T rows, D width, H heads, Dh = D/H; x, out {@code [R, D]} = {@code [B, T, H, Dh]};
 * w*_DD as {@code [out, in]}; lse_BHT; a KV cache's kCache_SCD, vCache_SCD {@code [S·C, D]} ({@link KvCache}).
 */
public final class CausalSelfAttention {

    private final Backend backend;
    private final Tensor wq_DD;
    private final Tensor wk_DD;
    private final Tensor wv_DD;
    private final Tensor wo_DD;
    private final Tensor dwq_DD;
    private final Tensor dwk_DD;
    private final Tensor dwv_DD;
    private final Tensor dwo_DD;
    private final GradientWrites gradientWrites;
    private final int dim;
    private final int heads;
    private final float theta;
    private final boolean recompute;
    private final Tensor q_RD;
    private final Tensor k_RD;
    private final Tensor v_RD;
    private final Tensor att_RD;
    private final Tensor lse_BHT;
    private final Tensor dq_RD;
    private final Tensor dk_RD;
    private final Tensor dv_RD;
    private final Tensor dAtt_RD;

    /** {@code grads}, {@code gradientWrites} and {@code scratch} are null in a model without gradients (inference). */
    public CausalSelfAttention(Backend backend, Activations activations, Tensor[] weights, Tensor[] grads,
                               GradientWrites gradientWrites, int dim, int heads, float theta, int maxRows,
                               AttentionScratch scratch) {
        this.backend = backend;
        this.gradientWrites = gradientWrites;
        this.wq_DD = weights[0];
        this.wk_DD = weights[1];
        this.wv_DD = weights[2];
        this.wo_DD = weights[3];
        this.dwq_DD = grads == null ? null : grads[0];
        this.dwk_DD = grads == null ? null : grads[1];
        this.dwv_DD = grads == null ? null : grads[2];
        this.dwo_DD = grads == null ? null : grads[3];
        this.dim = dim;
        this.heads = heads;
        this.theta = theta;
        long n = (long) maxRows * dim;
        this.recompute = scratch != null && scratch.recomputesProjections();
        this.q_RD = recompute ? scratch.q_RD() : activations.layer("q", DType.F32, n);
        this.k_RD = recompute ? scratch.k_RD() : activations.layer("k", DType.F32, n);
        this.v_RD = recompute ? scratch.v_RD() : activations.layer("v", DType.F32, n);
        this.att_RD = activations.layer("att", DType.F32, n);
        this.lse_BHT = activations.layer("lse", DType.F32, (long) maxRows * heads);
        this.dq_RD = scratch == null ? null : scratch.dq_RD();
        this.dk_RD = scratch == null ? null : scratch.dk_RD();
        this.dv_RD = scratch == null ? null : scratch.dv_RD();
        this.dAtt_RD = scratch == null ? null : scratch.dAtt_RD();
    }

    /** {@code out = o_proj(attention(rope(q_proj x), rope(k_proj x), v_proj x))}; overwrites out. */
    public void forward(Tensor x_RD, Tensor out_RD, int batch, int seqLen) {
        int dh = dim / heads;
        queriesKeysValues(x_RD, batch, seqLen);
        backend.attentionForward(q_RD, k_RD, v_RD, att_RD, lse_BHT, batch, seqLen, heads, dh);
        backend.matmulNT(batch * seqLen, dim, dim, att_RD, wo_DD, out_RD, false);
    }

    /**
     * The forward of {@code rows} new tokens against a KV cache (generation; no backward follows): row r at position
     * {@code positions_R[r]} and cache row {@code slots_R[r]} (int32) has its key and value written into the cache,
     * then attends to its sequence's cached rows up to its own ({@link Backend#cachedAttention}). Overwrites out.
     */
    public void forwardCached(Tensor x_RD, Tensor out_RD, int rows, Tensor kCache_SCD, Tensor vCache_SCD,
                              Tensor slots_R, Tensor positions_R) {
        int dh = dim / heads;
        project(x_RD, rows);
        backend.ropeAt(q_RD, positions_R, rows, heads, dh, theta);
        backend.ropeAt(k_RD, positions_R, rows, heads, dh, theta);
        backend.dispatchRows(k_RD, slots_R, kCache_SCD, rows, 1, dim);
        backend.dispatchRows(v_RD, slots_R, vCache_SCD, rows, 1, dim);
        backend.cachedAttention(q_RD, kCache_SCD, vCache_SCD, att_RD, slots_R, positions_R, rows, heads, dh);
        backend.matmulNT(rows, dim, dim, att_RD, wo_DD, out_RD, false);
    }

    /** {@code q = rope(x · Wqᵀ)}, {@code k = rope(x · Wkᵀ)}, {@code v = x · Wvᵀ}: forward's, and backward's again. */
    private void queriesKeysValues(Tensor x_RD, int batch, int seqLen) {
        int dh = dim / heads;
        project(x_RD, batch * seqLen);
        backend.rope(q_RD, batch, seqLen, heads, dh, theta, false);
        backend.rope(k_RD, batch, seqLen, heads, dh, theta, false);
    }

    /** {@code q, k, v = x · Wᵀ} for the first {@code rows} rows. */
    private void project(Tensor x_RD, int rows) {
        try (HeldOperands _ = backend.holdOperands(x_RD)) {
            backend.matmulNT(rows, dim, dim, x_RD, wq_DD, q_RD, false);
            backend.matmulNT(rows, dim, dim, x_RD, wk_DD, k_RD, false);
            backend.matmulNT(rows, dim, dim, x_RD, wv_DD, v_RD, false);
        }
    }

    /** Writes weight gradients as {@link GradientWrites} says and overwrites {@code dx} with the input gradient. */
    public void backward(Tensor dOut_RD, Tensor x_RD, Tensor dx_RD, int batch, int seqLen) {
        int rows = batch * seqLen;
        int dh = dim / heads;
        boolean accumulate = gradientWrites.accumulate();
        try (HeldOperands _ = backend.holdOperands(dOut_RD)) {
            backend.matmulTN(dim, dim, rows, dOut_RD, att_RD, dwo_DD, accumulate);
            backend.matmulNN(rows, dim, dim, dOut_RD, wo_DD, dAtt_RD, false);
        }
        if (recompute) {
            // Every layer's forward writes the shared q, k, v: this layer's are computed again.
            queriesKeysValues(x_RD, batch, seqLen);
        }
        backend.attentionBackward(dAtt_RD, q_RD, k_RD, v_RD, att_RD, lse_BHT, dq_RD, dk_RD, dv_RD, batch, seqLen,
                heads, dh);
        backend.rope(dq_RD, batch, seqLen, heads, dh, theta, true);
        backend.rope(dk_RD, batch, seqLen, heads, dh, theta, true);
        try (HeldOperands _ = backend.holdOperands(x_RD, dq_RD, dk_RD, dv_RD)) {
            backend.matmulTN(dim, dim, rows, dq_RD, x_RD, dwq_DD, accumulate);
            backend.matmulTN(dim, dim, rows, dk_RD, x_RD, dwk_DD, accumulate);
            backend.matmulTN(dim, dim, rows, dv_RD, x_RD, dwv_DD, accumulate);
            backend.matmulNN(rows, dim, dim, dq_RD, wq_DD, dx_RD, false);
            backend.matmulNN(rows, dim, dim, dk_RD, wk_DD, dx_RD, true);
            backend.matmulNN(rows, dim, dim, dv_RD, wv_DD, dx_RD, true);
        }
    }
}
