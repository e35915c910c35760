// The K-quant dots (Q4_K, Q5_K, Q6_K against Q8_K) in ggml-cpu's x86 lane order, compiled into
// both the AVX2 and the AVX-512 translation units: with AVX-512VL the compiler has 32 vector
// registers instead of 16 and spills less (Q6_K 27 -> 32 GB/s on Zen 4), with the same results.
//
// Include only from a *-avx2.cpp / *-avx512.cpp file; internal linkage on purpose (see
// quants-x86.h).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "quants-blocks.h"
#include "quants-x86.h"

namespace sq::cpu {
namespace {

// The 8 scales (u16 lanes 0-7) and 8 mins (lanes 8-15) of a Q4_K/Q5_K block, unpacked with
// 32-bit masks (the same bits as unpack_scales_k4, four at a time).
inline __m256i scales_and_mins_k4(const uint8_t* packed) {
    constexpr uint32_t low6 = 0x3f3f3f3f, low4 = 0x0f0f0f0f, low2 = 0x03030303;
    uint32_t u[3];
    std::memcpy(u, packed, 12);
    const uint32_t sc_lo = u[0] & low6;
    const uint32_t sc_hi = (u[2] & low4) | (((u[0] >> 6) & low2) << 4);
    const uint32_t mn_lo = u[1] & low6;
    const uint32_t mn_hi = ((u[2] >> 4) & low4) | (((u[1] >> 6) & low2) << 4);
    return _mm256_cvtepu8_epi16(_mm_set_epi32(static_cast<int>(mn_hi), static_cast<int>(mn_lo),
                                              static_cast<int>(sc_hi), static_cast<int>(sc_lo)));
}

// sum over 16-element groups g of bsums[g] * mins[g / 2], as 4 int32 lanes.
inline __m128i mins_dot_bsums(__m256i scales_mins, const int16_t* bsums) {
    const __m256i q8sums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums));
    const __m128i q8s = _mm_hadd_epi16(_mm256_extracti128_si256(q8sums, 0), _mm256_extracti128_si256(q8sums, 1));
    return _mm_madd_epi16(_mm256_extracti128_si256(scales_mins, 1), q8s);
}

// Broadcast u16 lane k of `scales` (both 128-bit halves hold the 8 scales) to all 16 lanes.
inline __m256i scale_at(__m256i scales, int k) {
    return _mm256_shuffle_epi8(scales, _mm256_set1_epi16(static_cast<short>(((2 * k + 1) << 8) | (2 * k))));
}

void vec_dot_q4_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_K* w = static_cast<const BlockQ4_K*>(vw);
    const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps();
    __m128 acc_m = _mm_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = a[i].d * h2f(w[i].d);
        const float dmin = -a[i].d * h2f(w[i].dmin);
        const __m256i sm = scales_and_mins_k4(w[i].scales);
        acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(mins_dot_bsums(sm, a[i].bsums)), acc_m);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        const uint8_t* q4 = w[i].qs;
        const int8_t* q8 = a[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < QK_K / 64; ++c, q4 += 32, q8 += 64) {
            const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q4));
            const __m256i lo = _mm256_and_si256(bits, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8));
            const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32));
            const __m256i p_lo = _mm256_madd_epi16(scale_at(sc, 2 * c), _mm256_maddubs_epi16(lo, a_lo));
            const __m256i p_hi = _mm256_madd_epi16(scale_at(sc, 2 * c + 1), _mm256_maddubs_epi16(hi, a_hi));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p_lo, p_hi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    acc_m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
    acc_m = _mm_add_ss(acc_m, _mm_movehdup_ps(acc_m));
    *s = hsum_float_8(acc) + _mm_cvtss_f32(acc_m);
}

void vec_dot_q5_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ5_K* w = static_cast<const BlockQ5_K*>(vw);
    const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i bit16 = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    float sum_m = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = a[i].d * h2f(w[i].d);
        const float dmin = -a[i].d * h2f(w[i].dmin);
        const __m256i sm = scales_and_mins_k4(w[i].scales);
        const __m128i prod = mins_dot_bsums(sm, a[i].bsums);
        const __m128i hsum = _mm_hadd_epi32(_mm_hadd_epi32(prod, _mm_setzero_si128()), _mm_setzero_si128());
        sum_m += dmin * static_cast<float>(_mm_extract_epi32(hsum, 0));
        const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        // qh bit 2c of byte l is the fifth bit of element 64c + l, bit 2c + 1 of element 64c + 32 + l:
        // shifting the whole qh vector right by one each time puts the next bit at position 0.
        __m256i hbits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qh));
        const uint8_t* q5 = w[i].qs;
        const int8_t* q8 = a[i].qs;
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < QK_K / 64; ++c, q5 += 32, q8 += 64) {
            const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q5));
            const __m256i h_lo = _mm256_and_si256(_mm256_slli_epi16(hbits, 4), bit16);
            const __m256i h_hi = _mm256_and_si256(_mm256_slli_epi16(hbits, 3), bit16);
            hbits = _mm256_srli_epi16(hbits, 2);
            const __m256i lo = _mm256_or_si256(_mm256_and_si256(bits, m4), h_lo);
            const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits, 4), m4), h_hi);
            const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8));
            const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q8 + 32));
            const __m256i p_lo = _mm256_madd_epi16(scale_at(sc, 2 * c), _mm256_maddubs_epi16(lo, a_lo));
            const __m256i p_hi = _mm256_madd_epi16(scale_at(sc, 2 * c + 1), _mm256_maddubs_epi16(hi, a_hi));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p_lo, p_hi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_float_8(acc) + sum_m;
}

// Q6_K: quants are stored as q + 32 in [0, 63]. The products use the stored values and the offset
// is removed once per block as 32 * sum(bsums * scales), lane for lane as ggml does, so the
// 8 int32 lanes (and hence the f32 sums) are the same as llama.cpp's.
// vpshufb masks for Q6_K: mask s picks byte 2s eight times, then byte 2s + 1 eight times, so
// that after sign extension 16-bit lanes 0-7 carry scale 2s and lanes 8-15 scale 2s + 1.
alignas(16) constexpr uint8_t kQ6ScalePick[8][16] = {
    {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1},         {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3},
    {4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5},         {6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7},
    {8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9},         {10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11},
    {12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13}, {14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15},
};

inline __m256i q6_scale(__m128i scales, int s) {
    const __m128i pick = _mm_load_si128(reinterpret_cast<const __m128i*>(kQ6ScalePick[s]));
    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales, pick));
}

void vec_dot_q6_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ6_K* w = static_cast<const BlockQ6_K*>(vw);
    const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i m2 = _mm256_set1_epi8(3);
    const __m256i m12 = _mm256_set1_epi8(12);
    const __m256i m48 = _mm256_set1_epi8(48);
    const __m256i m192 = _mm256_set1_epi8(static_cast<char>(0xC0));
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = a[i].d * h2f(w[i].d);
        const uint8_t* ql = w[i].ql;
        const uint8_t* qh = w[i].qh;
        const int8_t* q8 = a[i].qs;
        const __m128i scales = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i].scales));
        const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].bsums));
        const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(bsums, _mm256_cvtepi8_epi16(scales)), 5);
        __m256i sumi = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, q8 += 128) {
            const __m256i bits1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql));
            const __m256i bits2 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(ql + 32));
            const __m256i bits_h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh));
            // runs 0..3 of 32 take the top two bits from qh bits 0-1, 2-3, 4-5, 6-7: moved to 4-5
            const __m256i q0 = _mm256_or_si256(_mm256_and_si256(bits1, m4), _mm256_slli_epi16(_mm256_and_si256(bits_h, m2), 4));
            const __m256i q1 = _mm256_or_si256(_mm256_and_si256(bits2, m4), _mm256_slli_epi16(_mm256_and_si256(bits_h, m12), 2));
            const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits1, 4), m4), _mm256_and_si256(bits_h, m48));
            const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(bits2, 4), m4),
                                               _mm256_srli_epi16(_mm256_and_si256(bits_h, m192), 2));
            const __m256i* qa = reinterpret_cast<const __m256i*>(q8);
            const __m256i p0 = _mm256_madd_epi16(q6_scale(scales, 4 * half + 0), _mm256_maddubs_epi16(q0, _mm256_loadu_si256(qa + 0)));
            const __m256i p1 = _mm256_madd_epi16(q6_scale(scales, 4 * half + 1), _mm256_maddubs_epi16(q1, _mm256_loadu_si256(qa + 1)));
            const __m256i p2 = _mm256_madd_epi16(q6_scale(scales, 4 * half + 2), _mm256_maddubs_epi16(q2, _mm256_loadu_si256(qa + 2)));
            const __m256i p3 = _mm256_madd_epi16(q6_scale(scales, 4 * half + 3), _mm256_maddubs_epi16(q3, _mm256_loadu_si256(qa + 3)));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p2, p3));
        }
        sumi = _mm256_sub_epi32(sumi, offset);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    *s = hsum_float_8(acc);
}

} // namespace
} // namespace sq::cpu
