// The softmax stages of causal attention when its matrix products go to cuBLAS (CudaBackend's GEMM attention path):
// scores for one sequence of every head, S_HTT (row t of head h holds q_t . k_j for all j), are turned into
// probabilities in place, and in the backward into score gradients. Legend: H heads, T sequence; lse_HT and
// delta_HT are one sequence's slices of lse_BHT and delta_BHT. One block per (head, query row).
#include "common.cuh"

// The T x T outputs are written in fp32 (in place over S) or, on the bf16 GEMM path, straight in bf16 for the next
// GEMMs, so no separate fp32 -> bf16 pass runs (S itself stays fp32: the softmax needs it).
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(bf16_t* p, float v) { *p = float_to_bf16(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const bf16_t* p) { return bf16_to_float(*p); }

// P = softmax(scale * S) over j <= t (0 above the diagonal); lse = the row's log-sum-exp of the scaled scores.
// p may alias s: each element is read before the same thread writes it.
template <typename Out>
__device__ void softmax_row(const float* s, Out* p, float* lse_HT, int T, float scale) {
    int row = blockIdx.x;  // h * T + t
    int t = row % T;
    float m = NEG_INF;
    for (int j = threadIdx.x; j <= t; j += blockDim.x) m = fmaxf(m, s[j] * scale);
    m = block_max(m);
    float l = 0.f;
    for (int j = threadIdx.x; j <= t; j += blockDim.x) l += expf(s[j] * scale - m);
    l = block_sum(l);
    float inv = 1.f / l;
    for (int j = threadIdx.x; j < T; j += blockDim.x) store(p + j, j <= t ? expf(s[j] * scale - m) * inv : 0.f);
    if (threadIdx.x == 0) lse_HT[row] = m + logf(l);
}

// Backward, after S = Q K^T was recomputed: P = exp(scale * S - lse) (0 above the diagonal).
template <typename Out>
__device__ void probs_row(const float* s, Out* p, const float* lse_HT, int T, float scale) {
    int row = blockIdx.x;
    int t = row % T;
    float lse = lse_HT[row];
    for (int j = threadIdx.x; j < T; j += blockDim.x) store(p + j, j <= t ? expf(s[j] * scale - lse) : 0.f);
}

// dS = P * (dP - delta) (0 above the diagonal, where P is 0); dS may alias dP.
template <typename Prob, typename Out>
__device__ void score_grads_row(const Prob* p, const float* dp, Out* ds, const float* delta_HT, int T) {
    float delta = delta_HT[blockIdx.x];
    for (int j = threadIdx.x; j < T; j += blockDim.x) store(ds + j, load(p + j) * (dp[j] - delta));
}

extern "C" __global__ void causal_softmax_rows(float* S_HTT, float* lse_HT, int H, int T, float scale) {
    float* s = S_HTT + (long long)blockIdx.x * T;
    softmax_row(s, s, lse_HT, T, scale);
}

extern "C" __global__ void causal_probs_from_lse(float* S_HTT, const float* lse_HT, int H, int T, float scale) {
    float* s = S_HTT + (long long)blockIdx.x * T;
    probs_row(s, s, lse_HT, T, scale);
}

extern "C" __global__ void causal_score_grads(const float* P_HTT, float* dP_HTT, const float* delta_HT, int H, int T) {
    long long base = (long long)blockIdx.x * T;
    score_grads_row(P_HTT + base, dP_HTT + base, dP_HTT + base, delta_HT, T);
}

extern "C" __global__ void causal_softmax_rows_bf16(const float* S_HTT, bf16_t* P_HTT, float* lse_HT, int H, int T,
                                                    float scale) {
    long long base = (long long)blockIdx.x * T;
    softmax_row(S_HTT + base, P_HTT + base, lse_HT, T, scale);
}

extern "C" __global__ void causal_probs_from_lse_bf16(const float* S_HTT, bf16_t* P_HTT, const float* lse_HT, int H,
                                                      int T, float scale) {
    long long base = (long long)blockIdx.x * T;
    probs_row(S_HTT + base, P_HTT + base, lse_HT, T, scale);
}

extern "C" __global__ void causal_score_grads_bf16(const bf16_t* P_HTT, const float* dP_HTT, bf16_t* dS_HTT,
                                                   const float* delta_HT, int H, int T) {
    long long base = (long long)blockIdx.x * T;
    score_grads_row(P_HTT + base, dP_HTT + base, dS_HTT + base, delta_HT, T);
}

// delta_BHT = rowsum(dOut * out) for any head dim: one warp per (b, t, h) head row of [B, T, H, Dh].
extern "C" __global__ void attention_delta(const float* dOut, const float* out, float* delta_BHT, int B, int T, int H,
                                           int Dh) {
    long long row = blockIdx.x;  // (b * T + t) * H + h
    int h = (int)(row % H);
    long long bt = row / H;
    int t = (int)(bt % T), b = (int)(bt / T);
    const float* g = dOut + row * Dh;
    const float* o = out + row * Dh;
    float s = 0.f;
    for (int i = threadIdx.x; i < Dh; i += 32) s += g[i] * o[i];
    s = warp_sum(s);
    if (threadIdx.x == 0) delta_BHT[((long long)b * H + h) * T + t] = s;
}
