// Embedding lookup on the GPU: y[t] = dequantized row ids[t] of a weight matrix, with the CPU's
// dequantization formulas (backend/cpu/quants-scalar.cpp dequantize_row_*) rounded the same way.
#pragma once

#include <cuda_runtime.h>

#include "matmul-q.cuh"

namespace sq::cuda {

struct GetRowsParams {
    const void* w;      // [n_vocab][w_row_bytes] of type
    WeightType type;
    int n_cols;         // row length, a multiple of the type's block size
    long w_row_bytes;
    const int* ids;     // [n_tokens] device memory, each < n_vocab (checked by the caller)
    int n_tokens;
    float* y;           // [n_tokens][y_stride]
    long y_stride;
};

cudaError_t get_rows(const GetRowsParams& p, cudaStream_t stream);

} // namespace sq::cuda
