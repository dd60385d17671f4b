package org.sparkmoe.model.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.sparkmoe.model.backend.cpu.CpuTensor.f;
import static org.sparkmoe.model.backend.cpu.CpuTensor.i;

import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.ExpertSlots;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.HeldRanges;
import org.sparkmoe.model.backend.MemoryInfo;
import org.sparkmoe.model.backend.Notices;
import org.sparkmoe.model.backend.SlabOffsets;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.Workload;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The CPU backend: tensors are off-heap segments indexed by {@code long} (the engine carves its flat arenas into
 * views; an arena may exceed 2^31 elements), each in a shared {@link Arena} of its own, so that {@link #free} returns
 * one early (buffers that grow with expert parallelism's routing); all are freed when the backend closes.
 * GEMMs go to {@link Gemm} and {@link GroupedGemm}, every other op to a small kernel class per concern; all of them
 * run on one fixed {@link CpuThreadPool} of the backend (never the common pool, never nested). See {@link Backend}
 * for each op's contract.
 */
public final class CpuBackend implements Backend {

    private static final System.Logger LOG = System.getLogger(CpuBackend.class.getName());
    /** Tensor alignment: a cache line, and a whole 512-bit vector. */
    private static final long ALIGNMENT = 64;
    /** Whether {@link #produceOperands} poisons its tensors when the scope closes (assertions on: the tests). */
    private static final boolean POISON_PRODUCED = CpuBackend.class.desiredAssertionStatus();

    private final CpuPool pool;
    /** Each allocation's own arena, by its segment (a view is another segment object). */
    private final Map<MemorySegment, Arena> arenas = new IdentityHashMap<>();
    private final HeldRanges heldRanges = new HeldRanges();
    private final long memoryLimit;
    private long allocated;
    private boolean closed;

    /**
     * A backend with its own pool of {@code threads} threads (the calling thread included; 1 = everything on the
     * calling thread, the right choice inside a Spark task that owns one core).
     */
    public CpuBackend(int threads) {
        this(threads, Long.MAX_VALUE);
    }

    /**
     * As {@link #CpuBackend(int)}, with tensors limited to {@code memoryLimitBytes} in all (the engine refuses a model
     * whose estimate exceeds it before allocating anything); physical memory limits them as well.
     */
    public CpuBackend(int threads, long memoryLimitBytes) {
        this(threads == 1 ? CpuThreadPool.serial() : CpuThreadPool.create(checkThreads(threads)), threads > 1,
                memoryLimitBytes);
    }

    private CpuBackend(CpuThreadPool threads, boolean owned, long memoryLimit) {
        if (memoryLimit <= 0) {
            throw new IllegalArgumentException("CPU backend memory limit " + memoryLimit + " bytes must be > 0");
        }
        this.pool = new CpuPool(threads, owned);
        this.memoryLimit = memoryLimit;
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
        return new CpuBackend(CpuThreadPool.shared(), false, Long.MAX_VALUE);
    }

    /**
     * The elements of a CPU tensor (fp32 or int32, 4 bytes each, native order) as the off-heap segment they live in:
     * for code of this package's concern that works on tensors in place (collectives over the engine's arenas).
     */
    public static MemorySegment segment(Tensor t) {
        return CpuTensor.of(t).data();
    }

    @Override
    public String describe() {
        return "cpu (off-heap fp32 arenas, " + pool.threads() + " threads"
                + (memoryLimit == Long.MAX_VALUE ? "" : ", memory limit " + memoryLimit + " bytes") + "; "
                + Gemm.kernelPath() + ")";
    }

    // ---------------------------------------------------------------- memory

    @Override
    public Tensor allocate(String name, DType dtype, long elements) {
        if (elements < 0) {
            throw new IllegalArgumentException("tensor " + name + ": " + elements + " elements");
        }
        Arena arena = Arena.ofShared();
        MemorySegment data = arena.allocate(4 * elements, ALIGNMENT);
        arenas.put(data, arena);
        allocated += 4 * elements;
        return new CpuTensor(name, dtype, data);
    }

    @Override
    public void free(Tensor t) {
        MemorySegment data = CpuTensor.of(t).data();
        Arena arena = arenas.remove(data);
        if (arena == null) {
            throw new IllegalArgumentException("tensor " + t.name() + " is a view or not an allocation of this backend:"
                    + " only a whole allocated tensor can be freed");
        }
        allocated -= data.byteSize();
        arena.close();
    }

    @Override
    public Tensor view(Tensor base, String name, long offset, long elements) {
        return CpuTensor.of(base).view(name, offset, elements);
    }

    @Override
    public MemoryInfo memory() {
        MemoryInfo host = HostMemory.now();
        if (memoryLimit == Long.MAX_VALUE || memoryLimit - allocated >= host.freeBytes()) {
            return host;
        }
        return new MemoryInfo(Math.max(0, memoryLimit - allocated), Math.min(memoryLimit, host.totalBytes()),
                "the CPU backend's configured limit of " + memoryLimit + " bytes");
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    @Override
    public long workspaceBytes(Workload workload) {
        return pool.threads() * (PackedGemm.BUFFER_BYTES + CpuAttention.scratchBytes(workload.seqLen()));
    }

    @Override
    public void upload(MemorySegment src, long srcOffset, Tensor dst, long dstOffset, long n) {
        checkRange(dst, dstOffset, n);
        MemorySegment.copy(src, JAVA_FLOAT, 4 * srcOffset, f(dst), JAVA_FLOAT, 4 * dstOffset, n);
    }

    @Override
    public void download(Tensor src, long srcOffset, MemorySegment dst, long dstOffset, long n) {
        checkRange(src, srcOffset, n);
        MemorySegment.copy(f(src), JAVA_FLOAT, 4 * srcOffset, dst, JAVA_FLOAT, 4 * dstOffset, n);
    }

    @Override
    public void uploadInts(int[] src, int srcOffset, Tensor dst, long dstOffset, int n) {
        checkRange(dst, dstOffset, n);
        MemorySegment.copy(src, srcOffset, i(dst), JAVA_INT, 4 * dstOffset, n);
    }

    @Override
    public void downloadInts(Tensor src, long srcOffset, int[] dst, int dstOffset, int n) {
        checkRange(src, srcOffset, n);
        MemorySegment.copy(i(src), JAVA_INT, 4 * srcOffset, dst, dstOffset, n);
    }

    private static void checkRange(Tensor t, long offset, long n) {
        if (offset < 0 || n < 0 || offset + n > t.size()) {
            throw new IllegalArgumentException("range [" + offset + ", " + (offset + n) + ") is outside tensor "
                    + t.name() + " of " + t.size() + " elements");
        }
    }

    @Override
    public void fill(Tensor t, float value) {
        CpuTensor c = CpuTensor.of(t);
        boolean zeroBits = c.dtype() == DType.F32 ? Float.floatToRawIntBits(value) == 0 : (int) value == 0;
        if (zeroBits) {
            c.data().fill((byte) 0);
            return;
        }
        long n = c.size();
        if (c.dtype() == DType.F32) {
            for (long j = 0; j < n; j++) {
                c.data().setAtIndex(JAVA_FLOAT, j, value);
            }
        } else {
            for (long j = 0; j < n; j++) {
                c.data().setAtIndex(JAVA_INT, j, (int) value);
            }
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        sameSize(src, dst);
        MemorySegment.copy(f(src), 0, f(dst), 0, 4 * src.size());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        sameSize(a, b);
        sameSize(a, out);
        MemorySegment x = f(a);
        MemorySegment y = f(b);
        MemorySegment z = f(out);
        long n = a.size();
        for (long j = 0; j < n; j++) {
            z.setAtIndex(JAVA_FLOAT, j, x.getAtIndex(JAVA_FLOAT, j) + y.getAtIndex(JAVA_FLOAT, j));
        }
    }

    @Override
    public void scale(Tensor t, float s) {
        MemorySegment x = f(t);
        long n = t.size();
        for (long j = 0; j < n; j++) {
            x.setAtIndex(JAVA_FLOAT, j, x.getAtIndex(JAVA_FLOAT, j) * s);
        }
    }

    private static void sameSize(Tensor a, Tensor b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("tensors " + a.name() + " (" + a.size() + ") and " + b.name() + " ("
                    + b.size() + ") differ in size");
        }
    }

    // ---------------------------------------------------------------- GEMM

    /** Nothing to copy here; the held ranges check the contract (GEMMs write no held tensor) as on a GPU. */
    @Override
    public HeldOperands holdOperands(Tensor... tensors) {
        List<HeldRanges.Range> ranges = new ArrayList<>();
        for (Tensor t : tensors) {
            ranges.add(range(t));
        }
        return heldRanges.hold(ranges);
    }

    /**
     * The tensors are written and read in fp32 as always; the held ranges check the GEMMs as for {@link #holdOperands}.
     * With assertions on (the tests), closing the scope fills them with NaN: on a GPU their contents after the scope
     * are undefined, so a layer that reads one afterwards fails here too.
     */
    @Override
    public HeldOperands produceOperands(Tensor... tensors) {
        HeldOperands held = holdOperands(tensors);
        return () -> {
            held.close();
            if (POISON_PRODUCED) {
                for (Tensor t : tensors) {
                    fill(t, Float.NaN);
                }
            }
        };
    }

    private static HeldRanges.Range range(Tensor t) {
        MemorySegment data = CpuTensor.of(t).data();
        return new HeldRanges.Range(t.name(), data.address(), data.address() + data.byteSize());
    }

    @Override
    public void matmulNN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        heldRanges.refuseOutput(range(c));
        Gemm.run(pool.gemm(), GemmCase.NN, m, n, k, f(a), 0, k, f(b), 0, n, f(c), 0, n, accumulate);
    }

    @Override
    public void matmulNT(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        heldRanges.refuseOutput(range(c));
        Gemm.run(pool.gemm(), GemmCase.NT, m, n, k, f(a), 0, k, f(b), 0, k, f(c), 0, n, accumulate);
    }

    @Override
    public void matmulTN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        heldRanges.refuseOutput(range(c));
        Gemm.run(pool.gemm(), GemmCase.TN, m, n, k, f(a), 0, m, f(b), 0, n, f(c), 0, n, accumulate);
    }

    @Override
    public void groupedMatmulNT(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        heldRanges.refuseOutput(range(c));
        GroupedGemm.nt(pool.gemm(), groupRows, n, k, f(a), 0, f(w), 0, f(c), 0, accumulate);
    }

    @Override
    public void groupedMatmulNN(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        heldRanges.refuseOutput(range(c));
        GroupedGemm.nn(pool.gemm(), groupRows, n, k, f(a), 0, f(w), 0, f(c), 0, accumulate);
    }

    @Override
    public void groupedMatmulTN(int[] groupRows, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate) {
        heldRanges.refuseOutput(range(dw));
        GroupedGemm.tn(pool.gemm(), groupRows, n, k, f(a), 0, f(b), 0, f(dw), 0, accumulate);
    }

    @Override
    public void groupedMatmulNT(SlabOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        heldRanges.refuseOutput(range(c));
        groupedMatmulNT(groupRows(groups), n, k, a, w, c, accumulate);
    }

    @Override
    public void groupedMatmulNN(SlabOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        heldRanges.refuseOutput(range(c));
        groupedMatmulNN(groupRows(groups), n, k, a, w, c, accumulate);
    }

    @Override
    public void groupedMatmulTN(SlabOffsets groups, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate) {
        heldRanges.refuseOutput(range(dw));
        groupedMatmulTN(groupRows(groups), n, k, a, b, dw, accumulate);
    }

    /** The row counts whose prefix sums {@code groups} holds (host memory here: reading them costs no wait). */
    private int[] groupRows(SlabOffsets groups) {
        int[] offsets = new int[groups.groups() + 1];
        downloadInts(groups.offsets_G1(), 0, offsets, 0, offsets.length);
        return ExpertSlots.counts(offsets);
    }

    // ---------------------------------------------------------------- embedding, norm, RoPE

    @Override
    public void embeddingForward(Tensor table, int[] tokens_R, Tensor out, int rows, int dim) {
        MemorySegment t = f(table);
        MemorySegment o = f(out);
        long vocab = table.size() / dim;
        long rowBytes = 4L * dim;
        for (int r = 0; r < rows; r++) {
            int id = tokens_R[r];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " at row " + r + " is outside the vocabulary of "
                        + vocab);
            }
            MemorySegment.copy(t, id * rowBytes, o, r * rowBytes, rowBytes);
        }
    }

    @Override
    public void embeddingBackward(Tensor dOut, int[] tokens_R, Tensor dTable, int rows, int dim) {
        MemorySegment g = f(dOut);
        MemorySegment d = f(dTable);
        for (int r = 0; r < rows; r++) {
            long dst = (long) tokens_R[r] * dim;
            long src = (long) r * dim;
            for (int j = 0; j < dim; j++) {
                d.setAtIndex(JAVA_FLOAT, dst + j, d.getAtIndex(JAVA_FLOAT, dst + j) + g.getAtIndex(JAVA_FLOAT, src + j));
            }
        }
    }

    @Override
    public void rmsNormForward(Tensor x, Tensor w, Tensor y, Tensor rstd, int rows, int dim, float eps) {
        CpuRmsNorm.forward(f(x), f(w), f(y), f(rstd), rows, dim, eps, pool);
    }

    @Override
    public void rmsNormResidualForward(Tensor x, Tensor branch, Tensor sum, Tensor w, Tensor y, Tensor rstd, int rows,
                                       int dim, float eps) {
        CpuRmsNorm.forwardResidual(f(x), f(branch), f(sum), f(w), f(y), f(rstd), rows, dim, eps, pool);
    }

    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw, int rows, int dim) {
        CpuRmsNorm.backward(f(dy), f(x), f(w), f(rstd), f(dx), f(dw), rows, dim, pool);
    }

    @Override
    public void rope(Tensor x, int batch, int seqLen, int heads, int headDim, float theta, boolean inverse) {
        CpuRope.apply(f(x), batch, seqLen, heads, headDim, theta, inverse, pool);
    }

    @Override
    public void ropeAt(Tensor x, Tensor positions, int rows, int heads, int headDim, float theta) {
        CpuRopeAt.apply(f(x), i(positions), rows, heads, headDim, theta, pool);
    }

    // ---------------------------------------------------------------- attention

    @Override
    public void attentionForward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, int batch, int seqLen,
                                 int heads, int headDim) {
        CpuAttention.forward(f(q), f(k), f(v), f(out), f(lse), batch, seqLen, heads, headDim, pool);
    }

    @Override
    public void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq,
                                  Tensor dk, Tensor dv, int batch, int seqLen, int heads, int headDim) {
        CpuAttention.backward(f(dOut), f(q), f(k), f(v), f(out), f(lse), f(dq), f(dk), f(dv), batch, seqLen, heads,
                headDim, pool);
    }

    @Override
    public void cachedAttention(Tensor q, Tensor kCache, Tensor vCache, Tensor out, Tensor slots, Tensor positions,
                                int rows, int heads, int headDim) {
        CpuCachedAttention.forward(f(q), f(kCache), f(vCache), f(out), i(slots), i(positions), rows, heads, headDim,
                kCache.size() / ((long) heads * headDim), pool);
    }

    // ---------------------------------------------------------------- FFN

    @Override
    public void swigluForward(Tensor gate, Tensor up, Tensor h, long n) {
        MemorySegment g = f(gate);
        MemorySegment u = f(up);
        MemorySegment o = f(h);
        for (long j = 0; j < n; j++) {
            o.setAtIndex(JAVA_FLOAT, j, swiglu(g.getAtIndex(JAVA_FLOAT, j), u.getAtIndex(JAVA_FLOAT, j)));
        }
    }

    private static float swiglu(float g, float u) {
        return g / (1f + (float) Math.exp(-g)) * u;
    }

    @Override
    public void swigluBackward(Tensor dh, Tensor gate, Tensor up, Tensor h, Tensor dGate, Tensor dUp, long n) {
        MemorySegment d = f(dh);
        MemorySegment g = f(gate);
        MemorySegment u = f(up);
        MemorySegment o = f(h);
        MemorySegment dg = f(dGate);
        MemorySegment du = f(dUp);
        for (long j = 0; j < n; j++) {
            float x = g.getAtIndex(JAVA_FLOAT, j);
            float uj = u.getAtIndex(JAVA_FLOAT, j);
            float sig = 1f / (1f + (float) Math.exp(-x));
            float silu = x * sig;
            float dj = d.getAtIndex(JAVA_FLOAT, j);
            o.setAtIndex(JAVA_FLOAT, j, swiglu(x, uj));
            du.setAtIndex(JAVA_FLOAT, j, dj * silu);
            dg.setAtIndex(JAVA_FLOAT, j, dj * uj * sig * (1f + x * (1f - sig)));
        }
    }

    // ---------------------------------------------------------------- MoE

    @Override
    public void softmaxRows(Tensor logits, Tensor probs, int rows, int cols) {
        CpuRouting.softmaxRows(f(logits), f(probs), rows, cols, pool);
    }

    @Override
    public void softmaxRowsBackward(Tensor probs, Tensor dProbs, Tensor dLogits, int rows, int cols) {
        CpuRouting.softmaxRowsBackward(f(probs), f(dProbs), f(dLogits), rows, cols, pool);
    }

    @Override
    public void topK(Tensor probs, Tensor idx, Tensor weight, int rows, int experts, int k, boolean normalize) {
        CpuRouting.topK(f(probs), i(idx), f(weight), rows, experts, k, normalize, pool);
    }

    @Override
    public void topKBackward(Tensor probs, Tensor idx, Tensor weight, Tensor dWeight, Tensor dProbs, int rows,
                             int experts, int k, boolean normalize) {
        CpuRouting.topKBackward(f(probs), i(idx), f(weight), f(dWeight), f(dProbs), rows, experts, k, normalize, pool);
    }

    @Override
    public void routerForward(Tensor logits, Tensor probs, Tensor idx, Tensor weight, int rows, int experts, int k,
                              boolean normalize, Tensor scalars, int entropySlot) {
        float entropy = CpuRouting.route(f(logits), f(probs), i(idx), f(weight), rows, experts, k, normalize, pool);
        f(scalars).setAtIndex(JAVA_FLOAT, entropySlot, entropy);
    }

    @Override
    public void routerBackward(Tensor probs, Tensor idx, Tensor weight, Tensor dWeight, Tensor dLogits, int batch,
                               int seqLen, int experts, int k, boolean normalize, boolean seqAux, float alphaExpert,
                               int deviceGroups, float alphaDevice, Tensor scalars, int slot) {
        float[] losses = CpuRouting.routerBackward(f(probs), i(idx), f(weight), f(dWeight), f(dLogits), batch, seqLen,
                experts, k, normalize, seqAux, alphaExpert, deviceGroups, alphaDevice, pool);
        f(scalars).setAtIndex(JAVA_FLOAT, slot, losses[0]);
        f(scalars).setAtIndex(JAVA_FLOAT, slot + 1, losses[1]);
    }

    @Override
    public void hashRoute(Tensor tokens, Tensor idx, Tensor weight, int rows, int experts) {
        CpuRouting.hashRoute(i(tokens), i(idx), f(weight), rows, experts);
    }

    @Override
    public int[] expertCounts(Tensor idx, Tensor slot, int rows, int k, int experts) {
        int n = rows * k;
        int[] assignment = new int[n];
        downloadInts(idx, 0, assignment, 0, n);
        int[] slots = new int[n];
        int[] counts = ExpertSlots.sort(assignment, n, experts, slots);
        uploadInts(slots, 0, slot, 0, n);
        return counts;
    }

    @Override
    public boolean routesOnDevice() {
        return true;
    }

    @Override
    public void routeExperts(Tensor idx, Tensor slot, Tensor offsets, Tensor load, int rows, int k, int experts) {
        int[] counts = expertCounts(idx, slot, rows, k, experts);
        uploadInts(ExpertSlots.offsets(counts), 0, offsets, 0, experts + 1);
        MemorySegment l = i(load);
        for (int e = 0; e < experts; e++) {
            l.setAtIndex(JAVA_INT, e, l.getAtIndex(JAVA_INT, e) + counts[e]);
        }
    }

    @Override
    public void dispatchRows(Tensor x, Tensor slot, Tensor slab, int rows, int k, int dim) {
        CpuRouting.dispatch(f(x), i(slot), f(slab), rows, k, dim, pool);
    }

    @Override
    public void dispatchRowsBackward(Tensor dSlab, Tensor slot, Tensor dx, int rows, int k, int dim,
                                     boolean accumulate) {
        CpuRouting.dispatchBackward(f(dSlab), i(slot), f(dx), rows, k, dim, accumulate, pool);
    }

    @Override
    public void combine(Tensor y, Tensor slot, Tensor weight, Tensor out, int rows, int k, int dim,
                        boolean accumulate) {
        CpuRouting.combine(f(y), i(slot), f(weight), f(out), rows, k, dim, accumulate, pool);
    }

    @Override
    public void combineBackward(Tensor dOut, Tensor y, Tensor slot, Tensor weight, Tensor dY, Tensor dWeight,
                                int rows, int k, int dim) {
        CpuRouting.combineBackward(f(dOut), f(y), i(slot), f(weight), f(dY), f(dWeight), rows, k, dim, pool);
    }

    @Override
    public void balanceLoss(Tensor probs, Tensor idx, Tensor dProbs, int batch, int seqLen, int experts, int k,
                            boolean seqAux, float alphaExpert, int deviceGroups, float alphaDevice, Tensor scalars,
                            int slot) {
        float[] losses = CpuBalanceLoss.apply(f(probs), i(idx), f(dProbs), batch, seqLen, experts, k, seqAux,
                alphaExpert, deviceGroups, alphaDevice);
        f(scalars).setAtIndex(JAVA_FLOAT, slot, losses[0]);
        f(scalars).setAtIndex(JAVA_FLOAT, slot + 1, losses[1]);
    }

    @Override
    public void routerEntropy(Tensor probs, int rows, int experts, Tensor scalars, int slot) {
        f(scalars).setAtIndex(JAVA_FLOAT, slot, CpuRouting.meanEntropy(f(probs), rows, experts));
    }

    // ---------------------------------------------------------------- loss

    @Override
    public void crossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, int rows, int vocab,
                             float gradScale, Tensor scalars, int slot) {
        CpuCrossEntropy.apply(f(logits), i(targets), f(losses), f(dLogits), rows, vocab, gradScale, pool);
        f(scalars).setAtIndex(JAVA_FLOAT, slot, sum(f(losses), rows));
    }

    @Override
    public void sum(Tensor x, Tensor scalars, int slot) {
        f(scalars).setAtIndex(JAVA_FLOAT, slot, sum(f(x), x.size()));
    }

    /** The first {@code n} floats of {@code a} summed in order in fp64. */
    private static float sum(MemorySegment a, long n) {
        double s = 0;
        for (long j = 0; j < n; j++) {
            s += a.getAtIndex(JAVA_FLOAT, j);
        }
        return (float) s;
    }

    // ---------------------------------------------------------------- optimiser

    @Override
    public void sumSquares(Tensor g, Tensor scalars, int slot) {
        MemorySegment a = f(g);
        long n = g.size();
        double s = 0;
        for (long j = 0; j < n; j++) {
            double v = a.getAtIndex(JAVA_FLOAT, j);
            s += v * v;
        }
        f(scalars).setAtIndex(JAVA_FLOAT, slot, (float) s);
    }

    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, DecayRanges decay, float lr, float beta1,
                      float beta2, float eps, float weightDecay, float gradScale, int step) {
        sameSize(param, grad);
        sameSize(param, m);
        sameSize(param, v);
        decay.requireCovers(param);
        for (int i = 0; i < decay.count(); i++) {
            long first = 4 * decay.start(i);
            long bytes = 4 * decay.end(i) - first;
            CpuAdamW.step(f(param).asSlice(first, bytes), f(grad).asSlice(first, bytes), f(m).asSlice(first, bytes),
                    f(v).asSlice(first, bytes), bytes / 4, lr, beta1, beta2, eps,
                    decay.decayed(i) ? weightDecay : 0f, gradScale, step, pool);
        }
    }

    /** Frees every tensor (using one afterwards fails) and the backend's own threads; a second call does nothing. */
    @Override
    public Collective joinCollective(int rank, int size, Rendezvous rendezvous) {
        return TcpCollective.join(rank, size, rendezvous);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            pool.close();
            arenas.values().forEach(Arena::close);
            arenas.clear();
        }
    }
}
