// Exact attention over the selected fixed-context keys, and the log-sum-exp merge with the dynamic
// part (DESIGN.md §3, "Output").
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
// keys, the dynamic rows, and what joins them (the log-sum-exp merge, or the shared softmax of
// attention_rounded_f16).
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

// The attention of n_rows query rows of one token (the heads of one GQA group) over the selected
// fixed-context keys and the token's n_dyn dynamic rows, rounded where the engine's dense F16-cache
// kernel rounds (backend/cpu/ops-attention.cpp): each query to f16, and every probability to f16
// before the value product. That rounding needs each probability's final normaliser, so the two key
// sets share one softmax (their logits are computed first) instead of being merged by log-sum-exp
// after the value pass; the result is the same attention.
// q, out: [n_rows][head_dim]; k_dyn, v_dyn: [n_dyn][head_dim] f16; q16: resized to [n_rows][head_dim];
// probs: resized to [n_rows][n_sel + n_dyn], holding on return each row's final probabilities over the
// slots of selection_ranges (in order), then over the dynamic rows. times (optional): each part's
// time is added (the shared softmax counts as the merge).
void attention_rounded_f16(const HeadIndex& head, const Selection& sel, const float* q, uint32_t n_rows, const uint16_t* k_dyn,
                           const uint16_t* v_dyn, uint32_t n_dyn, float scale, std::vector<float>& q16, std::vector<float>& probs,
                           float* out, AttnTimes* times = nullptr);

} // namespace sq::squeeze
