// AVX2 + FMA + F16C versions of kernels.h (compiled with -mavx2 -mfma -mf16c; used only after CPUID
// says so). Sums are in a different order than the scalar loops, so results agree to rounding only.
#include "kernels.h"

#include "backend/cpu/exp-nonpositive-avx2.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include <cmath>

namespace sq::squeeze {

namespace {

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// 4 rows x 16 centroids per step: 8 accumulators, 2 loads and 4 broadcasts per 8 FMAs.
void dot_tile_avx2(const float* x, uint32_t n_x, uint32_t dim, const float* ct, uint32_t ct_stride, uint32_t n_cols,
                   float* out, uint32_t out_stride) {
    uint32_t p = 0;
    for (; p + 4 <= n_x; p += 4) {
        const float* x0 = x + static_cast<size_t>(p) * dim;
        for (uint32_t j = 0; j < n_cols; j += 16) {
            __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a10 = _mm256_setzero_ps(),
                   a11 = _mm256_setzero_ps(), a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps(),
                   a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
            const float* c = ct + j;
            for (uint32_t d = 0; d < dim; ++d, c += ct_stride) {
                const __m256 c0 = _mm256_loadu_ps(c), c1 = _mm256_loadu_ps(c + 8);
                __m256 b = _mm256_broadcast_ss(x0 + d);
                a00 = _mm256_fmadd_ps(b, c0, a00);
                a01 = _mm256_fmadd_ps(b, c1, a01);
                b = _mm256_broadcast_ss(x0 + dim + d);
                a10 = _mm256_fmadd_ps(b, c0, a10);
                a11 = _mm256_fmadd_ps(b, c1, a11);
                b = _mm256_broadcast_ss(x0 + 2 * dim + d);
                a20 = _mm256_fmadd_ps(b, c0, a20);
                a21 = _mm256_fmadd_ps(b, c1, a21);
                b = _mm256_broadcast_ss(x0 + 3 * dim + d);
                a30 = _mm256_fmadd_ps(b, c0, a30);
                a31 = _mm256_fmadd_ps(b, c1, a31);
            }
            float* o = out + static_cast<size_t>(p) * out_stride + j;
            _mm256_storeu_ps(o, a00);
            _mm256_storeu_ps(o + 8, a01);
            _mm256_storeu_ps(o + out_stride, a10);
            _mm256_storeu_ps(o + out_stride + 8, a11);
            _mm256_storeu_ps(o + 2 * out_stride, a20);
            _mm256_storeu_ps(o + 2 * out_stride + 8, a21);
            _mm256_storeu_ps(o + 3 * out_stride, a30);
            _mm256_storeu_ps(o + 3 * out_stride + 8, a31);
        }
    }
    for (; p < n_x; ++p) {
        const float* xp = x + static_cast<size_t>(p) * dim;
        for (uint32_t j = 0; j < n_cols; j += 16) {
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
            const float* c = ct + j;
            for (uint32_t d = 0; d < dim; ++d, c += ct_stride) {
                const __m256 b = _mm256_broadcast_ss(xp + d);
                a0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(c), a0);
                a1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(c + 8), a1);
            }
            float* o = out + static_cast<size_t>(p) * out_stride + j;
            _mm256_storeu_ps(o, a0);
            _mm256_storeu_ps(o + 8, a1);
        }
    }
}

float dot_f32_avx2(const float* a, const float* b, uint32_t n) {
    __m256 acc = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum8(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

inline __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

float dot_f16_avx2(const float* a, const uint16_t* b, uint32_t n) {
    __m256 acc = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load_f16x8(b + i), acc);
    float s = hsum8(acc);
    for (; i < n; ++i) s += a[i] * _cvtsh_ss(b[i]);
    return s;
}

void axpy_f32_avx2(float* y, float a, const float* x, uint32_t n) {
    const __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_avx2(float* y, float a, const uint16_t* x, uint32_t n) {
    const __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * _cvtsh_ss(x[i]);
}

void f16_to_f32_row_avx2(const uint16_t* x, float* y, uint32_t n) {
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_f16x8(x + i));
    for (; i < n; ++i) y[i] = _cvtsh_ss(x[i]);
}

void f32_to_f16_row_avx2(const float* x, uint16_t* y, uint32_t n) {
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

// Query rows per block of the two row kernels: 3 rows x 4 vectors of accumulators and the 4 vectors
// of one converted key (or value) slice fill the 16 registers.
constexpr uint32_t kRowBlock = 3;

// Keys converted once per 32-dim slice for all rows of a block; each row's 4 chains summed at the end.
void dot_rows_f16_avx2(const float* q, uint32_t n_rows, const uint16_t* k, uint32_t n_keys, uint32_t d, float scale, float* out,
                       uint32_t out_stride) {
    if (d % 32 != 0) {
        for (uint32_t i = 0; i < n_keys; ++i)
            for (uint32_t r = 0; r < n_rows; ++r) out[size_t{r} * out_stride + i] = scale * dot_f16_avx2(q + size_t{r} * d, k + size_t{i} * d, d);
        return;
    }
    for (uint32_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
        const uint32_t nr = n_rows - r0 < kRowBlock ? n_rows - r0 : kRowBlock;
        const float* qb = q + size_t{r0} * d;
        for (uint32_t i = 0; i < n_keys; ++i) {
            const uint16_t* key = k + size_t{i} * d;
            __m256 acc[kRowBlock][4];
            for (uint32_t r = 0; r < kRowBlock; ++r)
                for (uint32_t c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
            for (uint32_t d0 = 0; d0 < d; d0 += 32) {
                const __m256 k0 = load_f16x8(key + d0), k1 = load_f16x8(key + d0 + 8), k2 = load_f16x8(key + d0 + 16),
                             k3 = load_f16x8(key + d0 + 24);
                for (uint32_t r = 0; r < nr; ++r) {
                    const float* qr = qb + size_t{r} * d + d0;
                    acc[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(qr), k0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 8), k1, acc[r][1]);
                    acc[r][2] = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 16), k2, acc[r][2]);
                    acc[r][3] = _mm256_fmadd_ps(_mm256_loadu_ps(qr + 24), k3, acc[r][3]);
                }
            }
            for (uint32_t r = 0; r < nr; ++r)
                out[size_t{r0 + r} * out_stride + i] =
                    scale * hsum8(_mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][1]), _mm256_add_ps(acc[r][2], acc[r][3])));
        }
    }
}

// Per 32-dim slice and block of rows, the accumulators stay in registers over every key.
void axpy_rows_f16_avx2(float* out, uint32_t n_rows, const float* p, uint32_t p_stride, const uint16_t* v, uint32_t n_keys,
                        uint32_t d) {
    if (d % 32 != 0) {
        for (uint32_t i = 0; i < n_keys; ++i)
            for (uint32_t r = 0; r < n_rows; ++r) axpy_f16_avx2(out + size_t{r} * d, p[size_t{r} * p_stride + i], v + size_t{i} * d, d);
        return;
    }
    for (uint32_t r0 = 0; r0 < n_rows; r0 += kRowBlock) {
        const uint32_t nr = n_rows - r0 < kRowBlock ? n_rows - r0 : kRowBlock;
        for (uint32_t d0 = 0; d0 < d; d0 += 32) {
            __m256 acc[kRowBlock][4];
            for (uint32_t r = 0; r < kRowBlock; ++r)
                for (uint32_t c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
            const uint16_t* value = v + d0;
            for (uint32_t i = 0; i < n_keys; ++i, value += d) {
                const __m256 v0 = load_f16x8(value), v1 = load_f16x8(value + 8), v2 = load_f16x8(value + 16), v3 = load_f16x8(value + 24);
                for (uint32_t r = 0; r < nr; ++r) {
                    const __m256 pr = _mm256_broadcast_ss(p + size_t{r0 + r} * p_stride + i);
                    acc[r][0] = _mm256_fmadd_ps(pr, v0, acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(pr, v1, acc[r][1]);
                    acc[r][2] = _mm256_fmadd_ps(pr, v2, acc[r][2]);
                    acc[r][3] = _mm256_fmadd_ps(pr, v3, acc[r][3]);
                }
            }
            for (uint32_t r = 0; r < nr; ++r) {
                float* o = out + size_t{r0 + r} * d + d0;
                for (uint32_t c = 0; c < 4; ++c) _mm256_storeu_ps(o + 8 * c, _mm256_add_ps(_mm256_loadu_ps(o + 8 * c), acc[r][c]));
            }
        }
    }
}

// Element i goes to double lane i % 4: the low half of 8 floats, then the high half.
double exp_sum_avx2(float* x, uint32_t n, float max) {
    if (max == -INFINITY) {
        for (uint32_t i = 0; i < n; ++i) x[i] = 0.0f;
        return 0.0;
    }
    const __m256 vmax = _mm256_set1_ps(max);
    __m256d acc = _mm256_setzero_pd();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = cpu::exp_nonpositive_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    alignas(32) double part[4];
    _mm256_store_pd(part, acc);
    for (; i < n; ++i) {
        alignas(32) float lane[8] = {};
        lane[0] = x[i] - max;
        _mm256_store_ps(lane, cpu::exp_nonpositive_avx2(_mm256_load_ps(lane)));
        x[i] = lane[0];
        part[i % 4] += x[i];
    }
    return (part[0] + part[1]) + (part[2] + part[3]);
}

void scale_rows_avx2(float* x, uint32_t n, float s, bool round_f16) {
    const __m256 vs = _mm256_set1_ps(s);
    uint32_t i = 0;
    if (round_f16)
        for (; i + 8 <= n; i += 8)
            _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _MM_FROUND_TO_NEAREST_INT)));
    else
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
    for (; i < n; ++i) x[i] = round_f16 ? _cvtsh_ss(_cvtss_sh(x[i] * s, _MM_FROUND_TO_NEAREST_INT)) : x[i] * s;
}

const Kernels kAvx2 = {dot_tile_avx2,       dot_f32_avx2,        dot_f16_avx2,        axpy_f32_avx2,
                       axpy_f16_avx2,       f16_to_f32_row_avx2, f32_to_f16_row_avx2, dot_rows_f16_avx2,
                       axpy_rows_f16_avx2, exp_sum_avx2,        scale_rows_avx2};

} // namespace

const Kernels* kernels_avx2() { return &kAvx2; }

} // namespace sq::squeeze

#elif defined(__x86_64__) || defined(__i386__)

namespace sq::squeeze {
const Kernels* kernels_avx2() { return nullptr; }
} // namespace sq::squeeze

#endif
