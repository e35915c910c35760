// Layout change between the forward pass's token-major rows and the head-major blocks the prefill
// attention kernels take (attention-prefill.cuh, squeeze-lookup-prefill.cuh):
//   ToHeads:  f32 [n_rows][n_heads][head_dim] -> f16 [n_heads][n_rows][head_dim] (the question's queries)
//   ToRows:   f32 [n_heads][n_rows][head_dim] -> f32 [n_rows][n_heads][head_dim] (its attention output)
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

enum class HeadMajorDirection { ToHeads, ToRows };

struct HeadMajorParams {
    const float* src;
    void* dst;          // __half for ToHeads, float for ToRows; may not alias src
    HeadMajorDirection direction;
    int n_rows;
    int n_heads;
    int head_dim;
};

cudaError_t head_major(const HeadMajorParams& p, cudaStream_t stream);

} // namespace sq::cuda
