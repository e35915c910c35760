// Scalar pieces of llama.cpp's CPU numerics (its x86 AVX-512 build, as backend/cpu mirrors it),
// usable in kernels and host code alike, so GPU results carry the CPU's bits where the order of
// operations can be followed: ggml's vectorised expf and SiLU per lane, the horizontal sum of 16
// lanes as _mm512_reduce_add_ps adds them, F16 rounding, the K dots of the attention.
// native/tools/cuda-forward-order-test.cpp checks them against the CPU ops bit for bit.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define SQ_HD __host__ __device__ __forceinline__
#else
#define SQ_HD inline
#endif

#ifndef __CUDA_ARCH__
#include "../native/src/common/half.h"
#endif

namespace sq::ggml_order {

SQ_HD float f16_to_float(uint16_t h) {
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(h));
#else
    return sq::f16_to_f32(h);
#endif
}

// x rounded to F16 (nearest even) and back.
SQ_HD float round_f16(float x) {
#ifdef __CUDA_ARCH__
    return __half2float(__float2half_rn(x));
#else
    return sq::f16_to_f32(sq::f32_to_f16(x));
#endif
}

// One lane of expf_ggml16 (backend/cpu/ops-expf.h): Cody-Waite reduction, degree-5 polynomial,
// scaling by 2^n; |n| > 192 gives 0 or +inf.
SQ_HD float expf_ggml(float x) {
    const float shift = 0x1.8p23f;
    const float z = fmaf(x, 0x1.715476p+0f, shift);
    const float n = z - shift;
    const float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x));
    const float u = b * b;
    const float hi = fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f);
    const float lo = fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f);
    const float lin = fmaf(0x1.ffffecp-1f, b, 1.0f);
    const float j = fmaf(fmaf(hi, u, lo), u, lin);
    if (fabsf(n) > 192.0f) return n <= 0.0f ? 0.0f : INFINITY;
    return ldexpf(j, static_cast<int>(n));
}

// One lane of silu_ggml16: x / (1 + expf_ggml(-x)).
SQ_HD float silu_ggml(float x) { return x / (1.0f + expf_ggml(0.0f - x)); }

// _mm512_reduce_add_ps of 16 lanes (GCC's order: halves, then quarters, then pairs).
SQ_HD float reduce_add16(const float v[16]) {
    float t8[8], t4[4];
    for (int i = 0; i < 8; ++i) t8[i] = v[8 + i] + v[i];
    for (int i = 0; i < 4; ++i) t4[i] = t8[4 + i] + t8[i];
    return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

// ggml_vec_dot_f16 of an F16 key row with an F16-rounded query: 4 chains of 16 lanes over
// 64-element steps, chains added 0+2, 1+3, then together, a 16-lane horizontal sum, the tail in
// double (llama.cpp's single-token K product).
SQ_HD float dot_vec_f16(const uint16_t* k, const float* q, int n) {
    const int np = n & ~63;
    float s[4][16] = {};
    for (int i = 0; i < np; i += 64) {
        for (int c = 0; c < 4; ++c) {
            for (int l = 0; l < 16; ++l) s[c][l] = fmaf(f16_to_float(k[i + 16 * c + l]), q[i + 16 * c + l], s[c][l]);
        }
    }
    float v[16];
    for (int l = 0; l < 16; ++l) v[l] = (s[0][l] + s[2][l]) + (s[1][l] + s[3][l]);
    double sum = reduce_add16(v);
    for (int i = np; i < n; ++i) sum += static_cast<double>(f16_to_float(k[i]) * q[i]);
    return static_cast<float>(sum);
}

// tinyBLAS's K product for several tokens: one 16-lane FMA chain (n % 16 == 0), horizontal sum.
SQ_HD float dot_chain16(const uint16_t* k, const float* q, int n) {
    float acc[16] = {};
    for (int i = 0; i < n; i += 16) {
        for (int l = 0; l < 16; ++l) acc[l] = fmaf(f16_to_float(k[i + l]), q[i + l], acc[l]);
    }
    return reduce_add16(acc);
}

// Lanes summed pairwise 8 apart, then 4, 2, 1 (the horizontal sum of the V products).
SQ_HD float tree16(float lane[16]) {
    for (int w = 8; w >= 1; w /= 2) {
        for (int i = 0; i < w; ++i) lane[i] += lane[i + w];
    }
    return lane[0];
}

} // namespace sq::ggml_order
