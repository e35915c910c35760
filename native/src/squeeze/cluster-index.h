// The clustered fixed context of one document (DESIGN.md §3, offline steps 2-3): for every
// (layer, KV head) a tree of centroids over the keys, and the keys and values re-laid out so that
// every finest-level cluster is one contiguous run of rows that the sparse attention reads in place.
//
// Layout of one head:
//   slots [0, n_always)          the attention sinks then the observation window, in token order:
//                                always attended, so they are not clustered at all;
//   slots [n_always, n_tokens)   finest cluster after finest cluster, tokens ascending inside each.
// Tree: levels[0] is the coarsest. Cluster j of level L owns children [first[j], first[j+1]) of
// level L+1; for the finest level these are slots. Children of one parent are contiguous, so the
// lookup scores a parent's children as one column range.
//
// Keys and values are stored as f16: the engine's KV cache is f16 by default (so the copy is exact),
// and the online step is bound by bytes read, so half the bytes of f32 is half the time. Centroids
// are f32 (they are few and the scores are compared against calibrated thresholds).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "../common/status.h"

namespace sq::squeeze {

enum class KvElem { F16, F32 };

// A view of the engine's KV cache for the fixed context. Both caches are
// [n_layers][n_kv_heads][n_ctx][head_dim] of elem; the fixed context is positions [0, n_tokens).
struct KvView {
    const void* k = nullptr;
    const void* v = nullptr;
    KvElem elem = KvElem::F16;
    uint32_t n_layers = 0;
    uint32_t n_kv_heads = 0;
    uint32_t head_dim = 0;
    uint32_t n_ctx = 0;
    uint32_t n_tokens = 0;
};

struct ClusterParams {
    std::vector<float> level_fractions = {0.01f, 0.05f}; // clusters per level / n_tokens, coarsest first
    uint32_t n_sink = 4;      // first tokens, always attended
    uint32_t n_window = 100;  // last fixed-context tokens (the observation window), always attended
    uint32_t max_iters = 20;  // Lloyd iterations per level (stops earlier once assignments settle)
    uint64_t seed = 0x5eed5eedULL;
    uint32_t n_threads = 0;   // workers over (layer, KV head); 0: hardware concurrency
    // With calibration queries given (QueryRows): compare keys in the metric of their query heads'
    // second moment (cluster_query_metric) rather than as plain directions.
    bool query_metric = true;
};

// Post-RoPE queries that stand for future questions (the observation window's):
// q [n_layers][n_q][n_heads][head_dim]; query head g uses KV head g / (n_heads / n_kv_heads).
struct QueryRows {
    const float* q = nullptr;
    uint32_t n_q = 0;
    uint32_t n_heads = 0;
};

struct BuildProgress {
    // Called after each (layer, KV head), from worker threads but never concurrently.
    std::function<void(uint32_t done, uint32_t total)> on_progress;
    const std::atomic<bool>* cancel = nullptr; // set to stop early with SQUEEZE_CANCELLED
};

struct ClusterLevel {
    uint32_t n_clusters = 0;
    std::vector<float> centroids;    // [n_clusters][head_dim] mean of the raw keys under each cluster
    std::vector<float> centroids_t;  // [head_dim][centroid_pad(n_clusters)] the same, transposed, zero padded
    std::vector<uint32_t> counts;    // [n_clusters] keys under each cluster, each >= 1
    std::vector<float> log_counts;   // [n_clusters] log(counts), for the lookup's denominator
    std::vector<uint32_t> first;     // [n_clusters + 1] child ranges (slots for the finest level)
};

struct HeadIndex {
    uint32_t n_tokens = 0;
    uint32_t head_dim = 0;
    uint32_t n_always = 0;
    std::vector<ClusterLevel> levels;    // coarsest first; empty when every token is always attended
    std::vector<uint32_t> token_of_slot; // [n_tokens] position of the key/value stored in each slot
    std::vector<uint16_t> keys;          // [n_tokens][head_dim] f16, slot order
    std::vector<uint16_t> values;        // [n_tokens][head_dim] f16, slot order
};

struct ClusterIndex {
    uint32_t n_layers = 0;
    uint32_t n_kv_heads = 0;
    uint32_t head_dim = 0;
    uint32_t n_tokens = 0;
    uint32_t n_levels = 0;
    std::vector<HeadIndex> heads; // [n_layers][n_kv_heads]

    const HeadIndex& head(uint32_t layer, uint32_t kv_head) const { return heads[size_t{layer} * n_kv_heads + kv_head]; }
};

// Clusters every (layer, KV head) of the view, in parallel; with queries (and params.query_metric),
// each in the metric of its query heads' rows.
// Errors: SQUEEZE_BAD_PARAMS (empty view, n_tokens > n_ctx, a level fraction outside (0, 1] or
// not increasing, query heads not a multiple of the KV heads), SQUEEZE_CANCELLED.
Status cluster_index_build(const KvView& kv, const ClusterParams& params, const BuildProgress& progress,
                           ClusterIndex& out, const QueryRows& queries = {});

// One head, from its keys and values in token order: keys, values [n_tokens][head_dim] f32;
// metric [head_dim][head_dim] or null (cluster_query_metric).
Status cluster_head_build(const float* keys, const float* values, uint32_t n_tokens, uint32_t head_dim,
                          const ClusterParams& params, HeadIndex& out, const float* metric = nullptr);

// The lookup scores a cluster by q.c, so what its members must share is q.k for the queries that
// come, not their direction over all head_dim dimensions: with M the queries' second moment
// (mean of q q^T over rows [n_rows][dim]) plus a small ridge, E_q[(q.k - q.c)^2] = (k-c)^T M (k-c).
// metric [dim][dim] = L^T with M = L L^T, so |metric k|^2 = k^T M k: the keys that the queries tell
// apart are kept apart (a head of the GQA group that reads dimensions the others ignore is served
// too), the ones no query distinguishes may share a cluster.
void cluster_query_metric(const float* rows, uint32_t n_rows, uint32_t dim, std::vector<float>& metric);

// Fills the derived fields (centroids_t, log_counts) from centroids and counts: after building, and
// after loading a pack, which stores only the latter.
void cluster_level_derive(ClusterLevel& level, uint32_t head_dim);

} // namespace sq::squeeze
