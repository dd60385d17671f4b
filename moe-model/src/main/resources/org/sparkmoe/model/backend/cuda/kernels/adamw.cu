// AdamW with decoupled weight decay over flat fp32 tensors, all of a model's parameters in one launch; the gradient is
// first scaled by gradScale (clipping). biasCorrection1/2 = 1 - beta^step, computed on the host in double.
// The tensors are cut into consecutive ranges with their own weight decay: range r ends (exclusive) at rangeEnds[r]
// and decays with rangeDecay[r]; the last end is n. Where image is not null (a parameter arena at bf16 GEMM
// precision) each updated weight's bf16 rounding is written to image[i] in the same pass, so the GEMMs read weights
// that are never stale and never cast again. The pass is bound by memory (30 bytes a parameter with the image): a
// thread moves 4 consecutive parameters with 16-byte accesses wherever they lie in one range and every pointer allows
// it, the same arithmetic per element as one at a time.
#include "common.cuh"

struct AdamwStep {
    float lr, beta1, beta2, eps, gradScale, biasCorrection1, biasCorrection2;
};

// One parameter's update: m and v in place, the updated weight returned.
__device__ __forceinline__ float adamw_element(float p, float gradient, float& m, float& v, float weightDecay,
                                               const AdamwStep& s) {
    float g = gradient * s.gradScale;
    m = s.beta1 * m + (1.f - s.beta1) * g;
    v = s.beta2 * v + (1.f - s.beta2) * g * g;
    float mHat = m / s.biasCorrection1;
    float vHat = v / s.biasCorrection2;
    return p - s.lr * (mHat / (sqrtf(vHat) + s.eps) + weightDecay * p);
}

// Element i, walking `range` forward to the one holding it (each thread's indices only grow).
__device__ __forceinline__ void adamw_one(long long i, int& range, float* param, const float* grad, float* m, float* v,
                                          bf16_t* image, const long long* rangeEnds, const float* rangeDecay,
                                          const AdamwStep& s) {
    while (i >= rangeEnds[range]) range++;
    float mi = m[i], vi = v[i];
    float updated = adamw_element(param[i], grad[i], mi, vi, rangeDecay[range], s);
    m[i] = mi;
    v[i] = vi;
    param[i] = updated;
    if (image != nullptr) image[i] = float_to_bf16(updated);
}

extern "C" __global__ void adamw_f32(float* param, const float* grad, float* m, float* v, bf16_t* image,
                                     const long long* rangeEnds, const float* rangeDecay, long long n, float lr,
                                     float beta1, float beta2, float eps, float gradScale, float biasCorrection1,
                                     float biasCorrection2) {
    AdamwStep s = {lr, beta1, beta2, eps, gradScale, biasCorrection1, biasCorrection2};
    long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x, stride = (long long)gridDim.x * blockDim.x;
    bool vector = aligned4(param) && aligned4(grad) && aligned4(m) && aligned4(v)
                  && (image == nullptr || aligned4(image));
    long long quads = vector ? n / 4 : 0;
    int range = 0;
    for (long long q = first; q < quads; q += stride) {
        long long i = 4 * q;
        while (i >= rangeEnds[range]) range++;
        if (i + 3 >= rangeEnds[range]) {  // a range ends inside these four: one at a time
            for (int j = 0; j < 4; j++) adamw_one(i + j, range, param, grad, m, v, image, rangeEnds, rangeDecay, s);
            continue;
        }
        float weightDecay = rangeDecay[range];
        float4 p = ((float4*)param)[q], g = ((const float4*)grad)[q], mq = ((float4*)m)[q], vq = ((float4*)v)[q];
        p.x = adamw_element(p.x, g.x, mq.x, vq.x, weightDecay, s);
        p.y = adamw_element(p.y, g.y, mq.y, vq.y, weightDecay, s);
        p.z = adamw_element(p.z, g.z, mq.z, vq.z, weightDecay, s);
        p.w = adamw_element(p.w, g.w, mq.w, vq.w, weightDecay, s);
        ((float4*)m)[q] = mq;
        ((float4*)v)[q] = vq;
        ((float4*)param)[q] = p;
        if (image != nullptr) store_values4(image + i, p);
    }
    // The tail's indices lie past every quad's, so the range walk still only moves forward.
    for (long long i = 4 * quads + first; i < n; i += stride) {
        adamw_one(i, range, param, grad, m, v, image, rangeEnds, rangeDecay, s);
    }
}
