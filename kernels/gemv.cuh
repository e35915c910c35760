// Quantized matrix-vector product for decode: y[r] = sum_c W[r][c] * x[c], W in ggml's block
// layouts (native/src/backend/cpu/quants-blocks.h), x and y in f32. Memory-bound: each weight byte
// is read once; x is re-read from L1/L2 and shared by the rows a warp computes together.
//
// Unlike the CPU path (and ggml's CUDA mmvq) the activation is not quantized to Q8 first, so results
// differ from the CPU vec_dot by that rounding; tests compare with a dequantized f32 reference.
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

enum class GemvType : int { Q8_0 = 8, Q4_K = 12 }; // GGUF type ids

struct GemvParams {
    const void* w;   // [n_rows] rows of row_bytes bytes; Q4_K rows 16-byte aligned
    const float* x;  // [n_cols], 16-byte aligned
    float* y;        // [n_rows]
    GemvType type;
    int n_rows;
    int n_cols;      // a multiple of the block size: 32 (Q8_0) or 256 (Q4_K)
    long row_bytes;  // bytes from one row to the next (n_cols / block size * block bytes when packed)
};

cudaError_t gemv(const GemvParams& p, cudaStream_t stream);

} // namespace sq::cuda
