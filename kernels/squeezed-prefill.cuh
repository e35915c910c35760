// Squeezed Attention for the question's prefill (DESIGN.md §3 "Online"; the CPU reference is
// squeeze::squeeze_attend_layer with n_q rows in threshold mode): squeeze_lookup_prefill picks each
// KV head's fixed-context slots from the token-averaged centroid scores, then attention_prefill
// attends those slots (read in place from the cluster-ordered store) and the question's own keys
// causally in one online softmax, split over key slices joined by lse_merge.
//
// K/V layout per KV head: [0, n_fixed) the fixed context in slot order, [n_fixed, n_fixed + n_q) the
// question's keys (row n_fixed + j is question token j).
//
// Measured on an H200 (bench/results/gpu-prefill-2026-11-26-h200-3666691.md; bf16, H 32, d 128, 1024
// tokens, the wgmma lookup and attention): at 90% sparsity 1.00 ms at 128K keys and 3.42 ms at 512K
// (Hkv 32), 3.6x / 4.4x cuDNN SDPA dense (no mask) and 6.4x / 7.6x flash; the lookup is 0.22 / 0.70 ms
// of that. At 95%: 5.5x / 7.2x cuDNN. (dae7596, mma.sync and every centroid scored: 1.66 / 6.12 ms.)
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "attention-prefill.cuh"
#include "squeeze-lookup-prefill.cuh"

namespace sq::cuda {

struct SqueezedPrefillParams {
    // Selection over the fixed context; q, heads, head_dim, scale and n_q are the attention's too.
    // slots and n_keys are the caller's (kept for stats and citations); the workspace is set here.
    SqueezeLookupPrefillParams lookup;
    const void* k;          // [n_kv_heads][kv_head_stride] of lookup.centroid_type
    const void* v;
    long kv_head_stride;    // >= (n_fixed + n_q) * head_dim
    int n_fixed;
    int n_keys_hint;        // keys a head is expected to attend (sizes the split count); 0: n_fixed
    float* out;             // [n_heads][n_q][head_dim]
    float* lse;             // [n_heads][n_q] natural log, or null
    int max_splits;         // key slices at most (workspace sizing), >= 1
    int m_tiles;            // attention kernel variant (AttentionPrefillParams::m_tiles)
    int wgmma_variant;      // AttentionPrefillParams::wgmma_variant
    void* workspace;        // squeezed_prefill_workspace_bytes(*this), 256-byte aligned
};

size_t squeezed_prefill_workspace_bytes(const SqueezedPrefillParams& p);

cudaError_t squeezed_prefill(const SqueezedPrefillParams& p, cudaStream_t stream);

} // namespace sq::cuda
