// Activation rows converted to a weight type's vec_dot type on the GPU, byte for byte as the CPU
// does (backend/cpu/quants-scalar.cpp): Q8_0 / Q8_1 blocks of 32 with id = 127 / amax and
// round-half-to-even, Q8_K super-blocks of 256 scaled from the signed value of largest magnitude
// (first on ties) with bsums, F16 / BF16 rounded to nearest even, F32 copied. The quantized matmul
// (matmul-q.cuh) then reproduces the CPU's integer sums exactly.
//
// The planar encodings hold the same quantized values and scales split into arrays, so the decode
// GEMV (matmul-vec.cuh) reads them with aligned 16-byte loads; a row of n_cols elements is
//   Q8_0_PLANAR: qs int8[n_cols] | d f32[n_cols / 32]
//   Q8_1_PLANAR: qs int8[n_cols] | d f32[n_cols / 32] | s f32[n_cols / 32]
//   Q8_K_PLANAR: qs int8[n_cols] | d f32[n_cols / 256] | bsums int16[n_cols / 16]
// with each f16 scale of the block layout stored as the f32 of its f16 value (the same number).
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

// GGUF type ids of the activation encodings.
// GGUF type ids of the activation encodings; the planar ones (no GGUF id) are 1000 + their block type's.
enum class ActType : int {
    F32 = 0, F16 = 1, Q8_0 = 8, Q8_1 = 9, Q8_K = 15, BF16 = 30,
    Q8_0_PLANAR = 1008, Q8_1_PLANAR = 1009, Q8_K_PLANAR = 1015
};

struct QuantizeRowsParams {
    const float* x;  // [n_rows][x_stride] floats, the first n_cols of each row used
    void* y;         // [n_rows][y_row_bytes] bytes in type's layout
    ActType type;
    int n_rows;
    int n_cols;      // a multiple of the type's block size (32, 256 for Q8_K)
    long x_stride;
    long y_row_bytes; // >= quantized_row_bytes(type, n_cols), a multiple of 4 (16 for the planar types)
    // When set, each row is RMS-normalised first, with rms_norm's arithmetic (rms-norm.cuh) and
    // these weights, and the normalised row is what gets converted: one kernel instead of two for
    // every matmul input that follows a norm (n_cols <= kQuantizeNormMaxCols).
    const float* norm_w = nullptr; // [n_cols]
    float norm_eps = 0.0f;
};

constexpr int kQuantizeNormMaxCols = 8192; // the normalised row is staged in shared memory

// Bytes of one row of n_cols elements in `type` (n_cols a multiple of the block size).
long quantized_row_bytes(ActType type, int n_cols);

cudaError_t quantize_rows(const QuantizeRowsParams& p, cudaStream_t stream);

} // namespace sq::cuda
