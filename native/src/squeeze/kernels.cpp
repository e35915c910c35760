#include "kernels.h"

#include <algorithm>
#include <cmath>

#include "../common/half.h"

namespace sq::squeeze {

#if defined(__x86_64__) || defined(__i386__)
const Kernels* kernels_avx2();   // kernels-avx2.cpp; null when built without AVX2 flags
const Kernels* kernels_avx512(); // kernels-avx512.cpp (the AVX2 set with wider row kernels); null likewise
#endif

namespace {

void dot_tile_scalar(const float* x, uint32_t n_x, uint32_t dim, const float* ct, uint32_t ct_stride, uint32_t n_cols,
                     float* out, uint32_t out_stride) {
    for (uint32_t p = 0; p < n_x; ++p) {
        float* o = out + static_cast<size_t>(p) * out_stride;
        std::fill(o, o + n_cols, 0.0f);
        const float* xp = x + static_cast<size_t>(p) * dim;
        for (uint32_t d = 0; d < dim; ++d) {
            const float* row = ct + static_cast<size_t>(d) * ct_stride;
            for (uint32_t j = 0; j < n_cols; ++j) o[j] += xp[d] * row[j];
        }
    }
}

float dot_f32_scalar(const float* a, const float* b, uint32_t n) {
    float s = 0.0f;
    for (uint32_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

float dot_f16_scalar(const float* a, const uint16_t* b, uint32_t n) {
    float s = 0.0f;
    for (uint32_t i = 0; i < n; ++i) s += a[i] * f16_to_f32(b[i]);
    return s;
}

void axpy_f32_scalar(float* y, float a, const float* x, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_scalar(float* y, float a, const uint16_t* x, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) y[i] += a * f16_to_f32(x[i]);
}

void f16_to_f32_row_scalar(const uint16_t* x, float* y, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i]);
}

void f32_to_f16_row_scalar(const float* x, uint16_t* y, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void dot_rows_f16_scalar(const float* q, uint32_t n_rows, const uint16_t* k, uint32_t n_keys, uint32_t d, float scale, float* out,
                         uint32_t out_stride) {
    for (uint32_t i = 0; i < n_keys; ++i)
        for (uint32_t r = 0; r < n_rows; ++r)
            out[size_t{r} * out_stride + i] = scale * dot_f16_scalar(q + size_t{r} * d, k + size_t{i} * d, d);
}

void axpy_rows_f16_scalar(float* out, uint32_t n_rows, const float* p, uint32_t p_stride, const uint16_t* v, uint32_t n_keys,
                          uint32_t d) {
    for (uint32_t i = 0; i < n_keys; ++i)
        for (uint32_t r = 0; r < n_rows; ++r) axpy_f16_scalar(out + size_t{r} * d, p[size_t{r} * p_stride + i], v + size_t{i} * d, d);
}

// exp_nonpositive_avx2 (backend/cpu/exp-nonpositive-avx2.h) one lane at a time, operation for
// operation (std::fma where it fuses), so that both paths give the same bits.
float exp_nonpositive_scalar(float x) {
    const bool underflow = x < -87.0f;
    x = x > -87.0f ? x : -87.0f; // _mm256_max_ps(x, -87): NaN becomes -87 there too
    const float shift = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, shift);
    const float n = z - shift;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float hi = std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f);
    const float lo = std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f);
    const float lin = std::fma(0x1.ffffecp-1f, b, 1.0f);
    const float j = std::fma(std::fma(hi, u, lo), u, lin);
    const float pow2n = f32_from_bits((f32_to_bits(z) << 23) + f32_to_bits(1.0f));
    return underflow ? 0.0f : j * pow2n;
}

double exp_sum_scalar(float* x, uint32_t n, float max) {
    if (max == -INFINITY) { // every logit is -inf (or there are none): no mass
        std::fill(x, x + n, 0.0f);
        return 0.0;
    }
    double part[4] = {0.0, 0.0, 0.0, 0.0};
    for (uint32_t i = 0; i < n; ++i) {
        x[i] = exp_nonpositive_scalar(x[i] - max);
        part[i % 4] += x[i];
    }
    return (part[0] + part[1]) + (part[2] + part[3]);
}

void scale_rows_scalar(float* x, uint32_t n, float s, bool round_f16) {
    for (uint32_t i = 0; i < n; ++i) x[i] = round_f16 ? f16_to_f32(f32_to_f16(x[i] * s)) : x[i] * s;
}

const Kernels kScalar = {dot_tile_scalar,       dot_f32_scalar,        dot_f16_scalar,      axpy_f32_scalar,
                         axpy_f16_scalar,       f16_to_f32_row_scalar, f32_to_f16_row_scalar, dot_rows_f16_scalar,
                         axpy_rows_f16_scalar, exp_sum_scalar,        scale_rows_scalar};

} // namespace

std::vector<const Kernels*> kernels_available() {
    std::vector<const Kernels*> sets = {&kScalar};
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        if (const Kernels* k = kernels_avx2()) sets.push_back(k);
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512dq"))
            if (const Kernels* k = kernels_avx512()) sets.push_back(k);
    }
#endif
    return sets;
}

const Kernels& kernels() {
    static const Kernels* chosen = kernels_available().back(); // the widest
    return *chosen;
}

const Kernels& kernels_scalar() { return kScalar; }

} // namespace sq::squeeze
