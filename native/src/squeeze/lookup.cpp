#include "lookup.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <numeric>

#include "kernels.h"

namespace sq::squeeze {

namespace {

// dots[r][j] for the 16-column blocks of the level that hold an active column.
void score_blocks(const ClusterLevel& lv, const float* q, uint32_t n_rows, uint32_t dim, const std::vector<uint8_t>& active,
                  std::vector<float>& dots) {
    const Kernels& kern = kernels();
    const uint32_t k_pad = centroid_pad(lv.n_clusters);
    dots.resize(size_t{n_rows} * k_pad);
    for (uint32_t b = 0; b < k_pad; b += kCentroidPad) {
        uint32_t run = b;
        while (run < k_pad && std::any_of(active.begin() + run, active.begin() + run + kCentroidPad, [](uint8_t a) { return a != 0; }))
            run += kCentroidPad;
        if (run == b) continue;
        kern.dot_tile(q, n_rows, dim, lv.centroids_t.data() + b, k_pad, run - b, dots.data() + b, k_pad);
        b = run - kCentroidPad;
    }
}

// log D per row from the coarsest level's dots (all columns scored).
void log_denominators(const ClusterLevel& lv, const std::vector<float>& dots, uint32_t n_rows, float scale, std::vector<float>& log_d) {
    const uint32_t k_pad = centroid_pad(lv.n_clusters);
    log_d.resize(n_rows);
    for (uint32_t r = 0; r < n_rows; ++r) {
        const float* x = dots.data() + size_t{r} * k_pad;
        float m = -INFINITY;
        for (uint32_t j = 0; j < lv.n_clusters; ++j) m = std::max(m, scale * x[j] + lv.log_counts[j]);
        double sum = 0.0;
        for (uint32_t j = 0; j < lv.n_clusters; ++j) sum += std::exp(scale * x[j] + lv.log_counts[j] - m);
        log_d[r] = m + static_cast<float>(std::log(sum));
    }
}

// score[g][j] = mean over tokens of exp(scale * dots[t][g][j] - log_d[t][g]) for active columns j.
void average_scores(uint32_t k, uint32_t k_pad, const std::vector<float>& dots, const std::vector<float>& log_d, uint32_t n_q,
                    uint32_t group, float scale, const std::vector<uint8_t>& active, std::vector<float>& score) {
    score.assign(size_t{group} * k_pad, 0.0f);
    const float inv_n = 1.0f / static_cast<float>(n_q);
    for (uint32_t t = 0; t < n_q; ++t)
        for (uint32_t g = 0; g < group; ++g) {
            const uint32_t r = t * group + g;
            const float* x = dots.data() + size_t{r} * k_pad;
            float* s = score.data() + size_t{g} * k_pad;
            for (uint32_t j = 0; j < k; ++j)
                if (active[j]) s[j] += std::exp(scale * x[j] - log_d[r]) * inv_n;
        }
}

// Replaces a threshold selection of a batch (target: its key count) by the clusters with the most exact
// attention mass among a shortlist: the selection's clusters plus those of a budget lookup for
// shortlist * (target - always) clustered keys. Each row's softmax runs over the always-attended and
// the shortlisted keys, and a cluster's mass is summed over rows, as the oracle does over every key.
void rerank_by_mass(const HeadIndex& head, const float* q, uint32_t n_q, uint32_t group, float scale, const SelectParams& params,
                    LookupScratch& sc, Selection& out) {
    const ClusterLevel& finest = head.levels.back();
    const uint32_t target = out.n_keys, d = head.head_dim;
    if (target <= head.n_always || target >= head.n_tokens) return;
    SelectParams wide = params;
    wide.mode = SelectMode::Budget;
    wide.budget_keys = static_cast<uint32_t>(std::min<double>(head.n_tokens, head.n_always + params.rerank_shortlist * (target - head.n_always)));
    Selection shortlist;
    lookup_select(head, q, n_q, group, scale, wide, sc, shortlist);
    std::vector<uint32_t> cand;
    std::set_union(out.clusters.begin(), out.clusters.end(), shortlist.clusters.begin(), shortlist.clusters.end(), std::back_inserter(cand));
    uint32_t n_slots = head.n_always;
    for (const uint32_t j : cand) n_slots += finest.counts[j];
    // logits [n_rows][n_slots]: the always-attended slots, then each candidate's slots (contiguous runs).
    const uint32_t n_rows = n_q * group;
    sc.logits.resize(size_t{n_rows} * n_slots);
    const Kernels& kern = kernels();
    uint32_t col = 0;
    auto score_run = [&](uint32_t first, uint32_t count) {
        if (count > 0) kern.dot_rows_f16(q, n_rows, head.keys.data() + size_t{first} * d, count, d, scale, sc.logits.data() + col, n_slots);
        col += count;
    };
    score_run(0, head.n_always);
    for (const uint32_t j : cand) score_run(finest.first[j], finest.counts[j]);
    sc.mass.assign(cand.size(), 0.0);
    for (uint32_t r = 0; r < n_rows; ++r) {
        float* x = sc.logits.data() + size_t{r} * n_slots;
        const double total = kern.exp_sum(x, n_slots, *std::max_element(x, x + n_slots));
        uint32_t i = head.n_always;
        for (size_t c = 0; c < cand.size(); ++c) {
            double sum = 0.0;
            for (uint32_t s = finest.first[cand[c]]; s < finest.first[cand[c] + 1]; ++s) sum += x[i++];
            sc.mass[c] += sum / total;
        }
    }
    std::vector<uint32_t> order(cand.size());
    std::iota(order.begin(), order.end(), 0u);
    // Densest first (mass per key): the greedy order for a key count, as the thresholds on per-key
    // estimates select; by total mass, large clusters would fill the count with diffuse attention.
    for (size_t c = 0; c < cand.size(); ++c) sc.mass[c] /= finest.counts[cand[c]];
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return sc.mass[a] > sc.mass[b]; });
    out.clusters.clear();
    out.n_keys = head.n_always;
    out.n_scored += shortlist.n_scored;
    out.n_ranked = n_slots;
    for (size_t i = 0; i < order.size() && out.n_keys < target; ++i) {
        out.clusters.push_back(cand[order[i]]);
        out.n_keys += finest.counts[cand[order[i]]];
    }
    std::sort(out.clusters.begin(), out.clusters.end());
}

} // namespace

void lookup_score_all(const HeadIndex& head, const float* q, uint32_t n_q, uint32_t group, float scale,
                      std::vector<std::vector<float>>& scores) {
    const uint32_t n_rows = n_q * group;
    scores.resize(head.levels.size());
    std::vector<float> dots, log_d, score;
    for (size_t l = 0; l < head.levels.size(); ++l) {
        const ClusterLevel& lv = head.levels[l];
        const uint32_t k = lv.n_clusters, k_pad = centroid_pad(k);
        scores[l].assign(size_t{group} * k, 0.0f);
        if (k == 0) continue;
        const std::vector<uint8_t> active(k_pad, 1);
        score_blocks(lv, q, n_rows, head.head_dim, active, dots);
        if (l == 0) log_denominators(lv, dots, n_rows, scale, log_d);
        average_scores(k, k_pad, dots, log_d, n_q, group, scale, active, score);
        for (uint32_t g = 0; g < group; ++g)
            std::copy_n(score.begin() + size_t{g} * k_pad, k, scores[l].begin() + size_t{g} * k);
    }
}

void lookup_score_rows(const HeadIndex& head, const float* q, uint32_t n_rows, float scale,
                       std::vector<std::vector<float>>& scores) {
    scores.resize(head.levels.size());
    std::vector<float> dots, log_d;
    for (size_t l = 0; l < head.levels.size(); ++l) {
        const ClusterLevel& lv = head.levels[l];
        const uint32_t k = lv.n_clusters, k_pad = centroid_pad(k);
        scores[l].resize(size_t{n_rows} * k);
        if (k == 0) continue;
        score_blocks(lv, q, n_rows, head.head_dim, std::vector<uint8_t>(k_pad, 1), dots);
        if (l == 0) log_denominators(lv, dots, n_rows, scale, log_d);
        for (uint32_t r = 0; r < n_rows; ++r)
            for (uint32_t j = 0; j < k; ++j) scores[l][size_t{r} * k + j] = std::exp(scale * dots[size_t{r} * k_pad + j] - log_d[r]);
    }
}

void lookup_select(const HeadIndex& head, const float* q, uint32_t n_q, uint32_t group, float scale,
                   const SelectParams& params, LookupScratch& sc, Selection& out) {
    out.clusters.clear();
    out.slots.clear();
    out.n_scored = 0;
    out.n_ranked = 0;
    out.n_keys = head.n_always;
    const size_t n_levels = head.levels.size();
    if (n_levels == 0 || head.levels[0].n_clusters == 0 || n_q == 0 || group == 0) return;
    const ClusterLevel& finest = head.levels[n_levels - 1];
    if (params.mode == SelectMode::Dense) {
        out.clusters.resize(finest.n_clusters);
        std::iota(out.clusters.begin(), out.clusters.end(), 0u);
        out.n_keys = head.n_tokens;
        return;
    }

    const uint32_t n_rows = n_q * group;
    const bool per_head = params.mode == SelectMode::Threshold;
    // chosen: per head in threshold mode (union at the end), one shared row (g = 0) otherwise.
    std::vector<uint8_t>& chosen = sc.chosen;
    double cover = 1.0; // Mass: estimated share of the attention held by what the level above kept
    for (size_t l = 0; l < n_levels; ++l) {
        const ClusterLevel& lv = head.levels[l];
        const uint32_t k = lv.n_clusters, k_pad = centroid_pad(k);
        const bool last = l + 1 == n_levels;

        // Columns to score: everything at level 0, else the children of what the level above kept.
        sc.active.assign(k_pad, 0);
        std::vector<uint8_t> parent_of_head; // [group][k_pad]: column j is a child of a parent head g chose
        if (l == 0) {
            std::fill(sc.active.begin(), sc.active.begin() + k, 1);
        } else {
            const ClusterLevel& up = head.levels[l - 1];
            const uint32_t up_pad = centroid_pad(up.n_clusters);
            if (per_head) parent_of_head.assign(size_t{group} * k_pad, 0);
            for (uint32_t g = 0; g < (per_head ? group : 1); ++g)
                for (uint32_t p = 0; p < up.n_clusters; ++p) {
                    if (!chosen[size_t{g} * up_pad + p]) continue;
                    for (uint32_t c = up.first[p]; c < up.first[p + 1]; ++c) {
                        sc.active[c] = 1;
                        if (per_head) parent_of_head[size_t{g} * k_pad + c] = 1;
                    }
                }
        }
        out.n_scored += static_cast<uint32_t>(std::count(sc.active.begin(), sc.active.end(), uint8_t{1}));
        score_blocks(lv, q, n_rows, head.head_dim, sc.active, sc.dots);
        if (l == 0) log_denominators(lv, sc.dots, n_rows, scale, sc.log_d);
        // Decode thresholds compare logs (no exp per centroid): s >= tau <=> scale q.c - log D >= log tau.
        const bool log_domain = per_head && n_q == 1;
        if (!log_domain) average_scores(k, k_pad, sc.dots, sc.log_d, n_q, group, scale, sc.active, sc.score);

        std::vector<uint8_t> next(size_t{per_head ? group : 1} * k_pad, 0);
        if (per_head) {
            const float tau = params.tau ? params.tau[l] : 0.0f;
            const float log_tau = tau > 0.0f ? std::log(tau) : -INFINITY;
            for (uint32_t g = 0; g < group; ++g)
                for (uint32_t j = 0; j < k; ++j) {
                    const size_t i = size_t{g} * k_pad + j;
                    const bool under = l == 0 || parent_of_head[i];
                    const bool pass = log_domain ? scale * sc.dots[i] - sc.log_d[g] >= log_tau : sc.score[i] >= tau;
                    next[i] = under && pass ? 1 : 0;
                }
        } else {
            // Sum over heads; rank active columns by estimated attention per key.
            std::vector<uint32_t> cand;
            std::vector<float> total(k, 0.0f);
            for (uint32_t j = 0; j < k; ++j) {
                if (!sc.active[j]) continue;
                cand.push_back(j);
                for (uint32_t g = 0; g < group; ++g) total[j] += sc.score[size_t{g} * k_pad + j];
            }
            std::stable_sort(cand.begin(), cand.end(), [&](uint32_t a, uint32_t b) { return total[a] > total[b]; });
            const double slack = last ? 1.0 : std::max(1.0f, params.coarse_slack);
            const double budget = params.budget_keys > head.n_always ? double(params.budget_keys - head.n_always) * slack : 0.0;
            const double mass_goal = 1.0 - (1.0 - std::clamp(params.mass_target, 0.0f, 1.0f)) / slack;
            // Centroid estimates of one level do not sum to the same total as the level above
            // (exp is convex), so each level's masses are shares of its candidates' total, scaled
            // by the share the kept parents carried.
            double level_total = 0.0;
            for (const uint32_t j : cand) level_total += double(total[j]) * lv.counts[j];
            const double to_share = level_total > 0.0 ? cover / level_total : 0.0;
            double keys = 0.0, mass = 0.0;
            for (const uint32_t j : cand) {
                const bool full = params.mode == SelectMode::Budget ? keys >= budget : mass >= mass_goal;
                if (full) break;
                next[j] = 1;
                keys += lv.counts[j];
                mass += double(total[j]) * lv.counts[j] * to_share;
            }
            cover = mass;
        }
        chosen.swap(next);
        if (last) {
            for (uint32_t j = 0; j < k; ++j) {
                bool any = false;
                for (uint32_t g = 0; g < (per_head ? group : 1) && !any; ++g) any = chosen[size_t{g} * k_pad + j] != 0;
                if (!any) continue;
                out.clusters.push_back(j);
                out.n_keys += lv.counts[j];
            }
        }
    }
    if (per_head && n_q > 1 && params.rerank_shortlist > 0.0f) rerank_by_mass(head, q, n_q, group, scale, params, sc, out);
}

} // namespace sq::squeeze
