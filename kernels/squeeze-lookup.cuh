// Squeezed Attention lookup for one decode token on the GPU (DESIGN.md §3 "Online"; the CPU
// reference is squeeze::lookup_select in threshold mode): which fixed-context slots each KV head
// attends, as a compact ascending list of slot indices.
//
//   s_j = exp(scale q.c_j) / D,   D = sum_i n_i exp(scale q.c_i) over the coarsest level (level 0).
// Level 0 is scored in full; a cluster of level l is scored only when its parent passed for some
// query head of the group, and it passes for head g when its parent passed for g and
// s_j >= tau_l (compared as scale q.c_j - log D >= log tau_l). The finest clusters that pass for any
// head of the group (GQA union) give the slots, after the always-attended ones [0, n_always).
//
// Work is O(clusters), never O(keys), in one kernel launch (plus a memset of its counters): blocks
// take work items from a ticket counter: level-0 scoring items (logits and per-chunk log-sum-exp
// partials of D; the last chunk of a head reduces log D), then selection items of 256 clusters per
// deeper level (pass masks of the children of passing parents; level 0 itself when it is the only
// level). Items of the finest level also write their passing clusters' slot runs, at an offset
// found by decoupled look-back over the earlier segments of the head, so the list comes out in
// slot order. An item waits only on items ticketed before it (per-head counters), so heads overlap
// and no launch boundary separates the phases. At 512K keys / 32 KV heads / 90% on an H200 it takes
// 125 us against 130 us for the separate kernels (score, select, compact; bench/results/
// gpu-squeezed-2026-11-26-fused.md): still latency-bound (ncu on an H100: 1.36 TB/s, 40% of stall
// cycles at block barriers; gpu-squeezed-2026-11-26-fused-h100-312f752.md). Measured slower and kept
// out (bench/results/gpu-squeezed-2026-11-26-h200-4807e6f.md lists them): the finest level per warp
// without block barriers (+20% at 512K keys), the rows of passing parents listed first (+3%), log D
// read beside the logits (+5% with groups of 4).
//
// Centroids are stored in the cache type (f16/bf16): the lookup then reads half the bytes of f32,
// and a centroid only estimates a cluster's attention.
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "attention-decode.cuh"

namespace sq::cuda {

constexpr int kMaxSqueezeLevels = 4;

struct SqueezeLevelView {
    const void* centroids; // [n_kv_heads][n_clusters][head_dim] of centroid_type, mean of the raw member keys
    const int* parent;     // [n_kv_heads][n_clusters] cluster of the level above; null for level 0
    int n_clusters;        // the same for every KV head, >= 1
    float tau;             // threshold on s_j; 0 keeps every child of a passing parent
};

struct SqueezeLookupParams {
    const float* q;          // [n_heads][head_dim] post-RoPE query of the decode token
    KvType centroid_type;
    SqueezeLevelView levels[kMaxSqueezeLevels]; // coarsest first
    int n_levels;            // 1..kMaxSqueezeLevels
    const float* log_counts; // [n_kv_heads][levels[0].n_clusters] log of level-0 member counts
    const int* first;        // [n_kv_heads][finest n_clusters + 1] slot ranges of the finest clusters
    int n_always;            // slots [0, n_always) of every head: sinks and observation window
    int n_heads;
    int n_kv_heads;          // divides n_heads; groups of at most 32 query heads
    int head_dim;            // 64 or 128
    float scale;             // 1 / sqrt(head_dim), as in the attention
    int* slots;              // out: [n_kv_heads][slot_stride] slots to attend, ascending
    int* n_keys;             // out: [n_kv_heads] entries of slots written per head
    long slot_stride;        // >= the fixed context's token count
    void* workspace;         // squeeze_lookup_workspace_bytes(*this) bytes
    int blocks_per_sm;       // 0: default; 3 or 4: the kernel's register cap (tuning, see squeeze-lookup.cu)
};

size_t squeeze_lookup_workspace_bytes(const SqueezeLookupParams& p);

cudaError_t squeeze_lookup(const SqueezeLookupParams& p, cudaStream_t stream);

} // namespace sq::cuda
