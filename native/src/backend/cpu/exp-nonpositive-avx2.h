// exp(x) for x <= 0 (softmax arguments) in 8 lanes, with ggml's reduction and polynomial (ops-expf.h)
// and 2^n put in the exponent bits; below -87 (and at -inf) the result is 0, as the float would
// underflow to a subnormal there. Shared by the tiled prefill attention and the squeezed attention's
// softmax so both round alike; include it only from files built with -mavx2 -mfma (*-avx2.cpp).
#pragma once

#if defined(__AVX2__) && defined(__FMA__)

#include <immintrin.h>

namespace sq::cpu {

inline __m256 exp_nonpositive_avx2(__m256 x) {
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

} // namespace sq::cpu

#endif
