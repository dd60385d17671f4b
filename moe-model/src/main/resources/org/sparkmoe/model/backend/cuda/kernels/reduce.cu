// Deterministic reductions to one fp32 scalar (sum, sum of squares), accumulated in fp64: a fixed grid writes one
// partial per block, then one block adds the partials in order. Non-finite values propagate.
#include "common.cuh"

#define REDUCE_BLOCKS 264

extern "C" __global__ void reduce_partial(const float* x, long long n, int squares, double* partial) {
    double acc = 0.0;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        double v = x[i];
        acc += squares ? v * v : v;
    }
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
