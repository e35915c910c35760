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
#include "quants-x86-kquants.h"
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

inline int hsum_i32_4(__m128i a) {
    const __m128i hi64 = _mm_unpackhi_epi64(a, a);
    const __m128i sum64 = _mm_add_epi32(hi64, a);
    return _mm_cvtsi128_si32(_mm_add_epi32(sum64, _mm_shuffle_epi32(sum64, _MM_SHUFFLE(2, 3, 0, 1))));
}

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

// The 4 int32 lane sums of a, b, c, d as lanes 0-3 (integer, so exact in any order).
inline __m128i hsum_i32_8x4(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i abcd = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

// The exact integer dot of one Q4_0 block with one Q8_0 block, as 8 int32 partial sums.
inline __m256i q4_0_block_dot(const BlockQ4_0& w, const BlockQ8_0& a) {
    const __m256i x = _mm256_sub_epi8(bytes_from_nibbles_32(w.qs), _mm256_set1_epi8(8)); // [-8, 7]
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
    // |x| * (y with x's sign): pairs stay within int16 (2 * 8 * 127)
    const __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

// Q4_0 . Q8_0 in the order of llama.cpp's repacked Q4_0 kernels (ggml_gemm/gemv_q4_0_8x8_q8_0):
// each block's integer dot is exact, and one f32 accumulator per output takes, block after
// block, fma(isum, d_w * d_a, acc), with no lane split or horizontal sum. The integer dots of 4
// blocks are reduced together; only the fma chain is sequential.
void repacked_dot_q4_0(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_0* w = static_cast<const BlockQ4_0*>(vw);
    const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
    const int64_t nb = n / QK;
    float acc = 0.0f;
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        // |isum| <= 32 * 8 * 127, so the conversion to f32 is exact
        alignas(16) float isum[4];
        _mm_store_ps(isum, _mm_cvtepi32_ps(hsum_i32_8x4(q4_0_block_dot(w[b], a[b]), q4_0_block_dot(w[b + 1], a[b + 1]),
                                                        q4_0_block_dot(w[b + 2], a[b + 2]), q4_0_block_dot(w[b + 3], a[b + 3]))));
        for (int k = 0; k < 4; ++k) acc = std::fma(isum[k], h2f(w[b + k].d) * h2f(a[b + k].d), acc);
    }
    for (; b < nb; ++b) {
        const float isum = static_cast<float>(hsum_i32_8(q4_0_block_dot(w[b], a[b])));
        acc = std::fma(isum, h2f(w[b].d) * h2f(a[b].d), acc);
    }
    *s = acc;
}

// Q4_K . Q8_K in the order of llama.cpp's repacked Q4_K kernels: exact integer sums of scale *
// isum (and of min * bsum), turned into f32 by fma(isum, d_w * d_a, acc) and fma(imin, dmin_w * d_a,
// acc_min), the result acc - acc_min. Its GEMM (4 activation rows at a time, AVX-512) does one fma
// per 64 elements; its GEMV (the n % 4 remaining rows) one per 256-element super-block. The
// integer sums of the 4 chunks of a super-block come out of SIMD together (exact); only the fmas
// run in order.
template <int kFmaElems>
void repacked_dot_q4_k(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_K* w = static_cast<const BlockQ4_K*>(vw);
    const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    float acc = 0.0f, acc_min = 0.0f;
    for (int64_t b = 0; b < n / QK_K; ++b) {
        const __m256i sm = scales_and_mins_k4(w[b].scales);
        const __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        __m256i chunk[QK_K / 64]; // [chunk c] int32 partial sums of sc * (q4 . q8) over its 64 elements
        for (int c = 0; c < QK_K / 64; ++c) { // 64 elements: low nibbles are sub-block 2c, high 2c + 1
            const __m256i bits = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[b].qs + 32 * c));
            const __m256i lo = _mm256_and_si256(bits, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
            const __m256i a_lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 64 * c));
            const __m256i a_hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[b].qs + 64 * c + 32));
            // nibble * q8 pairs stay within int16 (2 * 15 * 128)
            const __m256i p_lo = _mm256_madd_epi16(scale_at(sc, 2 * c), _mm256_maddubs_epi16(lo, a_lo));
            const __m256i p_hi = _mm256_madd_epi16(scale_at(sc, 2 * c + 1), _mm256_maddubs_epi16(hi, a_hi));
            chunk[c] = _mm256_add_epi32(p_lo, p_hi);
        }
        const __m128i isum = hsum_i32_8x4(chunk[0], chunk[1], chunk[2], chunk[3]); // [chunk c]
        const __m128i imin = mins_dot_bsums(sm, a[b].bsums);                       // [chunk c]
        const float d = h2f(w[b].d) * a[b].d, dmin = h2f(w[b].dmin) * a[b].d;
        if (kFmaElems == 64) {
            // |isum| < 2^24 per chunk (2 * 63 * 32 * 15 * 128), so the conversions are exact
            alignas(16) float fi[4], fm[4];
            _mm_store_ps(fi, _mm_cvtepi32_ps(isum));
            _mm_store_ps(fm, _mm_cvtepi32_ps(imin));
            for (int c = 0; c < QK_K / 64; ++c) {
                acc = std::fma(fi[c], d, acc);
                acc_min = std::fma(fm[c], dmin, acc_min);
            }
        } else {
            acc = std::fma(static_cast<float>(hsum_i32_4(isum)), d, acc);
            acc_min = std::fma(static_cast<float>(hsum_i32_4(imin)), dmin, acc_min);
        }
    }
    *s = acc - acc_min;
}

} // namespace

VecDotFn quants_avx2_repacked_dot(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return repacked_dot_q4_0;
        case TensorType::Q4_K: return repacked_dot_q4_k<64>;
        default: return nullptr;
    }
}

VecDotFn quants_avx2_repacked_dot_1row(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return repacked_dot_q4_0;
        case TensorType::Q4_K: return repacked_dot_q4_k<QK_K>;
        default: return nullptr;
    }
}

VecDotFn quants_avx2_batched_dot(TensorType type) {
    switch (type) {
        case TensorType::F32: return batched_dot_f32;
        case TensorType::F16: return batched_dot_16bit<load_f16x8>;
        case TensorType::BF16: return batched_dot_16bit<load_bf16x8>;
        default: return nullptr;
    }
}

VecDot4Fn quants_avx2_vec_dot_4(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return vec_dot_4<DotQ4_0<false>>;
        case TensorType::Q4_1: return vec_dot_4<DotQ4_1<false>>;
        case TensorType::Q5_0: return vec_dot_4<DotQ5_0<false>>;
        case TensorType::Q5_1: return vec_dot_4<DotQ5_1<false>>;
        case TensorType::Q8_0: return vec_dot_4<DotQ8_0<false>>;
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
        case T::Q4_0: k->vec_dot = vec_dot<DotQ4_0<false>>; break;
        case T::Q4_1: k->vec_dot = vec_dot<DotQ4_1<false>>; break;
        case T::Q5_0: k->vec_dot = vec_dot<DotQ5_0<false>>; break;
        case T::Q5_1: k->vec_dot = vec_dot<DotQ5_1<false>>; break;
        case T::Q8_0: k->vec_dot = vec_dot<DotQ8_0<false>>; k->from_float = quantize_row_q8_0; break;
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
VecDotFn quants_avx2_repacked_dot(TensorType) { return nullptr; }
VecDotFn quants_avx2_repacked_dot_1row(TensorType) { return nullptr; }
VecDot4Fn quants_avx2_vec_dot_4(TensorType) { return nullptr; }
} // namespace sq::cpu

#endif
