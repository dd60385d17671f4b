package org.sparkmoe.model.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.Tensor;

/**
 * Every CPU op against a float64 reference forward written here from the formulas (paper §2–§3), and
 * every backward against float64 central finite differences of that reference. The objective is a random
 * projection {@code Σ c·output}; errors are relative to the largest gradient element.
 */
class CpuOpGradientTest {

    static final CpuBackend BACKEND = new CpuBackend(2);
    static final SplittableRandom RANDOM = new SplittableRandom(42);
    static final double TOL = 2e-4;

    @AfterAll
    static void close() {
        BACKEND.close();
    }

    static double[] random(int n, double scale) {
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = RANDOM.nextGaussian() * scale;
        }
        return x;
    }

    static Tensor up(double[] x) {
        Tensor t = BACKEND.allocate("t", DType.F32, x.length);
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        BACKEND.upload(f, 0, t, 0, f.length);
        return t;
    }

    static Tensor upInts(int[] x) {
        Tensor t = BACKEND.allocate("i", DType.I32, x.length);
        BACKEND.uploadInts(x, 0, t, 0, x.length);
        return t;
    }

    static Tensor zeros(int n) {
        return BACKEND.allocate("z", DType.F32, n);
    }

    static double[] down(Tensor t) {
        float[] f = new float[(int) t.size()];
        BACKEND.download(t, 0, f, 0, f.length);
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    /** Central finite differences of {@code f} at {@code x} (float64). */
    static double[] fd(ToDoubleFunction<double[]> f, double[] x) {
        double[] g = new double[x.length];
        double h = 1e-6;
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + h;
            double plus = f.applyAsDouble(x);
            x[i] = keep - h;
            double minus = f.applyAsDouble(x);
            x[i] = keep;
            g[i] = (plus - minus) / (2 * h);
        }
        return g;
    }

    static double dot(double[] c, double[] y) {
        double s = 0;
        for (int i = 0; i < c.length; i++) {
            s += c[i] * y[i];
        }
        return s;
    }

    static void close(String what, double[] expected, double[] actual) {
        double max = 1e-12;
        double err = 0;
        for (int i = 0; i < expected.length; i++) {
            max = Math.max(max, Math.abs(expected[i]));
            err = Math.max(err, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(err / max < TOL, what + ": relative error " + err / max);
    }

    // ------------------------------------------------------------ references (float64)

    static double[] rmsNorm(double[] x, double[] w, int rows, int dim, double eps) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int d = 0; d < dim; d++) {
                ss += x[r * dim + d] * x[r * dim + d];
            }
            double s = 1 / Math.sqrt(ss / dim + eps);
            for (int d = 0; d < dim; d++) {
                y[r * dim + d] = x[r * dim + d] * s * w[d];
            }
        }
        return y;
    }

    static double[] rope(double[] x, int b, int t, int h, int dh, double theta) {
        double[] y = x.clone();
        int half = dh / 2;
        for (int bt = 0; bt < b * t; bt++) {
            int pos = bt % t;
            for (int hi = 0; hi < h; hi++) {
                int base = (bt * h + hi) * dh;
                for (int i = 0; i < half; i++) {
                    double a = pos / Math.pow(theta, 2.0 * i / dh);
                    y[base + i] = x[base + i] * Math.cos(a) - x[base + i + half] * Math.sin(a);
                    y[base + i + half] = x[base + i + half] * Math.cos(a) + x[base + i] * Math.sin(a);
                }
            }
        }
        return y;
    }

    static double[] attention(double[] q, double[] k, double[] v, int b, int t, int h, int dh) {
        double[] out = new double[q.length];
        int stride = h * dh;
        for (int bi = 0; bi < b; bi++) {
            for (int hi = 0; hi < h; hi++) {
                for (int ti = 0; ti < t; ti++) {
                    double[] s = new double[ti + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int si = 0; si <= ti; si++) {
                        double d = 0;
                        for (int e = 0; e < dh; e++) {
                            d += q[bi * t * stride + ti * stride + hi * dh + e]
                                    * k[bi * t * stride + si * stride + hi * dh + e];
                        }
                        s[si] = d / Math.sqrt(dh);
                        max = Math.max(max, s[si]);
                    }
                    double sum = 0;
                    for (int si = 0; si <= ti; si++) {
                        s[si] = Math.exp(s[si] - max);
                        sum += s[si];
                    }
                    for (int si = 0; si <= ti; si++) {
                        for (int e = 0; e < dh; e++) {
                            out[bi * t * stride + ti * stride + hi * dh + e] += s[si] / sum
                                    * v[bi * t * stride + si * stride + hi * dh + e];
                        }
                    }
                }
            }
        }
        return out;
    }

    static double[] softmax(double[] logits, int rows, int cols) {
        double[] p = new double[logits.length];
        for (int r = 0; r < rows; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                max = Math.max(max, logits[r * cols + c]);
            }
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                sum += Math.exp(logits[r * cols + c] - max);
            }
            for (int c = 0; c < cols; c++) {
                p[r * cols + c] = Math.exp(logits[r * cols + c] - max) / sum;
            }
        }
        return p;
    }

    // ------------------------------------------------------------ tests

    @Test
    void rmsNorm() {
        int rows = 5;
        int dim = 12;
        double[] x = random(rows * dim, 1.0);
        double[] w = random(dim, 0.3);
        for (int i = 0; i < dim; i++) {
            w[i] += 1;
        }
        double[] c = random(rows * dim, 1.0);
        Tensor xT = up(x);
        Tensor wT = up(w);
        Tensor y = zeros(x.length);
        Tensor rstd = zeros(rows);
        BACKEND.rmsNormForward(xT, wT, y, rstd, rows, dim, 1e-6f);
        close("rmsnorm forward", rmsNorm(x, w, rows, dim, 1e-6), down(y));
        Tensor dx = zeros(x.length);
        Tensor dw = zeros(dim);
        BACKEND.rmsNormBackward(up(c), xT, wT, rstd, dx, dw, rows, dim);
        close("rmsnorm dx", fd(xx -> dot(c, rmsNorm(xx, w, rows, dim, 1e-6)), x), down(dx));
        close("rmsnorm dw", fd(ww -> dot(c, rmsNorm(x, ww, rows, dim, 1e-6)), w), down(dw));
    }

    /**
     * The residual add fused with the norm, and its backward (the norm's into the residual gradient, which is also
     * the branch's): {@code L = Σ c·y + Σ c2·sum} with {@code sum = x + b}, {@code y = rmsnorm(sum)}.
     */
    @Test
    void rmsNormAfterResidualAdd() {
        int rows = 4;
        int dim = 21;
        double[] x = random(rows * dim, 1.0);
        double[] b = random(rows * dim, 1.0);
        double[] w = random(dim, 0.3);
        for (int i = 0; i < dim; i++) {
            w[i] += 1;
        }
        double[] c = random(rows * dim, 1.0);
        double[] c2 = random(rows * dim, 1.0);
        Tensor sum = zeros(x.length);
        Tensor y = zeros(x.length);
        Tensor rstd = zeros(rows);
        Tensor wT = up(w);
        BACKEND.rmsNormResidualForward(up(x), up(b), sum, wT, y, rstd, rows, dim, 1e-6f);
        double[] expectedSum = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            expectedSum[i] = x[i] + b[i];
        }
        close("residual sum", expectedSum, down(sum));
        close("norm of the residual sum", rmsNorm(expectedSum, w, rows, dim, 1e-6), down(y));
        Tensor dResid = up(c2);
        Tensor dw = zeros(dim);
        BACKEND.rmsNormBackward(up(c), sum, wT, rstd, dResid, dw, rows, dim);
        ToDoubleFunction<double[][]> objective = xb -> {
            double[] s = new double[xb[0].length];
            for (int i = 0; i < s.length; i++) {
                s[i] = xb[0][i] + xb[1][i];
            }
            return dot(c, rmsNorm(s, w, rows, dim, 1e-6)) + dot(c2, s);
        };
        close("fused norm dx", fd(xx -> objective.applyAsDouble(new double[][] {xx, b}), x), down(dResid));
        close("fused norm dbranch", fd(bb -> objective.applyAsDouble(new double[][] {x, bb}), b), down(dResid));
        close("fused norm dw", fd(ww -> dot(c, rmsNorm(expectedSum, ww, rows, dim, 1e-6)), w), down(dw));
    }

    @Test
    void ropeAndItsInverse() {
        int b = 2;
        int t = 5;
        int h = 2;
        int dh = 8;
        double[] x = random(b * t * h * dh, 1.0);
        double[] c = random(x.length, 1.0);
        Tensor xT = up(x);
        BACKEND.rope(xT, b, t, h, dh, 10000f, false);
        close("rope forward", rope(x, b, t, h, dh, 10000), down(xT));
        Tensor cT = up(c);
        BACKEND.rope(cT, b, t, h, dh, 10000f, true);
        close("rope backward", fd(xx -> dot(c, rope(xx, b, t, h, dh, 10000)), x), down(cT));
    }

    @Test
    void causalAttention() {
        checkAttention("attention", 2, 4, 0);
    }

    /** Longer than several query blocks (with a partial one), checked on sampled coordinates. */
    @Test
    void causalAttentionAcrossQueryBlocks() {
        checkAttention("blocked attention", 1, 2 * CpuAttention.BLOCK + 17, 24);
    }

    /**
     * Attention forward against the reference, and its backward against finite differences: every coordinate when
     * {@code samples} is 0, else that many sampled coordinates (long sequences). Two heads of 4.
     */
    private static void checkAttention(String what, int b, int t, int samples) {
        int h = 2;
        int dh = 4;
        int n = b * t * h * dh;
        double[] q = random(n, 1.0);
        double[] k = random(n, 1.0);
        double[] v = random(n, 1.0);
        double[] c = random(n, 1.0);
        Tensor qT = up(q);
        Tensor kT = up(k);
        Tensor vT = up(v);
        Tensor out = zeros(n);
        Tensor lse = zeros(b * h * t);
        BACKEND.attentionForward(qT, kT, vT, out, lse, b, t, h, dh);
        close(what + " forward", attention(q, k, v, b, t, h, dh), down(out));
        Tensor dq = zeros(n);
        Tensor dk = zeros(n);
        Tensor dv = zeros(n);
        BACKEND.attentionBackward(up(c), qT, kT, vT, out, lse, dq, dk, dv, b, t, h, dh);
        ToDoubleFunction<double[]> byQ = x -> dot(c, attention(x, k, v, b, t, h, dh));
        ToDoubleFunction<double[]> byK = x -> dot(c, attention(q, x, v, b, t, h, dh));
        ToDoubleFunction<double[]> byV = x -> dot(c, attention(q, k, x, b, t, h, dh));
        if (samples == 0) {
            close(what + " dq", fd(byQ, q), down(dq));
            close(what + " dk", fd(byK, k), down(dk));
            close(what + " dv", fd(byV, v), down(dv));
        } else {
            int[] sample = RANDOM.ints(samples, 0, n).toArray();
            sampled(what + " dq", byQ, q, down(dq), sample);
            sampled(what + " dk", byK, k, down(dk), sample);
            sampled(what + " dv", byV, v, down(dv), sample);
        }
    }

    static void sampled(String what, ToDoubleFunction<double[]> f, double[] x, double[] actual, int[] sample) {
        double max = 1e-12;
        for (double a : actual) {
            max = Math.max(max, Math.abs(a));
        }
        for (int i : sample) {
            double keep = x[i];
            x[i] = keep + 1e-6;
            double plus = f.applyAsDouble(x);
            x[i] = keep - 1e-6;
            double minus = f.applyAsDouble(x);
            x[i] = keep;
            double numeric = (plus - minus) / 2e-6;
            assertTrue(Math.abs(numeric - actual[i]) / max < TOL, what + " at " + i + ": " + numeric + " vs "
                    + actual[i]);
        }
    }

    @Test
    void swiglu() {
        int n = 40;
        double[] g = random(n, 2.0);
        double[] u = random(n, 1.0);
        double[] c = random(n, 1.0);
        ToDoubleFunction<double[][]> f = gu -> {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += c[i] * gu[0][i] / (1 + Math.exp(-gu[0][i])) * gu[1][i];
            }
            return s;
        };
        Tensor h = zeros(n);
        Tensor hAgain = zeros(n);
        Tensor dg = zeros(n);
        Tensor du = zeros(n);
        BACKEND.swigluForward(up(g), up(u), h, n);
        BACKEND.swigluBackward(up(c), up(g), up(u), hAgain, dg, du, n);
        close("swiglu dgate", fd(x -> f.applyAsDouble(new double[][] {x, u}), g), down(dg));
        close("swiglu dup", fd(x -> f.applyAsDouble(new double[][] {g, x}), u), down(du));
        assertArrayEquals(down(h), down(hAgain), "the backward's h is not the forward's bits");
    }

    @Test
    void routerSoftmaxTopKWithAndWithoutRenormalisation() {
        int rows = 6;
        int e = 7;
        int k = 3;
        double[] logits = random(rows * e, 1.5);
        double[] c = random(rows * k, 1.0);
        for (boolean normalize : new boolean[] {false, true}) {
            Tensor probs = zeros(rows * e);
            Tensor idx = BACKEND.allocate("idx", DType.I32, rows * k);
            Tensor w = zeros(rows * k);
            BACKEND.softmaxRows(up(logits), probs, rows, e);
            BACKEND.topK(probs, idx, w, rows, e, k, normalize);
            int[] chosen = new int[rows * k];
            BACKEND.downloadInts(idx, 0, chosen, 0, chosen.length);
            ToDoubleFunction<double[]> f = l -> {
                double[] p = softmax(l, rows, e);
                double s = 0;
                for (int r = 0; r < rows; r++) {
                    double sum = 0;
                    for (int j = 0; j < k; j++) {
                        sum += p[r * e + chosen[r * k + j]];
                    }
                    for (int j = 0; j < k; j++) {
                        double wj = p[r * e + chosen[r * k + j]];
                        s += c[r * k + j] * (normalize ? wj / sum : wj);
                    }
                }
                return s;
            };
            double[] p = softmax(logits, rows, e);
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < k; j++) {
                    int rank = 0;
                    for (int x = 0; x < e; x++) {
                        rank += p[r * e + x] > p[r * e + chosen[r * k + j]] ? 1 : 0;
                    }
                    assertTrue(rank == j, "top-K order at row " + r);
                }
            }
            Tensor dProbs = zeros(rows * e);
            Tensor dLogits = zeros(rows * e);
            BACKEND.topKBackward(probs, idx, w, up(c), dProbs, rows, e, k, normalize);
            BACKEND.softmaxRowsBackward(probs, dProbs, dLogits, rows, e);
            close("router gradient (normalize=" + normalize + ")", fd(f, logits), down(dLogits));
        }
    }

    /**
     * The fused router ops: {@code routerForward}'s probabilities, choices and entropy against the float64
     * reference, and {@code routerBackward}'s logits gradient against finite differences of the gate weights'
     * objective plus the balance losses, for renormalised and plain gates, per-sequence and per-batch losses.
     */
    @Test
    void fusedRouterForwardAndBackward() {
        int batch = 2;
        int seqLen = 4;
        int rows = batch * seqLen;
        int e = 6;
        int k = 2;
        double[] logits = random(rows * e, 1.5);
        double[] c = random(rows * k, 1.0);
        for (boolean normalize : new boolean[] {false, true}) {
            for (boolean seqAux : new boolean[] {true, false}) {
                String what = "(normalize=" + normalize + ", seqAux=" + seqAux + ")";
                Tensor logitsT = up(logits);
                Tensor probs = zeros(rows * e);
                Tensor idx = BACKEND.allocate("idx", DType.I32, rows * k);
                Tensor w = zeros(rows * k);
                Tensor scalars = zeros(4);
                BACKEND.routerForward(logitsT, probs, idx, w, rows, e, k, normalize, scalars, 3);
                double[] p = softmax(logits, rows, e);
                close("fused router probabilities " + what, p, down(probs));
                double entropy = 0;
                for (double pi : p) {
                    entropy -= pi * Math.log(pi);
                }
                close("fused router entropy " + what, new double[] {entropy / rows}, new double[] {down(scalars)[3]});
                int[] chosen = new int[rows * k];
                BACKEND.downloadInts(idx, 0, chosen, 0, chosen.length);
                ToDoubleFunction<double[]> objective = l -> {
                    double[] pl = softmax(l, rows, e);
                    double s = balanceRef(pl, chosen, batch, seqLen, e, k, seqAux, 0.1, 2, 0.05);
                    for (int r = 0; r < rows; r++) {
                        double chosenSum = 0;
                        for (int j = 0; j < k; j++) {
                            chosenSum += pl[r * e + chosen[r * k + j]];
                        }
                        for (int j = 0; j < k; j++) {
                            double wj = pl[r * e + chosen[r * k + j]];
                            s += c[r * k + j] * (normalize ? wj / chosenSum : wj);
                        }
                    }
                    return s;
                };
                Tensor dLogits = zeros(rows * e);
                BACKEND.routerBackward(probs, idx, w, up(c), dLogits, batch, seqLen, e, k, normalize, seqAux, 0.1f, 2,
                        0.05f, scalars, 0);
                double[] losses = down(scalars);
                close("fused router balance losses " + what,
                        new double[] {balanceRef(p, chosen, batch, seqLen, e, k, seqAux, 0.1, 2, 0.05)},
                        new double[] {losses[0] + losses[1]});
                close("fused router gradient " + what, fd(objective, logits.clone()), down(dLogits));
            }
        }
    }

    @Test
    void dispatchCombineAndTheirBackward() {
        int rows = 5;
        int k = 2;
        int e = 3;
        int dim = 4;
        int[] idx = {0, 2, 1, 2, 2, 0, 1, 0, 2, 1};
        Tensor idxT = upInts(idx);
        Tensor slot = BACKEND.allocate("slot", DType.I32, rows * k);
        int[] counts = BACKEND.expertCounts(idxT, slot, rows, k, e);
        assertArrayEquals(new int[] {3, 3, 4}, counts);
        int[] slots = new int[rows * k];
        BACKEND.downloadInts(slot, 0, slots, 0, slots.length);
        assertArrayEquals(new int[] {0, 6, 3, 7, 8, 1, 4, 2, 9, 5}, slots, "stable sort by expert, then token");
        double[] x = random(rows * dim, 1.0);
        Tensor slab = zeros(rows * k * dim);
        BACKEND.dispatchRows(up(x), slot, slab, rows, k, dim);
        double[] s = down(slab);
        for (int a = 0; a < rows * k; a++) {
            for (int d = 0; d < dim; d++) {
                assertTrue(s[slots[a] * dim + d] == (float) x[(a / k) * dim + d]);
            }
        }
        double[] y = random(rows * k * dim, 1.0);
        double[] w = random(rows * k, 1.0);
        double[] c = random(rows * dim, 1.0);
        ToDoubleFunction<double[][]> f = yw -> {
            double sum = 0;
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < k; j++) {
                    for (int d = 0; d < dim; d++) {
                        sum += c[r * dim + d] * yw[1][r * k + j] * yw[0][slots[r * k + j] * dim + d];
                    }
                }
            }
            return sum;
        };
        Tensor dY = zeros(y.length);
        Tensor dW = zeros(w.length);
        BACKEND.combineBackward(up(c), up(y), slot, up(w), dY, dW, rows, k, dim);
        close("combine dy", fd(v -> f.applyAsDouble(new double[][] {v, w}), y), down(dY));
        close("combine dweight", fd(v -> f.applyAsDouble(new double[][] {y, v}), w), down(dW));
        double[] before = random(rows * dim, 1.0);
        double[] combined = combineRef(y, w, slots, rows, k, dim);
        Tensor out = up(before);
        BACKEND.combine(up(y), slot, up(w), out, rows, k, dim, false);
        close("combine forward (overwrites)", combined, down(out));
        BACKEND.combine(up(y), slot, up(w), out, rows, k, dim, true);
        for (int i = 0; i < combined.length; i++) {
            combined[i] *= 2;
        }
        close("combine forward (+=)", combined, down(out));
        double[] dSlab = random(rows * k * dim, 1.0);
        Tensor dx = up(before);
        BACKEND.dispatchRowsBackward(up(dSlab), slot, dx, rows, k, dim, false);
        double[] dxExpect = new double[rows * dim];
        for (int a = 0; a < rows * k; a++) {
            for (int d = 0; d < dim; d++) {
                dxExpect[(a / k) * dim + d] += dSlab[slots[a] * dim + d];
            }
        }
        close("dispatch backward (overwrites)", dxExpect, down(dx));
        BACKEND.dispatchRowsBackward(up(dSlab), slot, dx, rows, k, dim, true);
        for (int i = 0; i < dxExpect.length; i++) {
            dxExpect[i] *= 2;
        }
        close("dispatch backward (+=)", dxExpect, down(dx));
    }

    static double[] combineRef(double[] y, double[] w, int[] slots, int rows, int k, int dim) {
        double[] out = new double[rows * dim];
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < k; j++) {
                for (int d = 0; d < dim; d++) {
                    out[r * dim + d] += w[r * k + j] * y[slots[r * k + j] * dim + d];
                }
            }
        }
        return out;
    }

    @Test
    void balanceLossesPerSequenceAndPerBatchWithDeviceGroups() {
        int batch = 2;
        int seqLen = 5;
        int e = 4;
        int k = 2;
        int rows = batch * seqLen;
        double[] probs = softmax(random(rows * e, 1.0), rows, e);
        int[] idx = new int[rows * k];
        for (int r = 0; r < rows; r++) {
            idx[r * k] = RANDOM.nextInt(e);
            idx[r * k + 1] = (idx[r * k] + 1 + RANDOM.nextInt(e - 1)) % e;
        }
        for (boolean seqAux : new boolean[] {true, false}) {
            ToDoubleFunction<double[]> loss = p -> balanceRef(p, idx, batch, seqLen, e, k, seqAux, 0.1, 2, 0.05);
            Tensor dProbs = zeros(rows * e);
            Tensor scalars = zeros(2);
            BACKEND.balanceLoss(up(probs), upInts(idx), dProbs, batch, seqLen, e, k, seqAux, 0.1f, 2, 0.05f,
                    scalars, 0);
            double[] s = down(scalars);
            close("balance loss value (seqAux=" + seqAux + ")", new double[] {loss.applyAsDouble(probs)},
                    new double[] {s[0] + s[1]});
            close("balance loss gradient (seqAux=" + seqAux + ")", fd(loss, probs.clone()), down(dProbs));
        }
    }

    /** DeepSeekMoE paper §3.3, eqs. 12–17 (and the reference code's seq_aux), written out independently. */
    static double balanceRef(double[] p, int[] idx, int batch, int seqLen, int e, int k, boolean seqAux,
                             double a1, int groups, double a2) {
        int g = seqAux ? batch : 1;
        int t = seqAux ? seqLen : batch * seqLen;
        double total = 0;
        for (int s = 0; s < g; s++) {
            double[] f = new double[e];
            double[] pm = new double[e];
            for (int r = s * t; r < (s + 1) * t; r++) {
                for (int j = 0; j < k; j++) {
                    f[idx[r * k + j]] += (double) e / (k * t);
                }
                for (int i = 0; i < e; i++) {
                    pm[i] += p[r * e + i] / t;
                }
            }
            for (int i = 0; i < e; i++) {
                total += a1 * f[i] * pm[i] / g;
            }
            int size = e / groups;
            for (int d = 0; d < groups; d++) {
                double fd = 0;
                double pd = 0;
                for (int i = d * size; i < (d + 1) * size; i++) {
                    fd += f[i] / size;
                    pd += pm[i];
                }
                total += a2 * fd * pd / g;
            }
        }
        return total;
    }

    @Test
    void crossEntropyWithMasking() {
        int rows = 4;
        int v = 9;
        double[] logits = random(rows * v, 2.0);
        int[] targets = {3, -1, 8, 0};
        float scale = 0.25f;
        ToDoubleFunction<double[]> loss = l -> {
            double s = 0;
            for (int r = 0; r < rows; r++) {
                if (targets[r] < 0) {
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < v; c++) {
                    max = Math.max(max, l[r * v + c]);
                }
                double sum = 0;
                for (int c = 0; c < v; c++) {
                    sum += Math.exp(l[r * v + c] - max);
                }
                s += scale * (max + Math.log(sum) - l[r * v + targets[r]]);
            }
            return s;
        };
        Tensor lT = up(logits);
        Tensor losses = zeros(rows);
        Tensor scalars = zeros(2);
        BACKEND.crossEntropy(lT, upInts(targets), losses, lT, rows, v, scale, scalars, 1);
        double[] perRow = down(losses);
        close("cross-entropy value", new double[] {loss.applyAsDouble(logits)},
                new double[] {scale * (perRow[0] + perRow[1] + perRow[2] + perRow[3])});
        close("cross-entropy loss sum", new double[] {loss.applyAsDouble(logits) / scale},
                new double[] {down(scalars)[1]});
        assertTrue(perRow[1] == 0);
        close("cross-entropy gradient", fd(loss, logits), down(lT));
    }

    @Test
    void embeddingBackwardScattersEveryRow() {
        int vocab = 5;
        int dim = 3;
        int[] tokens = {1, 4, 1, 0};
        double[] c = random(tokens.length * dim, 1.0);
        Tensor dTable = zeros(vocab * dim);
        BACKEND.embeddingBackward(up(c), tokens, dTable, tokens.length, dim);
        double[] table = random(vocab * dim, 1.0);
        close("embedding gradient", fd(tb -> {
            double s = 0;
            for (int r = 0; r < tokens.length; r++) {
                for (int d = 0; d < dim; d++) {
                    s += c[r * dim + d] * tb[tokens[r] * dim + d];
                }
            }
            return s;
        }, table), down(dTable));
    }

    @Test
    void adamwMatchesTheFormulaOverSteps() {
        int n = 50;
        double[] p = random(n, 1.0);
        double[] m = new double[n];
        double[] v = new double[n];
        Tensor pT = up(p);
        Tensor mT = zeros(n);
        Tensor vT = zeros(n);
        double lr = 0.01;
        double b1 = 0.9;
        double b2 = 0.95;
        double eps = 1e-8;
        double wd = 0.1;
        double clip = 0.5;
        // weight decay on [0, 20) and [35, 50) only, as a layout's matrices and norm weights alternate
        DecayRanges decay = new DecayRanges(new long[] {20, 35, 50}, new boolean[] {true, false, true});
        for (int step = 1; step <= 3; step++) {
            double[] g = random(n, 1.0);
            BACKEND.adamw(pT, up(g), mT, vT, decay, (float) lr, (float) b1, (float) b2, (float) eps, (float) wd,
                    (float) clip, step);
            for (int i = 0; i < n; i++) {
                double gi = g[i] * clip;
                m[i] = b1 * m[i] + (1 - b1) * gi;
                v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                double mh = m[i] / (1 - Math.pow(b1, step));
                double vh = v[i] / (1 - Math.pow(b2, step));
                double decayHere = i < 20 || i >= 35 ? wd : 0;
                p[i] -= lr * (mh / (Math.sqrt(vh) + eps) + decayHere * p[i]);
            }
        }
        close("adamw parameters", p, down(pT));
        close("adamw m", m, down(mT));
        close("adamw v", v, down(vT));
    }

    @Test
    void groupedGemmsMatchPerGroupProducts() {
        int[] groups = {3, 0, 5, 1};
        int rows = 9;
        int n = 6;
        int k = 4;
        double[] a = random(rows * k, 1.0);
        double[] w = random(groups.length * n * k, 1.0);
        Tensor c = zeros(rows * n);
        BACKEND.groupedMatmulNT(groups, n, k, up(a), up(w), c, false);
        double[] expect = new double[rows * n];
        double[] dyExpect = new double[rows * k];
        double[] dwExpect = new double[groups.length * n * k];
        double[] dy = random(rows * n, 1.0);
        int row = 0;
        for (int g = 0; g < groups.length; g++) {
            for (int r = row; r < row + groups[g]; r++) {
                for (int j = 0; j < n; j++) {
                    for (int p = 0; p < k; p++) {
                        expect[r * n + j] += a[r * k + p] * w[g * n * k + j * k + p];
                        dyExpect[r * k + p] += dy[r * n + j] * w[g * n * k + j * k + p];
                        dwExpect[g * n * k + j * k + p] += dy[r * n + j] * a[r * k + p];
                    }
                }
            }
            row += groups[g];
        }
        close("grouped NT", expect, down(c));
        Tensor dx = zeros(rows * k);
        BACKEND.groupedMatmulNN(groups, n, k, up(dy), up(w), dx, false);
        close("grouped NN", dyExpect, down(dx));
        Tensor dw = up(random(groups.length * n * k, 1.0));
        BACKEND.groupedMatmulTN(groups, n, k, up(dy), up(a), dw, false);
        close("grouped TN (empty group zeroed)", dwExpect, down(dw));
    }
}
