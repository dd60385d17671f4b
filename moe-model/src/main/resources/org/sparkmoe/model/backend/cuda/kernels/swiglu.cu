// SwiGLU elementwise: h = silu(gate) * up, over n elements. Outputs are fp32, or bf16 (the _bf16 entry points) where
// they are GEMM operands produced in the GEMMs' precision.
#include "common.cuh"

template <typename T>
__device__ __forceinline__ void swiglu_forward(const float* gate, const float* up, T* h, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float g = gate[i];
        store_value(h + i, g / (1.f + expf(-g)) * up[i]);
    }
}

// dGate = dh * up * silu'(g), silu'(g) = sigmoid(g) * (1 + g * (1 - sigmoid(g))); dUp = dh * silu(g). Overwrites.
template <typename T>
__device__ __forceinline__ void swiglu_backward(const float* dh, const float* gate, const float* up, T* dGate, T* dUp,
                                                long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float g = gate[i];
        float sig = 1.f / (1.f + expf(-g));
        float d = dh[i];
        store_value(dGate + i, d * up[i] * sig * (1.f + g * (1.f - sig)));
        store_value(dUp + i, d * g * sig);
    }
}

extern "C" __global__ void swiglu_fwd(const float* gate, const float* up, float* h, long long n) {
    swiglu_forward(gate, up, h, n);
}
extern "C" __global__ void swiglu_fwd_bf16(const float* gate, const float* up, bf16_t* h, long long n) {
    swiglu_forward(gate, up, h, n);
}
extern "C" __global__ void swiglu_bwd(const float* dh, const float* gate, const float* up, float* dGate, float* dUp,
                                      long long n) {
    swiglu_backward(dh, gate, up, dGate, dUp, n);
}
extern "C" __global__ void swiglu_bwd_bf16(const float* dh, const float* gate, const float* up, bf16_t* dGate,
                                           bf16_t* dUp, long long n) {
    swiglu_backward(dh, gate, up, dGate, dUp, n);
}
