// Elementwise fp32 ops over flat tensors (n elements, grid-stride loops), and the fp32 -> bf16 cast that feeds
// bf16 GEMMs.
#include "common.cuh"

extern "C" __global__ void fill_f32(float* x, float value, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        x[i] = value;
}

extern "C" __global__ void add_f32(const float* a, const float* b, float* out, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

extern "C" __global__ void scale_f32(float* x, float s, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        x[i] *= s;
}

extern "C" __global__ void copy_f32(const float* src, float* dst, long long n) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

extern "C" __global__ void cast_f32_bf16(const float* src, bf16_t* dst, long long n) {
    long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    long long quads = aligned4(src) && aligned4(dst) ? n / 4 : 0;
    for (long long q = first; q < quads; q += stride) store_values4(dst + 4 * q, ((const float4*)src)[q]);
    for (long long i = 4 * quads + first; i < n; i += stride) dst[i] = float_to_bf16(src[i]);
}

// C = sum of the partials + beta * C in fp32 from bf16 products (the grouped GEMMs' bf16 output path; more than one
// partial where the inner dimension was split). Partial p of element i is out[p * stride + i]; they are summed in
// order p = 0, 1, ... so the result does not depend on scheduling. beta 0 never reads C, so an unwritten
// (NaN-poisoned) C is overwritten cleanly.
extern "C" __global__ void accumulate_bf16_f32(const bf16_t* out, long long stride, int partials, float* c, long long n,
                                               float beta) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float sum = 0.f;
        for (int p = 0; p < partials; p++) sum += bf16_to_float(out[p * stride + i]);
        c[i] = beta == 0.f ? sum : sum + beta * c[i];
    }
}
