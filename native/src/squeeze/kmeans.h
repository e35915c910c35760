// Spherical K-means for key clustering (DESIGN.md §3, offline step 2).
//
// Points are compared by cosine: assignment picks the centroid direction with the largest dot with
// the L2-normalised point, and a cluster's direction is the normalised mean of its members' unit
// vectors. What the lookup needs at the end is different: the mean of the RAW members (so that
// q . c_j estimates the mean logit of cluster j) and the member counts n_j; both are returned.
//
// Every cluster ends non-empty: a cluster that loses all its members takes the point that is worst
// served by its own centroid (from a cluster with more than one member), so the result never has a
// zero count or a NaN centroid, whatever the input (duplicates, k = n, n = 1).
#pragma once

#include <cstdint>
#include <vector>

#include "../common/status.h"

namespace sq::squeeze {

struct KmeansParams {
    uint32_t n_clusters = 0;   // clamped to [1, n]
    uint32_t max_iters = 20;
    float min_moved = 0.002f;  // stop once fewer than this share of points change cluster
    uint64_t seed = 0x5eed5eedULL;
};

struct KmeansResult {
    uint32_t n_clusters = 0;
    std::vector<float> centroids;  // [n_clusters][dim] mean of the raw members
    std::vector<float> directions; // [n_clusters][dim] unit mean of the members' unit vectors
    std::vector<uint32_t> counts;  // [n_clusters] members, each >= 1
    std::vector<uint32_t> assign;  // [n] cluster of each point
    double objective = 0.0;        // sum over points of (1 - cos(point, direction of its cluster))
    uint32_t n_iters = 0;
};

// unit [n][dim] = raw rows scaled to length 1 (all-zero rows stay zero).
void kmeans_normalize(const float* raw, uint32_t n, uint32_t dim, float* unit);

// k-means++ seeding on unit rows with a seeded RNG: returns k distinct point indices while distinct
// directions remain, then repeats points (their clusters are re-seeded by kmeans_run).
std::vector<uint32_t> kmeans_seed(const float* unit, uint32_t n, uint32_t dim, uint32_t k, uint64_t seed);

// Lloyd iterations from the given seed points. raw, unit: [n][dim].
// Errors: SQUEEZE_BAD_PARAMS (n or dim zero, a seed index out of range).
Status kmeans_run(const float* raw, const float* unit, uint32_t n, uint32_t dim, const std::vector<uint32_t>& seeds,
                  const KmeansParams& params, KmeansResult& out);

// normalize + seed + run. raw: [n][dim]. With a metric [dim][dim] (row-major), points are compared
// by the cosine of metric * row instead of the row itself (centroids stay means of the raw rows).
Status kmeans_cluster(const float* raw, uint32_t n, uint32_t dim, const KmeansParams& params, KmeansResult& out,
                      const float* metric = nullptr);

} // namespace sq::squeeze
