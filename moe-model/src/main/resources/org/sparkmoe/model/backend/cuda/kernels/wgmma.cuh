// Hopper warpgroup MMA (wgmma, sm_90a) as inline PTX, for kernels that tile matrix products themselves: shared-memory
// matrix descriptors over the 128-byte swizzle, the bf16 m64nNk16 MMAs with fp32 accumulators (A in shared memory or
// in registers), and the fences around them. Spliced into a .cu file by KernelSources after tensor_core.cuh; every
// use sits under __CUDA_ARCH_FEAT_SM90_ALL (defined when NVRTC compiles for sm_90a), since other architectures have
// no wgmma.
//
// Operand tiles in shared memory are 1024-byte aligned and 128-byte swizzled (PTX ISA "Shared Memory Matrix Layout"):
// the 16-byte chunk at logical byte offset L lies at L ^ (((L >> 7) & 7) << 4), so the 8 rows of 128 bytes of a
// 1024-byte atom spread each column of chunks over all 32 banks. Two canonical layouts, 128 x 64 bf16 each (16 KB):
//   K-major (k contiguous; A and B of the forward):  element (r, k) at r·128 + k·2, rows of 64 k values;
//     a descriptor at row r0, inner offset kk: start r0·128 + kk·2, stride between 8-row groups (SBO) 1024.
//   MN-major (m or n contiguous; transposed operands): element (k, c) at (c / 64)·8192 + k·128 + (c % 64)·2, i.e.
//     two atoms of 64 k rows x 64 columns; a descriptor at inner offset kk (a multiple of 8): start kk·128, stride
//     between the 64-column atoms (LBO) 8192, between 8-row groups of k (SBO) 1024.
// Accumulators of m64nNk16 (f32), warp w of the warpgroup, lane l, g = l / 4, t = l % 4: d[4i], d[4i+1] = D[16w + g]
// [8i + 2t .. 8i + 2t + 1], d[4i+2], d[4i+3] = D[16w + g + 8][same columns], i = 0 .. N/8 - 1.

// The byte offset of logical offset `logical` within a 1024-byte-aligned 128-byte-swizzled tile.
__device__ __forceinline__ unsigned wgmma_swizzle_128(unsigned logical) {
    return logical ^ (((logical >> 7) & 7u) << 4);
}

// A shared-memory matrix descriptor: start address, leading and stride byte offsets, 128-byte swizzle.
__device__ __forceinline__ unsigned long long wgmma_descriptor(unsigned address, unsigned leading, unsigned stride) {
    return (unsigned long long)((address & 0x3FFFFu) >> 4) | ((unsigned long long)((leading >> 4) & 0x3FFFu) << 16)
           | ((unsigned long long)((stride >> 4) & 0x3FFFu) << 32) | (1ull << 62);
}

// Keeps the compiler from moving accesses of accumulator registers across the asynchronous MMAs.
template <int N>
__device__ __forceinline__ void wgmma_fence_operands(float (&d)[N]) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

// The same for A fragments in registers: called after the wait, it keeps them (and their registers) alive until the
// MMAs reading them are done.
template <int KC>
__device__ __forceinline__ void wgmma_fence_fragments(unsigned (&a)[KC][4]) {
#pragma unroll
    for (int i = 0; i < KC; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) asm volatile("" : "+r"(a[i][j])::"memory");
    }
}

// Orders this warpgroup's register and shared-memory accesses before the MMAs that follow.
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }

// Closes the group of MMAs issued so far.
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }

// Waits until at most N committed groups of MMAs are still running.
template <int N>
__device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory"); }

// The accumulators as asm operands: "+f" constraints on d[0 .. N/2 - 1] (WGMMA_D*) and their places in the
// instruction, "%0, %1, ..." (WGMMA_R*); the operands after them are numbered from N/2.
#define WGMMA_D8(i) \
    "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), \
        "+f"(d[i + 7])
#define WGMMA_D32 WGMMA_D8(0), WGMMA_D8(8), WGMMA_D8(16), WGMMA_D8(24)
#define WGMMA_D64 WGMMA_D32, WGMMA_D8(32), WGMMA_D8(40), WGMMA_D8(48), WGMMA_D8(56)
#define WGMMA_D128 \
    WGMMA_D64, WGMMA_D8(64), WGMMA_D8(72), WGMMA_D8(80), WGMMA_D8(88), WGMMA_D8(96), WGMMA_D8(104), WGMMA_D8(112), \
        WGMMA_D8(120)
#define WGMMA_R32 \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define WGMMA_R64 \
    WGMMA_R32 ", " \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
#define WGMMA_R128 \
    WGMMA_R64 ", " \
    "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
    "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, " \
    "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
    "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127"

// d (64 x N, fp32) += A (64 x 16, bf16) · B (16 x N, bf16) for the warpgroup, both operands in shared memory;
// TRANS_A / TRANS_B: 0 for a K-major operand, 1 for an MN-major one. N is 64, 128 or 256 (N / 2 accumulators a
// thread).
template <int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_m64n64k16_bf16(float (&d)[32], unsigned long long a, unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %36, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" WGMMA_R32
                 "}, %32, %33, p, 1, 1, %34, %35;\n}\n"
                 : WGMMA_D32
                 : "l"(a), "l"(b), "n"(TRANS_A), "n"(TRANS_B), "r"(1));
}

template <int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_m64n128k16_bf16(float (&d)[64], unsigned long long a, unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %68, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" WGMMA_R64
                 "}, %64, %65, p, 1, 1, %66, %67;\n}\n"
                 : WGMMA_D64
                 : "l"(a), "l"(b), "n"(TRANS_A), "n"(TRANS_B), "r"(1));
}

template <int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_m64n256k16_bf16(float (&d)[128], unsigned long long a, unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %132, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {" WGMMA_R128
                 "}, %128, %129, p, 1, 1, %130, %131;\n}\n"
                 : WGMMA_D128
                 : "l"(a), "l"(b), "n"(TRANS_A), "n"(TRANS_B), "r"(1));
}

template <int N, int TRANS_A, int TRANS_B>
__device__ __forceinline__ void wgmma_bf16(float (&d)[N / 2], unsigned long long a, unsigned long long b) {
    static_assert(N == 64 || N == 128 || N == 256, "wgmma tiles here are 64, 128 or 256 wide");
    if constexpr (N == 64) {
        wgmma_m64n64k16_bf16<TRANS_A, TRANS_B>(d, a, b);
    } else if constexpr (N == 128) {
        wgmma_m64n128k16_bf16<TRANS_A, TRANS_B>(d, a, b);
    } else {
        wgmma_m64n256k16_bf16<TRANS_A, TRANS_B>(d, a, b);
    }
}

// d (64 x N, fp32) += A (64 x 16, bf16) · B (16 x N, bf16) with A in registers: warp w of the warpgroup holds rows
// 16w .. 16w+15 as the A fragment of mma.m16n8k16 (tensor_core.cuh), so accumulators packed by pairs feed the next
// product without leaving registers (attention's P and dS). B in shared memory, K-major (0) or MN-major (1).
template <int TRANS_B>
__device__ __forceinline__ void wgmma_m64n64k16_bf16_rs(float (&d)[32], const unsigned (&a)[4],
                                                       unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %38, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {" WGMMA_R32
                 "}, {%32, %33, %34, %35}, %36, p, 1, 1, %37;\n}\n"
                 : WGMMA_D32
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "n"(TRANS_B), "r"(1));
}

template <int TRANS_B>
__device__ __forceinline__ void wgmma_m64n128k16_bf16_rs(float (&d)[64], const unsigned (&a)[4],
                                                       unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %70, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" WGMMA_R64
                 "}, {%64, %65, %66, %67}, %68, p, 1, 1, %69;\n}\n"
                 : WGMMA_D64
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "n"(TRANS_B), "r"(1));
}

template <int N, int TRANS_B>
__device__ __forceinline__ void wgmma_bf16_rs(float (&d)[N / 2], const unsigned (&a)[4], unsigned long long b) {
    static_assert(N == 64 || N == 128, "register-A wgmma tiles here are 64 or 128 wide");
    if constexpr (N == 64) {
        wgmma_m64n64k16_bf16_rs<TRANS_B>(d, a, b);
    } else {
        wgmma_m64n128k16_bf16_rs<TRANS_B>(d, a, b);
    }
}
