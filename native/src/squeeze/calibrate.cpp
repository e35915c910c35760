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

// scores[level][(t * group + g) * k + j] of n_q tokens -> one sample per (window, finest cluster):
// s averaged per head over the window's tokens, then the max over the group's heads. Windows of
// `chunk` tokens (all n_q if fewer) start every max(1, chunk / 2) tokens; chunk 1 is per token.
void append_samples(const HeadIndex& head, const std::vector<std::vector<float>>& scores,
                    const std::vector<std::vector<uint32_t>>& ancestor_of, uint32_t n_q, uint32_t group, uint32_t chunk,
                    Samples& out) {
    const size_t n_levels = head.levels.size();
    const ClusterLevel& fine = head.levels.back();
    const uint32_t len = std::min(chunk, n_q), step = std::max(1u, chunk / 2);
    std::vector<std::vector<float>> window_max(n_levels); // [level][k] max over heads of the window's mean s
    for (uint32_t t0 = 0; t0 + len <= n_q; t0 += step) {
        for (size_t l = 0; l < n_levels; ++l) {
            const uint32_t k = head.levels[l].n_clusters;
            window_max[l].assign(k, 0.0f);
            std::vector<float> mean(k);
            for (uint32_t g = 0; g < group; ++g) {
                std::fill(mean.begin(), mean.end(), 0.0f);
                for (uint32_t t = t0; t < t0 + len; ++t) {
                    const float* row = scores[l].data() + (size_t{t} * group + g) * k;
                    for (uint32_t j = 0; j < k; ++j) mean[j] += row[j];
                }
                for (uint32_t j = 0; j < k; ++j) window_max[l][j] = std::max(window_max[l][j], mean[j] / float(len));
            }
        }
        for (uint32_t j = 0; j < fine.n_clusters; ++j) {
            out.score.push_back(window_max[n_levels - 1][j]);
            out.weight.push_back(fine.counts[j]);
            for (size_t l = 0; l + 1 < n_levels; ++l) out.ancestor.push_back(window_max[l][ancestor_of[l][j]]);
        }
    }
}

// q_tok: the group's rows of token 0; token t's rows are token_stride floats further. Adds the
// per-token samples to per_token and the samples of prefill_chunk-token windows to averaged.
void sample_head(const HeadIndex& head, const float* q_tok, uint32_t n_q, size_t token_stride, uint32_t group, float scale,
                 uint32_t prefill_chunk, Samples& per_token, Samples& averaged) {
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
    append_samples(head, scores, ancestor_of, n_q, group, 1, per_token);
    append_samples(head, scores, ancestor_of, n_q, group, prefill_chunk, averaged);
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
    if (params.prefill_chunk == 0) return Status::error("SQUEEZE_BAD_PARAMS", "prefill_chunk must be at least 1 query");
    const uint32_t group = n_heads / index.n_kv_heads;
    const uint32_t n_levels = index.n_levels;
    const size_t token_stride = size_t{n_heads} * index.head_dim;

    out = Thresholds{};
    out.targets = params.targets;
    out.n_layers = index.n_layers;
    out.n_levels = n_levels;
    out.global.assign(params.targets.size() * n_levels, 0.0f);
    out.per_layer.assign(params.targets.size() * index.n_layers * n_levels, 0.0f);
    out.prefill_global = out.global;
    out.prefill_per_layer = out.per_layer;
    if (index.heads.empty() || n_levels == 0) return Status::ok();

    // Share of the clustered keys to keep so that the whole fixed context is read at 1 - target.
    const HeadIndex& any = index.heads[0];
    const double n_clustered = double(any.n_tokens) - any.n_always;
    std::vector<double> keep_share;
    for (const float t : params.targets)
        keep_share.push_back(n_clustered > 0 ? std::clamp(((1.0 - t) * any.n_tokens - any.n_always) / n_clustered, 0.0, 1.0) : 0.0);

    // Per layer in parallel: sample every KV head, then that layer's thresholds of both ladders.
    std::vector<Samples> layers(index.n_layers), layers_avg(index.n_layers);
    std::atomic<uint32_t> next{0};
    auto layer_thresholds = [&](const Samples& s, uint32_t l, std::vector<float>& dst) {
        std::vector<float> tau(params.targets.size() * n_levels);
        thresholds_from(s, keep_share, params.parent_keep, n_levels, tau.data());
        for (size_t t = 0; t < params.targets.size(); ++t)
            std::copy_n(tau.begin() + t * n_levels, n_levels, dst.begin() + (t * index.n_layers + l) * n_levels);
    };
    auto work = [&]() {
        for (uint32_t l; (l = next.fetch_add(1)) < index.n_layers;) {
            layers[l].n_coarse = layers_avg[l].n_coarse = n_levels - 1;
            for (uint32_t h = 0; h < index.n_kv_heads; ++h) {
                const float* q_head = q + size_t{l} * n_q * token_stride + size_t{h} * group * index.head_dim;
                sample_head(index.head(l, h), q_head, n_q, token_stride, group, scale, params.prefill_chunk, layers[l], layers_avg[l]);
            }
            layer_thresholds(layers[l], l, out.per_layer);
            layer_thresholds(layers_avg[l], l, out.prefill_per_layer);
        }
    };
    const uint32_t n_workers = std::max(1u, std::min(index.n_layers, params.n_threads ? params.n_threads : std::thread::hardware_concurrency()));
    std::vector<std::thread> workers;
    for (uint32_t i = 1; i < n_workers; ++i) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();

    auto pooled_thresholds = [&](std::vector<Samples>& per_layer, std::vector<float>& dst) {
        Samples all;
        all.n_coarse = n_levels - 1;
        for (Samples& layer : per_layer) {
            all.append(layer);
            layer = Samples{};
        }
        thresholds_from(all, keep_share, params.parent_keep, n_levels, dst.data());
    };
    pooled_thresholds(layers, out.global);
    pooled_thresholds(layers_avg, out.prefill_global);
    return Status::ok();
}

} // namespace sq::squeeze
