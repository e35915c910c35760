// Portable kernels for every tensor type: the reference the SIMD levels are tested against, and
// the path used on CPUs without AVX2.
//
// Dequantization follows ggml's dequantize_row_* formulas operation for operation, so the floats
// are bit-identical to llama.cpp's. Activation quantization reproduces what ggml-cpu runs on an
// x86 CPU with AVX (its SIMD quantize_row_q8_0/q8_1, not the *_ref versions): scale
// id = 127 / amax and round-half-to-even, so that our scalar and AVX2 paths and llama.cpp all
// produce the same bytes. Q8_K uses ggml's only x86 version, quantize_row_q8_K_ref.
#include <cmath>
#include <cstring>

#include "../../common/half.h"
#include "quants-blocks.h"
#include "quants-levels.h"

namespace sq::cpu {
namespace {

// Round to nearest, ties to even, for |v| < 2^22 without depending on the FP environment
// (ggml's nearest_int; _mm256_round_ps(v, _MM_ROUND_NEAREST) gives the same integers).
inline int nearest_int(float v) {
    const float shifted = v + 12582912.f; // 1.5 * 2^23: the integer lands in the low mantissa bits
    int32_t bits;
    std::memcpy(&bits, &shifted, 4);
    return (bits & 0x007fffff) - 0x00400000;
}

// ---- F32 / F16 / BF16 -------------------------------------------------------------------------

void copy_row_f32(const float* x, void* y, int64_t n) { std::memcpy(y, x, static_cast<size_t>(n) * 4); }
void copy_row_f32_out(const void* x, float* y, int64_t n) { std::memcpy(y, x, static_cast<size_t>(n) * 4); }

void to_f16_row(const float* x, void* vy, int64_t n) {
    uint16_t* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}
void from_f16_row(const void* vx, float* y, int64_t n) {
    const uint16_t* x = static_cast<const uint16_t*>(vx);
    for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i]);
}
void to_bf16_row(const float* x, void* vy, int64_t n) {
    uint16_t* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}
void from_bf16_row(const void* vx, float* y, int64_t n) {
    const uint16_t* x = static_cast<const uint16_t*>(vx);
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}

// ggml accumulates the float dots in double on its scalar path (ggml_float).
void vec_dot_f32(int64_t n, float* s, const void* vw, const void* va) {
    const float* w = static_cast<const float*>(vw);
    const float* a = static_cast<const float*>(va);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i] * a[i]);
    *s = static_cast<float>(sum);
}
void vec_dot_f16(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(f16_to_f32(w[i]) * f16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}
void vec_dot_bf16(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(bf16_to_f32(w[i]) * bf16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

// ---- activation quantizers (Q8_0, Q8_1, Q8_K) -------------------------------------------------

// Quantizes 32 floats with the AVX formula; returns d (before f16 rounding) and sum of the quants.
float quantize_block_q8(const float* x, int8_t* qs, int* sum) {
    float amax = 0.0f;
    for (int j = 0; j < QK; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    int total = 0;
    for (int j = 0; j < QK; ++j) {
        const int q = nearest_int(x[j] * id);
        qs[j] = static_cast<int8_t>(q);
        total += q;
    }
    *sum = total;
    return d;
}

void quantize_row_q8_0(const float* x, void* vy, int64_t n) {
    BlockQ8_0* y = static_cast<BlockQ8_0*>(vy);
    for (int64_t i = 0; i < n / QK; ++i) {
        int sum;
        y[i].d = f32_to_f16(quantize_block_q8(x + i * QK, y[i].qs, &sum));
    }
}

void quantize_row_q8_1(const float* x, void* vy, int64_t n) {
    BlockQ8_1* y = static_cast<BlockQ8_1*>(vy);
    for (int64_t i = 0; i < n / QK; ++i) {
        int sum;
        const float d = quantize_block_q8(x + i * QK, y[i].qs, &sum);
        y[i].d = f32_to_f16(d);
        y[i].s = f32_to_f16(d * static_cast<float>(sum));
    }
}

// Scale from the signed value of largest magnitude (first one on ties), so that value maps to
// exactly -127; d = 1 / iscale is kept in f32.
void quantize_row_q8_k(const float* x, void* vy, int64_t n) {
    BlockQ8_K* y = static_cast<BlockQ8_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) { amax = ax; max = x[j]; }
        }
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof(BlockQ8_K));
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < QK_K; ++j) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; ++g) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += y[i].qs[g * 16 + l];
            y[i].bsums[g] = static_cast<int16_t>(sum);
        }
        y[i].d = 1 / iscale;
    }
}

// ---- dequantization ---------------------------------------------------------------------------

void dequantize_row_q4_0(const void* vx, float* y, int64_t n) {
    const BlockQ4_0* x = static_cast<const BlockQ4_0*>(vx);
    for (int64_t i = 0; i < n / QK; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + QK / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dequantize_row_q4_1(const void* vx, float* y, int64_t n) {
    const BlockQ4_1* x = static_cast<const BlockQ4_1*>(vx);
    for (int64_t i = 0; i < n / QK; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
            y[j + QK / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
        }
    }
}

// The fifth bits of elements j and j + 16 of a Q5 block, as 0 or 16.
inline int q5_high(uint32_t qh, int j) { return ((qh >> j) << 4) & 0x10; }

void dequantize_row_q5_0(const void* vx, float* y, int64_t n) {
    const BlockQ5_0* x = static_cast<const BlockQ5_0*>(vx);
    for (int64_t i = 0; i < n / QK; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        const uint32_t qh = load_u32(x[i].qh);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | q5_high(qh, j)) - 16) * d;
            y[j + QK / 2] = static_cast<float>(((x[i].qs[j] >> 4) | q5_high(qh, j + 16)) - 16) * d;
        }
    }
}

void dequantize_row_q5_1(const void* vx, float* y, int64_t n) {
    const BlockQ5_1* x = static_cast<const BlockQ5_1*>(vx);
    for (int64_t i = 0; i < n / QK; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
        const uint32_t qh = load_u32(x[i].qh);
        for (int j = 0; j < QK / 2; ++j) {
            y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | q5_high(qh, j)) * d + m;
            y[j + QK / 2] = static_cast<float>((x[i].qs[j] >> 4) | q5_high(qh, j + 16)) * d + m;
        }
    }
}

void dequantize_row_q8_0(const void* vx, float* y, int64_t n) {
    const BlockQ8_0* x = static_cast<const BlockQ8_0*>(vx);
    for (int64_t i = 0; i < n / QK; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        for (int j = 0; j < QK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

void dequantize_row_q8_1(const void* vx, float* y, int64_t n) {
    const BlockQ8_1* x = static_cast<const BlockQ8_1*>(vx);
    for (int64_t i = 0; i < n / QK; ++i, y += QK) {
        const float d = f16_to_f32(x[i].d);
        for (int j = 0; j < QK; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
    }
}

void dequantize_row_q4_k(const void* vx, float* y, int64_t n) {
    const BlockQ4_K* x = static_cast<const BlockQ4_K*>(vx);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = f16_to_f32(x[i].d), dmin = f16_to_f32(x[i].dmin);
        uint8_t sc[8], mn[8];
        unpack_scales_k4(x[i].scales, sc, mn);
        const uint8_t* q = x[i].qs;
        for (int c = 0; c < 4; ++c, q += 32) { // 64-element chunks: sub-blocks 2c and 2c + 1
            const float d1 = d * sc[2 * c], m1 = dmin * mn[2 * c];
            const float d2 = d * sc[2 * c + 1], m2 = dmin * mn[2 * c + 1];
            for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
        }
    }
}

void dequantize_row_q5_k(const void* vx, float* y, int64_t n) {
    const BlockQ5_K* x = static_cast<const BlockQ5_K*>(vx);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = f16_to_f32(x[i].d), dmin = f16_to_f32(x[i].dmin);
        uint8_t sc[8], mn[8];
        unpack_scales_k4(x[i].scales, sc, mn);
        const uint8_t* ql = x[i].qs;
        const uint8_t* qh = x[i].qh;
        for (int c = 0; c < 4; ++c, ql += 32) { // chunk c takes bits 2c and 2c + 1 of qh[l]
            const float d1 = d * sc[2 * c], m1 = dmin * mn[2 * c];
            const float d2 = d * sc[2 * c + 1], m2 = dmin * mn[2 * c + 1];
            const uint8_t u1 = static_cast<uint8_t>(1u << (2 * c)), u2 = static_cast<uint8_t>(2u << (2 * c));
            for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

// Q6_K: each half of 128 elements uses 64 bytes of ql and 32 of qh. For l < 32, elements l,
// l + 32, l + 64, l + 96 take the low nibble of ql[l], low of ql[l + 32], high of ql[l], high
// of ql[l + 32], and bits (0-1, 2-3, 4-5, 6-7) of qh[l] as their top two bits; minus 32.
void dequantize_row_q6_k(const void* vx, float* y, int64_t n) {
    const BlockQ6_K* x = static_cast<const BlockQ6_K*>(vx);
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = f16_to_f32(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int half = 0; half < 2; ++half, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * static_cast<float>(q1);
                y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
                y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
                y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
            }
        }
    }
}

void dequantize_row_q8_k(const void* vx, float* y, int64_t n) {
    const BlockQ8_K* x = static_cast<const BlockQ8_K*>(vx);
    for (int64_t i = 0; i < n / QK_K; ++i, y += QK_K) {
        for (int j = 0; j < QK_K; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
    }
}

// ---- dot products against quantized activations ----------------------------------------------
// Integer sums per block are exact; each block adds (d_w * d_a) * sum in f32, as ggml does.

void vec_dot_q4_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_0* w = static_cast<const BlockQ4_0*>(vw);
    const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        int isum = 0;
        for (int j = 0; j < QK / 2; ++j) {
            isum += ((w[i].qs[j] & 0x0F) - 8) * a[i].qs[j];
            isum += ((w[i].qs[j] >> 4) - 8) * a[i].qs[j + QK / 2];
        }
        sum += (f16_to_f32(w[i].d) * f16_to_f32(a[i].d)) * static_cast<float>(isum);
    }
    *s = sum;
}

// Q4_1/Q5_1 carry an offset m: sum(m * a_j) = m * s of the Q8_1 block.
void vec_dot_q4_1_q8_1(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_1* w = static_cast<const BlockQ4_1*>(vw);
    const BlockQ8_1* a = static_cast<const BlockQ8_1*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        int isum = 0;
        for (int j = 0; j < QK / 2; ++j) {
            isum += (w[i].qs[j] & 0x0F) * a[i].qs[j];
            isum += (w[i].qs[j] >> 4) * a[i].qs[j + QK / 2];
        }
        sum += (f16_to_f32(w[i].d) * f16_to_f32(a[i].d)) * static_cast<float>(isum) +
               f16_to_f32(w[i].m) * f16_to_f32(a[i].s);
    }
    *s = sum;
}

void vec_dot_q5_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ5_0* w = static_cast<const BlockQ5_0*>(vw);
    const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        const uint32_t qh = load_u32(w[i].qh);
        int isum = 0;
        for (int j = 0; j < QK / 2; ++j) {
            isum += (((w[i].qs[j] & 0x0F) | q5_high(qh, j)) - 16) * a[i].qs[j];
            isum += (((w[i].qs[j] >> 4) | q5_high(qh, j + 16)) - 16) * a[i].qs[j + QK / 2];
        }
        sum += (f16_to_f32(w[i].d) * f16_to_f32(a[i].d)) * static_cast<float>(isum);
    }
    *s = sum;
}

void vec_dot_q5_1_q8_1(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ5_1* w = static_cast<const BlockQ5_1*>(vw);
    const BlockQ8_1* a = static_cast<const BlockQ8_1*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        const uint32_t qh = load_u32(w[i].qh);
        int isum = 0;
        for (int j = 0; j < QK / 2; ++j) {
            isum += ((w[i].qs[j] & 0x0F) | q5_high(qh, j)) * a[i].qs[j];
            isum += ((w[i].qs[j] >> 4) | q5_high(qh, j + 16)) * a[i].qs[j + QK / 2];
        }
        sum += (f16_to_f32(w[i].d) * f16_to_f32(a[i].d)) * static_cast<float>(isum) +
               f16_to_f32(w[i].m) * f16_to_f32(a[i].s);
    }
    *s = sum;
}

void vec_dot_q8_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ8_0* w = static_cast<const BlockQ8_0*>(vw);
    const BlockQ8_0* a = static_cast<const BlockQ8_0*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK; ++i) {
        int isum = 0;
        for (int j = 0; j < QK; ++j) isum += w[i].qs[j] * a[i].qs[j];
        sum += (f16_to_f32(w[i].d) * f16_to_f32(a[i].d)) * static_cast<float>(isum);
    }
    *s = sum;
}

// K-quants: sum over sub-blocks of d*sc*dot(q, a) - dmin*mn*sum(a); the Q8_K bsums give sum(a)
// per 16 elements, so the min term costs 16 multiplies per block.
void vec_dot_q4_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ4_K* w = static_cast<const BlockQ4_K*>(vw);
    const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        uint8_t sc[8], mn[8];
        unpack_scales_k4(w[i].scales, sc, mn);
        const uint8_t* q = w[i].qs;
        const int8_t* q8 = a[i].qs;
        int isum = 0;
        for (int c = 0; c < 4; ++c, q += 32, q8 += 64) {
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += (q[l] & 0xF) * q8[l];
                hi += (q[l] >> 4) * q8[l + 32];
            }
            isum += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        int imin = 0;
        for (int g = 0; g < QK_K / 16; ++g) imin += a[i].bsums[g] * mn[g / 2];
        const float d = a[i].d * f16_to_f32(w[i].d);
        const float dmin = a[i].d * f16_to_f32(w[i].dmin);
        sum += d * static_cast<float>(isum) - dmin * static_cast<float>(imin);
    }
    *s = sum;
}

void vec_dot_q5_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ5_K* w = static_cast<const BlockQ5_K*>(vw);
    const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        uint8_t sc[8], mn[8];
        unpack_scales_k4(w[i].scales, sc, mn);
        const uint8_t* ql = w[i].qs;
        const uint8_t* qh = w[i].qh;
        const int8_t* q8 = a[i].qs;
        int isum = 0;
        for (int c = 0; c < 4; ++c, ql += 32, q8 += 64) {
            const int u1 = 1 << (2 * c), u2 = 2 << (2 * c);
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) * q8[l];
                hi += ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) * q8[l + 32];
            }
            isum += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        int imin = 0;
        for (int g = 0; g < QK_K / 16; ++g) imin += a[i].bsums[g] * mn[g / 2];
        const float d = a[i].d * f16_to_f32(w[i].d);
        const float dmin = a[i].d * f16_to_f32(w[i].dmin);
        sum += d * static_cast<float>(isum) - dmin * static_cast<float>(imin);
    }
    *s = sum;
}

void vec_dot_q6_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const BlockQ6_K* w = static_cast<const BlockQ6_K*>(vw);
    const BlockQ8_K* a = static_cast<const BlockQ8_K*>(va);
    float sum = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* ql = w[i].ql;
        const uint8_t* qh = w[i].qh;
        const int8_t* sc = w[i].scales;
        const int8_t* q8 = a[i].qs;
        int isum = 0;
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, q8 += 128) {
            int sub[8] = {0}; // [sub-block of 16] within this half
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                sub[is + 0] += (((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32) * q8[l];
                sub[is + 2] += (((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32) * q8[l + 32];
                sub[is + 4] += (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32) * q8[l + 64];
                sub[is + 6] += (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32) * q8[l + 96];
            }
            for (int k = 0; k < 8; ++k) isum += sc[k] * sub[k];
        }
        sum += (a[i].d * f16_to_f32(w[i].d)) * static_cast<float>(isum);
    }
    *s = sum;
}

} // namespace

bool quants_scalar_kernels(TensorType type, TypeKernels* k) {
    using T = TensorType;
    switch (type) {
        case T::F32:  *k = {T::F32, copy_row_f32_out, copy_row_f32, vec_dot_f32}; return true;
        case T::F16:  *k = {T::F16, from_f16_row, to_f16_row, vec_dot_f16}; return true;
        case T::BF16: *k = {T::BF16, from_bf16_row, to_bf16_row, vec_dot_bf16}; return true;
        case T::Q4_0: *k = {T::Q8_0, dequantize_row_q4_0, nullptr, vec_dot_q4_0_q8_0}; return true;
        case T::Q4_1: *k = {T::Q8_1, dequantize_row_q4_1, nullptr, vec_dot_q4_1_q8_1}; return true;
        case T::Q5_0: *k = {T::Q8_0, dequantize_row_q5_0, nullptr, vec_dot_q5_0_q8_0}; return true;
        case T::Q5_1: *k = {T::Q8_1, dequantize_row_q5_1, nullptr, vec_dot_q5_1_q8_1}; return true;
        case T::Q8_0: *k = {T::Q8_0, dequantize_row_q8_0, quantize_row_q8_0, vec_dot_q8_0_q8_0}; return true;
        case T::Q8_1: *k = {T::Q8_1, dequantize_row_q8_1, quantize_row_q8_1, nullptr}; return true;
        case T::Q4_K: *k = {T::Q8_K, dequantize_row_q4_k, nullptr, vec_dot_q4_k_q8_k}; return true;
        case T::Q5_K: *k = {T::Q8_K, dequantize_row_q5_k, nullptr, vec_dot_q5_k_q8_k}; return true;
        case T::Q6_K: *k = {T::Q8_K, dequantize_row_q6_k, nullptr, vec_dot_q6_k_q8_k}; return true;
        case T::Q8_K: *k = {T::Q8_K, dequantize_row_q8_k, quantize_row_q8_k, nullptr}; return true;
        default: return false;
    }
}

} // namespace sq::cpu
