// Attention of a block of new tokens (the question's prefill) over a KV cache, flash-attention style
// on tensor cores (mma.sync m16n8k16, f32 accumulators, P rounded to the cache type as in
// FlashAttention-2). Queries, keys and values are f16 or bf16; outputs f32.
//
// Each KV head attends one virtual key sequence, in two parts:
//   list   rows key_rows[kv_head][0 .. n_list[kv_head]) (the squeezed fixed context: the lookup's
//          slots, read in place from the cluster-ordered store), every one visible to every query;
//   dense  rows dense_begin .. dense_end - 1, where row dense_begin + j is visible to query i iff
//          j <= i + causal_offset (or always, without causal).
// Dense prefill over a fixed context of N keys followed by the question's M keys: no list, dense
// rows [0, N + M), causal_offset N. Squeezed prefill: the list, then rows [N, N + M) with offset 0.
// Both parts run through one online softmax, which is the LSE merge of the two done in registers.
//
// Work is split over (128-query tiles, query heads, key slices); slices are joined by lse_merge.
// Query head h reads KV head h / (n_heads / n_kv_heads).
//
// Measured on an H200 (bench/results/gpu-prefill-2026-11-26.md; bf16, H 32, d 128, 1024-token
// question): dense 7.79 ms at 128K keys (~285 TFLOP/s; cuDNN SDPA 3.65 ms, flash 6.47 ms), and over
// row lists at ~200-250 TFLOP/s once the lists are read a tile ahead (first run: ~105). On a 9.0 GPU
// head_dim 128 runs the wgmma kernel instead (attention-prefill-sm90a.cuh): 5.72 ms at 128K keys.
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "attention-decode.cuh"

namespace sq::cuda {

struct AttentionPrefillParams {
    const void* q;          // [n_heads][n_q][head_dim] of kv_type, post-RoPE
    const void* k;          // [n_kv_heads][kv_head_stride] of kv_type, rows of head_dim
    const void* v;          // same layout as k
    KvType kv_type;
    float* out;             // [n_heads][n_q][head_dim]
    float* lse;             // [n_heads][n_q] natural log, or null
    int n_heads;
    int n_kv_heads;         // divides n_heads
    int head_dim;           // 64 or 128
    int n_q;
    long kv_head_stride;    // elements between KV heads; a multiple of 8
    float scale;
    // list part (optional)
    const int* key_rows;    // [n_kv_heads][key_rows_stride] rows, or null for no list
    const int* n_list;      // [n_kv_heads] entries used (read on the device)
    long key_rows_stride;
    int n_list_hint;        // expected list length (sizes the split count)
    // dense part
    int dense_begin, dense_end;
    bool causal;
    int causal_offset;
    int n_splits;           // 0: chosen to fill the GPU; else forced
    int m_tiles;            // 0: default: the wgmma kernel where it runs (attention_prefill_uses_sm90a), else 2;
                            // mma.sync kernels: 1: 16 query rows a warp, Q in registers; 2: 32 rows, Q in shared memory
    int wgmma_variant;      // wgmma kernel: 0: default (128-key tiles, two warpgroups a block); 1: 64-key tiles, two;
                            // 2: 64-key tiles, one warpgroup a block (two blocks an SM)
    float* workspace;       // attention_prefill_workspace_floats(..., max_splits) floats; unused with one slice
};

// Workspace for up to max_splits key slices (the launcher never picks more).
size_t attention_prefill_workspace_floats(int n_heads, int n_q, int head_dim, int max_splits);

cudaError_t attention_prefill(const AttentionPrefillParams& p, int max_splits, cudaStream_t stream);

// Whether attention_prefill runs p on the sm_90a wgmma kernel (attention-prefill-sm90a.cuh): m_tiles 0,
// head_dim 128, a build with SQUEEZE_WITH_SM90A and a compute-capability 9.0 GPU.
bool attention_prefill_uses_sm90a(const AttentionPrefillParams& p);

} // namespace sq::cuda
