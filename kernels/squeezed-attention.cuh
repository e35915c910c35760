// Decode attention over the squeezed selection, split into equal pieces across all KV heads: the
// selected keys of every head, one list after another, are cut into chunks of the same number of
// keys (a head's last chunk may be shorter), one block per (chunk, tile of query heads), so that no
// block waits on a head that selected more keys than the others. Each block writes the normalised
// partial output and log-sum-exp of its chunk; the merge kernel joins each query head's chunks (and
// an optional extra state, the dynamic tokens' attention) by log-sum-exp.
//
// The lists' lengths are known only on the device (the lookup writes them), so both kernels derive
// the chunk size and each head's first chunk from n_keys; the launcher sizes the grid to one wave.
// Scores and outputs go through tensor cores (mma.sync m16n8k16) at f32 accuracy, as in
// attention-decode.cu's GQA kernel: operands split into a cache-type part and its rounding remainder.
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "attention-decode.cuh"

namespace sq::cuda {

struct SqueezedAttentionParams {
    const float* q;        // [n_heads][head_dim]
    const void* k;         // [n_kv_heads][kv_head_stride] of kv_type, rows of head_dim (slot order)
    const void* v;         // same layout as k
    KvType kv_type;
    long kv_head_stride;   // elements
    const int* rows;       // [n_kv_heads][rows_stride]: rows of each head to attend
    const int* n_keys;     // [n_kv_heads] entries of rows per head (device)
    long rows_stride;
    int n_heads;
    int n_kv_heads;        // divides n_heads
    int head_dim;          // 64 or 128
    float scale;
    const float* extra_o;  // [n_heads][head_dim] another state of the same rows to merge in, or null
    const float* extra_lse; // [n_heads]
    float* out;            // [n_heads][head_dim]
    float* lse;            // [n_heads] natural log, or null
    float* workspace;      // squeezed_attention_workspace_floats(...) floats
};

size_t squeezed_attention_workspace_floats(int n_heads, int n_kv_heads, int head_dim);

cudaError_t squeezed_attention(const SqueezedAttentionParams& p, cudaStream_t stream);

} // namespace sq::cuda
