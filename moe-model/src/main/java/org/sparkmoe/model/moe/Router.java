package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.config.Routing;

/**
 * The MoE router ({@code mlp.gate.weight}, {@code [E, D]}, no bias): fp32 softmax over the routed experts only,
 * greedy top-K', gate weight = probability (renormalised only with {@code norm_topk_prob}); or Hash Layer routing
 * (top-1 by token id, weight 1, no parameters). Backward also adds the expert- and device-level balance losses'
 * gradient, whose values it writes to the scalars.
 *
 * <p>Legend: x_RD; logits_RE, probs_RE, dProbs_RE, dLogits_RE; idx_RK (int32), weight_RK, dWeight_RK.
 */
public final class Router {

    private final Backend backend;
    private final ModelConfig config;
    private final Tensor w_ED;
    private final Tensor dw_ED;
    private final int experts;
    private final int k;
    private final int dim;
    private final Tensor logits_RE;
    private final Tensor probs_RE;
    private final Tensor dProbs_RE;
    private final Tensor dLogits_RE;
    final Tensor idx_RK;
    final Tensor weight_RK;

    /** {@code w_ED}/{@code dw_ED} are null for hash routing. */
    public Router(Backend backend, ModelConfig config, Tensor w_ED, Tensor dw_ED, int maxRows) {
        this.backend = backend;
        this.config = config;
        this.w_ED = w_ED;
        this.dw_ED = dw_ED;
        this.experts = config.nRoutedExperts();
        this.k = config.numExpertsPerTok();
        this.dim = config.hiddenSize();
        long re = (long) maxRows * experts;
        boolean learned = config.routing() == Routing.SOFTMAX_TOPK;
        this.logits_RE = learned ? backend.allocate("router logits", DType.F32, re) : null;
        this.probs_RE = learned ? backend.allocate("router probs", DType.F32, re) : null;
        this.dProbs_RE = learned ? backend.allocate("router dprobs", DType.F32, re) : null;
        this.dLogits_RE = learned ? backend.allocate("router dlogits", DType.F32, re) : null;
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
        backend.softmaxRows(logits_RE, probs_RE, rows, experts);
        backend.topK(probs_RE, idx_RK, weight_RK, rows, experts, k, config.normTopkProb());
        backend.routerEntropy(probs_RE, rows, experts, scalars, entropySlot);
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
        backend.topKBackward(probs_RE, idx_RK, weight_RK, dWeight_RK, dProbs_RE, rows, experts, k,
                config.normTopkProb());
        backend.balanceLoss(probs_RE, idx_RK, dProbs_RE, batch, seqLen, experts, k, config.seqAux(),
                (float) config.auxLossAlpha() * lossScale, config.deviceGroups(),
                (float) config.deviceLossAlpha() * lossScale, scalars, lossSlot);
        backend.softmaxRowsBackward(probs_RE, dProbs_RE, dLogits_RE, rows, experts);
        backend.matmulTN(experts, dim, rows, dLogits_RE, x_RD, dw_ED, true);
        backend.matmulNN(rows, dim, experts, dLogits_RE, w_ED, dx_RD, true);
    }

    /** The router probabilities (null for hash routing). */
    public Tensor probs() {
        return probs_RE;
    }
}
