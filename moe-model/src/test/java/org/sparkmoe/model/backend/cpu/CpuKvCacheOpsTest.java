package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Tensor;

/**
 * The generation ops of the CPU backend ({@code ropeAt}, {@code cachedAttention}, and {@code dispatchRows} writing
 * a KV cache) against naive double-precision references computed here, on ragged rows: several sequences in one call,
 * some rows a prompt's consecutive positions, some a single decoding row deep into its sequence. Head dims cover a
 * vector's multiple and leftovers.
 */
class CpuKvCacheOpsTest {

    private static final float THETA = 10000f;

    private final Random random = new Random(7);
    private final CpuBackend backend = new CpuBackend(2);

    @AfterEach
    void close() {
        backend.close();
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 20, 64})
    void ropeAtEachRowsPositionMatchesDoublePrecisionAndTheSequenceRope(int headDim) {
        int heads = 3;
        int[] positions = {0, 5, 1, 63, 17, 2};
        int rows = positions.length;
        float[] x = gaussian(rows * heads * headDim);
        Tensor t = upload(x);
        backend.ropeAt(t, uploadInts(positions), rows, heads, headDim, THETA);
        float[] ours = download(t);

        double worst = 0;
        int half = headDim / 2;
        for (int r = 0; r < rows; r++) {
            for (int h = 0; h < heads; h++) {
                int base = (r * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    double angle = positions[r] * Math.pow(THETA, -2.0 * i / headDim);
                    double x1 = x[base + i];
                    double x2 = x[base + i + half];
                    worst = Math.max(worst, Math.abs(ours[base + i] - (x1 * Math.cos(angle) - x2 * Math.sin(angle))));
                    worst = Math.max(worst, Math.abs(ours[base + i + half]
                            - (x2 * Math.cos(angle) + x1 * Math.sin(angle))));
                }
            }
        }
        assertTrue(worst < 5e-5, "largest difference to the double-precision rotation: " + worst);

        // A row at position p turns exactly as row p of a whole sequence does under the training rope.
        int seqLen = 64;
        float[] sequence = gaussian(seqLen * heads * headDim);
        Tensor whole = upload(sequence);
        backend.rope(whole, 1, seqLen, heads, headDim, THETA, false);
        float[] expected = download(whole);
        int row = heads * headDim;
        for (int p : positions) {
            Tensor one = upload(java.util.Arrays.copyOfRange(sequence, p * row, (p + 1) * row));
            backend.ropeAt(one, uploadInts(new int[] {p}), 1, heads, headDim, THETA);
            assertArrayEquals(java.util.Arrays.copyOfRange(expected, p * row, (p + 1) * row), download(one),
                    "position " + p);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {8, 20, 64})
    void cachedAttentionMatchesDoublePrecisionOnRaggedRows(int headDim) {
        int heads = 3;
        int capacity = 40;
        int sequences = 3;
        int dim = heads * headDim;
        // Sequence 0: a prompt of 7 rows at once; sequence 2: one decoding row at position 33; sequence 1: two rows at
        // positions 11 and 12 (a prompt continued across two calls).
        int[] sequenceOf = {0, 0, 0, 0, 0, 0, 0, 2, 1, 1};
        int[] positions = {0, 1, 2, 3, 4, 5, 6, 33, 11, 12};
        int rows = positions.length;
        int[] slots = new int[rows];
        for (int r = 0; r < rows; r++) {
            slots[r] = sequenceOf[r] * capacity + positions[r];
        }
        float[] cachedK = gaussian(sequences * capacity * dim);
        float[] cachedV = gaussian(sequences * capacity * dim);
        float[] newK = gaussian(rows * dim);
        float[] newV = gaussian(rows * dim);
        float[] q = gaussian(rows * dim);

        Tensor kCache = upload(cachedK);
        Tensor vCache = upload(cachedV);
        Tensor slotsT = uploadInts(slots);
        backend.dispatchRows(upload(newK), slotsT, kCache, rows, 1, dim);
        backend.dispatchRows(upload(newV), slotsT, vCache, rows, 1, dim);
        Tensor out = backend.allocate("out", DType.F32, rows * dim);
        backend.cachedAttention(upload(q), kCache, vCache, out, slotsT, uploadInts(positions), rows, heads, headDim);
        float[] ours = download(out);

        for (int r = 0; r < rows; r++) {
            System.arraycopy(newK, r * dim, cachedK, slots[r] * dim, dim);
            System.arraycopy(newV, r * dim, cachedV, slots[r] * dim, dim);
        }
        assertArrayEquals(cachedK, download(kCache), "dispatchRows wrote each row's key at its slot");
        double worst = 0;
        for (int r = 0; r < rows; r++) {
            int first = slots[r] - positions[r];
            for (int h = 0; h < heads; h++) {
                int keys = positions[r] + 1;
                double[] scores = new double[keys];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < keys; j++) {
                    double s = 0;
                    for (int d = 0; d < headDim; d++) {
                        s += (double) q[r * dim + h * headDim + d] * cachedK[(first + j) * dim + h * headDim + d];
                    }
                    scores[j] = s / Math.sqrt(headDim);
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int d = 0; d < headDim; d++) {
                    double o = 0;
                    for (int j = 0; j < keys; j++) {
                        o += scores[j] / sum * cachedV[(first + j) * dim + h * headDim + d];
                    }
                    worst = Math.max(worst, Math.abs(ours[r * dim + h * headDim + d] - o));
                }
            }
        }
        assertTrue(worst < 1e-5, "largest difference to the double-precision attention: " + worst);
    }

    private float[] gaussian(int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    private Tensor upload(float[] values) {
        Tensor t = backend.allocate("x", DType.F32, values.length);
        backend.upload(values, 0, t, 0, values.length);
        return t;
    }

    private Tensor uploadInts(int[] values) {
        Tensor t = backend.allocate("ids", DType.I32, values.length);
        backend.uploadInts(values, 0, t, 0, values.length);
        return t;
    }

    private float[] download(Tensor t) {
        float[] out = new float[(int) t.size()];
        backend.download(t, 0, out, 0, out.length);
        return out;
    }
}
