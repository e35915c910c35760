// Spherical K-means of the squeeze module: objective against a plain Lloyd's reference from the same
// seeds, degenerate inputs (duplicates, k > distinct points, k = n, n = 1, zero rows) and the SIMD
// kernels against the portable ones.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "squeeze/kernels.h"
#include "squeeze/kmeans.h"

using namespace sq::squeeze;

namespace {

// n points around n_centers random directions (spread `noise`), with a shared offset like real keys.
std::vector<float> clustered_points(uint32_t n, uint32_t dim, uint32_t n_centers, float noise, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> centers(size_t{n_centers} * dim), offset(dim), x(size_t{n} * dim);
    for (float& c : centers) c = normal(rng);
    for (float& o : offset) o = 0.5f * normal(rng);
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t c = static_cast<uint32_t>(rng() % n_centers);
        for (uint32_t d = 0; d < dim; ++d)
            x[size_t{i} * dim + d] = offset[d] + centers[size_t{c} * dim + d] + noise * normal(rng);
    }
    return x;
}

// Textbook Lloyd's in double: argmax cosine, direction = normalised mean, until nothing moves.
double lloyd_reference(const std::vector<float>& unit, uint32_t n, uint32_t dim, const std::vector<uint32_t>& seeds) {
    const uint32_t k = static_cast<uint32_t>(seeds.size());
    std::vector<double> dir(size_t{k} * dim);
    for (uint32_t j = 0; j < k; ++j)
        for (uint32_t d = 0; d < dim; ++d) dir[size_t{j} * dim + d] = unit[size_t{seeds[j]} * dim + d];
    std::vector<uint32_t> assign(n, UINT32_MAX);
    for (int it = 0; it < 200; ++it) {
        bool moved = false;
        for (uint32_t i = 0; i < n; ++i) {
            uint32_t best = 0;
            double best_dot = -2.0;
            for (uint32_t j = 0; j < k; ++j) {
                double dot = 0.0;
                for (uint32_t d = 0; d < dim; ++d) dot += unit[size_t{i} * dim + d] * dir[size_t{j} * dim + d];
                if (dot > best_dot) best_dot = dot, best = j;
            }
            moved |= assign[i] != best;
            assign[i] = best;
        }
        std::vector<double> sum(size_t{k} * dim, 0.0);
        for (uint32_t i = 0; i < n; ++i)
            for (uint32_t d = 0; d < dim; ++d) sum[size_t{assign[i]} * dim + d] += unit[size_t{i} * dim + d];
        for (uint32_t j = 0; j < k; ++j) {
            double norm = 0.0;
            for (uint32_t d = 0; d < dim; ++d) norm += sum[size_t{j} * dim + d] * sum[size_t{j} * dim + d];
            if (norm == 0.0) continue;
            for (uint32_t d = 0; d < dim; ++d) dir[size_t{j} * dim + d] = sum[size_t{j} * dim + d] / std::sqrt(norm);
        }
        if (!moved) break;
    }
    double objective = 0.0;
    for (uint32_t i = 0; i < n; ++i) {
        double dot = 0.0;
        for (uint32_t d = 0; d < dim; ++d) dot += unit[size_t{i} * dim + d] * dir[size_t{assign[i]} * dim + d];
        objective += 1.0 - dot;
    }
    return objective;
}

// Invariants every result must satisfy: counts >= 1 summing to n, assignment matching counts,
// centroids the mean of the raw members, nothing NaN.
void check_result(const std::vector<float>& raw, uint32_t n, uint32_t dim, const KmeansResult& r) {
    CHECK_EQ(r.counts.size(), size_t{r.n_clusters});
    CHECK_EQ(r.assign.size(), size_t{n});
    std::vector<uint32_t> counted(r.n_clusters, 0);
    std::vector<double> sum(size_t{r.n_clusters} * dim, 0.0);
    for (uint32_t i = 0; i < n; ++i) {
        CHECK(r.assign[i] < r.n_clusters);
        if (r.assign[i] >= r.n_clusters) return;
        ++counted[r.assign[i]];
        for (uint32_t d = 0; d < dim; ++d) sum[size_t{r.assign[i]} * dim + d] += raw[size_t{i} * dim + d];
    }
    for (uint32_t j = 0; j < r.n_clusters; ++j) {
        CHECK(r.counts[j] >= 1);
        CHECK_EQ(r.counts[j], counted[j]);
        for (uint32_t d = 0; d < dim; ++d) {
            const float c = r.centroids[size_t{j} * dim + d];
            CHECK(std::isfinite(c));
            CHECK_NEAR(c, sum[size_t{j} * dim + d] / counted[j], 1e-5);
        }
    }
    CHECK(std::isfinite(r.objective));
}

} // namespace

TEST_CASE("objective within 1% of plain Lloyd's from the same seeds") {
    for (const uint64_t seed : {1u, 2u, 3u}) {
        const uint32_t n = 700, dim = 24, k = 14;
        const auto raw = clustered_points(n, dim, 10, 0.6f, seed);
        std::vector<float> unit(raw.size());
        kmeans_normalize(raw.data(), n, dim, unit.data());
        const auto seeds = kmeans_seed(unit.data(), n, dim, k, seed);
        CHECK_EQ(seeds.size(), size_t{k});
        const double ref = lloyd_reference(unit, n, dim, seeds);

        KmeansParams converged;
        converged.max_iters = 200;
        converged.min_moved = 0.0f;
        KmeansResult r;
        CHECK(kmeans_run(raw.data(), unit.data(), n, dim, seeds, converged, r).is_ok());
        check_result(raw, n, dim, r);
        CHECK_NEAR(r.objective, ref, 0.001 * ref);

        KmeansResult fast; // default early stop
        CHECK(kmeans_run(raw.data(), unit.data(), n, dim, seeds, KmeansParams{}, fast).is_ok());
        CHECK(fast.objective <= ref * 1.01);
    }
}

TEST_CASE("k-means++ seeds are distinct and reproducible") {
    const uint32_t n = 300, dim = 8;
    const auto raw = clustered_points(n, dim, 5, 0.3f, 9);
    std::vector<float> unit(raw.size());
    kmeans_normalize(raw.data(), n, dim, unit.data());
    const auto a = kmeans_seed(unit.data(), n, dim, 40, 77), b = kmeans_seed(unit.data(), n, dim, 40, 77);
    CHECK(a == b);
    std::vector<uint32_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    CHECK(std::unique(sorted.begin(), sorted.end()) == sorted.end());
    CHECK(a != kmeans_seed(unit.data(), n, dim, 40, 78));
}

TEST_CASE("clustering separates well-separated groups") {
    // 4 orthogonal directions, tiny noise: each cluster must be exactly one group.
    const uint32_t n = 400, dim = 8;
    std::mt19937_64 rng(5);
    std::normal_distribution<float> normal(0.0f, 0.01f);
    std::vector<float> raw(size_t{n} * dim);
    std::vector<uint32_t> group(n);
    for (uint32_t i = 0; i < n; ++i) {
        group[i] = i % 4;
        for (uint32_t d = 0; d < dim; ++d) raw[size_t{i} * dim + d] = (d == group[i] ? 3.0f : 0.0f) + normal(rng);
    }
    KmeansParams p;
    p.n_clusters = 4;
    KmeansResult r;
    CHECK(kmeans_cluster(raw.data(), n, dim, p, r).is_ok());
    check_result(raw, n, dim, r);
    for (uint32_t i = 0; i < n; ++i) CHECK_EQ(r.assign[i], r.assign[group[i]]);
    for (uint32_t j = 0; j < 4; ++j) CHECK_EQ(r.counts[j], 100u);
    CHECK(r.objective < 400 * 1e-4); // 1 - cos ~ |noise|^2 / (2 * 9) = 4e-5 per point
}

TEST_CASE("no empty cluster or NaN on degenerate inputs") {
    const uint32_t dim = 6;
    KmeansResult r;
    KmeansParams p;

    std::vector<float> same(50 * dim, 1.5f); // all duplicates
    p.n_clusters = 10;
    CHECK(kmeans_cluster(same.data(), 50, dim, p, r).is_ok());
    CHECK_EQ(r.n_clusters, 10u);
    check_result(same, 50, dim, r);

    std::vector<float> three(30 * dim, 0.0f); // 3 distinct directions, k = 8
    for (uint32_t i = 0; i < 30; ++i) three[size_t{i} * dim + i % 3] = 1.0f + float(i % 3);
    p.n_clusters = 8;
    CHECK(kmeans_cluster(three.data(), 30, dim, p, r).is_ok());
    CHECK_EQ(r.n_clusters, 8u);
    check_result(three, 30, dim, r);

    const auto pts = clustered_points(20, dim, 3, 0.5f, 4); // k = n: one point each
    p.n_clusters = 20;
    CHECK(kmeans_cluster(pts.data(), 20, dim, p, r).is_ok());
    check_result(pts, 20, dim, r);
    for (uint32_t j = 0; j < r.n_clusters; ++j) CHECK_EQ(r.counts[j], 1u);
    CHECK_NEAR(r.objective, 0.0, 1e-4);

    p.n_clusters = 5; // n = 1: k clamps to 1
    CHECK(kmeans_cluster(pts.data(), 1, dim, p, r).is_ok());
    CHECK_EQ(r.n_clusters, 1u);
    check_result(pts, 1, dim, r);

    std::vector<float> zeros(12 * dim, 0.0f); // zero rows have no direction
    zeros[0] = 1.0f;
    p.n_clusters = 4;
    CHECK(kmeans_cluster(zeros.data(), 12, dim, p, r).is_ok());
    check_result(zeros, 12, dim, r);

    CHECK(kmeans_cluster(pts.data(), 0, dim, p, r).code == "SQUEEZE_BAD_PARAMS");
    std::vector<float> unit(pts.size());
    kmeans_normalize(pts.data(), 20, dim, unit.data());
    CHECK(kmeans_run(pts.data(), unit.data(), 20, dim, {3, 25}, p, r).code == "SQUEEZE_BAD_PARAMS");
}

TEST_CASE("SIMD kernels agree with the portable ones") {
    const Kernels& fast = kernels();
    const Kernels& slow = kernels_scalar();
    std::mt19937_64 rng(3);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const uint32_t n_x = 7, dim = 37, k_pad = 48;
    std::vector<float> x(size_t{n_x} * dim), ct(size_t{dim} * k_pad), a(size_t{n_x} * k_pad), b(a.size());
    for (float& v : x) v = normal(rng);
    for (float& v : ct) v = normal(rng);
    fast.dot_tile(x.data(), n_x, dim, ct.data() + 16, k_pad, 32, a.data() + 16, k_pad);
    slow.dot_tile(x.data(), n_x, dim, ct.data() + 16, k_pad, 32, b.data() + 16, k_pad);
    for (uint32_t p = 0; p < n_x; ++p)
        for (uint32_t j = 16; j < k_pad; ++j) CHECK_NEAR(a[size_t{p} * k_pad + j], b[size_t{p} * k_pad + j], 1e-4);

    std::vector<uint16_t> h(dim);
    slow.f32_to_f16_row(x.data(), h.data(), dim);
    std::vector<uint16_t> h2(dim);
    fast.f32_to_f16_row(x.data(), h2.data(), dim);
    CHECK(h == h2);
    CHECK_NEAR(fast.dot_f16(ct.data(), h.data(), dim), slow.dot_f16(ct.data(), h.data(), dim), 1e-4);
    CHECK_NEAR(fast.dot_f32(ct.data(), x.data(), dim), slow.dot_f32(ct.data(), x.data(), dim), 1e-4);
    std::vector<float> y1(dim, 1.0f), y2(dim, 1.0f);
    fast.axpy_f16(y1.data(), 0.7f, h.data(), dim);
    slow.axpy_f16(y2.data(), 0.7f, h.data(), dim);
    for (uint32_t d = 0; d < dim; ++d) CHECK_NEAR(y1[d], y2[d], 1e-6);
}

int main() { return run_all_tests(); }
