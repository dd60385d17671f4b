// Causal multi-head attention on tensor cores, FlashAttention-2 style (CudaBackend's FLASH attention path): bf16
// operands with fp32 accumulators, scores and probabilities only in registers, online softmax. Two kernel families
// (FlashKernels.java picks by device): mma.sync m16n8k16 (sm_80 and newer, described first) and Hopper's wgmma
// (sm_90a, at the end of the file).
// Legend: B batch (gridDim.z), T sequence, H heads (gridDim.y), DH head dim (64 or 128); q, k, v, out, dOut, dq, dk,
// dv are fp32 [B, T, H, DH] (rows of H*DH); k16, v16, q16, dOut16 are bf16 copies in the same layout (the tiles every
// block streams: FlashAttention.java casts them once per call rather than each block converting them again);
// lse_BHT and delta_BHT are fp32 [B, H, T]; lse is the log-sum-exp of a row's scaled scores (natural log).
//
// A block is 4 warps over 64 rows: query rows in the forward and dq, key rows in dkv; each warp owns 16 of them, so
// a warp's score tile is one m16 row of MMAs. Tiles in shared memory are bf16 rows padded by 8 elements (16 bytes):
// the 8 rows one ldmatrix reads then start in 8 different 4-bank groups. Streamed tiles are double-buffered with
// cp.async (tile j+1 loads while tile j is used); rows at or past T are zero-filled, so a masked probability (0)
// never meets a NaN. With 64-row blocks and 64-key tiles only the diagonal tile needs the causal mask, and it also
// masks keys past T for every real row; rows past T are computed on zeros and not stored.
//
// The backward is two kernels, deterministic like every reduction of this backend (no float atomics): dkv walks the
// query tiles at or after its key block (dK, dV in registers), dq walks the key tiles up to its query block; both
// rebuild P from lse. delta = rowsum(dOut * out) comes first (attention_delta, attention_softmax.cu).
#include "common.cuh"

// sm_80 and newer (bf16 MMA, cp.async): FlashAttention.java refuses older GPUs before anything launches, and their
// device build of this file is left empty (the host pass of an nvcc compile check has no __CUDA_ARCH__).
#if !defined(__CUDA_ARCH__) || __CUDA_ARCH__ >= 800
#include "tensor_core.cuh"

#define FLASH_THREADS 128
#define FLASH_ROWS 64  // rows per block, and keys per streamed tile of the forward and dq
#define LOG2E 1.4426950408889634f
#define POS_INF __int_as_float(0x7f800000)

struct __align__(16) f32x4 { float x, y, z, w; };
struct __align__(16) u32x4 { unsigned x, y, z, w; };
struct __align__(8) f32x2 { float x, y; };

extern __shared__ __align__(16) unsigned char flash_smem[];

// Elements of one padded tile row.
template <int DH>
__device__ constexpr int padded() { return DH + 8; }

// Where the rows of a block's head (blockIdx.y of sequence blockIdx.z) lie: row 0 at `start` in the [B, T, H, DH]
// tensors, rows `stride` apart, and at startBHT in the [B, H, T] ones.
struct HeadRows {
    int h, b;
    long long stride, start;
    __device__ __forceinline__ long long startBHT(int T, int H) const { return ((long long)b * H + h) * T; }
};
template <int DH>
__device__ __forceinline__ HeadRows head_rows(int T, int H) {
    int h = blockIdx.y, b = blockIdx.z;
    long long stride = (long long)H * DH;
    return {h, b, stride, (long long)b * T * stride + (long long)h * DH};
}

// Rows row0 .. row0+ROWS-1 of one head (base: the head's row 0) from its bf16 copy into a tile, as one batch of
// cp.async per thread (the caller commits); rows at or past T become zeros. place(r, col) is where the 16-byte chunk
// of tile row r from column col lies: a padded tile's or a swizzled one's layout.
template <int ROWS, int DH, class Place>
__device__ __forceinline__ void load_rows_async(Place place, const bf16_t* base, long long rowStride, int row0, int T) {
    constexpr int CHUNKS = DH / 8;  // 16-byte chunks per row
    static_assert(ROWS * CHUNKS % FLASH_THREADS == 0, "every thread copies the same number of chunks");
#pragma unroll
    for (int i = 0; i < ROWS * CHUNKS / FLASH_THREADS; i++) {
        int c = threadIdx.x + i * FLASH_THREADS;
        int r = c / CHUNKS, col = (c % CHUNKS) * 8;
        bool valid = row0 + r < T;
        cp_async_16(place(r, col), valid ? base + (long long)(row0 + r) * rowStride + col : base, valid);
    }
}

// The same from fp32 rows, rounded to bf16 on the way (a block's own rows, read once).
template <int ROWS, int DH, class Place>
__device__ __forceinline__ void stage_rows_f32(Place place, const float* base, long long rowStride, int row0, int T) {
    constexpr int CHUNKS = DH / 8;
    static_assert(ROWS * CHUNKS % FLASH_THREADS == 0, "every thread converts the same number of chunks");
#pragma unroll
    for (int i = 0; i < ROWS * CHUNKS / FLASH_THREADS; i++) {
        int c = threadIdx.x + i * FLASH_THREADS;
        int r = c / CHUNKS, col = (c % CHUNKS) * 8;
        u32x4 packed = {0u, 0u, 0u, 0u};
        if (row0 + r < T) {
            const f32x4* src = (const f32x4*)(base + (long long)(row0 + r) * rowStride + col);
            f32x4 a = src[0], b = src[1];
            packed = {pack_bf16(a.x, a.y), pack_bf16(a.z, a.w), pack_bf16(b.x, b.y), pack_bf16(b.z, b.w)};
        }
        *(u32x4*)place(r, col) = packed;
    }
}

// A padded tile's place of a chunk (mma.sync's layout: rows padded by 8 elements).
template <int DH>
__device__ __forceinline__ auto padded_rows(bf16_t* tile) {
    return [=](int r, int col) { return tile + r * padded<DH>() + col; };
}

template <int ROWS, int DH>
__device__ __forceinline__ void load_tile_async(bf16_t* tile, const bf16_t* base, long long rowStride, int row0,
                                                int T) {
    load_rows_async<ROWS, DH>(padded_rows<DH>(tile), base, rowStride, row0, T);
}

template <int ROWS, int DH>
__device__ __forceinline__ void stage_tile_f32(bf16_t* tile, const float* base, long long rowStride, int row0,
                                               int T) {
    stage_rows_f32<ROWS, DH>(padded_rows<DH>(tile), base, rowStride, row0, T);
}

// K and V tile j (rows j·64 ..) of the block's head from their bf16 copies into buffer `buffer` of kTiles and vTiles,
// as one cp.async group: the streamed tiles of the forward and dq.
template <int DH>
__device__ __forceinline__ void load_kv_async(bf16_t* kTiles, bf16_t* vTiles, const bf16_t* k16, const bf16_t* v16,
                                              const HeadRows& head, int j, int buffer, int T) {
    constexpr int TILE = FLASH_ROWS * padded<DH>();
    load_tile_async<FLASH_ROWS, DH>(kTiles + buffer * TILE, k16 + head.start, head.stride, j * FLASH_ROWS, T);
    load_tile_async<FLASH_ROWS, DH>(vTiles + buffer * TILE, v16 + head.start, head.stride, j * FLASH_ROWS, T);
    cp_async_commit();
}

// One step of a double-buffered tile stream (tile i in buffer (i - first) & 1, returned): where there is a next tile,
// starts its copies into the other buffer (loadTile(i + 1, buffer), one cp.async group) so they overlap this tile's
// math, then waits for this tile's group alone and for every thread's copies. For wgmma (ASYNC_PROXY) each thread
// first makes its shared-memory writes visible to the async proxy the MMAs read through. The kernels' loaders (and
// the element functions of score_gradients) capture by value: so they compile to the same machine code as the steps
// written out.
template <bool ASYNC_PROXY = false, class LoadTile>
__device__ __forceinline__ int await_tile(int i, int first, bool hasNext, LoadTile loadTile) {
    int buffer = (i - first) & 1;
    if (hasNext) {
        loadTile(i + 1, buffer ^ 1);
        cp_async_wait<1>();
    } else {
        cp_async_wait<0>();
    }
    if (ASYNC_PROXY) fence_proxy_async_shared();
    __syncthreads();
    return buffer;
}

// A fragment: the warp's 16 tile rows from r0, columns k0 .. k0+15.
template <int DH>
__device__ __forceinline__ void load_a(unsigned a[4], const bf16_t* tile, int r0, int k0) {
    int lane = threadIdx.x & 31;
    ldmatrix_x4(a, tile + (r0 + (lane & 15)) * padded<DH>() + k0 + (lane >> 4) * 8);
}

// B fragments of two n-tiles when the tile's rows are the n index (rows n0 .. n0+15) and its columns the k index
// (k0 .. k0+15), as for X·Yᵀ with Y's rows in the tile: b[0], b[1] serve n-tile n0, b[2], b[3] n-tile n0+8.
template <int DH>
__device__ __forceinline__ void load_b_rows(unsigned b[4], const bf16_t* tile, int n0, int k0) {
    int lane = threadIdx.x & 31;
    ldmatrix_x4(b, tile + (n0 + (lane & 7) + ((lane >> 4) << 3)) * padded<DH>() + k0 + ((lane >> 3) & 1) * 8);
}

// B fragments of two n-tiles when the tile's rows are the k index (k0 .. k0+15) and its columns the n index
// (n0 .. n0+15), as for P·V: transposed on the way out of shared memory.
template <int DH>
__device__ __forceinline__ void load_b_cols(unsigned b[4], const bf16_t* tile, int k0, int n0) {
    int lane = threadIdx.x & 31;
    ldmatrix_x4_trans(b, tile + (k0 + (lane & 7) + ((lane >> 3) & 1) * 8) * padded<DH>() + n0 + (lane >> 4) * 8);
}

// acc (16 x 8·NT) += A·Bᵀ over the k-chunk k0 .. k0+15: a its A fragment, B the first 8·NT rows of bTile.
template <int DH, int NT>
__device__ __forceinline__ void product_rows_chunk(float (&acc)[NT][4], const unsigned a[4], const bf16_t* bTile,
                                                   int k0) {
#pragma unroll
    for (int n = 0; n < NT; n += 2) {
        unsigned b[4];
        load_b_rows<DH>(b, bTile, n * 8, k0);
        mma_bf16_16816(acc[n], a, b[0], b[1]);
        mma_bf16_16816(acc[n + 1], a, b[2], b[3]);
    }
}

// acc (16 x 8·NT) += A·Bᵀ: A the warp's 16 rows of aTile from aRow0, B the first 8·NT rows of bTile, over DH.
template <int DH, int NT>
__device__ __forceinline__ void product_rows(float (&acc)[NT][4], const bf16_t* aTile, int aRow0, const bf16_t* bTile) {
#pragma unroll
    for (int k0 = 0; k0 < DH; k0 += 16) {
        unsigned a[4];
        load_a<DH>(a, aTile, aRow0, k0);
        product_rows_chunk<DH, NT>(acc, a, bTile, k0);
    }
}

// acc (16 x DH) += P·tile: P (16 x 16·KC) as A fragments, the tile's first 16·KC rows (all DH columns).
template <int DH, int KC>
__device__ __forceinline__ void product_cols(float (&acc)[DH / 8][4], const unsigned (&p)[KC][4], const bf16_t* tile) {
#pragma unroll
    for (int kc = 0; kc < KC; kc++) {
#pragma unroll
        for (int n = 0; n < DH / 8; n += 2) {
            unsigned b[4];
            load_b_cols<DH>(b, tile, kc * 16, n * 8);
            mma_bf16_16816(acc[n], p[kc], b[0], b[1]);
            mma_bf16_16816(acc[n + 1], p[kc], b[2], b[3]);
        }
    }
}

// The accumulators of 2·KC n-tiles, rounded to bf16, as the A fragments of KC 16-wide k-chunks.
template <int KC>
__device__ __forceinline__ void to_a_fragments(unsigned (&p)[KC][4], const float (&acc)[2 * KC][4]) {
#pragma unroll
    for (int kc = 0; kc < KC; kc++) {
        p[kc][0] = pack_bf16(acc[2 * kc][0], acc[2 * kc][1]);
        p[kc][1] = pack_bf16(acc[2 * kc][2], acc[2 * kc][3]);
        p[kc][2] = pack_bf16(acc[2 * kc + 1][0], acc[2 * kc + 1][1]);
        p[kc][3] = pack_bf16(acc[2 * kc + 1][2], acc[2 * kc + 1][3]);
    }
}

// Accumulator element e of n-tile n lies at row (lane/4) + 8·(e/2) and column 8n + 2·(lane%4) + e%2 of the warp's
// 16 x 8·NT tile.
__device__ __forceinline__ int acc_row(int e) { return ((threadIdx.x & 31) >> 2) + ((e >> 1) << 3); }
__device__ __forceinline__ int acc_col(int n, int e) { return n * 8 + ((threadIdx.x & 3) << 1) + (e & 1); }

// On the diagonal tile of a query block (its first key is the block's first query), whether element e of n-tile n of
// the warp's scores is a key after its query: the causal mask.
__device__ __forceinline__ bool key_after_query(int n, int e, int warp) {
    return acc_col(n, e) > warp * 16 + acc_row(e);
}

// A probability of the backward, rebuilt from its query's lse rather than stored: exp(s·scale − lse), in log2 units.
__device__ __forceinline__ float probability(float s, float scaleLog2, float lseLog2) {
    return exp2f(fmaf(s, scaleLog2, -lseLog2));
}

// dS = P ∘ (dP − delta) in place of dP; delta(n, e) is the rowsum(dOut ∘ out) of element e of n-tile n's query.
template <int NT, class Delta>
__device__ __forceinline__ void score_gradients(float (&dp)[NT][4], const float (&p)[NT][4], Delta delta) {
#pragma unroll
    for (int n = 0; n < NT; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) dp[n][e] = p[n][e] * (dp[n][e] - delta(n, e));
    }
}

// Stores the warp's 16 x DH accumulator rows times factor as fp32 rows from row0 of a head, rows before T only.
template <int DH>
__device__ __forceinline__ void store_rows(float* base, long long rowStride, int row0, int T,
                                           const float (&acc)[DH / 8][4], const float factor[2]) {
#pragma unroll
    for (int half = 0; half < 2; half++) {
        int row = row0 + acc_row(2 * half);
        if (row >= T) continue;
        float* dst = base + (long long)row * rowStride;
#pragma unroll
        for (int n = 0; n < DH / 8; n++) {
            *(f32x2*)(dst + acc_col(n, 0)) = {acc[n][2 * half] * factor[half], acc[n][2 * half + 1] * factor[half]};
        }
    }
}

// One key tile of the forward for the thread's two rows: masks the diagonal tile (a key column after its query row;
// there the tile's first key is the block's first query), folds the tile's scores into each row's running maximum
// and sum, rescales o to the new maximum, and leaves the tile's probabilities (unnormalised) in s. A row's 64 scores
// are spread over the 4 lanes of a quad. Key 0 is in the first tile and never masked, so a row's maximum is finite
// from the first tile on.
template <int DH>
__device__ __forceinline__ void online_softmax(float (&s)[FLASH_ROWS / 8][4], float (&o)[DH / 8][4],
                                               float (&rowMax)[2], float (&rowSum)[2], float scaleLog2, bool diagonal,
                                               int warp) {
    if (diagonal) {
#pragma unroll
        for (int n = 0; n < FLASH_ROWS / 8; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                if (key_after_query(n, e, warp)) s[n][e] = NEG_INF;
            }
        }
    }
#pragma unroll
    for (int half = 0; half < 2; half++) {
        float mx = rowMax[half];
#pragma unroll
        for (int n = 0; n < FLASH_ROWS / 8; n++) mx = fmaxf(mx, fmaxf(s[n][2 * half], s[n][2 * half + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        float correction = exp2f((rowMax[half] - mx) * scaleLog2);
        float mxScaled = mx * scaleLog2;
        float sum = 0.f;
#pragma unroll
        for (int n = 0; n < FLASH_ROWS / 8; n++) {
#pragma unroll
            for (int e = 2 * half; e < 2 * half + 2; e++) {
                s[n][e] = exp2f(fmaf(s[n][e], scaleLog2, -mxScaled));
                sum += s[n][e];
            }
        }
        rowSum[half] = rowSum[half] * correction + sum;
        rowMax[half] = mx;
#pragma unroll
        for (int n = 0; n < DH / 8; n++) {
            o[n][2 * half] *= correction;
            o[n][2 * half + 1] *= correction;
        }
    }
}

// The forward's end for the warp's 16 query rows from q0 + 16·warp: out = o / the row's sum, lse = the row's
// log-sum-exp of its scaled scores.
template <int DH>
__device__ __forceinline__ void finish_forward(const float (&o)[DH / 8][4], const float (&rowMax)[2],
                                               const float (&rowSum)[2], float* out, float* lse_BHT,
                                               const HeadRows& head, int q0, int warp, int T, int H, float scale) {
    float inverse[2];
#pragma unroll
    for (int half = 0; half < 2; half++) {
        float total = rowSum[half];
        total += __shfl_xor_sync(0xffffffffu, total, 1);
        total += __shfl_xor_sync(0xffffffffu, total, 2);
        inverse[half] = 1.f / total;
        int row = q0 + warp * 16 + acc_row(2 * half);
        if (row < T && (threadIdx.x & 3) == 0) {
            lse_BHT[head.startBHT(T, H) + row] = rowMax[half] * scale + logf(total);
        }
    }
    store_rows<DH>(out + head.start, head.stride, q0 + warp * 16, T, o, inverse);
}

// dq's probabilities of one key tile in place of its scores (the diagonal tile masked to 0), for the thread's two
// query rows with their lse·log2(e).
__device__ __forceinline__ void query_probabilities(float (&s)[FLASH_ROWS / 8][4], bool diagonal, int warp,
                                                    float scaleLog2, const float (&lseLog2)[2]) {
#pragma unroll
    for (int n = 0; n < FLASH_ROWS / 8; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            bool masked = diagonal && key_after_query(n, e, warp);
            s[n][e] = masked ? 0.f : probability(s[n][e], scaleLog2, lseLog2[e >> 1]);
        }
    }
}

// lse·log2(e) and delta of the thread's two query rows from q0 + 16·warp (0 past T).
__device__ __forceinline__ void query_row_stats(float (&lseLog2)[2], float (&delta)[2], const float* lse_BHT,
                                                const float* delta_BHT, const HeadRows& head, int q0, int warp, int T,
                                                int H) {
#pragma unroll
    for (int half = 0; half < 2; half++) {
        int row = q0 + warp * 16 + acc_row(2 * half);
        long long at = head.startBHT(T, H) + row;
        lseLog2[half] = row < T ? lse_BHT[at] * LOG2E : 0.f;
        delta[half] = row < T ? delta_BHT[at] : 0.f;
    }
}

// dkv's Pᵀ of one query tile (QT queries from query0) in place of Sᵀ, for the warp's 16 keys from key0 + 16·warp:
// a query before its key is masked to 0 (only where the tile starts before the block's last key); lseLog2 holds the
// tile's queries' lse·log2(e), +inf past T.
template <int QT>
__device__ __forceinline__ void key_probabilities(float (&s)[QT / 8][4], bool diagonal, int query0, int key0, int warp,
                                                  float scaleLog2, const float* lseLog2) {
#pragma unroll
    for (int n = 0; n < QT / 8; n++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int col = acc_col(n, e);
            bool masked = diagonal && query0 + col < key0 + warp * 16 + acc_row(e);
            s[n][e] = masked ? 0.f : probability(s[n][e], scaleLog2, lseLog2[col]);
        }
    }
}

// The lse·log2(e) (+inf past T, so P is 0 there) and delta of QT query rows from row0, by the block's first QT threads.
template <int QT>
__device__ __forceinline__ void load_row_stats(float* lseLog2, float* delta, const float* lseRow, const float* deltaRow,
                                               int row0, int T) {
    if (threadIdx.x < QT) {
        int row = row0 + threadIdx.x;
        lseLog2[threadIdx.x] = row < T ? lseRow[row] * LOG2E : POS_INF;
        delta[threadIdx.x] = row < T ? deltaRow[row] : 0.f;
    }
}

// Forward: one block per (query block, head, sequence), the last query blocks (most keys) first.
// Shared memory: K and V tiles, two buffers each (the Q tile is staged in V's second buffer before the loop).
template <int DH>
__device__ __forceinline__ void flash_fwd(const float* q, const bf16_t* k16, const bf16_t* v16, float* out,
                                          float* lse_BHT, int T, int H, float scale) {
    constexpr int TILE = FLASH_ROWS * padded<DH>();
    bf16_t* kTiles = (bf16_t*)flash_smem;
    bf16_t* vTiles = kTiles + 2 * TILE;
    const HeadRows head = head_rows<DH>(T, H);
    int qb = gridDim.x - 1 - blockIdx.x, warp = threadIdx.x >> 5, q0 = qb * FLASH_ROWS;
    auto loadKv = [=](int j, int buffer) { load_kv_async<DH>(kTiles, vTiles, k16, v16, head, j, buffer, T); };

    loadKv(0, 0);
    stage_tile_f32<FLASH_ROWS, DH>(vTiles + TILE, q + head.start, head.stride, q0, T);
    __syncthreads();
    unsigned qa[DH / 16][4];
#pragma unroll
    for (int ks = 0; ks < DH / 16; ks++) load_a<DH>(qa[ks], vTiles + TILE, warp * 16, ks * 16);
    __syncthreads();  // every warp holds its Q fragments: the staging buffer takes the next V tile

    const float scaleLog2 = scale * LOG2E;
    float o[DH / 8][4] = {};
    float rowMax[2] = {NEG_INF, NEG_INF}, rowSum[2] = {0.f, 0.f};
    for (int j = 0; j <= qb; j++) {
        int buffer = await_tile(j, 0, j < qb, loadKv);
        const bf16_t* kTile = kTiles + buffer * TILE;
        const bf16_t* vTile = vTiles + buffer * TILE;

        float s[FLASH_ROWS / 8][4] = {};
#pragma unroll
        for (int ks = 0; ks < DH / 16; ks++) product_rows_chunk<DH, FLASH_ROWS / 8>(s, qa[ks], kTile, ks * 16);
        online_softmax<DH>(s, o, rowMax, rowSum, scaleLog2, j == qb, warp);
        unsigned p[FLASH_ROWS / 16][4];
        to_a_fragments<FLASH_ROWS / 16>(p, s);
        product_cols<DH, FLASH_ROWS / 16>(o, p, vTile);
        __syncthreads();  // the next iteration loads into this buffer
    }

    finish_forward<DH>(o, rowMax, rowSum, out, lse_BHT, head, q0, warp, T, H, scale);
}

// dq = scale · Σ_keys P ∘ (dP − delta) · K: one block per (query block, head, sequence), last query blocks first.
// Shared memory: the block's Q and dOut tiles, then K and V tiles, two buffers each.
template <int DH>
__device__ __forceinline__ void flash_bwd_dq(const float* q, const float* dOut, const bf16_t* k16, const bf16_t* v16,
                                             const float* lse_BHT, const float* delta_BHT, float* dq, int T, int H,
                                             float scale) {
    constexpr int TILE = FLASH_ROWS * padded<DH>();
    bf16_t* qTile = (bf16_t*)flash_smem;
    bf16_t* dTile = qTile + TILE;
    bf16_t* kTiles = dTile + TILE;
    bf16_t* vTiles = kTiles + 2 * TILE;
    const HeadRows head = head_rows<DH>(T, H);
    int qb = gridDim.x - 1 - blockIdx.x, warp = threadIdx.x >> 5, q0 = qb * FLASH_ROWS;
    auto loadKv = [=](int j, int buffer) { load_kv_async<DH>(kTiles, vTiles, k16, v16, head, j, buffer, T); };

    loadKv(0, 0);
    stage_tile_f32<FLASH_ROWS, DH>(qTile, q + head.start, head.stride, q0, T);
    stage_tile_f32<FLASH_ROWS, DH>(dTile, dOut + head.start, head.stride, q0, T);
    const float scaleLog2 = scale * LOG2E;
    float lseLog2[2], delta[2];
    query_row_stats(lseLog2, delta, lse_BHT, delta_BHT, head, q0, warp, T, H);

    float acc[DH / 8][4] = {};
    for (int j = 0; j <= qb; j++) {
        int buffer = await_tile(j, 0, j < qb, loadKv);
        const bf16_t* kTile = kTiles + buffer * TILE;
        const bf16_t* vTile = vTiles + buffer * TILE;

        float s[FLASH_ROWS / 8][4] = {};
        product_rows<DH, FLASH_ROWS / 8>(s, qTile, warp * 16, kTile);
        query_probabilities(s, j == qb, warp, scaleLog2, lseLog2);
        float dp[FLASH_ROWS / 8][4] = {};
        product_rows<DH, FLASH_ROWS / 8>(dp, dTile, warp * 16, vTile);
        score_gradients(dp, s, [=](int, int e) { return delta[e >> 1]; });
        unsigned ds[FLASH_ROWS / 16][4];
        to_a_fragments<FLASH_ROWS / 16>(ds, dp);
        product_cols<DH, FLASH_ROWS / 16>(acc, ds, kTile);
        __syncthreads();  // the next iteration loads into this buffer
    }
    const float factor[2] = {scale, scale};
    store_rows<DH>(dq + head.start, head.stride, q0 + warp * 16, T, acc, factor);
}

// dv = Σ_queries Pᵀ dOut, dk = scale · Σ_queries (P ∘ (dP − delta))ᵀ Q: one block per (key block, head, sequence),
// the first key blocks (most queries) first, walking query tiles of QT rows from the block's first key on.
// Shared memory: the block's K and V tiles, then Q and dOut tiles and their rows' lse·log2(e) and delta, two buffers
// each.
template <int DH, int QT>
__device__ __forceinline__ void flash_bwd_dkv(const float* k, const float* v, const bf16_t* q16, const bf16_t* dOut16,
                                              const float* lse_BHT, const float* delta_BHT, float* dk, float* dv,
                                              int T, int H, float scale) {
    constexpr int KV_TILE = FLASH_ROWS * padded<DH>();
    constexpr int Q_TILE = QT * padded<DH>();
    bf16_t* kTile = (bf16_t*)flash_smem;
    bf16_t* vTile = kTile + KV_TILE;
    bf16_t* qTiles = vTile + KV_TILE;
    bf16_t* dTiles = qTiles + 2 * Q_TILE;
    float* lseTiles = (float*)(dTiles + 2 * Q_TILE);
    float* deltaTiles = lseTiles + 2 * QT;
    const HeadRows head = head_rows<DH>(T, H);
    int kb = blockIdx.x, warp = threadIdx.x >> 5, k0 = kb * FLASH_ROWS;
    const float* lseRow = lse_BHT + head.startBHT(T, H);
    const float* deltaRow = delta_BHT + head.startBHT(T, H);
    int first = k0 / QT, tiles = (T + QT - 1) / QT;

    // Query tile i into buffer `buffer`: rows past T get lse = +inf, so their P is 0.
    auto loadQueries = [=](int i, int buffer) {
        load_tile_async<QT, DH>(qTiles + buffer * Q_TILE, q16 + head.start, head.stride, i * QT, T);
        load_tile_async<QT, DH>(dTiles + buffer * Q_TILE, dOut16 + head.start, head.stride, i * QT, T);
        cp_async_commit();
        load_row_stats<QT>(lseTiles + buffer * QT, deltaTiles + buffer * QT, lseRow, deltaRow, i * QT, T);
    };
    loadQueries(first, 0);
    stage_tile_f32<FLASH_ROWS, DH>(kTile, k + head.start, head.stride, k0, T);
    stage_tile_f32<FLASH_ROWS, DH>(vTile, v + head.start, head.stride, k0, T);

    const float scaleLog2 = scale * LOG2E;
    float dkAcc[DH / 8][4] = {}, dvAcc[DH / 8][4] = {};
    for (int i = first; i < tiles; i++) {
        int buffer = await_tile(i, first, i + 1 < tiles, loadQueries);
        const bf16_t* qTile = qTiles + buffer * Q_TILE;
        const bf16_t* dTile = dTiles + buffer * Q_TILE;
        const float* lseLog2 = lseTiles + buffer * QT;
        const float* delta = deltaTiles + buffer * QT;
        bool diagonal = i * QT < k0 + FLASH_ROWS;

        float s[QT / 8][4] = {};  // Sᵀ: the warp's 16 keys x QT queries
        product_rows<DH, QT / 8>(s, kTile, warp * 16, qTile);
        key_probabilities<QT>(s, diagonal, i * QT, k0, warp, scaleLog2, lseLog2);
        float dp[QT / 8][4] = {};  // dPᵀ = V dOutᵀ
        product_rows<DH, QT / 8>(dp, vTile, warp * 16, dTile);
        unsigned a[QT / 16][4];
        to_a_fragments<QT / 16>(a, s);
        product_cols<DH, QT / 16>(dvAcc, a, dTile);
        score_gradients(dp, s, [=](int n, int e) { return delta[acc_col(n, e)]; });
        to_a_fragments<QT / 16>(a, dp);
        product_cols<DH, QT / 16>(dkAcc, a, qTile);
        __syncthreads();  // the next iteration loads into this buffer
    }
    const float one[2] = {1.f, 1.f}, factor[2] = {scale, scale};
    store_rows<DH>(dv + head.start, head.stride, k0 + warp * 16, T, dvAcc, one);
    store_rows<DH>(dk + head.start, head.stride, k0 + warp * 16, T, dkAcc, factor);
}

// Entry points per head dim. Dynamic shared memory (FlashKernels.java computes the same sizes): forward 4 tiles of
// 64 padded rows, dq 6, dkv 2 of 64 rows + 4 of QT rows + 4·QT floats. dkv walks 32-row query tiles at head dim 128
// (dK and dV take 128 accumulator registers per thread there) and 64-row ones at 64.
extern "C" __global__ void __launch_bounds__(FLASH_THREADS) flash_fwd_hd64(const float* q, const bf16_t* k16,
        const bf16_t* v16, float* out, float* lse, int T, int H, float scale) {
    flash_fwd<64>(q, k16, v16, out, lse, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS) flash_fwd_hd128(const float* q, const bf16_t* k16,
        const bf16_t* v16, float* out, float* lse, int T, int H, float scale) {
    flash_fwd<128>(q, k16, v16, out, lse, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS) flash_bwd_dq_hd64(const float* q, const float* dOut,
        const bf16_t* k16, const bf16_t* v16, const float* lse, const float* delta, float* dq, int T, int H,
        float scale) {
    flash_bwd_dq<64>(q, dOut, k16, v16, lse, delta, dq, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS) flash_bwd_dq_hd128(const float* q, const float* dOut,
        const bf16_t* k16, const bf16_t* v16, const float* lse, const float* delta, float* dq, int T, int H,
        float scale) {
    flash_bwd_dq<128>(q, dOut, k16, v16, lse, delta, dq, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS) flash_bwd_dkv_hd64(const float* k, const float* v,
        const bf16_t* q16, const bf16_t* dOut16, const float* lse, const float* delta, float* dk, float* dv, int T,
        int H, float scale) {
    flash_bwd_dkv<64, 64>(k, v, q16, dOut16, lse, delta, dk, dv, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS) flash_bwd_dkv_hd128(const float* k, const float* v,
        const bf16_t* q16, const bf16_t* dOut16, const float* lse, const float* delta, float* dk, float* dv, int T,
        int H, float scale) {
    flash_bwd_dkv<128, 32>(k, v, q16, dOut16, lse, delta, dk, dv, T, H, scale);
}
// Hopper (sm_90a): the same three passes on warpgroup MMAs (wgmma.cuh), FlashAttention-3 style without its producer
// warps. A block is one warpgroup (the same 4 warps) over 64 rows, 16 per warp with the same accumulator layout as
// above, so the softmax, masks and stores are shared with the mma.sync kernels; two blocks share a multiprocessor, so
// one's MMAs run while the other's softmax does. Every tile is 64 rows x DH in the 128-byte swizzle as DH / 64 atoms
// of 64 columns (element (r, d) at (d / 64)·8192 + r·128 + (d % 64)·2, swizzled): with 64 rows that one layout is
// K-major for a product over the head dim (S = Q Kᵀ, dP = dOut Vᵀ and their transposes) and MN-major for a product
// over the rows (P V, dS K, Pᵀ dOut, dSᵀ Q), so no tile is ever stored twice. Those second products take P or dS as A
// fragments from registers; the first ones read both operands from shared memory, the warpgroup reading each tile
// once where each warp of the mma.sync kernels reads it whole. The backward issues dOut Vᵀ before it needs it, so
// the MMAs run under the probabilities' arithmetic. Tiles arrive by the same double-buffered cp.async stream.
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#include "wgmma.cuh"

template <int DH>
__device__ constexpr int swizzled_tile_bytes() { return FLASH_ROWS * DH * 2; }

// The tiles' start: the dynamic shared memory rounded up to 1024 bytes (the swizzle's alignment).
__device__ __forceinline__ unsigned char* swizzled_tiles() {
    return flash_smem + ((1024u - (shared_address(flash_smem) & 1023u)) & 1023u);
}

// Where element (r, d), d a multiple of 8, lies in a swizzled tile (its 16-byte chunk).
__device__ __forceinline__ unsigned swizzled_offset(int r, int d) {
    return wgmma_swizzle_128((d >> 6) * (FLASH_ROWS * 128) + r * 128 + (d & 63) * 2);
}

// A swizzled tile's place of a chunk.
__device__ __forceinline__ auto swizzled_rows(unsigned char* tile) {
    return [=](int r, int d) { return (bf16_t*)(tile + swizzled_offset(r, d)); };
}

// Rows row0 .. row0+63 of one head from its bf16 copy into a swizzled tile (load_rows_async).
template <int DH>
__device__ __forceinline__ void load_swizzled_async(unsigned char* tile, const bf16_t* base, long long rowStride,
                                                    int row0, int T) {
    load_rows_async<FLASH_ROWS, DH>(swizzled_rows(tile), base, rowStride, row0, T);
}

// K and V tile j (rows j·64 ..) of the block's head into buffer `buffer` of kTiles and vTiles, as one cp.async group:
// the streamed tiles of the forward and dq.
template <int DH>
__device__ __forceinline__ void load_kv_swizzled(unsigned char* kTiles, unsigned char* vTiles, const bf16_t* k16,
                                                 const bf16_t* v16, const HeadRows& head, int j, int buffer, int T) {
    constexpr int TILE = swizzled_tile_bytes<DH>();
    load_swizzled_async<DH>(kTiles + buffer * TILE, k16 + head.start, head.stride, j * FLASH_ROWS, T);
    load_swizzled_async<DH>(vTiles + buffer * TILE, v16 + head.start, head.stride, j * FLASH_ROWS, T);
    cp_async_commit();
}

// The same from fp32 rows, rounded to bf16 on the way (stage_rows_f32).
template <int DH>
__device__ __forceinline__ void stage_swizzled_f32(unsigned char* tile, const float* base, long long rowStride,
                                                   int row0, int T) {
    stage_rows_f32<FLASH_ROWS, DH>(swizzled_rows(tile), base, rowStride, row0, T);
}

// A swizzled tile as the operand of a product over the head dim, at head-dim offset kk (a multiple of 16).
__device__ __forceinline__ unsigned long long head_dim_operand(const unsigned char* tile, int kk) {
    return wgmma_descriptor(shared_address(tile) + (kk >> 6) * (FLASH_ROWS * 128) + (kk & 63) * 2, 16, 1024);
}

// A swizzled tile as the B operand of a product over its rows, from row kr (a multiple of 16).
__device__ __forceinline__ unsigned long long row_operand(const unsigned char* tile, int kr) {
    return wgmma_descriptor(shared_address(tile) + kr * 128, FLASH_ROWS * 128, 1024);
}

// A thread's accumulators of a 64 x 8·NT warpgroup tile as wgmma takes them (the same registers).
template <int NT>
__device__ __forceinline__ float (&flat(float (&acc)[NT][4]))[NT * 4] {
    return reinterpret_cast<float(&)[NT * 4]>(acc);
}

// acc (the warpgroup's 64 rows x 64) = A·Bᵀ over the head dim, A's and B's rows in two swizzled tiles; one group of
// MMAs, committed, not awaited.
template <int DH>
__device__ __forceinline__ void issue_head_dim_product(float (&acc)[FLASH_ROWS / 8][4], const unsigned char* aTile,
                                                       const unsigned char* bTile) {
#pragma unroll
    for (int n = 0; n < FLASH_ROWS / 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
    wgmma_fence_operands(flat(acc));
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < DH; kk += 16) {
        wgmma_bf16<FLASH_ROWS, 0, 0>(flat(acc), head_dim_operand(aTile, kk), head_dim_operand(bTile, kk));
    }
    wgmma_commit();
}

// acc (64 x DH) += A·tile over the tile's 64 rows, A (64 x 64) as the A fragments a; one group of MMAs, committed,
// not awaited.
template <int DH>
__device__ __forceinline__ void issue_row_product(float (&acc)[DH / 8][4], const unsigned (&a)[FLASH_ROWS / 16][4],
                                                  const unsigned char* tile) {
    wgmma_fence_operands(flat(acc));
    wgmma_fence();
#pragma unroll
    for (int kc = 0; kc < FLASH_ROWS / 16; kc++) wgmma_bf16_rs<DH, 1>(flat(acc), a[kc], row_operand(tile, kc * 16));
    wgmma_commit();
}

// Waits until at most N groups of MMAs are in flight; acc's group is then done.
template <int N, int NT>
__device__ __forceinline__ void await_product(float (&acc)[NT][4]) {
    wgmma_wait<N>();
    wgmma_fence_operands(flat(acc));
}

// Forward. Shared memory: the block's Q tile, then K and V tiles, two buffers each.
template <int DH>
__device__ __forceinline__ void flash_wgmma_fwd(const float* q, const bf16_t* k16, const bf16_t* v16, float* out,
                                                float* lse_BHT, int T, int H, float scale) {
    constexpr int TILE = swizzled_tile_bytes<DH>();
    unsigned char* qTile = swizzled_tiles();
    unsigned char* kTiles = qTile + TILE;
    unsigned char* vTiles = kTiles + 2 * TILE;
    const HeadRows head = head_rows<DH>(T, H);
    int qb = gridDim.x - 1 - blockIdx.x, warp = threadIdx.x >> 5, q0 = qb * FLASH_ROWS;
    auto loadKv = [=](int j, int buffer) { load_kv_swizzled<DH>(kTiles, vTiles, k16, v16, head, j, buffer, T); };

    loadKv(0, 0);
    stage_swizzled_f32<DH>(qTile, q + head.start, head.stride, q0, T);
    const float scaleLog2 = scale * LOG2E;
    float o[DH / 8][4] = {};
    float rowMax[2] = {NEG_INF, NEG_INF}, rowSum[2] = {0.f, 0.f};
    for (int j = 0; j <= qb; j++) {
        int buffer = await_tile<true>(j, 0, j < qb, loadKv);
        float s[FLASH_ROWS / 8][4];
        issue_head_dim_product<DH>(s, qTile, kTiles + buffer * TILE);
        await_product<0>(s);
        online_softmax<DH>(s, o, rowMax, rowSum, scaleLog2, j == qb, warp);
        unsigned p[FLASH_ROWS / 16][4];
        to_a_fragments<FLASH_ROWS / 16>(p, s);
        issue_row_product<DH>(o, p, vTiles + buffer * TILE);
        await_product<0>(o);
        wgmma_fence_fragments(p);
        __syncthreads();  // the next iteration loads into this buffer
    }
    finish_forward<DH>(o, rowMax, rowSum, out, lse_BHT, head, q0, warp, T, H, scale);
}

// dq. Shared memory: the block's Q and dOut tiles, then K and V tiles, two buffers each.
template <int DH>
__device__ __forceinline__ void flash_wgmma_bwd_dq(const float* q, const float* dOut, const bf16_t* k16,
                                                   const bf16_t* v16, const float* lse_BHT, const float* delta_BHT,
                                                   float* dq, int T, int H, float scale) {
    constexpr int TILE = swizzled_tile_bytes<DH>();
    unsigned char* qTile = swizzled_tiles();
    unsigned char* dTile = qTile + TILE;
    unsigned char* kTiles = dTile + TILE;
    unsigned char* vTiles = kTiles + 2 * TILE;
    const HeadRows head = head_rows<DH>(T, H);
    int qb = gridDim.x - 1 - blockIdx.x, warp = threadIdx.x >> 5, q0 = qb * FLASH_ROWS;
    auto loadKv = [=](int j, int buffer) { load_kv_swizzled<DH>(kTiles, vTiles, k16, v16, head, j, buffer, T); };

    loadKv(0, 0);
    stage_swizzled_f32<DH>(qTile, q + head.start, head.stride, q0, T);
    stage_swizzled_f32<DH>(dTile, dOut + head.start, head.stride, q0, T);
    const float scaleLog2 = scale * LOG2E;
    float lseLog2[2], delta[2];
    query_row_stats(lseLog2, delta, lse_BHT, delta_BHT, head, q0, warp, T, H);

    float acc[DH / 8][4] = {};
    for (int j = 0; j <= qb; j++) {
        int buffer = await_tile<true>(j, 0, j < qb, loadKv);
        const unsigned char* kTile = kTiles + buffer * TILE;
        float s[FLASH_ROWS / 8][4], dp[FLASH_ROWS / 8][4];
        issue_head_dim_product<DH>(s, qTile, kTile);
        issue_head_dim_product<DH>(dp, dTile, vTiles + buffer * TILE);
        await_product<1>(s);
        query_probabilities(s, j == qb, warp, scaleLog2, lseLog2);
        await_product<0>(dp);
        score_gradients(dp, s, [=](int, int e) { return delta[e >> 1]; });
        unsigned ds[FLASH_ROWS / 16][4];
        to_a_fragments<FLASH_ROWS / 16>(ds, dp);
        issue_row_product<DH>(acc, ds, kTile);
        await_product<0>(acc);
        wgmma_fence_fragments(ds);
        __syncthreads();  // the next iteration loads into this buffer
    }
    const float factor[2] = {scale, scale};
    store_rows<DH>(dq + head.start, head.stride, q0 + warp * 16, T, acc, factor);
}

// dk and dv, walking 64-row query tiles. Shared memory: the block's K and V tiles, then Q and dOut tiles, two buffers
// each, then their rows' lse·log2(e) and delta, two buffers each.
template <int DH>
__device__ __forceinline__ void flash_wgmma_bwd_dkv(const float* k, const float* v, const bf16_t* q16,
                                                    const bf16_t* dOut16, const float* lse_BHT,
                                                    const float* delta_BHT, float* dk, float* dv, int T, int H,
                                                    float scale) {
    constexpr int TILE = swizzled_tile_bytes<DH>();
    unsigned char* kTile = swizzled_tiles();
    unsigned char* vTile = kTile + TILE;
    unsigned char* qTiles = vTile + TILE;
    unsigned char* dTiles = qTiles + 2 * TILE;
    float* lseTiles = (float*)(dTiles + 2 * TILE);
    float* deltaTiles = lseTiles + 2 * FLASH_ROWS;
    const HeadRows head = head_rows<DH>(T, H);
    int kb = blockIdx.x, warp = threadIdx.x >> 5, k0 = kb * FLASH_ROWS;
    const float* lseRow = lse_BHT + head.startBHT(T, H);
    const float* deltaRow = delta_BHT + head.startBHT(T, H);
    int tiles = (T + FLASH_ROWS - 1) / FLASH_ROWS;

    auto loadQueries = [=](int i, int buffer) {
        load_swizzled_async<DH>(qTiles + buffer * TILE, q16 + head.start, head.stride, i * FLASH_ROWS, T);
        load_swizzled_async<DH>(dTiles + buffer * TILE, dOut16 + head.start, head.stride, i * FLASH_ROWS, T);
        cp_async_commit();
        load_row_stats<FLASH_ROWS>(lseTiles + buffer * FLASH_ROWS, deltaTiles + buffer * FLASH_ROWS, lseRow, deltaRow,
                                   i * FLASH_ROWS, T);
    };
    loadQueries(kb, 0);
    stage_swizzled_f32<DH>(kTile, k + head.start, head.stride, k0, T);
    stage_swizzled_f32<DH>(vTile, v + head.start, head.stride, k0, T);

    const float scaleLog2 = scale * LOG2E;
    float dkAcc[DH / 8][4] = {}, dvAcc[DH / 8][4] = {};
    for (int i = kb; i < tiles; i++) {
        int buffer = await_tile<true>(i, kb, i + 1 < tiles, loadQueries);
        const unsigned char* qTile = qTiles + buffer * TILE;
        const unsigned char* dTile = dTiles + buffer * TILE;
        const float* delta = deltaTiles + buffer * FLASH_ROWS;
        float s[FLASH_ROWS / 8][4], dp[FLASH_ROWS / 8][4];  // Sᵀ and dPᵀ: the block's 64 keys x 64 queries
        issue_head_dim_product<DH>(s, kTile, qTile);
        issue_head_dim_product<DH>(dp, vTile, dTile);
        await_product<1>(s);
        key_probabilities<FLASH_ROWS>(s, i == kb, i * FLASH_ROWS, k0, warp, scaleLog2, lseTiles + buffer * FLASH_ROWS);
        unsigned a[FLASH_ROWS / 16][4];
        to_a_fragments<FLASH_ROWS / 16>(a, s);
        issue_row_product<DH>(dvAcc, a, dTile);
        await_product<1>(dp);
        score_gradients(dp, s, [=](int n, int e) { return delta[acc_col(n, e)]; });
        await_product<0>(dvAcc);
        wgmma_fence_fragments(a);
        to_a_fragments<FLASH_ROWS / 16>(a, dp);
        issue_row_product<DH>(dkAcc, a, qTile);
        await_product<0>(dkAcc);
        wgmma_fence_fragments(a);
        __syncthreads();  // the next iteration loads into this buffer
    }
    const float one[2] = {1.f, 1.f}, factor[2] = {scale, scale};
    store_rows<DH>(dv + head.start, head.stride, k0 + warp * 16, T, dvAcc, one);
    store_rows<DH>(dk + head.start, head.stride, k0 + warp * 16, T, dkAcc, factor);
}

// Entry points per head dim; two blocks per multiprocessor. Dynamic shared memory (FlashKernels.java computes the
// same sizes), beyond up to 1 KB of alignment: forward 5 swizzled tiles, dq 6, dkv 6 and 4·64 floats.
extern "C" __global__ void __launch_bounds__(FLASH_THREADS, 2) flash_wgmma_fwd_hd64(const float* q,
        const bf16_t* k16, const bf16_t* v16, float* out, float* lse, int T, int H, float scale) {
    flash_wgmma_fwd<64>(q, k16, v16, out, lse, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS, 2) flash_wgmma_fwd_hd128(const float* q,
        const bf16_t* k16, const bf16_t* v16, float* out, float* lse, int T, int H, float scale) {
    flash_wgmma_fwd<128>(q, k16, v16, out, lse, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS, 2) flash_wgmma_bwd_dq_hd64(const float* q,
        const float* dOut, const bf16_t* k16, const bf16_t* v16, const float* lse, const float* delta, float* dq,
        int T, int H, float scale) {
    flash_wgmma_bwd_dq<64>(q, dOut, k16, v16, lse, delta, dq, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS, 2) flash_wgmma_bwd_dq_hd128(const float* q,
        const float* dOut, const bf16_t* k16, const bf16_t* v16, const float* lse, const float* delta, float* dq,
        int T, int H, float scale) {
    flash_wgmma_bwd_dq<128>(q, dOut, k16, v16, lse, delta, dq, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS, 2) flash_wgmma_bwd_dkv_hd64(const float* k,
        const float* v, const bf16_t* q16, const bf16_t* dOut16, const float* lse, const float* delta, float* dk,
        float* dv, int T, int H, float scale) {
    flash_wgmma_bwd_dkv<64>(k, v, q16, dOut16, lse, delta, dk, dv, T, H, scale);
}
extern "C" __global__ void __launch_bounds__(FLASH_THREADS, 2) flash_wgmma_bwd_dkv_hd128(const float* k,
        const float* v, const bf16_t* q16, const bf16_t* dOut16, const float* lse, const float* delta, float* dk,
        float* dv, int T, int H, float scale) {
    flash_wgmma_bwd_dkv<128>(k, v, q16, dOut16, lse, delta, dk, dv, T, H, scale);
}
#endif
#endif
