// AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c; called only after CPUID says so).
//
// Each dot product keeps ggml-cpu's x86 structure: the integer products of a block are formed with
// maddubs/madd (exact), converted to 8 f32 lanes and accumulated with one FMA per block, then the
// lanes are reduced in ggml's order (hsum_float_8). The activation quantizers reproduce ggml's
// AVX quantize_row_q8_0/q8_1 byte for byte (id = 127 / amax, _mm256_round_ps to nearest even).
#include "quants-levels.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <mutex>

#include "../../common/half.h"
#include "quants-blocks.h"
#include "quants-x86-q32.h"

namespace sq::cpu {

float quants_f16_table[1 << 16];

void quants_f16_table_init() {
    static std::once_flag once;
    std::call_once(once, [] {
        for (uint32_t i = 0; i < (1u << 16); ++i) quants_f16_table[i] = f16_to_f32(static_cast<uint16_t>(i));
    });
}

namespace {

inline int hsum_i32_8(__m256i a) {
    const __m128i sum128 = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    const __m128i hi64 = _mm_unpackhi_epi64(sum128, sum128);
    const __m128i sum64 = _mm_add_epi32(hi64, sum128);
    const __m128i hi32 = _mm_shuffle_epi32(sum64, _MM_SHUFFLE(2, 3, 0, 1));
    return _mm_cvtsi128_si32(_mm_add_epi32(sum64, hi32));
}

// ---- F32 / F16 / BF16 -------------------------------------------------------------------------

void to_f16_row(const float* x, void* vy, int64_t n) {
    uint16_t* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
    }
    for (; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

void from_f16_row(const void* vx, float* y, int64_t n) {
    const uint16_t* x = static_cast<const uint16_t*>(vx);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    }
    for (; i < n; ++i) y[i] = f16_to_f32(x[i]);
}

// Reduction of ggml's 4 accumulators (GGML_F32x8_REDUCE): (0+2) + (1+3), then the 8 lanes.
inline float reduce_4x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    a0 = _mm256_add_ps(a0, a2);
    a1 = _mm256_add_ps(a1, a3);
    a0 = _mm256_add_ps(a0, a1);
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// ggml keeps this sum in f32 and adds the leftovers (n % 32) with one FMA each.
void vec_dot_f32(int64_t n, float* s, const void* vw, const void* va) {
    const float* w = static_cast<const float*>(vw);
    const float* a = static_cast<const float*>(va);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; ++j) {
            acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8 * j), _mm256_loadu_ps(a + i + 8 * j), acc[j]);
        }
    }
    float sum = reduce_4x8(acc[0], acc[1], acc[2], acc[3]);
    for (; i < n; ++i) sum = std::fma(w[i], a[i], sum);
    *s = sum;
}

inline __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

void vec_dot_f16(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; ++j) {
            acc[j] = _mm256_fmadd_ps(load_f16x8(w + i + 8 * j), load_f16x8(a + i + 8 * j), acc[j]);
        }
    }
    double sum = reduce_4x8(acc[0], acc[1], acc[2], acc[3]);
    for (; i < n; ++i) sum += static_cast<double>(f16_to_f32(w[i]) * f16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

inline __m256 load_bf16x8(const uint16_t* p) {
    const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

// ggml's AVX2 bf16 dot multiplies and adds separately (no FMA) and reduces like hsum_float_8.
void vec_dot_bf16(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int j = 0; j < 4; ++j) {
            acc[j] = _mm256_add_ps(_mm256_mul_ps(load_bf16x8(w + i + 8 * j), load_bf16x8(a + i + 8 * j)), acc[j]);
        }
    }
    const __m256 total = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    double sum = hsum_float_8(total);
    for (; i < n; ++i) sum += static_cast<double>(bf16_to_f32(w[i]) * bf16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

// ---- activation quantizers --------------------------------------------------------------------

// Quantizes 32 floats: stores the int8 quants, returns d = amax / 127 and the 8-lane int32 quants.
inline float quantize_block_q8(const float* x, int8_t* qs, __m256i* lanes) {
    __m256 v[4];
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 max_abs = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
        v[j] = _mm256_loadu_ps(x + 8 * j);
        max_abs = _mm256_max_ps(max_abs, _mm256_andnot_ps(sign_bit, v[j]));
    }
    __m128 max4 = _mm_max_ps(_mm256_extractf128_ps(max_abs, 1), _mm256_castps256_ps128(max_abs));
    max4 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
    max4 = _mm_max_ss(max4, _mm_movehdup_ps(max4));
    const float amax = _mm_cvtss_f32(max4);
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    const __m256 mul = _mm256_set1_ps(id);
    __m256i q[4];
    for (int j = 0; j < 4; ++j) {
        const __m256 r = _mm256_round_ps(_mm256_mul_ps(v[j], mul), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        q[j] = _mm256_cvtps_epi32(r);
    }
    *lanes = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
    // packs work per 128-bit lane; the permute restores element order
    const __m256i p01 = _mm256_packs_epi32(q[0], q[1]);
    const __m256i p23 = _mm256_packs_epi32(q[2], q[3]);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23),
                                                      _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), bytes);
    return amax / 127.f;
}

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
    BlockQ8_0* y = static_cast<BlockQ8_0*>(vy);
    for (int64_t i = 0; i < n / QK; ++i) {
        __m256i lanes;
        y[i].d = f32_to_f16(quantize_block_q8(x + i * QK, y[i].qs, &lanes));
    }
}

void quantize_row_q8_1(const float* x, void* vy, int64_t n) {
    BlockQ8_1* y = static_cast<BlockQ8_1*>(vy);
    for (int64_t i = 0; i < n / QK; ++i) {
        __m256i lanes;
        const float d = quantize_block_q8(x + i * QK, y[i].qs, &lanes);
        y[i].d = f32_to_f16(d);
        y[i].s = f32_to_f16(d * static_cast<float>(hsum_i32_8(lanes)));
    }
}

// ---- K-quant dots -----------------------------------------------------------------------------

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

// llamafile tinyBLAS order (quants-levels.h): one 8-lane FMA accumulator, hsum_float_8 at the end.
template <__m256 (*Load)(const uint16_t*)>
void batched_dot_16bit(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(Load(w + i), Load(a + i), acc);
    *s = hsum_float_8(acc);
}

void batched_dot_f32(int64_t n, float* s, const void* vw, const void* va) {
    const float* w = static_cast<const float*>(vw);
    const float* a = static_cast<const float*>(va);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(a + i), acc);
    *s = hsum_float_8(acc);
}

} // namespace

VecDotFn quants_avx2_batched_dot(TensorType type) {
    switch (type) {
        case TensorType::F32: return batched_dot_f32;
        case TensorType::F16: return batched_dot_16bit<load_f16x8>;
        case TensorType::BF16: return batched_dot_16bit<load_bf16x8>;
        default: return nullptr;
    }
}

void quants_avx2_kernels(TensorType type, TypeKernels* k) {
    quants_f16_table_init();
    using T = TensorType;
    switch (type) {
        case T::F32:  k->vec_dot = vec_dot_f32; break;
        case T::F16:  k->vec_dot = vec_dot_f16; k->from_float = to_f16_row; k->to_float = from_f16_row; break;
        case T::BF16: k->vec_dot = vec_dot_bf16; break;
        case T::Q4_0: k->vec_dot = vec_dot_q4_0_q8_0<false>; break;
        case T::Q4_1: k->vec_dot = vec_dot_q4_1_q8_1<false>; break;
        case T::Q5_0: k->vec_dot = vec_dot_q5_0_q8_0<false>; break;
        case T::Q5_1: k->vec_dot = vec_dot_q5_1_q8_1<false>; break;
        case T::Q8_0: k->vec_dot = vec_dot_q8_0_q8_0<false>; k->from_float = quantize_row_q8_0; break;
        case T::Q8_1: k->from_float = quantize_row_q8_1; break;
        case T::Q4_K: k->vec_dot = vec_dot_q4_k_q8_k; break;
        case T::Q5_K: k->vec_dot = vec_dot_q5_k_q8_k; break;
        case T::Q6_K: k->vec_dot = vec_dot_q6_k_q8_k; break;
        default: break;
    }
}

} // namespace sq::cpu

#else

namespace sq::cpu {
void quants_avx2_kernels(TensorType, TypeKernels*) {}
VecDotFn quants_avx2_batched_dot(TensorType) { return nullptr; }
} // namespace sq::cpu

#endif
