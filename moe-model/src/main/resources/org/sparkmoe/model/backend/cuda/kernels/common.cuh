// Shared helpers for SparkMoE's CUDA kernels: bf16 conversion, warp and block reductions.
// Spliced into each .cu file by KernelSources (NVRTC sees no include folder). No CUDA headers needed.
// NVRTC defines no INFINITY macro without math headers.
#define NEG_INF __int_as_float(0xff800000)

typedef unsigned short bf16_t;

__device__ __forceinline__ float bf16_to_float(bf16_t v) {
    return __uint_as_float(((unsigned int)v) << 16);
}

// Round to nearest even; NaN stays NaN (same as Bf16.fromFloat on the host).
__device__ __forceinline__ bf16_t float_to_bf16(float f) {
    unsigned int bits = __float_as_uint(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((bits >> 16) | 0x40u);
    unsigned int rounding = 0x7fffu + ((bits >> 16) & 1u);
    return (bf16_t)((bits + rounding) >> 16);
}

// A producer's output element: fp32 as computed, or its bf16 rounding where the output is a GEMM operand stored in
// the GEMMs' precision (CudaBackend.produceOperands): the bits a cast of the fp32 value would give.
__device__ __forceinline__ void store_value(float* p, float v) { *p = v; }
__device__ __forceinline__ void store_value(bf16_t* p, float v) { *p = float_to_bf16(v); }

// Four consecutive values as T in one store: 16 bytes of fp32 or 8 of bf16 (p aligned to that, see aligned4).
__device__ __forceinline__ void store_values4(float* p, float4 v) { *(float4*)p = v; }
__device__ __forceinline__ void store_values4(bf16_t* p, float4 v) {
    *(uint2*)p = make_uint2((unsigned int)float_to_bf16(v.x) | ((unsigned int)float_to_bf16(v.y) << 16),
                            (unsigned int)float_to_bf16(v.z) | ((unsigned int)float_to_bf16(v.w) << 16));
}

// Whether four consecutive T from p move in one access (float4 loads, store_values4). Memory-bound kernels take that
// path where every pointer allows it: scalar 4- or 2-byte accesses leave 30-50 % of the bandwidth unused.
template <typename T>
__device__ __forceinline__ bool aligned4(const T* p) {
    return ((unsigned long long)p & (4 * sizeof(T) - 1)) == 0;
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
    return v;
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
template <typename T>
__device__ T block_sum(T v) {
    __shared__ T partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads();  // partial may still be read by a previous call
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    T total = lane < warps ? partial[lane] : (T)0;
    return warp_sum(total);
}

__device__ float block_max(float v) {
    __shared__ float partial[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    float m = lane < warps ? partial[lane] : NEG_INF;
    return warp_max(m);
}

// A load that another block's writes (made visible by its __threadfence) cannot miss: a volatile load is served by L2,
// never by a stale line of this multiprocessor's L1.
template <typename T>
__device__ __forceinline__ T load_coherent(const T* p) {
    return *(const volatile T*)p;
}

// A grid-wide reduction finished in one launch, deterministically: every block writes its partial results, then
// calls this; it returns true in the one block that arrives last, which then reads every block's partials (with
// load_coherent) and combines them in a fixed order. Which block is last varies; what it computes does not.
// The counter, an unsigned int that is zero before the launch (ArrivalCounters: one per kernel), is zero again after
// it. Call once per kernel, from every thread of every block (no early return before it).
__device__ bool last_block_arrived(unsigned int* counter) {
    __shared__ bool last;
    __threadfence();  // this thread's partials are visible device-wide before its block counts itself
    __syncthreads();
    if (threadIdx.x == 0) {
        unsigned int arrived = atomicAdd(counter, 1u);
        last = arrived == gridDim.x * gridDim.y * gridDim.z - 1;
        if (last) *counter = 0;  // every block has counted: ready for the next launch
    }
    __syncthreads();
    if (last) __threadfence();
    return last;
}
