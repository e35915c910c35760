// Causal attention of a batch of query tokens over an F16 KV cache, with the CPU reference's
// rounding points (backend/cpu/ops.h attention_f16): the query rounded to F16 before the K dot,
// softmax of scale * scores (max-subtracted exp, sum in double, one multiply by 1/sum), the
// probabilities rounded to F16 before the V product. Token t of the batch sits at position
// pos0 + t and sees keys [0, pos0 + t]. Query head h reads KV head h / (n_heads / n_kv_heads).
//
// One block per (query head, token); the scores live in shared memory, so n_kv is bounded by
// attention_batch_max_keys() (tens of thousands on an H100). Longer contexts take the split-K
// decode kernel (attention-decode.cuh), which is f32 throughout.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace sq::cuda {

struct AttentionBatchParams {
    const float* q;      // [n_tokens][q_stride] floats, head h at h * head_dim
    const __half* k;     // [n_kv_heads][n_ctx][head_dim] of one layer
    const __half* v;     // same layout
    float* out;          // [n_tokens][out_stride], head h at h * head_dim
    int n_tokens;
    int n_heads;
    int n_kv_heads;      // divides n_heads
    int head_dim;        // <= 256
    int n_ctx;
    int pos0;            // pos0 + n_tokens <= n_ctx
    long q_stride;
    long out_stride;
    float scale;
};

// The most keys one query may attend with this kernel on the current device (shared memory).
int attention_batch_max_keys(int head_dim);

cudaError_t attention_batch(const AttentionBatchParams& p, cudaStream_t stream);

} // namespace sq::cuda
