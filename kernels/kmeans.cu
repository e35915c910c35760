#include "kmeans.cuh"

#include <algorithm>

#include "kmeans-assign.cuh"
#include "kmeans-seed.cuh"
#include "kmeans-update.cuh"

namespace sq::cuda {

namespace {

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// Workspace, each part 256-byte aligned:
//   unit [B][N][d] f16 | dirs [B][K][d] f16 | best [B][N] f32 | cdf [B][N] f32 | sums [B][K][d] f32 |
//   worst [B][ceil(N / 128)] i32
struct Layout {
    size_t unit, dirs, best, cdf, sums, worst, bytes;
    int n_worst;
};

Layout layout_of(const KmeansParams& p) {
    const size_t b = static_cast<size_t>(std::max(p.n_batches, 0));
    const size_t n = static_cast<size_t>(std::max(p.n_points, 0)), k = static_cast<size_t>(std::max(p.n_clusters, 0));
    const size_t d = static_cast<size_t>(std::max(p.dim, 0));
    Layout l{};
    l.n_worst = static_cast<int>((n + kKmeansAssignPoints - 1) / kKmeansAssignPoints);
    l.unit = 0;
    l.dirs = l.unit + align256(b * n * d * sizeof(__half));
    l.best = l.dirs + align256(b * k * d * sizeof(__half));
    l.cdf = l.best + align256(b * n * sizeof(float));
    l.sums = l.cdf + align256(b * n * sizeof(float));
    l.worst = l.sums + align256(b * k * d * sizeof(float));
    l.bytes = l.worst + align256(b * l.n_worst * sizeof(int));
    return l;
}

#define SQ_KMEANS_TRY(call)                    \
    do {                                       \
        const cudaError_t err_ = (call);       \
        if (err_ != cudaSuccess) return err_;  \
    } while (0)

} // namespace

size_t kmeans_workspace_bytes(const KmeansParams& p) { return layout_of(p).bytes; }

cudaError_t kmeans(const KmeansParams& p, cudaStream_t stream) {
    if (p.n_batches <= 0) return cudaSuccess;
    if (!p.points || !p.assign || !p.counts || !p.centroids || !p.workspace || p.n_points <= 0 || p.n_clusters <= 0 ||
        p.n_clusters > p.n_points || p.n_iters <= 0 || p.seed_rounds <= 0 || (p.dim != 64 && p.dim != 128))
        return cudaErrorInvalidValue;
    const Layout lay = layout_of(p);
    char* ws = static_cast<char*>(p.workspace);
    __half* unit = reinterpret_cast<__half*>(ws + lay.unit);
    __half* dirs = reinterpret_cast<__half*>(ws + lay.dirs);
    float* best = reinterpret_cast<float*>(ws + lay.best);
    float* cdf = reinterpret_cast<float*>(ws + lay.cdf);
    float* sums = reinterpret_cast<float*>(ws + lay.sums);
    int* worst = reinterpret_cast<int*>(ws + lay.worst);
    const int b = p.n_batches, n = p.n_points, k = p.n_clusters, d = p.dim;
    const size_t sums_bytes = static_cast<size_t>(b) * k * d * sizeof(float);
    const size_t counts_bytes = static_cast<size_t>(b) * k * sizeof(int);

    SQ_KMEANS_TRY(kmeans_normalize(KmeansNormalizeParams{p.points, p.point_type, b, n, d, unit, best}, stream));

    // Seeding: round r draws its share of the directions from the weights the earlier rounds left,
    // then folds the new directions into each point's best dot.
    const int rounds = std::min(p.seed_rounds, k);
    const int per_round = (k + rounds - 1) / rounds;
    for (int first = 0; first < k; first += per_round) {
        const int draws = std::min(per_round, k - first);
        SQ_KMEANS_TRY(kmeans_seed_round(KmeansSeedRoundParams{unit, best, cdf, dirs, b, n, d, k, first, draws, p.seed}, stream));
        if (first + draws < k)
            SQ_KMEANS_TRY(kmeans_assign(KmeansAssignParams{unit, dirs, b, n, d, k, first, first + draws, true, best, p.assign, nullptr},
                                        stream));
    }

    const KmeansSumParams unit_sums{unit, KmeansPointType::F16, b, n, d, k, p.assign, sums, p.counts};
    for (int it = 0; it < p.n_iters; ++it) {
        SQ_KMEANS_TRY(kmeans_assign(KmeansAssignParams{unit, dirs, b, n, d, k, 0, k, false, best, p.assign, worst}, stream));
        SQ_KMEANS_TRY(cudaMemsetAsync(sums, 0, sums_bytes, stream));
        SQ_KMEANS_TRY(cudaMemsetAsync(p.counts, 0, counts_bytes, stream));
        SQ_KMEANS_TRY(kmeans_sum(unit_sums, stream));
        SQ_KMEANS_TRY(kmeans_fix_empty(KmeansFixEmptyParams{unit, b, n, d, k, p.assign, p.counts, sums, worst, lay.n_worst}, stream));
        SQ_KMEANS_TRY(kmeans_directions(sums, dirs, b * k, d, stream));
    }

    SQ_KMEANS_TRY(cudaMemsetAsync(sums, 0, sums_bytes, stream));
    SQ_KMEANS_TRY(kmeans_sum(KmeansSumParams{p.points, p.point_type, b, n, d, k, p.assign, sums, nullptr}, stream));
    SQ_KMEANS_TRY(kmeans_centroids(sums, p.counts, p.centroids, b * k, d, stream));
    if (p.objective) {
        SQ_KMEANS_TRY(cudaMemsetAsync(p.objective, 0, static_cast<size_t>(b) * sizeof(double), stream));
        SQ_KMEANS_TRY(kmeans_objective(KmeansObjectiveParams{unit, dirs, p.assign, b, n, d, k, p.objective}, stream));
    }
    return cudaSuccess;
}

} // namespace sq::cuda
