// K-means update steps (used by kmeans.cu): member sums and counts, empty clusters refilled from
// donors, directions from the sums, and the final raw-mean centroids and objective.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kmeans.cuh"

namespace sq::cuda {

struct KmeansSumParams {
    const void* points;        // [n_batches][n_points][dim] of point_type
    KmeansPointType point_type;
    int n_batches, n_points, dim, n_clusters;
    const int* assign;         // [n_batches][n_points]
    float* sums;               // [n_batches][n_clusters][dim], zeroed by the caller; += members
    int* counts;               // [n_batches][n_clusters], zeroed by the caller; += 1 per member; or null
};

cudaError_t kmeans_sum(const KmeansSumParams& p, cudaStream_t stream);

// Every empty cluster takes a point from a cluster that keeps another member: first the
// worst-served candidates (one per assignment block), then any point. Moves its unit vector between
// the sums and updates assign and counts, so the clusters are non-empty whenever n_clusters <= n_points.
struct KmeansFixEmptyParams {
    const __half* unit;        // [n_batches][n_points][dim]
    int n_batches, n_points, dim, n_clusters;
    int* assign;               // [n_batches][n_points]
    int* counts;               // [n_batches][n_clusters]
    float* sums;               // [n_batches][n_clusters][dim] of unit vectors
    const int* worst;          // [n_batches][n_worst]
    int n_worst;
};

cudaError_t kmeans_fix_empty(const KmeansFixEmptyParams& p, cudaStream_t stream);

// dirs[j] = sums[j] / |sums[j]| (f16); a sum of zero length keeps the previous direction.
cudaError_t kmeans_directions(const float* sums, __half* dirs, int n_rows, int dim, cudaStream_t stream);

// centroids[j] = sums[j] / counts[j] over n_rows = n_batches * n_clusters rows.
cudaError_t kmeans_centroids(const float* sums, const int* counts, float* centroids, int n_rows, int dim,
                             cudaStream_t stream);

// objective[b] = sum over the points of 1 - unit . dirs[assign]; objective zeroed by the caller.
struct KmeansObjectiveParams {
    const __half* unit;        // [n_batches][n_points][dim]
    const __half* dirs;        // [n_batches][n_clusters][dim]
    const int* assign;         // [n_batches][n_points]
    int n_batches, n_points, dim, n_clusters;
    double* objective;         // [n_batches]
};

cudaError_t kmeans_objective(const KmeansObjectiveParams& p, cudaStream_t stream);

} // namespace sq::cuda
