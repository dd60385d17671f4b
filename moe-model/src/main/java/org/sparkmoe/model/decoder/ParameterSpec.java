package org.sparkmoe.model.decoder;

import java.util.Arrays;

/**
 * One named parameter tensor in the flat canonical vector.
 *
 * @param name   DeepSeekMoE 16B checkpoint name, e.g. {@code model.layers.1.mlp.experts.3.up_proj.weight}
 * @param shape  row-major shape ({@code [out, in]} for linear weights)
 * @param offset first element in the flat vector
 * @param decay  whether AdamW applies weight decay (matrices yes; 1-D norm weights no)
 */
public record ParameterSpec(String name, int[] shape, long offset, boolean decay) {

    /** Number of elements. */
    public long size() {
        long n = 1;
        for (int s : shape) {
            n *= s;
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ParameterSpec p && p.name.equals(name) && Arrays.equals(p.shape, shape)
                && p.offset == offset && p.decay == decay;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
