// Deterministic reductions to one fp32 scalar (sum, sum of squares), accumulated in fp64: a fixed grid writes one
// partial per block, then one block adds the partials in order. Non-finite values propagate.
#include "common.cuh"

#define REDUCE_BLOCKS 264

__device__ __forceinline__ double reduce_term(float x, int squares) {
    double v = x;
    return squares ? v * v : v;
}

// Four values per load where x allows (aligned4): the fixed grid has too few threads to fill the memory system with
// 4-byte loads.
extern "C" __global__ void reduce_partial(const float* x, long long n, int squares, double* partial) {
    long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    long long quads = aligned4(x) ? n / 4 : 0;
    double acc = 0.0;
    for (long long q = first; q < quads; q += stride) {
        float4 v = ((const float4*)x)[q];
        acc += reduce_term(v.x, squares) + reduce_term(v.y, squares) + reduce_term(v.z, squares)
               + reduce_term(v.w, squares);
    }
    for (long long i = 4 * quads + first; i < n; i += stride) acc += reduce_term(x[i], squares);
    acc = block_sum(acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

// scalars[slot] = scale * sum of partial[0..count).
extern "C" __global__ void reduce_finish(const double* partial, int count, float scale, float* scalars, int slot) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += blockDim.x) acc += partial[i];
    acc = block_sum(acc);
    if (threadIdx.x == 0) scalars[slot] = (float)(acc * scale);
}
