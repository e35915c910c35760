// x86 helpers shared by the AVX2 and AVX-512 translation units, as ggml-cpu writes them: the f16
// scale table, the horizontal sum order, and the unpacking of 4-bit and 1-bit fields.
//
// Include only from a *-avx2.cpp / *-avx512.cpp file. Everything here has internal linkage on
// purpose: each translation unit compiles its own copy with its own instruction set, and a shared
// (inline, external) copy could let the linker hand AVX-512 code to the AVX2 path.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "quants-blocks.h"

namespace sq::cpu {

// f16 -> f32 of block scales by table lookup, as ggml-cpu does on x86: two loads per block beat a
// vcvtph2ps round trip through a vector register (about 10% on Q4_0). Filled by
// quants_f16_table_init() (quants_avx2_kernels() calls it) before any kernel is handed out.
extern float quants_f16_table[1 << 16]; // [f16 bits] -> f32
void quants_f16_table_init();

namespace {

inline float h2f(uint16_t h) { return quants_f16_table[h]; }

// Sum of 8 floats in ggml's order: high half + low half, then pairs, then the last two.
inline float hsum_float_8(__m256 x) {
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

// 16 bytes of packed nibbles -> 32 bytes in element order: low nibbles (0..15), then high (16..31).
inline __m256i bytes_from_nibbles_32(const uint8_t* p) {
    const __m128i tmp = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m256i bytes = _mm256_insertf128_si256(_mm256_castsi128_si256(tmp), _mm_srli_epi16(tmp, 4), 1);
    return _mm256_and_si256(bytes, _mm256_set1_epi8(0x0F));
}

// 32 bits -> 32 bytes: 0xFF where the bit is set, 0 elsewhere.
inline __m256i bytes_from_bits_32(const uint8_t* p) {
    const uint32_t x32 = load_u32(p);
    const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101,
                                            0x0202020202020202, 0x0303030303030303);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(x32)), shuf);
    bytes = _mm256_or_si256(bytes, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}

} // namespace
} // namespace sq::cpu
