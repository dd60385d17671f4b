// Token embedding. Legend: R rows (tokens), D width, V vocabulary.
#include "common.cuh"

// out_RD[r] = table_VD[tokens_R[r]]; one block per row.
extern "C" __global__ void embedding_fwd(const float* table_VD, const int* tokens_R, float* out_RD, int R, int D) {
    int r = blockIdx.x;
    const float* src = table_VD + (long long)tokens_R[r] * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) out_RD[(long long)r * D + d] = src[d];
}

// dTable_VD[v] += sum of dOut_RD over the rows listed for v, in the listed (ascending row) order: deterministic.
// rowsByToken_R holds row indices grouped by token; tokenStart_V1[v]..tokenStart_V1[v+1] is token v's range.
// One block per vocabulary entry that occurs (uniqueTokens_U lists them).
extern "C" __global__ void embedding_bwd(const float* dOut_RD, const int* rowsByToken_R, const int* tokenStart_U1,
                                         const int* uniqueTokens_U, float* dTable_VD, int D) {
    int u = blockIdx.x;
    int begin = tokenStart_U1[u], end = tokenStart_U1[u + 1];
    float* dst = dTable_VD + (long long)uniqueTokens_U[u] * D;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = dst[d];
        for (int i = begin; i < end; i++) acc += dOut_RD[(long long)rowsByToken_R[i] * D + d];
        dst[d] = acc;
    }
}
