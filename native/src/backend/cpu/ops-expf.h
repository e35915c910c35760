// ggml's vectorised expf (ggml-cpu vec.h, AVX-512 build), operation for operation. llama.cpp's
// softmax and SiLU use it instead of expf, and the two differ by an ulp or so on many inputs. Where
// activations are later rounded to F16/BF16 (the vec_dot type of 16-bit weights), a one-ulp
// difference can move a value across a rounding boundary, and models amplify that into log-prob
// differences of 1e-2; with the same exp the rounded values are the same.
#pragma once

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SQ_EXPF_X86 1
#include <immintrin.h>

#include <cmath>

namespace sq::cpu {

// exp(x) in 16 lanes: x = n ln2 + b (n integral, b by a two-constant Cody-Waite reduction), then
// 2^n * (1 + b + b^2 p(b)) by a degree-5 polynomial and scalef; |n| > 192 gives 0 or +inf.
__attribute__((target("avx512f,avx512dq"))) inline __m512 expf_ggml16(__m512 x) {
    const __m512 shift = _mm512_set1_ps(0x1.8p23f); // rounds x / ln2 to an integer in the low mantissa bits
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), shift);
    const __m512 n = _mm512_sub_ps(z, shift);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 out_of_range = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 hi = _mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f));
    const __m512 lo = _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f));
    const __m512 lin = _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f));
    const __m512 j = _mm512_fmadd_ps(_mm512_fmadd_ps(hi, u, lo), u, lin);
    const __m512 res = _mm512_scalef_ps(j, n);
    if (!out_of_range) return res;
    const __m512 zero = _mm512_setzero_ps();
    const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, zero, _CMP_LE_OQ), _mm512_set1_ps(INFINITY), zero);
    return _mm512_mask_blend_ps(out_of_range, res, alt);
}

// silu(x) = x / (1 + exp(-x)) with that exp, as ggml_v_silu.
__attribute__((target("avx512f,avx512dq"))) inline __m512 silu_ggml16(__m512 x) {
    const __m512 e = expf_ggml16(_mm512_sub_ps(_mm512_setzero_ps(), x));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

// Whether this CPU runs the AVX-512 paths of expf_ggml16 / silu_ggml16 (ggml's AVX-512 build needs F and DQ).
inline bool cpu_has_expf_ggml16() {
    static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    return yes;
}

} // namespace sq::cpu
#endif
