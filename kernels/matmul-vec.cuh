// Decode GEMV at memory speed: y[t][r] = dot(W[r], a[t]) for a few activation rows (decode's one
// token, short batches up to kMatmulVecMaxTokens a launch's token tile), W in ggml's block layout
// (Q8_0, Q4_0, Q4_1, Q4_K, Q6_K), a[t] quantized by quantize_rows into the planar encoding
// matmul_vec_act_type(type) (the CPU's quantized values and scales, split into arrays).
//
// Each warp stages slices of weight rows into shared memory with 16-byte cp.async copies (the
// blocks are only 2-byte aligned in memory, so a row is copied as raw 16-byte chunks and unpacked
// from shared memory), copying the next slice while it computes the current one; each lane dots
// whole units of a slice (a 32-element block, a Q4_K pair of 16-element runs, a Q6_K 16-element
// sub-block) with 16-byte activation loads; the warps of a row (split-K for long or few rows) add
// their sums through shared memory in a fixed order (the same bits on every run). Each block's integer sum is exact; the float sums run in a different order from the
// CPU's (matmul-q.cuh keeps that order), so results differ from the CPU by a few ulp of the sum.
#pragma once

#include <cuda_runtime.h>

#include "matmul-q.cuh"

namespace sq::cuda {

constexpr int kMatmulVecMaxTokens = 8; // activation rows a grid row reads each staged slice for

// The planar activation encoding the GEMV reads for `type` (quantize-rows.cuh).
ActType matmul_vec_act_type(WeightType type);

// Whether matmul_vec takes this matrix: a supported type, whole blocks, 16-byte aligned rows
// (w_row_bytes and w multiples of 16).
bool matmul_vec_supports(WeightType type, int n_cols, long w_row_bytes, const void* w);

// Weight rows a warp computes together in decode (1 or 2), each activation load serving that many;
// token tiles and Q6_K (its slices are a single 16-byte group) take 1 whatever is asked. 2 measured
// 7-12% faster on 8B layers (H200: Q8_0 2311 -> 2500 GB/s, Q4_K 1305 -> 1449, Q4_0 1556 -> 1741).
constexpr int kMatmulVecRowsTogether = 2;

// p.a: [n_tokens][a_row_bytes] in matmul_vec_act_type(p.type), rows 16-byte aligned.
cudaError_t matmul_vec(const MatmulQParams& p, cudaStream_t stream, int rows_together = kMatmulVecRowsTogether);

} // namespace sq::cuda
