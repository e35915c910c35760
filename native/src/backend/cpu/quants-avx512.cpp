// AVX-512 float dot products (compiled with the AVX-512 flags; called only after CPUID says so).
//
// On an AVX-512 CPU llama.cpp loads an AVX-512 build of ggml-cpu, whose F32/F16/BF16 dots use
// 16-lane vectors: 4 accumulators over steps of 64 elements, folded (0+2, 1+3, 0+1) and reduced
// with _mm512_reduce_add_ps. Matching that order keeps the f16 attention scores (KQ against the
// f16 KV cache) bit-identical. Its quantized dots are the AVX2 code, with one vpdpbusd for the
// integer dot of the 32-element block types where the CPU has AVX512-VNNI (same integers); this
// level does the same, and compiles the shared x86 dots here too for AVX-512VL's 32 registers.
#include "quants-levels.h"

#if defined(__AVX512F__) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

// GCC 12 flags the deliberately undefined vectors inside its own AVX-512 intrinsics once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include <cmath>

#include "../../common/half.h"
#include "quants-blocks.h"
#include "quants-x86-kquants.h"
#include "quants-x86.h"

namespace sq::cpu {
namespace {

inline float reduce_4x16(__m512 a[4]) {
    a[0] = _mm512_add_ps(a[0], a[2]);
    a[1] = _mm512_add_ps(a[1], a[3]);
    a[0] = _mm512_add_ps(a[0], a[1]);
    return _mm512_reduce_add_ps(a[0]);
}

// ggml keeps this sum in f32 and adds the leftovers (n % 64) with one FMA each.
void vec_dot_f32(int64_t n, float* s, const void* vw, const void* va) {
    const float* w = static_cast<const float*>(vw);
    const float* a = static_cast<const float*>(va);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int j = 0; j < 4; ++j) {
            acc[j] = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16 * j), _mm512_loadu_ps(a + i + 16 * j), acc[j]);
        }
    }
    float sum = reduce_4x16(acc);
    for (; i < n; ++i) sum = std::fma(w[i], a[i], sum);
    *s = sum;
}

inline __m512 load_f16x16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

void vec_dot_f16(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        for (int j = 0; j < 4; ++j) {
            acc[j] = _mm512_fmadd_ps(load_f16x16(w + i + 16 * j), load_f16x16(a + i + 16 * j), acc[j]);
        }
    }
    double sum = reduce_4x16(acc);
    for (; i < n; ++i) sum += static_cast<double>(f16_to_f32(w[i]) * f16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

inline __m512 load_bf16x16(const uint16_t* p) {
    const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

// ggml's AVX512F bf16 dot (no AVX512_BF16): two accumulators, multiply then add, each reduced
// separately into the double sum.
void vec_dot_bf16(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    __m512 c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        c1 = _mm512_add_ps(_mm512_mul_ps(load_bf16x16(w + i), load_bf16x16(a + i)), c1);
        c2 = _mm512_add_ps(_mm512_mul_ps(load_bf16x16(w + i + 16), load_bf16x16(a + i + 16)), c2);
    }
    double sum = 0.0;
    sum += _mm512_reduce_add_ps(c1);
    sum += _mm512_reduce_add_ps(c2);
    for (; i < n; ++i) sum += static_cast<double>(bf16_to_f32(w[i]) * bf16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

// llamafile tinyBLAS order (quants-levels.h): one 16-lane FMA accumulator, one reduce at the end.
template <typename T, __m512 (*Load)(const T*)>
void batched_dot(int64_t n, float* s, const void* vw, const void* va) {
    const T* w = static_cast<const T*>(vw);
    const T* a = static_cast<const T*>(va);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(Load(w + i), Load(a + i), acc);
    *s = _mm512_reduce_add_ps(acc);
}

inline __m512 load_f32x16(const float* p) { return _mm512_loadu_ps(p); }

} // namespace
} // namespace sq::cpu

// The 32-element block dots with AVX512-VNNI. The CMake flags of this file stop at AVX-512
// F/BW/VL/DQ, so VNNI is enabled for these functions only; quants_avx512_kernels() hands them
// out only when CPUID reports it. The helpers they call come from quants-x86.h, included above
// without VNNI, so the K-quant dots can inline them too.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512vnni")
#endif

#include "quants-x86-q32.h"

namespace sq::cpu {
namespace {

VecDotFn vnni_block32_dot(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return vec_dot<DotQ4_0<true>>;
        // Q4_1 keeps the AVX2 kernel: VNNI, or this file's copy, measured slower on Zen 4
        // (quants-bench: 13.1-13.5 vs 14.3-14.5 GB/s)
        case TensorType::Q5_0: return vec_dot<DotQ5_0<true>>;
        case TensorType::Q5_1: return vec_dot<DotQ5_1<true>>;
        case TensorType::Q8_0: return vec_dot<DotQ8_0<true>>;
        default: return nullptr;
    }
}

VecDot4Fn vnni_block32_dot_4(TensorType type) {
    switch (type) {
        case TensorType::Q4_0: return vec_dot_4<DotQ4_0<true>>;
        case TensorType::Q4_1: return vec_dot_4<DotQ4_1<true>>;
        case TensorType::Q5_0: return vec_dot_4<DotQ5_0<true>>;
        case TensorType::Q5_1: return vec_dot_4<DotQ5_1<true>>;
        case TensorType::Q8_0: return vec_dot_4<DotQ8_0<true>>;
        default: return nullptr;
    }
}

} // namespace
} // namespace sq::cpu

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// BF16 dots with AVX512_BF16, as llama.cpp's builds for CPUs that have it (Zen 4, Cooper Lake):
// vdpbf16ps adds the two exact products of a pair of bf16 elements into an f32 lane, rounding
// after each, so these sums differ from the F-only kernels above. Compiled for this section only;
// handed out only when CPUID reports AVX512_BF16.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512bf16"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512bf16")
#endif

namespace sq::cpu {
namespace {

inline __m512bh load_bf16x32(const uint16_t* p) { return (__m512bh)_mm512_loadu_si512(p); }

// ggml_vec_dot_bf16: two pair-accumulators over 64-element steps, each reduced into a double sum,
// then the tail in scalar.
void vec_dot_bf16_dp(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    __m512 c1 = _mm512_setzero_ps(), c2 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        c1 = _mm512_dpbf16_ps(c1, load_bf16x32(w + i), load_bf16x32(a + i));
        c2 = _mm512_dpbf16_ps(c2, load_bf16x32(w + i + 32), load_bf16x32(a + i + 32));
    }
    double sum = 0.0;
    sum += _mm512_reduce_add_ps(c1);
    sum += _mm512_reduce_add_ps(c2);
    for (; i < n; ++i) sum += static_cast<double>(bf16_to_f32(w[i]) * bf16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

// tinyBLAS's BF16 kernel: one accumulator over 32-element steps (n a multiple of 32), one reduce.
void batched_dot_bf16_dp(int64_t n, float* s, const void* vw, const void* va) {
    const uint16_t* w = static_cast<const uint16_t*>(vw);
    const uint16_t* a = static_cast<const uint16_t*>(va);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i + 32 <= n; i += 32) acc = _mm512_dpbf16_ps(acc, load_bf16x32(w + i), load_bf16x32(a + i));
    *s = _mm512_reduce_add_ps(acc);
}

} // namespace
} // namespace sq::cpu

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace sq::cpu {

VecDotFn quants_avx512_batched_dot(TensorType type) {
    switch (type) {
        case TensorType::F32: return batched_dot<float, load_f32x16>;
        case TensorType::F16: return batched_dot<uint16_t, load_f16x16>;
        case TensorType::BF16: return cpu_has_avx512_bf16() ? batched_dot_bf16_dp : batched_dot<uint16_t, load_bf16x16>;
        default: return nullptr;
    }
}

VecDot4Fn quants_avx512_vec_dot_4(TensorType type, bool vnni) {
    return vnni ? vnni_block32_dot_4(type) : quants_avx2_vec_dot_4(type);
}

void quants_avx512_kernels(TensorType type, bool vnni, TypeKernels* k) {
    if (vnni && vnni_block32_dot(type)) k->vec_dot = vnni_block32_dot(type);
    switch (type) {
        case TensorType::F32: k->vec_dot = vec_dot_f32; break;
        case TensorType::F16: k->vec_dot = vec_dot_f16; break;
        case TensorType::BF16: k->vec_dot = cpu_has_avx512_bf16() ? vec_dot_bf16_dp : vec_dot_bf16; break;
        case TensorType::Q4_K: k->vec_dot = vec_dot_q4_k_q8_k; break;
        case TensorType::Q5_K: k->vec_dot = vec_dot_q5_k_q8_k; break;
        case TensorType::Q6_K: k->vec_dot = vec_dot_q6_k_q8_k; break;
        default: break;
    }
}

} // namespace sq::cpu

#else

namespace sq::cpu {
void quants_avx512_kernels(TensorType, bool, TypeKernels*) {}
VecDotFn quants_avx512_batched_dot(TensorType) { return nullptr; }
VecDot4Fn quants_avx512_vec_dot_4(TensorType, bool) { return nullptr; }
} // namespace sq::cpu

#endif
