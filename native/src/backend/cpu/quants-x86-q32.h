// x86 pieces shared by the AVX2 and AVX-512 translation units: ggml's reduction and unpacking
// helpers and the dots of the 32-element block types, templated on whether the integer dot uses
// AVX512-VNNI (one vpdpbusd) or AVX2 (maddubs + madd). Both give the same integers, so both levels
// produce the same bits as llama.cpp's haswell and icelake builds.
//
// Include only from a *-avx2.cpp / *-avx512.cpp file after <immintrin.h>. Everything here has
// internal linkage on purpose: each translation unit compiles its own copy with its own
// instruction set, and a shared (inline, external) copy could let the linker hand AVX-512 code
// to the AVX2 path.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "quants-blocks.h"

namespace sq::cpu {

// f16 -> f32 of block scales by table lookup, as ggml-cpu does on x86: two loads per block beat a
// vcvtph2ps round trip through a vector register (about 10% on Q4_0). Filled by
// quants_f16_table_init() (quants_avx2_kernels() calls it) before any kernel is handed out.
extern float quants_f16_table[1 << 16]; // [f16 bits] -> f32
void quants_f16_table_init();

namespace {

inline float h2f(uint16_t h) { return quants_f16_table[h]; }

// Sum of 8 floats in ggml's order: high half + low half, then pairs, then the last two.
inline float hsum_float_8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// 16 bytes of packed nibbles -> 32 bytes in element order: low nibbles (0..15), then high (16..31).
inline __m256i bytes_from_nibbles_32(const uint8_t* p) {
    const __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i bytes = _mm256_insertf128_si256(_mm256_castsi128_si256(tmp), _mm_srli_epi16(tmp, 4), 1);
    return _mm256_and_si256(bytes, _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes: 0xFF where the bit is set, 0 elsewhere.
inline __m256i bytes_from_bits_32(const uint8_t* p) {
    const uint32_t x32 = load_u32(p);
    const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                            0x0202020202020202, 0x0303030303030303);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x32)), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

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

// ---- 32-element block dots --------------------------------------------------------------------

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
