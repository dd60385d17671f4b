// The sort by expert on the device: from idx_RK, each assignment's slot in the expert-major slab (stable: by expert,
// then token, then k, as ExpertSlots sorts on the host), the offsets_E1 the grouped GEMMs read, and the tokens per
// expert added to load_E. Three passes over contiguous chunks of the n = R·K assignments, one chunk per block:
// count (a histogram per block), scan (one block: per expert, the block chunks' start rows), place (each block walks
// its chunk in order, ranking each assignment among the earlier ones of its expert). Every result is an integer
// that does not depend on the order threads run in: the histogram's shared-memory atomics only count, and the
// placement follows the chunk order. Indices must lie in [0, E) (the router's top-K and the hash route give no other).
// Legend: n assignments, E experts, B blocks (chunks), blockCounts_BE the per-chunk counts, then start rows.
#include "common.cuh"

#define ES_THREADS 256
#define ES_WARPS (ES_THREADS / 32)

// Pass 1: blockCounts_BE[b][e] = assignments to expert e in chunk b = [b·chunk, min(n, (b+1)·chunk)).
// Dynamic shared memory: E ints.
extern "C" __global__ void __launch_bounds__(ES_THREADS) expert_slots_count(const int* __restrict__ idx_n,
        int* __restrict__ blockCounts_BE, int n, int chunk, int E) {
    extern __shared__ int es_smem[];
    int* hist = es_smem;
    for (int e = threadIdx.x; e < E; e += ES_THREADS) hist[e] = 0;
    __syncthreads();
    long long begin = (long long)blockIdx.x * chunk;
    long long end = min((long long)n, begin + chunk);
    for (long long a = begin + threadIdx.x; a < end; a += ES_THREADS) atomicAdd(&hist[idx_n[a]], 1);
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += ES_THREADS) blockCounts_BE[(long long)blockIdx.x * E + e] = hist[e];
}

// Pass 2, one block: counts_e = Σ_b blockCounts_BE[b][e]; offsets_E1 their exclusive prefix sums (offsets_E1[E] = n);
// load_E[e] += counts_e (when load_E is not null); blockCounts_BE[b][e] becomes the slab row of chunk b's first
// assignment to expert e: offsets_E1[e] + Σ_{b' < b} blockCounts_BE[b'][e]. Experts in rounds of ES_THREADS.
extern "C" __global__ void __launch_bounds__(ES_THREADS) expert_slots_scan(int* __restrict__ blockCounts_BE,
        int* __restrict__ offsets_E1, int* __restrict__ load_E, int B, int E) {
    __shared__ int warpSums[ES_WARPS];
    __shared__ int carry;
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    if (threadIdx.x == 0) carry = 0;
    __syncthreads();
    for (int e0 = 0; e0 < E; e0 += ES_THREADS) {
        int e = e0 + threadIdx.x;
        int count = 0;
        if (e < E) {
            for (int b = 0; b < B; b++) count += blockCounts_BE[(long long)b * E + e];
        }
        int inclusive = count;
        for (int d = 1; d < 32; d <<= 1) {
            int v = __shfl_up_sync(0xffffffffu, inclusive, d);
            if (lane >= d) inclusive += v;
        }
        if (lane == 31) warpSums[w] = inclusive;
        __syncthreads();
        int start = carry + inclusive - count;
        for (int v = 0; v < w; v++) start += warpSums[v];
        if (e < E) {
            offsets_E1[e] = start;
            if (load_E != nullptr) load_E[e] += count;
            int cursor = start;
            for (int b = 0; b < B; b++) {
                long long i = (long long)b * E + e;
                int c = blockCounts_BE[i];
                blockCounts_BE[i] = cursor;
                cursor += c;
            }
        }
        __syncthreads();
        if (threadIdx.x == ES_THREADS - 1) carry = start + count;
        __syncthreads();
    }
    if (threadIdx.x == 0) offsets_E1[E] = carry;
}

// Pass 3: slot_n[a] for chunk b's assignments, in tiles of ES_THREADS in order: an assignment's slot is its
// expert's cursor (from pass 2, advanced past the earlier tiles) plus the assignments to the same expert before it
// in the tile (earlier warps' counts from shared memory, earlier lanes of its warp from __match_any_sync).
// Dynamic shared memory: (1 + ES_WARPS)·E ints (cursor_E, then warpCounts_WE).
extern "C" __global__ void __launch_bounds__(ES_THREADS) expert_slots_place(const int* __restrict__ idx_n,
        const int* __restrict__ blockStarts_BE, int* __restrict__ slot_n, int n, int chunk, int E) {
    extern __shared__ int es_smem[];
    int* cursor = es_smem;
    int* warpCounts = es_smem + E;
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    for (int e = threadIdx.x; e < E; e += ES_THREADS) cursor[e] = blockStarts_BE[(long long)blockIdx.x * E + e];
    for (int i = threadIdx.x; i < ES_WARPS * E; i += ES_THREADS) warpCounts[i] = 0;
    __syncthreads();
    long long begin = (long long)blockIdx.x * chunk;
    long long end = min((long long)n, begin + chunk);
    for (long long tile = begin; tile < end; tile += ES_THREADS) {
        long long a = tile + threadIdx.x;
        int e = a < end ? idx_n[a] : -1;
        unsigned peers = __match_any_sync(0xffffffffu, e);
        int rank = __popc(peers & ((1u << lane) - 1u));
        if (e >= 0 && rank == 0) warpCounts[w * E + e] = __popc(peers);
        __syncthreads();
        if (e >= 0) {
            int s = cursor[e] + rank;
            for (int v = 0; v < w; v++) s += warpCounts[v * E + e];
            slot_n[a] = s;
        }
        __syncthreads();
        if (e >= 0 && rank == 0) {
            atomicAdd(&cursor[e], __popc(peers));
            warpCounts[w * E + e] = 0;
        }
        __syncthreads();
    }
}
