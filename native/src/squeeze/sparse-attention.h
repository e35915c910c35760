// Exact attention over the selected fixed-context keys, and the log-sum-exp merge with the dynamic
// part (DESIGN.md §3, "Output"); the engine's path (ChunkedAttention below) joins both key sets in one
// softmax instead, which is the same attention and lets it cut one token's keys into chunks.
//
// A partial result over a subset of keys is (out, max, sum): out = sum_i p_i v_i / sum with
// p_i = exp(scale * q.k_i - max), sum = sum_i p_i. Two partials over disjoint key sets merge into the
// attention over their union exactly (up to float rounding), whatever their maxima.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "cluster-index.h"
#include "lookup.h"

namespace sq::squeeze {

struct AttnPartial {
    float max = -INFINITY; // of the scaled logits; -inf with sum 0 for an empty key set
    float sum = 0.0f;
};

// Thread time of attention computations by part, in seconds (added to): the selected fixed-context
// keys, the dynamic rows, and what joins them (the shared softmax of ChunkedAttention: maxima, exp,
// sums, normalising and rounding the probabilities, adding the chunks' outputs).
struct AttnTimes {
    double fixed = 0.0;
    double dynamic = 0.0;
    double merge = 0.0;
};

// Adds the time since `since` to `part` and restarts the clock.
inline void attn_lap(std::chrono::steady_clock::time_point& since, double& part) {
    const auto now = std::chrono::steady_clock::now();
    part += std::chrono::duration<double>(now - since).count();
    since = now;
}

// The slot ranges a selection reads, in the order sparse_attention reads them: the always-attended
// prefix, then the selected clusters, adjacent runs joined.
std::vector<std::pair<uint32_t, uint32_t>> selection_ranges(const HeadIndex& head, const Selection& sel);

// Attention of n_rows query rows (the heads of one GQA group, possibly several tokens: the fixed
// context is visible to all of them) over the always-attended slots and the selected clusters of
// one KV head, reading each cluster's keys and values in place, each key once for all rows.
// q: [n_rows][head_dim]; out: [n_rows][head_dim]; parts: [n_rows]; scratch: resized to [n_rows][n_keys],
// holding on return each row's exp(logit - max) over the slots of selection_ranges, in order.
void sparse_attention(const HeadIndex& head, const Selection& sel, const float* q, uint32_t n_rows, float scale,
                      std::vector<float>& scratch, float* out, AttnPartial* parts);

// The same partial form over n contiguous cache rows (the dynamic tokens): k, v [n][head_dim] of elem.
// scratch: [n]. n = 0 gives an empty partial (out zero).
void attention_partial(const float* q, const void* k, const void* v, KvElem elem, uint32_t n, uint32_t head_dim,
                       float scale, float* scratch, float* out, AttnPartial& part);

// Merges partial b into a: out_a and a become the attention over both key sets.
void lse_merge(float* out_a, AttnPartial& a, const float* out_b, const AttnPartial& b, uint32_t head_dim);

// The keys one (token, KV head) attends, numbered in the order the chunked attention below reads
// them: the selection's fixed-context slots (selection_ranges), then the token's dynamic cache rows.
struct KeyList {
    std::vector<std::pair<uint32_t, uint32_t>> ranges; // slot ranges of the fixed context
    std::vector<uint32_t> offset;                      // [ranges.size() + 1]: the key number each range starts at
    uint32_t n_fixed() const { return offset.empty() ? 0 : offset.back(); }
};
void key_list_build(const HeadIndex& head, const Selection& sel, KeyList& list);

// One query group's attention over a KeyList and its dynamic rows, computed by chunks of keys (a
// range [begin, end) of the key numbers; a chunk may cut a cluster or span fixed and dynamic keys) so
// that one token's attention can use every thread. Both key sets share one softmax, in three steps:
//   1. chunk_logits, per chunk: probs = scale * q . k over the chunk's keys; each row's maximum over them.
//   2. chunk_exp, once over all keys [0, n_keys()) with each row's maximum over all chunks:
//      probs = exp(probs - max); each row's sum.
//   3. chunk_values, per chunk: probs *= 1 / sum, rounded to f16 with round_f16; the chunk's share
//      of the output, sum_i probs_i v_i; each fixed key's probability added to token mass.
// Step 2 is one call, so every probability is the same bits however the keys were cut; only the
// order in which the chunks' outputs and token mass are added depends on the cut.
// With round_f16 (the engine's F16 cache) the group's queries must already be rounded to f16 and
// probabilities are rounded as the engine's dense F16-cache kernel rounds them
// (backend/cpu/ops-attention.cpp): with every cluster selected the result agrees with dense attention.
struct ChunkedAttention {
    const HeadIndex* head = nullptr;
    const KeyList* keys = nullptr;
    const void* k_dyn = nullptr; // [n_dyn][head_dim] of elem
    const void* v_dyn = nullptr;
    KvElem elem = KvElem::F16;
    uint32_t n_dyn = 0;
    const float* q = nullptr;    // [n_rows][head_dim]
    uint32_t n_rows = 0;
    float scale = 0.0f;
    bool round_f16 = false;
    float* probs = nullptr;      // [n_rows][n_keys()]
    uint32_t n_keys() const { return keys->n_fixed() + n_dyn; }
};

// row_max: [n_rows]. Times: the fixed keys' logits count as fixed, the dynamic rows' as dynamic.
void chunk_logits(const ChunkedAttention& a, uint32_t begin, uint32_t end, float* row_max, AttnTimes& times);
// max: [n_rows] over all chunks; row_sum: [n_rows], set. Time counts as merge (the shared softmax).
// Called over all keys (step 2): the sum's lane order then does not depend on how the keys were cut.
void chunk_exp(const ChunkedAttention& a, uint32_t begin, uint32_t end, const float* max, double* row_sum, AttnTimes& times);
// inv: [n_rows], 1 / the row's sum over all chunks; out: [n_rows][head_dim], set to the chunk's share.
// token_mass (optional): [head->n_tokens], each fixed key's probability added at its token.
void chunk_values(const ChunkedAttention& a, uint32_t begin, uint32_t end, const float* inv, float* out, float* token_mass,
                  AttnTimes& times);

} // namespace sq::squeeze
