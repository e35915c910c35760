// The prefill lookup's two products on Hopper's warpgroup MMA (wgmma, sm_90a), for head_dim 128:
// log D of every (head, token) over level 0, and the token-averaged scores of a level's clusters (see
// squeeze-lookup-prefill.cuh). squeeze_lookup_prefill runs them on a compute-capability 9.0 GPU in
// builds with SQUEEZE_WITH_SM90A, its mma.sync kernels elsewhere; both take these arguments.
#pragma once

#include <cuda_runtime.h>

#include "attention-decode.cuh"

namespace sq::cuda {

struct LookupLogDArgs {
    const void* q;             // [n_heads][n_q][D]
    const void* centroids;     // [n_kv_heads][n_clusters][D] of level 0
    const float* log_counts;   // [n_kv_heads][n_clusters]
    float* log2_d;             // out: [n_heads][n_q], log2 units
    int n_q, group, n_clusters;
    float scale;
};

struct LookupMeanArgs {
    const void* q;             // [n_heads][n_q][D]
    const void* centroids;     // [n_kv_heads][n_clusters][D] of the level
    const float* log2_d;       // [n_heads][n_q]
    const int* list;           // [n_kv_heads][n_clusters] clusters to score, or null: all of them
    const int* list_count;     // [n_kv_heads] entries of list
    float* scores;             // out: [n_heads][n_clusters] for the clusters scored
    int n_q, group, n_clusters;
    float scale;
};

// Grid (ceil(n_q / 128), n_heads).
cudaError_t lookup_log_d_sm90a(const LookupLogDArgs& a, KvType type, int n_heads, cudaStream_t stream);
// Grid (ceil(n_clusters / 128), n_heads); blocks past a list's count return at once.
cudaError_t lookup_mean_sm90a(const LookupMeanArgs& a, KvType type, int n_heads, cudaStream_t stream);

} // namespace sq::cuda
