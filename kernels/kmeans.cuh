// Spherical K-means on the GPU (DESIGN.md §3, offline step 2; the CPU reference is
// squeeze::kmeans_cluster): for each of n_batches point sets (the KV heads of a layer, or one
// head's level-2 centroids for the level above), n_clusters directions by cosine, then the mean of
// the RAW members and the member counts, which is what the lookup needs.
//
// Steps, all batches at once:
//   normalise   unit[i] = point[i] / |point[i]| in f16 (what every later step reads);
//   seed        k-means|| style: seed_rounds rounds, each drawing n_clusters / seed_rounds points
//               with probability proportional to 1 - max cos to the seeds so far (the D^2 weight of
//               k-means++ for unit vectors), the first round uniformly. The CPU's k-means++ draws
//               one seed per pass over the points, n_clusters passes; here the passes over the
//               points total one assignment's work;
//   iterate     n_iters Lloyd steps: assign (argmax of unit . direction, a tensor-core product with
//               the argmax in its epilogue), counts and sums of the members' unit vectors, empty
//               clusters take the worst-served points of donors that keep a member (as the CPU
//               does), directions = normalised sums;
//   finish      centroids = mean of the raw members, objective = sum of (1 - cos) per batch.
// A fixed iteration count (no convergence test) keeps the host out of the loop: nothing is read
// back until the end.
//
// Every cluster ends non-empty while n_clusters <= n_points.
//
// Measured on an H200 (bench/results/gpu-kmeans-2026-11-26.md): 128K bf16 keys x 8 KV heads, d 128, 5%
// (6,554 clusters), 10 steps: 77 ms a layer (one Lloyd step 6.9 ms, the assignment at 254 TFLOP/s;
// seeding + finishing 7.8 ms), and level 1 (1% over those centroids) 2.2 ms: 2.54 s for 32 layers.
// Objective within 0.5% of the CPU's k-means++ / 20-iteration result on the test sets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cuda_runtime.h>

namespace sq::cuda {

enum class KmeansPointType : int { F16 = 0, BF16 = 1, F32 = 2 };

struct KmeansParams {
    const void* points;        // [n_batches][n_points][dim] of point_type
    KmeansPointType point_type;
    int n_batches;
    int n_points;              // >= 1
    int dim;                   // 64 or 128
    int n_clusters;            // 1..n_points, the same for every batch
    int n_iters;               // Lloyd steps, >= 1
    int seed_rounds;           // >= 1; clamped to n_clusters
    uint64_t seed;
    int* assign;               // out: [n_batches][n_points] cluster of each point
    int* counts;               // out: [n_batches][n_clusters] members, each >= 1
    float* centroids;          // out: [n_batches][n_clusters][dim] mean of the raw members
    double* objective;         // out: [n_batches] sum over points of 1 - cos(point, its direction), or null
    void* workspace;           // kmeans_workspace_bytes(*this) bytes
};

size_t kmeans_workspace_bytes(const KmeansParams& p);

cudaError_t kmeans(const KmeansParams& p, cudaStream_t stream);

} // namespace sq::cuda
