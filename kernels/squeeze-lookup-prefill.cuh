// Squeezed Attention lookup for a block of question tokens (prefill) on the GPU (DESIGN.md §3
// "Online"; the CPU reference is squeeze::lookup_select in threshold mode with n_q rows): each query
// head's estimated attention of a cluster is averaged over the question's tokens,
//   s_j(h) = 1/n_q sum_i exp(scale q_i.c_j - log D_i),  D_i = sum_k n_k exp(scale q_i.c_k) over level 0,
// a cluster passes for head h when its parent passed for h and s_j(h) >= tau_l, and the finest
// clusters passing for any head of a KV head's group give that KV head's slots (after the
// always-attended [0, n_always)), ascending.
//
// Kernels: log D of every (head, token) over level 0 (tensor-core products of the question's queries
// with the centroids, an online log-sum-exp per token); per level, the token-averaged scores of the
// clusters to score, centroid-major (a block holds 128 centroids as tensor-core A fragments and
// streams the question's tokens past them, summing exp in registers: no [tokens x clusters] matrix
// and no atomics): all of level 0, and of a deeper level only the children of clusters that passed
// the level above for some head of the KV head's group, as the CPU's lookup_select scores them; per
// level pass masks, then the next level's list of clusters to score, or at the finest level the slot
// runs (compacted by per-block counts; every selection kernel spreads over clusters x KV heads).
// Queries and centroids are in the cache type (f16/bf16), accumulation in f32. The two products run
// on wgmma (squeeze-lookup-prefill-sm90a.cuh) for head_dim 128 on a 9.0 GPU in SQUEEZE_WITH_SM90A builds.
//
// Measured on an H200 (bench/results/gpu-prefill-2026-11-26-h200-3666691.md; 1024 tokens, H 32, d 128,
// K1 = 1% and K2 = 5% of N, tau1 as the prefill ladder's calibration sets it, 90% sparsity): 0.22 ms at
// 128K keys and 0.70 ms at 512K (half of level 2 scored; 0.29 / 1.00 ms scoring all of it; 0.25 /
// 0.85 ms on the mma.sync products), a fifth of the squeezed prefill. At dae7596 (every centroid
// scored, atomics per column, one selection block per KV head): 0.48 / 1.79 ms.
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "squeeze-lookup.cuh"

namespace sq::cuda {

struct SqueezeLookupPrefillParams {
    const void* q;           // [n_heads][n_q][head_dim] of centroid_type, post-RoPE
    int n_q;
    KvType centroid_type;    // type of q and of the centroids
    SqueezeLevelView levels[kMaxSqueezeLevels]; // coarsest first
    int n_levels;            // 0..kMaxSqueezeLevels; 0: only the always-attended slots
    const float* log_counts; // [n_kv_heads][levels[0].n_clusters]
    const int* first;        // [n_kv_heads][finest n_clusters + 1] slot ranges of the finest clusters
    int n_always;
    int n_heads;
    int n_kv_heads;          // divides n_heads; groups of at most 32
    int head_dim;            // 64 or 128
    float scale;
    int* slots;              // out: [n_kv_heads][slot_stride]
    int* n_keys;             // out: [n_kv_heads]
    long slot_stride;
    float* scores_out;       // optional out: [n_heads][finest n_clusters] token-averaged scores (stats, tests); 0 for
                             // clusters the tree did not score (no parent passing for any head of the group)
    void* workspace;         // squeeze_lookup_prefill_workspace_bytes(*this)
    bool mma_sync;           // the mma.sync products even where the wgmma ones run (squeeze-lookup-prefill-sm90a.cuh)
};

size_t squeeze_lookup_prefill_workspace_bytes(const SqueezeLookupPrefillParams& p);

cudaError_t squeeze_lookup_prefill(const SqueezeLookupPrefillParams& p, cudaStream_t stream);

} // namespace sq::cuda
