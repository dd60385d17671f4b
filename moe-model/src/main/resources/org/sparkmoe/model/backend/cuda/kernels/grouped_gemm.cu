// The MoE experts' grouped GEMMs on tensor cores (CudaBackend with cuda-grouped-gemm=own; DeviceGroupedGemm.java):
// bf16 operands on tensor cores with fp32 accumulators, fp32 outputs C = alpha·AB + beta·C written directly. Two
// families share the scheduling: mma.sync m16n8k16 (sm_80 and newer, described first) and Hopper's wgmma (sm_90a,
// at the end of the file; GroupedGemmKernels.java picks by device).
// The experts' row ranges come from a device buffer, offsets[0..E] (prefix sums of the rows per expert, offsets[0] =
// 0): the host only sizes the grid from an upper bound on the rows, so the counts need not be on the host.
//
// Legend: E experts, R slab rows (offsets[E]), expert e owns slab rows [offsets[e], offsets[e+1]). Row-major:
//   nt (forward):          c_RN[rows of e]  = alpha · a_RK[rows of e] · w_ENK[e]ᵀ + beta · c
//   nn (input gradient):   c_RN[rows of e]  = alpha · a_RK[rows of e] · w_EKN[e]  + beta · c
//   tn (weight gradient):  c_EMN[e]         = alpha · a_RM[rows of e]ᵀ · b_RN[rows of e] + beta · c
// a, w, b are bf16 (the backend's operand copies and weight images), c fp32; leading dimensions are the widths.
//
// A block is 8 warps over a 128 x 128 tile of C (warps 2 x 4, each 64 x 32: 4 x 4 MMA tiles of 16 x 8), walking
// the inner dimension in steps of 32 through a 4-stage cp.async pipeline. Shared tiles keep each operand as it lies
// in memory: a "k-contiguous" operand (a of nt/nn, w of nt) as rows of 32 k values, an "outer-contiguous" one (w of
// nn, a and b of tn) as rows of 128 m or n values, read into fragments by ldmatrix, transposed for the latter. Rows
// are padded by 8 elements (16 bytes), so the 8 rows one ldmatrix matrix reads fall into 8 different 16-byte bank
// groups (80- and 272-byte strides). Elements past a tile's rows, columns or inner range are zero-filled in both
// operands, so partial tiles add exact zeros.
//
// nt and nn: a persistent grid. Each block reads the offsets into shared memory, counts each expert's tiles
// (ceil(rows / 128) x ceil(N / 128)) with a warp scan, and walks tiles blockIdx.x, blockIdx.x + gridDim.x, ...,
// finding each tile's expert by binary search; blocks past the last tile do nothing.
// tn: the outputs are E·M·N whatever the routing, but each expert's inner dimension is its row count, long next to
// small fine-grained outputs. So each expert's rows are cut into `slices` equal parts (a multiple of 64 rows each,
// fixed per expert from its count); with one slice a tile writes C itself, with more each slice writes its fp32
// partial product and grouped_gemm_tn_reduce sums the partials in slice order and applies alpha and beta. No float
// atomics anywhere: the result does not depend on scheduling.
#include "common.cuh"

// sm_80 and newer (bf16 MMA, cp.async): DeviceGroupedGemm.java refuses older GPUs before anything launches, and their
// device build of this file is left empty (the host pass of an nvcc compile check has no __CUDA_ARCH__).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#include "tensor_core.cuh"

#define GG_THREADS 256
#define GG_BM 128
#define GG_BN 128
#define GG_BK 32
#define GG_STAGES 4
#define GG_PAD 8
// Slices of the weight gradients' rows are multiples of this, the inner step of every kernel family here.
#define GG_SLICE_STEP 64

struct __align__(16) gg_u32x4 { unsigned x, y, z, w; };
struct __align__(8) gg_f32x2 { float x, y; };

extern __shared__ __align__(16) unsigned char gg_smem[];

__device__ __forceinline__ int gg_ceil_div(int a, int b) { return (a + b - 1) / b; }

// Elements of one operand's tile in shared memory: k-contiguous as ROWS x (32 + pad), else 32 x (COLS + pad).
template <bool K_CONTIGUOUS, int EXTENT>
__device__ constexpr int gg_tile_elements() {
    return K_CONTIGUOUS ? EXTENT * (GG_BK + GG_PAD) : GG_BK * (EXTENT + GG_PAD);
}

// One 16-byte chunk of shared memory from `count` (0..8) contiguous bf16 at src, zeros after them.
__device__ __forceinline__ void gg_copy_chunk(bf16_t* dst, const bf16_t* src, int count) {
    unsigned short e[8];
#pragma unroll
    for (int i = 0; i < 8; i++) e[i] = i < count ? src[i] : (unsigned short)0;
    gg_u32x4 packed = {e[0] | ((unsigned)e[1] << 16), e[2] | ((unsigned)e[3] << 16), e[4] | ((unsigned)e[5] << 16),
                       e[6] | ((unsigned)e[7] << 16)};
    *(gg_u32x4*)dst = packed;
}

// A k-contiguous operand's tile: tile row r (r < rows valid) is src + r·ld, its k values k0 .. k0+31 (k < kEnd
// valid). One batch of copies per thread; the caller commits.
template <int ROWS, bool VECTOR>
__device__ __forceinline__ void gg_load_k_contiguous(bf16_t* tile, const bf16_t* src, long long ld, int rows, int k0,
                                                     int kEnd) {
    constexpr int CHUNKS = GG_BK / 8;
    static_assert(ROWS * CHUNKS % GG_THREADS == 0, "every thread copies the same number of chunks");
#pragma unroll
    for (int i = 0; i < ROWS * CHUNKS / GG_THREADS; i++) {
        int c = threadIdx.x + i * GG_THREADS;
        int r = c / CHUNKS, col = (c % CHUNKS) * 8, k = k0 + col;
        bf16_t* dst = tile + r * (GG_BK + GG_PAD) + col;
        const bf16_t* from = src + r * ld + k;
        if (VECTOR) {
            bool valid = r < rows && k < kEnd;
            cp_async_16(dst, valid ? from : src, valid);
        } else {
            gg_copy_chunk(dst, from, r < rows ? min(8, max(0, kEnd - k)) : 0);
        }
    }
}

// An outer-contiguous operand's tile: k row kk is src + (k0 + kk)·ld (k0 + kk < kEnd valid), its columns 0 .. COLS-1
// (c < cols valid).
template <int COLS, bool VECTOR>
__device__ __forceinline__ void gg_load_outer_contiguous(bf16_t* tile, const bf16_t* src, long long ld, int cols,
                                                         int k0, int kEnd) {
    constexpr int CHUNKS = COLS / 8;
    static_assert(GG_BK * CHUNKS % GG_THREADS == 0, "every thread copies the same number of chunks");
#pragma unroll
    for (int i = 0; i < GG_BK * CHUNKS / GG_THREADS; i++) {
        int c = threadIdx.x + i * GG_THREADS;
        int kk = c / CHUNKS, col = (c % CHUNKS) * 8, k = k0 + kk;
        bf16_t* dst = tile + kk * (COLS + GG_PAD) + col;
        const bf16_t* from = src + k * ld + col;
        if (VECTOR) {
            bool valid = k < kEnd && col < cols;
            cp_async_16(dst, valid ? from : src, valid);
        } else {
            gg_copy_chunk(dst, from, k < kEnd ? min(8, max(0, cols - col)) : 0);
        }
    }
}

// One operand of a tile product: where its tile starts (the tile's first m or n, at inner index 0), its leading
// dimension and how many of the tile's 128 rows or columns are valid.
struct GgOperand {
    const bf16_t* base;
    long long ld;
    int extent;
};

template <bool K_CONTIGUOUS, int EXTENT, bool VECTOR>
__device__ __forceinline__ void gg_load(bf16_t* tile, const GgOperand& op, int k0, int kEnd) {
    if (K_CONTIGUOUS) {
        gg_load_k_contiguous<EXTENT, VECTOR>(tile, op.base, op.ld, op.extent, k0, kEnd);
    } else {
        gg_load_outer_contiguous<EXTENT, VECTOR>(tile, op.base, op.ld, op.extent, k0, kEnd);
    }
}

// The A fragment (16 x 16) of tile rows m0 .. m0+15 at inner offset kk.
template <bool K_CONTIGUOUS>
__device__ __forceinline__ void gg_fragment_a(unsigned a[4], const bf16_t* tile, int m0, int kk) {
    int lane = threadIdx.x & 31;
    if (K_CONTIGUOUS) {
        ldmatrix_x4(a, tile + (m0 + (lane & 15)) * (GG_BK + GG_PAD) + kk + (lane >> 4) * 8);
    } else {
        ldmatrix_x4_trans(a, tile + (kk + (lane & 7) + ((lane >> 4) & 1) * 8) * (GG_BM + GG_PAD) + m0
                                 + ((lane >> 3) & 1) * 8);
    }
}

// The B fragments of two n-tiles (n0 .. n0+7: b[0], b[1]; n0+8 .. n0+15: b[2], b[3]) at inner offset kk.
template <bool K_CONTIGUOUS>
__device__ __forceinline__ void gg_fragment_b(unsigned b[4], const bf16_t* tile, int n0, int kk) {
    int lane = threadIdx.x & 31;
    if (K_CONTIGUOUS) {
        ldmatrix_x4(b, tile + (n0 + (lane & 7) + ((lane >> 4) << 3)) * (GG_BK + GG_PAD) + kk + ((lane >> 3) & 1) * 8);
    } else {
        ldmatrix_x4_trans(b, tile + (kk + (lane & 7) + ((lane >> 3) & 1) * 8) * (GG_BN + GG_PAD) + n0
                                 + (lane >> 4) * 8);
    }
}

// acc (the warp's 64 x 32 of the 128 x 128 tile) = the product of the operands over inner indices [kBegin, kEnd).
// Stage s of the pipeline holds A's tile then B's; a group of cp.async is committed per stage, empty ones included,
// so cp_async_wait<STAGES-2> always means "the oldest stage has landed".
template <bool A_K, bool B_K, bool VECTOR>
__device__ __forceinline__ void gg_tile_product(float (&acc)[4][4][4], const GgOperand& a, const GgOperand& b,
                                                int kBegin, int kEnd) {
    constexpr int A_TILE = gg_tile_elements<A_K, GG_BM>();
    constexpr int STAGE = A_TILE + gg_tile_elements<B_K, GG_BN>();
    bf16_t* stages = (bf16_t*)gg_smem;
    int warp = threadIdx.x >> 5;
    int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;

    int kTiles = gg_ceil_div(kEnd - kBegin, GG_BK);
#pragma unroll
    for (int s = 0; s < GG_STAGES - 1; s++) {
        if (s < kTiles) {
            bf16_t* stage = stages + s * STAGE;
            gg_load<A_K, GG_BM, VECTOR>(stage, a, kBegin + s * GG_BK, kEnd);
            gg_load<B_K, GG_BN, VECTOR>(stage + A_TILE, b, kBegin + s * GG_BK, kEnd);
        }
        cp_async_commit();
    }
    for (int kt = 0; kt < kTiles; kt++) {
        cp_async_wait<GG_STAGES - 2>();
        __syncthreads();  // stage kt has landed for every thread; stage kt-1 is no longer read by anyone
        int next = kt + GG_STAGES - 1;
        if (next < kTiles) {
            bf16_t* stage = stages + (next % GG_STAGES) * STAGE;
            gg_load<A_K, GG_BM, VECTOR>(stage, a, kBegin + next * GG_BK, kEnd);
            gg_load<B_K, GG_BN, VECTOR>(stage + A_TILE, b, kBegin + next * GG_BK, kEnd);
        }
        cp_async_commit();
        const bf16_t* aTile = stages + (kt % GG_STAGES) * STAGE;
        const bf16_t* bTile = aTile + A_TILE;
#pragma unroll
        for (int kk = 0; kk < GG_BK; kk += 16) {
            unsigned af[4][4], bf[2][4];
#pragma unroll
            for (int i = 0; i < 4; i++) gg_fragment_a<A_K>(af[i], aTile, wm + i * 16, kk);
#pragma unroll
            for (int j = 0; j < 2; j++) gg_fragment_b<B_K>(bf[j], bTile, wn + j * 16, kk);
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    mma_bf16_16816(acc[i][j], af[i], bf[j >> 1][(j & 1) * 2], bf[j >> 1][(j & 1) * 2 + 1]);
        }
    }
    cp_async_wait<0>();
    __syncthreads();  // every warp is done with the stages: the next tile may refill them
}

// c[row r][col, col + 1] = v0, v1 (+ beta · c) for the columns below `cols`; beta 0 never reads c, so an unwritten
// (NaN-poisoned) c is overwritten cleanly. pairs: the row is 8-byte aligned and of even width.
__device__ __forceinline__ void gg_store_pair(float* row, int col, int cols, float v0, float v1, float beta,
                                              bool pairs) {
    if (pairs && col + 1 < cols) {
        gg_f32x2* p = (gg_f32x2*)(row + col);
        if (beta != 0.f) {
            gg_f32x2 old = *p;
            v0 += beta * old.x;
            v1 += beta * old.y;
        }
        *p = {v0, v1};
    } else {
        if (col < cols) row[col] = beta != 0.f ? v0 + beta * row[col] : v0;
        if (col + 1 < cols) row[col + 1] = beta != 0.f ? v1 + beta * row[col + 1] : v1;
    }
}

// The mma.sync tiles (sm_80 and newer) as the scheduling below sees them: the accumulators, the tile
// product, the store, and where the scheduler's integers go in shared memory (after the pipeline's stages).
struct GgMmaSync {
    static constexpr int BM = GG_BM;
    static constexpr int BN = GG_BN;
    struct Acc {
        float v[4][4][4];
    };

    template <bool A_K, bool B_K>
    __device__ static int* scratch() {
        return (int*)(gg_smem + GG_STAGES * (gg_tile_elements<A_K, GG_BM>() + gg_tile_elements<B_K, GG_BN>()) * 2);
    }

    template <bool A_K, bool B_K, bool VECTOR>
    __device__ static void product(Acc& acc, const GgOperand& a, const GgOperand& b, int kBegin, int kEnd) {
        gg_tile_product<A_K, B_K, VECTOR>(acc.v, a, b, kBegin, kEnd);
    }

    // c (the tile's origin, rows x cols valid, leading dimension ldc) = alpha · acc + beta · c.
    __device__ static void store(const Acc& acc, float* c, long long ldc, int rows, int cols, float alpha, float beta,
                                 bool pairs) {
        int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
        int wm = (warp >> 2) * 64, wn = (warp & 3) * 32;
#pragma unroll
        for (int i = 0; i < 4; i++) {
#pragma unroll
            for (int half = 0; half < 2; half++) {
                int r = wm + i * 16 + (lane >> 2) + half * 8;
                if (r >= rows) continue;
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    gg_store_pair(c + r * ldc, wn + j * 8 + (lane & 3) * 2, cols, alpha * acc.v[i][j][2 * half],
                                  alpha * acc.v[i][j][2 * half + 1], beta, pairs);
                }
            }
        }
    }
};

// nt and nn: the tiles of every expert's rows, blocks striding over them. The scheduler's shared integers: the
// offsets (E + 1) and each expert's end in the tile order (E), tiles of one expert row-block next to each other.
template <class P, bool B_K, bool VECTOR>
__device__ __forceinline__ void gg_rows(const bf16_t* a, const bf16_t* w, float* c, const int* offsets, int experts,
                                        int n, int k, float alpha, float beta, bool pairs) {
    int* rowStart = P::template scratch<true, B_K>();
    int* tileEnd = rowStart + experts + 1;
    int nTiles = gg_ceil_div(n, P::BN);
    for (int i = threadIdx.x; i <= experts; i += blockDim.x) rowStart[i] = offsets[i];
    __syncthreads();
    if (threadIdx.x < 32) {
        int lane = threadIdx.x, carry = 0;
        for (int e0 = 0; e0 < experts; e0 += 32) {
            int e = e0 + lane;
            int tiles = e < experts ? gg_ceil_div(max(0, rowStart[e + 1] - rowStart[e]), P::BM) * nTiles : 0;
#pragma unroll
            for (int d = 1; d < 32; d <<= 1) {
                int before = __shfl_up_sync(0xffffffffu, tiles, d);
                if (lane >= d) tiles += before;
            }
            if (e < experts) tileEnd[e] = carry + tiles;
            carry += __shfl_sync(0xffffffffu, tiles, 31);
        }
    }
    __syncthreads();
    int total = experts > 0 ? tileEnd[experts - 1] : 0;
    for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
        int lo = 0, hi = experts - 1;
        while (lo < hi) {
            int mid = (lo + hi) >> 1;
            if (tileEnd[mid] > tile) hi = mid; else lo = mid + 1;
        }
        int e = lo, local = tile - (e > 0 ? tileEnd[e - 1] : 0);
        int m0 = (local / nTiles) * P::BM, n0 = (local % nTiles) * P::BN;
        long long row0 = (long long)rowStart[e] + m0;
        GgOperand aOp = {a + row0 * k, k, min(P::BM, rowStart[e + 1] - rowStart[e] - m0)};
        const bf16_t* we = w + (long long)e * n * k;
        GgOperand bOp = B_K ? GgOperand{we + (long long)n0 * k, k, min(P::BN, n - n0)}
                            : GgOperand{we + n0, n, min(P::BN, n - n0)};
        typename P::Acc acc;
        P::template product<true, B_K, VECTOR>(acc, aOp, bOp, 0, k);
        P::store(acc, c + row0 * n + n0, n, aOp.extent, bOp.extent, alpha, beta, pairs);
    }
}

// The inner rows of expert e's slice s when its `rows` are cut into `slices` parts: [s·len, min(rows, (s+1)·len)),
// len a multiple of GG_SLICE_STEP; empty when s·len >= rows. grouped_gemm_tn_reduce uses the same cut.
__device__ __forceinline__ int gg_slice_length(int rows, int slices) {
    return gg_ceil_div(gg_ceil_div(rows, slices), GG_SLICE_STEP) * GG_SLICE_STEP;
}

// tn: tiles in the order (expert, slice, m-tile, n-tile), blocks striding over them. With one slice each tile writes
// c_EMN; with more, slice s of expert e writes its product to partial[s][e] (fp32 [slices, E, M, N]) and empty
// slices write nothing.
template <class P, bool VECTOR>
__device__ __forceinline__ void gg_weight_gradients(const bf16_t* a, const bf16_t* b, float* c, float* partial,
                                                    const int* offsets, int experts, int m, int n, int slices,
                                                    float alpha, float beta, bool pairs) {
    int mTiles = gg_ceil_div(m, P::BM), nTiles = gg_ceil_div(n, P::BN);
    int perSlice = mTiles * nTiles, perExpert = slices * perSlice;
    int total = experts * perExpert;
    for (int tile = blockIdx.x; tile < total; tile += gridDim.x) {
        int e = tile / perExpert, s = (tile % perExpert) / perSlice, local = tile % perSlice;
        int m0 = (local / nTiles) * P::BM, n0 = (local % nTiles) * P::BN;
        int row0 = offsets[e], rows = offsets[e + 1] - row0;
        int length = gg_slice_length(rows, slices);
        int kBegin = s * length, kEnd = min(rows, kBegin + length);
        if (slices > 1 && kBegin >= kEnd) continue;
        GgOperand aOp = {a + (long long)row0 * m + m0, m, min(P::BM, m - m0)};
        GgOperand bOp = {b + (long long)row0 * n + n0, n, min(P::BN, n - n0)};
        typename P::Acc acc;
        P::template product<false, false, VECTOR>(acc, aOp, bOp, kBegin, max(kBegin, kEnd));
        long long at = (long long)e * m * n + (long long)m0 * n + n0;
        if (slices == 1) {
            P::store(acc, c + at, n, aOp.extent, bOp.extent, alpha, beta, pairs);
        } else {
            P::store(acc, partial + (long long)s * experts * m * n + at, n, aOp.extent, bOp.extent, 1.f, 0.f, pairs);
        }
    }
}

// Entry points, two per product: operand rows 16-byte aligned with contiguous extents a multiple of 8 (tiles move by
// cp.async), and any (element by element; a kernel of its own, so the fast path keeps its registers). pairs: C rows
// are 8-byte aligned and of even width (2 fp32 per store).
extern "C" __global__ void __launch_bounds__(GG_THREADS, 2) grouped_gemm_nt(const bf16_t* a, const bf16_t* w,
        float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgMmaSync, true, true>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GG_THREADS, 2) grouped_gemm_nt_unaligned(const bf16_t* a,
        const bf16_t* w, float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgMmaSync, true, false>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GG_THREADS, 2) grouped_gemm_nn(const bf16_t* a, const bf16_t* w,
        float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgMmaSync, false, true>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GG_THREADS, 2) grouped_gemm_nn_unaligned(const bf16_t* a,
        const bf16_t* w, float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgMmaSync, false, false>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GG_THREADS, 2) grouped_gemm_tn(const bf16_t* a, const bf16_t* b,
        float* c, float* partial, const int* offsets, int experts, int m, int n, int slices, float alpha, float beta,
        int pairs) {
    gg_weight_gradients<GgMmaSync, true>(a, b, c, partial, offsets, experts, m, n, slices, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GG_THREADS, 2) grouped_gemm_tn_unaligned(const bf16_t* a,
        const bf16_t* b, float* c, float* partial, const int* offsets, int experts, int m, int n, int slices,
        float alpha, float beta, int pairs) {
    gg_weight_gradients<GgMmaSync, false>(a, b, c, partial, offsets, experts, m, n, slices, alpha, beta, pairs != 0);
}

// c_EMN = alpha · (partial[0][e] + partial[1][e] + ... over the non-empty slices, in that order) + beta · c.
extern "C" __global__ void grouped_gemm_tn_reduce(const float* partial, const int* offsets, float* c, int experts,
                                                  int m, int n, int slices, float alpha, float beta) {
    long long perExpert = (long long)m * n, total = experts * perExpert;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int e = (int)(i / perExpert);
        int rows = offsets[e + 1] - offsets[e];
        int length = gg_slice_length(rows, slices);
        float sum = 0.f;
        for (int s = 0; s < slices && s * length < rows; s++) sum += partial[s * total + i];
        c[i] = beta != 0.f ? alpha * sum + beta * c[i] : alpha * sum;
    }
}

// Hopper (sm_90a): the same products and scheduling on warpgroup MMAs (wgmma.cuh). A block is 2 warpgroups over a
// 128 x BN tile of C (BN 128, or 256 where C's width wastes no more columns that way), warpgroup w computing rows
// 64w .. 64w+63 with m64nBNk16, walking the inner dimension in steps of 64 (one 128-byte swizzle row of bf16) through
// a cp.async pipeline of 6 stages (BN 128) or 4 (BN 256). Each stage holds A's tile (16 KB) then B's (BN x 64 bf16),
// 1024-byte aligned, K-major or MN-major as the operand lies in memory; MN-major operands (w of nn, a and b of tn) go
// to the MMA transposed, so no operand is ever transposed in memory. One group of MMAs stays in flight: a stage is
// refilled two steps after its MMAs were issued, once every warpgroup has waited for them, so tiles are loaded
// STAGES - 2 steps ahead of the MMAs. Only operands of the aligned kernels come here.
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#include "wgmma.cuh"

#define GW_THREADS 256
#define GW_BK 64
#define GW_STAGES 6
#define GW_WIDE_STAGES 4

// The stages' shared address: the dynamic shared memory rounded up to 1024 bytes (the swizzle's alignment).
__device__ __forceinline__ unsigned gw_stages() { return (shared_address(gg_smem) + 1023u) & ~1023u; }

__device__ __forceinline__ void gw_cp_async_16(unsigned dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}

// One operand's tile for inner indices k0 .. k0+63 (below kEnd; zeros elsewhere), EXTENT / 32 chunks of 16 bytes per
// thread. K-major: EXTENT rows (r < extent) of 64 k values. MN-major: 64 k rows of EXTENT columns (c < extent), as
// EXTENT / 64 atoms of 64 columns.
template <bool K_MAJOR, int EXTENT>
__device__ __forceinline__ void gw_load(unsigned tile, const GgOperand& op, int k0, int kEnd) {
    constexpr int ROW_CHUNKS = EXTENT / 8;
#pragma unroll
    for (int i = 0; i < EXTENT * GW_BK / 8 / GW_THREADS; i++) {
        int chunk = threadIdx.x + i * GW_THREADS;
        const bf16_t* from;
        unsigned logical;
        bool valid;
        if (K_MAJOR) {
            int r = chunk >> 3, kc = chunk & 7;
            from = op.base + r * op.ld + k0 + kc * 8;
            valid = r < op.extent && k0 + kc * 8 < kEnd;
            logical = r * 128 + kc * 16;
        } else {
            int kk = chunk / ROW_CHUNKS, col = (chunk % ROW_CHUNKS) * 8;
            from = op.base + (long long)(k0 + kk) * op.ld + col;
            valid = k0 + kk < kEnd && col < op.extent;
            logical = (col >> 6) * 8192 + kk * 128 + (col & 63) * 2;
        }
        gw_cp_async_16(tile + wgmma_swizzle_128(logical), valid ? from : op.base, valid);
    }
}

// The descriptor of an operand's tile at inner offset kk (a multiple of 16) for the rows or columns that start at
// `first` (0 for B; 64 × warpgroup for A).
template <bool K_MAJOR>
__device__ __forceinline__ unsigned long long gw_descriptor(unsigned tile, int first, int kk) {
    return K_MAJOR ? wgmma_descriptor(tile + first * 128 + kk * 2, 16, 1024)
                   : wgmma_descriptor(tile + (first >> 6) * 8192 + kk * 128, 8192, 1024);
}

template <int TILE_N>
struct GgWgmma {
    static constexpr int BM = GG_BM;
    static constexpr int BN = TILE_N;
    static constexpr int STAGES = TILE_N == 128 ? GW_STAGES : GW_WIDE_STAGES;
    static constexpr int AHEAD = STAGES - 2;
    static constexpr unsigned A_BYTES = BM * GW_BK * 2;
    static constexpr unsigned STAGE_BYTES = A_BYTES + BN * GW_BK * 2;
    struct Acc {
        float v[BN / 2];
    };

    template <bool A_K, bool B_K>
    __device__ static int* scratch() {
        return (int*)(gg_smem + (gw_stages() - shared_address(gg_smem)) + STAGES * STAGE_BYTES);
    }

    template <bool A_K, bool B_K, bool VECTOR>
    __device__ static void product(Acc& acc, const GgOperand& a, const GgOperand& b, int kBegin, int kEnd) {
        static_assert(VECTOR, "the wgmma tiles move by cp.async only");
        unsigned stages = gw_stages();
        int first = (threadIdx.x >> 7) * 64;
#pragma unroll
        for (int i = 0; i < BN / 2; i++) acc.v[i] = 0.f;
        int kTiles = gg_ceil_div(kEnd - kBegin, GW_BK);
#pragma unroll
        for (int s = 0; s < AHEAD; s++) {
            if (s < kTiles) {
                unsigned stage = stages + s * STAGE_BYTES;
                gw_load<A_K, BM>(stage, a, kBegin + s * GW_BK, kEnd);
                gw_load<B_K, BN>(stage + A_BYTES, b, kBegin + s * GW_BK, kEnd);
            }
            cp_async_commit();
        }
        for (int kt = 0; kt < kTiles; kt++) {
            cp_async_wait<AHEAD - 1>();
            fence_proxy_async_shared();
            __syncthreads();  // tile kt has landed for all; every warpgroup has finished the MMAs of tile kt - 2
            int next = kt + AHEAD;
            if (next < kTiles) {
                unsigned stage = stages + (next % STAGES) * STAGE_BYTES;
                gw_load<A_K, BM>(stage, a, kBegin + next * GW_BK, kEnd);
                gw_load<B_K, BN>(stage + A_BYTES, b, kBegin + next * GW_BK, kEnd);
            }
            cp_async_commit();
            unsigned aTile = stages + (kt % STAGES) * STAGE_BYTES, bTile = aTile + A_BYTES;
            wgmma_fence_operands(acc.v);
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < GW_BK; kk += 16) {
                wgmma_bf16<BN, A_K ? 0 : 1, B_K ? 0 : 1>(acc.v, gw_descriptor<A_K>(aTile, first, kk),
                                                          gw_descriptor<B_K>(bTile, 0, kk));
            }
            wgmma_commit();
            wgmma_wait<1>();
            wgmma_fence_operands(acc.v);
        }
        wgmma_wait<0>();
        wgmma_fence_operands(acc.v);
        cp_async_wait<0>();
        __syncthreads();  // every warpgroup is done with the stages: the next tile may refill them
    }

    // c (the tile's origin, rows x cols valid, leading dimension ldc) = alpha · acc + beta · c.
    __device__ static void store(const Acc& acc, float* c, long long ldc, int rows, int cols, float alpha, float beta,
                                 bool pairs) {
        int lane = threadIdx.x & 31;
        int r0 = (threadIdx.x >> 7) * 64 + ((threadIdx.x >> 5) & 3) * 16 + (lane >> 2);
        if (beta != 0.f && pairs && ldc % 4 == 0 && ((unsigned long long)c & 15) == 0) {
            accumulate_through_shared(acc, c, ldc, rows, cols, alpha, beta, r0, lane);
            return;
        }
#pragma unroll
        for (int half = 0; half < 2; half++) {
            int r = r0 + half * 8;
            if (r >= rows) continue;
#pragma unroll
            for (int i = 0; i < BN / 8; i++) {
                gg_store_pair(c + r * ldc, i * 8 + (lane & 3) * 2, cols, alpha * acc.v[4 * i + 2 * half],
                              alpha * acc.v[4 * i + 2 * half + 1], beta, pairs);
            }
        }
    }

    // c = alpha · acc + beta · c with c read: through shared memory (free once product() returns), where the
    // fragments become a row-major tile, so the block reads and writes c in whole lines, 16 bytes per thread and 8
    // loads in flight per thread. Read in the fragments' layout (32 bytes of a row per 4 lanes), c made an accumulating
    // product take two to three times as long as one that overwrites it.
    __device__ static void accumulate_through_shared(const Acc& acc, float* c, long long ldc, int rows, int cols,
                                                     float alpha, float beta, int r0, int lane) {
        // 8 floats of padding per row: the fragments' 8-byte writes, 16 lanes at a time, hit 32 different banks.
        constexpr int LD = BN + 8;
        constexpr int PER_ROW = BN / 4, QUADS = BM * PER_ROW, BATCH = 8;
        static_assert(BM * LD * 4 <= STAGES * STAGE_BYTES, "the tile fits in the stages");
        float* tile = (float*)(gg_smem + (gw_stages() - shared_address(gg_smem)));
#pragma unroll
        for (int half = 0; half < 2; half++) {
            float* row = tile + (r0 + half * 8) * LD + (lane & 3) * 2;
#pragma unroll
            for (int i = 0; i < BN / 8; i++) {
                *(float2*)(row + i * 8) =
                        make_float2(alpha * acc.v[4 * i + 2 * half], alpha * acc.v[4 * i + 2 * half + 1]);
            }
        }
        __syncthreads();
        for (int q0 = threadIdx.x; q0 < QUADS; q0 += BATCH * GW_THREADS) {
            float4 old[BATCH];
#pragma unroll
            for (int b = 0; b < BATCH; b++) {
                int q = q0 + b * GW_THREADS, r = q / PER_ROW, col = (q % PER_ROW) * 4;
                old[b] = q < QUADS && r < rows && col + 3 < cols ? *(const float4*)(c + r * ldc + col)
                                                                 : make_float4(0.f, 0.f, 0.f, 0.f);
            }
#pragma unroll
            for (int b = 0; b < BATCH; b++) {
                int q = q0 + b * GW_THREADS, r = q / PER_ROW, col = (q % PER_ROW) * 4;
                if (q >= QUADS || r >= rows || col >= cols) continue;
                float4 v = *(const float4*)(tile + r * LD + col);
                float* out = c + r * ldc + col;
                if (col + 3 < cols) {
                    v.x += beta * old[b].x;
                    v.y += beta * old[b].y;
                    v.z += beta * old[b].z;
                    v.w += beta * old[b].w;
                    *(float4*)out = v;
                } else {
                    out[0] = v.x + beta * out[0];
                    if (col + 1 < cols) out[1] = v.y + beta * out[1];
                    if (col + 2 < cols) out[2] = v.z + beta * out[2];
                }
            }
        }
        __syncthreads();  // the tile's shared memory is the next tile's stages
    }
};

// Entry points: BN 128, and _wide for BN 256.
extern "C" __global__ void __launch_bounds__(GW_THREADS, 1) grouped_gemm_wgmma_nt(const bf16_t* a, const bf16_t* w,
        float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgWgmma<128>, true, true>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GW_THREADS, 1) grouped_gemm_wgmma_nn(const bf16_t* a, const bf16_t* w,
        float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgWgmma<128>, false, true>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GW_THREADS, 1) grouped_gemm_wgmma_tn(const bf16_t* a, const bf16_t* b,
        float* c, float* partial, const int* offsets, int experts, int m, int n, int slices, float alpha, float beta,
        int pairs) {
    gg_weight_gradients<GgWgmma<128>, true>(a, b, c, partial, offsets, experts, m, n, slices, alpha, beta,
                                            pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GW_THREADS, 1) grouped_gemm_wgmma_nt_wide(const bf16_t* a,
        const bf16_t* w, float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgWgmma<256>, true, true>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GW_THREADS, 1) grouped_gemm_wgmma_nn_wide(const bf16_t* a,
        const bf16_t* w, float* c, const int* offsets, int experts, int n, int k, float alpha, float beta, int pairs) {
    gg_rows<GgWgmma<256>, false, true>(a, w, c, offsets, experts, n, k, alpha, beta, pairs != 0);
}
extern "C" __global__ void __launch_bounds__(GW_THREADS, 1) grouped_gemm_wgmma_tn_wide(const bf16_t* a,
        const bf16_t* b, float* c, float* partial, const int* offsets, int experts, int m, int n, int slices,
        float alpha, float beta, int pairs) {
    gg_weight_gradients<GgWgmma<256>, true>(a, b, c, partial, offsets, experts, m, n, slices, alpha, beta,
                                            pairs != 0);
}
#endif
#endif
