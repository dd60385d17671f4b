package org.sparkmoe.model.decoder;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * The parameter and gradient arenas: two flat fp32 tensors in {@link ParameterLayout} order (of any length: a
 * backend's tensors are long-indexed), and views into them by name. Layers hold views; nothing else owns parameter
 * memory. A model for inference has no gradient arena: its gradient views are null.
 */
public final class Parameters {

    private final Backend backend;
    private final ParameterLayout layout;
    private final Tensor values;
    private final Tensor grads;

    public Parameters(Backend backend, ParameterLayout layout, boolean withGradients) {
        this.backend = backend;
        this.layout = layout;
        this.values = backend.allocateParameters("parameters", layout.totalElements());
        this.grads = withGradients ? backend.allocate("gradients", DType.F32, layout.totalElements()) : null;
    }

    public ParameterLayout layout() {
        return layout;
    }

    /** The whole parameter arena. */
    public Tensor values() {
        return values;
    }

    /** The whole gradient arena (null without gradients). */
    public Tensor grads() {
        return grads;
    }

    /** View of parameter {@code name}. */
    public Tensor value(String name) {
        ParameterSpec s = layout.get(name);
        return backend.view(values, name, s.offset(), s.size());
    }

    /** View of the gradient of {@code name}. */
    public Tensor grad(String name) {
        if (grads == null) {
            return null;
        }
        ParameterSpec s = layout.get(name);
        return backend.view(grads, "grad " + name, s.offset(), s.size());
    }

    /** View over {@code count} consecutive equally sized parameters starting at {@code first} (stacked experts). */
    public Tensor stackedValue(String first, int count) {
        ParameterSpec s = layout.get(first);
        return backend.view(values, first + " x" + count, s.offset(), s.size() * count);
    }

    /** Gradient view matching {@link #stackedValue}. */
    public Tensor stackedGrad(String first, int count) {
        if (grads == null) {
            return null;
        }
        ParameterSpec s = layout.get(first);
        return backend.view(grads, "grad " + first + " x" + count, s.offset(), s.size() * count);
    }
}
