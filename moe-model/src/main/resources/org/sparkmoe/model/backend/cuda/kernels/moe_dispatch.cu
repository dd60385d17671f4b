// Token dispatch into the expert-major slab and gate-weighted combine back. Legend: R rows, K experts per token,
// S slots (= R*K), D width; slot_RK[r,k] is the slab row of assignment (r, k). One block per token row; every
// sum runs over k in fixed order, so results are deterministic.
#include "common.cuh"

// slab_SD[slot[r,k]] = x_RD[r]; the slab fp32, or bf16 where it is a GEMM operand produced in the GEMMs' precision.
template <typename T>
__device__ __forceinline__ void dispatch(const float* x_RD, const int* slot_RK, T* slab_SD, int K, int D) {
    int r = blockIdx.x;
    for (int k = 0; k < K; k++) {
        T* dst = slab_SD + (long long)slot_RK[(long long)r * K + k] * D;
        for (int d = threadIdx.x; d < D; d += blockDim.x) store_value(dst + d, x_RD[(long long)r * D + d]);
    }
}

extern "C" __global__ void dispatch_rows(const float* x_RD, const int* slot_RK, float* slab_SD, int R, int K, int D) {
    dispatch(x_RD, slot_RK, slab_SD, K, D);
}
extern "C" __global__ void dispatch_rows_bf16(const float* x_RD, const int* slot_RK, bf16_t* slab_SD, int R, int K,
                                              int D) {
    dispatch(x_RD, slot_RK, slab_SD, K, D);
}

// dx_RD[r] += sum_k dSlab_SD[slot[r,k]], or = without accumulate (the bits of adding into zeros).
extern "C" __global__ void dispatch_rows_bwd(const float* dSlab_SD, const int* slot_RK, float* dx_RD, int R, int K,
                                             int D, int accumulate) {
    int r = blockIdx.x;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.f;
        for (int k = 0; k < K; k++) acc += dSlab_SD[(long long)slot_RK[(long long)r * K + k] * D + d];
        long long at = (long long)r * D + d;
        dx_RD[at] = accumulate ? dx_RD[at] + acc : acc;
    }
}

// out_RD[r] += sum_k weight[r,k] * y_SD[slot[r,k]], accumulated in fp32; = without accumulate (the bits of adding
// into zeros, with no pass to zero out first).
extern "C" __global__ void combine_rows(const float* y_SD, const int* slot_RK, const float* weight_RK, float* out_RD,
                                        int R, int K, int D, int accumulate) {
    int r = blockIdx.x;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.f;
        for (int k = 0; k < K; k++)
            acc += weight_RK[(long long)r * K + k] * y_SD[(long long)slot_RK[(long long)r * K + k] * D + d];
        long long at = (long long)r * D + d;
        out_RD[at] = accumulate ? out_RD[at] + acc : acc;
    }
}

// dY_SD[slot[r,k]] = weight[r,k] * dOut[r] (fp32, or bf16 where dY is a GEMM operand produced in the GEMMs'
// precision); dWeight_RK[r,k] = dOut[r] . y[slot[r,k]]. Overwrites both.
template <typename T>
__device__ __forceinline__ void combine_backward(const float* dOut_RD, const float* y_SD, const int* slot_RK,
                                                 const float* weight_RK, T* dY_SD, float* dWeight_RK, int K, int D) {
    int r = blockIdx.x;
    const float* g = dOut_RD + (long long)r * D;
    for (int k = 0; k < K; k++) {
        long long slotRow = (long long)slot_RK[(long long)r * K + k] * D;
        float w = weight_RK[(long long)r * K + k];
        float dot = 0.f;
        for (int d = threadIdx.x; d < D; d += blockDim.x) {
            dot += g[d] * y_SD[slotRow + d];
            store_value(dY_SD + slotRow + d, w * g[d]);
        }
        dot = block_sum(dot);
        if (threadIdx.x == 0) dWeight_RK[(long long)r * K + k] = dot;
    }
}

extern "C" __global__ void combine_rows_bwd(const float* dOut_RD, const float* y_SD, const int* slot_RK,
                                            const float* weight_RK, float* dY_SD, float* dWeight_RK, int R, int K,
                                            int D) {
    combine_backward(dOut_RD, y_SD, slot_RK, weight_RK, dY_SD, dWeight_RK, K, D);
}
extern "C" __global__ void combine_rows_bwd_bf16(const float* dOut_RD, const float* y_SD, const int* slot_RK,
                                                 const float* weight_RK, bf16_t* dY_SD, float* dWeight_RK, int R,
                                                 int K, int D) {
    combine_backward(dOut_RD, y_SD, slot_RK, weight_RK, dY_SD, dWeight_RK, K, D);
}
