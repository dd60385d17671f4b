// Rotate-half RoPE in place on x_BTHDh: pairs (i, i + Dh/2). Frequencies as the reference code (and the CPU
// backend) computes them: inv_freq = (float)(1 / theta^(2i/Dh)), angle = t * inv_freq in fp32, cos/sin of that
// angle in fp64. inverse = rotate by the negative angle (the backward).
//
// Those cos/sin cost a pow and a sincos in fp64 per pair, which made the rotation compute-bound (17 % of the memory
// bandwidth), so rope_table computes them once per (T, Dh, theta) into a [T, Dh/2] table of (cos, sin), the same
// floats, and rope_inplace reads the table: the same bits at memory speed.
#include "common.cuh"

// table_TI[t][i] = (cos, sin) of position t's angle for pair i; one thread per entry.
extern "C" __global__ void rope_table(float2* table_TI, int T, int Dh, float theta) {
    int half = Dh / 2;
    long long total = (long long)T * half;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        int i = (int)(idx % half), t = (int)(idx / half);
        float invFreq = (float)(1.0 / pow((double)theta, 2.0 * i / Dh));
        float angle = t * invFreq;
        double s, c;
        sincos((double)angle, &s, &c);
        table_TI[idx] = make_float2((float)c, (float)s);
    }
}

__device__ __forceinline__ void rotate(float& x1, float& x2, float2 cs, int inverse) {
    float sn = inverse ? -cs.y : cs.y;
    float a = x1, b = x2;
    x1 = a * cs.x - b * sn;
    x2 = b * cs.x + a * sn;
}

// Rows = B*T, position t = row % T. Four consecutive pairs per thread where Dh/2 is a multiple of 4 and x is 16-byte
// aligned (16-byte loads of x and of the table), else one pair per thread.
extern "C" __global__ void rope_inplace(float* x, const float2* table_TI, int B, int T, int H, int Dh, int inverse) {
    int half = Dh / 2;
    bool vector = half % 4 == 0 && aligned4(x);
    int per = vector ? 4 : 1;
    long long groups = half / per;
    long long total = (long long)B * T * H * groups;
    for (long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x; idx < total;
         idx += (long long)gridDim.x * blockDim.x) {
        int i = (int)(idx % groups) * per;
        long long rowHead = idx / groups;  // (b*T + t)*H + h
        int t = (int)((rowHead / H) % T);
        float* p = x + rowHead * Dh;
        const float2* cs = table_TI + (long long)t * half + i;
        if (vector) {
            float4 lo = *(float4*)(p + i), hi = *(float4*)(p + i + half);
            float4 c01 = *(const float4*)cs, c23 = *(const float4*)(cs + 2);
            rotate(lo.x, hi.x, make_float2(c01.x, c01.y), inverse);
            rotate(lo.y, hi.y, make_float2(c01.z, c01.w), inverse);
            rotate(lo.z, hi.z, make_float2(c23.x, c23.y), inverse);
            rotate(lo.w, hi.w, make_float2(c23.z, c23.w), inverse);
            *(float4*)(p + i) = lo;
            *(float4*)(p + i + half) = hi;
        } else {
            rotate(p[i], p[i + half], cs[0], inverse);
        }
    }
}
