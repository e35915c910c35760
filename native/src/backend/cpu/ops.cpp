#include "ops.h"

#include <cmath>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers trip its own uninitialised-value warning (GCC bug 105593).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include "ops-expf.h"

namespace sq::cpu {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
}

void rope_cache(const RopeParams& p, int32_t pos, float* cache) {
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    float theta = static_cast<float>(pos);
    for (uint32_t i0 = 0; i0 < p.n_rot; i0 += 2) {
        const float ff = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0f;
        const float t = p.freq_scale * (theta / ff);
        cache[i0] = std::cos(t);
        cache[i0 + 1] = std::sin(t);
        theta *= theta_scale;
    }
}

void rope_apply(const RopeParams& p, const float* cache, float* x, uint32_t n_heads, uint32_t head_dim) {
    const uint32_t half = p.n_rot / 2;
    for (uint32_t h = 0; h < n_heads; ++h) {
        float* v = x + static_cast<size_t>(h) * head_dim;
        for (uint32_t i0 = 0; i0 < p.n_rot; i0 += 2) {
            const float c = cache[i0], s = cache[i0 + 1];
            const uint32_t a = p.neox ? i0 / 2 : i0;
            const uint32_t b = p.neox ? i0 / 2 + half : i0 + 1;
            const float x0 = v[a], x1 = v[b];
            // ggml-cpu is built with FMA and GCC's default contraction, which turns
            // x0*c - x1*s into fma(x0, c, -(x1*s)): the same rounding here.
            v[a] = std::fma(x0, c, -(x1 * s));
            v[b] = std::fma(x0, s, x1 * c);
        }
    }
}

void soft_max_scaled(float* x, int64_t n, float scale) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; ++i) {
        x[i] *= scale;
        max = std::fmax(max, x[i]);
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - max);
        sum += static_cast<double>(x[i]);
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

#ifdef SQ_EXPF_X86
namespace {
// ggml_vec_swiglu_f32 of the AVX-512 build: 16 lanes through ggml's vector SiLU, the tail with expf.
__attribute__((target("avx512f,avx512dq"))) int64_t swiglu_avx512(const float* gate, const float* up, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i, _mm512_mul_ps(silu_ggml16(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
    }
    return i;
}
} // namespace
#endif

void swiglu(const float* gate, const float* up, float* y, int64_t n) {
    int64_t i0 = 0;
#ifdef SQ_EXPF_X86
    if (cpu_has_expf_ggml16()) i0 = swiglu_avx512(gate, up, y, n);
#endif
    for (int64_t i = i0; i < n; ++i) {
        const float g = gate[i];
        y[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

void add(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

} // namespace sq::cpu
