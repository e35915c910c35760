// The tiled attention kernel (attention-tiled-kernel.h) with 8-lane AVX2 vectors: 4 rows x 3
// vectors = 12 accumulators, which with the 3 row vectors and a broadcast fill the 16 registers.
#define SQ_TILED_KERNEL_BODY
#include "attention-tiled-kernel.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

namespace sq::cpu {
namespace {

// exp(x) for x <= 0 (softmax arguments) in 8 lanes, with ggml's reduction and polynomial (ops-expf.h)
// and 2^n put in the exponent bits; below -87 (and at -inf) the result is 0, as the float would
// underflow to a subnormal there.
__m256 exp_nonpositive(__m256 x) {
    const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 shift = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    const __m256 n = _mm256_sub_ps(z, shift);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 hi = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f));
    const __m256 lo = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f));
    const __m256 lin = _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f));
    const __m256 j = _mm256_fmadd_ps(_mm256_fmadd_ps(hi, u, lo), u, lin);
    // z holds n + 1.5 * 2^23 as a float: its low mantissa bits are n, shifted into the exponent
    const __m256i pow2n = _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(z), 23),
                                           _mm256_castps_si256(_mm256_set1_ps(1.0f)));
    return _mm256_andnot_ps(underflow, _mm256_mul_ps(j, _mm256_castsi256_ps(pow2n)));
}

struct Avx2 {
    using V = __m256;
    static constexpr uint32_t W = 8, R = 4, MV = 3;
    static V zero() { return _mm256_setzero_ps(); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, V x) { _mm256_storeu_ps(p, x); }
    static V bcast(float x) { return _mm256_set1_ps(x); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static V exp(V x) { return exp_nonpositive(x); }
    // x where key <= pos, -inf elsewhere
    static V mask_after(V x, V key, V pos) {
        return _mm256_blendv_ps(x, _mm256_set1_ps(-INFINITY), _mm256_cmp_ps(key, pos, _CMP_GT_OQ));
    }
    static V finite_or_zero(V x) {
        return _mm256_blendv_ps(x, zero(), _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
    }
    // n: a multiple of 8
    static void f16_to_f32(const uint16_t* src, float* dst, uint32_t n) {
        for (uint32_t i = 0; i < n; i += 8) {
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
        }
    }
};

} // namespace

TiledItemFn attention_tiled_item_avx2() { return tiled_item<Avx2>; }

} // namespace sq::cpu

#else

namespace sq::cpu {
TiledItemFn attention_tiled_item_avx2() { return nullptr; }
} // namespace sq::cpu

#endif
