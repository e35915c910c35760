#include "calibrate.h"

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <numeric>
#include <thread>

#include "lookup.h"

namespace sq::squeeze {

namespace {

// One (query token, KV head, finest cluster): its score, its keys and its ancestors' scores.
struct Samples {
    uint32_t n_coarse = 0;         // levels above the finest
    std::vector<float> score;      // [n] max over the group's heads of s_j
    std::vector<uint32_t> weight;  // [n] keys in the cluster
    std::vector<float> ancestor;   // [n][n_coarse] max over heads of s of the ancestor at each coarse level

    void append(const Samples& o) {
        score.insert(score.end(), o.score.begin(), o.score.end());
        weight.insert(weight.end(), o.weight.begin(), o.weight.end());
        ancestor.insert(ancestor.end(), o.ancestor.begin(), o.ancestor.end());
    }
};

// q_tok: the group's rows of token 0; token t's rows are token_stride floats further.
void sample_head(const HeadIndex& head, const float* q_tok, uint32_t n_q, size_t token_stride, uint32_t group, float scale,
                 Samples& out) {
    const size_t n_levels = head.levels.size();
    if (n_levels == 0 || head.levels[0].n_clusters == 0) return;
    const ClusterLevel& fine = head.levels.back();
    const uint32_t d = head.head_dim;
    // ancestor_of[L][j]: the level-L ancestor of finest cluster j.
    std::vector<std::vector<uint32_t>> ancestor_of(n_levels - 1, std::vector<uint32_t>(fine.n_clusters));
    for (size_t l = n_levels - 1; l-- > 0;) {
        const ClusterLevel& lv = head.levels[l];
        std::vector<uint32_t> parent_of_child(head.levels[l + 1].n_clusters);
        for (uint32_t p = 0; p < lv.n_clusters; ++p)
            for (uint32_t c = lv.first[p]; c < lv.first[p + 1]; ++c) parent_of_child[c] = p;
        for (uint32_t j = 0; j < fine.n_clusters; ++j)
            ancestor_of[l][j] = l + 1 == n_levels - 1 ? parent_of_child[j] : parent_of_child[ancestor_of[l + 1][j]];
    }
    std::vector<float> rows(size_t{n_q} * group * d); // [n_q][group][d]
    for (uint32_t t = 0; t < n_q; ++t) std::copy_n(q_tok + t * token_stride, size_t{group} * d, rows.begin() + size_t{t} * group * d);
    std::vector<std::vector<float>> scores; // [level][n_q * group][k]
    lookup_score_rows(head, rows.data(), n_q * group, scale, scores);
    auto max_over_group = [&](size_t level, uint32_t t, uint32_t j) {
        const uint32_t k = head.levels[level].n_clusters;
        float m = 0.0f;
        for (uint32_t g = 0; g < group; ++g) m = std::max(m, scores[level][(size_t{t} * group + g) * k + j]);
        return m;
    };
    for (uint32_t t = 0; t < n_q; ++t)
        for (uint32_t j = 0; j < fine.n_clusters; ++j) {
            out.score.push_back(max_over_group(n_levels - 1, t, j));
            out.weight.push_back(fine.counts[j]);
            for (size_t l = 0; l + 1 < n_levels; ++l) out.ancestor.push_back(max_over_group(l, t, ancestor_of[l][j]));
        }
}

// Thresholds of every level for every target from one pool of samples. keep_share[t] is the share
// of the pool's keys the finest threshold must keep for target t.
void thresholds_from(const Samples& s, const std::vector<double>& keep_share, float parent_keep, uint32_t n_levels,
                     float* out /*[n_targets][n_levels]*/) {
    const size_t n = s.score.size();
    std::vector<uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return s.score[a] > s.score[b]; });
    double total = 0.0;
    for (const uint32_t w : s.weight) total += w;
    for (size_t t = 0; t < keep_share.size(); ++t) {
        float* tau = out + t * n_levels;
        std::fill(tau, tau + n_levels, 0.0f);
        const double goal = keep_share[t] * total;
        if (n == 0) continue;
        if (goal <= 0.0) {
            tau[n_levels - 1] = FLT_MAX; // nothing beyond the always-attended keys
            continue;
        }
        // Finest: the score at which the kept keys (in descending score order) reach the goal.
        size_t cut = 0;
        double kept = 0.0;
        while (cut < n && kept < goal) kept += s.weight[order[cut++]];
        tau[n_levels - 1] = s.score[order[cut - 1]];
        // Coarse levels: the (1 - parent_keep) key-weighted quantile of the selected samples' ancestors.
        for (uint32_t l = 0; l + 1 < n_levels; ++l) {
            std::vector<uint32_t> sel(order.begin(), order.begin() + cut);
            auto anc = [&](uint32_t i) { return s.ancestor[size_t{i} * s.n_coarse + l]; };
            std::sort(sel.begin(), sel.end(), [&](uint32_t a, uint32_t b) { return anc(a) < anc(b); });
            const double may_lose = (1.0 - parent_keep) * kept;
            double lost = 0.0;
            size_t i = 0;
            while (i < sel.size() && lost + s.weight[sel[i]] <= may_lose) lost += s.weight[sel[i++]];
            tau[l] = i < sel.size() ? anc(sel[i]) : 0.0f;
        }
    }
}

} // namespace

Status calibrate(const ClusterIndex& index, const float* q, uint32_t n_q, uint32_t n_heads, float scale,
                 const CalibrationParams& params, Thresholds& out) {
    if (n_q == 0 || index.n_kv_heads == 0 || n_heads == 0 || n_heads % index.n_kv_heads != 0)
        return Status::error("SQUEEZE_BAD_PARAMS", "calibration needs queries and a head count that is a multiple of the KV heads (n_q=" +
                                                       std::to_string(n_q) + ", n_heads=" + std::to_string(n_heads) + ")");
    for (const float t : params.targets)
        if (!(t >= 0.0f && t < 1.0f)) return Status::error("SQUEEZE_BAD_PARAMS", "target sparsity outside [0, 1): " + std::to_string(t));
    const uint32_t group = n_heads / index.n_kv_heads;
    const uint32_t n_levels = index.n_levels;
    const size_t token_stride = size_t{n_heads} * index.head_dim;

    out = Thresholds{};
    out.targets = params.targets;
    out.n_layers = index.n_layers;
    out.n_levels = n_levels;
    out.global.assign(params.targets.size() * n_levels, 0.0f);
    out.per_layer.assign(params.targets.size() * index.n_layers * n_levels, 0.0f);
    if (index.heads.empty() || n_levels == 0) return Status::ok();

    // Share of the clustered keys to keep so that the whole fixed context is read at 1 - target.
    const HeadIndex& any = index.heads[0];
    const double n_clustered = double(any.n_tokens) - any.n_always;
    std::vector<double> keep_share;
    for (const float t : params.targets)
        keep_share.push_back(n_clustered > 0 ? std::clamp(((1.0 - t) * any.n_tokens - any.n_always) / n_clustered, 0.0, 1.0) : 0.0);

    // Per layer in parallel: sample every KV head, then that layer's thresholds.
    std::vector<Samples> layers(index.n_layers);
    std::atomic<uint32_t> next{0};
    auto work = [&]() {
        for (uint32_t l; (l = next.fetch_add(1)) < index.n_layers;) {
            layers[l].n_coarse = n_levels - 1;
            for (uint32_t h = 0; h < index.n_kv_heads; ++h) {
                const float* q_head = q + size_t{l} * n_q * token_stride + size_t{h} * group * index.head_dim;
                sample_head(index.head(l, h), q_head, n_q, token_stride, group, scale, layers[l]);
            }
            std::vector<float> tau(params.targets.size() * n_levels);
            thresholds_from(layers[l], keep_share, params.parent_keep, n_levels, tau.data());
            for (size_t t = 0; t < params.targets.size(); ++t)
                std::copy_n(tau.begin() + t * n_levels, n_levels, out.per_layer.begin() + (t * index.n_layers + l) * n_levels);
        }
    };
    const uint32_t n_workers = std::max(1u, std::min(index.n_layers, params.n_threads ? params.n_threads : std::thread::hardware_concurrency()));
    std::vector<std::thread> workers;
    for (uint32_t i = 1; i < n_workers; ++i) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();

    Samples all;
    all.n_coarse = n_levels - 1;
    for (Samples& layer : layers) {
        all.append(layer);
        layer = Samples{};
    }
    thresholds_from(all, keep_share, params.parent_keep, n_levels, out.global.data());
    return Status::ok();
}

} // namespace sq::squeeze
