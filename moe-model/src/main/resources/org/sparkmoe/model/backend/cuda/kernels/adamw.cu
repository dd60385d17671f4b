// AdamW with decoupled weight decay over flat fp32 tensors, all of a model's parameters in one launch; the gradient is
// first scaled by gradScale (clipping). biasCorrection1/2 = 1 - beta^step, computed on the host in double.
// The tensors are cut into consecutive ranges with their own weight decay: range r ends (exclusive) at rangeEnds[r]
// and decays with rangeDecay[r]; the last end is n. Where image is not null (a parameter arena at bf16 GEMM
// precision) each updated weight's bf16 rounding is written to image[i] in the same pass, so the GEMMs read weights
// that are never stale and never cast again.
#include "common.cuh"

extern "C" __global__ void adamw_f32(float* param, const float* grad, float* m, float* v, bf16_t* image,
                                     const long long* rangeEnds, const float* rangeDecay, long long n, float lr,
                                     float beta1, float beta2, float eps, float gradScale, float biasCorrection1,
                                     float biasCorrection2) {
    int range = 0;
    // i only grows in this loop, so each thread walks the (few) ranges forward once.
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        while (i >= rangeEnds[range]) range++;
        float weightDecay = rangeDecay[range];
        float g = grad[i] * gradScale;
        float mi = beta1 * m[i] + (1.f - beta1) * g;
        float vi = beta2 * v[i] + (1.f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float mHat = mi / biasCorrection1;
        float vHat = vi / biasCorrection2;
        float p = param[i];
        float updated = p - lr * (mHat / (sqrtf(vHat) + eps) + weightDecay * p);
        param[i] = updated;
        if (image != nullptr) image[i] = float_to_bf16(updated);
    }
}
