// RMSNorm, statistics in fp32. Legend: R rows, D width.
#include "common.cuh"

// rstd_R = 1/sqrt(mean(x^2)+eps); y_RD = x * rstd * w_D. One block per row.
extern "C" __global__ void rmsnorm_fwd(const float* x_RD, const float* w_D, float* y_RD, float* rstd_R, int R, int D,
                                       float eps) {
    int r = blockIdx.x;
    const float* x = x_RD + (long long)r * D;
    float ss = 0.f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) ss += x[d] * x[d];
    ss = block_sum(ss);
    float rstd = rsqrtf(ss / D + eps);
    if (threadIdx.x == 0) rstd_R[r] = rstd;
    for (int d = threadIdx.x; d < D; d += blockDim.x) y_RD[(long long)r * D + d] = x[d] * rstd * w_D[d];
}

// dx_RD += rstd*w*dy - x*rstd^3/D * sum(dy*w*x). One block per row.
extern "C" __global__ void rmsnorm_bwd_dx(const float* dy_RD, const float* x_RD, const float* w_D, const float* rstd_R,
                                          float* dx_RD, int R, int D) {
    int r = blockIdx.x;
    const float* x = x_RD + (long long)r * D;
    const float* dy = dy_RD + (long long)r * D;
    float dot = 0.f;
    for (int d = threadIdx.x; d < D; d += blockDim.x) dot += dy[d] * w_D[d] * x[d];
    dot = block_sum(dot);
    float rstd = rstd_R[r];
    float c = dot * rstd * rstd * rstd / D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) dx_RD[(long long)r * D + d] += rstd * w_D[d] * dy[d] - c * x[d];
}

// partial_CD[c][d] = sum over rows in chunk c of dy*x*rstd (fixed row order per chunk: deterministic).
// Grid (ceil(D/blockDim), C); rows split into C chunks of rowsPerChunk.
extern "C" __global__ void rmsnorm_bwd_dw_partial(const float* dy_RD, const float* x_RD, const float* rstd_R,
                                                  float* partial_CD, int R, int D, int rowsPerChunk) {
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    int begin = blockIdx.y * rowsPerChunk, end = min(R, begin + rowsPerChunk);
    float acc = 0.f;
    for (int r = begin; r < end; r++) acc += dy_RD[(long long)r * D + d] * x_RD[(long long)r * D + d] * rstd_R[r];
    partial_CD[(long long)blockIdx.y * D + d] = acc;
}

// dw_D += sum over chunks of partial_CD, in chunk order.
extern "C" __global__ void rmsnorm_bwd_dw_reduce(const float* partial_CD, float* dw_D, int C, int D) {
    int d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= D) return;
    float acc = 0.f;
    for (int c = 0; c < C; c++) acc += partial_CD[(long long)c * D + d];
    dw_D[d] += acc;
}
