package org.sparkmoe.model.embedding;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.GradientWrites;
import org.sparkmoe.model.backend.Tensor;

/**
 * Token embedding lookup ({@code model.embed_tokens.weight}, {@code [V, D]}).
 *
 * <p>Legend: tokens_R the batch's host ids (the engine holds them; no device copy is read back), x_RD.
 */
public final class Embedding {

    private final Backend backend;
    private final Tensor table_VD;
    private final Tensor dTable_VD;
    private final GradientWrites gradientWrites;
    private final int dim;

    /** {@code dTable_VD} and {@code gradientWrites} are null in a model without gradients (inference). */
    public Embedding(Backend backend, Tensor table_VD, Tensor dTable_VD, GradientWrites gradientWrites, int dim) {
        this.backend = backend;
        this.table_VD = table_VD;
        this.dTable_VD = dTable_VD;
        this.gradientWrites = gradientWrites;
        this.dim = dim;
    }

    public void forward(int[] tokens_R, Tensor x_RD, int rows) {
        backend.embeddingForward(table_VD, tokens_R, x_RD, rows, dim);
    }

    /** {@code dTable += scatter(dx)}; over zeros where the backward overwrites ({@link GradientWrites}). */
    public void backward(Tensor dx_RD, int[] tokens_R, int rows) {
        if (!gradientWrites.accumulate()) {
            backend.fill(dTable_VD, 0f);
        }
        backend.embeddingBackward(dx_RD, tokens_R, dTable_VD, rows, dim);
    }
}
