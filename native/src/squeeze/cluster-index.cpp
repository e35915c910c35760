#include "cluster-index.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>
#include <thread>

#include "kernels.h"
#include "kmeans.h"

namespace sq::squeeze {

namespace {

Status check_params(const ClusterParams& p) {
    if (p.level_fractions.empty()) return Status::error("SQUEEZE_BAD_PARAMS", "at least one cluster level is needed");
    float prev = 0.0f;
    for (const float f : p.level_fractions) {
        if (!(f > prev && f <= 1.0f))
            return Status::error("SQUEEZE_BAD_PARAMS", "cluster level fractions must increase within (0, 1], got " + std::to_string(f));
        prev = f;
    }
    return Status::ok();
}

// Clusters per level: fraction * n_tokens rounded (0.05f is not exactly 5%), at least 1, at most the clustered keys, and never
// more than the next finer level (a parent needs a child).
std::vector<uint32_t> level_sizes(const std::vector<float>& fractions, uint32_t n_tokens, uint32_t n_clustered) {
    std::vector<uint32_t> k(fractions.size(), 0);
    if (n_clustered == 0) return k;
    uint32_t cap = n_clustered;
    for (size_t i = fractions.size(); i-- > 0;) {
        const double want = std::round(static_cast<double>(fractions[i]) * n_tokens);
        k[i] = static_cast<uint32_t>(std::clamp(want, 1.0, static_cast<double>(cap)));
        cap = k[i];
    }
    return k;
}

} // namespace

void cluster_level_derive(ClusterLevel& level, uint32_t head_dim) {
    const uint32_t k_pad = centroid_pad(level.n_clusters);
    level.centroids_t.assign(size_t{head_dim} * k_pad, 0.0f);
    for (uint32_t j = 0; j < level.n_clusters; ++j)
        for (uint32_t d = 0; d < head_dim; ++d)
            level.centroids_t[size_t{d} * k_pad + j] = level.centroids[size_t{j} * head_dim + d];
    level.log_counts.resize(level.n_clusters);
    for (uint32_t j = 0; j < level.n_clusters; ++j) level.log_counts[j] = std::log(static_cast<float>(level.counts[j]));
}

void cluster_query_metric(const float* rows, uint32_t n_rows, uint32_t dim, std::vector<float>& metric) {
    std::vector<double> m(size_t{dim} * dim, 0.0); // [dim][dim] second moment, then its Cholesky factor L (lower)
    for (uint32_t r = 0; r < n_rows; ++r) {
        const float* q = rows + size_t{r} * dim;
        for (uint32_t i = 0; i < dim; ++i)
            for (uint32_t j = 0; j <= i; ++j) m[size_t{i} * dim + j] += double(q[i]) * q[j];
    }
    for (double& x : m) x /= std::max(1u, n_rows);
    double trace = 0.0;
    for (uint32_t i = 0; i < dim; ++i) trace += m[size_t{i} * dim + i];
    // The ridge keeps M positive definite (fewer rows than dimensions, dead dimensions) and leaves
    // directions no query reads a small weight instead of none.
    const double ridge = 1e-3 * trace / dim + 1e-12;
    for (uint32_t i = 0; i < dim; ++i) m[size_t{i} * dim + i] += ridge;
    for (uint32_t j = 0; j < dim; ++j) {
        double diag = m[size_t{j} * dim + j];
        for (uint32_t k = 0; k < j; ++k) diag -= m[size_t{j} * dim + k] * m[size_t{j} * dim + k];
        diag = std::sqrt(std::max(diag, ridge));
        m[size_t{j} * dim + j] = diag;
        for (uint32_t i = j + 1; i < dim; ++i) {
            double v = m[size_t{i} * dim + j];
            for (uint32_t k = 0; k < j; ++k) v -= m[size_t{i} * dim + k] * m[size_t{j} * dim + k];
            m[size_t{i} * dim + j] = v / diag;
        }
    }
    metric.assign(size_t{dim} * dim, 0.0f);
    for (uint32_t i = 0; i < dim; ++i)
        for (uint32_t j = 0; j <= i; ++j) metric[size_t{j} * dim + i] = static_cast<float>(m[size_t{i} * dim + j]); // L^T
}

Status cluster_head_build(const float* keys, const float* values, uint32_t n_tokens, uint32_t head_dim,
                          const ClusterParams& params, HeadIndex& out, const float* metric) {
    SQ_TRY(check_params(params));
    if (n_tokens == 0 || head_dim == 0)
        return Status::error("SQUEEZE_BAD_PARAMS", "nothing to cluster: n_tokens=" + std::to_string(n_tokens) + " head_dim=" + std::to_string(head_dim));
    const uint32_t n_sink = std::min(params.n_sink, n_tokens);
    const uint32_t window_begin = std::max(n_sink, n_tokens - std::min(params.n_window, n_tokens));
    const uint32_t n_clustered = window_begin - n_sink; // tokens [n_sink, window_begin)
    const size_t n_levels = params.level_fractions.size();
    const std::vector<uint32_t> k = level_sizes(params.level_fractions, n_tokens, n_clustered);

    // K-means from the finest level up: level L clusters the raw centroids of level L+1.
    // parent[L][c] = cluster of level L that child c of level L+1 belongs to (old numbering).
    std::vector<KmeansResult> km(n_levels);
    for (size_t l = n_levels; n_clustered > 0 && l-- > 0;) {
        KmeansParams kp;
        kp.n_clusters = k[l];
        kp.max_iters = params.max_iters;
        kp.seed = params.seed + l;
        const bool finest = l + 1 == n_levels;
        const float* points = finest ? keys + size_t{n_sink} * head_dim : km[l + 1].centroids.data();
        const uint32_t n_points = finest ? n_clustered : km[l + 1].n_clusters;
        SQ_TRY(kmeans_cluster(points, n_points, head_dim, kp, km[l], metric));
    }

    // Renumber top-down so that the children of each parent are contiguous: order[l] lists the old
    // cluster ids of level l in their new order; rank[l][old] is the new id.
    std::vector<std::vector<uint32_t>> order(n_levels), rank(n_levels);
    for (size_t l = 0; l < n_levels && n_clustered > 0; ++l) {
        order[l].resize(km[l].n_clusters);
        std::iota(order[l].begin(), order[l].end(), 0u);
        if (l > 0) {
            const std::vector<uint32_t>& up = km[l - 1].assign; // parent (old id) of each child (old id)
            const std::vector<uint32_t>& up_rank = rank[l - 1];
            std::stable_sort(order[l].begin(), order[l].end(), [&](uint32_t a, uint32_t b) { return up_rank[up[a]] < up_rank[up[b]]; });
        }
        rank[l].resize(order[l].size());
        for (uint32_t i = 0; i < order[l].size(); ++i) rank[l][order[l][i]] = i;
    }

    out = HeadIndex{};
    out.n_tokens = n_tokens;
    out.head_dim = head_dim;
    out.n_always = n_tokens - n_clustered;
    out.levels.resize(n_levels);

    // Slots: always-attended tokens, then clustered tokens grouped by their finest cluster's new id.
    out.token_of_slot.reserve(n_tokens);
    for (uint32_t t = 0; t < n_sink; ++t) out.token_of_slot.push_back(t);
    for (uint32_t t = window_begin; t < n_tokens; ++t) out.token_of_slot.push_back(t);
    if (n_clustered > 0) {
        const std::vector<uint32_t>& fine_rank = rank[n_levels - 1];
        const std::vector<uint32_t>& fine_assign = km[n_levels - 1].assign;
        std::vector<uint32_t> clustered(n_clustered);
        std::iota(clustered.begin(), clustered.end(), n_sink);
        std::stable_sort(clustered.begin(), clustered.end(), [&](uint32_t a, uint32_t b) {
            return fine_rank[fine_assign[a - n_sink]] < fine_rank[fine_assign[b - n_sink]];
        });
        out.token_of_slot.insert(out.token_of_slot.end(), clustered.begin(), clustered.end());
    }

    // Levels, finest first so that coarser centroids are count-weighted means of their children.
    for (size_t l = n_levels; l-- > 0;) {
        ClusterLevel& lv = out.levels[l];
        lv.n_clusters = n_clustered > 0 ? km[l].n_clusters : 0;
        lv.centroids.assign(size_t{lv.n_clusters} * head_dim, 0.0f);
        lv.counts.assign(lv.n_clusters, 0);
        lv.first.assign(lv.n_clusters + 1, 0);
        const bool finest = l + 1 == n_levels;
        if (finest) {
            lv.first[0] = out.n_always;
            for (uint32_t j = 0; j < lv.n_clusters; ++j) {
                const uint32_t old = order[l][j];
                lv.counts[j] = km[l].counts[old];
                lv.first[j + 1] = lv.first[j] + lv.counts[j];
                std::copy_n(km[l].centroids.begin() + size_t{old} * head_dim, head_dim, lv.centroids.begin() + size_t{j} * head_dim);
            }
        } else {
            const ClusterLevel& child = out.levels[l + 1];
            std::vector<double> sum(lv.centroids.size(), 0.0);
            for (uint32_t c = 0; c < child.n_clusters; ++c) {
                const uint32_t parent = rank[l][km[l].assign[order[l + 1][c]]];
                lv.counts[parent] += child.counts[c];
                ++lv.first[parent + 1];
                for (uint32_t d = 0; d < head_dim; ++d)
                    sum[size_t{parent} * head_dim + d] += static_cast<double>(child.counts[c]) * child.centroids[size_t{c} * head_dim + d];
            }
            for (uint32_t j = 0; j < lv.n_clusters; ++j) {
                lv.first[j + 1] += lv.first[j];
                for (uint32_t d = 0; d < head_dim; ++d)
                    lv.centroids[size_t{j} * head_dim + d] = static_cast<float>(sum[size_t{j} * head_dim + d] / lv.counts[j]);
            }
        }
        cluster_level_derive(lv, head_dim);
    }

    const Kernels& kern = kernels();
    out.keys.resize(size_t{n_tokens} * head_dim);
    out.values.resize(size_t{n_tokens} * head_dim);
    for (uint32_t s = 0; s < n_tokens; ++s) {
        const size_t src = size_t{out.token_of_slot[s]} * head_dim, dst = size_t{s} * head_dim;
        kern.f32_to_f16_row(keys + src, out.keys.data() + dst, head_dim);
        kern.f32_to_f16_row(values + src, out.values.data() + dst, head_dim);
    }
    return Status::ok();
}

Status cluster_index_build(const KvView& kv, const ClusterParams& params, const BuildProgress& progress,
                           ClusterIndex& out, const QueryRows& queries) {
    SQ_TRY(check_params(params));
    const bool use_queries = params.query_metric && queries.q && queries.n_q > 0;
    if (use_queries && (queries.n_heads == 0 || queries.n_heads % std::max(1u, kv.n_kv_heads) != 0))
        return Status::error("SQUEEZE_BAD_PARAMS", "query rows of " + std::to_string(queries.n_heads) + " heads for " + std::to_string(kv.n_kv_heads) + " KV heads");
    if (!kv.k || !kv.v || kv.n_layers == 0 || kv.n_kv_heads == 0 || kv.head_dim == 0 || kv.n_tokens == 0)
        return Status::error("SQUEEZE_BAD_PARAMS", "empty KV view (layers, heads, head_dim or tokens is zero)");
    if (kv.n_tokens > kv.n_ctx)
        return Status::error("SQUEEZE_BAD_PARAMS", "fixed context of " + std::to_string(kv.n_tokens) + " tokens exceeds the cache (" + std::to_string(kv.n_ctx) + ")");

    out = ClusterIndex{};
    out.n_layers = kv.n_layers;
    out.n_kv_heads = kv.n_kv_heads;
    out.head_dim = kv.head_dim;
    out.n_tokens = kv.n_tokens;
    out.n_levels = static_cast<uint32_t>(params.level_fractions.size());
    out.heads.resize(size_t{kv.n_layers} * kv.n_kv_heads);

    const uint32_t total = static_cast<uint32_t>(out.heads.size());
    const uint32_t n_workers = std::max(1u, std::min(total, params.n_threads ? params.n_threads : std::thread::hardware_concurrency()));
    std::atomic<uint32_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex mutex; // guards done, first_error and the progress callback
    uint32_t done = 0;
    Status first_error;

    auto work = [&]() {
        const Kernels& kern = kernels();
        const size_t elem_bytes = kv.elem == KvElem::F16 ? 2 : 4;
        std::vector<float> k32(size_t{kv.n_tokens} * kv.head_dim), v32(k32.size()); // [n_tokens][head_dim]
        std::vector<float> rows, metric; // [n_q][group][head_dim] the KV head's query rows; [head_dim][head_dim]
        for (uint32_t task; (task = next.fetch_add(1)) < total;) {
            if (failed.load() || (progress.cancel && progress.cancel->load())) return;
            const size_t offset = size_t{task} * kv.n_ctx * kv.head_dim * elem_bytes; // (layer, head) row block
            const auto* kb = static_cast<const uint8_t*>(kv.k) + offset;
            const auto* vb = static_cast<const uint8_t*>(kv.v) + offset;
            const size_t n = size_t{kv.n_tokens} * kv.head_dim;
            if (kv.elem == KvElem::F16) {
                kern.f16_to_f32_row(reinterpret_cast<const uint16_t*>(kb), k32.data(), static_cast<uint32_t>(n));
                kern.f16_to_f32_row(reinterpret_cast<const uint16_t*>(vb), v32.data(), static_cast<uint32_t>(n));
            } else {
                std::copy_n(reinterpret_cast<const float*>(kb), n, k32.data());
                std::copy_n(reinterpret_cast<const float*>(vb), n, v32.data());
            }
            ClusterParams head_params = params;
            head_params.seed = params.seed ^ (0x9e3779b97f4a7c15ULL * (task + 1));
            if (use_queries) {
                const uint32_t layer = task / kv.n_kv_heads, h = task % kv.n_kv_heads, group = queries.n_heads / kv.n_kv_heads;
                const size_t row_floats = size_t{group} * kv.head_dim;
                rows.resize(size_t{queries.n_q} * row_floats);
                for (uint32_t t = 0; t < queries.n_q; ++t)
                    std::copy_n(queries.q + ((size_t{layer} * queries.n_q + t) * queries.n_heads + size_t{h} * group) * kv.head_dim, row_floats,
                                rows.begin() + t * row_floats);
                cluster_query_metric(rows.data(), queries.n_q * group, kv.head_dim, metric);
            }
            Status st = cluster_head_build(k32.data(), v32.data(), kv.n_tokens, kv.head_dim, head_params, out.heads[task],
                                           use_queries ? metric.data() : nullptr);
            std::lock_guard<std::mutex> lock(mutex);
            if (!st) {
                if (first_error) first_error = st;
                failed = true;
                return;
            }
            ++done;
            if (progress.on_progress) progress.on_progress(done, total);
        }
    };
    std::vector<std::thread> workers;
    for (uint32_t i = 1; i < n_workers; ++i) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();

    if (!first_error) return first_error;
    if (progress.cancel && progress.cancel->load() && done < total)
        return Status::error("SQUEEZE_CANCELLED", "clustering cancelled after " + std::to_string(done) + " of " + std::to_string(total) + " heads");
    return Status::ok();
}

} // namespace sq::squeeze
