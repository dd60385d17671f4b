// SwiGLU elementwise: h = silu(gate) * up, over n elements.
#include "common.cuh"

extern "C" __global__ void swiglu_fwd(const float* gate, const float* up, float* h, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float g = gate[i];
        h[i] = g / (1.f + expf(-g)) * up[i];
    }
}

// dGate = dh * up * silu'(g), silu'(g) = sigmoid(g) * (1 + g * (1 - sigmoid(g))); dUp = dh * silu(g). Overwrites.
extern "C" __global__ void swiglu_bwd(const float* dh, const float* gate, const float* up, float* dGate, float* dUp,
                                      long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float g = gate[i];
        float sig = 1.f / (1.f + expf(-g));
        float d = dh[i];
        dGate[i] = d * up[i] * sig * (1.f + g * (1.f - sig));
        dUp[i] = d * g * sig;
    }
}
