package org.sparkmoe.model.attention;

import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * The keys and values (after RoPE for the keys) of every layer for up to {@code sequences} sequences of up to
 * {@code capacity} positions: what generation keeps so that each new token costs one row of work per layer instead
 * of a forward over the whole sequence. Sequence s owns cache rows {@code [s·C, s·C + C)}, row s·C + p holding its
 * position p ({@link #slot}); see {@link Backend#cachedAttention}.
 *
 * <p>Legend: per layer k_SCD, v_SCD {@code [S·C, D]} with S sequences, C capacity, D = H·Dh width; fp32, so the cache
 * takes {@code 2·L·S·C·D·4} bytes.
 */
public final class KvCache {

    private final Tensor[] k_SCD;
    private final Tensor[] v_SCD;
    private final int sequences;
    private final int capacity;

    private KvCache(Tensor[] k_SCD, Tensor[] v_SCD, int sequences, int capacity) {
        this.k_SCD = k_SCD;
        this.v_SCD = v_SCD;
        this.sequences = sequences;
        this.capacity = capacity;
    }

    /** The bytes of a cache for {@code layers} layers of width {@code dim}: {@code 2·L·S·C·D·4}. */
    public static long bytes(int layers, int sequences, int capacity, int dim) {
        return 2L * 4 * layers * sequences * (long) capacity * dim;
    }

    /** A zero-filled cache for {@code layers} layers of width {@code dim}. */
    public static KvCache allocate(Backend backend, int layers, int sequences, int capacity, int dim) {
        if (sequences < 1 || capacity < 1) {
            throw new IllegalArgumentException("a KV cache needs at least one sequence of one position, not "
                    + sequences + " x " + capacity);
        }
        long elements = (long) sequences * capacity * dim;
        Tensor[] k = new Tensor[layers];
        Tensor[] v = new Tensor[layers];
        for (int l = 0; l < layers; l++) {
            k[l] = backend.allocate("kv cache k " + l, DType.F32, elements);
            v[l] = backend.allocate("kv cache v " + l, DType.F32, elements);
        }
        return new KvCache(k, v, sequences, capacity);
    }

    /** Layer {@code layer}'s keys, {@code [S·C, D]}. */
    public Tensor keys(int layer) {
        return k_SCD[layer];
    }

    /** Layer {@code layer}'s values, {@code [S·C, D]}. */
    public Tensor values(int layer) {
        return v_SCD[layer];
    }

    public int sequences() {
        return sequences;
    }

    /** Positions per sequence (C). */
    public int capacity() {
        return capacity;
    }

    /** The cache row of position {@code position} of sequence {@code sequence}. */
    public int slot(int sequence, int position) {
        if (sequence < 0 || sequence >= sequences || position < 0 || position >= capacity) {
            throw new IllegalArgumentException("sequence " + sequence + " position " + position
                    + " is outside the KV cache of " + sequences + " sequences x " + capacity + " positions");
        }
        return sequence * capacity + position;
    }
}
