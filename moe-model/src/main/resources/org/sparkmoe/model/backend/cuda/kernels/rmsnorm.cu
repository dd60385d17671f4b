// RMSNorm, statistics in fp32, alone or fused with the residual add before it. Legend: R rows, D width, C chunks of
// rows in the backward. Where D is a multiple of 4 and every pointer allows it (aligned4), a thread moves 4
// consecutive values at a time; the norm alone and the norm after the add then sum their squares in the same order,
// so both give the same bits for the same input (backward computes the forward's norms again).
#include "common.cuh"

__device__ __forceinline__ float4 ld4(const float* p) { return *(const float4*)p; }
__device__ __forceinline__ float squares4(float ss, float4 v) {
    ss += v.x * v.x;
    ss += v.y * v.y;
    ss += v.z * v.z;
    return ss + v.w * v.w;
}
__device__ __forceinline__ float4 scaled4(float4 v, float rstd, float4 w) {
    return make_float4(v.x * rstd * w.x, v.y * rstd * w.y, v.z * rstd * w.z, v.w * rstd * w.w);
}

// rstd_R = 1/sqrt(mean(x^2)+eps); y_RD = x * rstd * w_D. One block per row.
extern "C" __global__ void rmsnorm_fwd(const float* x_RD, const float* w_D, float* y_RD, float* rstd_R, int R, int D,
                                       float eps) {
    int r = blockIdx.x;
    const float* x = x_RD + (long long)r * D;
    float* y = y_RD + (long long)r * D;
    bool vector = D % 4 == 0 && aligned4(x_RD) && aligned4(w_D) && aligned4(y_RD);
    float ss = 0.f;
    if (vector) {
        for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) ss = squares4(ss, ld4(x + d));
    } else {
        for (int d = threadIdx.x; d < D; d += blockDim.x) ss += x[d] * x[d];
    }
    ss = block_sum(ss);
    float rstd = rsqrtf(ss / D + eps);
    if (threadIdx.x == 0) rstd_R[r] = rstd;
    if (vector) {
        for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) {
            *(float4*)(y + d) = scaled4(ld4(x + d), rstd, ld4(w_D + d));
        }
    } else {
        for (int d = threadIdx.x; d < D; d += blockDim.x) y[d] = x[d] * rstd * w_D[d];
    }
}

// The residual add and the norm after it in one pass: sum_RD = x_RD + b_RD, then rstd_R and y_RD as rmsnorm_fwd of
// sum. sum may alias x or b: each element is read and written by one thread, which reads its own sums back. One block
// per row.
extern "C" __global__ void rmsnorm_residual_fwd(const float* x_RD, const float* b_RD, float* sum_RD, const float* w_D,
                                                float* y_RD, float* rstd_R, int R, int D, float eps) {
    int r = blockIdx.x;
    long long row = (long long)r * D;
    bool vector = D % 4 == 0 && aligned4(x_RD) && aligned4(b_RD) && aligned4(sum_RD) && aligned4(w_D) && aligned4(y_RD);
    float ss = 0.f;
    if (vector) {
        for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) {
            float4 a = ld4(x_RD + row + d), b = ld4(b_RD + row + d);
            float4 sum = make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
            *(float4*)(sum_RD + row + d) = sum;
            ss = squares4(ss, sum);
        }
    } else {
        for (int d = threadIdx.x; d < D; d += blockDim.x) {
            float s = x_RD[row + d] + b_RD[row + d];
            sum_RD[row + d] = s;
            ss += s * s;
        }
    }
    ss = block_sum(ss);
    float rstd = rsqrtf(ss / D + eps);
    if (threadIdx.x == 0) rstd_R[r] = rstd;
    if (vector) {
        for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) {
            *(float4*)(y_RD + row + d) = scaled4(ld4(sum_RD + row + d), rstd, ld4(w_D + d));
        }
    } else {
        for (int d = threadIdx.x; d < D; d += blockDim.x) y_RD[row + d] = sum_RD[row + d] * rstd * w_D[d];
    }
}

// The backward in one pass over dy and x: dx_RD += rstd*w*dy - x*rstd^3/D * sum(dy*w*x), and partial_CD[c] = the sum
// over chunk c's rows of dy*x*rstd (dw's share of the chunk). Block c takes rows [c*rowsPerChunk, ...); its warp w
// takes the chunk's rows w, w + warps, ... (lanes over the columns) and adds its dw terms into its own row of the
// dynamic shared memory (warps x D floats); the warps' rows are summed in warp order at the end (deterministic).
extern "C" __global__ void rmsnorm_bwd(const float* dy_RD, const float* x_RD, const float* w_D, const float* rstd_R,
                                       float* dx_RD, float* partial_CD, int R, int D, int rowsPerChunk) {
    extern __shared__ float dwShared[];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    float* dwWarp = dwShared + (long long)warp * D;
    for (int d = lane; d < D; d += 32) dwWarp[d] = 0.f;
    int begin = blockIdx.x * rowsPerChunk, end = min(R, begin + rowsPerChunk);
    bool vector = D % 4 == 0 && aligned4(dy_RD) && aligned4(x_RD) && aligned4(w_D) && aligned4(dx_RD);
    for (int r = begin + warp; r < end; r += warps) {
        const float* dy = dy_RD + (long long)r * D;
        const float* x = x_RD + (long long)r * D;
        float* dx = dx_RD + (long long)r * D;
        float dot = 0.f;
        if (vector) {
            for (int d = 4 * lane; d < D; d += 128) {
                float4 g = ld4(dy + d), w = ld4(w_D + d), v = ld4(x + d);
                dot += g.x * w.x * v.x;
                dot += g.y * w.y * v.y;
                dot += g.z * w.z * v.z;
                dot += g.w * w.w * v.w;
            }
        } else {
            for (int d = lane; d < D; d += 32) dot += dy[d] * w_D[d] * x[d];
        }
        dot = warp_sum(dot);
        float rstd = rstd_R[r];
        float c = dot * rstd * rstd * rstd / D;
        if (vector) {
            for (int d = 4 * lane; d < D; d += 128) {
                float4 g = ld4(dy + d), w = ld4(w_D + d), v = ld4(x + d), o = ld4(dx + d);
                float4 acc = *(float4*)(dwWarp + d);
                *(float4*)(dx + d) =
                        make_float4(o.x + (rstd * w.x * g.x - c * v.x), o.y + (rstd * w.y * g.y - c * v.y),
                                    o.z + (rstd * w.z * g.z - c * v.z), o.w + (rstd * w.w * g.w - c * v.w));
                *(float4*)(dwWarp + d) = make_float4(acc.x + g.x * v.x * rstd, acc.y + g.y * v.y * rstd,
                                                     acc.z + g.z * v.z * rstd, acc.w + g.w * v.w * rstd);
            }
        } else {
            for (int d = lane; d < D; d += 32) {
                float g = dy[d], v = x[d];
                dx[d] += rstd * w_D[d] * g - c * v;
                dwWarp[d] += g * v * rstd;
            }
        }
    }
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.f;
        for (int w = 0; w < warps; w++) acc += dwShared[(long long)w * D + d];
        partial_CD[(long long)blockIdx.x * D + d] = acc;
    }
}

// dw_D += sum over chunks of partial_CD, in a fixed order. A block of 8 warps covers 32 columns (lane = column):
// warp w sums chunks w, w + 8, ..., then the 8 warp sums are added in warp order.
extern "C" __global__ void rmsnorm_bwd_dw_reduce(const float* partial_CD, float* dw_D, int C, int D) {
    __shared__ float warpSums[8][32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int d = blockIdx.x * 32 + lane;
    float acc = 0.f;
    if (d < D) {
        for (int c = warp; c < C; c += 8) acc += partial_CD[(long long)c * D + d];
    }
    warpSums[warp][lane] = acc;
    __syncthreads();
    if (warp == 0 && d < D) {
        float total = 0.f;
        for (int w = 0; w < 8; w++) total += warpSums[w][lane];
        dw_D[d] += total;
    }
}
