// SwiGLU elementwise: h = silu(gate) * up, over n elements. Outputs are fp32, or bf16 (the _bf16 entry points) where
// they are GEMM operands produced in the GEMMs' precision.
#include "common.cuh"

__device__ __forceinline__ float swiglu(float g, float u) { return g / (1.f + expf(-g)) * u; }

// Four elements at a time where every pointer allows (aligned4), then the rest one by one.
template <typename T>
__device__ __forceinline__ void swiglu_forward(const float* gate, const float* up, T* h, long long n) {
    long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    long long quads = aligned4(gate) && aligned4(up) && aligned4(h) ? n / 4 : 0;
    for (long long q = first; q < quads; q += stride) {
        float4 g = ((const float4*)gate)[q], u = ((const float4*)up)[q];
        store_values4(h + 4 * q, make_float4(swiglu(g.x, u.x), swiglu(g.y, u.y), swiglu(g.z, u.z), swiglu(g.w, u.w)));
    }
    for (long long i = 4 * quads + first; i < n; i += stride) store_value(h + i, swiglu(gate[i], up[i]));
}

// dGate = dh * up * silu'(g), silu'(g) = sigmoid(g) * (1 + g * (1 - sigmoid(g))); dUp = dh * silu(g).
__device__ __forceinline__ void swiglu_grads(float d, float g, float u, float& dGate, float& dUp) {
    float sig = 1.f / (1.f + expf(-g));
    dGate = d * u * sig * (1.f + g * (1.f - sig));
    dUp = d * g * sig;
}

// Overwrites h (the forward's output again, the same bits as swiglu_forward), dGate and dUp; four elements at a time
// where every pointer allows, then the rest one by one.
template <typename T>
__device__ __forceinline__ void swiglu_backward(const float* dh, const float* gate, const float* up, T* h, T* dGate,
                                                T* dUp, long long n) {
    long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    bool vector = aligned4(dh) && aligned4(gate) && aligned4(up) && aligned4(h) && aligned4(dGate) && aligned4(dUp);
    long long quads = vector ? n / 4 : 0;
    for (long long q = first; q < quads; q += stride) {
        float4 d = ((const float4*)dh)[q], g = ((const float4*)gate)[q], u = ((const float4*)up)[q];
        float4 dg, du;
        swiglu_grads(d.x, g.x, u.x, dg.x, du.x);
        swiglu_grads(d.y, g.y, u.y, dg.y, du.y);
        swiglu_grads(d.z, g.z, u.z, dg.z, du.z);
        swiglu_grads(d.w, g.w, u.w, dg.w, du.w);
        store_values4(h + 4 * q, make_float4(swiglu(g.x, u.x), swiglu(g.y, u.y), swiglu(g.z, u.z), swiglu(g.w, u.w)));
        store_values4(dGate + 4 * q, dg);
        store_values4(dUp + 4 * q, du);
    }
    for (long long i = 4 * quads + first; i < n; i += stride) {
        float dg, du;
        swiglu_grads(dh[i], gate[i], up[i], dg, du);
        store_value(h + i, swiglu(gate[i], up[i]));
        store_value(dGate + i, dg);
        store_value(dUp + i, du);
    }
}

extern "C" __global__ void swiglu_fwd(const float* gate, const float* up, float* h, long long n) {
    swiglu_forward(gate, up, h, n);
}
extern "C" __global__ void swiglu_fwd_bf16(const float* gate, const float* up, bf16_t* h, long long n) {
    swiglu_forward(gate, up, h, n);
}
extern "C" __global__ void swiglu_bwd(const float* dh, const float* gate, const float* up, float* h, float* dGate,
                                      float* dUp, long long n) {
    swiglu_backward(dh, gate, up, h, dGate, dUp, n);
}
extern "C" __global__ void swiglu_bwd_bf16(const float* dh, const float* gate, const float* up, bf16_t* h,
                                           bf16_t* dGate, bf16_t* dUp, long long n) {
    swiglu_backward(dh, gate, up, h, dGate, dUp, n);
}
