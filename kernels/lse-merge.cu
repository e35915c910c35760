#include "lse-merge.cuh"

#include <math_constants.h>

#include "grid-dependency.cuh"

namespace sq::cuda {

namespace {

constexpr int kBlock = 128;    // threads of a row when its states are taken in one pass
constexpr int kMaxParts = 4;   // parts of a row's states taken side by side
constexpr int kStatesPerPart = 16;

// One block per row. Its states are cut into `parts` interleaved parts, one per group of head_dim
// threads, merged in shared memory: a thread's states are a chain of dependent L2 loads, and split-K
// decode merges 30-70 states a row (the launcher's one wave), which one thread per dimension took
// one after another. Every thread recomputes the maximum from the (L1-resident) lse column: that
// costs less than a shared-memory pass and a barrier.
static __global__ void lse_merge_kernel(LseMergeParams p, int parts) {
    extern __shared__ float part_s[]; // parts > 1: [2][parts][head_dim] sums of w * o, then of w
    grid_dependency_wait();           // the states come from the kernel before (grid-dependency.cuh)
    const int row = blockIdx.x;
    float lse_max = -CUDART_INF_F;
#pragma unroll 8
    for (int s = 0; s < p.n_states; ++s) lse_max = fmaxf(lse_max, p.lse[s * p.lse_state_stride + row]);
    // All states empty: every weight below is exp(-inf) = 0 and the row comes out as zeros.
    const float base = lse_max == -CUDART_INF_F ? 0.0f : lse_max;

    const int cols = parts > 1 ? p.head_dim : static_cast<int>(blockDim.x), part = threadIdx.x / cols;
    for (int i = threadIdx.x % cols; i < p.head_dim; i += cols) {
        float acc = 0.0f, w_sum = 0.0f;
#pragma unroll 4
        for (int s = part; s < p.n_states; s += parts) {
            const float w = expf(p.lse[s * p.lse_state_stride + row] - base);
            w_sum += w;
            acc += w * p.o[s * p.o_state_stride + static_cast<long>(row) * p.head_dim + i];
        }
        if (parts > 1) {
            part_s[part * p.head_dim + i] = acc;
            part_s[(parts + part) * p.head_dim + i] = w_sum;
            continue;
        }
        p.out[static_cast<long>(row) * p.head_dim + i] = w_sum > 0.0f ? acc / w_sum : 0.0f;
        if (i == 0 && p.lse_out) p.lse_out[row] = w_sum > 0.0f ? base + logf(w_sum) : -CUDART_INF_F;
    }
    if (parts == 1) return;
    __syncthreads();
    if (part != 0) return;
    const int i = threadIdx.x;
    float acc = 0.0f, w_sum = 0.0f;
    for (int q = 0; q < parts; ++q) {
        acc += part_s[q * p.head_dim + i];
        w_sum += part_s[(parts + q) * p.head_dim + i];
    }
    p.out[static_cast<long>(row) * p.head_dim + i] = w_sum > 0.0f ? acc / w_sum : 0.0f;
    if (i == 0 && p.lse_out) p.lse_out[row] = w_sum > 0.0f ? base + logf(w_sum) : -CUDART_INF_F;
}

} // namespace

cudaError_t lse_merge(const LseMergeParams& p, cudaStream_t stream) {
    if (p.n_rows <= 0 || p.head_dim <= 0) return cudaSuccess;
    if (p.n_states <= 0 || !p.o || !p.lse || !p.out) return cudaErrorInvalidValue;
    // Parts only for rows of up to 256 dimensions (a block of at most 1024 threads, each one
    // dimension of one part) and enough states to share.
    const int parts = p.head_dim <= 256 ? max(1, min(kMaxParts, p.n_states / kStatesPerPart)) : 1;
    const int threads = parts > 1 ? parts * p.head_dim : kBlock;
    const size_t smem = parts > 1 ? 2 * sizeof(float) * parts * p.head_dim : 0;
    return launch_dependent(lse_merge_kernel, dim3(p.n_rows), dim3(threads), smem, stream, p, parts);
}

} // namespace sq::cuda
