// Online cluster selection (DESIGN.md §3, "Online"): which fixed-context keys a query attends.
//
// Estimated attention of cluster j for one query row q:
//   s_j = exp(scale * q.c_j) / D,   D = sum_i n_i * exp(scale * q.c_i) over the COARSEST level.
// The coarsest level is always scored in full, so D is known before any finer level is touched, and
// every level's scores share it (s_j * n_j is then the estimated share of attention mass in j).
// Level 0 selects clusters, only the children of selected clusters are scored at the next level,
// and so on; the finest selected clusters give the keys. Rows of one token's prefill question are
// averaged (s of each head is the mean over the question's tokens); the heads of one GQA group are
// merged per KV head (union in threshold mode, summed scores in budget/mass modes), so each selected
// key is read once per KV head.
#pragma once

#include <cstdint>
#include <vector>

#include "cluster-index.h"

namespace sq::squeeze {

enum class SelectMode {
    Dense,     // every cluster (sparsity 0)
    Threshold, // s_j >= tau[level] at every level (tau = 0 keeps everything)
    Budget,    // finest clusters by descending score until budget_keys keys (always-attended included)
    Mass,      // clusters by descending score until they hold mass_target of the estimated attention
               // (adaptive sparsity: peaked heads read few keys, diffuse ones many)
};

struct SelectParams {
    SelectMode mode = SelectMode::Dense;
    const float* tau = nullptr;  // [n_levels] thresholds for Threshold
    uint32_t budget_keys = 0;    // Budget
    float mass_target = 0.95f;   // Mass
    // Budget/Mass: coarse levels keep clusters until this multiple of the budget (or until this much
    // of the missing mass, 1 - target, is left out), since coarse estimates blur the fine ones.
    float coarse_slack = 2.0f;
    // Threshold mode over several query tokens (a question's prefill): the thresholds fix how many keys
    // are read; which clusters, is decided by their exact attention mass over the rows, among a
    // shortlist of rerank_shortlist times as many keys ranked by the estimate (0: the estimate decides).
    float rerank_shortlist = 2.0f;
};

struct Selection {
    std::vector<uint32_t> clusters; // finest-level cluster ids, ascending (reads walk the store forward)
    std::vector<uint32_t> slots;    // single clustered slots, ascending: only the oracle-keys evaluation (recall.h)
    uint32_t n_keys = 0;            // fixed-context keys attended, always-attended ones included
    uint32_t n_scored = 0;          // centroids scored (all levels, per distinct column)
    uint32_t n_ranked = 0;          // keys whose K rows the prefill rerank scored exactly (rerank_shortlist)
};

// Reused buffers of one thread (lookups run per KV head on several threads).
struct LookupScratch {
    std::vector<float> dots;     // [n_rows][k_pad] of the level being scored
    std::vector<float> log_d;    // [n_rows]
    std::vector<float> score;    // [group][k_pad] token-averaged s per head
    std::vector<uint8_t> chosen; // [group][k_pad] per-head selection of the current level
    std::vector<uint8_t> active; // [k_pad] columns scored at the current level
    std::vector<float> logits;   // [n_rows][n_candidate_slots] (rerank)
    std::vector<double> mass;    // [n_candidates] exact attention mass (rerank)
};

// q: [n_q][group][head_dim] query rows of the group's heads (n_q = 1 in decode, the question's
// length in prefill). scale: 1/sqrt(head_dim) as in the attention.
void lookup_select(const HeadIndex& head, const float* q, uint32_t n_q, uint32_t group, float scale,
                   const SelectParams& params, LookupScratch& scratch, Selection& out);

// Token-averaged estimated attention of every cluster of every level for each head of the group, with
// no pruning: scores[level][g * n_clusters(level) + j]. Used by calibration and by tests of the tree.
void lookup_score_all(const HeadIndex& head, const float* q, uint32_t n_q, uint32_t group, float scale,
                      std::vector<std::vector<float>>& scores);

// Estimated attention of every cluster of every level for each query row on its own (no averaging):
// q [n_rows][head_dim]; scores[level][r * n_clusters(level) + j]. Used by calibration.
void lookup_score_rows(const HeadIndex& head, const float* q, uint32_t n_rows, float scale,
                       std::vector<std::vector<float>>& scores);

} // namespace sq::squeeze
