#include "kernels.h"

#include <algorithm>

#include "../common/half.h"

namespace sq::squeeze {

#if defined(__x86_64__) || defined(__i386__)
const Kernels* kernels_avx2(); // kernels-avx2.cpp; null when built without AVX2 flags
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

const Kernels kScalar = {dot_tile_scalar, dot_f32_scalar,        dot_f16_scalar,        axpy_f32_scalar,
                         axpy_f16_scalar, f16_to_f32_row_scalar, f32_to_f16_row_scalar};

const Kernels* pick() {
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
        if (const Kernels* k = kernels_avx2()) return k;
    }
#endif
    return &kScalar;
}

} // namespace

const Kernels& kernels() {
    static const Kernels* chosen = pick();
    return *chosen;
}

const Kernels& kernels_scalar() { return kScalar; }

} // namespace sq::squeeze
