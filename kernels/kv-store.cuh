// Appends a batch's keys or values to an F16 KV cache on the GPU, rounded to nearest even as the
// CPU's f32_to_f16: cache [n_kv_heads][n_ctx][head_dim] (one layer), rows pos0 .. pos0 + n_tokens - 1.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace sq::cuda {

struct KvStoreParams {
    const float* src;   // [n_tokens][src_stride], KV head h at h * head_dim
    __half* cache;      // [n_kv_heads][n_ctx][head_dim] of this layer
    int n_tokens;
    int n_kv_heads;
    int head_dim;
    int n_ctx;
    int pos0;           // pos0 + n_tokens <= n_ctx
    long src_stride;
    // When set, pos0 is read here on the device instead (a decode step replayed from a CUDA graph).
    const int* pos0_device = nullptr;
};

cudaError_t kv_store(const KvStoreParams& p, cudaStream_t stream);

} // namespace sq::cuda
