// Causal multi-head attention, flash-style: scores never reach memory. fp32 math.
// Legend: B batch, T sequence, H heads, DH head dim; q, k, v, out, dq, dk, dv in [B, T, H, DH] (rows of H*DH);
// lse_BHT and delta_BHT in [B, H, T]. One warp per query row (forward, dq) or key row (dk, dv); lane l holds
// elements l, l+32, ... of a head row, so loads are coalesced and the dot products end in a warp reduction.
// Softmax is online (running max and sum), so one pass over the keys suffices.
#include "common.cuh"

#define WARPS_PER_BLOCK 4

template <int DH>
__device__ void attention_fwd(const float* q, const float* k, const float* v, float* out, float* lse_BHT, int B, int T,
                              int H) {
    constexpr int EPL = DH / 32;
    int lane = threadIdx.x & 31;
    int t = blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5);
    if (t >= T) return;
    int h = blockIdx.y, b = blockIdx.z;
    long long rowStride = (long long)H * DH;
    const float scale = rsqrtf((float)DH);
    const float* qp = q + ((long long)b * T + t) * rowStride + h * DH;
    float qr[EPL], acc[EPL];
#pragma unroll
    for (int e = 0; e < EPL; e++) { qr[e] = qp[lane + 32 * e] * scale; acc[e] = 0.f; }
    float m = NEG_INF, l = 0.f;
    for (int j = 0; j <= t; j++) {
        const float* kp = k + ((long long)b * T + j) * rowStride + h * DH;
        const float* vp = v + ((long long)b * T + j) * rowStride + h * DH;
        float s = 0.f;
#pragma unroll
        for (int e = 0; e < EPL; e++) s += qr[e] * kp[lane + 32 * e];
        s = warp_sum(s);
        float mNew = fmaxf(m, s);
        float correction = expf(m - mNew);
        float p = expf(s - mNew);
        l = l * correction + p;
#pragma unroll
        for (int e = 0; e < EPL; e++) acc[e] = acc[e] * correction + p * vp[lane + 32 * e];
        m = mNew;
    }
    float* op = out + ((long long)b * T + t) * rowStride + h * DH;
    float inv = 1.f / l;
#pragma unroll
    for (int e = 0; e < EPL; e++) op[lane + 32 * e] = acc[e] * inv;
    if (lane == 0) lse_BHT[((long long)b * H + h) * T + t] = m + logf(l);
}

// delta_BHT = rowsum(dOut * out), the softmax-backward term shared by every key of a query.
template <int DH>
__device__ void attention_bwd_delta(const float* dOut, const float* out, float* delta_BHT, int B, int T, int H) {
    constexpr int EPL = DH / 32;
    int lane = threadIdx.x & 31;
    int t = blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5);
    if (t >= T) return;
    int h = blockIdx.y, b = blockIdx.z;
    long long base = ((long long)b * T + t) * H * DH + h * DH;
    float s = 0.f;
#pragma unroll
    for (int e = 0; e < EPL; e++) s += dOut[base + lane + 32 * e] * out[base + lane + 32 * e];
    s = warp_sum(s);
    if (lane == 0) delta_BHT[((long long)b * H + h) * T + t] = s;
}

// dq_t = scale * sum_{j<=t} P_tj (dP_tj - delta_t) k_j, with P recomputed from lse.
template <int DH>
__device__ void attention_bwd_dq(const float* dOut, const float* q, const float* k, const float* v,
                                 const float* lse_BHT, const float* delta_BHT, float* dq, int B, int T, int H) {
    constexpr int EPL = DH / 32;
    int lane = threadIdx.x & 31;
    int t = blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5);
    if (t >= T) return;
    int h = blockIdx.y, b = blockIdx.z;
    long long rowStride = (long long)H * DH;
    const float scale = rsqrtf((float)DH);
    long long base = ((long long)b * T + t) * rowStride + h * DH;
    float qr[EPL], dor[EPL], acc[EPL];
#pragma unroll
    for (int e = 0; e < EPL; e++) { qr[e] = q[base + lane + 32 * e] * scale; dor[e] = dOut[base + lane + 32 * e]; acc[e] = 0.f; }
    float lse = lse_BHT[((long long)b * H + h) * T + t];
    float delta = delta_BHT[((long long)b * H + h) * T + t];
    for (int j = 0; j <= t; j++) {
        const float* kp = k + ((long long)b * T + j) * rowStride + h * DH;
        const float* vp = v + ((long long)b * T + j) * rowStride + h * DH;
        float s = 0.f, dp = 0.f;
#pragma unroll
        for (int e = 0; e < EPL; e++) { s += qr[e] * kp[lane + 32 * e]; dp += dor[e] * vp[lane + 32 * e]; }
        s = warp_sum(s);
        dp = warp_sum(dp);
        float ds = expf(s - lse) * (dp - delta);
#pragma unroll
        for (int e = 0; e < EPL; e++) acc[e] += ds * kp[lane + 32 * e];
    }
#pragma unroll
    for (int e = 0; e < EPL; e++) dq[base + lane + 32 * e] = acc[e] * scale;
}

// dv_j = sum_{t>=j} P_tj dOut_t; dk_j = scale * sum_{t>=j} P_tj (dP_tj - delta_t) q_t.
template <int DH>
__device__ void attention_bwd_dkv(const float* dOut, const float* q, const float* k, const float* v,
                                  const float* lse_BHT, const float* delta_BHT, float* dk, float* dv, int B, int T,
                                  int H) {
    constexpr int EPL = DH / 32;
    int lane = threadIdx.x & 31;
    int j = blockIdx.x * WARPS_PER_BLOCK + (threadIdx.x >> 5);
    if (j >= T) return;
    int h = blockIdx.y, b = blockIdx.z;
    long long rowStride = (long long)H * DH;
    const float scale = rsqrtf((float)DH);
    long long base = ((long long)b * T + j) * rowStride + h * DH;
    float kr[EPL], vr[EPL], dkAcc[EPL], dvAcc[EPL];
#pragma unroll
    for (int e = 0; e < EPL; e++) {
        kr[e] = k[base + lane + 32 * e]; vr[e] = v[base + lane + 32 * e]; dkAcc[e] = 0.f; dvAcc[e] = 0.f;
    }
    const float* lseRow = lse_BHT + ((long long)b * H + h) * T;
    const float* deltaRow = delta_BHT + ((long long)b * H + h) * T;
    for (int t = j; t < T; t++) {
        const float* qp = q + ((long long)b * T + t) * rowStride + h * DH;
        const float* dop = dOut + ((long long)b * T + t) * rowStride + h * DH;
        float s = 0.f, dp = 0.f;
#pragma unroll
        for (int e = 0; e < EPL; e++) { s += qp[lane + 32 * e] * kr[e]; dp += dop[lane + 32 * e] * vr[e]; }
        s = warp_sum(s) * scale;
        dp = warp_sum(dp);
        float p = expf(s - lseRow[t]);
        float ds = p * (dp - deltaRow[t]);
#pragma unroll
        for (int e = 0; e < EPL; e++) {
            dvAcc[e] += p * dop[lane + 32 * e];
            dkAcc[e] += ds * qp[lane + 32 * e];
        }
    }
#pragma unroll
    for (int e = 0; e < EPL; e++) { dk[base + lane + 32 * e] = dkAcc[e] * scale; dv[base + lane + 32 * e] = dvAcc[e]; }
}

// Entry points, one set per supported head dim (written out so each name is greppable and listed by KernelSources).
extern "C" __global__ void attention_fwd_hd32(const float* q, const float* k, const float* v, float* out, float* lse,
                                             int B, int T, int H) {
    attention_fwd<32>(q, k, v, out, lse, B, T, H);
}
extern "C" __global__ void attention_bwd_delta_hd32(const float* dOut, const float* out, float* delta, int B, int T, int H) {
    attention_bwd_delta<32>(dOut, out, delta, B, T, H);
}
extern "C" __global__ void attention_bwd_dq_hd32(const float* dOut, const float* q, const float* k, const float* v,
                                                const float* lse, const float* delta, float* dq, int B, int T, int H) {
    attention_bwd_dq<32>(dOut, q, k, v, lse, delta, dq, B, T, H);
}
extern "C" __global__ void attention_bwd_dkv_hd32(const float* dOut, const float* q, const float* k, const float* v,
                                                 const float* lse, const float* delta, float* dk, float* dv, int B, int T,
                                                 int H) {
    attention_bwd_dkv<32>(dOut, q, k, v, lse, delta, dk, dv, B, T, H);
}
extern "C" __global__ void attention_fwd_hd64(const float* q, const float* k, const float* v, float* out, float* lse,
                                             int B, int T, int H) {
    attention_fwd<64>(q, k, v, out, lse, B, T, H);
}
extern "C" __global__ void attention_bwd_delta_hd64(const float* dOut, const float* out, float* delta, int B, int T, int H) {
    attention_bwd_delta<64>(dOut, out, delta, B, T, H);
}
extern "C" __global__ void attention_bwd_dq_hd64(const float* dOut, const float* q, const float* k, const float* v,
                                                const float* lse, const float* delta, float* dq, int B, int T, int H) {
    attention_bwd_dq<64>(dOut, q, k, v, lse, delta, dq, B, T, H);
}
extern "C" __global__ void attention_bwd_dkv_hd64(const float* dOut, const float* q, const float* k, const float* v,
                                                 const float* lse, const float* delta, float* dk, float* dv, int B, int T,
                                                 int H) {
    attention_bwd_dkv<64>(dOut, q, k, v, lse, delta, dk, dv, B, T, H);
}
extern "C" __global__ void attention_fwd_hd128(const float* q, const float* k, const float* v, float* out, float* lse,
                                             int B, int T, int H) {
    attention_fwd<128>(q, k, v, out, lse, B, T, H);
}
extern "C" __global__ void attention_bwd_delta_hd128(const float* dOut, const float* out, float* delta, int B, int T, int H) {
    attention_bwd_delta<128>(dOut, out, delta, B, T, H);
}
extern "C" __global__ void attention_bwd_dq_hd128(const float* dOut, const float* q, const float* k, const float* v,
                                                const float* lse, const float* delta, float* dq, int B, int T, int H) {
    attention_bwd_dq<128>(dOut, q, k, v, lse, delta, dq, B, T, H);
}
extern "C" __global__ void attention_bwd_dkv_hd128(const float* dOut, const float* q, const float* k, const float* v,
                                                 const float* lse, const float* delta, float* dk, float* dv, int B, int T,
                                                 int H) {
    attention_bwd_dkv<128>(dOut, q, k, v, lse, delta, dk, dv, B, T, H);
}
