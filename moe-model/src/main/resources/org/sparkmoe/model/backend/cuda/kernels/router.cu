// MoE router: softmax over routed experts (fp32), greedy top-K, their backwards, and the router entropy.
// Legend: R rows (tokens), E experts, K experts per token.
#include "common.cuh"

// probs_RE = softmax(logits_RE); one block per row.
extern "C" __global__ void softmax_rows(const float* logits, float* probs, int R, int E) {
    const float* x = logits + (long long)blockIdx.x * E;
    float* p = probs + (long long)blockIdx.x * E;
    float m = NEG_INF;
    for (int e = threadIdx.x; e < E; e += blockDim.x) m = fmaxf(m, x[e]);
    m = block_max(m);
    float s = 0.f;
    for (int e = threadIdx.x; e < E; e += blockDim.x) s += expf(x[e] - m);
    s = block_sum(s);
    float inv = 1.f / s;
    for (int e = threadIdx.x; e < E; e += blockDim.x) p[e] = expf(x[e] - m) * inv;
}

// dLogits = p * (dp - sum(p * dp)); one block per row; overwrites.
extern "C" __global__ void softmax_rows_bwd(const float* probs, const float* dProbs, float* dLogits, int R, int E) {
    long long base = (long long)blockIdx.x * E;
    float dot = 0.f;
    for (int e = threadIdx.x; e < E; e += blockDim.x) dot += probs[base + e] * dProbs[base + e];
    dot = block_sum(dot);
    for (int e = threadIdx.x; e < E; e += blockDim.x) dLogits[base + e] = probs[base + e] * (dProbs[base + e] - dot);
}

// Greedy top-K, one thread per row: the k-th choice is the largest (p, -index) strictly below the (k-1)-th, so
// ties go to the lower index and no chosen-mask is needed. weight = p, or p / sum of the chosen when normalize.
extern "C" __global__ void topk_rows(const float* probs, int* idx_RK, float* weight_RK, int R, int E, int K,
                                     int normalize) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= R) return;
    const float* p = probs + (long long)r * E;
    float prevValue = __int_as_float(0x7f800000);
    int prevIndex = -1;
    float sum = 0.f;
    for (int k = 0; k < K; k++) {
        float best = NEG_INF;
        int bestIndex = -1;
        for (int e = 0; e < E; e++) {
            float v = p[e];
            bool belowPrevious = v < prevValue || (v == prevValue && e > prevIndex);
            if (belowPrevious && (bestIndex < 0 || v > best)) { best = v; bestIndex = e; }
        }
        idx_RK[(long long)r * K + k] = bestIndex;
        weight_RK[(long long)r * K + k] = best;
        sum += best;
        prevValue = best;
        prevIndex = bestIndex;
    }
    if (normalize) {
        for (int k = 0; k < K; k++) weight_RK[(long long)r * K + k] /= sum;
    }
}

// dProbs_RE: zero except the chosen experts; dp = dW, or (dW_k - sum_j dW_j w_j) / S when normalized (S = sum of
// the chosen probabilities). One block per row; overwrites.
extern "C" __global__ void topk_rows_bwd(const float* probs, const int* idx_RK, const float* weight_RK,
                                         const float* dWeight_RK, float* dProbs, int R, int E, int K, int normalize) {
    int r = blockIdx.x;
    float* dp = dProbs + (long long)r * E;
    for (int e = threadIdx.x; e < E; e += blockDim.x) dp[e] = 0.f;
    __syncthreads();
    if (threadIdx.x != 0) return;
    const int* idx = idx_RK + (long long)r * K;
    const float* w = weight_RK + (long long)r * K;
    const float* dw = dWeight_RK + (long long)r * K;
    if (!normalize) {
        for (int k = 0; k < K; k++) dp[idx[k]] = dw[k];
        return;
    }
    float s = 0.f, dot = 0.f;
    for (int k = 0; k < K; k++) { s += probs[(long long)r * E + idx[k]]; dot += dw[k] * w[k]; }
    for (int k = 0; k < K; k++) dp[idx[k]] = (dw[k] - dot) / s;
}

// entropy_R = -sum p log p (terms with p = 0 count 0); one block per row.
extern "C" __global__ void entropy_rows(const float* probs, float* entropy_R, int R, int E) {
    const float* p = probs + (long long)blockIdx.x * E;
    float h = 0.f;
    for (int e = threadIdx.x; e < E; e += blockDim.x) h -= p[e] > 0.f ? p[e] * logf(p[e]) : 0.f;
    h = block_sum(h);
    if (threadIdx.x == 0) entropy_R[blockIdx.x] = h;
}

// The router's forward in one launch, one warp per row (a block of W warps takes rows W*b ..): probs = softmax(logits)
// as softmax_rows, the greedy top-K of those probabilities as topk_rows (descending, ties to the lower index; weight =
// p, or p / sum of the chosen when normalize), and the row's entropy as entropy_rows. The row lives in the warp's E
// floats of dynamic shared memory. Each block's entropy sum (fp64, its rows in order) goes to entropy_B; the block that
// finishes last writes their mean over the R rows to scalars[slot].
extern "C" __global__ void router_forward(const float* logits, float* probs, int* idx_RK, float* weight_RK,
                                          double* entropy_B, float* scalars, int slot, unsigned int* arrivals, int R,
                                          int E, int K, int normalize) {
    extern __shared__ float rowShared[];
    __shared__ double warpEntropy[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    int r = blockIdx.x * warps + warp;
    float* v = rowShared + (long long)warp * E;
    float entropy = 0.f;
    if (r < R) {
        const float* x = logits + (long long)r * E;
        float* p = probs + (long long)r * E;
        float m = NEG_INF;
        for (int e = lane; e < E; e += 32) { v[e] = x[e]; m = fmaxf(m, v[e]); }
        m = warp_max(m);
        float s = 0.f;
        for (int e = lane; e < E; e += 32) s += expf(v[e] - m);
        s = warp_sum(s);
        float inv = 1.f / s;
        for (int e = lane; e < E; e += 32) {
            float pe = expf(v[e] - m) * inv;
            v[e] = pe;
            p[e] = pe;
            entropy -= pe > 0.f ? pe * logf(pe) : 0.f;
        }
        entropy = warp_sum(entropy);
        __syncwarp();  // every lane's probabilities are in v before the top-K reads them all
        // The k-th choice is the largest (p, -index) strictly below the (k-1)-th: each lane scans its experts, then
        // the warp keeps the largest p, and of equal ones the lower index.
        float prevValue = __int_as_float(0x7f800000);
        int prevIndex = -1;
        float sum = 0.f;
        for (int k = 0; k < K; k++) {
            float best = NEG_INF;
            int bestIndex = -1;
            for (int e = lane; e < E; e += 32) {
                float pe = v[e];
                bool belowPrevious = pe < prevValue || (pe == prevValue && e > prevIndex);
                if (belowPrevious && (bestIndex < 0 || pe > best)) { best = pe; bestIndex = e; }
            }
            for (int offset = 16; offset > 0; offset >>= 1) {
                float otherValue = __shfl_xor_sync(0xffffffffu, best, offset);
                int otherIndex = __shfl_xor_sync(0xffffffffu, bestIndex, offset);
                bool better = otherValue > best || (otherValue == best && otherIndex < bestIndex);
                if (otherIndex >= 0 && (bestIndex < 0 || better)) {
                    best = otherValue;
                    bestIndex = otherIndex;
                }
            }
            if (lane == 0) {
                idx_RK[(long long)r * K + k] = bestIndex;
                weight_RK[(long long)r * K + k] = best;
            }
            sum += best;
            prevValue = best;
            prevIndex = bestIndex;
        }
        if (normalize && lane == 0) {
            for (int k = 0; k < K; k++) weight_RK[(long long)r * K + k] /= sum;
        }
    }
    if (lane == 0) warpEntropy[warp] = entropy;
    __syncthreads();
    if (threadIdx.x == 0) {
        double blockEntropy = 0.0;
        for (int w = 0; w < warps; w++) blockEntropy += warpEntropy[w];
        entropy_B[blockIdx.x] = blockEntropy;
    }
    if (last_block_arrived(arrivals)) {
        double total = 0.0;
        for (int b = threadIdx.x; b < gridDim.x; b += blockDim.x) total += load_coherent(&entropy_B[b]);
        total = block_sum(total);
        if (threadIdx.x == 0) scalars[slot] = (float)(total / R);
    }
}

// The router backward's second pass, one warp per row (the first is balance_loss_coefficients): dp = the top-K
// backward of dWeight (as topk_rows_bwd) + the balance coefficient of the row's sequence (coefficient_SE[r / L]),
// then dLogits = p * (dp - sum(p * dp)) as softmax_rows_bwd; overwrites, and no dProbs is written.
__device__ __forceinline__ float topk_gradient(int e, const int* idx, const float* dw, int K, int normalize, float dot,
                                               float chosenSum) {
    for (int k = 0; k < K; k++) {
        if (idx[k] == e) return normalize ? (dw[k] - dot) / chosenSum : dw[k];
    }
    return 0.f;
}

extern "C" __global__ void router_bwd_rows(const float* probs, const int* idx_RK, const float* weight_RK,
                                           const float* dWeight_RK, const float* coefficient_SE, float* dLogits, int R,
                                           int E, int K, int L, int normalize) {
    int lane = threadIdx.x & 31;
    int r = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (r >= R) return;
    const float* p = probs + (long long)r * E;
    const int* idx = idx_RK + (long long)r * K;
    const float* w = weight_RK + (long long)r * K;
    const float* dw = dWeight_RK + (long long)r * K;
    const float* coefficient = coefficient_SE + (long long)(r / L) * E;
    float chosenSum = 0.f, dot = 0.f;
    if (normalize) {
        for (int k = 0; k < K; k++) { chosenSum += p[idx[k]]; dot += dw[k] * w[k]; }
    }
    float pdp = 0.f;
    for (int e = lane; e < E; e += 32)
        pdp += p[e] * (topk_gradient(e, idx, dw, K, normalize, dot, chosenSum) + coefficient[e]);
    pdp = warp_sum(pdp);
    for (int e = lane; e < E; e += 32) {
        float dp = topk_gradient(e, idx, dw, K, normalize, dot, chosenSum) + coefficient[e];
        dLogits[(long long)r * E + e] = p[e] * (dp - pdp);
    }
}

// Hash Layer routing: murmur3's 32-bit finaliser of the token id, unsigned, modulo the expert count; weight 1.
extern "C" __global__ void hash_route(const int* tokens_R, int* idx_R1, float* weight_R1, int R, int E) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= R) return;
    unsigned int h = (unsigned int)tokens_R[r];
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    idx_R1[r] = (int)(h % (unsigned int)E);
    weight_R1[r] = 1.f;
}
