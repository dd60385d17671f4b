package org.sparkmoe.model.backend;

import java.lang.foreign.MemorySegment;
import org.sparkmoe.model.comm.Collective;
import org.sparkmoe.model.comm.Rendezvous;

/**
 * The seam between the model and the hardware: every op the DeepSeekMoE forward, backward and optimiser need,
 * over opaque {@link Tensor}s. The CPU backend ({@code backend.cpu}) and the CUDA backend ({@code backend.cuda})
 * implement it; model code never touches memory directly, so on CUDA weights, gradients, optimiser state and
 * activations stay resident on the device and only input batches, scalars (losses, norms, statistics) and
 * checkpoints cross to the host.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li><b>Layout.</b> All matrices are row-major and contiguous; dimensions are passed to each op. Suffixes name the
 *   logical shape: R rows (tokens, = B·T), D model width, H heads, Dh head dim, T sequence length, B batch,
 *   E routed experts, K experts per token, S routed slots (= R·K), V vocabulary, I an FFN width, G groups.
 *   Weights are stored as {@code nn.Linear} does, {@code [out, in]}.</li>
 *   <li><b>Types.</b> fp32 ({@link DType#F32}) unless an argument says int32 ({@link DType#I32}). A backend may
 *   compute in lower precision internally (CUDA: bf16 GEMMs with fp32 accumulation) but keeps fp32 storage here.</li>
 *   <li><b>Allocation.</b> The caller allocates every output with {@link #allocate} (zero-filled) or {@link #view};
 *   no op allocates tensors visible to the caller. Outputs must not alias inputs unless the op says so.</li>
 *   <li><b>Parameters.</b> The parameter arena comes from {@link #allocateParameters}. A backend may keep a
 *   lower-precision image of it for its GEMMs (CUDA at bf16 GEMM precision: a bf16 copy, equal to what rounding the
 *   weights at each use would give), which it keeps current whatever writes the arena: {@link #adamw} rewrites it in
 *   the same pass, and every other write ({@link #upload}, {@link #fill}, {@link #copy}, {@link #add}, {@link #scale},
 *   a {@link Collective}'s in-place operations) marks it for a fresh rounding before the next GEMM. Model ops take
 *   parameters as inputs only: their outputs are activations and gradients.</li>
 *   <li><b>Accumulate.</b> Gradient outputs documented as "{@code +=}" add into what is there (gradient
 *   accumulation over micro-batches, residual branches); others overwrite.</li>
 *   <li><b>Scalars.</b> Reductions (losses, norms, entropies) are written to an element of a caller-owned fp32
 *   scalars tensor, so a device backend need not synchronise per op; the engine reads the scalars once per step.</li>
 *   <li><b>Sizes.</b> Tensors and offsets are {@code long}: an arena may hold more than 2^31 elements. Host transfers
 *   of any length go through {@link MemorySegment}s; the {@code float[]} forms serve callers under 2^31.</li>
 *   <li><b>Host arrays.</b> Grouped GEMMs take where each group's rows lie either as host row counts ({@code int[]},
 *   from {@link #expertCounts}: the host waits for the routing once per MoE layer) or, where
 *   {@link #routesOnDevice}, as {@link SlabOffsets} that {@link #routeExperts} wrote in backend memory (no wait; the
 *   tokens per expert accumulate there and are read once, when the statistics are wanted). The embedding takes the
 *   batch's token ids as the host {@code int[]} the engine already holds.</li>
 *   <li><b>Fused ops.</b> An op documented as equal to a sequence of other ops ({@link #rmsNormResidualForward},
 *   {@link #routerForward}, {@link #routerBackward}) computes their result in fewer passes over memory; a backend may
 *   order its float sums differently from the separate ops (the CPU backend does not: bit for bit).</li>
 *   <li><b>Determinism.</b> For a fixed thread count every op gives bit-identical results run to run (no
 *   order-dependent atomics on CPU).</li>
 *   <li><b>Threading.</b> A backend is used by one engine thread at a time; it may run ops on its own pool.</li>
 * </ul>
 */
public interface Backend extends AutoCloseable {

    /** One line naming the backend, device, kernel path and threads; logged at start. */
    String describe();

    // ---------------------------------------------------------------- memory and host transfers

    /** Allocates a zero-filled tensor of {@code elements} elements. */
    Tensor allocate(String name, DType dtype, long elements);

    /**
     * Allocates a zero-filled fp32 parameter arena of {@code elements} elements: as {@link #allocate}, and the backend
     * may keep a lower-precision image of it for its GEMMs (see the contract's "Parameters"), counted in
     * {@link #workspaceBytes} rather than {@link #allocatedBytes}.
     */
    default Tensor allocateParameters(String name, long elements) {
        return allocate(name, DType.F32, elements);
    }

    /**
     * Releases a tensor from {@link #allocate} before the backend closes (buffers that grow with the routing give back
     * their smaller predecessors); the tensor and its views must not be used afterwards. Not for views.
     */
    void free(Tensor t);

    /** A view of elements {@code [offset, offset + elements)} of {@code base} (shares storage). */
    Tensor view(Tensor base, String name, long offset, long elements);

    /**
     * Copies {@code n} floats host → tensor: from element {@code srcOffset} of the fp32 segment {@code src} (heap or
     * off-heap) to element {@code dstOffset} of {@code dst}.
     */
    void upload(MemorySegment src, long srcOffset, Tensor dst, long dstOffset, long n);

    /** Copies {@code n} floats tensor → host: from element {@code srcOffset} of {@code src} into {@code dst}. */
    void download(Tensor src, long srcOffset, MemorySegment dst, long dstOffset, long n);

    /** Copies {@code n} floats host → tensor. */
    default void upload(float[] src, int srcOffset, Tensor dst, long dstOffset, int n) {
        upload(MemorySegment.ofArray(src), srcOffset, dst, dstOffset, n);
    }

    /** Copies {@code n} ints host → int tensor. */
    void uploadInts(int[] src, int srcOffset, Tensor dst, long dstOffset, int n);

    /** Copies {@code n} floats tensor → host. */
    default void download(Tensor src, long srcOffset, float[] dst, int dstOffset, int n) {
        download(src, srcOffset, MemorySegment.ofArray(dst), dstOffset, n);
    }

    /** Copies {@code n} ints int tensor → host. */
    void downloadInts(Tensor src, long srcOffset, int[] dst, int dstOffset, int n);

    /** The memory tensors are allocated from, as it stands now (free and total bytes, and where the figures come from). */
    MemoryInfo memory();

    /** Bytes of the tensors this backend has allocated and not released. */
    long allocatedBytes();

    /**
     * Bytes the backend's ops need beyond the caller's tensors for {@code workload} (packing buffers, bf16 operand
     * copies, attention scores, reduction partials, an image of the parameter arena), at most: part of the engine's
     * memory estimate.
     */
    long workspaceBytes(Workload workload);

    /** Sets every element of {@code t} to {@code value}. */
    void fill(Tensor t, float value);

    /** {@code dst = src}; same size. */
    void copy(Tensor src, Tensor dst);

    /** {@code out = a + b} elementwise; {@code out} may alias {@code a} or {@code b}. */
    void add(Tensor a, Tensor b, Tensor out);

    /** {@code t *= s}. */
    void scale(Tensor t, float s);

    // ---------------------------------------------------------------- GEMM

    /** {@code c_MN (+)= a_MK · b_KN}. */
    void matmulNN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate);

    /** {@code c_MN (+)= a_MK · b_NKᵀ} (a linear layer's forward: {@code y = x · Wᵀ}). */
    void matmulNT(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate);

    /**
     * Declares that {@code tensors} are not written until the returned scope closes, so a backend whose GEMMs read
     * converted copies of their operands (the CUDA backend's bf16 copies of fp32 activations) converts each once for
     * all the products inside the scope that read it, instead of once per product. Inside the scope only GEMMs that
     * write other tensors may run (the CUDA backend refuses a GEMM whose output overlaps a held tensor). The default
     * holds nothing: every product reads its operands as they are.
     */
    default HeldOperands holdOperands(Tensor... tensors) {
        return HeldOperands.NONE;
    }

    /**
     * Declares that each of {@code tensors} is written inside the returned scope by the next {@link #dispatchRows},
     * {@link #swigluForward}, {@link #swigluBackward} or {@link #combineBackward} that writes it, and is then read
     * only by GEMMs until the scope closes; after the scope its contents are undefined. A backend whose GEMMs read
     * converted operands (the CUDA backend's bf16) has those producers write only the converted values, into the
     * tensor's own memory: no fp32 pass over it and no conversion. As with {@link #holdOperands}, a GEMM whose output
     * overlaps one of them is refused inside the scope. The default writes and reads the tensors as they are.
     */
    default HeldOperands produceOperands(Tensor... tensors) {
        return HeldOperands.NONE;
    }

    /**
     * A tensor of {@code elements} values that only producers inside {@link #produceOperands} scopes write and only
     * the GEMMs of those scopes read: a backend whose GEMMs read converted operands may store it in that form alone
     * (the CUDA backend at bf16 precision: 2 bytes per value) and refuse any other op on it. The default is an fp32
     * tensor like {@link #allocate}'s.
     */
    default Tensor allocateOperand(String name, long elements) {
        return allocate(name, DType.F32, elements);
    }

    /** {@code c_MN (+)= a_KMᵀ · b_KN} (a weight gradient: {@code dW = dyᵀ · x}). */
    void matmulTN(int m, int n, int k, Tensor a, Tensor b, Tensor c, boolean accumulate);

    /**
     * Grouped forward over contiguous slabs: for group g with rows {@code [o_g, o_g + groupRows[g])} (o_g = prefix
     * sum), {@code c[o_g..] (+)= a[o_g..]_·K · w_g,NKᵀ} where {@code w_GNK} stacks one {@code [n, k]} matrix per group.
     */
    void groupedMatmulNT(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate);

    /** Grouped input gradient: {@code c[o_g..]_·K (+)= a[o_g..]_·N · w_g,NK} with {@code w_GNK} as above. */
    void groupedMatmulNN(int[] groupRows, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate);

    /** Grouped weight gradient: {@code dw_g,NK (+)= a[o_g..]_·Nᵀ · b[o_g..]_·K} into {@code dw_GNK}. */
    void groupedMatmulTN(int[] groupRows, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate);

    /** {@link #groupedMatmulNT} with the groups' rows read from {@code groups} in backend memory. */
    void groupedMatmulNT(SlabOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate);

    /** {@link #groupedMatmulNN} with the groups' rows read from {@code groups} in backend memory. */
    void groupedMatmulNN(SlabOffsets groups, int n, int k, Tensor a, Tensor w, Tensor c, boolean accumulate);

    /** {@link #groupedMatmulTN} with the groups' rows read from {@code groups} in backend memory. */
    void groupedMatmulTN(SlabOffsets groups, int n, int k, Tensor a, Tensor b, Tensor dw, boolean accumulate);

    // ---------------------------------------------------------------- embedding, norm, RoPE

    /**
     * {@code out_RD[r] = table_VD[tokens_R[r]]} for the first {@code rows} host ids; refuses an id outside the table,
     * naming it and its row.
     */
    void embeddingForward(Tensor table, int[] tokens_R, Tensor out, int rows, int dim);

    /** {@code dTable_VD[tokens_R[r]] += dOut_RD[r]} for the first {@code rows} host ids, deterministically. */
    void embeddingBackward(Tensor dOut, int[] tokens_R, Tensor dTable, int rows, int dim);

    /** RMSNorm: {@code rstd_R = 1/sqrt(mean(x²)+eps)}, {@code y_RD = x · rstd · w_D} (statistics in fp32). */
    void rmsNormForward(Tensor x, Tensor w, Tensor y, Tensor rstd, int rows, int dim, float eps);

    /**
     * The residual add fused with the RMSNorm after it, in one pass over the rows: {@code sum_RD = x_RD + branch_RD},
     * then {@code rstd_R} and {@code y_RD} as {@link #rmsNormForward} of {@code sum}. {@code sum} may alias {@code x}
     * or {@code branch}. Equals {@link #add} then {@link #rmsNormForward}; the backward of both is
     * {@link #rmsNormBackward} into the residual gradient, which is also the branch's (the add passes it through).
     */
    void rmsNormResidualForward(Tensor x, Tensor branch, Tensor sum, Tensor w, Tensor y, Tensor rstd, int rows,
                                int dim, float eps);

    /**
     * RMSNorm backward: {@code dx_RD += ...}, {@code dw_D += ...} from {@code dy_RD}, {@code x}, {@code w}, {@code rstd}
     * (one pass over dy and x; {@code dx} is the residual gradient of a pre-norm block, so the residual add's backward
     * needs no op of its own).
     */
    void rmsNormBackward(Tensor dy, Tensor x, Tensor w, Tensor rstd, Tensor dx, Tensor dw, int rows, int dim);

    /**
     * Rotate-half RoPE in place on {@code x_BTHDh} (position = t, pairs (i, i + Dh/2), {@code inv_freq_i =
     * theta^(-2i/Dh)}). {@code inverse} rotates by the negative angle: that is the backward of the forward.
     */
    void rope(Tensor x, int batch, int seqLen, int heads, int headDim, float theta, boolean inverse);

    /**
     * Rotate-half RoPE in place on {@code x_RHDh} with each row at its own position: row r is rotated for position
     * {@code positions_R[r]} (int32), with the frequencies of {@link #rope}. Forward only: generation places the new
     * rows after the ones in its KV cache.
     */
    void ropeAt(Tensor x, Tensor positions, int rows, int heads, int headDim, float theta);

    // ---------------------------------------------------------------- attention

    /**
     * Causal multi-head attention: {@code out_BTHDh = softmax(q·kᵀ/√Dh + causal) · v} with q, k, v in
     * {@code [B, T, H, Dh]}; {@code lse_BHT} receives each row's log-sum-exp of the scaled scores (for backward).
     */
    void attentionForward(Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, int batch, int seqLen, int heads,
                          int headDim);

    /** Attention backward: overwrites {@code dq, dk, dv} ({@code [B, T, H, Dh]}) from {@code dOut} and the forward's tensors. */
    void attentionBackward(Tensor dOut, Tensor q, Tensor k, Tensor v, Tensor out, Tensor lse, Tensor dq, Tensor dk,
                           Tensor dv, int batch, int seqLen, int heads, int headDim);

    /**
     * Attention of new query rows against a KV cache (forward only, for generation). {@code kCache} and
     * {@code vCache} hold rows of {@code H·Dh}: sequence s owns the C rows {@code [s·C, s·C + C)}, one per position.
     * Query row r of {@code q_RHDh} is at position {@code p = positions_R[r]} of its sequence and cache row
     * {@code slots_R[r] = s·C + p} (both int32); it attends to the rows {@code [slots[r] − p, slots[r]]}:
     * {@code out_r = softmax(q_r · Kᵀ/√Dh) · V}, per head. The rows' own K and V must be in the cache already (written
     * with {@link #dispatchRows}, one slot per row), so rows of one sequence in one call attend causally to each other.
     */
    void cachedAttention(Tensor q, Tensor kCache, Tensor vCache, Tensor out, Tensor slots, Tensor positions, int rows,
                         int heads, int headDim);

    // ---------------------------------------------------------------- FFN

    /** SwiGLU: {@code h = silu(gate) · up}, elementwise over {@code n} elements. */
    void swigluForward(Tensor gate, Tensor up, Tensor h, long n);

    /**
     * SwiGLU backward: overwrites {@code dGate}, {@code dUp} from {@code dh}, and {@code h} with the forward's output
     * again (the bits {@link #swigluForward} gives): the down projection's weight gradient reads it, so one pass over
     * g and u serves both. {@code h} and {@code dh} are different tensors.
     */
    void swigluBackward(Tensor dh, Tensor gate, Tensor up, Tensor h, Tensor dGate, Tensor dUp, long n);

    // ---------------------------------------------------------------- MoE routing, dispatch, combine

    /** Row softmax in fp32: {@code probs_RE = softmax(logits_RE)}. */
    void softmaxRows(Tensor logits, Tensor probs, int rows, int cols);

    /** Row softmax backward: {@code dLogits = p ⊙ (dp − Σ p·dp)}; overwrites. */
    void softmaxRowsBackward(Tensor probs, Tensor dProbs, Tensor dLogits, int rows, int cols);

    /**
     * Greedy top-K per row of {@code probs_RE}: {@code idx_RK} (int32, descending probability, ties to the lower
     * index) and {@code weight_RK} = the probabilities, divided by their sum when {@code normalize}.
     */
    void topK(Tensor probs, Tensor idx, Tensor weight, int rows, int experts, int k, boolean normalize);

    /** Backward of {@link #topK}: overwrites {@code dProbs_RE} (zero outside the selected experts). */
    void topKBackward(Tensor probs, Tensor idx, Tensor weight, Tensor dWeight, Tensor dProbs, int rows, int experts,
                      int k, boolean normalize);

    /**
     * The router's forward in one pass over {@code logits_RE}: {@code probs_RE} as {@link #softmaxRows}, the greedy
     * top-K {@code idx_RK}, {@code weight_RK} of those probabilities as {@link #topK}, and the mean router entropy as
     * {@link #routerEntropy} into {@code scalars[entropySlot]}. Equals those three ops in that order.
     */
    void routerForward(Tensor logits, Tensor probs, Tensor idx, Tensor weight, int rows, int experts, int k,
                       boolean normalize, Tensor scalars, int entropySlot);

    /**
     * The router's backward from the gate weights' gradient {@code dWeight_RK} and the balance losses, without a
     * {@code dProbs} buffer: overwrites {@code dLogits_RE} with the softmax backward of (the top-K backward of
     * {@code dWeight} plus the balance losses' gradient), and writes the two balance losses to {@code scalars[slot]},
     * {@code scalars[slot+1]}. Equals {@link #topKBackward}, {@link #balanceLoss} (same arguments) and
     * {@link #softmaxRowsBackward} in that order.
     */
    void routerBackward(Tensor probs, Tensor idx, Tensor weight, Tensor dWeight, Tensor dLogits, int batch,
                        int seqLen, int experts, int k, boolean normalize, boolean seqAux, float alphaExpert,
                        int deviceGroups, float alphaDevice, Tensor scalars, int slot);

    /** Hash routing: {@code idx_R1 = hash(tokens_R) mod experts}, {@code weight_R1 = 1} (fixed, no gradient). */
    void hashRoute(Tensor tokens, Tensor idx, Tensor weight, int rows, int experts);

    /**
     * Sort by expert: from {@code idx_RK} computes {@code slot_RK} (int32), the position of each (token, k)
     * assignment in the expert-major slab (stable: by expert, then token, then k), and returns the per-expert
     * counts on the host (the grouped GEMMs' {@code groupRows} and the tokens-per-expert statistic). The sort runs on
     * the host in every backend ({@link ExpertSlots}).
     */
    int[] expertCounts(Tensor idx, Tensor slot, int rows, int k, int experts);

    /**
     * Whether the engine should route with {@link #routeExperts} and the {@link SlabOffsets} grouped GEMMs rather
     * than {@link #expertCounts}: true where the sort and the products run without the host learning the counts (the
     * CPU backend, whose memory is the host's; CUDA on its own grouped GEMM kernels).
     */
    boolean routesOnDevice();

    /**
     * The sort by expert of {@link #expertCounts} without returning the counts: writes {@code slot_RK} (int32, the
     * same slots bit for bit), {@code offsets_E1} (int32, {@code experts + 1} prefix sums of the tokens per expert,
     * the first 0, the last {@code rows · k}: the {@link SlabOffsets} of the grouped GEMMs) and adds the tokens per
     * expert into {@code load_E} (int32, {@code +=}; the caller reads it when it wants the statistics and keeps it
     * below 2^31). Indices must lie in {@code [0, experts)}; experts at most 1,024.
     */
    void routeExperts(Tensor idx, Tensor slot, Tensor offsets, Tensor load, int rows, int k, int experts);

    /** {@code slab_SD[slot[r,k]] = x_RD[r]} for every assignment. */
    void dispatchRows(Tensor x, Tensor slot, Tensor slab, int rows, int k, int dim);

    /**
     * {@code dx_RD[r] (+)= Σ_k dSlab_SD[slot[r,k]]} (backward of {@link #dispatchRows}; fixed k order); without
     * {@code accumulate} it overwrites, as adding into zeros would (no pass to zero dx first).
     */
    void dispatchRowsBackward(Tensor dSlab, Tensor slot, Tensor dx, int rows, int k, int dim, boolean accumulate);

    /**
     * Gate-weighted combine in fp32: {@code out_RD[r] (+)= Σ_k weight[r,k] · y_SD[slot[r,k]]} (fixed k order); without
     * {@code accumulate} it overwrites, as adding into zeros would (an MoE layer without shared experts).
     */
    void combine(Tensor y, Tensor slot, Tensor weight, Tensor out, int rows, int k, int dim, boolean accumulate);

    /**
     * Backward of {@link #combine}: overwrites {@code dY_SD[slot[r,k]] = weight[r,k] · dOut[r]} and
     * {@code dWeight_RK[r,k] = dOut[r] · y[slot[r,k]]}.
     */
    void combineBackward(Tensor dOut, Tensor y, Tensor slot, Tensor weight, Tensor dY, Tensor dWeight, int rows,
                         int k, int dim);

    /**
     * Expert- and device-level balance losses of one MoE layer (DeepSeekMoE §3.3, eqs. 12–17) from the router
     * {@code probs_RE} and choices {@code idx_RK}, with R = batch·seqLen tokens in sequences of {@code seqLen}.
     * Expert level: {@code α1 · Σ_i f_i P_i}, per sequence and averaged over sequences when {@code seqAux}, else
     * over the whole batch. Device level: {@code α2 · Σ_d f'_d P'_d} over {@code deviceGroups} equal contiguous
     * groups (group d = experts {@code [d·E/G, (d+1)·E/G)}, the block expert-parallel rank d holds:
     * {@code moe.ExpertPlacement}), per sequence like the expert level. Writes the two losses to {@code scalars[slot]} and
     * {@code scalars[slot+1]} and adds their gradient into {@code dProbs_RE} ({@code +=}); f carries no gradient.
     */
    void balanceLoss(Tensor probs, Tensor idx, Tensor dProbs, int batch, int seqLen, int experts, int k,
                     boolean seqAux, float alphaExpert, int deviceGroups, float alphaDevice, Tensor scalars,
                     int slot);

    /** Mean over rows of the router entropy {@code −Σ p log p}, written to {@code scalars[slot]}. */
    void routerEntropy(Tensor probs, int rows, int experts, Tensor scalars, int slot);

    // ---------------------------------------------------------------- loss

    /**
     * Softmax cross-entropy over {@code logits_RV} with int32 {@code targets_R} (negative = masked), with its
     * backward and the batch's loss in the same pass. Writes each row's loss to {@code losses_R} (0 when masked) and
     * their sum to {@code scalars[slot]} (as {@link #sum} of {@code losses_R}), and overwrites {@code dLogits_RV} (may
     * alias {@code logits}: no softmax buffer) with {@code gradScale · (softmax − onehot)} (zero rows when masked).
     */
    void crossEntropy(Tensor logits, Tensor targets, Tensor losses, Tensor dLogits, int rows, int vocab,
                      float gradScale, Tensor scalars, int slot);

    /** {@code scalars[slot] = Σ x} (fp64 accumulation on CPU). */
    void sum(Tensor x, Tensor scalars, int slot);

    // ---------------------------------------------------------------- optimiser

    /** {@code scalars[slot] = Σ g²} over the whole tensor (for the global gradient norm; non-finite propagates). */
    void sumSquares(Tensor g, Tensor scalars, int slot);

    /**
     * One AdamW step over matching flat tensors, with the gradient first multiplied by {@code gradScale}
     * (clipping): {@code m = β1 m + (1−β1) g}, {@code v = β2 v + (1−β2) g²},
     * {@code p -= lr · (m̂ / (√v̂ + eps) + wd · p)} with bias corrections for step {@code step} (1-based), where
     * {@code wd} is {@code weightDecay} on the ranges {@code decay} marks decayed and 0 elsewhere. {@code decay}
     * covers the whole tensors, so one call updates a whole parameter arena (CUDA: one launch); each element's result
     * is the one a call over its range alone gives.
     */
    void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, DecayRanges decay, float lr, float beta1, float beta2,
               float eps, float weightDecay, float gradScale, int step);

    // ---------------------------------------------------------------- collectives

    /**
     * Joins a collective of {@code size} ranks over this backend's tensors ({@link Collective}): TCP between the
     * ranks' processes on the CPU backend, NCCL on the CUDA backend. Every rank must run the same kind of backend;
     * joining fails on every rank, naming both kinds, when they differ.
     */
    Collective joinCollective(int rank, int size, Rendezvous rendezvous);

    /** Releases the backend's memory and threads; closing again does nothing. */
    @Override
    void close();
}
