// The softmax stages of causal attention when its matrix products go to cuBLAS (CudaBackend's GEMM attention path):
// scores for one sequence of every head, S_HTT (row t of head h holds q_t . k_j for all j), are turned into
// probabilities in place, and in the backward into score gradients. Legend: H heads, T sequence; lse_HT and
// delta_HT are one sequence's slices of lse_BHT and delta_BHT. One block per (head, query row).
#include "common.cuh"

// P = softmax(scale * S) over j <= t (0 above the diagonal); lse = the row's log-sum-exp of the scaled scores.
extern "C" __global__ void causal_softmax_rows(float* S_HTT, float* lse_HT, int H, int T, float scale) {
    int row = blockIdx.x;  // h * T + t
    int t = row % T;
    float* s = S_HTT + (long long)row * T;
    float m = NEG_INF;
    for (int j = threadIdx.x; j <= t; j += blockDim.x) m = fmaxf(m, s[j] * scale);
    m = block_max(m);
    float l = 0.f;
    for (int j = threadIdx.x; j <= t; j += blockDim.x) l += expf(s[j] * scale - m);
    l = block_sum(l);
    float inv = 1.f / l;
    for (int j = threadIdx.x; j < T; j += blockDim.x) s[j] = j <= t ? expf(s[j] * scale - m) * inv : 0.f;
    if (threadIdx.x == 0) lse_HT[row] = m + logf(l);
}

// Backward, after S = Q K^T was recomputed: P = exp(scale * S - lse) (0 above the diagonal) in place.
extern "C" __global__ void causal_probs_from_lse(float* S_HTT, const float* lse_HT, int H, int T, float scale) {
    int row = blockIdx.x;
    int t = row % T;
    float* s = S_HTT + (long long)row * T;
    float lse = lse_HT[row];
    for (int j = threadIdx.x; j < T; j += blockDim.x) s[j] = j <= t ? expf(s[j] * scale - lse) : 0.f;
}

// dS = P * (dP - delta) in place over dP (0 above the diagonal, where P is 0).
extern "C" __global__ void causal_score_grads(const float* P_HTT, float* dP_HTT, const float* delta_HT, int H, int T) {
    int row = blockIdx.x;
    long long base = (long long)row * T;
    float delta = delta_HT[row];
    for (int j = threadIdx.x; j < T; j += blockDim.x) dP_HTT[base + j] = P_HTT[base + j] * (dP_HTT[base + j] - delta);
}

// bf16 GEMM path: the same three stages, reading fp32 scores S and writing P (and dS) straight in bf16 for the next
// GEMMs, so no separate fp32 -> bf16 pass over the T x T matrices runs (S itself stays fp32: the softmax needs it).
extern "C" __global__ void causal_softmax_rows_bf16(const float* S_HTT, bf16_t* P_HTT, float* lse_HT, int H, int T,
                                                    float scale) {
    int row = blockIdx.x;  // h * T + t
    int t = row % T;
    const float* s = S_HTT + (long long)row * T;
    bf16_t* p = P_HTT + (long long)row * T;
    float m = NEG_INF;
    for (int j = threadIdx.x; j <= t; j += blockDim.x) m = fmaxf(m, s[j] * scale);
    m = block_max(m);
    float l = 0.f;
    for (int j = threadIdx.x; j <= t; j += blockDim.x) l += expf(s[j] * scale - m);
    l = block_sum(l);
    float inv = 1.f / l;
    for (int j = threadIdx.x; j < T; j += blockDim.x) p[j] = float_to_bf16(j <= t ? expf(s[j] * scale - m) * inv : 0.f);
    if (threadIdx.x == 0) lse_HT[row] = m + logf(l);
}

extern "C" __global__ void causal_probs_from_lse_bf16(const float* S_HTT, bf16_t* P_HTT, const float* lse_HT, int H,
                                                      int T, float scale) {
    int row = blockIdx.x;
    int t = row % T;
    const float* s = S_HTT + (long long)row * T;
    bf16_t* p = P_HTT + (long long)row * T;
    float lse = lse_HT[row];
    for (int j = threadIdx.x; j < T; j += blockDim.x) p[j] = float_to_bf16(j <= t ? expf(s[j] * scale - lse) : 0.f);
}

extern "C" __global__ void causal_score_grads_bf16(const bf16_t* P_HTT, const float* dP_HTT, bf16_t* dS_HTT,
                                                   const float* delta_HT, int H, int T) {
    int row = blockIdx.x;
    long long base = (long long)row * T;
    float delta = delta_HT[row];
    for (int j = threadIdx.x; j < T; j += blockDim.x)
        dS_HTT[base + j] = float_to_bf16(bf16_to_float(P_HTT[base + j]) * (dP_HTT[base + j] - delta));
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
