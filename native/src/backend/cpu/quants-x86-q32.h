// The dots of the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 against Q8_0/Q8_1) in
// ggml-cpu's x86 order, templated on whether the integer dot uses AVX512-VNNI (one vpdpbusd) or
// AVX2 (maddubs + madd). Both give the same integers, so both produce the same bits as
// llama.cpp's haswell and icelake builds.
//
// Include only from a *-avx2.cpp / *-avx512.cpp file (internal linkage: see quants-x86.h). The
// AVX-512 file includes it inside a VNNI target region.
#pragma once

#include "quants-x86.h"

namespace sq::cpu {
namespace {

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

// One block of each type: acc = fma(d_w * d_a, integer dot, acc), and for the types with an
// offset m also sum_m += m * s. The row drivers below call it for 1 or 4 rows per block.

template <bool kVnni>
struct DotQ4_0 {
    using W = BlockQ4_0;
    using A = BlockQ8_0;
    static constexpr bool kHasMin = false;
    static void block(const W& w, const A& a, __m256& acc, float&) {
        const __m256 d = _mm256_set1_ps(h2f(w.d) * h2f(a.d));
        const __m256i qw = _mm256_sub_epi8(bytes_from_nibbles_32(w.qs), _mm256_set1_epi8(8));
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float<kVnni>(qw, qa), acc);
    }
};

template <bool kVnni>
struct DotQ4_1 {
    using W = BlockQ4_1;
    using A = BlockQ8_1;
    static constexpr bool kHasMin = true;
    static void block(const W& w, const A& a, __m256& acc, float& sum_m) {
        sum_m += h2f(w.m) * h2f(a.s);
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(h2f(w.d)), _mm256_set1_ps(h2f(a.d)));
        const __m256i qw = bytes_from_nibbles_32(w.qs);
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
        acc = _mm256_fmadd_ps(d, mul_sum_us8_pairs_float<kVnni>(qw, qa), acc);
    }
};

// Q5_0: a clear fifth bit turns the nibble n into n | 0xF0 = n - 16 as int8; a set one leaves n.
template <bool kVnni>
struct DotQ5_0 {
    using W = BlockQ5_0;
    using A = BlockQ8_0;
    static constexpr bool kHasMin = false;
    static void block(const W& w, const A& a, __m256& acc, float&) {
        const __m256 d = _mm256_set1_ps(h2f(w.d) * h2f(a.d));
        const __m256i hi = _mm256_andnot_si256(bytes_from_bits_32(w.qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
        const __m256i qw = _mm256_or_si256(bytes_from_nibbles_32(w.qs), hi);
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float<kVnni>(qw, qa), acc);
    }
};

template <bool kVnni>
struct DotQ5_1 {
    using W = BlockQ5_1;
    using A = BlockQ8_1;
    static constexpr bool kHasMin = true;
    static void block(const W& w, const A& a, __m256& acc, float& sum_m) {
        sum_m += h2f(w.m) * h2f(a.s);
        const __m256i hi = _mm256_and_si256(bytes_from_bits_32(w.qh), _mm256_set1_epi8(0x10));
        const __m256i qw = _mm256_or_si256(bytes_from_nibbles_32(w.qs), hi);
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(h2f(w.d)), _mm256_set1_ps(h2f(a.d)));
        acc = _mm256_fmadd_ps(mul_sum_us8_pairs_float<kVnni>(qw, qa), d, acc);
    }
};

template <bool kVnni>
struct DotQ8_0 {
    using W = BlockQ8_0;
    using A = BlockQ8_0;
    static constexpr bool kHasMin = false;
    static void block(const W& w, const A& a, __m256& acc, float&) {
        const __m256 d = _mm256_set1_ps(h2f(w.d) * h2f(a.d));
        const __m256i qw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w.qs));
        const __m256i qa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
        acc = _mm256_fmadd_ps(d, mul_sum_i8_pairs_float<kVnni>(qw, qa), acc);
    }
};

// R rows `stride` bytes apart against one activation row. Each row keeps its own accumulator and
// block order, so every s[r] has the bits of a one-row dot; with R = 4 the four FMA chains
// overlap instead of waiting on each other's latency.
//
// Reading R rows block by block jumps back and forth by a row inside the weights, which the
// hardware prefetchers do not follow: from memory (a decode GEMV larger than the caches) the
// 4-row dot ran at a quarter of the 1-row dot's speed (quants-bench, 49152 x 576 Q8_0). So with
// R > 1 each block step also prefetches R blocks' worth of bytes kPrefetchBytes past the R rows,
// which walks through the next rows at the pace they are read (callers walk rows upwards; bytes
// past the matrix are only prefetched, which never faults). 1-6 KiB measured alike, within the
// noise of the shared machine.
constexpr size_t kPrefetchBytes = 3072;

template <class K, int R>
void dot_rows(int64_t n, float* s, const void* vw, size_t stride, const void* va) {
    const typename K::A* a = static_cast<const typename K::A*>(va);
    const typename K::W* w[R];
    __m256 acc[R];
    float sum_m[R];
    for (int r = 0; r < R; ++r) {
        w[r] = reinterpret_cast<const typename K::W*>(static_cast<const uint8_t*>(vw) + stride * static_cast<size_t>(r));
        acc[r] = _mm256_setzero_ps();
        sum_m[r] = 0.0f;
    }
    constexpr size_t kStep = R * sizeof(typename K::W); // bytes of the group ahead per block step
    // an address, not a pointer: it may run past the weights
    uintptr_t ahead = reinterpret_cast<uintptr_t>(vw) + R * stride + kPrefetchBytes;
    for (int64_t i = 0; i < n / QK; ++i, ahead += kStep) {
        if constexpr (R > 1) {
            for (size_t off = 0; off < kStep; off += 64) _mm_prefetch(reinterpret_cast<const char*>(ahead + off), _MM_HINT_T0);
        }
        for (int r = 0; r < R; ++r) K::block(w[r][i], a[i], acc[r], sum_m[r]);
    }
    for (int r = 0; r < R; ++r) s[r] = K::kHasMin ? hsum_float_8(acc[r]) + sum_m[r] : hsum_float_8(acc[r]);
}

template <class K>
void vec_dot(int64_t n, float* s, const void* w, const void* a) {
    dot_rows<K, 1>(n, s, w, 0, a);
}

template <class K>
void vec_dot_4(int64_t n, float* s, const void* w, size_t stride, const void* a) {
    dot_rows<K, 4>(n, s, w, stride, a);
}

} // namespace
} // namespace sq::cpu
