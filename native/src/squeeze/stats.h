// What the squeeze path did for one answer (DESIGN.md §3, "Stats"): keys attended per (layer, KV
// head) with their spread, achieved sparsity, bytes of KV read against dense, and time in lookup
// against attention (split into the fixed part, the dynamic part and their merge). Filled by
// squeeze_attend_layer on the calling thread.
#pragma once

#include <cstdint>
#include <vector>

#include "cluster-index.h"
#include "lookup.h"
#include "sparse-attention.h"

namespace sq::squeeze {

struct SqueezeStats {
    uint32_t n_layers = 0;
    uint32_t n_kv_heads = 0;
    std::vector<uint32_t> clusters_per_level; // [n_levels] of layer 0, KV head 0 (the same share everywhere)
    std::vector<uint64_t> lookups;            // [n_layers][n_kv_heads]
    std::vector<double> keys_sum;             // [n_layers][n_kv_heads] fixed-context keys attended, over lookups
    std::vector<double> keys_sum_sq;          // [n_layers][n_kv_heads] for the spread
    uint64_t keys_attended = 0;               // over all lookups
    uint64_t keys_fixed = 0;                  // fixed-context keys of those lookups (what dense reads)
    uint64_t centroids_scored = 0;
    uint64_t bytes_read = 0;                  // K and V rows (f16) read plus centroids (f32) scored, plus
                                              // the K rows a question's prefill rerank scored
    uint64_t bytes_dense = 0;                 // K and V rows (f16) dense attention reads
    double lookup_seconds = 0.0;
    double attention_seconds = 0.0;           // sparse fixed part + dense dynamic part + merge (wall)
    // attention_seconds split by part: the threads' time in each part scaled to the wall time, so
    // the three add up to attention_seconds. Token-mass collection (citations) counts as fixed.
    double fixed_seconds = 0.0;               // exact attention over the selected fixed-context keys
    double dynamic_seconds = 0.0;             // exact causal attention over the dynamic tokens
    double merge_seconds = 0.0;               // what joins them: the shared softmax (maxima, exp, sums, normalising
                                              // and f16 rounding of the probabilities, adding the chunks' outputs)
    // Evaluation only (LayerAttention::recall): per layer, the attention-mass recall of each (token,
    // query head) row summed, and the number of rows. Empty unless recall was asked for.
    std::vector<double> recall_sum;           // [n_layers]
    std::vector<uint64_t> recall_rows;        // [n_layers]

    void reset(const ClusterIndex& index);
    void add_lookup(uint32_t layer, uint32_t kv_head, const HeadIndex& head, const Selection& sel);
    // One layer's attention phase: `wall` seconds, of which `tasks_wall` in the parallel tasks whose
    // per-thread part times are `times`; the remainder (the serial token-mass sum) is fixed-part time.
    void add_attention(double wall, double tasks_wall, const std::vector<AttnTimes>& times);

    double sparsity() const { return keys_fixed ? 1.0 - double(keys_attended) / double(keys_fixed) : 0.0; }
    double mean_keys(uint32_t layer, uint32_t kv_head) const;
    double stddev_keys(uint32_t layer, uint32_t kv_head) const;
    void add_recall(uint32_t layer, double sum, uint64_t rows);
    // Mean recall of a layer's rows; -1 when none was measured.
    double mean_recall(uint32_t layer) const;
};

} // namespace sq::squeeze
