#include "kmeans.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "kernels.h"

namespace sq::squeeze {

namespace {

constexpr uint32_t kAssignBlock = 64; // points scored per dot_tile call: [64][k_pad] stays in L2

// ct [dim][k_pad] = transpose of rows [k][dim], zero padding.
void transpose_padded(const float* rows, uint32_t k, uint32_t dim, uint32_t k_pad, std::vector<float>& ct) {
    ct.assign(static_cast<size_t>(dim) * k_pad, 0.0f);
    for (uint32_t j = 0; j < k; ++j)
        for (uint32_t d = 0; d < dim; ++d) ct[static_cast<size_t>(d) * k_pad + j] = rows[static_cast<size_t>(j) * dim + d];
}

// assign[i] = argmax_j unit_i . dir_j; best[i] = that dot. Returns how many points changed cluster.
uint32_t assign_points(const float* unit, uint32_t n, uint32_t dim, uint32_t k, const std::vector<float>& ct,
                       std::vector<float>& scratch, std::vector<uint32_t>& assign, std::vector<float>& best) {
    const Kernels& kern = kernels();
    const uint32_t k_pad = centroid_pad(k);
    scratch.resize(static_cast<size_t>(kAssignBlock) * k_pad);
    uint32_t moved = 0;
    for (uint32_t p0 = 0; p0 < n; p0 += kAssignBlock) {
        const uint32_t np = std::min(kAssignBlock, n - p0);
        kern.dot_tile(unit + static_cast<size_t>(p0) * dim, np, dim, ct.data(), k_pad, k_pad, scratch.data(), k_pad);
        for (uint32_t p = 0; p < np; ++p) {
            const float* s = scratch.data() + static_cast<size_t>(p) * k_pad;
            const uint32_t j = static_cast<uint32_t>(std::max_element(s, s + k) - s);
            moved += assign[p0 + p] != j ? 1 : 0;
            assign[p0 + p] = j;
            best[p0 + p] = s[j];
        }
    }
    return moved;
}

// Gives every empty cluster the point farthest from its own direction, taken from a cluster that
// keeps at least one member (one always exists while k <= n).
void reseed_empty(uint32_t k, std::vector<uint32_t>& assign, std::vector<float>& best, std::vector<uint32_t>& counts) {
    std::vector<uint32_t> empty;
    for (uint32_t j = 0; j < k; ++j)
        if (counts[j] == 0) empty.push_back(j);
    if (empty.empty()) return;
    std::vector<uint32_t> order(assign.size());
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return best[a] < best[b]; });
    size_t next = 0;
    for (const uint32_t e : empty) {
        while (counts[assign[order[next]]] <= 1) ++next;
        const uint32_t i = order[next++];
        --counts[assign[i]];
        assign[i] = e;
        counts[e] = 1;
        best[i] = 1.0f;
    }
}

// dir[j] = normalised sum of the unit members of j; a direction whose members cancel out keeps its
// previous value (it stays a valid unit vector or zero).
void update_directions(const float* unit, uint32_t n, uint32_t dim, uint32_t k, const std::vector<uint32_t>& assign,
                       std::vector<float>& dir) {
    std::vector<double> sum(static_cast<size_t>(k) * dim, 0.0);
    for (uint32_t i = 0; i < n; ++i) {
        double* s = sum.data() + static_cast<size_t>(assign[i]) * dim;
        const float* x = unit + static_cast<size_t>(i) * dim;
        for (uint32_t d = 0; d < dim; ++d) s[d] += x[d];
    }
    for (uint32_t j = 0; j < k; ++j) {
        const double* s = sum.data() + static_cast<size_t>(j) * dim;
        double norm2 = 0.0;
        for (uint32_t d = 0; d < dim; ++d) norm2 += s[d] * s[d];
        if (!(norm2 > 0.0)) continue;
        const double inv = 1.0 / std::sqrt(norm2);
        for (uint32_t d = 0; d < dim; ++d) dir[static_cast<size_t>(j) * dim + d] = static_cast<float>(s[d] * inv);
    }
}

} // namespace

void kmeans_normalize(const float* raw, uint32_t n, uint32_t dim, float* unit) {
    for (uint32_t i = 0; i < n; ++i) {
        const float* x = raw + static_cast<size_t>(i) * dim;
        float* u = unit + static_cast<size_t>(i) * dim;
        double norm2 = 0.0;
        for (uint32_t d = 0; d < dim; ++d) norm2 += static_cast<double>(x[d]) * x[d];
        const float inv = norm2 > 0.0 ? static_cast<float>(1.0 / std::sqrt(norm2)) : 0.0f;
        for (uint32_t d = 0; d < dim; ++d) u[d] = x[d] * inv;
    }
}

std::vector<uint32_t> kmeans_seed(const float* unit, uint32_t n, uint32_t dim, uint32_t k, uint64_t seed) {
    std::vector<uint32_t> seeds;
    if (n == 0 || k == 0) return seeds;
    const Kernels& kern = kernels();
    std::mt19937_64 rng(seed);
    auto uniform = [&rng]() { return static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0); };
    // dist[i] = 1 - max cos to the seeds so far: proportional to the squared Euclidean distance of
    // unit vectors, i.e. the D(x)^2 weight of k-means++.
    std::vector<double> dist(n, 0.0);
    uint32_t pick = static_cast<uint32_t>(uniform() * n);
    for (uint32_t s = 0; s < k; ++s) {
        seeds.push_back(pick);
        const float* c = unit + static_cast<size_t>(pick) * dim;
        double total = 0.0;
        for (uint32_t i = 0; i < n; ++i) {
            const double d = std::max(0.0, 1.0 - static_cast<double>(kern.dot_f32(unit + static_cast<size_t>(i) * dim, c, dim)));
            dist[i] = s == 0 ? d : std::min(dist[i], d);
            total += dist[i];
        }
        if (total <= 0.0) {
            pick = static_cast<uint32_t>(uniform() * n); // every direction is taken: duplicates from here on
            continue;
        }
        double r = uniform() * total;
        pick = n - 1;
        for (uint32_t i = 0; i < n; ++i) {
            r -= dist[i];
            if (r < 0.0 && dist[i] > 0.0) {
                pick = i;
                break;
            }
        }
        while (dist[pick] <= 0.0) --pick; // rounding at the end of the scan: step back to a free point
    }
    return seeds;
}

Status kmeans_run(const float* raw, const float* unit, uint32_t n, uint32_t dim, const std::vector<uint32_t>& seeds,
                  const KmeansParams& params, KmeansResult& out) {
    if (n == 0 || dim == 0) return Status::error("SQUEEZE_BAD_PARAMS", "k-means needs points: n=" + std::to_string(n) + " dim=" + std::to_string(dim));
    const uint32_t k = static_cast<uint32_t>(std::min<size_t>(seeds.size(), n));
    if (k == 0) return Status::error("SQUEEZE_BAD_PARAMS", "k-means needs at least one seed");
    std::vector<float> dir(static_cast<size_t>(k) * dim);
    for (uint32_t j = 0; j < k; ++j) {
        if (seeds[j] >= n) return Status::error("SQUEEZE_BAD_PARAMS", "k-means seed " + std::to_string(seeds[j]) + " >= n=" + std::to_string(n));
        std::copy_n(unit + static_cast<size_t>(seeds[j]) * dim, dim, dir.begin() + static_cast<size_t>(j) * dim);
    }

    std::vector<uint32_t> assign(n, UINT32_MAX), counts(k);
    std::vector<float> best(n), ct, scratch;
    const uint32_t min_moved = static_cast<uint32_t>(params.min_moved * static_cast<float>(n));
    uint32_t iters = 0;
    for (uint32_t it = 0; it < std::max(1u, params.max_iters); ++it) {
        transpose_padded(dir.data(), k, dim, centroid_pad(k), ct);
        const uint32_t moved = assign_points(unit, n, dim, k, ct, scratch, assign, best);
        std::fill(counts.begin(), counts.end(), 0u);
        for (const uint32_t a : assign) ++counts[a];
        reseed_empty(k, assign, best, counts);
        update_directions(unit, n, dim, k, assign, dir);
        iters = it + 1;
        if (it > 0 && moved <= min_moved) break;
    }

    out.n_clusters = k;
    out.n_iters = iters;
    out.counts = counts;
    out.objective = 0.0;
    out.centroids.assign(static_cast<size_t>(k) * dim, 0.0f);
    std::vector<double> sum(static_cast<size_t>(k) * dim, 0.0);
    for (uint32_t i = 0; i < n; ++i) {
        const float* x = raw + static_cast<size_t>(i) * dim;
        double* s = sum.data() + static_cast<size_t>(assign[i]) * dim;
        for (uint32_t d = 0; d < dim; ++d) s[d] += x[d];
        const float* u = unit + static_cast<size_t>(i) * dim;
        const float* c = dir.data() + static_cast<size_t>(assign[i]) * dim;
        double dot = 0.0;
        for (uint32_t d = 0; d < dim; ++d) dot += static_cast<double>(u[d]) * c[d];
        out.objective += 1.0 - dot;
    }
    for (uint32_t j = 0; j < k; ++j)
        for (uint32_t d = 0; d < dim; ++d)
            out.centroids[static_cast<size_t>(j) * dim + d] = static_cast<float>(sum[static_cast<size_t>(j) * dim + d] / counts[j]);
    out.directions = std::move(dir);
    out.assign = std::move(assign);
    return Status::ok();
}

Status kmeans_cluster(const float* raw, uint32_t n, uint32_t dim, const KmeansParams& params, KmeansResult& out,
                      const float* metric) {
    if (n == 0 || dim == 0) return Status::error("SQUEEZE_BAD_PARAMS", "k-means needs points: n=" + std::to_string(n) + " dim=" + std::to_string(dim));
    std::vector<float> unit(static_cast<size_t>(n) * dim);
    if (metric) {
        std::vector<float> mapped(unit.size()); // [n][dim] metric * row
        for (uint32_t i = 0; i < n; ++i)
            for (uint32_t r = 0; r < dim; ++r) {
                double acc = 0.0;
                for (uint32_t c = 0; c < dim; ++c) acc += double(metric[size_t{r} * dim + c]) * raw[size_t{i} * dim + c];
                mapped[size_t{i} * dim + r] = static_cast<float>(acc);
            }
        kmeans_normalize(mapped.data(), n, dim, unit.data());
    } else {
        kmeans_normalize(raw, n, dim, unit.data());
    }
    const uint32_t k = std::clamp(params.n_clusters, 1u, n);
    return kmeans_run(raw, unit.data(), n, dim, kmeans_seed(unit.data(), n, dim, k, params.seed), params, out);
}

} // namespace sq::squeeze
