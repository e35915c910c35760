// K-means seeding steps (used by kmeans.cu): unit vectors of the points, and one k-means|| round
// that draws seeds with probability proportional to 1 - (largest dot with the seeds so far).
#pragma once

#include <cstdint>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "kmeans.cuh"

namespace sq::cuda {

struct KmeansNormalizeParams {
    const void* points;        // [n_batches][n_points][dim] of point_type
    KmeansPointType point_type;
    int n_batches, n_points, dim;
    __half* unit;              // out: [n_batches][n_points][dim], zero rows stay zero
    float* best;               // out: [n_batches][n_points] = -1, "no seed yet" (every weight 2)
};

cudaError_t kmeans_normalize(const KmeansNormalizeParams& p, cudaStream_t stream);

struct KmeansSeedRoundParams {
    const __half* unit;        // [n_batches][n_points][dim]
    const float* best;         // [n_batches][n_points] largest dot with the seeds so far
    float* cdf;                // scratch: [n_batches][n_points]
    __half* dirs;              // [n_batches][dir_stride][dim]; rows [first, first + n_draws) are written
    int n_batches, n_points, dim;
    long dir_stride;
    int first, n_draws;
    uint64_t seed;             // with `first`, picks the round's random stream
};

cudaError_t kmeans_seed_round(const KmeansSeedRoundParams& p, cudaStream_t stream);

} // namespace sq::cuda
