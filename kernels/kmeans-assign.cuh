// K-means assignment (used by kmeans.cu): for every unit point, the direction with the largest dot
// and that dot. Directions and points are f16 unit vectors; the dots are tensor-core products
// (mma.sync m16n8k16, f32 accumulate) and the argmax runs in the product's epilogue, so the
// [points][clusters] score matrix never reaches memory.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace sq::cuda {

constexpr int kKmeansAssignPoints = 128; // points per block: one worst-served candidate each

struct KmeansAssignParams {
    const __half* unit;    // [n_batches][n_points][dim]
    const __half* dirs;    // [n_batches][dir_stride][dim]; directions [dir_begin, dir_end) are scored
    int n_batches;
    int n_points;
    int dim;               // 64 or 128
    long dir_stride;       // directions per batch in dirs
    int dir_begin, dir_end;
    // merge: keep a point's previous (best, assign) when it is at least as good (seeding adds
    // directions round by round); otherwise both are overwritten.
    bool merge;
    float* best;           // [n_batches][n_points] largest dot
    int* assign;           // [n_batches][n_points] its direction
    int* worst;            // [n_batches][ceil(n_points / kKmeansAssignPoints)] the block's point with the
                           // smallest best (donor candidates for empty clusters), or null
};

cudaError_t kmeans_assign(const KmeansAssignParams& p, cudaStream_t stream);

} // namespace sq::cuda
