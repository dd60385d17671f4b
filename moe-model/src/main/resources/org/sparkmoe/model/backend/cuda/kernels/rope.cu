// Rotate-half RoPE in place on x_BTHDh: pairs (i, i + Dh/2). Frequencies as the reference code (and the CPU
// backend) computes them: inv_freq = (float)(1 / theta^(2i/Dh)), angle = t * inv_freq in fp32, cos/sin of that
// angle in fp64. inverse = rotate by the negative angle (the backward).
#include "common.cuh"

// One thread per (row, head, pair). Rows = B*T, position t = row % T.
extern "C" __global__ void rope_inplace(float* x, int B, int T, int H, int Dh, float theta, int inverse) {
    long long half = Dh / 2;
    long long total = (long long)B * T * H * half;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        int i = (int)(idx % half);
        long long rowHead = idx / half;        // (b*T + t)*H + h
        int t = (int)((rowHead / H) % T);
        float invFreq = (float)(1.0 / pow((double)theta, 2.0 * i / Dh));
        float angle = t * invFreq;
        double s, c;
        sincos((double)angle, &s, &c);
        float cs = (float)c, sn = inverse ? -(float)s : (float)s;
        float* p = x + rowHead * Dh;
        float x1 = p[i], x2 = p[i + half];
        p[i] = x1 * cs - x2 * sn;
        p[i + half] = x2 * cs + x1 * sn;
    }
}
