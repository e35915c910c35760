// Byte layouts of ggml's quantized blocks (ggml-common.h), shared by every SIMD level.
//
//   type   elems  bytes  layout
//   Q4_0    32     18    f16 d | u8 qs[16]            x = d * (nibble - 8)
//   Q4_1    32     20    f16 d, m | u8 qs[16]         x = d * nibble + m
//   Q5_0    32     22    f16 d | u8 qh[4] | qs[16]    x = d * ((nibble | hbit << 4) - 16)
//   Q5_1    32     24    f16 d, m | qh[4] | qs[16]    x = d * (nibble | hbit << 4) + m
//   Q8_0    32     34    f16 d | i8 qs[32]            x = d * q
//   Q8_1    32     36    f16 d, s | i8 qs[32]         s = d * sum(q) (activations only)
//   Q4_K   256    144    f16 d, dmin | u8 scales[12] | qs[128]
//   Q5_K   256    176    f16 d, dmin | u8 scales[12] | qh[32] | qs[128]
//   Q6_K   256    210    u8 ql[128] | qh[64] | i8 scales[16] | f16 d
//   Q8_K   256    292    f32 d | i8 qs[256] | i16 bsums[16]   (activations only)
//
// In the 32-element types, byte j of qs holds element j in its low nibble and element j + 16 in
// its high nibble; bit j of qh (read as a little-endian u32) is the fifth bit of element j.
// Q4_K/Q5_K: 8 sub-blocks of 32 with 6-bit scale and min each (unpack_scales_k4 below); each
// 64-element chunk uses 32 bytes of qs, low nibbles first. Q6_K: 16 sub-blocks of 16 with int8
// scales; see dequantize_row_q6_k for the bit placement.
//
// Helpers here are `static` for the reason given in common/half.h: SIMD translation units include
// this header too.
#pragma once

#include <cstdint>
#include <cstring>

namespace sq::cpu {

constexpr int QK = 32;     // block size of the 32-element types
constexpr int QK_K = 256;  // super-block size of the K-quants

struct BlockQ4_0 { uint16_t d; uint8_t qs[QK / 2]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[QK / 2]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[QK / 2]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[QK / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[QK]; };
struct BlockQ8_1 { uint16_t d, s; int8_t qs[QK]; };
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[QK_K / 8]; uint8_t qs[QK_K / 2]; };
struct BlockQ6_K { uint8_t ql[QK_K / 2]; uint8_t qh[QK_K / 4]; int8_t scales[QK_K / 16]; uint16_t d; };
struct BlockQ8_K { float d; int8_t qs[QK_K]; int16_t bsums[QK_K / 16]; };

static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 layout");
static_assert(sizeof(BlockQ4_1) == 20, "Q4_1 layout");
static_assert(sizeof(BlockQ5_0) == 22, "Q5_0 layout");
static_assert(sizeof(BlockQ5_1) == 24, "Q5_1 layout");
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 layout");
static_assert(sizeof(BlockQ8_1) == 36, "Q8_1 layout");
static_assert(sizeof(BlockQ4_K) == 144, "Q4_K layout");
static_assert(sizeof(BlockQ5_K) == 176, "Q5_K layout");
static_assert(sizeof(BlockQ6_K) == 210, "Q6_K layout");
static_assert(sizeof(BlockQ8_K) == 292, "Q8_K layout");

static inline uint32_t load_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

// The 12 packed bytes of a Q4_K/Q5_K block as 8 scales and 8 mins (6 bits each):
//   bytes 0-3: sc[0..3] low 6 bits, top 2 bits = sc[4..7] bits 4-5
//   bytes 4-7: mn[0..3] low 6 bits, top 2 bits = mn[4..7] bits 4-5
//   bytes 8-11: low nibble = sc[4..7] bits 0-3, high nibble = mn[4..7] bits 0-3
static inline void unpack_scales_k4(const uint8_t* packed, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; ++j) {
        sc[j] = packed[j] & 63;
        mn[j] = packed[j + 4] & 63;
        sc[j + 4] = (packed[j + 8] & 0xF) | ((packed[j] >> 6) << 4);
        mn[j + 4] = (packed[j + 8] >> 4) | ((packed[j + 4] >> 6) << 4);
    }
}

} // namespace sq::cpu
