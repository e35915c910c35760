#include "layer-attention.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include "recall.h"
#include "sparse-attention.h"

namespace sq::squeeze {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs fn(task, slot) for every task in [0, n), tasks handed out dynamically. A slot in
// [0, n_threads) is never run twice at the same time, so it indexes per-thread scratch.
template <typename Fn>
void run_tasks(cpu::ThreadPool& pool, uint32_t n, Fn&& fn) {
    std::atomic<uint32_t> next{0};
    pool.parallel_for(pool.n_threads(), [&](int64_t begin, int64_t end) {
        for (int64_t slot = begin; slot < end; ++slot)
            for (uint32_t task; (task = next.fetch_add(1)) < n;) fn(task, static_cast<uint32_t>(slot));
    });
}

// The factor that turns a row's fixed-part p (exp(logit - max) over the selection's slots) into its
// final attention probabilities: 1/sum, scaled by the fixed part's share after the merge.
float fixed_probability_coef(const AttnPartial& fixed, const AttnPartial& dyn) {
    if (fixed.sum <= 0.0f) return 0.0f;
    const float m = std::max(fixed.max, dyn.max);
    const float w_fixed = fixed.sum * std::exp(fixed.max - m);
    const float w_dyn = dyn.sum > 0.0f ? dyn.sum * std::exp(dyn.max - m) : 0.0f;
    return w_fixed / (w_fixed + w_dyn) / fixed.sum;
}

// Adds one row's attention probabilities of the fixed-context keys (p * coef, over the selection's
// slots in order) to mass [n_tokens].
void add_token_mass(const HeadIndex& head, const Selection& sel, const float* p, float coef, float* mass) {
    if (coef == 0.0f) return;
    uint32_t i = 0;
    for (const auto& r : selection_ranges(head, sel))
        for (uint32_t s = r.first; s < r.second; ++s) mass[head.token_of_slot[s]] += p[i++] * coef;
}

} // namespace

Status squeeze_attend_layer(const LayerAttention& a, cpu::ThreadPool& pool, LayerScratch& scratch, SqueezeStats* stats) {
    const ClusterIndex* index = a.index;
    if (!index || a.layer >= index->n_layers || index->n_kv_heads == 0 || a.n_heads % index->n_kv_heads != 0 || !a.q || !a.out ||
        (a.n_dyn_before + a.n_tokens > 0 && (!a.k_dyn || !a.v_dyn)) || (a.round_as_dense && a.elem != KvElem::F16) ||
        (a.recall && !stats))
        return Status::error("SQUEEZE_BAD_PARAMS", "squeeze_attend_layer: bad arguments for layer " + std::to_string(a.layer));
    if (a.n_tokens == 0) return Status::ok();
    const uint32_t d = index->head_dim, n_kv = index->n_kv_heads, group = a.n_heads / n_kv;
    const size_t elem_bytes = a.elem == KvElem::F16 ? 2 : 4;
    const uint32_t n_threads = pool.n_threads();
    scratch.lookup.resize(n_threads);
    scratch.rows.resize(n_threads);
    scratch.partial.resize(n_threads);
    scratch.parts.resize(n_threads);
    const uint32_t n_lookups = a.per_token ? a.n_tokens * n_kv : n_kv; // task i: token i / n_kv, KV head i % n_kv
    scratch.selections.resize(n_lookups);
    if (a.token_mass) {
        scratch.mass.resize(n_threads);
        for (std::vector<float>& m : scratch.mass) m.assign(index->n_tokens, 0.0f);
    }
    if (a.recall) scratch.recall.assign(n_threads, 0.0);
    scratch.times.assign(n_threads, AttnTimes{});

    // Phase 1: one selection per KV head from all of the batch's query rows of its group (or from
    // each token's own rows with per_token).
    auto t0 = std::chrono::steady_clock::now();
    run_tasks(pool, n_lookups, [&](uint32_t task, uint32_t slot) {
        const uint32_t h = task % n_kv, t_first = a.per_token ? task / n_kv : 0, n_q = a.per_token ? 1 : a.n_tokens;
        std::vector<float>& rows = scratch.rows[slot]; // [n_q][group][d]
        rows.resize(size_t{n_q} * group * d);
        for (uint32_t t = 0; t < n_q; ++t)
            std::copy_n(a.q + (size_t{t_first + t} * a.n_heads + size_t{h} * group) * d, size_t{group} * d, rows.begin() + size_t{t} * group * d);
        Selection& sel = scratch.selections[task];
        const HeadIndex& head = index->head(a.layer, h);
        lookup_select(head, rows.data(), n_q, group, a.scale, a.select, scratch.lookup[slot], sel);
        if (a.oracle != Oracle::None)
            oracle_select(head, rows.data(), n_q * group, a.scale, a.oracle, sel.n_keys, scratch.partial[slot], sel);
    });
    const double lookup_s = seconds_since(t0);

    // Phase 2: per (token, KV head), the group's rows over the selected keys, then each row's dynamic
    // part merged in.
    t0 = std::chrono::steady_clock::now();
    run_tasks(pool, a.n_tokens * n_kv, [&](uint32_t task, uint32_t slot) {
        const uint32_t t = task / n_kv, h = task % n_kv;
        const size_t row0 = (size_t{t} * a.n_heads + size_t{h} * group) * d;
        const HeadIndex& head = index->head(a.layer, h);
        const Selection& sel = scratch.selections[a.per_token ? task : h];
        const uint32_t n_dyn = a.n_dyn_before + t + 1;
        const auto* k = static_cast<const uint8_t*>(a.k_dyn) + size_t{h} * a.dyn_head_stride * elem_bytes;
        const auto* v = static_cast<const uint8_t*>(a.v_dyn) + size_t{h} * a.dyn_head_stride * elem_bytes;
        std::vector<float>& probs = scratch.rows[slot];
        if (a.recall)
            for (uint32_t g = 0; g < group; ++g)
                scratch.recall[slot] += selection_recall(head, sel, a.q + row0 + size_t{g} * d, a.scale, scratch.partial[slot]);
        // Token mass reads the fixed part's probabilities: its time counts as the fixed part's.
        AttnTimes& times = scratch.times[slot];
        if (a.round_as_dense) {
            // probs: [group][n_keys + n_dyn] final probabilities, the fixed slots first.
            attention_rounded_f16(head, sel, a.q + row0, group, reinterpret_cast<const uint16_t*>(k), reinterpret_cast<const uint16_t*>(v),
                                  n_dyn, a.scale, scratch.partial[slot], probs, a.out + row0, &times);
            if (a.token_mass) {
                auto since = std::chrono::steady_clock::now();
                for (uint32_t g = 0; g < group; ++g)
                    add_token_mass(head, sel, probs.data() + size_t{g} * (sel.n_keys + n_dyn), 1.0f, scratch.mass[slot].data());
                attn_lap(since, times.fixed);
            }
            return;
        }
        std::vector<AttnPartial>& parts = scratch.parts[slot];
        parts.resize(group);
        AttnPartial dyn;
        auto since = std::chrono::steady_clock::now();
        sparse_attention(head, sel, a.q + row0, group, a.scale, probs, a.out + row0, parts.data());
        attn_lap(since, times.fixed);
        std::vector<float>& buf = scratch.partial[slot]; // [d] output + [n_dyn] logits
        buf.resize(d + n_dyn);
        for (uint32_t g = 0; g < group; ++g) {
            const size_t row = row0 + size_t{g} * d;
            attention_partial(a.q + row, k, v, a.elem, n_dyn, d, a.scale, buf.data() + d, buf.data(), dyn);
            attn_lap(since, times.dynamic);
            if (a.token_mass) {
                add_token_mass(head, sel, probs.data() + size_t{g} * sel.n_keys, fixed_probability_coef(parts[g], dyn),
                               scratch.mass[slot].data());
                attn_lap(since, times.fixed);
            }
            lse_merge(a.out + row, parts[g], buf.data(), dyn, d);
            attn_lap(since, times.merge);
        }
    });
    const double tasks_s = seconds_since(t0);
    if (a.token_mass)
        for (const std::vector<float>& m : scratch.mass)
            for (uint32_t i = 0; i < index->n_tokens; ++i) a.token_mass[i] += m[i];
    const double attention_s = seconds_since(t0);

    if (stats) {
        for (uint32_t i = 0; i < n_lookups; ++i) stats->add_lookup(a.layer, i % n_kv, index->head(a.layer, i % n_kv), scratch.selections[i]);
        stats->lookup_seconds += lookup_s;
        stats->add_attention(attention_s, tasks_s, scratch.times);
        if (a.recall) {
            double sum = 0.0;
            for (const double r : scratch.recall) sum += r;
            stats->add_recall(a.layer, sum, uint64_t{a.n_tokens} * a.n_heads);
        }
    }
    return Status::ok();
}

} // namespace sq::squeeze
