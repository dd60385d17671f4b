// Fused softmax cross-entropy over logits_RV with int32 targets (negative = masked): the loss per row, the gradient
// gradScale * (softmax - onehot) and the sum of the losses in one launch, one block per row. Each thread keeps its
// first CE_CACHED logits in registers, so a row of up to CE_CACHED * blockDim logits is read once (the running max
// and sum of exponentials are updated as it streams in) and the gradient is written from the registers; longer rows
// read the rest twice. dLogits may alias logits: each element is read and written by one thread, and every thread has
// read x[target] before a block reduction that precedes any write.
#include "common.cuh"

#define CE_CACHED 16

// Adds logit x to a running (max m, sum s of exp(. - m)); -inf adds nothing, NaN propagates into s.
__device__ __forceinline__ void softmax_add(float& m, float& s, float x) {
    if (x > m) {
        s = s * expf(m - x) + 1.f;
        m = x;
    } else if (x != NEG_INF) {
        s += expf(x - m);
    }
}

// (m, s) := the running max and sum of both; an empty one (m = -inf) adds nothing.
__device__ __forceinline__ void softmax_merge(float& m, float& s, float otherM, float otherS) {
    float both = fmaxf(m, otherM);
    if (both == NEG_INF) return;
    s = (m == NEG_INF ? 0.f : s * expf(m - both)) + (otherM == NEG_INF ? 0.f : otherS * expf(otherM - both));
    m = both;
}

// Merges every thread's (m, s) in a fixed order; every thread gets the row's.
__device__ void block_softmax_merge(float& m, float& s) {
    __shared__ float warpM[32], warpS[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int offset = 16; offset > 0; offset >>= 1) {
        float otherM = __shfl_xor_sync(0xffffffffu, m, offset);
        float otherS = __shfl_xor_sync(0xffffffffu, s, offset);
        softmax_merge(m, s, otherM, otherS);
    }
    if (lane == 0) { warpM[warp] = m; warpS[warp] = s; }
    __syncthreads();
    m = NEG_INF;
    s = 0.f;
    for (int w = 0; w < warps; w++) softmax_merge(m, s, warpM[w], warpS[w]);
}

extern "C" __global__ void cross_entropy_rows(const float* logits, const int* targets_R, float* losses_R, float* dLogits,
                                              int R, int V, float gradScale, float* scalars, int slot,
                                              unsigned int* arrivals) {
    int r = blockIdx.x;
    const float* x = logits + (long long)r * V;
    float* g = dLogits + (long long)r * V;
    int target = targets_R[r];
    if (target < 0) {
        for (int v = threadIdx.x; v < V; v += blockDim.x) g[v] = 0.f;
        if (threadIdx.x == 0) losses_R[r] = 0.f;
    } else {
        float cached[CE_CACHED];
        float m = NEG_INF, s = 0.f;
#pragma unroll
        for (int j = 0; j < CE_CACHED; j++) {
            int v = threadIdx.x + j * blockDim.x;
            cached[j] = v < V ? x[v] : NEG_INF;
            softmax_add(m, s, cached[j]);
        }
        for (int v = threadIdx.x + CE_CACHED * blockDim.x; v < V; v += blockDim.x) softmax_add(m, s, x[v]);
        float targetLogit = x[target];
        block_softmax_merge(m, s);  // its __syncthreads: every thread has read x[target] before any write below
        if (threadIdx.x == 0) losses_R[r] = logf(s) + m - targetLogit;
        float inv = 1.f / s;
#pragma unroll
        for (int j = 0; j < CE_CACHED; j++) {
            int v = threadIdx.x + j * blockDim.x;
            if (v < V) g[v] = gradScale * (expf(cached[j] - m) * inv - (v == target ? 1.f : 0.f));
        }
        for (int v = threadIdx.x + CE_CACHED * blockDim.x; v < V; v += blockDim.x)
            g[v] = gradScale * (expf(x[v] - m) * inv - (v == target ? 1.f : 0.f));
    }
    if (last_block_arrived(arrivals)) {
        double total = 0.0;
        for (int i = threadIdx.x; i < R; i += blockDim.x) total += load_coherent(&losses_R[i]);
        total = block_sum(total);
        if (threadIdx.x == 0) scalars[slot] = (float)total;
    }
}
