// Weight matrix times activation rows on the GPU, for every weight type the CPU engine reads:
//   y[t][r] = dot(W[r], a[t])   W in ggml's block layout (backend/cpu/quants-blocks.h),
//   a[t] row t of the activations already in the weight type's vec_dot type (quantize-rows.cuh).
// Each block's integer sum is exact and its float scaling is the CPU vec_dot's expression, so a
// row differs from the CPU at most in the order its blocks are added (a few ulp of the sum).
//
// Q4_1 and Q8_0 follow ggml-cpu's x86 summation order too (eight lanes per row), so their rows have
// the CPU's bits exactly (matmul-q.cu). The other types: one warp per weight row, lanes striding
// over the row's blocks. A grid row of up to 8 activation rows reads each weight block once per
// token from L1: decode (one token) is the GEMV; prefill runs the same kernels over token tiles,
// correct and simple, not yet a tensor-core GEMM.
#pragma once

#include <cuda_runtime.h>

#include "quantize-rows.cuh"

namespace sq::cuda {

// GGUF type ids of the weight types with GPU kernels.
enum class WeightType : int { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8, Q4_K = 12, Q6_K = 14, BF16 = 30 };

struct MatmulQParams {
    const void* w;       // [n_rows][w_row_bytes] bytes; rows 2-byte aligned (4 for F32/Q4_1)
    WeightType type;
    int n_rows;          // output features
    int n_cols;          // input features, a multiple of the type's block size
    long w_row_bytes;
    const void* a;       // [n_tokens][a_row_bytes] in matmul_act_type(type), 4-byte aligned rows
    long a_row_bytes;
    int n_tokens;
    float* y;            // [n_tokens][y_stride] floats
    long y_stride;
};

// The activation encoding a weight type is dotted with (the CPU's vec_dot_type).
ActType matmul_act_type(WeightType type);

// Whether GGUF type id `type_id` has a GPU matmul.
bool matmul_supports(int type_id);

cudaError_t matmul_q(const MatmulQParams& p, cudaStream_t stream);

} // namespace sq::cuda
