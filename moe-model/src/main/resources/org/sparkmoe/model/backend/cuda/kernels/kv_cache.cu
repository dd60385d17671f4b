// Generation with a KV cache: RoPE at each row's own position, and attention of new query rows against the cache.
// Forward only. Legend: R rows, H heads, DH head dim; q, out, x in [R, H, DH]; kCache, vCache in [S*C, H, DH]
// (sequence s owns rows s*C .. s*C + C - 1, one per position); slots_R, positions_R int32: row r sits at cache row
// slots[r] = s*C + p, position p = positions[r].
#include "common.cuh"

// Rotate-half RoPE in place with the frequencies and rounding of rope_inplace (rope.cu), the position of row r being
// positions_R[r]. One thread per (row, head, pair).
extern "C" __global__ void rope_positions(float* x, const int* positions_R, int R, int H, int DH, float theta) {
    long long half = DH / 2;
    long long total = (long long)R * H * half;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        int i = (int)(idx % half);
        long long rowHead = idx / half;        // r*H + h
        int t = positions_R[rowHead / H];
        float invFreq = (float)(1.0 / pow((double)theta, 2.0 * i / DH));
        float angle = t * invFreq;
        double s, c;
        sincos((double)angle, &s, &c);
        float cs = (float)c, sn = (float)s;
        float* p = x + rowHead * DH;
        float x1 = p[i], x2 = p[i + half];
        p[i] = x1 * cs - x2 * sn;
        p[i + half] = x2 * cs + x1 * sn;
    }
}

#define CACHED_WARPS 4
// Elements of a head row per lane: head dims up to 32 * CACHED_MAX_EPL.
#define CACHED_MAX_EPL 8

// out_r = softmax(q_r . K^T / sqrt(DH)) . V over the cache rows slots[r] - positions[r] .. slots[r], per head, in fp32.
// One block of CACHED_WARPS warps per (row, head): warp w takes keys w, w + CACHED_WARPS, ... with an online softmax
// (running max and sum); lane l holds elements l, l + 32, ... of the head row. The warps' partial results are then
// merged through shared memory.
extern "C" __global__ void __launch_bounds__(32 * CACHED_WARPS)
attention_cached(const float* q, const float* kCache, const float* vCache, float* out, const int* slots_R,
                 const int* positions_R, int R, int H, int DH) {
    __shared__ float partialMax[CACHED_WARPS];
    __shared__ float partialSum[CACHED_WARPS];
    __shared__ float partialAcc[CACHED_WARPS][32 * CACHED_MAX_EPL];
    int r = blockIdx.x, h = blockIdx.y;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    long long rowStride = (long long)H * DH;
    int p = positions_R[r];
    long long first = (long long)slots_R[r] - p;
    const float scale = rsqrtf((float)DH);
    const float* qp = q + (long long)r * rowStride + h * DH;
    float qr[CACHED_MAX_EPL], acc[CACHED_MAX_EPL];
#pragma unroll
    for (int e = 0; e < CACHED_MAX_EPL; e++) {
        int d = lane + 32 * e;
        qr[e] = d < DH ? qp[d] * scale : 0.f;
        acc[e] = 0.f;
    }
    float m = NEG_INF, l = 0.f;
    for (int j = warp; j <= p; j += CACHED_WARPS) {
        const float* kp = kCache + (first + j) * rowStride + h * DH;
        const float* vp = vCache + (first + j) * rowStride + h * DH;
        float s = 0.f;
#pragma unroll
        for (int e = 0; e < CACHED_MAX_EPL; e++) {
            int d = lane + 32 * e;
            if (d < DH) s += qr[e] * kp[d];
        }
        s = warp_sum(s);
        float mNew = fmaxf(m, s);
        float correction = expf(m - mNew);
        float w = expf(s - mNew);
        l = l * correction + w;
#pragma unroll
        for (int e = 0; e < CACHED_MAX_EPL; e++) {
            int d = lane + 32 * e;
            acc[e] = acc[e] * correction + (d < DH ? w * vp[d] : 0.f);
        }
        m = mNew;
    }
    if (lane == 0) {
        partialMax[warp] = m;
        partialSum[warp] = l;
    }
#pragma unroll
    for (int e = 0; e < CACHED_MAX_EPL; e++) partialAcc[warp][lane + 32 * e] = acc[e];
    __syncthreads();
    // Warp 0 always has key 0, so the overall max is finite; a warp without keys weighs exp(-inf) = 0.
    float overall = NEG_INF;
    for (int w = 0; w < CACHED_WARPS; w++) overall = fmaxf(overall, partialMax[w]);
    float total = 0.f;
    for (int w = 0; w < CACHED_WARPS; w++) total += partialSum[w] * expf(partialMax[w] - overall);
    float inv = 1.f / total;
    float* op = out + (long long)r * rowStride + h * DH;
    for (int d = threadIdx.x; d < DH; d += blockDim.x) {
        float sum = 0.f;
        for (int w = 0; w < CACHED_WARPS; w++) sum += partialAcc[w][d] * expf(partialMax[w] - overall);
        op[d] = sum * inv;
    }
}
