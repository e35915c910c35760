// Attention of one query head over a KV cache (ops.h), in two numeric flavours picked at run time.
//
// AVX-512 CPUs follow the kernels llama.cpp's CPU backend (x86 AVX-512 build) runs for its
// non-flash attention graph, so that rounding differences, which models amplify, stay minimal.
// llamafile's tinyBLAS takes a product only when it has 2 or more columns (tokens), so a batch of
// one token (decode) runs ggml's vec_dot kernels where a longer batch runs tinyBLAS:
//   KQ   F32 cache: ggml_vec_dot_f32 (4 FMA chains of 16 lanes over 64-element steps, tree-added,
//        horizontal sum, scalar tail in float); the query is not contiguous for several tokens, so
//        tinyBLAS never takes it.
//        F16 cache (query rounded to F16): several tokens, llamafile's tinyBLAS (one 16-lane FMA
//        chain over head_dim, horizontal sum; ggml_vec_dot_f16 when head_dim is not a multiple
//        of 16); one token, ggml_vec_dot_f16 (the chains of vec_dot_f32, tail summed in double).
//   softmax: x*scale, max, exp(x - max), sum of 16-key chunks (horizontal sums added in double),
//        then one float multiply by 1/sum, with ggml's own vector exp (ops-expf.h).
//   KQV  several tokens: tinyBLAS over keys: output dim d accumulates key j in FMA lane j % 16
//        (keys past n_kv are masked to probability 0 in llama.cpp and add nothing), then a
//        horizontal sum.
//        one token: ggml_vec_dot_f32/f16 over keys (n_kv padded to a multiple of 256 there).
// Other CPUs use a plain SIMD order (sequential FMA over keys).
#include <cmath>
#include <cstring>

#include "../../common/half.h"
#include "ops.h"
#include "ops-expf.h"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SQ_ATTN_X86 1
// GCC 12's AVX-512 headers trip its own uninitialised-value warning (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#define SQ_AVX2 __attribute__((target("avx2,fma,f16c")))
#define SQ_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma,f16c")))
#endif

namespace sq::cpu {

namespace {

uint32_t round_up16(uint32_t n) { return (n + 15) & ~15u; }

// ---- plain path: portable loops and their AVX2 versions --------------------------------------

struct PlainKernels {
    float (*dot_f32)(const float*, const float*, uint32_t);
    float (*dot_f16)(const uint16_t*, const uint16_t*, uint32_t);
    void (*axpy_f32)(float*, float, const float*, uint32_t);
    void (*axpy_f16)(float*, float, const uint16_t*, uint32_t);
};

float dot_f32_scalar(const float* a, const float* b, uint32_t n) {
    float s = 0.0f;
    for (uint32_t i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}

float dot_f16_scalar(const uint16_t* a, const uint16_t* b, uint32_t n) {
    float s = 0.0f;
    for (uint32_t i = 0; i < n; ++i) s += f16_to_f32(a[i]) * f16_to_f32(b[i]);
    return s;
}

void axpy_f32_scalar(float* y, float a, const float* x, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_scalar(float* y, float a, const uint16_t* x, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) y[i] += a * f16_to_f32(x[i]);
}

#ifdef SQ_ATTN_X86
SQ_AVX2 float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SQ_AVX2 __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

SQ_AVX2 float dot_f32_avx2(const float* a, const float* b, uint32_t n) {
    __m256 acc = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum256(acc);
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

SQ_AVX2 float dot_f16_avx2(const uint16_t* a, const uint16_t* b, uint32_t n) {
    __m256 acc = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(load_f16x8(a + i), load_f16x8(b + i), acc);
    float s = hsum256(acc);
    for (; i < n; ++i) s += f16_to_f32(a[i]) * f16_to_f32(b[i]);
    return s;
}

SQ_AVX2 void axpy_f32_avx2(float* y, float a, const float* x, uint32_t n) {
    const __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * x[i];
}

SQ_AVX2 void axpy_f16_avx2(float* y, float a, const uint16_t* x, uint32_t n) {
    const __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * f16_to_f32(x[i]);
}
#endif

const PlainKernels& plain_kernels() {
    static const PlainKernels k = [] {
#ifdef SQ_ATTN_X86
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
            return PlainKernels{dot_f32_avx2, dot_f16_avx2, axpy_f32_avx2, axpy_f16_avx2};
        }
#endif
        return PlainKernels{dot_f32_scalar, dot_f16_scalar, axpy_f32_scalar, axpy_f16_scalar};
    }();
    return k;
}

void attention_plain_f32(const float* q, const float* k, const float* v, uint32_t n_kv, uint32_t head_dim,
                         float scale, float* scores, float* out) {
    const PlainKernels& kern = plain_kernels();
    for (uint32_t j = 0; j < n_kv; ++j) scores[j] = kern.dot_f32(q, k + size_t{j} * head_dim, head_dim);
    soft_max_scaled(scores, n_kv, scale);
    std::memset(out, 0, sizeof(float) * head_dim);
    for (uint32_t j = 0; j < n_kv; ++j) kern.axpy_f32(out, scores[j], v + size_t{j} * head_dim, head_dim);
}

void attention_plain_f16(const uint16_t* q16, const uint16_t* k, const uint16_t* v, uint32_t n_kv, uint32_t head_dim,
                         float scale, float* scores, float* out) {
    const PlainKernels& kern = plain_kernels();
    for (uint32_t j = 0; j < n_kv; ++j) scores[j] = kern.dot_f16(q16, k + size_t{j} * head_dim, head_dim);
    soft_max_scaled(scores, n_kv, scale);
    std::memset(out, 0, sizeof(float) * head_dim);
    for (uint32_t j = 0; j < n_kv; ++j) {
        kern.axpy_f16(out, f16_to_f32(f32_to_f16(scores[j])), v + size_t{j} * head_dim, head_dim);
    }
}

// ---- AVX-512 path in llama.cpp's order ---------------------------------------------------------

#ifdef SQ_ATTN_X86
SQ_AVX512 __m512 load_f16x16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// tinyBLAS: one 16-lane FMA chain, then a horizontal sum. n % 16 == 0.
SQ_AVX512 float chain16_f16(const uint16_t* a, const uint16_t* b, uint32_t n) {
    __m512 acc = _mm512_setzero_ps();
    for (uint32_t l = 0; l < n; l += 16) acc = _mm512_fmadd_ps(load_f16x16(a + l), load_f16x16(b + l), acc);
    return _mm512_reduce_add_ps(acc);
}

// ggml_vec_dot_f32: 4 chains over 64-element steps, added (0+2, 1+3, then 0+1), horizontal sum in
// float, then the tail one product at a time.
SQ_AVX512 float vec_dot_f32(const float* x, const float* y, uint32_t n) {
    const uint32_t np = n & ~63u;
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (uint32_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 4; ++j) s[j] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16 * j), _mm512_loadu_ps(y + i + 16 * j), s[j]);
    }
    s[0] = _mm512_add_ps(s[0], s[2]);
    s[1] = _mm512_add_ps(s[1], s[3]);
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(s[0], s[1]));
    for (uint32_t i = np; i < n; ++i) sum += x[i] * y[i];
    return sum;
}

// ggml_vec_dot_f16: the same chains over converted halves, the sum carried in double.
SQ_AVX512 float vec_dot_f16(const uint16_t* x, const uint16_t* y, uint32_t n) {
    const uint32_t np = n & ~63u;
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (uint32_t i = 0; i < np; i += 64) {
        for (int j = 0; j < 4; ++j) s[j] = _mm512_fmadd_ps(load_f16x16(x + i + 16 * j), load_f16x16(y + i + 16 * j), s[j]);
    }
    s[0] = _mm512_add_ps(s[0], s[2]);
    s[1] = _mm512_add_ps(s[1], s[3]);
    double sum = _mm512_reduce_add_ps(_mm512_add_ps(s[0], s[1]));
    for (uint32_t i = np; i < n; ++i) sum += static_cast<double>(f16_to_f32(x[i]) * f16_to_f32(y[i]));
    return static_cast<float>(sum);
}

// ggml_soft_max_ext over one row: scores [round_up16(n)] in, probabilities out (zero past n).
SQ_AVX512 void soft_max_ggml(float* x, uint32_t n, float scale) {
    // max_ps returns its second operand for a NaN lane, so NaN scores are skipped as fmax does
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    uint32_t i0 = 0;
    for (; i0 + 16 <= n; i0 += 16) {
        const __m512 s = _mm512_mul_ps(_mm512_loadu_ps(x + i0), _mm512_set1_ps(scale));
        _mm512_storeu_ps(x + i0, s);
        vmax = _mm512_max_ps(s, vmax);
    }
    float max = _mm512_reduce_max_ps(vmax);
    for (uint32_t i = i0; i < n; ++i) {
        x[i] *= scale;
        max = std::fmax(max, x[i]);
    }
    const uint32_t n16 = round_up16(n);
    for (uint32_t i = n; i < n16; ++i) x[i] = -INFINITY; // masked keys: exp gives 0
    double sum = 0.0;
    for (uint32_t i = 0; i < n16; i += 16) {
        const __m512 e = expf_ggml16(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(max)));
        _mm512_storeu_ps(x + i, e);
        sum += static_cast<double>(_mm512_reduce_add_ps(e));
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (uint32_t i = 0; i < n; ++i) x[i] *= inv;
}

// out[d] = sum_j p[j] v[j][d] with key j in FMA lane j % 16, lanes then summed as a horizontal sum
// would (pairs 8 apart, then 4, 2, 1). Rows of v are loaded 16 dims at a time (masked at the end).
template <typename LoadRow, typename Prob>
SQ_AVX512 inline void weighted_sum16(LoadRow load_row, Prob prob, uint32_t n_kv, uint32_t head_dim, float* out) {
    for (uint32_t d0 = 0; d0 < head_dim; d0 += 16) {
        const __mmask16 mask = head_dim - d0 >= 16 ? __mmask16(0xffff) : __mmask16((1u << (head_dim - d0)) - 1);
        __m512 lane[16];
        for (auto& l : lane) l = _mm512_setzero_ps();
        for (uint32_t j = 0; j < n_kv; ++j) {
            lane[j & 15] = _mm512_fmadd_ps(load_row(j, d0, mask), _mm512_set1_ps(prob(j)), lane[j & 15]);
        }
        for (int w = 8; w >= 1; w /= 2) {
            for (int i = 0; i < w; ++i) lane[i] = _mm512_add_ps(lane[i], lane[i + w]);
        }
        _mm512_mask_storeu_ps(out + d0, mask, lane[0]);
    }
}

// out[d] = sum_j p[j] v[j][d] as ggml_vec_dot_f32/f16 over the keys (one token: llama.cpp's KQV has
// a single column, which tinyBLAS declines): key j in chain (j / 16) % 4, lane j % 16; chains added
// 0+2, 1+3, then together, then the lanes as a horizontal sum. llama.cpp pads n_kv to a multiple
// of 256 with masked keys (probability 0), so it has no scalar tail; those keys add nothing here.
template <typename LoadRow, typename Prob>
SQ_AVX512 inline void weighted_sum_vec_dot(LoadRow load_row, Prob prob, uint32_t n_kv, uint32_t head_dim, float* out) {
    for (uint32_t d0 = 0; d0 < head_dim; d0 += 16) {
        const __mmask16 mask = head_dim - d0 >= 16 ? __mmask16(0xffff) : __mmask16((1u << (head_dim - d0)) - 1);
        __m512 acc[64]; // [chain][lane]
        for (auto& a : acc) a = _mm512_setzero_ps();
        for (uint32_t j = 0; j < n_kv; ++j) {
            acc[j & 63] = _mm512_fmadd_ps(load_row(j, d0, mask), _mm512_set1_ps(prob(j)), acc[j & 63]);
        }
        __m512 lane[16];
        for (int l = 0; l < 16; ++l) {
            lane[l] = _mm512_add_ps(_mm512_add_ps(acc[l], acc[32 + l]), _mm512_add_ps(acc[16 + l], acc[48 + l]));
        }
        for (int w = 8; w >= 1; w /= 2) {
            for (int i = 0; i < w; ++i) lane[i] = _mm512_add_ps(lane[i], lane[i + w]);
        }
        _mm512_mask_storeu_ps(out + d0, mask, lane[0]);
    }
}

// ---- single-token F16 attention, many keys per step (same bits as the per-key kernels above) ----
//
// Decode at depth is bound by these loops, and the per-key kernels spend most of their time in
// horizontal sums and in 64 accumulators that do not fit the register file. The order of every
// float operation is kept; only independent work is regrouped, for head_dim 64, 128 and 256.

// Pairs lanes `Stride` apart within each key's group of 2 * Stride lanes, for two vectors a and b
// that each hold 16 / (2 * Stride) keys: one step of _mm512_reduce_add_ps's tree (8, 4, 2, 1) for
// many keys at once. Keys of a come first in the result.
template <int Stride>
SQ_AVX512 inline __m512 pair_step(__m512 a, __m512 b) {
    if constexpr (Stride == 8) {
        return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44), _mm512_shuffle_f32x4(a, b, 0xEE));
    } else if constexpr (Stride == 4) {
        return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x88), _mm512_shuffle_f32x4(a, b, 0xDD));
    } else if constexpr (Stride == 2) {
        return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
    } else {
        return _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    }
}

// The 16 horizontal sums of v[0..15] in one vector. The shuffles leave the sum of v[4r + c] in lane
// 4c + r, so callers put key 4c + r in v[4r + c] to get key L in lane L.
SQ_AVX512 inline __m512 reduce_16x16(const __m512 v[16]) {
    __m512 w[8], x[4], y[2];
    for (int i = 0; i < 8; ++i) w[i] = pair_step<8>(v[2 * i], v[2 * i + 1]);
    for (int i = 0; i < 4; ++i) x[i] = pair_step<4>(w[2 * i], w[2 * i + 1]);
    for (int i = 0; i < 2; ++i) y[i] = pair_step<2>(x[2 * i], x[2 * i + 1]);
    return pair_step<1>(y[0], y[1]);
}

// vec_dot_f16's 16 lanes for one key before the horizontal sum: chains over 64-element steps,
// then (0+2) + (1+3). qf: the query as floats. HeadDim is a template argument so that the chains
// stay in registers.
template <uint32_t HeadDim>
SQ_AVX512 inline __m512 key_lanes(const uint16_t* kj, const __m512 qf[HeadDim / 16]) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (uint32_t i = 0; i < HeadDim; i += 64) {
        s0 = _mm512_fmadd_ps(load_f16x16(kj + i), qf[i / 16], s0);
        s1 = _mm512_fmadd_ps(load_f16x16(kj + i + 16), qf[i / 16 + 1], s1);
        s2 = _mm512_fmadd_ps(load_f16x16(kj + i + 32), qf[i / 16 + 2], s2);
        s3 = _mm512_fmadd_ps(load_f16x16(kj + i + 48), qf[i / 16 + 3], s3);
    }
    return _mm512_add_ps(_mm512_add_ps(s0, s2), _mm512_add_ps(s1, s3));
}

// scores[j] = vec_dot_f16(k row j, q16) for every key, 16 keys per horizontal-sum tree.
template <uint32_t HeadDim>
SQ_AVX512 void key_scores_f16(const uint16_t* q16, const uint16_t* k, uint32_t n_kv, float* scores) {
    __m512 qf[HeadDim / 16];
    for (uint32_t i = 0; i < HeadDim; i += 16) qf[i / 16] = load_f16x16(q16 + i);
    uint32_t j0 = 0;
    for (; j0 + 16 <= n_kv; j0 += 16) {
        __m512 v[16];
#pragma GCC unroll 16
        for (uint32_t i = 0; i < 16; ++i) v[i] = key_lanes<HeadDim>(k + size_t{j0 + 4 * (i % 4) + i / 4} * HeadDim, qf);
        _mm512_storeu_ps(scores + j0, reduce_16x16(v));
    }
    for (; j0 < n_kv; ++j0) scores[j0] = _mm512_reduce_add_ps(key_lanes<HeadDim>(k + size_t{j0} * HeadDim, qf));
}

// Probabilities rounded to F16 and back (llama.cpp's KQV takes them as F16), 16 at a time.
SQ_AVX512 void round_to_f16(float* p, uint32_t n) {
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(p + i), _MM_FROUND_TO_NEAREST_INT);
        _mm512_storeu_ps(p + i, _mm512_cvtph_ps(h));
    }
    for (; i < n; ++i) p[i] = f16_to_f32(f32_to_f16(p[i]));
}

// acc[b] += p * row[16b .. 16b + 15] for the 64 dims at row.
SQ_AVX512 inline void fma_row64(float p, const uint16_t* row, __m512 acc[4]) {
    const __m512 pj = _mm512_set1_ps(p);
    for (uint32_t b = 0; b < 4; ++b) acc[b] = _mm512_fmadd_ps(load_f16x16(row + 16 * b), pj, acc[b]);
}

// out = sum_j p[j] v[j] in weighted_sum_vec_dot's order: key j goes to chain (j / 16) % 4 and lane
// j % 16. One pass per lane keeps that lane's 4 chains of 64 dims in 16 registers over every 16th
// key, then the lanes are tree-summed. p: probabilities already rounded to F16.
SQ_AVX512 void weighted_sum_f16(const float* p, const uint16_t* v, uint32_t n_kv, uint32_t head_dim, float* out) {
    alignas(64) float lanes[16][64]; // [lane][dim of this 64-dim slice]
    const size_t stride16 = size_t{16} * head_dim; // 16 keys
    for (uint32_t d0 = 0; d0 < head_dim; d0 += 64) {
        for (uint32_t l = 0; l < 16; ++l) {
            __m512 c0[4], c1[4], c2[4], c3[4]; // the 4 chains, 16 dims per register
            for (uint32_t b = 0; b < 4; ++b) c0[b] = c1[b] = c2[b] = c3[b] = _mm512_setzero_ps();
            uint32_t j = l;
            const uint16_t* row = v + size_t{l} * head_dim + d0;
            for (; j + 48 < n_kv; j += 64, row += 4 * stride16) {
                fma_row64(p[j], row, c0);
                fma_row64(p[j + 16], row + stride16, c1);
                fma_row64(p[j + 32], row + 2 * stride16, c2);
                fma_row64(p[j + 48], row + 3 * stride16, c3);
            }
            if (j < n_kv) fma_row64(p[j], row, c0);
            if (j + 16 < n_kv) fma_row64(p[j + 16], row + stride16, c1);
            if (j + 32 < n_kv) fma_row64(p[j + 32], row + 2 * stride16, c2);
            for (uint32_t b = 0; b < 4; ++b) {
                _mm512_store_ps(&lanes[l][16 * b], _mm512_add_ps(_mm512_add_ps(c0[b], c2[b]), _mm512_add_ps(c1[b], c3[b])));
            }
        }
        for (uint32_t w = 8; w >= 1; w /= 2) {
            for (uint32_t i = 0; i < w; ++i) {
                for (uint32_t b = 0; b < 64; b += 16) {
                    _mm512_store_ps(&lanes[i][b], _mm512_add_ps(_mm512_load_ps(&lanes[i][b]), _mm512_load_ps(&lanes[i + w][b])));
                }
            }
        }
        std::memcpy(out + d0, lanes[0], sizeof(float) * 64);
    }
}

template <uint32_t HeadDim>
SQ_AVX512 void attention_decode_f16(const uint16_t* q16, const uint16_t* k, const uint16_t* v, uint32_t n_kv,
                                    float scale, float* scores, float* out) {
    key_scores_f16<HeadDim>(q16, k, n_kv, scores);
    soft_max_ggml(scores, n_kv, scale);
    round_to_f16(scores, n_kv);
    weighted_sum_f16(scores, v, n_kv, HeadDim, out);
}

SQ_AVX512 void attention_ggml_f32(const float* q, const float* k, const float* v, uint32_t n_kv, uint32_t head_dim,
                                  float scale, bool single_token, float* scores, float* out) {
    for (uint32_t j = 0; j < n_kv; ++j) scores[j] = vec_dot_f32(k + size_t{j} * head_dim, q, head_dim);
    soft_max_ggml(scores, n_kv, scale);
    auto load_row = [&](uint32_t j, uint32_t d0, __mmask16 m) SQ_AVX512 {
        return _mm512_maskz_loadu_ps(m, v + size_t{j} * head_dim + d0);
    };
    auto prob = [&](uint32_t j) { return scores[j]; };
    if (single_token) return weighted_sum_vec_dot(load_row, prob, n_kv, head_dim, out);
    weighted_sum16(load_row, prob, n_kv, head_dim, out);
}

SQ_AVX512 void attention_ggml_f16(const uint16_t* q16, const uint16_t* k, const uint16_t* v, uint32_t n_kv,
                                  uint32_t head_dim, float scale, bool single_token, float* scores, uint16_t* p16,
                                  float* out) {
    if (single_token) {
        switch (head_dim) {
            case 64: return attention_decode_f16<64>(q16, k, v, n_kv, scale, scores, out);
            case 128: return attention_decode_f16<128>(q16, k, v, n_kv, scale, scores, out);
            case 256: return attention_decode_f16<256>(q16, k, v, n_kv, scale, scores, out);
            default: break;
        }
    }
    const bool chain = !single_token && head_dim % 16 == 0;
    for (uint32_t j = 0; j < n_kv; ++j) {
        const uint16_t* kj = k + size_t{j} * head_dim;
        scores[j] = chain ? chain16_f16(kj, q16, head_dim) : vec_dot_f16(kj, q16, head_dim);
    }
    soft_max_ggml(scores, n_kv, scale);
    for (uint32_t j = 0; j < n_kv; ++j) p16[j] = f32_to_f16(scores[j]);
    auto load_row = [&](uint32_t j, uint32_t d0, __mmask16 m) SQ_AVX512 {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, v + size_t{j} * head_dim + d0));
    };
    auto prob = [&](uint32_t j) { return f16_to_f32(p16[j]); };
    if (single_token) return weighted_sum_vec_dot(load_row, prob, n_kv, head_dim, out);
    weighted_sum16(load_row, prob, n_kv, head_dim, out);
}
#endif

bool use_ggml_order() {
#ifdef SQ_ATTN_X86
    static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                            __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    return yes;
#else
    return false;
#endif
}

} // namespace

void attention_f32(const float* q, const float* k, const float* v, uint32_t n_kv, uint32_t head_dim, float scale,
                   bool single_token, float* scores, float* out) {
#ifdef SQ_ATTN_X86
    if (use_ggml_order()) return attention_ggml_f32(q, k, v, n_kv, head_dim, scale, single_token, scores, out);
#endif
    (void)single_token;
    attention_plain_f32(q, k, v, n_kv, head_dim, scale, scores, out);
}

void attention_f16(const float* q, const uint16_t* k, const uint16_t* v, uint32_t n_kv, uint32_t head_dim,
                   float scale, bool single_token, float* scores, uint16_t* q16, uint16_t* p16, float* out) {
    for (uint32_t i = 0; i < head_dim; ++i) q16[i] = f32_to_f16(q[i]);
#ifdef SQ_ATTN_X86
    if (use_ggml_order()) return attention_ggml_f16(q16, k, v, n_kv, head_dim, scale, single_token, scores, p16, out);
#endif
    (void)single_token;
    (void)p16;
    attention_plain_f16(q16, k, v, n_kv, head_dim, scale, scores, out);
}

} // namespace sq::cpu
