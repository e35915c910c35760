// IEEE half and bfloat16 conversions, bit-exact with ggml's (round to nearest even; NaN kept).
// f32_to_f16 matches the F16C instruction for every non-NaN float (checked exhaustively).
//
// The functions are `static` on purpose: SIMD translation units (*-avx2.cpp, *-avx512.cpp) are
// compiled with wider instruction sets, and an inline function with external linkage compiled
// there could be the copy the linker keeps for the whole program, running AVX code on a CPU
// without it. Internal linkage gives each translation unit its own copy.
#pragma once

#include <cstdint>
#include <cstring>

namespace sq {

static inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
static inline uint32_t f32_to_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

static inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    const uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000 | (mant << 13));
    if (exp == 0) {
        if (mant == 0) return f32_from_bits(sign);
        // subnormal: value = mant * 2^-24
        float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

static inline uint16_t f32_to_f16(float f) {
    const uint32_t x = f32_to_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000;
    uint32_t abs = x & 0x7fffffff;
    if (abs > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00); // NaN
    if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00); // rounds to >= 65520: inf
    if (abs < 0x38800000) { // subnormal half or zero
        if (abs < 0x33000000) return static_cast<uint16_t>(sign);
        const uint32_t e = abs >> 23;
        const uint32_t m = (abs & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - e; // 14..24
        uint32_t half = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) ++half;
        return static_cast<uint16_t>(sign | half);
    }
    uint32_t h = ((abs - 0x38000000) >> 13);
    const uint32_t rem = abs & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
    return static_cast<uint16_t>(sign | h);
}

static inline float bf16_to_f32(uint16_t b) { return f32_from_bits(static_cast<uint32_t>(b) << 16); }

static inline uint16_t f32_to_bf16(float f) {
    uint32_t u = f32_to_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 64); // quiet NaN
    u += 0x7fff + ((u >> 16) & 1);
    return static_cast<uint16_t>(u >> 16);
}

} // namespace sq
