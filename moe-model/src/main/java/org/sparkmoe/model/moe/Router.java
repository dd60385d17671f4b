package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Activations;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.Routing;

/**
 * The MoE router ({@code mlp.gate.weight}, {@code [E, D]}, no bias): fp32 softmax over the routed experts only,
 * greedy top-K', gate weight = probability (renormalised only with {@code norm_topk_prob}); or Hash Layer routing
 * (top-1 by token id, weight 1, no parameters). Backward also adds the expert- and device-level balance losses'
 * gradient, whose values it writes to the scalars. Between its GEMMs each direction is one fused backend op
 * ({@link Backend#routerForward}: softmax, top-K, entropy; {@link Backend#routerBackward}: top-K backward, balance
 * losses, softmax backward).
 *
 * <p>Under a {@link RoutingAblation} (evaluation only) the choices go to separate buffers of {@code [R, K_a]}, K_a the
 * ablation's activated experts, allocated on first use with room for up to E per token.
 *
 * <p>Legend: x_RD; logits_RE, probs_RE, dLogits_RE; idx_RK (int32), weight_RK, dWeight_RK;
 * ablatedIdx_RE, ablatedWeight_RE (first R·K_a elements used).
 */
public final class Router {

    private final Backend backend;
    private final ModelConfig config;
    private final Tensor w_ED;
    private final Tensor dw_ED;
    private final GradientWrites gradientWrites;
    private final int experts;
    private final int k;
    private final int dim;
    private final Tensor logits_RE;
    private final Tensor probs_RE;
    private final Tensor dLogits_RE;
    private final int maxRows;
    final Tensor idx_RK;
    final Tensor weight_RK;
    private Tensor ablatedIdx_RE;
    private Tensor ablatedWeight_RE;

    /**
     * {@code w_ED}/{@code dw_ED} are null for hash routing; {@code dw_ED}, {@code gradientWrites} and {@code scratch}
     * in a model without gradients (inference). The choices ({@code idx_RK}) stay the layer's own, for
     * {@link MoeLayer#expertChoices}.
     */
    public Router(Backend backend, Activations activations, ModelConfig config, Tensor w_ED, Tensor dw_ED,
                  GradientWrites gradientWrites, int maxRows, MoeScratch scratch) {
        this.backend = backend;
        this.gradientWrites = gradientWrites;
        this.config = config;
        this.w_ED = w_ED;
        this.dw_ED = dw_ED;
        this.experts = config.nRoutedExperts();
        this.k = config.numExpertsPerTok();
        this.dim = config.hiddenSize();
        this.maxRows = maxRows;
        long re = (long) maxRows * experts;
        boolean learned = config.routing() == Routing.SOFTMAX_TOPK;
        this.logits_RE = learned ? activations.layer("router logits", DType.F32, re) : null;
        this.probs_RE = learned ? activations.layer("router probs", DType.F32, re) : null;
        this.dLogits_RE = scratch == null ? null : scratch.dLogits_RE();
        this.idx_RK = backend.allocate("router idx", DType.I32, (long) maxRows * k);
        this.weight_RK = backend.allocate("router weight", DType.F32, (long) maxRows * k);
    }

    /** Routes every token; writes the mean router entropy to {@code scalars[entropySlot]} (0 for hash). */
    public void forward(Tensor x_RD, Tensor tokens_R, int rows, Tensor scalars, int entropySlot) {
        if (config.routing() == Routing.HASH) {
            backend.hashRoute(tokens_R, idx_RK, weight_RK, rows, experts);
            return;
        }
        backend.matmulNT(rows, experts, dim, x_RD, w_ED, logits_RE, false);
        backend.routerForward(logits_RE, probs_RE, idx_RK, weight_RK, rows, experts, k, config.normTopkProb(), scalars,
                entropySlot);
    }

    /**
     * Routes every token as {@code ablation} says, into {@link #ablatedIdx()} / {@link #ablatedWeight()}
     * ({@code [R, K_a]}); no backward follows. The top {@code d + K_a} come from the backend's own top-K (same order
     * and ties as training), the first d are dropped on the host. Writes the router entropy like {@link #forward}.
     */
    void forwardAblated(Tensor x_RD, Tensor tokens_R, int rows, Tensor scalars, int entropySlot,
                        RoutingAblation ablation) {
        if (ablatedIdx_RE == null) {
            ablatedIdx_RE = backend.allocate("router ablated idx", DType.I32, (long) maxRows * experts);
            ablatedWeight_RE = backend.allocate("router ablated weight", DType.F32, (long) maxRows * experts);
        }
        if (config.routing() == Routing.HASH) {
            backend.hashRoute(tokens_R, ablatedIdx_RE, ablatedWeight_RE, rows, experts);
            return;
        }
        int disabled = ablation.disabledExperts(experts);
        int active = ablation.activatedExperts();
        backend.matmulNT(rows, experts, dim, x_RD, w_ED, logits_RE, false);
        if (disabled == 0) {
            backend.routerForward(logits_RE, probs_RE, ablatedIdx_RE, ablatedWeight_RE, rows, experts, active,
                    config.normTopkProb(), scalars, entropySlot);
            return;
        }
        int wide = disabled + active;
        backend.routerForward(logits_RE, probs_RE, ablatedIdx_RE, ablatedWeight_RE, rows, experts, wide, false,
                scalars, entropySlot);
        int[] wideIdx = new int[rows * wide];
        float[] wideWeight = new float[rows * wide];
        backend.downloadInts(ablatedIdx_RE, 0, wideIdx, 0, wideIdx.length);
        backend.download(ablatedWeight_RE, 0, wideWeight, 0, wideWeight.length);
        int[] idx = new int[rows * active];
        float[] weight = new float[rows * active];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(wideIdx, r * wide + disabled, idx, r * active, active);
            System.arraycopy(wideWeight, r * wide + disabled, weight, r * active, active);
            if (config.normTopkProb()) {
                double sum = 0;
                for (int j = 0; j < active; j++) {
                    sum += weight[r * active + j];
                }
                for (int j = 0; j < active; j++) {
                    weight[r * active + j] = (float) (weight[r * active + j] / sum);
                }
            }
        }
        backend.uploadInts(idx, 0, ablatedIdx_RE, 0, idx.length);
        backend.upload(weight, 0, ablatedWeight_RE, 0, weight.length);
    }

    /** The choices of the last {@link #forwardAblated}, {@code [R, K_a]} int32. */
    Tensor ablatedIdx() {
        return ablatedIdx_RE;
    }

    /** The gate weights of the last {@link #forwardAblated}, {@code [R, K_a]}. */
    Tensor ablatedWeight() {
        return ablatedWeight_RE;
    }

    /**
     * Router backward from the gate weights' gradient plus the balance losses (scaled by {@code lossScale}, the
     * micro-batch's share of the batch): accumulates {@code dw}, {@code dx += ∂/∂x}; writes the two balance
     * losses to {@code scalars[lossSlot]}, {@code scalars[lossSlot+1]}.
     */
    public void backward(Tensor dWeight_RK, Tensor x_RD, Tensor dx_RD, int batch, int seqLen, float lossScale,
                         Tensor scalars, int lossSlot) {
        if (config.routing() == Routing.HASH) {
            return;
        }
        int rows = batch * seqLen;
        backend.routerBackward(probs_RE, idx_RK, weight_RK, dWeight_RK, dLogits_RE, batch, seqLen, experts, k,
                config.normTopkProb(), config.seqAux(), (float) config.auxLossAlpha() * lossScale,
                config.deviceGroups(), (float) config.deviceLossAlpha() * lossScale, scalars, lossSlot);
        try (HeldOperands _ = backend.holdOperands(dLogits_RE)) {
            backend.matmulTN(experts, dim, rows, dLogits_RE, x_RD, dw_ED, gradientWrites.accumulate());
            backend.matmulNN(rows, dim, experts, dLogits_RE, w_ED, dx_RD, true);
        }
    }

    /** The router probabilities (null for hash routing). */
    public Tensor probs() {
        return probs_RE;
    }
}
