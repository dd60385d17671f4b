package org.sparkmoe.model.backend.cpu;

import static org.sparkmoe.model.backend.cpu.CpuTensor.f;
import static org.sparkmoe.model.backend.cpu.CpuTensor.i;
import static org.sparkmoe.model.backend.cpu.CpuTensor.off;

import java.lang.System.Logger.Level;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.Notices;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The CPU backend: tensors are ranges of heap arrays (the engine carves its flat arenas into views), GEMMs go to
 * {@link Gemm} and {@link GroupedGemm}, every other op to a small kernel class per concern; all of them run on one
 * fixed {@link CpuThreadPool} of the backend (never the common pool, never nested). See {@link Backend} for each op's contract.
 */
public final class CpuBackend implements Backend {

    private static final System.Logger LOG = System.getLogger(CpuBackend.class.getName());

    private final CpuPool pool;

    /**
     * A backend with its own pool of {@code threads} threads (the calling thread included; 1 = everything on the
     * calling thread, the right choice inside a Spark task that owns one core).
     */
    public CpuBackend(int threads) {
        this(threads == 1 ? CpuThreadPool.serial() : CpuThreadPool.create(checkThreads(threads)), threads > 1);
    }

    private CpuBackend(CpuThreadPool threads, boolean owned) {
        this.pool = new CpuPool(threads, owned);
        String description = describe();
        LOG.log(Notices.first("backend " + description) ? Level.INFO : Level.DEBUG, "Using backend: {0}", description);
    }

    private static int checkThreads(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("CPU backend threads=" + threads + " must be >= 1");
        }
        return threads;
    }

    /** A backend on the process-wide {@link CpuThreadPool#shared()} pool (all cores unless configured). */
    public static CpuBackend withAllCores() {
        return new CpuBackend(CpuThreadPool.shared(), false);
    }

    @Override
    public String describe() {
        return "cpu (heap fp32 arenas, " + pool.threads() + " threads; " + Gemm.kernelPath() + ")";
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor allocate(String name, DType dtype, long elements) {
        return CpuTensor.allocate(name, dtype, elements);
    }

    @Override
    public void free(Tensor t) {
        CpuTensor.of(t);  // heap arrays: the collector reclaims them once nothing refers to them
    }

    @Override
    public Tensor view(Tensor base, String name, long offset, long elements) {
        return CpuTensor.of(base).view(name, offset, elements);
    }

    @Override
    public void upload(float[] src, int srcOffset, Tensor dst, long dstOffset, int n) {
        checkRange(dst, dstOffset, n);
        System.arraycopy(src, srcOffset, f(dst), off(dst) + (int) dstOffset, n);
    }

    @Override
    public void uploadInts(int[] src, int srcOffset, Tensor dst, long dstOffset, int n) {
        checkRange(dst, dstOffset, n);
        System.arraycopy(src, srcOffset, i(dst), off(dst) + (int) dstOffset, n);
    }

    @Override
    public void download(Tensor src, long srcOffset, float[] dst, int dstOffset, int n) {
        checkRange(src, srcOffset, n);
        System.arraycopy(f(src), off(src) + (int) srcOffset, dst, dstOffset, n);
    }

    @Override
    public void downloadInts(Tensor src, long srcOffset, int[] dst, int dstOffset, int n) {
        checkRange(src, srcOffset, n);
        System.arraycopy(i(src), off(src) + (int) srcOffset, dst, dstOffset, n);
    }

    private static void checkRange(Tensor t, long offset, int n) {
        if (offset < 0 || n < 0 || offset + n > t.size()) {
            throw new IllegalArgumentException("range [" + offset + ", " + (offset + n) + ") is outside tensor "
                    + t.name() + " of " + t.size() + " elements");
        }
    }

    @Override
    public void fill(Tensor t, float value) {
        CpuTensor c = CpuTensor.of(t);
        if (c.f() != null) {
            java.util.Arrays.fill(c.f(), c.offset(), c.offset() + c.length(), value);
        } else {
            java.util.Arrays.fill(c.i(), c.offset(), c.offset() + c.length(), (int) value);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        sameSize(src, dst);
        System.arraycopy(f(src), off(src), f(dst), off(dst), (int) src.size());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        sameSize(a, b);
        sameSize(a, out);
        float[] x = f(a);
        float[] y = f(b);
        float[] z = f(out);
        int a0 = off(a);
        int b0 = off(b);
        int o0 = off(out);
        int n = (int) a.size();
        for (int j = 0; j < n; j++) {
            z[o0 + j] = x[a0 + j] + y[b0 + j];
        }
    }

    @Override
    public void scale(Tensor t, float s) {
        float[] x = f(t);
        int o = off(t);
        for (int j = 0; j < t.size(); j++) {
            x[o + j] *= s;
        }
    }

    private static void sameSize(Tensor a, Tensor b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("tensors " + a.name() + " (" + a.size() + ") and " + b.name() + " ("
                    + b.size() + ") differ in size");
        }
    }

    // ---------------------------------------------------------------- GEMM

    @Override
    public void matmulNN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        Gemm.run(pool.gemm(), GemmCase.NN, m, n, k, f(a), off(a), k, f(b), off(b), n, f(c), off(c), n, accumulate);
    }

    @Override
    public void matmulNT(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        Gemm.run(pool.gemm(), GemmCase.NT, m, n, k, f(a), off(a), k, f(b), off(b), k, f(c), off(c), n, accumulate);
    }

    @Override
    public void matmulTN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        Gemm.run(pool.gemm(), GemmCase.TN, m, n, k, f(a), off(a), m, f(b), off(b), n, f(c), off(c), n, accumulate);
    }

    @Override
    public void groupedMatmulNT(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        GroupedGemm.nt(pool.gemm(), groupRows, n, k, f(a), off(a), f(w), off(w), f(c), off(c),
                accumulate);
    }

    @Override
    public void groupedMatmulNN(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        GroupedGemm.nn(pool.gemm(), groupRows, n, k, f(a), off(a), f(w), off(w), f(c), off(c),
                accumulate);
    }

    @Override
    public void groupedMatmulTN(int[] groupRows, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate) {
        GroupedGemm.tn(pool.gemm(), groupRows, n, k, f(a), off(a), f(b), off(b), f(dw), off(dw),
                accumulate);
    }

    // ---------------------------------------------------------------- embedding, norm, RoPE

    @Override
    public void embeddingForward(Tensor table, Tensor tokens, Tensor out, int rows, int dim) {
        float[] t = f(table);
        int[] ids = i(tokens);
        int vocab = (int) (table.size() / dim);
        for (int r = 0; r < rows; r++) {
            int id = ids[off(tokens) + r];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " at row " + r + " is outside the vocabulary of "
                        + vocab);
            }
            System.arraycopy(t, off(table) + id * dim, f(out), off(out) + r * dim, dim);
        }
    }

    @Override
    public void embeddingBackward(Tensor dOut, Tensor tokens, Tensor dTable, int rows, int dim) {
        float[] g = f(dOut);
        float[] d = f(dTable);
        int[] ids = i(tokens);
        for (int r = 0; r < rows; r++) {
            int dst = off(dTable) + ids[off(tokens) + r] * dim;
            int src = off(dOut) + r * dim;
            for (int j = 0; j < dim; j++) {
                d[dst + j] += g[src + j];
            }
        }
    }

    @Override
    public void rmsNormForward(Tensor x, Tensor w, Tensor y, Tensor rstd, int rows, int dim, float eps) {
        CpuRmsNorm.forward(f(x), off(x), f(w), off(w), f(y), off(y), f(rstd), off(rstd), rows, dim, eps, pool);
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw, int rows, int dim) {
        CpuRmsNorm.backward(f(dy), off(dy), f(x), off(x), f(w), off(w), f(rstd), off(rstd), f(dx), off(dx), f(dw),
                off(dw), rows, dim, pool);
    }

    @Override
    public void rope(Tensor x, int batch, int seqLen, int heads, int headDim, float theta, boolean inverse) {
        CpuRope.apply(f(x), off(x), batch, seqLen, heads, headDim, theta, inverse, pool);
    }

    @Override
    public void ropeAt(Tensor x, Tensor positions, int rows, int heads, int headDim, float theta) {
        CpuRopeAt.apply(f(x), off(x), i(positions), off(positions), rows, heads, headDim, theta, pool);
    }

    // ---------------------------------------------------------------- attention

    @Override
    public void attentionForward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, int batch, int seqLen,
                                 int heads, int headDim) {
        CpuAttention.forward(f(q), off(q), f(k), off(k), f(v), off(v), f(out), off(out), f(lse), off(lse), batch,
                seqLen, heads, headDim, pool);
    }

    @Override
    public void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq,
                                  Tensor dk, Tensor dv, int batch, int seqLen, int heads, int headDim) {
        CpuAttention.backward(f(dOut), off(dOut), f(q), off(q), f(k), off(k), f(v), off(v), f(out), off(out), f(lse),
                off(lse), f(dq), off(dq), f(dk), off(dk), f(dv), off(dv), batch, seqLen, heads, headDim, pool);
    }

    @Override
    public void cachedAttention(Tensor q, Tensor kCache, Tensor vCache, Tensor out, Tensor slots, Tensor positions,
                                int rows, int heads, int headDim) {
        CpuCachedAttention.forward(f(q), off(q), f(kCache), off(kCache), f(vCache), off(vCache), f(out), off(out),
                i(slots), off(slots), i(positions), off(positions), rows, heads, headDim,
                (int) (kCache.size() / ((long) heads * headDim)), pool);
    }

    // ---------------------------------------------------------------- FFN

    @Override
    public void swigluForward(Tensor gate, Tensor up, Tensor h, long n) {
        float[] g = f(gate);
        float[] u = f(up);
        float[] o = f(h);
        int g0 = off(gate);
        int u0 = off(up);
        int h0 = off(h);
        for (int j = 0; j < n; j++) {
            float x = g[g0 + j];
            o[h0 + j] = x / (1f + (float) Math.exp(-x)) * u[u0 + j];
        }
    }

    @Override
    public void swigluBackward(Tensor dh, Tensor gate, Tensor up, Tensor dGate, Tensor dUp, long n) {
        float[] d = f(dh);
        float[] g = f(gate);
        float[] u = f(up);
        float[] dg = f(dGate);
        float[] du = f(dUp);
        int d0 = off(dh);
        int g0 = off(gate);
        int u0 = off(up);
        int dg0 = off(dGate);
        int du0 = off(dUp);
        for (int j = 0; j < n; j++) {
            float x = g[g0 + j];
            float sig = 1f / (1f + (float) Math.exp(-x));
            float silu = x * sig;
            du[du0 + j] = d[d0 + j] * silu;
            dg[dg0 + j] = d[d0 + j] * u[u0 + j] * sig * (1f + x * (1f - sig));
        }
    }

    // ---------------------------------------------------------------- MoE

    @Override
    public void softmaxRows(Tensor logits, Tensor probs, int rows, int cols) {
        CpuRouting.softmaxRows(f(logits), off(logits), f(probs), off(probs), rows, cols, pool);
    }

    @Override
    public void softmaxRowsBackward(Tensor probs, Tensor dProbs, Tensor dLogits, int rows, int cols) {
        CpuRouting.softmaxRowsBackward(f(probs), off(probs), f(dProbs), off(dProbs), f(dLogits), off(dLogits), rows,
                cols, pool);
    }

    @Override
    public void topK(Tensor probs, Tensor idx, Tensor weight, int rows, int experts, int k, boolean normalize) {
        CpuRouting.topK(f(probs), off(probs), i(idx), off(idx), f(weight), off(weight), rows, experts, k, normalize,
                pool);
    }

    @Override
    public void topKBackward(Tensor probs, Tensor idx, Tensor weight, Tensor dWeight, Tensor dProbs, int rows,
                             int experts, int k, boolean normalize) {
        CpuRouting.topKBackward(f(probs), off(probs), i(idx), off(idx), f(weight), off(weight), f(dWeight),
                off(dWeight), f(dProbs), off(dProbs), rows, experts, k, normalize, pool);
    }

    @Override
    public void hashRoute(Tensor tokens, Tensor idx, Tensor weight, int rows, int experts) {
        CpuRouting.hashRoute(i(tokens), off(tokens), i(idx), off(idx), f(weight), off(weight), rows, experts);
    }

    @Override
    public int[] expertCounts(Tensor idx, Tensor slot, int rows, int k, int experts) {
        return CpuRouting.expertCounts(i(idx), off(idx), i(slot), off(slot), rows, k, experts);
    }

    @Override
    public void dispatchRows(Tensor x, Tensor slot, Tensor slab, int rows, int k, int dim) {
        CpuRouting.dispatch(f(x), off(x), i(slot), off(slot), f(slab), off(slab), rows, k, dim, pool);
    }

    @Override
    public void dispatchRowsBackward(Tensor dSlab, Tensor slot, Tensor dx, int rows, int k, int dim) {
        CpuRouting.dispatchBackward(f(dSlab), off(dSlab), i(slot), off(slot), f(dx), off(dx), rows, k, dim, pool);
    }

    @Override
    public void combine(Tensor y, Tensor slot, Tensor weight, Tensor out, int rows, int k, int dim) {
        CpuRouting.combine(f(y), off(y), i(slot), off(slot), f(weight), off(weight), f(out), off(out), rows, k, dim,
                pool);
    }

    @Override
    public void combineBackward(Tensor dOut, Tensor y, Tensor slot, Tensor weight, Tensor dY, Tensor dWeight,
                                int rows, int k, int dim) {
        CpuRouting.combineBackward(f(dOut), off(dOut), f(y), off(y), i(slot), off(slot), f(weight), off(weight),
                f(dY), off(dY), f(dWeight), off(dWeight), rows, k, dim, pool);
    }

    @Override
    public void balanceLoss(Tensor probs, Tensor idx, Tensor dProbs, int batch, int seqLen, int experts, int k,
                            boolean seqAux, float alphaExpert, int deviceGroups, float alphaDevice, Tensor scalars,
                            int slot) {
        float[] losses = CpuBalanceLoss.apply(f(probs), off(probs), i(idx), off(idx), f(dProbs), off(dProbs), batch,
                seqLen, experts, k, seqAux, alphaExpert, deviceGroups, alphaDevice);
        f(scalars)[off(scalars) + slot] = losses[0];
        f(scalars)[off(scalars) + slot + 1] = losses[1];
    }

    @Override
    public void routerEntropy(Tensor probs, int rows, int experts, Tensor scalars, int slot) {
        f(scalars)[off(scalars) + slot] = CpuRouting.meanEntropy(f(probs), off(probs), rows, experts);
    }

    // ---------------------------------------------------------------- loss

    @Override
    public void crossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, int rows, int vocab,
                             float gradScale) {
        CpuCrossEntropy.apply(f(logits), off(logits), i(targets), off(targets), f(losses), off(losses), f(dLogits),
                off(dLogits), rows, vocab, gradScale, pool);
    }

    @Override
    public void sum(Tensor x, Tensor scalars, int slot) {
        float[] a = f(x);
        double s = 0;
        for (int j = 0; j < x.size(); j++) {
            s += a[off(x) + j];
        }
        f(scalars)[off(scalars) + slot] = (float) s;
    }

    // ---------------------------------------------------------------- optimiser

    @Override
    public void sumSquares(Tensor g, Tensor scalars, int slot) {
        float[] a = f(g);
        int o = off(g);
        double s = 0;
        for (int j = 0; j < g.size(); j++) {
            double v = a[o + j];
            s += v * v;
        }
        f(scalars)[off(scalars) + slot] = (float) s;
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                      float weightDecay, float gradScale, int step) {
        sameSize(param, grad);
        sameSize(param, m);
        sameSize(param, v);
        CpuAdamW.step(f(param), off(param), f(grad), off(grad), f(m), off(m), f(v), off(v), (int) param.size(), lr,
                beta1, beta2, eps, weightDecay, gradScale, step, pool);
    }

    @Override
    public Collective joinCollective(int rank, int size, Rendezvous rendezvous) {
        return TcpCollective.join(rank, size, rendezvous);
    }

    @Override
    public void close() {
        pool.close();
    }
}
