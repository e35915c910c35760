// Squeezed Attention for one decode token (DESIGN.md §3 "Online"; the CPU reference is
// squeeze::squeeze_attend_layer with one token in threshold mode): the lookup picks each KV head's
// fixed-context slots from the centroids, split-K attention reads only those rows of the
// cluster-ordered store in place, dense split-K attention covers the dynamic tokens, and lse_merge
// joins the two parts.
//
// Kernels, in order: squeeze_lookup (a memset of its counters and one kernel), then the fixed part
// and, with n_dyn > 0, attention_decode over the dynamic tokens. The fixed part for GQA groups is
// squeezed_attention: the slot lists cut into equal chunks across all KV heads (tensor cores), its
// merge also joining the dynamic state. With one query head per KV head it is attention_decode over
// the slot lists, each head's list split on its own (CUDA cores), and lse_merge with the dynamic
// part: measured on an H200 at 256K-512K keys, Hkv 32, that was 2-5% faster than the equal chunks
// through tensor cores, which won by up to 7% with Hkv 8 (bench/results/gpu-squeezed-2026-11-26-fused.md).
//
// The kernels after the lookup are programmatic dependent launches (grid-dependency.cuh): each is
// scheduled while the one before finishes and waits for it before its first read.
//
// Measured (CUDA graphs, 90% sparsity, 512K keys): on an H100 6.19x cuDNN dense with 32 KV heads,
// 3.94x with 8 (bench/results/gpu-squeezed-2026-11-26-fused-h100-c2c24ca.md); on an H200, where cuDNN
// reads 4.6 TB/s, 5.36x and 3.00x (gpu-squeezed-2026-11-26-h200-4807e6f.md). The lookup takes 38-60%
// of the step.
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "attention-decode.cuh"
#include "squeeze-lookup.cuh"

namespace sq::cuda {

struct SqueezedDecodeParams {
    // Selection: q, heads, head_dim and scale are the attention's too; slots and n_keys (caller's
    // buffers, kept for stats and citations) receive each head's slot list. Its workspace is set here.
    SqueezeLookupParams lookup;
    const void* k;          // fixed context in slot order: [n_kv_heads][kv_head_stride] of kv_type
    const void* v;          // same layout as k
    long kv_head_stride;    // elements between KV heads, >= n_fixed * head_dim
    KvType kv_type;
    int n_fixed;            // fixed-context tokens (slots) per head
    int n_keys_hint;        // keys a head is expected to attend (sizes the split count); 0: n_fixed
    const void* k_dyn;      // dynamic tokens: [n_kv_heads][dyn_head_stride] of kv_type, rows [0, n_dyn)
    const void* v_dyn;
    long dyn_head_stride;
    int n_dyn;              // 0: no dynamic part
    float* out;             // [n_heads][head_dim]
    float* lse;             // [n_heads] natural log, or null
    void* workspace;        // squeezed_decode_workspace_bytes(*this) bytes, 256-byte aligned
    int tensor_cores;       // with per_head_split, attention_decode's kernel: 0 default, 1 mma, -1 CUDA cores
    int per_head_split;     // fixed part: 0 as above; 1 attention_decode's per-head split; -1 equal chunks (squeezed_attention)
    // A step captured in a CUDA graph: when set, the dynamic rows are [0, *n_dyn_device + n_dyn_add),
    // counted on the device at run time, and n_dyn is their upper bound (sizes the split count).
    const int* n_dyn_device;
    int n_dyn_add;
};

size_t squeezed_decode_workspace_bytes(const SqueezedDecodeParams& p);

cudaError_t squeezed_decode(const SqueezedDecodeParams& p, cudaStream_t stream);

} // namespace sq::cuda
