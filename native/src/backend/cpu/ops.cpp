#include "ops.h"

#include <cmath>
#include <cstring>

#include "../../common/half.h"

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define SQ_OPS_X86 1
#include <immintrin.h>
#endif

namespace sq::cpu {

namespace {

// ---- attention inner loops: portable versions and AVX2/F16C versions picked at run time -------

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

#ifdef SQ_OPS_X86
__attribute__((target("avx2,fma"))) float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) float dot_f32_avx2(const float* a, const float* b, uint32_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2,fma,f16c"))) __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

__attribute__((target("avx2,fma,f16c"))) float dot_f16_avx2(const uint16_t* a, const uint16_t* b, uint32_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    uint32_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_f16x8(a + i), load_f16x8(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_f16x8(a + i + 8), load_f16x8(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(load_f16x8(a + i), load_f16x8(b + i), acc0);
    float s = hsum256(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) s += f16_to_f32(a[i]) * f16_to_f32(b[i]);
    return s;
}

__attribute__((target("avx2,fma"))) void axpy_f32_avx2(float* y, float a, const float* x, uint32_t n) {
    const __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; ++i) y[i] += a * x[i];
}

__attribute__((target("avx2,fma,f16c"))) void axpy_f16_avx2(float* y, float a, const uint16_t* x, uint32_t n) {
    const __m256 va = _mm256_set1_ps(a);
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(x + i), _mm256_loadu_ps(y + i)));
    }
    for (; i < n; ++i) y[i] += a * f16_to_f32(x[i]);
}
#endif

struct AttentionKernels {
    float (*dot_f32)(const float*, const float*, uint32_t);
    float (*dot_f16)(const uint16_t*, const uint16_t*, uint32_t);
    void (*axpy_f32)(float*, float, const float*, uint32_t);
    void (*axpy_f16)(float*, float, const uint16_t*, uint32_t);
};

const AttentionKernels& attention_kernels() {
    static const AttentionKernels k = [] {
#ifdef SQ_OPS_X86
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")) {
            return AttentionKernels{dot_f32_avx2, dot_f16_avx2, axpy_f32_avx2, axpy_f16_avx2};
        }
#endif
        return AttentionKernels{dot_f32_scalar, dot_f16_scalar, axpy_f32_scalar, axpy_f16_scalar};
    }();
    return k;
}

} // namespace

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
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
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

void swiglu(const float* gate, const float* up, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float g = gate[i];
        y[i] = g / (1.0f + std::exp(-g)) * up[i];
    }
}

void add(float* y, const float* x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void attention_f32(const float* q, const float* k, const float* v, uint32_t n_kv, uint32_t head_dim,
                   float scale, float* scores, float* out) {
    const AttentionKernels& kern = attention_kernels();
    for (uint32_t j = 0; j < n_kv; ++j) scores[j] = kern.dot_f32(q, k + static_cast<size_t>(j) * head_dim, head_dim);
    soft_max_scaled(scores, n_kv, scale);
    std::memset(out, 0, sizeof(float) * head_dim);
    for (uint32_t j = 0; j < n_kv; ++j) kern.axpy_f32(out, scores[j], v + static_cast<size_t>(j) * head_dim, head_dim);
}

void attention_f16(const float* q, const uint16_t* k, const uint16_t* v, uint32_t n_kv, uint32_t head_dim,
                   float scale, float* scores, uint16_t* q16, float* out) {
    const AttentionKernels& kern = attention_kernels();
    for (uint32_t i = 0; i < head_dim; ++i) q16[i] = f32_to_f16(q[i]);
    for (uint32_t j = 0; j < n_kv; ++j) scores[j] = kern.dot_f16(q16, k + static_cast<size_t>(j) * head_dim, head_dim);
    soft_max_scaled(scores, n_kv, scale);
    std::memset(out, 0, sizeof(float) * head_dim);
    for (uint32_t j = 0; j < n_kv; ++j) {
        const float p = f16_to_f32(f32_to_f16(scores[j]));
        kern.axpy_f16(out, p, v + static_cast<size_t>(j) * head_dim, head_dim);
    }
}

} // namespace sq::cpu
