// Fused softmax cross-entropy over logits_RV with int32 targets (negative = masked): the loss per row and the
// gradient gradScale * (softmax - onehot) in one kernel. dLogits may alias logits: each element is read by the
// thread that overwrites it, after the row's max and sum are known. One block per row.
#include "common.cuh"

extern "C" __global__ void cross_entropy_rows(const float* logits, const int* targets_R, float* losses_R, float* dLogits,
                                              int R, int V, float gradScale) {
    int r = blockIdx.x;
    const float* x = logits + (long long)r * V;
    float* g = dLogits + (long long)r * V;
    int target = targets_R[r];
    if (target < 0) {
        for (int v = threadIdx.x; v < V; v += blockDim.x) g[v] = 0.f;
        if (threadIdx.x == 0) losses_R[r] = 0.f;
        return;
    }
    float m = NEG_INF;
    for (int v = threadIdx.x; v < V; v += blockDim.x) m = fmaxf(m, x[v]);
    m = block_max(m);
    float s = 0.f;
    for (int v = threadIdx.x; v < V; v += blockDim.x) s += expf(x[v] - m);
    s = block_sum(s);
    float targetLogit = x[target];
    __syncthreads();  // every thread has read x[target] before any thread overwrites it
    if (threadIdx.x == 0) losses_R[r] = logf(s) + m - targetLogit;
    float inv = 1.f / s;
    for (int v = threadIdx.x; v < V; v += blockDim.x)
        g[v] = gradScale * (expf(x[v] - m) * inv - (v == target ? 1.f : 0.f));
}
