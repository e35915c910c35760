// Threshold calibration (DESIGN.md §3, offline step 4).
//
// The queries of the last W fixed-context tokens stand in for future questions. For each of them
// (per token, as in decode) and each KV head, every finest cluster j gets m_j = max over the group's
// query heads of s_j: the lookup keeps j for that KV head exactly when m_j >= tau (union over heads).
// tau for a target sparsity is the key-weighted quantile of the pooled m_j, so that on these queries
// the share of fixed-context keys read (always-attended ones included) is 1 - target.
//
// A question's prefill selects once from s_j averaged over its tokens, and averaging flattens the
// scores (peaks fall, the tail rises), so a per-token quantile read on averaged scores selects
// another share of the keys. A second ladder is calibrated as the prefill lookup scores: s_j
// averaged per head over windows of `prefill_chunk` consecutive window queries (a typical question
// with its chat-template tokens), then the max over the group's heads.
//
// Coarser levels prune before the finest one is scored; their thresholds are set so that the parents
// of `parent_keep` of the keys the finest threshold selects survive (the tree then costs about
// 1 - parent_keep of recall against flat scoring, and the sparsity moves by less than that).
//
// Both variants are produced: one tau per level pooled over all layers (the original's global
// quantile) and one per layer.
#pragma once

#include <cstdint>
#include <vector>

#include "../common/status.h"
#include "cluster-index.h"

namespace sq::squeeze {

struct CalibrationParams {
    std::vector<float> targets = {0.5f, 0.7f, 0.8f, 0.9f, 0.95f}; // sparsities of the ladder
    float parent_keep = 0.99f;
    // Queries averaged per sample of the prefill ladder; windows start every prefill_chunk / 2 tokens.
    uint32_t prefill_chunk = 24;
    uint32_t n_threads = 0; // workers over layers; 0: hardware concurrency
};

struct Thresholds {
    std::vector<float> targets;   // [n_targets]
    uint32_t n_layers = 0;
    uint32_t n_levels = 0;
    std::vector<float> global;    // [n_targets][n_levels]
    std::vector<float> per_layer; // [n_targets][n_layers][n_levels]
    // The same for lookups over a batch's averaged scores (a question's prefill).
    std::vector<float> prefill_global;    // [n_targets][n_levels]
    std::vector<float> prefill_per_layer; // [n_targets][n_layers][n_levels]

    // The n_levels thresholds to pass as SelectParams::tau; averaged: for a lookup that averages
    // the scores of several tokens.
    const float* tau(size_t target, uint32_t layer, bool layer_variant, bool averaged = false) const {
        const std::vector<float>& g = averaged ? prefill_global : global;
        const std::vector<float>& pl = averaged ? prefill_per_layer : per_layer;
        return layer_variant ? pl.data() + (target * n_layers + layer) * n_levels : g.data() + target * n_levels;
    }
};

// q: [n_layers][n_q][n_heads][head_dim] post-RoPE queries of the last n_q fixed-context tokens;
// n_heads must be a multiple of the index's KV heads (query head h uses KV head h / group).
// Errors: SQUEEZE_BAD_PARAMS (no queries, heads not a multiple, a target outside [0, 1), prefill_chunk 0).
Status calibrate(const ClusterIndex& index, const float* q, uint32_t n_q, uint32_t n_heads, float scale,
                 const CalibrationParams& params, Thresholds& out);

} // namespace sq::squeeze
