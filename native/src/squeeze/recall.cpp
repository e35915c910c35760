#include "recall.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "kernels.h"
#include "sparse-attention.h"

namespace sq::squeeze {

double selection_recall(const HeadIndex& head, const Selection& sel, const float* q, float scale, std::vector<float>& scratch) {
    const Kernels& kern = kernels();
    const uint32_t n = head.n_tokens, d = head.head_dim;
    if (n == 0) return 1.0;
    scratch.resize(n); // [n] logits of every slot, then exp(logit - max)
    float max = -INFINITY;
    for (uint32_t s = 0; s < n; ++s) {
        scratch[s] = scale * kern.dot_f16(q, head.keys.data() + size_t{s} * d, d);
        max = std::max(max, scratch[s]);
    }
    double total = 0.0;
    for (uint32_t s = 0; s < n; ++s) total += scratch[s] = std::exp(scratch[s] - max);
    double selected = 0.0;
    for (const auto& r : selection_ranges(head, sel))
        for (uint32_t s = r.first; s < r.second; ++s) selected += scratch[s];
    return selected / total;
}

void oracle_select(const HeadIndex& head, const float* q, uint32_t n_rows, float scale, Oracle kind, uint32_t n_keys,
                   std::vector<float>& scratch, Selection& out) {
    const Kernels& kern = kernels();
    const uint32_t n = head.n_tokens, d = head.head_dim;
    out.clusters.clear();
    out.slots.clear();
    out.n_scored = 0;
    out.n_ranked = 0;
    out.n_keys = head.n_always;
    if (kind == Oracle::None || head.levels.empty() || n == 0) return;
    scratch.assign(2 * size_t{n}, 0.0f);
    float* mass = scratch.data();       // [n] summed attention probability per slot
    float* logits = scratch.data() + n; // [n] of one row
    for (uint32_t r = 0; r < n_rows; ++r) {
        float max = -INFINITY;
        for (uint32_t s = 0; s < n; ++s) max = std::max(max, logits[s] = scale * kern.dot_f16(q + size_t{r} * d, head.keys.data() + size_t{s} * d, d));
        double total = 0.0;
        for (uint32_t s = 0; s < n; ++s) total += logits[s] = std::exp(logits[s] - max);
        for (uint32_t s = 0; s < n; ++s) mass[s] += static_cast<float>(logits[s] / total);
    }
    const ClusterLevel& finest = head.levels.back();
    if (kind == Oracle::Clusters) {
        std::vector<double> cluster_mass(finest.n_clusters, 0.0);
        std::vector<uint32_t> order(finest.n_clusters);
        for (uint32_t j = 0; j < finest.n_clusters; ++j) {
            order[j] = j;
            for (uint32_t s = finest.first[j]; s < finest.first[j + 1]; ++s) cluster_mass[j] += mass[s];
        }
        std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return cluster_mass[a] > cluster_mass[b]; });
        for (size_t i = 0; i < order.size() && out.n_keys < n_keys; ++i) {
            out.clusters.push_back(order[i]);
            out.n_keys += finest.counts[order[i]];
        }
        std::sort(out.clusters.begin(), out.clusters.end());
        return;
    }
    std::vector<uint32_t> order(n - head.n_always);
    std::iota(order.begin(), order.end(), head.n_always);
    const size_t take = std::min<size_t>(order.size(), n_keys > head.n_always ? n_keys - head.n_always : 0);
    std::partial_sort(order.begin(), order.begin() + take, order.end(), [&](uint32_t a, uint32_t b) { return mass[a] > mass[b]; });
    out.slots.assign(order.begin(), order.begin() + take);
    std::sort(out.slots.begin(), out.slots.end());
    out.n_keys += static_cast<uint32_t>(take);
}

} // namespace sq::squeeze
