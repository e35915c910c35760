// Inner loops of the squeeze module (K-means assignment, centroid scoring, attention over f16 rows),
// picked once at run time: AVX2+FMA+F16C where the CPU has it (kernels-avx2.cpp), with AVX-512 row
// kernels where it has that too (kernels-avx512.cpp), plain C++ otherwise.
// exp_sum and scale_rows give the same bits on every path (same operations in the same order); the
// dot products agree to rounding only.
#pragma once

#include <cstdint>
#include <vector>

namespace sq::squeeze {

// Centroid tables are stored transposed and padded so that one query row is scored against 16
// centroids per step with vertical FMAs only (no horizontal sums): ct [dim][k_pad], k_pad % 16 == 0.
constexpr uint32_t kCentroidPad = 16;
inline uint32_t centroid_pad(uint32_t k) { return (k + kCentroidPad - 1) / kCentroidPad * kCentroidPad; }

struct Kernels {
    // out[p * out_stride + j] = x[p] . ct[:, j] for p < n_x, j < n_cols (n_cols % 16 == 0).
    // x [n_x][dim]; ct: dim rows of ct_stride floats (a column range of a [dim][k_pad] table).
    void (*dot_tile)(const float* x, uint32_t n_x, uint32_t dim, const float* ct, uint32_t ct_stride, uint32_t n_cols,
                     float* out, uint32_t out_stride);
    float (*dot_f32)(const float* a, const float* b, uint32_t n);
    float (*dot_f16)(const float* a, const uint16_t* b, uint32_t n);      // b is IEEE half
    void (*axpy_f32)(float* y, float a, const float* x, uint32_t n);     // y += a * x
    void (*axpy_f16)(float* y, float a, const uint16_t* x, uint32_t n);  // x is IEEE half
    void (*f16_to_f32_row)(const uint16_t* x, float* y, uint32_t n);
    void (*f32_to_f16_row)(const float* x, uint16_t* y, uint32_t n);    // round to nearest even
    // out[r * out_stride + i] = scale * (q[r] . k[i]) for r < n_rows, i < n_keys; q [n_rows][d], k [n_keys][d] f16.
    void (*dot_rows_f16)(const float* q, uint32_t n_rows, const uint16_t* k, uint32_t n_keys, uint32_t d, float scale,
                         float* out, uint32_t out_stride);
    // out[r] += sum_i p[r * p_stride + i] * v[i] for r < n_rows; out [n_rows][d], v [n_keys][d] f16.
    void (*axpy_rows_f16)(float* out, uint32_t n_rows, const float* p, uint32_t p_stride, const uint16_t* v, uint32_t n_keys,
                          uint32_t d);
    // x[i] = exp(x[i] - max) (ggml's exp polynomial; 0 below -87 and for -inf); returns the sum of the
    // results in double, element i added to partial sum i % 4, the partial sums then added (0+1)+(2+3).
    double (*exp_sum)(float* x, uint32_t n, float max);
    // x[i] *= s, then rounded to f16 and back when round_f16 (as the dense kernel rounds probabilities).
    void (*scale_rows)(float* x, uint32_t n, float s, bool round_f16);
};

// The kernels for this CPU (chosen on first use, thread-safe).
const Kernels& kernels();
// The portable ones, for tests that compare the SIMD path against them.
const Kernels& kernels_scalar();
// Every set this CPU can run (the portable one first), for tests of each.
std::vector<const Kernels*> kernels_available();

} // namespace sq::squeeze
