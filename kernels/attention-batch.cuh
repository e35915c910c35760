// Causal attention of a batch of query tokens over an F16 KV cache in the CPU reference's order
// of operations (backend/cpu/ops-attention.cpp, llama.cpp's AVX-512 kernels), so the result has
// the CPU's bits: the query rounded to F16; K dots as ggml_vec_dot_f16 for a batch of one token and
// as tinyBLAS's 16-lane chain for longer batches; softmax of scale * scores with ggml's expf, the
// 16-key chunk sums added in double; probabilities rounded to F16; the V product in llama.cpp's
// lane order (64 chains for one token, 16 lanes otherwise). Token t of the batch sits at position
// pos0 + t and sees keys [0, pos0 + t]. Query head h reads KV head h / (n_heads / n_kv_heads).
//
// One block per (query head, token), one thread per key for the dots and per output dimension for
// the V product: correct for decode and short prefill, not fast at long contexts. The scores live
// in shared memory, so n_kv is bounded by attention_batch_max_keys() (tens of thousands on an
// H100); longer contexts take the split-K decode kernel (attention-decode.cuh), f32 throughout.
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
    // When set, pos0 is read here on the device (a decode step replayed from a CUDA graph); shared
    // memory is then sized for n_ctx keys, which must be <= attention_batch_max_keys().
    const int* pos0_device = nullptr;
};

// The most keys one query may attend with this kernel on the current device (shared memory).
int attention_batch_max_keys(int head_dim);

cudaError_t attention_batch(const AttentionBatchParams& p, cudaStream_t stream);

} // namespace sq::cuda
