// The dots of the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 against Q8_0/Q8_1) in
// ggml-cpu's x86 order, templated on whether the integer dot uses AVX512-VNNI (one vpdpbusd) or
// AVX2 (maddubs + madd). Both give the same integers, so both produce the same bits as
// llama.cpp's haswell and icelake builds.
//
// Include only from a *-avx2.cpp / *-avx512.cpp file (internal linkage: see quants-x86.h). The
// AVX-512 file includes it inside a VNNI target region.
#pragma once

#include "quants-x86.h"

namespace sq::cpu {
namespace {

// dot of unsigned bytes ax with signed bytes sy, as 8 f32 lanes of 4-product sums. VNNI does it
// in one instruction; maddubs + madd give the same integers (no pair sum here can saturate).
template <bool kVnni>
inline __m256 mul_sum_us8_pairs_float(__m256i ax, __m256i sy) {
    if constexpr (kVnni) {
        return _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), ax, sy));
    } else {
        const __m256i dot = _mm256_maddubs_epi16(ax, sy);
        return _mm256_cvtepi32_ps(_mm256_madd_epi16(dot, _mm256_set1_epi16(1)));
    }
}

// dot of signed bytes x and y. Exact while y has no -128 (activations are in [-127, 127]).
template <bool kVnni>
inline __m256 mul_sum_i8_pairs_float(__m256i x, __m256i y) {
    return mul_sum_us8_pairs_float<kVnni>(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

template <bool kVnni>
void vec_dot_q4_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_0* w = static_cast<const BlockQ4_0*>(vw);
    const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; ++i) {
        const __m256 d = _mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d));
        const __m256i qw = _mm256_sub_epi8(bytes_from_nibbles_32(w[i].qs), _mm256_set1_epi8(8));
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float<kVnni>(qw, qa), acc);
    }
    *s = hsum_float_8(acc);
}

template <bool kVnni>
void vec_dot_q4_1_q8_1(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_1* w = static_cast<const BlockQ4_1*>(vw);
    const BlockQ8_1* a = static_cast<const BlockQ8_1*>(va);
    __m256 acc = _mm256_setzero_ps();
    float sum_m = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        sum_m += h2f(w[i].m) * h2f(a[i].s);
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(h2f(w[i].d)), _mm256_set1_ps(h2f(a[i].d)));
        const __m256i qw = bytes_from_nibbles_32(w[i].qs);
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
        acc = _mm256_fmadd_ps(d, mul_sum_us8_pairs_float<kVnni>(qw, qa), acc);
    }
    *s = hsum_float_8(acc) + sum_m;
}

// Q5_0: a clear fifth bit turns the nibble n into n | 0xF0 = n - 16 as int8; a set one leaves n.
template <bool kVnni>
void vec_dot_q5_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ5_0* w = static_cast<const BlockQ5_0*>(vw);
    const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; ++i) {
        const __m256 d = _mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d));
        const __m256i hi = _mm256_andnot_si256(bytes_from_bits_32(w[i].qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
        const __m256i qw = _mm256_or_si256(bytes_from_nibbles_32(w[i].qs), hi);
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float<kVnni>(qw, qa), acc);
    }
    *s = hsum_float_8(acc);
}

template <bool kVnni>
void vec_dot_q5_1_q8_1(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ5_1* w = static_cast<const BlockQ5_1*>(vw);
    const BlockQ8_1* a = static_cast<const BlockQ8_1*>(va);
    __m256 acc = _mm256_setzero_ps();
    float sum_m = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        sum_m += h2f(w[i].m) * h2f(a[i].s);
        const __m256i hi = _mm256_and_si256(bytes_from_bits_32(w[i].qh), _mm256_set1_epi8(0x10));
        const __m256i qw = _mm256_or_si256(bytes_from_nibbles_32(w[i].qs), hi);
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(h2f(w[i].d)), _mm256_set1_ps(h2f(a[i].d)));
        acc = _mm256_fmadd_ps(mul_sum_us8_pairs_float<kVnni>(qw, qa), d, acc);
    }
    *s = hsum_float_8(acc) + sum_m;
}

template <bool kVnni>
void vec_dot_q8_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ8_0* w = static_cast<const BlockQ8_0*>(vw);
    const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK; ++i) {
        const __m256 d = _mm256_set1_ps(h2f(w[i].d) * h2f(a[i].d));
        const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs));
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float<kVnni>(qw, qa), acc);
    }
    *s = hsum_float_8(acc);
}

} // namespace
} // namespace sq::cpu
