package org.sparkmoe.model.loss;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * Softmax cross-entropy over shifted targets, fused with its backward and the batch's loss sum in one backend op
 * (the logits buffer receives its own gradient, llm.c style). Masked targets (negative ids: padding, document
 * boundaries) cost nothing and get no gradient.
 *
 * <p>Legend: logits_RV, targets_R int32, losses_R.
 */
public final class CrossEntropyLoss {

    private final Backend backend;
    private final Tensor losses_R;

    public CrossEntropyLoss(Backend backend, int maxRows) {
        this.backend = backend;
        this.losses_R = backend.allocate("token losses", DType.F32, maxRows);
    }

    /**
     * Writes per-row losses, replaces the logits by {@code gradScale · (softmax − onehot)}, and the sum of the
     * losses to {@code scalars[slot]}.
     */
    public void forwardBackward(Tensor logits_RV, Tensor targets_R, int rows, int vocab, float gradScale,
                                Tensor scalars, int slot) {
        Tensor losses = backend.view(losses_R, "token losses", 0, rows);
        backend.crossEntropy(logits_RV, targets_R, losses, logits_RV, rows, vocab, gradScale, scalars, slot);
    }

    /** Per-row losses of the last call ({@code [R]}). */
    public Tensor losses() {
        return losses_R;
    }
}
