// A synthetic two-level squeeze index for cuda-e2e-bench (the trees of cuda-synthetic-index.h, as
// cuda-squeeze-bench uses), and thresholds that reach a target sparsity for one query: the query of
// each head leans towards one parent's direction, as real queries favour a few clusters. Thresholds
// keep every parent of a kept cluster (calibration's parent_keep = 1), so the tree loses no kept key.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "cuda-squeeze-index.h"
#include "cuda-synthetic-index.h"

namespace sq::tools::e2e {

// K1 = 1% and K2 = 5% of n_tokens clusters after n_always always-attended slots; no keys.
inline squeeze::HeadIndex make_head(uint32_t n_tokens, uint32_t n_always, int head_dim, std::mt19937& gen, Noise& noise) {
    return make_synthetic_head(n_tokens, std::max(1u, n_tokens / 100), std::max(1u, n_tokens / 20), n_always, head_dim, gen, noise);
}

// log s_j of every cluster of level l for query head q ([head_dim]), centroids rounded to `type`.
inline std::vector<double> log_scores(const squeeze::HeadIndex& h, int level, const float* q, float scale, cuda::KvType type) {
    const int d = static_cast<int>(h.head_dim);
    const auto dots = [&](const squeeze::ClusterLevel& lv) {
        std::vector<double> s(lv.n_clusters);
        for (uint32_t j = 0; j < lv.n_clusters; ++j) {
            double dot = 0.0;
            for (int e = 0; e < d; ++e) dot += double(q[e]) * from_cache(type, to_cache(type, lv.centroids[size_t{j} * d + e]));
            s[j] = scale * dot;
        }
        return s;
    };
    const squeeze::ClusterLevel& top = h.levels[0];
    const std::vector<double> s0 = dots(top);
    double m = -INFINITY, sum = 0.0;
    for (uint32_t j = 0; j < top.n_clusters; ++j)
        if (top.counts[j]) m = std::max(m, s0[j] + std::log(double(top.counts[j])));
    for (uint32_t j = 0; j < top.n_clusters; ++j)
        if (top.counts[j]) sum += std::exp(s0[j] + std::log(double(top.counts[j])) - m);
    std::vector<double> out = level == 0 ? s0 : dots(h.levels[level]);
    for (double& x : out) x -= m + std::log(sum);
    return out;
}

// (tau1, tau2): the finest clusters of highest group-max score holding 1 - sparsity of the keys
// pass tau2; tau1 lets every parent of a passing (cluster, head) pass. heads: one per KV head;
// q: [n_kv_heads * group][head_dim].
inline std::pair<float, float> thresholds(const std::vector<squeeze::HeadIndex>& heads, const std::vector<float>& q,
                                          int group, float scale, cuda::KvType type, float sparsity) {
    const int d = static_cast<int>(heads[0].head_dim);
    struct Cand {
        double log_s;
        int kv;
        uint32_t j;
    };
    std::vector<Cand> cands;
    std::vector<std::vector<std::vector<double>>> s(heads.size()); // [kv][level][g * K + j]
    double total = 0.0;
    for (size_t kv = 0; kv < heads.size(); ++kv) {
        const squeeze::HeadIndex& h = heads[kv];
        s[kv].resize(2);
        for (int l = 0; l < 2; ++l)
            for (int g = 0; g < group; ++g) {
                const std::vector<double> x = log_scores(h, l, q.data() + (kv * group + g) * d, scale, type);
                s[kv][l].insert(s[kv][l].end(), x.begin(), x.end());
            }
        const uint32_t k2 = h.levels[1].n_clusters;
        for (uint32_t j = 0; j < k2; ++j) {
            double m = -INFINITY;
            for (int g = 0; g < group; ++g) m = std::max(m, s[kv][1][size_t(g) * k2 + j]);
            cands.push_back({m, static_cast<int>(kv), j});
        }
        total += h.n_tokens;
    }
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.log_s > b.log_s; });
    double goal = (1.0 - sparsity) * total;
    for (const squeeze::HeadIndex& h : heads) goal -= h.n_always;
    double keys = 0.0;
    size_t n = 0;
    while (n < cands.size() && keys < goal) keys += heads[cands[n].kv].levels[1].counts[cands[n].j], ++n;
    if (n == 0) return {1.0f, 1.0f};
    const double log_tau2 = n < cands.size() ? 0.5 * (cands[n - 1].log_s + cands[n].log_s) : cands.back().log_s - 1.0;
    double log_tau1 = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const squeeze::HeadIndex& h = heads[cands[i].kv];
        const uint32_t k1 = h.levels[0].n_clusters, k2 = h.levels[1].n_clusters;
        uint32_t parent = 0;
        while (h.levels[0].first[parent + 1] <= cands[i].j) ++parent;
        for (int g = 0; g < group; ++g)
            if (s[cands[i].kv][1][size_t(g) * k2 + cands[i].j] >= log_tau2)
                log_tau1 = std::min(log_tau1, s[cands[i].kv][0][size_t(g) * k1 + parent]);
    }
    return {static_cast<float>(std::exp(log_tau1 - 1e-4)), static_cast<float>(std::exp(log_tau2))};
}

} // namespace sq::tools::e2e
