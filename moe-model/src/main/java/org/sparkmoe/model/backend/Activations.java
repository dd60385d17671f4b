package org.sparkmoe.model.backend;

import java.util.HashMap;
import java.util.Map;

/**
 * Where layers get the activation buffers their forward writes. A training model keeps each layer's own (backward
 * reads what forward saved, layer by layer); an inference model runs forward only, so layers of the same kind share
 * one buffer per role ({@code "q"}, {@code "ffn g"}, ... of the same size): activations then cost one layer's worth
 * instead of L layers'. Backward-only scratch exists only for training.
 */
public final class Activations {

    private final Backend backend;
    private final boolean training;
    private final Map<String, Tensor> shared = new HashMap<>();

    public Activations(Backend backend, boolean training) {
        this.backend = backend;
        this.training = training;
    }

    /** Whether backward will run (buffers per layer, backward scratch allocated). */
    public boolean training() {
        return training;
    }

    /** A layer's buffer for {@code role}: its own when training, else the one shared by every layer asking the same. */
    public Tensor layer(String role, DType dtype, long elements) {
        if (training) {
            return backend.allocate(role, dtype, elements);
        }
        return shared.computeIfAbsent(role + " " + dtype + " " + elements, key -> backend.allocate(role, dtype, elements));
    }
}
