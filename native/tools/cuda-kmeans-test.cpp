// cuda-kmeans-test: GPU K-means (kernels/kmeans) against the CPU K-means (squeeze::kmeans_cluster)
// on clustered random keys. For every batch: every cluster non-empty, counts equal to the
// assignment's histogram, centroids equal to the mean of the raw members (double reference), and the
// objective (sum of 1 - cos to the members' normalised mean direction, recomputed here in double from
// the GPU's assignment, the CPU's definition) within 1% of the CPU's. Outputs are poisoned before
// each launch. Cases: d 64 and 128; f16, bf16 and f32 points (f32 = the level-1 run over level-2
// centroids); several batches; k = n; one point; all points identical (every cluster re-seeded).
//
//   cuda-kmeans-test    exit 0 when all pass, or when there is no CUDA build / no GPU (it says so)
#include <cstdio>

#include "../../test/native/check.h"

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "common/half.h"
#include "cuda-squeeze-index.h"
#include "device.cuh"
#include "kmeans.cuh"
#include "squeeze/kmeans.h"

using namespace sq;
using sq::tools::GpuArray;

namespace {

std::mt19937& rng() {
    static std::mt19937 gen(2468);
    return gen;
}
float normal(float sd) { return std::normal_distribution<float>(0.0f, sd)(rng()); }

// Keys as a model's look: a shared offset, a few large channels, and n / 40 centres with noise.
std::vector<float> clustered_keys(int n, int d, float spread) {
    const int n_centres = std::max(1, n / 40);
    std::vector<float> offset(d), centres(static_cast<size_t>(n_centres) * d), keys(static_cast<size_t>(n) * d);
    for (int e = 0; e < d; ++e) offset[e] = normal(0.5f) + (e % 17 == 3 ? 4.0f : 0.0f);
    for (float& c : centres) c = normal(1.0f);
    for (int i = 0; i < n; ++i) {
        const int c = std::uniform_int_distribution<int>(0, n_centres - 1)(rng());
        for (int e = 0; e < d; ++e) keys[static_cast<size_t>(i) * d + e] = offset[e] + centres[static_cast<size_t>(c) * d + e] + normal(spread);
    }
    return keys;
}

// The points as the GPU reads them (rounded to the type) and as floats (the CPU's input).
struct Points {
    std::vector<uint16_t> half;  // f16/bf16 types
    std::vector<float> f;
};

Points to_type(const std::vector<float>& keys, cuda::KmeansPointType type) {
    Points p;
    p.f = keys;
    if (type == cuda::KmeansPointType::F32) return p;
    p.half.resize(keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
        p.half[i] = type == cuda::KmeansPointType::F16 ? f32_to_f16(keys[i]) : f32_to_bf16(keys[i]);
        p.f[i] = type == cuda::KmeansPointType::F16 ? f16_to_f32(p.half[i]) : bf16_to_f32(p.half[i]);
    }
    return p;
}

// Sum of 1 - cos(point, normalised mean of its cluster's unit members), in double.
double objective_of(const float* raw, int n, int d, int k, const int* assign) {
    std::vector<double> unit(static_cast<size_t>(n) * d), dir(static_cast<size_t>(k) * d, 0.0);
    for (int i = 0; i < n; ++i) {
        double norm2 = 0.0;
        for (int e = 0; e < d; ++e) norm2 += double(raw[size_t(i) * d + e]) * raw[size_t(i) * d + e];
        const double inv = norm2 > 0.0 ? 1.0 / std::sqrt(norm2) : 0.0;
        for (int e = 0; e < d; ++e) unit[size_t(i) * d + e] = raw[size_t(i) * d + e] * inv;
        for (int e = 0; e < d; ++e) dir[size_t(assign[i]) * d + e] += unit[size_t(i) * d + e];
    }
    for (int j = 0; j < k; ++j) {
        double norm2 = 0.0;
        for (int e = 0; e < d; ++e) norm2 += dir[size_t(j) * d + e] * dir[size_t(j) * d + e];
        const double inv = norm2 > 0.0 ? 1.0 / std::sqrt(norm2) : 0.0;
        for (int e = 0; e < d; ++e) dir[size_t(j) * d + e] *= inv;
    }
    double obj = 0.0;
    for (int i = 0; i < n; ++i) {
        double dot = 0.0;
        for (int e = 0; e < d; ++e) dot += unit[size_t(i) * d + e] * dir[size_t(assign[i]) * d + e];
        obj += 1.0 - dot;
    }
    return obj;
}

struct Case {
    const char* name;
    int n_batches, n, d, k;
    cuda::KmeansPointType type;
    float spread;        // noise around the centres; 0 with `identical`
    bool identical;      // every point the same
    bool compare_cpu;    // objective vs the CPU's (skipped where both are ~0 or k = n)
};

void run_case(const Case& c) {
    std::vector<std::vector<float>> batches;
    Points all;
    for (int b = 0; b < c.n_batches; ++b) {
        std::vector<float> keys = c.identical ? std::vector<float>(size_t(c.n) * c.d, 0.0f) : clustered_keys(c.n, c.d, c.spread);
        if (c.identical)
            for (int i = 0; i < c.n; ++i)
                for (int e = 0; e < c.d; ++e) keys[size_t(i) * c.d + e] = 0.25f * (e % 5) - 0.3f;
        Points p = to_type(keys, c.type);
        all.f.insert(all.f.end(), p.f.begin(), p.f.end());
        all.half.insert(all.half.end(), p.half.begin(), p.half.end());
    }
    GpuArray<uint16_t> points_h;
    GpuArray<float> points_f;
    if (c.type == cuda::KmeansPointType::F32) points_f.upload(all.f);
    else points_h.upload(all.half);

    const size_t bn = size_t(c.n_batches) * c.n, bk = size_t(c.n_batches) * c.k;
    GpuArray<int> assign(bn), counts(bk);
    GpuArray<float> centroids(bk * c.d);
    GpuArray<double> objective(c.n_batches);
    cuda::KmeansParams p{};
    p.points = c.type == cuda::KmeansPointType::F32 ? static_cast<const void*>(points_f.ptr) : points_h.ptr;
    p.point_type = c.type;
    p.n_batches = c.n_batches;
    p.n_points = c.n;
    p.dim = c.d;
    p.n_clusters = c.k;
    p.n_iters = 20;
    p.seed_rounds = 8;
    p.seed = 99;
    p.assign = assign.ptr;
    p.counts = counts.ptr;
    p.centroids = centroids.ptr;
    p.objective = objective.ptr;
    GpuArray<char> ws(cuda::kmeans_workspace_bytes(p));
    p.workspace = ws.ptr;
    CHECK(points_h.ok && points_f.ok && assign.ok && counts.ok && centroids.ok && objective.ok && ws.ok);
    cudaMemset(assign.ptr, 0xff, bn * sizeof(int));
    cudaMemset(counts.ptr, 0xff, bk * sizeof(int));
    cudaMemset(centroids.ptr, 0xff, bk * c.d * sizeof(float)); // NaN
    CHECK(cuda::kmeans(p, nullptr) == cudaSuccess);
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    const std::vector<int> a = assign.download(), cnt = counts.download();
    const std::vector<float> cent = centroids.download();
    const std::vector<double> gpu_obj = objective.download();

    for (int b = 0; b < c.n_batches; ++b) {
        const float* raw = all.f.data() + size_t(b) * c.n * c.d;
        const int* ab = a.data() + size_t(b) * c.n;
        const int* cb = cnt.data() + size_t(b) * c.k;
        std::vector<int> hist(c.k, 0);
        bool in_range = true;
        for (int i = 0; i < c.n; ++i) {
            if (ab[i] < 0 || ab[i] >= c.k) in_range = false;
            else ++hist[ab[i]];
        }
        CHECK(in_range);
        if (!in_range) return;
        int empty = 0, mismatched = 0;
        for (int j = 0; j < c.k; ++j) {
            empty += hist[j] == 0;
            mismatched += hist[j] != cb[j];
        }
        CHECK_EQ(empty, 0);
        CHECK_EQ(mismatched, 0);

        double err2 = 0.0, ref2 = 0.0;
        std::vector<double> mean(size_t(c.k) * c.d, 0.0);
        for (int i = 0; i < c.n; ++i)
            for (int e = 0; e < c.d; ++e) mean[size_t(ab[i]) * c.d + e] += raw[size_t(i) * c.d + e];
        for (int j = 0; j < c.k; ++j)
            for (int e = 0; e < c.d; ++e) {
                const double ref = hist[j] ? mean[size_t(j) * c.d + e] / hist[j] : 0.0;
                const double got = cent[(size_t(b) * c.k + j) * c.d + e];
                err2 += (got - ref) * (got - ref);
                ref2 += ref * ref;
            }
        const double cent_err = std::sqrt(err2 / std::max(ref2, 1e-30));
        CHECK(cent_err < 1e-5);

        const double obj = objective_of(raw, c.n, c.d, c.k, ab);
        // The GPU's own objective uses f16 unit vectors and directions.
        CHECK_NEAR(gpu_obj[b], obj, 2e-3 * c.n + 1e-3);
        double cpu_obj = -1.0;
        if (c.compare_cpu) {
            squeeze::KmeansParams kp;
            kp.n_clusters = static_cast<uint32_t>(c.k);
            squeeze::KmeansResult km;
            CHECK(squeeze::kmeans_cluster(raw, c.n, c.d, kp, km).ok());
            cpu_obj = km.objective;
            CHECK(obj <= 1.01 * cpu_obj + 1e-9);
        }
        std::printf("  %-44s batch %d: n %d d %d k %d  objective gpu %.4f (own %.4f) cpu %.4f  ratio %.4f  centroid err %.1e\n",
                    c.name, b, c.n, c.d, c.k, obj, gpu_obj[b], cpu_obj, cpu_obj > 0 ? obj / cpu_obj : 0.0, cent_err);
    }
}

using T = cuda::KmeansPointType;

TEST_CASE("kmeans: bf16 keys, d 128, 5% clusters, 3 heads") { run_case({"bf16 d128 3 heads", 3, 4000, 128, 200, T::BF16, 0.35f, false, true}); }
TEST_CASE("kmeans: f16 keys, d 64, odd sizes") { run_case({"f16 d64 odd n", 2, 3001, 64, 151, T::F16, 0.35f, false, true}); }
TEST_CASE("kmeans: f32 level-1 over centroids") { run_case({"f32 (level 1 over level-2 centroids)", 2, 410, 128, 82, T::F32, 0.2f, false, true}); }
TEST_CASE("kmeans: larger, bf16, d 128") { run_case({"bf16 d128 16K keys", 1, 16384, 128, 819, T::BF16, 0.35f, false, true}); }
TEST_CASE("kmeans: k = n (every point its own cluster)") { run_case({"k = n", 2, 77, 64, 77, T::F16, 0.35f, false, false}); }
TEST_CASE("kmeans: one point") { run_case({"one point", 3, 1, 128, 1, T::BF16, 0.35f, false, false}); }
TEST_CASE("kmeans: identical points, empty clusters re-seeded") { run_case({"identical points", 2, 500, 64, 25, T::F16, 0.0f, true, false}); }

} // namespace

int main() {
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-kmeans-test: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("cuda-kmeans-test on %s (sm_%d%d)\n", probe.name, probe.compute_major, probe.compute_minor);
    return run_all_tests();
}

#else

int main() {
    std::printf("cuda-kmeans-test: skipped, built without CUDA\n");
    return 0;
}

#endif
