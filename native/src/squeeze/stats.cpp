#include "stats.h"

#include <cmath>

namespace sq::squeeze {

void SqueezeStats::reset(const ClusterIndex& index) {
    *this = SqueezeStats{};
    n_layers = index.n_layers;
    n_kv_heads = index.n_kv_heads;
    const size_t n = size_t{n_layers} * n_kv_heads;
    lookups.assign(n, 0);
    keys_sum.assign(n, 0.0);
    keys_sum_sq.assign(n, 0.0);
    if (!index.heads.empty())
        for (const ClusterLevel& lv : index.heads[0].levels) clusters_per_level.push_back(lv.n_clusters);
}

void SqueezeStats::add_lookup(uint32_t layer, uint32_t kv_head, const HeadIndex& head, const Selection& sel) {
    const size_t i = size_t{layer} * n_kv_heads + kv_head;
    ++lookups[i];
    keys_sum[i] += sel.n_keys;
    keys_sum_sq[i] += double(sel.n_keys) * sel.n_keys;
    keys_attended += sel.n_keys;
    keys_fixed += head.n_tokens;
    centroids_scored += sel.n_scored;
    const uint64_t row_bytes = uint64_t{head.head_dim} * sizeof(uint16_t) * 2; // one key + one value
    bytes_read += sel.n_keys * row_bytes + uint64_t{sel.n_scored} * head.head_dim * sizeof(float) +
                  uint64_t{sel.n_ranked} * head.head_dim * sizeof(uint16_t); // the rerank reads keys only
    bytes_dense += head.n_tokens * row_bytes;
}

void SqueezeStats::add_attention(double wall, double tasks_wall, const std::vector<AttnTimes>& times) {
    AttnTimes sum;
    for (const AttnTimes& t : times) {
        sum.fixed += t.fixed;
        sum.dynamic += t.dynamic;
        sum.merge += t.merge;
    }
    const double thread_s = sum.fixed + sum.dynamic + sum.merge;
    const double to_wall = thread_s > 0.0 ? tasks_wall / thread_s : 0.0;
    const double untimed = thread_s > 0.0 ? wall - tasks_wall : wall;
    attention_seconds += wall;
    fixed_seconds += sum.fixed * to_wall + untimed;
    dynamic_seconds += sum.dynamic * to_wall;
    merge_seconds += sum.merge * to_wall;
}

double SqueezeStats::mean_keys(uint32_t layer, uint32_t kv_head) const {
    const size_t i = size_t{layer} * n_kv_heads + kv_head;
    return lookups[i] ? keys_sum[i] / double(lookups[i]) : 0.0;
}

double SqueezeStats::stddev_keys(uint32_t layer, uint32_t kv_head) const {
    const size_t i = size_t{layer} * n_kv_heads + kv_head;
    if (!lookups[i]) return 0.0;
    const double mean = keys_sum[i] / double(lookups[i]);
    return std::sqrt(std::max(0.0, keys_sum_sq[i] / double(lookups[i]) - mean * mean));
}

void SqueezeStats::add_recall(uint32_t layer, double sum, uint64_t rows) {
    if (recall_sum.empty()) {
        recall_sum.assign(n_layers, 0.0);
        recall_rows.assign(n_layers, 0);
    }
    recall_sum[layer] += sum;
    recall_rows[layer] += rows;
}

double SqueezeStats::mean_recall(uint32_t layer) const {
    if (layer >= recall_rows.size() || recall_rows[layer] == 0) return -1.0;
    return recall_sum[layer] / double(recall_rows[layer]);
}

} // namespace sq::squeeze
