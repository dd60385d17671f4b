// Tensor-core primitives (sm_80 and newer) as inline PTX, for kernels that tile matrix products themselves:
// the bf16 m16n8k16 MMA with fp32 accumulators, ldmatrix, cp.async with zero fill, bf16x2 packing. Spliced into a
// .cu file by KernelSources after common.cuh (it uses bf16_t).
//
// Fragment layouts of mma.m16n8k16 (PTX ISA "Matrix fragments for mma.m16n8k16"), g = lane / 4, t = lane % 4:
//   A 16x16 (row-major), 4 registers of 2 bf16: a0 = A[g][2t..2t+1], a1 = A[g+8][2t..], a2 = A[g][2t+8..],
//     a3 = A[g+8][2t+8..]
//   B 16x8 (k x n, "col": k contiguous per n), 2 registers: b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g]
//   C/D 16x8 fp32, 4 registers: c0, c1 = C[g][2t], C[g][2t+1]; c2, c3 = C[g+8][2t], C[g+8][2t+1]
// So the accumulators of two adjacent n-tiles (16 columns) are, packed to bf16 pairs, the A fragment of a 16-wide
// k-chunk of the next product (attention's P and dS never leave registers).

// The shared-memory address (32-bit) of a generic pointer into shared memory.
__device__ __forceinline__ unsigned shared_address(const void* p) {
    unsigned address;
    asm("{ .reg .u64 a; cvta.to.shared.u64 a, %1; cvt.u32.u64 %0, a; }" : "=r"(address) : "l"(p));
    return address;
}

// d += a * b for one 16x8 tile: a 16x16 bf16, b 16x8 bf16, d fp32.
__device__ __forceinline__ void mma_bf16_16816(float d[4], const unsigned a[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Four 8x8 bf16 matrices from shared memory: lanes 8i..8i+7 give the addresses of matrix i's 8 rows (16 bytes each);
// register i of lane l receives row l/4, columns 2(l%4) and 2(l%4)+1 of matrix i.
__device__ __forceinline__ void ldmatrix_x4(unsigned r[4], const bf16_t* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
}

// The same, each matrix transposed: register i of lane l receives rows 2(l%4) and 2(l%4)+1 of column l/4.
__device__ __forceinline__ void ldmatrix_x4_trans(unsigned r[4], const bf16_t* row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(shared_address(row)));
}

// Copies 16 bytes global -> shared without passing through registers; valid false writes 16 zero bytes (src not read).
__device__ __forceinline__ void cp_async_16(bf16_t* dst, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(shared_address(dst)), "l"(src),
                 "r"(valid ? 16 : 0));
}

// Closes the group of cp.async issued so far by this thread.
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }

// Waits until at most N of this thread's committed groups are still in flight (then __syncthreads to see the others').
template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory"); }

// Makes this thread's generic-proxy writes to shared memory (cp.async, st.shared) visible to the async proxy, which
// Hopper's wgmma reads shared memory through (sm_90 and newer; only kernels built for it call this).
__device__ __forceinline__ void fence_proxy_async_shared() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }

// Two floats as one register of two bf16 (round to nearest even), lo in the low half: an MMA operand pair.
__device__ __forceinline__ unsigned pack_bf16(float lo, float hi) {
    unsigned packed;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(packed) : "f"(hi), "f"(lo));
    return packed;
}
