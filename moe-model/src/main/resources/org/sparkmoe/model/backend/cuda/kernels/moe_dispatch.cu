// Token dispatch into the expert-major slab and gate-weighted combine back. Legend: R rows, K experts per token,
// S slots (= R*K), D width; slot_RK[r,k] is the slab row of assignment (r, k). One block per token row; every
// sum runs over k in fixed order, so results are deterministic. Where D is a multiple of 4 and every pointer allows
// it (aligned4), a thread moves 4 consecutive values of a row at a time.
#include "common.cuh"

__device__ __forceinline__ float4 load4(const float* p) { return *(const float4*)p; }
__device__ __forceinline__ float4 fma4(float w, float4 y, float4 acc) {
    return make_float4(acc.x + w * y.x, acc.y + w * y.y, acc.z + w * y.z, acc.w + w * y.w);
}
__device__ __forceinline__ float4 add4(float4 a, float4 b) {
    return make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

// slab_SD[slot[r,k]] = x_RD[r]; the slab fp32, or bf16 where it is a GEMM operand produced in the GEMMs' precision.
template <typename T>
__device__ __forceinline__ void dispatch(const float* x_RD, const int* slot_RK, T* slab_SD, int K, int D) {
    int r = blockIdx.x;
    const float* x = x_RD + (long long)r * D;
    if (D % 4 == 0 && aligned4(x_RD) && aligned4(slab_SD)) {
        for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) {
            float4 v = load4(x + d);
            for (int k = 0; k < K; k++) store_values4(slab_SD + (long long)slot_RK[(long long)r * K + k] * D + d, v);
        }
        return;
    }
    for (int k = 0; k < K; k++) {
        T* dst = slab_SD + (long long)slot_RK[(long long)r * K + k] * D;
        for (int d = threadIdx.x; d < D; d += blockDim.x) store_value(dst + d, x[d]);
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
    const int* slots = slot_RK + (long long)r * K;
    float* dx = dx_RD + (long long)r * D;
    if (D % 4 == 0 && aligned4(dSlab_SD) && aligned4(dx_RD)) {
        for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) {
            float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
            for (int k = 0; k < K; k++) acc = add4(acc, load4(dSlab_SD + (long long)slots[k] * D + d));
            *(float4*)(dx + d) = accumulate ? add4(load4(dx + d), acc) : acc;
        }
        return;
    }
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.f;
        for (int k = 0; k < K; k++) acc += dSlab_SD[(long long)slots[k] * D + d];
        dx[d] = accumulate ? dx[d] + acc : acc;
    }
}

// out_RD[r] += sum_k weight[r,k] * y_SD[slot[r,k]], accumulated in fp32; = without accumulate (the bits of adding
// into zeros, with no pass to zero out first).
extern "C" __global__ void combine_rows(const float* y_SD, const int* slot_RK, const float* weight_RK, float* out_RD,
                                        int R, int K, int D, int accumulate) {
    int r = blockIdx.x;
    const int* slots = slot_RK + (long long)r * K;
    const float* weights = weight_RK + (long long)r * K;
    float* out = out_RD + (long long)r * D;
    if (D % 4 == 0 && aligned4(y_SD) && aligned4(out_RD)) {
        for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) {
            float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
            for (int k = 0; k < K; k++) acc = fma4(weights[k], load4(y_SD + (long long)slots[k] * D + d), acc);
            *(float4*)(out + d) = accumulate ? add4(load4(out + d), acc) : acc;
        }
        return;
    }
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.f;
        for (int k = 0; k < K; k++) acc += weights[k] * y_SD[(long long)slots[k] * D + d];
        out[d] = accumulate ? out[d] + acc : acc;
    }
}

// dY_SD[slot[r,k]] = weight[r,k] * dOut[r] (fp32, or bf16 where dY is a GEMM operand produced in the GEMMs'
// precision); dWeight_RK[r,k] = dOut[r] . y[slot[r,k]]. Overwrites both.
template <typename T>
__device__ __forceinline__ void combine_backward(const float* dOut_RD, const float* y_SD, const int* slot_RK,
                                                 const float* weight_RK, T* dY_SD, float* dWeight_RK, int K, int D) {
    int r = blockIdx.x;
    const float* g = dOut_RD + (long long)r * D;
    bool vector = D % 4 == 0 && aligned4(dOut_RD) && aligned4(y_SD) && aligned4(dY_SD);
    for (int k = 0; k < K; k++) {
        long long slotRow = (long long)slot_RK[(long long)r * K + k] * D;
        float w = weight_RK[(long long)r * K + k];
        float dot = 0.f;
        if (vector) {
            for (int d = 4 * threadIdx.x; d < D; d += 4 * blockDim.x) {
                float4 gv = load4(g + d), y = load4(y_SD + slotRow + d);
                dot += gv.x * y.x + gv.y * y.y + gv.z * y.z + gv.w * y.w;
                store_values4(dY_SD + slotRow + d, make_float4(w * gv.x, w * gv.y, w * gv.z, w * gv.w));
            }
        } else {
            for (int d = threadIdx.x; d < D; d += blockDim.x) {
                dot += g[d] * y_SD[slotRow + d];
                store_value(dY_SD + slotRow + d, w * g[d]);
            }
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
