#include "lse-merge.cuh"

#include <math_constants.h>

namespace sq::cuda {

namespace {

constexpr int kBlock = 128; // one block per row; head_dim is 64..256, one or two elements a thread

// Every thread recomputes the weights from the (L1-resident) lse column: n_states is at most a few
// hundred, so that costs less than a shared-memory pass and a barrier.
static __global__ void lse_merge_kernel(LseMergeParams p) {
    const int row = blockIdx.x;
    float lse_max = -CUDART_INF_F;
    for (int s = 0; s < p.n_states; ++s) lse_max = fmaxf(lse_max, p.lse[s * p.lse_state_stride + row]);
    // All states empty: every weight below is exp(-inf) = 0 and the row comes out as zeros.
    const float base = lse_max == -CUDART_INF_F ? 0.0f : lse_max;

    for (int i = threadIdx.x; i < p.head_dim; i += blockDim.x) {
        float acc = 0.0f, w_sum = 0.0f;
        for (int s = 0; s < p.n_states; ++s) {
            const float w = expf(p.lse[s * p.lse_state_stride + row] - base);
            w_sum += w;
            acc += w * p.o[s * p.o_state_stride + static_cast<long>(row) * p.head_dim + i];
        }
        p.out[static_cast<long>(row) * p.head_dim + i] = w_sum > 0.0f ? acc / w_sum : 0.0f;
        if (i == 0 && p.lse_out) p.lse_out[row] = w_sum > 0.0f ? base + logf(w_sum) : -CUDART_INF_F;
    }
}

} // namespace

cudaError_t lse_merge(const LseMergeParams& p, cudaStream_t stream) {
    if (p.n_rows <= 0 || p.head_dim <= 0) return cudaSuccess;
    if (p.n_states <= 0 || !p.o || !p.lse || !p.out) return cudaErrorInvalidValue;
    lse_merge_kernel<<<p.n_rows, kBlock, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
