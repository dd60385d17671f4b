package org.sparkmoe.model.moe;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.config.ModelConfig;
import org.sparkmoe.model.decoder.PhaseTimer;
import org.sparkmoe.model.ffn.FeedForward;
import org.sparkmoe.model.ffn.SwiGluFfn;

/**
 * A DeepSeekMoE layer (paper §3.2, eqs. 9–11): shared experts with weight 1 (one fused SwiGLU) plus the gate-
 * weighted routed experts. The residual is added by the decoder layer. Keeps the step's routing statistics.
 * An evaluation forward can run under a {@link RoutingAblation} ({@link #setAblation}); a training forward refuses one.
 *
 * <p>Legend: x, out, dOut, dx {@code [R, D]}.
 */
public final class MoeLayer implements FeedForward {

    private final int layerIndex;
    private final Backend backend;
    private final Router router;
    private final RoutedExperts experts;
    private final SwiGluFfn shared;
    private final Tensor scalars;
    private final int scalarSlot;
    private final ExpertLoads loads;
    private final int loadLayer;
    private final int k;
    private final ModelConfig config;
    private final PhaseTimer timer;
    private float lossScale = 1f;
    private RoutingAblation ablation;
    private boolean lastForwardAblated;
    private int lastK;

    /**
     * @param shared     the fused shared experts, or null when there are none
     * @param scalars    the model's scalars; this layer owns {@code [scalarSlot, scalarSlot + 3)}: expert balance
     *                   loss, device balance loss, router entropy
     * @param loads      the model's expert loads; this layer's statistics are its row {@code loadLayer} (the one its
     *                   {@code experts} count into)
     * @param timer      the model's phase timer (the router's ops count as ROUTER, the rest as EXPERTS)
     */
    public MoeLayer(int layerIndex, Backend backend, ModelConfig config, Router router, RoutedExperts experts,
                    SwiGluFfn shared, Tensor scalars, int scalarSlot, ExpertLoads loads, int loadLayer,
                    PhaseTimer timer) {
        this.timer = timer;
        this.layerIndex = layerIndex;
        this.backend = backend;
        this.router = router;
        this.experts = experts;
        this.shared = shared;
        this.scalars = scalars;
        this.scalarSlot = scalarSlot;
        this.loads = loads;
        this.loadLayer = loadLayer;
        this.k = config.numExpertsPerTok();
        this.lastK = k;
        this.config = config;
    }

    /** The share of the optimiser batch in the coming micro-batch; scales the balance losses' gradient. */
    public void setLossScale(float lossScale) {
        this.lossScale = lossScale;
    }

    /**
     * Routes the coming evaluation forwards as {@code ablation} says (checked against the model); null restores the
     * trained routing.
     */
    public void setAblation(RoutingAblation ablation) {
        if (ablation != null) {
            ablation.checkFits(config);
            if (experts.expertParallel()) {
                throw new IllegalArgumentException("MoE layer " + layerIndex + " holds only its rank's experts: a"
                        + " routing ablation (" + ablation + ") needs the whole model; load the checkpoint into an"
                        + " engine without expert parallelism");
            }
        }
        this.ablation = ablation;
    }

    @Override
    public void forward(Tensor x_RD, Tensor out_RD, Tensor tokens_R, int batch, int seqLen, boolean training) {
        if (ablation != null) {
            if (training) {
                throw new IllegalStateException("MoE layer " + layerIndex + ": a routing ablation (" + ablation
                        + ") is for evaluation forwards only; clear it before training");
            }
            forwardAblated(x_RD, out_RD, tokens_R, batch * seqLen);
            return;
        }
        lastForwardAblated = false;
        lastK = k;
        int rows = batch * seqLen;
        // The shared experts' and the router's products read x: one converted copy for all of them.
        try (HeldOperands _ = backend.holdOperands(x_RD)) {
            if (shared != null) {
                shared.forward(x_RD, out_RD, rows, false);
            }
            PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.ROUTER);
            router.forward(x_RD, tokens_R, rows, scalars, scalarSlot + 2);
            timer.exit(outer);
            experts.forward(x_RD, router.idx_RK, router.weight_RK, out_RD, rows, shared != null);
        }
    }

    /** Chunks the routed experts when {@code rows · K_a} exceeds the slabs sized for K (e.g. K + 1 without shared). */
    private void forwardAblated(Tensor x_RD, Tensor out_RD, Tensor tokens_R, int rows) {
        lastForwardAblated = true;
        lastK = ablation.activatedExperts();
        int dim = config.hiddenSize();
        boolean withShared = shared != null && ablation.sharedExperts();
        if (withShared) {
            shared.forward(x_RD, out_RD, rows, false);
        }
        PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.ROUTER);
        router.forwardAblated(x_RD, tokens_R, rows, scalars, scalarSlot + 2, ablation);
        timer.exit(outer);
        int chunk = experts.maxRows(lastK);
        for (int first = 0; first < rows; first += chunk) {
            int n = Math.min(chunk, rows - first);
            experts.forward(backend.view(x_RD, "ablation x", (long) first * dim, (long) n * dim),
                    backend.view(router.ablatedIdx(), "ablation idx", (long) first * lastK, (long) n * lastK),
                    backend.view(router.ablatedWeight(), "ablation weight", (long) first * lastK, (long) n * lastK),
                    backend.view(out_RD, "ablation out", (long) first * dim, (long) n * dim), n, lastK, withShared);
        }
    }

    @Override
    public void backward(Tensor dOut_RD, Tensor x_RD, Tensor dx_RD, int batch, int seqLen) {
        if (lastForwardAblated) {
            throw new IllegalStateException("MoE layer " + layerIndex + ": the last forward ran under a routing"
                    + " ablation; backward needs a training forward");
        }
        int rows = batch * seqLen;
        // As in forward: the shared experts' and the router's weight gradients read one converted copy of x.
        try (HeldOperands _ = backend.holdOperands(x_RD)) {
            if (shared != null) {
                shared.backward(dOut_RD, x_RD, dx_RD, rows, false);
            }
            Tensor dWeight_RK = experts.backward(dOut_RD, x_RD, router.weight_RK, dx_RD, rows, shared != null);
            PhaseTimer.Phase outer = timer.enter(PhaseTimer.Phase.ROUTER);
            router.backward(dWeight_RK, x_RD, dx_RD, batch, seqLen, lossScale, scalars, scalarSlot);
            timer.exit(outer);
        }
    }

    /**
     * The experts chosen for each token in the last forward, {@code [R, K]} row-major, K = {@link #lastActivated()}
     * (for specialisation analyses and tests); downloads from the backend.
     */
    public int[] expertChoices(int rows) {
        int[] out = new int[rows * lastK];
        backend.downloadInts(lastForwardAblated ? router.ablatedIdx() : router.idx_RK, 0, out, 0, out.length);
        return out;
    }

    /** Routed experts per token in the last forward: the model's K, or an ablation's activated experts. */
    public int lastActivated() {
        return lastK;
    }

    /**
     * Tokens routed to each expert since the last {@link #resetStatistics()}; the first call after device-routed
     * forwards reads every layer's counts from the backend at once.
     */
    public long[] tokensPerExpert() {
        return loads.tokensPerExpert(loadLayer);
    }

    public void resetStatistics() {
        loads.reset(loadLayer);
    }

    /** The decoder layer this MoE layer sits in. */
    public int layerIndex() {
        return layerIndex;
    }

    /** Index of this layer's first scalar (expert loss; +1 device loss; +2 router entropy). */
    public int scalarSlot() {
        return scalarSlot;
    }
}
