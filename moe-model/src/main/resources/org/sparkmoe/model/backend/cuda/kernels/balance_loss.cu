// Expert- and device-level balance losses of one MoE layer (DeepSeekMoE paper §3.3, eqs. 12-17).
// Legend: S "sequences" the loss is averaged over (batch when seqAux, else 1), L tokens per such sequence,
// E experts, K experts per token, G device groups (0 = no device-level loss).
// Per sequence s: f_i = E/(K*L) * count_i, P_i = mean_t p_ti; expert loss = sum_i f_i P_i;
// device loss = sum_g mean_{i in g}(f_i) * sum_{i in g} P_i. Both averaged over sequences and scaled by alpha.
// Gradient: dProbs[t,i] += (alphaExpert f_i + alphaDevice f'_{g(i)}) / (L * S). f carries no gradient.
// One block per sequence: its threads split the sequence's tokens into blockDim / E chunks (one when E >= blockDim),
// each thread summing one expert's probabilities over one chunk, and the chunks' sums are added in chunk order, so
// the result does not depend on scheduling. Dynamic shared memory holds 3*E + max(E, blockDim) words. Per-sequence
// losses go to loss_S2 for a deterministic final sum.
#include "common.cuh"

// Sequence blockIdx.x's statistics: writes its two losses to loss_S2 and returns each expert's gradient coefficient
// (E floats in shared memory, written for every thread to read). shared holds 3*E + max(E, blockDim) words.
__device__ float* balance_sequence(const float* probs_RE, const int* idx_RK, float* loss_S2, int S, int L, int E, int K,
                                   int G, float alphaExpert, float alphaDevice, float* shared) {
    int* count = (int*)shared;
    float* f = shared + E;
    float* P = shared + 2 * E;
    int s = blockIdx.x;
    long long firstRow = (long long)s * L;
    for (int e = threadIdx.x; e < E; e += blockDim.x) count[e] = 0;
    __syncthreads();
    for (long long a = threadIdx.x; a < (long long)L * K; a += blockDim.x) atomicAdd(&count[idx_RK[firstRow * K + a]], 1);
    int chunks = max(1, (int)blockDim.x / E);
    float* partial = shared + 3 * E;
    for (int i = threadIdx.x; i < chunks * E; i += blockDim.x) {
        int e = i % E, c = i / E;
        long long t1 = (long long)L * (c + 1) / chunks;
        float acc = 0.f;
        for (long long t = (long long)L * c / chunks; t < t1; t++) acc += probs_RE[(firstRow + t) * E + e];
        partial[i] = acc;
    }
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        float acc = 0.f;
        for (int c = 0; c < chunks; c++) acc += partial[c * E + e];
        P[e] = acc / L;
        f[e] = (float)E / ((float)K * L) * count[e];
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        float expert = 0.f;
        for (int e = 0; e < E; e++) expert += f[e] * P[e];
        float device = 0.f;
        if (G > 0) {
            int perGroup = E / G;
            for (int g = 0; g < G; g++) {
                float fSum = 0.f, pSum = 0.f;
                for (int e = g * perGroup; e < (g + 1) * perGroup; e++) { fSum += f[e]; pSum += P[e]; }
                device += fSum / perGroup * pSum;
            }
        }
        loss_S2[2 * s] = alphaExpert * expert;
        loss_S2[2 * s + 1] = alphaDevice * device;
    }
    // Each expert's gradient coefficient, reusing P (its values are no longer needed).
    __syncthreads();
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        float coefficient = alphaExpert * f[e];
        if (G > 0) {
            int perGroup = E / G, g = e / perGroup;
            float fSum = 0.f;
            for (int j = g * perGroup; j < (g + 1) * perGroup; j++) fSum += f[j];
            coefficient += alphaDevice * fSum / perGroup;
        }
        P[e] = coefficient / ((float)L * S);
    }
    __syncthreads();
    return P;
}

// scalars[slot] = mean over sequences of the expert loss, scalars[slot+1] of the device loss (fixed order); one thread.
__device__ void balance_means(const float* loss_S2, float* scalars, int S, int slot) {
    double expert = 0.0, device = 0.0;
    for (int s = 0; s < S; s++) {
        expert += load_coherent(&loss_S2[2 * s]);
        device += load_coherent(&loss_S2[2 * s + 1]);
    }
    scalars[slot] = (float)(expert / S);
    scalars[slot + 1] = (float)(device / S);
}

extern "C" __global__ void balance_loss_rows(const float* probs_RE, const int* idx_RK, float* dProbs_RE, float* loss_S2,
                                             int S, int L, int E, int K, int G, float alphaExpert, float alphaDevice) {
    extern __shared__ float shared[];
    float* coefficient = balance_sequence(probs_RE, idx_RK, loss_S2, S, L, E, K, G, alphaExpert, alphaDevice, shared);
    long long firstRow = (long long)blockIdx.x * L;
    for (long long a = threadIdx.x; a < (long long)L * E; a += blockDim.x)
        dProbs_RE[firstRow * E + a] += coefficient[a % E];
}

extern "C" __global__ void balance_loss_finish(const float* loss_S2, float* scalars, int S, int slot) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    balance_means(loss_S2, scalars, S, slot);
}

// The router backward's first pass (its second is router_bwd_rows): each sequence's losses and coefficient_SE, the
// gradient coefficient of its experts; the block that finishes last writes the means to scalars[slot], [slot + 1].
extern "C" __global__ void balance_loss_coefficients(const float* probs_RE, const int* idx_RK, float* coefficient_SE,
                                                     float* loss_S2, float* scalars, int slot, unsigned int* arrivals,
                                                     int S, int L, int E, int K, int G, float alphaExpert,
                                                     float alphaDevice) {
    extern __shared__ float shared[];
    float* coefficient = balance_sequence(probs_RE, idx_RK, loss_S2, S, L, E, K, G, alphaExpert, alphaDevice, shared);
    for (int e = threadIdx.x; e < E; e += blockDim.x) coefficient_SE[(long long)blockIdx.x * E + e] = coefficient[e];
    if (last_block_arrived(arrivals) && threadIdx.x == 0) balance_means(loss_S2, scalars, S, slot);
}
