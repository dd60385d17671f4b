package org.sparkmoe.model.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.sparkmoe.model.backend.Backend;
import org.sparkmoe.model.backend.DType;
import org.sparkmoe.model.backend.DecayRanges;
import org.sparkmoe.model.backend.ExpertSlots;
import org.sparkmoe.model.backend.HeldOperands;
import org.sparkmoe.model.backend.HeldRanges;
import org.sparkmoe.model.backend.MemoryInfo;
import org.sparkmoe.model.backend.SlabOffsets;
import org.sparkmoe.model.backend.Tensor;
import org.sparkmoe.model.backend.Workload;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The CUDA backend: every tensor lives in device memory (weights, gradients, optimiser state, activations); only
 * the calls that the {@link Backend} contract makes host-facing cross the bus (uploads, downloads, the per-expert
 * counts of {@link #expertCounts}). GEMMs go to cuBLAS ({@link GemmPrecision#BF16}: activations rounded to bf16 on
 * the fly, parameters read from the bf16 {@link WeightImage} of their arena that AdamW writes, fp32 accumulation and
 * outputs, fp32 master weights), the experts' grouped GEMMs to cuBLAS or our own kernels ({@link GroupedGemmPath});
 * every other op is one of our NVRTC-compiled kernels ({@link KernelSources}). All work is queued on the device's one
 * stream, in call order.
 *
 * <p>Legend as in {@link Backend}: R rows, D width, H heads, Dh head dim, T sequence, B batch, E experts, K
 * experts per token, S slots, V vocabulary.
 */
public final class CudaBackend implements Backend {

    private static final System.Logger LOG = System.getLogger(CudaBackend.class.getName());
    private static final int THREADS = 256;
    /**
     * The balance losses run a block per sequence (8 for val2b's batch): 1,024 threads, so each expert's probability
     * sum over the sequence is split into 16 chunks at 63 experts.
     */
    private static final int BALANCE_THREADS = 1024;
    /** The device sort by expert keeps per-expert counters of 9 warps' worth in shared memory (36 KiB at 1,024). */
    private static final int MAX_ROUTED_EXPERTS = 1024;
    /** Chunks of the device sort by expert: enough blocks to fill the GPU, few enough for the one-block scan. */
    private static final int ROUTE_BLOCKS = 256;
    /** Heap (Java array) transfers go through an off-heap staging buffer of this many floats (64 MiB) at a time. */
    private static final long STAGING_FLOATS = 16L << 20;

    private final CudaDevice device;
    private final GemmPrecision precision;
    private final Scratch scratch;
    private final GroupedGemm grouped;
    private final GroupedGemmPath groupedPath;
    /** Null unless the grouped GEMM path is OWN (made first: it refuses fp32 precision and GPUs below sm_80). */
    private final DeviceGroupedGemm deviceGrouped;
    private final AttentionPath attentionPath;
    private final GemmAttention gemmAttention;
    /** Null unless the attention path is FLASH (made first: it refuses a GPU without bf16 tensor cores). */
    private final FlashAttention flashAttention;
    private final int maxBlocks;
    private final boolean ownsDevice;
    private final boolean keepWeightImages;
    /** With our own grouped GEMMs: whether the engine routes on the device ({@link #routeExperts}). */
    private final boolean deviceRouting;
    private final List<DeviceBuffer> allocations = new ArrayList<>();
    private final Map<WeightImage, DeviceBuffer> weightImages = new HashMap<>();
    private final PinnedUploads uploads;
    private final ArrivalCounters arrivals;
    private long allocated;
    private boolean closed;

    /** A backend on an already opened device, which stays open when the backend closes; grouped GEMMs AUTO. */
    public CudaBackend(CudaDevice device, GemmPrecision precision, AttentionPath attentionPath) {
        this(device, precision, attentionPath, GroupedGemmPath.AUTO);
    }

    /** A backend on an already opened device, which stays open when the backend closes. */
    public CudaBackend(CudaDevice device, GemmPrecision precision, AttentionPath attentionPath,
                       GroupedGemmPath groupedPath) {
        this(device, precision, attentionPath, groupedPath, false, true, true);
    }

    private CudaBackend(CudaDevice device, GemmPrecision precision, AttentionPath attentionPath,
                        GroupedGemmPath groupedPath, boolean ownsDevice, boolean keepWeightImages,
                        boolean deviceRouting) {
        this(device, precision, attentionPath, groupedPath, ownsDevice, keepWeightImages, deviceRouting,
                GroupedGemmKernels.forDevice(device.info()), FlashKernels.forDevice(device.info()));
    }

    private CudaBackend(CudaDevice device, GemmPrecision precision, AttentionPath attentionPath,
                        GroupedGemmPath groupedPath, boolean ownsDevice, boolean keepWeightImages,
                        boolean deviceRouting, GroupedGemmKernels groupedKernels, FlashKernels flashKernels) {
        this.device = device;
        this.deviceRouting = deviceRouting;
        this.ownsDevice = ownsDevice;
        this.keepWeightImages = keepWeightImages && precision == GemmPrecision.BF16;
        this.precision = precision;
        this.attentionPath = attentionPath;
        this.scratch = new Scratch(device);
        this.flashAttention = attentionPath == AttentionPath.FLASH || autoFlash(attentionPath, precision, device)
                ? new FlashAttention(device, scratch, flashKernels) : null;
        this.groupedPath = groupedPath;
        this.deviceGrouped = groupedPath == GroupedGemmPath.OWN || autoOwn(groupedPath, precision, device)
                ? new DeviceGroupedGemm(device, scratch, precision, groupedKernels) : null;
        this.uploads = new PinnedUploads(device);
        this.arrivals = new ArrivalCounters(device);
        this.grouped = new GroupedGemm(device, scratch, uploads);
        this.gemmAttention = new GemmAttention(device, scratch, precision);
        this.maxBlocks = device.info().multiprocessors() * 8;
        LOG.log(System.Logger.Level.INFO, "Using backend: {0}", describe());
    }

    /** Opens the selected device for this backend alone; closing the backend closes the device. */
    public static CudaBackend open(DeviceSelection selection, GemmPrecision precision, AttentionPath attentionPath,
                                   GroupedGemmPath groupedPath) {
        CudaDevice device = CudaDevice.open(selection);
        try {
            return new CudaBackend(device, precision, attentionPath, groupedPath, true, true, true);
        } catch (RuntimeException e) {
            device.close();
            throw e;
        }
    }

    /**
     * For tests and diagnostics only: a backend that keeps no bf16 {@link WeightImage}s and rounds parameters to bf16
     * at every GEMM, as activations are; at bf16 precision its results are bit for bit those of the usual backend.
     */
    static CudaBackend castingWeightsAtEachUse(CudaDevice device, GemmPrecision precision,
                                               AttentionPath attentionPath) {
        return new CudaBackend(device, precision, attentionPath, GroupedGemmPath.AUTO, false, false, true);
    }

    /**
     * For tests and diagnostics only: our own grouped GEMMs fed from host counts ({@link #expertCounts}, one wait per
     * MoE layer) instead of the device sort by expert; its results equal the usual OWN backend's bit for bit.
     */
    static CudaBackend routingOnHost(CudaDevice device, AttentionPath attentionPath) {
        return new CudaBackend(device, GemmPrecision.BF16, attentionPath, GroupedGemmPath.OWN, false, true, false);
    }

    /**
     * For tests and diagnostics only: our own grouped GEMMs on the given kernel family (mma.sync on a Hopper GPU, to
     * check one family against the other), bf16 precision, GEMM attention.
     */
    static CudaBackend withGroupedKernels(CudaDevice device, GroupedGemmKernels kernels) {
        return new CudaBackend(device, GemmPrecision.BF16, AttentionPath.GEMM, GroupedGemmPath.OWN, false, true, true,
                kernels, FlashKernels.forDevice(device.info()));
    }

    /**
     * For tests and benchmarks: FLASH attention on the given kernel family (bf16, grouped GEMMs AUTO), so both
     * families run on one GPU; wgmma needs an sm_90a device.
     */
    public static CudaBackend withFlashKernels(CudaDevice device, FlashKernels kernels) {
        return new CudaBackend(device, GemmPrecision.BF16, AttentionPath.FLASH, GroupedGemmPath.AUTO, false, true, true,
                GroupedGemmKernels.forDevice(device.info()), kernels);
    }

    @Override
    public String describe() {
        CudaDevice.DeviceInfo info = device.info();
        return "cuda (device " + info.ordinal() + " " + info.name() + ", " + info.architecture() + ", GEMM: cuBLAS "
                + device.cublas().version() + " " + precision + " operands with fp32 accumulation"
                + (keepWeightImages ? " (weights from bf16 images AdamW writes)" : "") + ", grouped: "
                + describeGrouped() + ", attention: " + describeAttention()
                + ", kernels: NVRTC " + KernelSources.FILES.size() + " files)";
    }

    private String describeGrouped() {
        String path = deviceGrouped != null ? deviceGrouped.path() : grouped.path();
        if (groupedPath != GroupedGemmPath.AUTO) {
            return path;
        }
        return "AUTO: " + path + (deviceGrouped != null ? "" : " (" + (precision != GemmPrecision.BF16
                ? precision + " GEMM precision" : device.info().architecture() + " has no bf16 mma.sync")
                + "; our kernels need bf16 and sm_80+)");
    }

    /** Whether AUTO grouped GEMMs take our own kernels on this device at this precision. */
    private static boolean autoOwn(GroupedGemmPath path, GemmPrecision precision, CudaDevice device) {
        return path == GroupedGemmPath.AUTO && precision == GemmPrecision.BF16 && device.info().computeMajor() >= 8;
    }

    private String describeAttention() {
        return switch (attentionPath) {
            case FLASH -> "FLASH (" + describeFlash() + ")";
            case AUTO -> flashAttention != null
                    ? "AUTO: FLASH (" + describeFlash() + ") at head dims " + flashAttention.servedHeadDims()
                            + ", GEMM at others"
                    : "AUTO: GEMM (" + (precision != GemmPrecision.BF16 ? precision + " GEMM precision"
                            : device.info().architecture() + " has no bf16 mma.sync") + "; FLASH needs bf16 and sm_80+)";
            default -> attentionPath.toString();
        };
    }

    private String describeFlash() {
        return "bf16 tensor cores, " + flashAttention.kernels().instructions();
    }

    /** Whether AUTO attention takes FLASH on this device at this precision (for the head dims FLASH serves). */
    private static boolean autoFlash(AttentionPath path, GemmPrecision precision, CudaDevice device) {
        return path == AttentionPath.AUTO && precision == GemmPrecision.BF16 && device.info().computeMajor() >= 8;
    }

    /** The path attention at {@code headDim} takes: AUTO resolved, any other path as asked. */
    private AttentionPath attentionPath(int headDim) {
        if (attentionPath != AttentionPath.AUTO) {
            return attentionPath;
        }
        return flashAttention != null && flashAttention.serves(headDim) ? AttentionPath.FLASH : AttentionPath.GEMM;
    }

    public CudaDevice device() {
        return device;
    }

    // ---------------------------------------------------------------- memory and host transfers

    @Override
    public Tensor allocate(String name, DType dtype, long elements) {
        DeviceBuffer buffer = new DeviceBuffer(device, 4 * elements);
        allocations.add(buffer);
        allocated += buffer.bytes();
        buffer.fill32(0);
        return new CudaTensor(name, dtype, buffer, 0, elements, null);
    }

    /**
     * At bf16 GEMM precision a bf16 tensor, 2 bytes per value, that only the producers of a {@link #produceOperands}
     * scope write and only GEMMs read (any other op refuses it); at fp32 precision an fp32 tensor.
     */
    @Override
    public Tensor allocateOperand(String name, long elements) {
        if (precision != GemmPrecision.BF16) {
            return allocate(name, DType.F32, elements);
        }
        DeviceBuffer buffer = new DeviceBuffer(device, 2 * elements);
        allocations.add(buffer);
        allocated += buffer.bytes();
        return new CudaTensor(name, DType.F32, buffer, 0, elements, null, true);
    }

    /** At bf16 GEMM precision the arena carries a bf16 {@link WeightImage} (2 bytes per element, in the workspace). */
    @Override
    public Tensor allocateParameters(String name, long elements) {
        CudaTensor arena = CudaTensor.of(allocate(name, DType.F32, elements));
        if (!keepWeightImages) {
            return arena;
        }
        DeviceBuffer bf16 = new DeviceBuffer(device, 2 * elements);
        WeightImage image = new WeightImage(bf16.pointer(), elements);
        weightImages.put(image, bf16);
        return new CudaTensor(name, DType.F32, arena.buffer(), 0, elements, image);
    }

    @Override
    public void free(Tensor t) {
        CudaTensor c = CudaTensor.of(t);
        if (c.offset() != 0 || c.size() * c.elementBytes() != c.buffer().bytes() || !allocations.remove(c.buffer())) {
            throw new IllegalArgumentException("tensor " + t.name() + " is a view or not an allocation of this backend:"
                    + " only a whole allocated tensor can be freed");
        }
        allocated -= c.buffer().bytes();
        c.buffer().close();
        if (c.image() != null) {
            weightImages.remove(c.image()).close();
        }
    }

    @Override
    public Tensor view(Tensor base, String name, long offset, long elements) {
        CudaTensor b = CudaTensor.of(base);
        if (offset < 0 || elements < 0 || offset + elements > b.size()) {
            throw new IllegalArgumentException("view [" + offset + ", " + (offset + elements) + ") named " + name
                    + " is outside tensor " + b.name() + " of " + b.size() + " elements");
        }
        return b.view(name, offset, elements);
    }

    @Override
    public MemoryInfo memory() {
        long[] info = device.driver().memoryInfo();
        return new MemoryInfo(info[0], info[1], "cuMemGetInfo on device " + device.info().ordinal());
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    /**
     * Bytes of the backend's own device memory now: its scratch buffers (bf16 operand copies, attention scores,
     * partials) and bf16 weight images, what {@link #workspaceBytes} bounds.
     */
    public long workspaceBytesInUse() {
        return scratch.bytes() + 2 * weightImages.keySet().stream().mapToLong(WeightImage::elements).sum();
    }

    /**
     * The device memory the ops of {@code w} grow to, at most: with bf16 operands the parameter arena's bf16 image
     * ({@link WeightImage}, 2 bytes per parameter) and a bf16 copy of each GEMM's activation operands (the largest:
     * the head's [R, V] logits gradient; without images also a weight, the [V, D] head), the grouped GEMMs' operand
     * copies, bf16 output mirror (one per partial where training splits small weight gradients along the rows) and
     * pointer table (our grouped kernels instead: the offsets and the weight gradients' fp32 partials), attention's
     * per-sequence H·T² scores (fp32, and bf16 P/dS) plus bf16 copies of q, k, v, dOut (the FLASH path: the bf16
     * copies only); the pinned upload ring is host memory and not counted.
     */
    @Override
    public long workspaceBytes(Workload w) {
        long r = w.rows();
        long widest = Math.max(Math.max(w.dim(), w.widestFfn()), w.vocab());
        long images = keepWeightImages ? 2 * w.parameters() : 0;
        long gemm = precision == GemmPrecision.BF16
                ? 2 * (r * widest + (keepWeightImages ? r * widest : (long) w.vocab() * w.dim())) : 0;
        long slots = r * w.k();
        long expertWeights = (long) w.experts() * w.expertWidth() * w.dim();
        long slabWidth = Math.max(w.dim(), w.expertWidth());
        long partials = w.training() ? SplitK.maxPartials((long) w.expertWidth() * w.dim()) : 1;
        long weightCopy = keepWeightImages ? 0 : expertWeights;
        long groupedOutputs = deviceGrouped != null
                ? DeviceGroupedGemm.scratchBytes(w.experts(), w.expertWidth(), w.dim(), slots, w.training(),
                        device.info().multiprocessors())
                : 2 * Math.max(slots * slabWidth + 8, partials * (expertWeights + 8)) + 24L * w.experts() * partials;
        long grouped = w.experts() == 0 ? 0 : (precision == GemmPrecision.BF16
                ? 2 * (slots * slabWidth + Math.max(weightCopy, slots * slabWidth)) : 0) + groupedOutputs;
        // Operands held across products (holdOperands): one slab at a time (the MoE's xs or dYs under expert
        // parallelism; without it they, h, dG and dU are produced in their own memory: produceOperands) or four
        // row-wide activations (attention's x, dq, dk, dv).
        long held = precision == GemmPrecision.BF16
                ? 2 * Math.max(slots * slabWidth, 4 * r * Math.max(w.dim(), w.widestFfn())) : 0;
        long square = (long) w.heads() * w.seqLen() * w.seqLen();
        long attention = switch (attentionPath(w.dim() / w.heads())) {
            case GEMM -> (w.training() ? 8 : 4) * square + (precision == GemmPrecision.BF16
                    ? (w.training() ? 4 : 2) * square + (w.training() ? 4 : 3) * 2L * r * w.dim() : 0);
            case FLASH -> FlashAttention.scratchBytes(r, w.dim(), w.training());
            case FUSED, AUTO -> 0;
        };
        long small = 4L * w.batch() * w.heads() * w.seqLen() + 4L * RMSNORM_MAX_CHUNKS * w.dim() + 8L * 1024
                + 4L * r * 4 + 4L * w.batch() * (w.experts() + 2) + r;
        return images + gemm + grouped + held + attention + small;
    }

    @Override
    public void upload(MemorySegment src, long srcOffset, Tensor dst, long dstOffset, long n) {
        CudaTensor t = checkRange(dst, dstOffset, n).written();
        if (src.isNative()) {
            device.driver().copyHostToDevice(t.pointer(dstOffset), src.asSlice(4 * srcOffset, 4 * n), 4 * n);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_FLOAT, Math.max(1, Math.min(n, STAGING_FLOATS)));
            for (long done = 0; done < n; done += STAGING_FLOATS) {
                long part = Math.min(STAGING_FLOATS, n - done);
                MemorySegment.copy(src, 4 * (srcOffset + done), host, 0, 4 * part);
                device.driver().copyHostToDevice(t.pointer(dstOffset + done), host, 4 * part);
            }
        }
    }

    @Override
    public void download(Tensor src, long srcOffset, MemorySegment dst, long dstOffset, long n) {
        CudaTensor t = checkRange(src, srcOffset, n);
        device.synchronize();
        if (dst.isNative()) {
            device.driver().copyDeviceToHost(dst.asSlice(4 * dstOffset, 4 * n), t.pointer(srcOffset), 4 * n);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_FLOAT, Math.max(1, Math.min(n, STAGING_FLOATS)));
            for (long done = 0; done < n; done += STAGING_FLOATS) {
                long part = Math.min(STAGING_FLOATS, n - done);
                device.driver().copyDeviceToHost(host, t.pointer(srcOffset + done), 4 * part);
                MemorySegment.copy(host, 0, dst, 4 * (dstOffset + done), 4 * part);
            }
        }
    }

    @Override
    public void uploadInts(int[] src, int srcOffset, Tensor dst, long dstOffset, int n) {
        CudaTensor t = checkRange(dst, dstOffset, n).written();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_INT, Math.max(1, n));
            MemorySegment.copy(src, srcOffset, host, JAVA_INT, 0, n);
            device.driver().copyHostToDevice(t.pointer(dstOffset), host, 4L * n);
        }
    }

    @Override
    public void downloadInts(Tensor src, long srcOffset, int[] dst, int dstOffset, int n) {
        CudaTensor t = checkRange(src, srcOffset, n);
        device.synchronize();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(JAVA_INT, Math.max(1, n));
            device.driver().copyDeviceToHost(host, t.pointer(srcOffset), 4L * n);
            MemorySegment.copy(host, JAVA_INT, 0, dst, dstOffset, n);
        }
    }

    private static CudaTensor checkRange(Tensor tensor, long offset, long n) {
        CudaTensor t = CudaTensor.of(tensor);
        if (offset < 0 || n < 0 || offset + n > t.size()) {
            throw new IllegalArgumentException("range [" + offset + ", " + (offset + n) + ") is outside tensor "
                    + t.name() + " of " + t.size() + " elements");
        }
        return t;
    }

    @Override
    public void fill(Tensor t, float value) {
        CudaTensor c = CudaTensor.of(t).written();
        launchFlat("fill_f32", c.size(), c.pointer(), value, c.size());
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        CudaTensor s = CudaTensor.of(src);
        CudaTensor d = CudaTensor.of(dst).written();
        requireSameSize(s, d);
        launchFlat("copy_f32", s.size(), s.pointer(), d.pointer(), s.size());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        CudaTensor x = CudaTensor.of(a);
        CudaTensor y = CudaTensor.of(b);
        CudaTensor o = CudaTensor.of(out).written();
        requireSameSize(x, y);
        requireSameSize(x, o);
        launchFlat("add_f32", x.size(), x.pointer(), y.pointer(), o.pointer(), x.size());
    }

    @Override
    public void scale(Tensor t, float s) {
        CudaTensor c = CudaTensor.of(t).written();
        launchFlat("scale_f32", c.size(), c.pointer(), s, c.size());
    }

    private static void requireSameSize(CudaTensor a, CudaTensor b) {
        if (a.size() != b.size()) {
            throw new IllegalArgumentException("tensors " + a.name() + " (" + a.size() + ") and " + b.name() + " ("
                    + b.size() + ") differ in size");
        }
    }

    // ---------------------------------------------------------------- GEMM

    @Override
    public void matmulNN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        gemm(false, false, m, n, k, a, k, b, n, c, accumulate);
    }

    @Override
    public void matmulNT(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        gemm(false, true, m, n, k, a, k, b, k, c, accumulate);
    }

    @Override
    public void matmulTN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate) {
        gemm(true, false, m, n, k, a, m, b, n, c, accumulate);
    }

    private void gemm(boolean transA, boolean transB, int m, int n, int k, Tensor a, int lda, Tensor b, int ldb,
            Tensor c, boolean accumulate) {
        refuseHeldOutput(c);
        long aPointer = operand("gemm-a", CudaTensor.of(a), (long) m * k);
        long bPointer = operand("gemm-b", CudaTensor.of(b), (long) k * n);
        device.cublas().gemm(operandType(), ElementType.F32, transA, transB, m, n, k, 1f, aPointer, lda, bPointer, ldb,
                accumulate ? 1f : 0f, CudaTensor.of(c).pointer(), n);
    }

    /** The alignment (bytes) that cuBLAS's kernel choice looks at, and that every scratch operand copy has. */
    private static final long IMAGE_OPERAND_ALIGNMENT = 256;

    private ElementType operandType() {
        return precision == GemmPrecision.BF16 ? ElementType.BF16 : ElementType.F32;
    }

    /**
     * An fp32 activation held unwritten ({@link #holdOperands}) and its bf16 copy, made at its first product; or one
     * produced for GEMMs ({@link #produceOperands}, no scratch name), whose producer writes the bf16 values into the
     * tensor's own memory.
     */
    private static final class HeldCopy {
        final long pointer;
        final String scratchName;
        long copied;
        long copy;

        HeldCopy(long pointer, String scratchName) {
            this.pointer = pointer;
            this.scratchName = scratchName;
        }

        static HeldCopy produced(long pointer) {
            HeldCopy h = new HeldCopy(pointer, null);
            h.copy = pointer;
            return h;
        }

        boolean produced() {
            return scratchName == null;
        }
    }

    private final HeldRanges heldRanges = new HeldRanges();
    private final List<HeldCopy> heldCopies = new ArrayList<>();

    /**
     * At bf16 precision the held activations are cast once, at their first product, into scratch buffers of their own
     * ("held-operand-N"), and every later product inside the scope reads that copy: the same bits as a cast per
     * product. Parameters are not copied: they already read their {@link WeightImage}.
     */
    @Override
    public HeldOperands holdOperands(Tensor... tensors) {
        List<HeldRanges.Range> ranges = new ArrayList<>();
        List<HeldCopy> added = new ArrayList<>();
        for (Tensor t : tensors) {
            CudaTensor c = CudaTensor.of(t);
            ranges.add(range(c));
            if (precision == GemmPrecision.BF16 && c.image() == null && heldCopy(c) == null) {
                HeldCopy h = new HeldCopy(c.pointer(), "held-operand-" + freeHeldSlot());
                heldCopies.add(h);
                added.add(h);
            }
        }
        return heldScope(ranges, added);
    }

    /**
     * At bf16 precision the producers write the tensors' bf16 values into the first half of their own memory, where
     * the products inside the scope read them: the bits of a cast of the fp32 values, without writing those or
     * casting them.
     */
    @Override
    public HeldOperands produceOperands(Tensor... tensors) {
        List<HeldRanges.Range> ranges = new ArrayList<>();
        List<HeldCopy> added = new ArrayList<>();
        for (Tensor t : tensors) {
            CudaTensor c = CudaTensor.of(t);
            if (c.image() != null || heldCopy(c) != null) {
                throw new IllegalArgumentException(t.name() + " cannot be produced for GEMMs: it is "
                        + (c.image() != null ? "a parameter" : "already held") + "; produce only activations"
                        + " that nothing holds");
            }
            ranges.add(range(c));
            if (precision == GemmPrecision.BF16) {
                HeldCopy h = HeldCopy.produced(c.address());
                heldCopies.add(h);
                added.add(h);
            }
        }
        return heldScope(ranges, added);
    }

    /** A scope holding {@code ranges} whose closing also forgets the copies it {@code added}. */
    private HeldOperands heldScope(List<HeldRanges.Range> ranges, List<HeldCopy> added) {
        HeldOperands scope = heldRanges.hold(ranges);
        return () -> {
            heldCopies.removeAll(added);
            scope.close();
        };
    }

    /**
     * Where a producer writing {@code elements} of {@code out} writes bf16 values: the tensor's own address when it is
     * produced for GEMMs in an open scope ({@link #produceOperands}); 0 when it writes fp32.
     */
    private long producedAt(Tensor out, long elements) {
        HeldCopy h = precision == GemmPrecision.BF16 ? heldCopy(CudaTensor.of(out)) : null;
        if (h == null || !h.produced()) {
            return 0;
        }
        h.copied = elements;
        return h.copy;
    }

    /** The lowest N no held operand's scratch buffer is named with now. */
    private int freeHeldSlot() {
        int slot = 0;
        while (true) {
            String name = "held-operand-" + slot;
            if (heldCopies.stream().noneMatch(h -> name.equals(h.scratchName))) {
                return slot;
            }
            slot++;
        }
    }

    private HeldCopy heldCopy(CudaTensor t) {
        for (HeldCopy h : heldCopies) {
            if (h.pointer == t.address()) {
                return h;
            }
        }
        return null;
    }

    private void refuseHeldOutput(Tensor c) {
        heldRanges.refuseOutput(range(CudaTensor.of(c)));
    }

    private static HeldRanges.Range range(CudaTensor t) {
        return new HeldRanges.Range(t.name(), t.address(), t.address() + (long) t.elementBytes() * t.size());
    }

    /**
     * The address cuBLAS reads this operand from: the tensor itself (fp32); for a parameter, its place in the arena's
     * bf16 {@link WeightImage}, cast first where the image is stale; for a held activation its copy; else a bf16 copy
     * of its first elements.
     */
    private long operand(String scratchName, CudaTensor t, long elements) {
        if (precision == GemmPrecision.FP32) {
            return t.pointer();
        }
        WeightImage image = t.image();
        // cuBLAS picks kernels by the operands' alignment, up to 256 bytes: a weight whose place in the image is less
        // aligned than the scratch copy below (an arena offset that is not a multiple of 128) could get other kernels,
        // and other bits, so it is cast at each use like an activation.
        if (image != null && image.address(t) % IMAGE_OPERAND_ALIGNMENT == 0) {
            if (!image.current()) {
                launchFlat("cast_f32_bf16", image.elements(), t.buffer().pointer(), image.address(), image.elements());
                image.refreshed();
            }
            return image.address(t);
        }
        HeldCopy h = image == null ? heldCopy(t) : null;
        if (h == null && t.bf16Operand()) {
            throw new IllegalStateException("a GEMM reads " + t.name() + ", which holds bf16 GEMM operands only"
                    + " (allocateOperand), outside a produceOperands scope that wrote it");
        }
        if (h != null) {
            if (h.copied < elements && h.produced()) {
                throw new IllegalStateException("a GEMM reads " + elements + " elements of " + t.name() + ", produced"
                        + " for GEMMs (produceOperands) with " + h.copied + " written: write it inside the scope with"
                        + " dispatchRows, swigluForward, swigluBackward or combineBackward before its products");
            }
            if (h.copied < elements) {
                h.copy = scratch.bf16Copy(h.scratchName, t.pointer(), elements);
                h.copied = elements;
            }
            return h.copy;
        }
        return scratch.bf16Copy(scratchName, t.pointer(), elements);
    }

    private long elementBytes() {
        return operandType().bytes;
    }

    @Override
    public void groupedMatmulNT(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        refuseHeldOutput(c);
        if (deviceGrouped != null) {
            ownNT(deviceGrouped.upload(groupRows, uploads), n, k, a, w, c, accumulate);
            return;
        }
        long totalRows = sum(groupRows);
        long aBase = operand("grouped-a", CudaTensor.of(a), totalRows * k);
        long wBase = operand("grouped-b", CudaTensor.of(w), (long) groupRows.length * n * k);
        grouped.run(operandType(), false, true, expertSlabs(groupRows, n, k, aBase, wBase, CudaTensor.of(c)), k, k, n,
                accumulate ? 1f : 0f, ptr(c), totalRows * n);
    }

    @Override
    public void groupedMatmulNN(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        refuseHeldOutput(c);
        if (deviceGrouped != null) {
            ownNN(deviceGrouped.upload(groupRows, uploads), n, k, a, w, c, accumulate);
            return;
        }
        long totalRows = sum(groupRows);
        long aBase = operand("grouped-a", CudaTensor.of(a), totalRows * n);
        long wBase = operand("grouped-b", CudaTensor.of(w), (long) groupRows.length * n * k);
        grouped.run(operandType(), false, false, expertSlabs(groupRows, k, n, aBase, wBase, CudaTensor.of(c)), n, k, k,
                accumulate ? 1f : 0f, ptr(c), totalRows * k);
    }

    @Override
    public void groupedMatmulTN(int[] groupRows, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate) {
        refuseHeldOutput(dw);
        if (deviceGrouped != null) {
            ownTN(deviceGrouped.upload(groupRows, uploads), n, k, a, b, dw, accumulate);
            return;
        }
        long totalRows = sum(groupRows);
        long aBase = operand("grouped-a", CudaTensor.of(a), totalRows * n);
        long bBase = operand("grouped-b", CudaTensor.of(b), totalRows * k);
        CudaTensor out = CudaTensor.of(dw);
        List<GroupedGemm.Problem> problems = new ArrayList<>();
        long row = 0;
        for (int g = 0; g < groupRows.length; g++) {
            long dwGroup = (long) g * n * k;
            if (groupRows[g] > 0) {
                problems.add(new GroupedGemm.Problem(n, k, groupRows[g], aBase + row * n * elementBytes(),
                        bBase + row * k * elementBytes(), out.pointer(dwGroup)));
            } else if (!accumulate) {
                launchFlat("fill_f32", (long) n * k, out.pointer(dwGroup), 0f, (long) n * k);
            }
            row += groupRows[g];
        }
        grouped.runWeightGradients(operandType(), problems, n, k, k, accumulate ? 1f : 0f, out.pointer(),
                (long) groupRows.length * n * k);
    }

    /**
     * One GEMM problem per non-empty expert for the forward-shaped products: expert g's rows form a contiguous slab of
     * A [rows, inner] and of C [rows, outCols], and its weight is the g-th [outCols, inner] matrix of W.
     */
    private List<GroupedGemm.Problem> expertSlabs(int[] groupRows, int outCols, int inner, long aBase, long wBase,
                                                  CudaTensor out) {
        List<GroupedGemm.Problem> problems = new ArrayList<>();
        long row = 0;
        for (int g = 0; g < groupRows.length; g++) {
            if (groupRows[g] > 0) {
                problems.add(new GroupedGemm.Problem(groupRows[g], outCols, inner, aBase + row * inner * elementBytes(),
                        wBase + (long) g * outCols * inner * elementBytes(), out.pointer(row * outCols)));
            }
            row += groupRows[g];
        }
        return problems;
    }

    @Override
    public void groupedMatmulNT(SlabOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        ownNT(deviceOffsets(groups), n, k, a, w, c, accumulate);
    }

    @Override
    public void groupedMatmulNN(SlabOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate) {
        ownNN(deviceOffsets(groups), n, k, a, w, c, accumulate);
    }

    @Override
    public void groupedMatmulTN(SlabOffsets groups, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate) {
        ownTN(deviceOffsets(groups), n, k, a, b, dw, accumulate);
    }

    /** Offsets in backend memory feed only our own kernels: cuBLAS's grouped call takes its problems from the host. */
    private DeviceGroupedGemm.GroupOffsets deviceOffsets(SlabOffsets groups) {
        if (deviceGrouped == null) {
            throw new IllegalStateException("grouped GEMMs over offsets in device memory run on our own kernels only;"
                    + " this backend uses cuBLAS (cuda-grouped-gemm=cublas): route with expertCounts, or open it with"
                    + " cuda-grouped-gemm=own");
        }
        if (groups.rows() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the groups' " + groups.rows() + " rows exceed the 2^31 - 1 slab rows"
                    + " the grouped GEMM kernels index");
        }
        return new DeviceGroupedGemm.GroupOffsets(checkRange(groups.offsets_G1(), 0, groups.groups() + 1L).pointer(),
                groups.groups(), groups.rows());
    }

    private void ownNT(DeviceGroupedGemm.GroupOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c,
                       boolean accumulate) {
        refuseHeldOutput(c);
        long aBase = operand("grouped-a", CudaTensor.of(a), groups.rowBound() * k);
        long wBase = operand("grouped-b", CudaTensor.of(w), (long) groups.experts() * n * k);
        deviceGrouped.nt(groups, n, k, aBase, wBase, ptr(c), 1f, accumulate ? 1f : 0f);
    }

    private void ownNN(DeviceGroupedGemm.GroupOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c,
                       boolean accumulate) {
        refuseHeldOutput(c);
        long aBase = operand("grouped-a", CudaTensor.of(a), groups.rowBound() * n);
        long wBase = operand("grouped-b", CudaTensor.of(w), (long) groups.experts() * n * k);
        deviceGrouped.nn(groups, n, k, aBase, wBase, ptr(c), 1f, accumulate ? 1f : 0f);
    }

    private void ownTN(DeviceGroupedGemm.GroupOffsets groups, int n, int k, Tensor a, Tensor b, Tensor dw,
                       boolean accumulate) {
        refuseHeldOutput(dw);
        long aBase = operand("grouped-a", CudaTensor.of(a), groups.rowBound() * n);
        long bBase = operand("grouped-b", CudaTensor.of(b), groups.rowBound() * k);
        deviceGrouped.tn(groups, n, k, aBase, bBase, ptr(dw), 1f, accumulate ? 1f : 0f);
    }

    private static long sum(int[] values) {
        long s = 0;
        for (int v : values) {
            s += v;
        }
        return s;
    }

    // ---------------------------------------------------------------- embedding, norm, RoPE

    @Override
    public void embeddingForward(Tensor table, int[] tokens_R, Tensor out, int rows, int dim) {
        CudaTensor t = CudaTensor.of(table);
        long vocab = t.size() / dim;
        for (int r = 0; r < rows; r++) {
            if (tokens_R[r] < 0 || tokens_R[r] >= vocab) {
                throw new IllegalArgumentException("token id " + tokens_R[r] + " at row " + r
                        + " is outside the vocabulary of " + vocab);
            }
        }
        DeviceBuffer ids = scratch.get("embedding-ids", 4L * rows);
        uploads.upload(tokens_R, rows, ids.pointer());
        device.launch("embedding_fwd", Dim3.of(rows), Dim3.of(THREADS), 0, t.pointer(), ids.pointer(),
                CudaTensor.of(out).pointer(), rows, dim);
    }

    @Override
    public void embeddingBackward(Tensor dOut, int[] tokens_R, Tensor dTable, int rows, int dim) {
        TokenRows grouping = TokenRows.of(tokens_R, rows);
        DeviceBuffer plan = scratch.get("embedding-plan", 4L * grouping.packedLength());
        uploads.upload(grouping.packed(), grouping.packedLength(), plan.pointer());
        long rowsByToken = plan.pointer();
        long starts = rowsByToken + 4L * rows;
        long unique = starts + 4L * (grouping.uniqueCount() + 1);
        device.launch("embedding_bwd", Dim3.of(grouping.uniqueCount()), Dim3.of(THREADS), 0,
                CudaTensor.of(dOut).pointer(), rowsByToken, starts, unique, CudaTensor.of(dTable).pointer(), dim);
    }

    @Override
    public void rmsNormForward(Tensor x, Tensor w, Tensor y, Tensor rstd, int rows, int dim, float eps) {
        device.launch("rmsnorm_fwd", Dim3.of(rows), Dim3.of(THREADS), 0, ptr(x), ptr(w), ptr(y), ptr(rstd), rows, dim,
                eps);
    }

    @Override
    public void rmsNormResidualForward(Tensor x, Tensor branch, Tensor sum, Tensor w, Tensor y, Tensor rstd, int rows,
            int dim, float eps) {
        device.launch("rmsnorm_residual_fwd", Dim3.of(rows), Dim3.of(THREADS), 0, ptr(x), ptr(branch), ptr(sum), ptr(w),
                ptr(y), ptr(rstd), rows, dim, eps);
    }

    /** The most row chunks of the RMSNorm backward: each writes a partial of dw, which one more launch sums. */
    private static final int RMSNORM_MAX_CHUNKS = 512;

    /**
     * Two launches: dx and each chunk's dw partial in one pass over dy and x (a warp per row, each warp's dw terms in
     * a shared-memory row of its own: up to 8 warps in 48 KiB), then the partials summed in a fixed order.
     */
    @Override
    public void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw, int rows, int dim) {
        int chunks = Math.max(1, Math.min(RMSNORM_MAX_CHUNKS, rows / 32));
        int rowsPerChunk = (rows + chunks - 1) / chunks;
        int warps = Math.max(1, Math.min(8, 48 * 1024 / (4 * dim)));
        DeviceBuffer partial = scratch.get("rmsnorm-dw", 4L * chunks * dim);
        device.launch("rmsnorm_bwd", Dim3.of(chunks), Dim3.of(32 * warps), 4 * warps * dim, ptr(dy), ptr(x), ptr(w),
                ptr(rstd), ptr(dx), partial.pointer(), rows, dim, rowsPerChunk);
        device.launch("rmsnorm_bwd_dw_reduce", Dim3.of((dim + 31) / 32), Dim3.of(32 * 8), 0, partial.pointer(), ptr(dw),
                chunks, dim);  // 8 warps over 32 columns, as the kernel expects
    }

    /** The (cos, sin) tables of {@link #rope}, built once per positions, head dim and theta. */
    private record RopeShape(int seqLen, int headDim, float theta) {
    }

    private final Map<RopeShape, DeviceBuffer> ropeTables = new HashMap<>();

    /** Reads (cos, sin) from a table of the shape's positions that {@code rope_table} computes at first use. */
    @Override
    public void rope(Tensor x, int batch, int seqLen, int heads, int headDim, float theta, boolean inverse) {
        int half = headDim / 2;
        DeviceBuffer table = ropeTables.computeIfAbsent(new RopeShape(seqLen, headDim, theta), shape -> {
            DeviceBuffer t = new DeviceBuffer(device, 8L * seqLen * half);
            launchFlat("rope_table", (long) seqLen * half, t.pointer(), seqLen, headDim, theta);
            return t;
        });
        long perThread = half % 4 == 0 && ptr(x) % 16 == 0 ? 4 : 1;
        long threads = (long) batch * seqLen * heads * (half / perThread);
        device.launch("rope_inplace", Dim3.of(blocksFor(threads)), Dim3.of(THREADS), 0, ptr(x), table.pointer(), batch,
                seqLen, heads, headDim, inverse ? 1 : 0);
    }

    @Override
    public void ropeAt(Tensor x, Tensor positions, int rows, int heads, int headDim, float theta) {
        long pairs = (long) rows * heads * (headDim / 2);
        device.launch("rope_positions", Dim3.of(blocksFor(pairs)), Dim3.of(THREADS), 0, ptr(x), ptr(positions), rows,
                heads, headDim, theta);
    }

    // ---------------------------------------------------------------- attention

    private static final int ATTENTION_WARPS_PER_BLOCK = 4;

    private static String attentionKernel(String stage, int headDim) {
        if (headDim != 32 && headDim != 64 && headDim != 128) {
            throw new UnsupportedOperationException("CUDA attention supports head dims 32, 64 and 128, not " + headDim
                    + "; use the CPU backend for this model");
        }
        return "attention_" + stage + "_hd" + headDim;
    }

    private Dim3 attentionGrid(int batch, int seqLen, int heads) {
        return new Dim3((seqLen + ATTENTION_WARPS_PER_BLOCK - 1) / ATTENTION_WARPS_PER_BLOCK, heads, batch);
    }

    @Override
    public void attentionForward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, int batch, int seqLen, int heads,
            int headDim) {
        AttentionPath path = attentionPath(headDim);
        if (path == AttentionPath.GEMM) {
            gemmAttention.forward(CudaTensor.of(q), CudaTensor.of(k), CudaTensor.of(v), CudaTensor.of(out),
                    CudaTensor.of(lse), batch, seqLen, heads, headDim);
            return;
        }
        if (path == AttentionPath.FLASH) {
            flashAttention.forward(CudaTensor.of(q), CudaTensor.of(k), CudaTensor.of(v), CudaTensor.of(out),
                    CudaTensor.of(lse), batch, seqLen, heads, headDim);
            return;
        }
        device.launch(attentionKernel("fwd", headDim), attentionGrid(batch, seqLen, heads),
                Dim3.of(32 * ATTENTION_WARPS_PER_BLOCK), 0, ptr(q), ptr(k), ptr(v), ptr(out), ptr(lse), batch, seqLen,
                heads);
    }

    @Override
    public void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq,
            Tensor dk, Tensor dv, int batch, int seqLen, int heads, int headDim) {
        AttentionPath path = attentionPath(headDim);
        if (path == AttentionPath.GEMM) {
            gemmAttention.backward(CudaTensor.of(dOut), CudaTensor.of(q), CudaTensor.of(k), CudaTensor.of(v),
                    CudaTensor.of(out), CudaTensor.of(lse), CudaTensor.of(dq), CudaTensor.of(dk), CudaTensor.of(dv), batch,
                    seqLen, heads, headDim);
            return;
        }
        if (path == AttentionPath.FLASH) {
            flashAttention.backward(CudaTensor.of(dOut), CudaTensor.of(q), CudaTensor.of(k), CudaTensor.of(v),
                    CudaTensor.of(out), CudaTensor.of(lse), CudaTensor.of(dq), CudaTensor.of(dk), CudaTensor.of(dv), batch,
                    seqLen, heads, headDim);
            return;
        }
        Dim3 grid = attentionGrid(batch, seqLen, heads);
        Dim3 block = Dim3.of(32 * ATTENTION_WARPS_PER_BLOCK);
        DeviceBuffer delta = scratch.get("attention-delta", 4L * batch * heads * seqLen);
        device.launch(attentionKernel("bwd_delta", headDim), grid, block, 0, ptr(dOut), ptr(out), delta.pointer(), batch,
                seqLen, heads);
        device.launch(attentionKernel("bwd_dq", headDim), grid, block, 0, ptr(dOut), ptr(q), ptr(k), ptr(v), ptr(lse),
                delta.pointer(), ptr(dq), batch, seqLen, heads);
        device.launch(attentionKernel("bwd_dkv", headDim), grid, block, 0, ptr(dOut), ptr(q), ptr(k), ptr(v), ptr(lse),
                delta.pointer(), ptr(dk), ptr(dv), batch, seqLen, heads);
    }

    /** Must equal CACHED_WARPS and 32 * CACHED_MAX_EPL in kv_cache.cu. */
    private static final int CACHED_ATTENTION_WARPS = 4;
    private static final int CACHED_ATTENTION_MAX_HEAD_DIM = 256;

    @Override
    public void cachedAttention(Tensor q, Tensor kCache, Tensor vCache, Tensor out, Tensor slots, Tensor positions,
            int rows, int heads, int headDim) {
        if (headDim > CACHED_ATTENTION_MAX_HEAD_DIM) {
            throw new UnsupportedOperationException("CUDA attention against a KV cache supports head dims up to "
                    + CACHED_ATTENTION_MAX_HEAD_DIM + ", not " + headDim + "; use the CPU backend for this model");
        }
        device.launch("attention_cached", Dim3.of(rows, heads), Dim3.of(32 * CACHED_ATTENTION_WARPS), 0, ptr(q),
                ptr(kCache), ptr(vCache), ptr(out), ptr(slots), ptr(positions), rows, heads, headDim);
    }

    // ---------------------------------------------------------------- FFN

    @Override
    public void swigluForward(Tensor gate, Tensor up, Tensor h, long n) {
        long produced = producedAt(h, n);
        launchFlat(produced != 0 ? "swiglu_fwd_bf16" : "swiglu_fwd", n, ptr(gate), ptr(up),
                produced != 0 ? produced : ptr(h), n);
    }

    @Override
    public void swigluBackward(Tensor dh, Tensor gate, Tensor up, Tensor h, Tensor dGate, Tensor dUp, long n) {
        long producedH = producedAt(h, n);
        long producedGate = producedAt(dGate, n);
        long producedUp = producedAt(dUp, n);
        boolean produced = producedH != 0;
        if (produced != (producedGate != 0) || produced != (producedUp != 0)) {
            throw new IllegalStateException("swigluBackward: produce all of " + h.name() + ", " + dGate.name() + " and "
                    + dUp.name() + " for GEMMs (produceOperands) or none");
        }
        launchFlat(produced ? "swiglu_bwd_bf16" : "swiglu_bwd", n, ptr(dh), ptr(gate), ptr(up),
                produced ? producedH : ptr(h), produced ? producedGate : ptr(dGate),
                produced ? producedUp : ptr(dUp), n);
    }

    // ---------------------------------------------------------------- MoE routing, dispatch, combine

    @Override
    public void softmaxRows(Tensor logits, Tensor probs, int rows, int cols) {
        device.launch("softmax_rows", Dim3.of(rows), Dim3.of(rowThreads(cols)), 0, ptr(logits), ptr(probs), rows, cols);
    }

    @Override
    public void softmaxRowsBackward(Tensor probs, Tensor dProbs, Tensor dLogits, int rows, int cols) {
        device.launch("softmax_rows_bwd", Dim3.of(rows), Dim3.of(rowThreads(cols)), 0, ptr(probs), ptr(dProbs),
                ptr(dLogits), rows, cols);
    }

    @Override
    public void topK(Tensor probs, Tensor idx, Tensor weight, int rows, int experts, int k, boolean normalize) {
        device.launch("topk_rows", Dim3.of((rows + 127) / 128), Dim3.of(128), 0, ptr(probs), ptr(idx), ptr(weight), rows,
                experts, k, normalize ? 1 : 0);
    }

    @Override
    public void topKBackward(Tensor probs, Tensor idx, Tensor weight, Tensor dWeight, Tensor dProbs, int rows,
            int experts, int k, boolean normalize) {
        device.launch("topk_rows_bwd", Dim3.of(rows), Dim3.of(rowThreads(experts)), 0, ptr(probs), ptr(idx), ptr(weight),
                ptr(dWeight), ptr(dProbs), rows, experts, k, normalize ? 1 : 0);
    }

    /** Rows (one warp each) per block of the fused router kernels. */
    private static final int ROUTER_WARPS = 8;

    /** One launch; the row's probabilities sit in its warp's shared memory for the top-K. */
    @Override
    public void routerForward(Tensor logits, Tensor probs, Tensor idx, Tensor weight, int rows, int experts, int k,
            boolean normalize, Tensor scalars, int entropySlot) {
        int blocks = (rows + ROUTER_WARPS - 1) / ROUTER_WARPS;
        DeviceBuffer entropy = scratch.get("router-entropy-blocks", 8L * blocks);
        device.launch("router_forward", Dim3.of(blocks), Dim3.of(32 * ROUTER_WARPS), 4 * ROUTER_WARPS * experts,
                ptr(logits), ptr(probs), ptr(idx), ptr(weight), entropy.pointer(), ptr(scalars), entropySlot,
                arrivals.of(ArrivalCounters.Kernel.ROUTER_FORWARD), rows, experts, k, normalize ? 1 : 0);
    }

    /**
     * Two launches: each sequence's balance losses and gradient coefficients (the last block also writes the losses'
     * means), then one warp per row for the top-K and softmax backwards with the coefficient added.
     */
    @Override
    public void routerBackward(Tensor probs, Tensor idx, Tensor weight, Tensor dWeight, Tensor dLogits, int batch,
            int seqLen, int experts, int k, boolean normalize, boolean seqAux, float alphaExpert, int deviceGroups,
            float alphaDevice, Tensor scalars, int slot) {
        if (deviceGroups > 0 && experts % deviceGroups != 0) {
            throw new IllegalArgumentException("deviceGroups=" + deviceGroups + " does not divide experts=" + experts);
        }
        int sequences = seqAux ? batch : 1;
        int tokens = seqAux ? seqLen : batch * seqLen;
        int rows = batch * seqLen;
        DeviceBuffer coefficients = scratch.get("router-coefficients", 4L * sequences * (experts + 2));
        long losses = coefficients.pointer() + 4L * sequences * experts;
        device.launch("balance_loss_coefficients", Dim3.of(sequences), Dim3.of(BALANCE_THREADS),
                balanceSharedBytes(experts), ptr(probs), ptr(idx), coefficients.pointer(), losses, ptr(scalars), slot,
                arrivals.of(ArrivalCounters.Kernel.BALANCE_COEFFICIENTS), sequences, tokens, experts, k, deviceGroups,
                alphaExpert, alphaDevice);
        device.launch("router_bwd_rows", Dim3.of((rows + ROUTER_WARPS - 1) / ROUTER_WARPS), Dim3.of(32 * ROUTER_WARPS),
                0, ptr(probs), ptr(idx), ptr(weight), ptr(dWeight), coefficients.pointer(), ptr(dLogits), rows, experts,
                k, tokens, normalize ? 1 : 0);
    }

    /** balance_loss.cu's shared memory: counts, f and P (E each), then the chunks' sums (at most max(E, threads)). */
    private static int balanceSharedBytes(int experts) {
        return 4 * (3 * experts + Math.max(experts, BALANCE_THREADS));
    }

    @Override
    public void hashRoute(Tensor tokens, Tensor idx, Tensor weight, int rows, int experts) {
        device.launch("hash_route", Dim3.of((rows + THREADS - 1) / THREADS), Dim3.of(THREADS), 0, ptr(tokens), ptr(idx),
                ptr(weight), rows, experts);
    }

    @Override
    public int[] expertCounts(Tensor idx, Tensor slot, int rows, int k, int experts) {
        int n = rows * k;
        int[] assignment = new int[n];
        downloadInts(idx, 0, assignment, 0, n);
        int[] slots = new int[n];
        int[] counts = ExpertSlots.sort(assignment, n, experts, slots);
        uploads.upload(slots, n, checkRange(slot, 0, n).pointer());
        return counts;
    }

    @Override
    public boolean routesOnDevice() {
        return deviceGrouped != null && deviceRouting;
    }

    @Override
    public void routeExperts(Tensor idx, Tensor slot, Tensor offsets, Tensor load, int rows, int k, int experts) {
        if (experts < 1 || experts > MAX_ROUTED_EXPERTS) {
            throw new IllegalArgumentException(experts + " experts: the device sort by expert takes 1 to "
                    + MAX_ROUTED_EXPERTS);
        }
        int n = Math.multiplyExact(rows, k);
        long tiles = (n + (long) THREADS - 1) / THREADS;
        int blocks = (int) Math.min(tiles, ROUTE_BLOCKS);
        int chunk = blocks == 0 ? 0 : (int) ((tiles + blocks - 1) / blocks) * THREADS;
        blocks = blocks == 0 ? 0 : (int) ((n + (long) chunk - 1) / chunk);
        long blockCounts = scratch.get("expert-slots-blocks", 4L * Math.max(1, blocks) * experts).pointer();
        long idxPointer = checkRange(idx, 0, n).pointer();
        long slotPointer = checkRange(slot, 0, n).pointer();
        long offsetsPointer = checkRange(offsets, 0, experts + 1L).pointer();
        long loadPointer = checkRange(load, 0, experts).pointer();
        if (blocks > 0) {
            device.launch("expert_slots_count", Dim3.of(blocks), Dim3.of(THREADS), 4 * experts, idxPointer,
                    blockCounts, n, chunk, experts);
        }
        device.launch("expert_slots_scan", Dim3.of(1), Dim3.of(THREADS), 0, blockCounts, offsetsPointer, loadPointer,
                blocks, experts);
        if (blocks > 0) {
            device.launch("expert_slots_place", Dim3.of(blocks), Dim3.of(THREADS), 4 * (1 + THREADS / 32) * experts,
                    idxPointer, blockCounts, slotPointer, n, chunk, experts);
        }
    }

    @Override
    public void dispatchRows(Tensor x, Tensor slot, Tensor slab, int rows, int k, int dim) {
        long produced = producedAt(slab, (long) rows * k * dim);
        device.launch(produced != 0 ? "dispatch_rows_bf16" : "dispatch_rows", Dim3.of(rows), Dim3.of(THREADS), 0, ptr(x),
                ptr(slot), produced != 0 ? produced : ptr(slab), rows, k, dim);
    }

    @Override
    public void dispatchRowsBackward(Tensor dSlab, Tensor slot, Tensor dx, int rows, int k, int dim,
            boolean accumulate) {
        device.launch("dispatch_rows_bwd", Dim3.of(rows), Dim3.of(THREADS), 0, ptr(dSlab), ptr(slot), ptr(dx), rows, k,
                dim, accumulate ? 1 : 0);
    }

    @Override
    public void combine(Tensor y, Tensor slot, Tensor weight, Tensor out, int rows, int k, int dim,
            boolean accumulate) {
        device.launch("combine_rows", Dim3.of(rows), Dim3.of(THREADS), 0, ptr(y), ptr(slot), ptr(weight), ptr(out), rows,
                k, dim, accumulate ? 1 : 0);
    }

    @Override
    public void combineBackward(Tensor dOut, Tensor y, Tensor slot, Tensor weight, Tensor dY, Tensor dWeight, int rows,
            int k, int dim) {
        long produced = producedAt(dY, (long) rows * k * dim);
        device.launch(produced != 0 ? "combine_rows_bwd_bf16" : "combine_rows_bwd", Dim3.of(rows), Dim3.of(THREADS), 0,
                ptr(dOut), ptr(y), ptr(slot), ptr(weight), produced != 0 ? produced : ptr(dY), ptr(dWeight), rows, k,
                dim);
    }

    @Override
    public void balanceLoss(Tensor probs, Tensor idx, Tensor dProbs, int batch, int seqLen, int experts, int k,
            boolean seqAux, float alphaExpert, int deviceGroups, float alphaDevice, Tensor scalars, int slot) {
        if (deviceGroups > 0 && experts % deviceGroups != 0) {
            throw new IllegalArgumentException("deviceGroups=" + deviceGroups + " does not divide experts=" + experts);
        }
        int sequences = seqAux ? batch : 1;
        int tokens = seqAux ? seqLen : batch * seqLen;
        DeviceBuffer partial = scratch.get("balance-loss", 8L * sequences);
        device.launch("balance_loss_rows", Dim3.of(sequences), Dim3.of(BALANCE_THREADS), balanceSharedBytes(experts),
                ptr(probs), ptr(idx), ptr(dProbs), partial.pointer(), sequences, tokens, experts, k, deviceGroups,
                alphaExpert, alphaDevice);
        device.launch("balance_loss_finish", Dim3.of(1), Dim3.of(32), 0, partial.pointer(), ptr(scalars), sequences,
                slot);
    }

    @Override
    public void routerEntropy(Tensor probs, int rows, int experts, Tensor scalars, int slot) {
        DeviceBuffer entropy = scratch.get("router-entropy", 4L * rows);
        device.launch("entropy_rows", Dim3.of(rows), Dim3.of(rowThreads(experts)), 0, ptr(probs), entropy.pointer(), rows,
                experts);
        reduce(entropy.pointer(), rows, false, 1f / rows, scalars, slot);
    }

    // ---------------------------------------------------------------- loss

    /** Must equal CE_CACHED in cross_entropy.cu: the logits each thread keeps in registers. */
    private static final int CROSS_ENTROPY_CACHED = 16;

    /**
     * One launch, a block per row, wide enough for its registers to hold the row (up to 16,384 logits), so the logits
     * are read once; the block that finishes last sums the losses.
     */
    @Override
    public void crossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, int rows, int vocab,
            float gradScale, Tensor scalars, int slot) {
        int threads = rowThreads((vocab + CROSS_ENTROPY_CACHED - 1) / CROSS_ENTROPY_CACHED);
        device.launch("cross_entropy_rows", Dim3.of(rows), Dim3.of(threads), 0, ptr(logits), ptr(targets),
                ptr(losses), ptr(dLogits), rows, vocab, gradScale, ptr(scalars), slot,
                arrivals.of(ArrivalCounters.Kernel.CROSS_ENTROPY));
    }

    @Override
    public void sum(Tensor x, Tensor scalars, int slot) {
        reduce(ptr(x), x.size(), false, 1f, scalars, slot);
    }

    // ---------------------------------------------------------------- optimiser

    @Override
    public void sumSquares(Tensor g, Tensor scalars, int slot) {
        reduce(ptr(g), g.size(), true, 1f, scalars, slot);
    }

    /** Must equal REDUCE_BLOCKS in reduce.cu. */
    private static final int REDUCE_BLOCKS = 264;

    private void reduce(long pointer, long n, boolean squares, float scale, Tensor scalars, int slot) {
        DeviceBuffer partial = scratch.get("reduce-partial", 8L * REDUCE_BLOCKS);
        device.launch("reduce_partial", Dim3.of(REDUCE_BLOCKS), Dim3.of(THREADS), 0, pointer, n, squares ? 1 : 0,
                partial.pointer());
        device.launch("reduce_finish", Dim3.of(1), Dim3.of(THREADS), 0, partial.pointer(), REDUCE_BLOCKS, scale,
                ptr(scalars), slot);
    }

    /**
     * One launch over the whole tensors: the ranges' ends and weight decays go to the device as a table, and for a
     * parameter arena the kernel writes each updated weight's bf16 image in the same pass.
     */
    @Override
    public void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, DecayRanges decay, float lr, float beta1,
            float beta2, float eps, float weightDecay, float gradScale, int step) {
        CudaTensor p = CudaTensor.of(param);
        requireSameSize(p, CudaTensor.of(grad));
        requireSameSize(p, CudaTensor.of(m));
        requireSameSize(p, CudaTensor.of(v));
        decay.requireCovers(param);
        int ranges = decay.count();
        int[] decayBits = new int[ranges];
        for (int i = 0; i < ranges; i++) {
            decayBits[i] = Float.floatToRawIntBits(decay.decayed(i) ? weightDecay : 0f);
        }
        DeviceBuffer table = scratch.get("adamw-ranges", 12L * ranges);
        uploads.upload(decay.ends(), table.pointer());
        uploads.upload(decayBits, ranges, table.pointer() + 8L * ranges);
        WeightImage image = p.image();
        float biasCorrection1 = (float) (1 - Math.pow(beta1, step));
        float biasCorrection2 = (float) (1 - Math.pow(beta2, step));
        launchFlat("adamw_f32", p.size(), p.pointer(), ptr(grad), ptr(m), ptr(v), image == null ? 0L : image.address(p),
                table.pointer(), table.pointer() + 8L * ranges, p.size(), lr, beta1, beta2, eps, gradScale,
                biasCorrection1, biasCorrection2);
        if (image != null) {
            image.updatedByOptimiser(p);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static long ptr(Tensor t) {
        return CudaTensor.of(t).pointer();
    }

    private int blocksFor(long elements) {
        return (int) Math.max(1, Math.min(maxBlocks, (elements + THREADS - 1) / THREADS));
    }

    /** Threads for a one-block-per-row kernel: a multiple of 32, no more than the row needs, at most 1024. */
    private static int rowThreads(int cols) {
        return Math.min(1024, Math.max(32, (cols + 31) / 32 * 32));
    }

    private void launchFlat(String kernel, long elements, Object... arguments) {
        device.launch(kernel, Dim3.of(blocksFor(elements)), Dim3.of(THREADS), 0, arguments);
    }

    @Override
    public Collective joinCollective(int rank, int size, Rendezvous rendezvous) {
        return NcclCollective.join(device, rank, size, rendezvous);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        uploads.close();
        scratch.close();
        arrivals.close();
        allocations.forEach(DeviceBuffer::close);
        allocations.clear();
        weightImages.values().forEach(DeviceBuffer::close);
        weightImages.clear();
        ropeTables.values().forEach(DeviceBuffer::close);
        ropeTables.clear();
        if (ownsDevice) {
            device.close();
        }
    }
}
