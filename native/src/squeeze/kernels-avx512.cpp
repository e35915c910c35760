// AVX-512 versions of the row kernels of kernels.h (compiled with -mavx512f/bw/vl/dq; used only after
// CPUID says so); the other kernels are kernels-avx2.cpp's. The 32 registers hold 4 rows x 4 keys of
// accumulators, so each key is converted from f16 once for 4 query rows and 4 keys share one
// horizontal-sum tree.
#include "kernels.h"

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__AVX512DQ__)

// GCC 12 flags the deliberately undefined vectors inside its own AVX-512 intrinsics once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

namespace sq::squeeze {

const Kernels* kernels_avx2();

namespace {

inline __m512 load_f16x16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }

// Rows and keys per block: 4 x 4 accumulators, 4 converted key (or value) slices and a query slice
// take 21 of the 32 registers.
constexpr uint32_t kRows = 4, kKeys = 4;

// The AVX2 versions, for head dims these kernels do not take.
void (*avx2_dot_rows)(const float*, uint32_t, const uint16_t*, uint32_t, uint32_t, float, float*, uint32_t) = nullptr;
void (*avx2_axpy_rows)(float*, uint32_t, const float*, uint32_t, const uint16_t*, uint32_t, uint32_t) = nullptr;

// The horizontal sums of a[0..3] in lanes 0..3 (lane 4 apart pairs first, as a tree).
inline __m128 reduce_4x16(const __m512 a[kKeys]) {
    // 16 -> 8 lanes per key: two keys per vector.
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a[0], a[1], 0x44), _mm512_shuffle_f32x4(a[0], a[1], 0xEE));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(a[2], a[3], 0x44), _mm512_shuffle_f32x4(a[2], a[3], 0xEE));
    // 8 -> 4 lanes per key: all four keys in one vector, key k in 128-bit block k.
    const __m512 abcd = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88), _mm512_shuffle_f32x4(ab, cd, 0xDD));
    // 4 -> 1 lane per key within each block, then the blocks' lane 0 gathered.
    __m512 s = _mm512_add_ps(abcd, _mm512_shuffle_ps(abcd, abcd, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm512_add_ps(s, _mm512_shuffle_ps(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m512i lane0 = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(lane0, s));
}

// Keys in blocks of 4, each 16-dim slice of them converted once for all rows of a block of 4 rows.
// d % 16 == 0.
void dot_rows_f16_avx512(const float* q, uint32_t n_rows, const uint16_t* k, uint32_t n_keys, uint32_t d, float scale, float* out,
                         uint32_t out_stride) {
    if (d % 16 != 0) return avx2_dot_rows(q, n_rows, k, n_keys, d, scale, out, out_stride);
    for (uint32_t r0 = 0; r0 < n_rows; r0 += kRows) {
        const uint32_t nr = n_rows - r0 < kRows ? n_rows - r0 : kRows;
        const float* qb = q + size_t{r0} * d;
        uint32_t i = 0;
        for (; i + kKeys <= n_keys; i += kKeys) {
            __m512 acc[kRows][kKeys];
            for (uint32_t r = 0; r < kRows; ++r)
                for (uint32_t j = 0; j < kKeys; ++j) acc[r][j] = _mm512_setzero_ps();
            const uint16_t* key = k + size_t{i} * d;
            for (uint32_t c = 0; c < d; c += 16) {
                __m512 kv[kKeys];
                for (uint32_t j = 0; j < kKeys; ++j) kv[j] = load_f16x16(key + size_t{j} * d + c);
                for (uint32_t r = 0; r < nr; ++r) {
                    const __m512 qv = _mm512_loadu_ps(qb + size_t{r} * d + c);
                    for (uint32_t j = 0; j < kKeys; ++j) acc[r][j] = _mm512_fmadd_ps(qv, kv[j], acc[r][j]);
                }
            }
            for (uint32_t r = 0; r < nr; ++r)
                _mm_storeu_ps(out + size_t{r0 + r} * out_stride + i, _mm_mul_ps(reduce_4x16(acc[r]), _mm_set1_ps(scale)));
        }
        for (; i < n_keys; ++i) {
            __m512 acc[kRows];
            for (uint32_t r = 0; r < kRows; ++r) acc[r] = _mm512_setzero_ps();
            for (uint32_t c = 0; c < d; c += 16) {
                const __m512 kv = load_f16x16(k + size_t{i} * d + c);
                for (uint32_t r = 0; r < nr; ++r) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(qb + size_t{r} * d + c), kv, acc[r]);
            }
            for (uint32_t r = 0; r < nr; ++r) out[size_t{r0 + r} * out_stride + i] = scale * _mm512_reduce_add_ps(acc[r]);
        }
    }
}

// Per 64-dim slice and block of 4 rows, the accumulators stay in registers over every key. d % 64 == 0.
void axpy_rows_f16_avx512(float* out, uint32_t n_rows, const float* p, uint32_t p_stride, const uint16_t* v, uint32_t n_keys,
                          uint32_t d) {
    if (d % 64 != 0) return avx2_axpy_rows(out, n_rows, p, p_stride, v, n_keys, d);
    constexpr uint32_t V = 4;
    for (uint32_t r0 = 0; r0 < n_rows; r0 += kRows) {
        const uint32_t nr = n_rows - r0 < kRows ? n_rows - r0 : kRows;
        for (uint32_t d0 = 0; d0 < d; d0 += 16 * V) {
            __m512 acc[kRows][V];
            for (uint32_t r = 0; r < kRows; ++r)
                for (uint32_t c = 0; c < V; ++c) acc[r][c] = _mm512_setzero_ps();
            const uint16_t* value = v + d0;
            for (uint32_t i = 0; i < n_keys; ++i, value += d) {
                __m512 vv[V];
                for (uint32_t c = 0; c < V; ++c) vv[c] = load_f16x16(value + 16 * c);
                for (uint32_t r = 0; r < nr; ++r) {
                    const __m512 pr = _mm512_set1_ps(p[size_t{r0 + r} * p_stride + i]);
                    for (uint32_t c = 0; c < V; ++c) acc[r][c] = _mm512_fmadd_ps(pr, vv[c], acc[r][c]);
                }
            }
            for (uint32_t r = 0; r < nr; ++r) {
                float* o = out + size_t{r0 + r} * d + d0;
                for (uint32_t c = 0; c < V; ++c) _mm512_storeu_ps(o + 16 * c, _mm512_add_ps(_mm512_loadu_ps(o + 16 * c), acc[r][c]));
            }
        }
    }
}

} // namespace

// Null when the AVX2 kernels are not built (the AVX-512 ones reuse them for everything else).
const Kernels* kernels_avx512() {
    static const Kernels* k = []() -> const Kernels* {
        const Kernels* base = kernels_avx2();
        if (!base) return nullptr;
        static Kernels wide = *base;
        avx2_dot_rows = base->dot_rows_f16;
        avx2_axpy_rows = base->axpy_rows_f16;
        wide.dot_rows_f16 = dot_rows_f16_avx512;
        wide.axpy_rows_f16 = axpy_rows_f16_avx512;
        return &wide;
    }();
    return k;
}

} // namespace sq::squeeze

#elif defined(__x86_64__) || defined(__i386__)

namespace sq::squeeze {
const Kernels* kernels_avx512() { return nullptr; }
} // namespace sq::squeeze

#endif
