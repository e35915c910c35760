// CPU tensor-type kernels: dequantization of hand-built blocks, activation quantization bytes,
// vec_dot against a dequantized reference, and agreement between the scalar and SIMD levels.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/quants-blocks.h"
#include "backend/cpu/quants-levels.h"
#include "check.h"
#include "common/half.h"

using namespace sq;
using namespace sq::cpu;

namespace {

constexpr TensorType kWeightTypes[] = {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0,
                                       TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                       TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

const TypeKernels& scalar_kernels(TensorType t) { return *type_kernels_for(t, "scalar"); }

std::vector<float> dequantize(TensorType t, const std::vector<uint8_t>& data, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    scalar_kernels(t).to_float(data.data(), out.data(), n);
    return out;
}

size_t row_bytes(TensorType t, int64_t n) {
    return tensor_row_bytes(tensor_type_traits(static_cast<uint32_t>(t)), static_cast<uint64_t>(n));
}

// ---- (a) dequantization of hand-built blocks --------------------------------------------------
// Scales are powers of two so every expected value is exact whatever the evaluation order.

TEST_CASE("dequantize Q4_0 / Q4_1 hand-built blocks") {
    BlockQ4_0 b0{};
    b0.d = f32_to_f16(0.5f);
    BlockQ4_1 b1{};
    b1.d = f32_to_f16(0.25f);
    b1.m = f32_to_f16(-1.0f);
    for (int j = 0; j < 16; ++j) {
        b0.qs[j] = b1.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    }
    float y0[32], y1[32];
    scalar_kernels(TensorType::Q4_0).to_float(&b0, y0, 32);
    scalar_kernels(TensorType::Q4_1).to_float(&b1, y1, 32);
    for (int e = 0; e < 32; ++e) {
        const int nibble = e < 16 ? e : 15 - (e - 16);
        CHECK_EQ(y0[e], (nibble - 8) * 0.5f);
        CHECK_EQ(y1[e], nibble * 0.25f - 1.0f);
    }
    CHECK_EQ(y0[0], -4.0f);
    CHECK_EQ(y0[16], 3.5f);
    CHECK_EQ(y1[15], 2.75f);
}

TEST_CASE("dequantize Q5_0 / Q5_1 hand-built blocks (fifth bit from qh)") {
    const uint32_t qh = 0x8000A5F1u;
    BlockQ5_0 b0{};
    b0.d = f32_to_f16(-2.0f);
    BlockQ5_1 b1{};
    b1.d = f32_to_f16(0.5f);
    b1.m = f32_to_f16(3.0f);
    std::memcpy(b0.qh, &qh, 4);
    std::memcpy(b1.qh, &qh, 4);
    for (int j = 0; j < 16; ++j) b0.qs[j] = b1.qs[j] = static_cast<uint8_t>((j * 7 % 16) | ((j * 3 % 16) << 4));
    float y0[32], y1[32];
    scalar_kernels(TensorType::Q5_0).to_float(&b0, y0, 32);
    scalar_kernels(TensorType::Q5_1).to_float(&b1, y1, 32);
    for (int e = 0; e < 32; ++e) {
        const int nibble = e < 16 ? (e * 7 % 16) : ((e - 16) * 3 % 16);
        const int q = nibble + 16 * static_cast<int>((qh >> e) & 1);
        CHECK_EQ(y0[e], (q - 16) * -2.0f);
        CHECK_EQ(y1[e], q * 0.5f + 3.0f);
    }
    CHECK_EQ(y0[0], 0.0f);    // nibble 0 with the fifth bit set: q = 16, value 0
    CHECK_EQ(y0[31], -26.0f); // nibble 13 with the fifth bit set: (29 - 16) * -2
    CHECK_EQ(y1[1], 6.5f);    // nibble 7, fifth bit clear: 7 * 0.5 + 3
}

TEST_CASE("dequantize Q8_0 hand-built block with extreme quants") {
    BlockQ8_0 b{};
    b.d = f32_to_f16(0.125f);
    for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j % 2 ? 127 - j : -128 + j);
    float y[32];
    scalar_kernels(TensorType::Q8_0).to_float(&b, y, 32);
    for (int j = 0; j < 32; ++j) CHECK_EQ(y[j], b.qs[j] * 0.125f);
    CHECK_EQ(y[0], -16.0f);
}

// Packs 8 six-bit scales and mins into the 12-byte K-quant layout (independent of the kernels).
void pack_scales_k4(const int sc[8], const int mn[8], uint8_t out[12]) {
    for (int j = 0; j < 4; ++j) {
        out[j] = static_cast<uint8_t>((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        out[j + 4] = static_cast<uint8_t>((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        out[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

TEST_CASE("dequantize Q4_K / Q5_K hand-built blocks") {
    const int sc[8] = {1, 63, 17, 32, 48, 5, 63, 0};
    const int mn[8] = {0, 2, 63, 33, 16, 47, 1, 63};
    BlockQ4_K b4{};
    BlockQ5_K b5{};
    b4.d = b5.d = f32_to_f16(0.25f);
    b4.dmin = b5.dmin = f32_to_f16(0.5f);
    pack_scales_k4(sc, mn, b4.scales);
    pack_scales_k4(sc, mn, b5.scales);
    for (int j = 0; j < 128; ++j) b4.qs[j] = b5.qs[j] = static_cast<uint8_t>(j * 37 + 11);
    for (int j = 0; j < 32; ++j) b5.qh[j] = static_cast<uint8_t>(j * 73 + 5);
    float y4[256], y5[256];
    scalar_kernels(TensorType::Q4_K).to_float(&b4, y4, 256);
    scalar_kernels(TensorType::Q5_K).to_float(&b5, y5, 256);
    for (int e = 0; e < 256; ++e) {
        const int sub = e / 32, chunk = e / 64, l = e % 32;
        const bool high = (e % 64) >= 32;
        const uint8_t byte = b4.qs[32 * chunk + l];
        const int nibble = high ? byte >> 4 : byte & 15;
        CHECK_EQ(y4[e], 0.25f * sc[sub] * nibble - 0.5f * mn[sub]);
        const int fifth = (b5.qh[l] >> sub) & 1; // sub-block s uses bit s of qh
        CHECK_EQ(y5[e], 0.25f * sc[sub] * (nibble + 16 * fifth) - 0.5f * mn[sub]);
    }
    CHECK_EQ(y4[0], 0.25f * 1 * 11 - 0.0f);
}

TEST_CASE("dequantize Q6_K hand-built block (signed scales)") {
    BlockQ6_K b{};
    b.d = f32_to_f16(0.0625f);
    for (int j = 0; j < 128; ++j) b.ql[j] = static_cast<uint8_t>(j * 29 + 3);
    for (int j = 0; j < 64; ++j) b.qh[j] = static_cast<uint8_t>(j * 53 + 7);
    for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j % 3 == 0 ? -128 : 127 - 13 * j);
    float y[256];
    scalar_kernels(TensorType::Q6_K).to_float(&b, y, 256);
    for (int e = 0; e < 256; ++e) {
        const int half = e / 128, r = e % 128, run = r / 32, l = r % 32;
        const uint8_t lbyte = b.ql[64 * half + 32 * (run & 1) + l];
        const int low = run < 2 ? lbyte & 15 : lbyte >> 4;
        const int top = (b.qh[32 * half + l] >> (2 * run)) & 3;
        const int scale = b.scales[8 * half + 2 * run + l / 16];
        CHECK_EQ(y[e], 0.0625f * scale * ((low | (top << 4)) - 32));
    }
}

TEST_CASE("dequantize F16 / BF16 rows") {
    const uint16_t h[4] = {0x3C00, 0xC000, 0x7BFF, 0x0001};
    const uint16_t bf[3] = {0x3F80, 0xC040, 0x0000};
    float yh[4], yb[3];
    scalar_kernels(TensorType::F16).to_float(h, yh, 4);
    scalar_kernels(TensorType::BF16).to_float(bf, yb, 3);
    CHECK_EQ(yh[0], 1.0f);
    CHECK_EQ(yh[1], -2.0f);
    CHECK_EQ(yh[2], 65504.0f);
    CHECK_EQ(yh[3], std::ldexp(1.0f, -24));
    CHECK_EQ(yb[0], 1.0f);
    CHECK_EQ(yb[1], -3.0f);
    CHECK_EQ(yb[2], 0.0f);
}

// ---- (d) activation quantization bytes --------------------------------------------------------

// amax = 127 makes the multiplier exactly 1, so ties land on .5 and show the rounding rule:
// ggml's x86 quantizer rounds half to even (_mm256_round_ps), not away from zero (roundf).
const float kTieInput[32] = {127.0f, 2.5f, 3.5f, -2.5f, 0.5f, 1.5f, -0.5f, -1.5f, 126.5f, -126.5f, 0.0f,
                             -0.0f, 0.49f, 0.51f, -0.51f, 10.25f, -127.0f, 64.5f, 65.5f, 1.0f, 2.0f, 3.0f,
                             4.0f, 5.0f, 6.0f, 7.0f, 8.0f, 9.0f, 11.5f, 12.5f, -13.5f, -14.5f};
const int8_t kTieExpected[32] = {127, 2, 4, -2, 0, 2, 0, -2, 126, -126, 0, 0, 0, 1, -1, 10,
                                 -127, 64, 66, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 12, -14, -14};

TEST_CASE("quantize q8_0 fixed input: round half to even, d = amax / 127") {
    BlockQ8_0 b{};
    type_kernels_for(TensorType::Q8_0, "scalar")->from_float(kTieInput, &b, 32);
    CHECK_EQ(b.d, 0x3C00); // 1.0
    for (int j = 0; j < 32; ++j) CHECK_EQ(static_cast<int>(b.qs[j]), static_cast<int>(kTieExpected[j]));

    // amax = 16: d = 16/127 stored as f16, multiplier 127/16 = 7.9375 exactly
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
    type_kernels_for(TensorType::Q8_0, "scalar")->from_float(x, &b, 32);
    CHECK_EQ(b.d, f32_to_f16(16.0f / 127.0f));
    CHECK_EQ(b.d, 0x3008);
    CHECK_EQ(static_cast<int>(b.qs[0]), -127);
    CHECK_EQ(static_cast<int>(b.qs[17]), 8);   // 7.9375
    CHECK_EQ(static_cast<int>(b.qs[18]), 16);  // 15.875
    CHECK_EQ(static_cast<int>(b.qs[24]), 64);  // 63.5 -> 64 (even)
    CHECK_EQ(static_cast<int>(b.qs[20]), 32);  // 31.75
    CHECK_EQ(static_cast<int>(b.qs[8]), -64);  // -63.5 -> -64 (even)

    // all zeros: d = 0 and zero quants
    const float zeros[32] = {};
    type_kernels_for(TensorType::Q8_0, "scalar")->from_float(zeros, &b, 32);
    CHECK_EQ(b.d, 0);
    for (int j = 0; j < 32; ++j) CHECK_EQ(static_cast<int>(b.qs[j]), 0);
}

TEST_CASE("quantize q8_1 fixed input: s = f16(d * sum of quants)") {
    BlockQ8_1 b{};
    type_kernels_for(TensorType::Q8_1, "scalar")->from_float(kTieInput, &b, 32);
    int sum = 0;
    for (int j = 0; j < 32; ++j) {
        CHECK_EQ(static_cast<int>(b.qs[j]), static_cast<int>(kTieExpected[j]));
        sum += kTieExpected[j];
    }
    CHECK_EQ(sum, 185);
    CHECK_EQ(b.d, 0x3C00);
    CHECK_EQ(b.s, f32_to_f16(185.0f));
    CHECK_EQ(b.s, 0x59C8);
}

TEST_CASE("quantize q8_K fixed input: signed max maps to -127, bsums per 16") {
    std::vector<float> x(256);
    for (int j = 0; j < 256; ++j) x[j] = static_cast<float>((j % 17) - 8) * 0.25f;
    x[5] = 63.5f;    // first of the largest magnitude: the scale follows its sign
    x[200] = -63.5f;
    x[7] = 0.25f;    // -2 * 0.25 = -0.5 -> 0 (ties to even)
    x[9] = 0.75f;    // -1.5 -> -2
    BlockQ8_K b{};
    type_kernels_for(TensorType::Q8_K, "scalar")->from_float(x.data(), &b, 256);
    CHECK_EQ(b.d, -0.5f); // 1 / (-127 / 63.5)
    CHECK_EQ(static_cast<int>(b.qs[5]), -127);
    CHECK_EQ(static_cast<int>(b.qs[200]), 127);
    CHECK_EQ(static_cast<int>(b.qs[7]), 0);
    CHECK_EQ(static_cast<int>(b.qs[9]), -2);
    CHECK_EQ(static_cast<int>(b.qs[0]), 4);  // -2.0 * -2
    for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += b.qs[16 * g + l];
        CHECK_EQ(static_cast<int>(b.bsums[g]), sum);
    }
    std::vector<float> zeros(256, 0.0f);
    type_kernels_for(TensorType::Q8_K, "scalar")->from_float(zeros.data(), &b, 256);
    CHECK_EQ(b.d, 0.0f);
    CHECK_EQ(static_cast<int>(b.qs[100]), 0);
    CHECK_EQ(static_cast<int>(b.bsums[3]), 0);
}

TEST_CASE("vec_dot types and kernel lookup") {
    CHECK(scalar_kernels(TensorType::F32).vec_dot_type == TensorType::F32);
    CHECK(scalar_kernels(TensorType::F16).vec_dot_type == TensorType::F16);
    CHECK(scalar_kernels(TensorType::BF16).vec_dot_type == TensorType::BF16);
    CHECK(scalar_kernels(TensorType::Q4_0).vec_dot_type == TensorType::Q8_0);
    CHECK(scalar_kernels(TensorType::Q5_0).vec_dot_type == TensorType::Q8_0);
    CHECK(scalar_kernels(TensorType::Q8_0).vec_dot_type == TensorType::Q8_0);
    CHECK(scalar_kernels(TensorType::Q4_1).vec_dot_type == TensorType::Q8_1);
    CHECK(scalar_kernels(TensorType::Q5_1).vec_dot_type == TensorType::Q8_1);
    CHECK(scalar_kernels(TensorType::Q4_K).vec_dot_type == TensorType::Q8_K);
    CHECK(scalar_kernels(TensorType::Q5_K).vec_dot_type == TensorType::Q8_K);
    CHECK(scalar_kernels(TensorType::Q6_K).vec_dot_type == TensorType::Q8_K);
    CHECK(type_kernels(TensorType::Q2_K) == nullptr);
    CHECK(type_kernels(static_cast<TensorType>(99)) == nullptr);
    CHECK(type_kernels_for(TensorType::Q4_0, "sse9") == nullptr);
    const char* level = simd_level();
    CHECK(std::strcmp(level, "scalar") == 0 || std::strcmp(level, "avx2") == 0 || std::strcmp(level, "avx512") == 0);
    CHECK(type_kernels(TensorType::Q4_0) == type_kernels_for(TensorType::Q4_0, level));
    for (TensorType t : kWeightTypes) {
        const TypeKernels* k = type_kernels(t);
        CHECK(k && k->vec_dot && k->to_float);
        CHECK(k && type_kernels(k->vec_dot_type)->from_float);
    }
}

// ---- (b) vec_dot against the dequantized reference, (c) scalar vs SIMD levels --------------------

enum class Fill { random, all_ones, all_zeros };
enum class Act { random, zeros, spike, negative };

const char* fill_name(Fill f) { return f == Fill::random ? "random" : f == Fill::all_ones ? "ones" : "zeros"; }
const char* act_name(Act a) {
    return a == Act::random ? "random" : a == Act::zeros ? "zeros" : a == Act::spike ? "spike" : "negative";
}

// Byte offsets of the f16 scale fields inside one block of each quantized type.
std::vector<int> f16_fields(TensorType t) {
    switch (t) {
        case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: return {0};
        case TensorType::Q4_1: case TensorType::Q5_1: case TensorType::Q4_K: case TensorType::Q5_K: return {0, 2};
        case TensorType::Q6_K: return {208};
        default: return {};
    }
}

// Weight rows: quant bits random, all set or all clear; scales random (random fill) or a fixed
// negative value (the others), so the row is never NaN/Inf but covers signs and extremes.
std::vector<uint8_t> make_weights(TensorType t, int64_t n, Fill fill, std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-2.0f, 2.0f);
    std::vector<uint8_t> data(row_bytes(t, n));
    if (t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16) {
        std::vector<float> x(static_cast<size_t>(n));
        for (auto& v : x) v = fill == Fill::random ? uni(rng) : fill == Fill::all_ones ? -60000.0f : 0.0f;
        type_kernels_for(t, "scalar")->from_float(x.data(), data.data(), n);
        return data;
    }
    std::uniform_int_distribution<int> byte(0, 255);
    for (auto& b : data) b = static_cast<uint8_t>(fill == Fill::random ? byte(rng) : fill == Fill::all_ones ? 255 : 0);
    const TensorTypeTraits traits = tensor_type_traits(static_cast<uint32_t>(t));
    std::uniform_real_distribution<float> scale(-0.05f, 0.05f);
    for (size_t blk = 0; blk < data.size() / traits.block_bytes; ++blk) {
        for (int off : f16_fields(t)) {
            const uint16_t h = f32_to_f16(fill == Fill::random ? scale(rng) : -0.0371f);
            std::memcpy(&data[blk * traits.block_bytes + static_cast<size_t>(off)], &h, 2);
        }
    }
    return data;
}

std::vector<float> make_activations(int64_t n, Act kind, std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-3.0f, 3.0f);
    std::vector<float> a(static_cast<size_t>(n));
    for (size_t i = 0; i < a.size(); ++i) {
        switch (kind) {
            case Act::random: a[i] = uni(rng); break;
            case Act::zeros: a[i] = 0.0f; break;
            case Act::spike: a[i] = i == a.size() / 3 ? 5000.0f : uni(rng) * 1e-3f; break;
            case Act::negative: a[i] = -std::fabs(uni(rng)) - 0.5f; break;
        }
    }
    return a;
}

std::string describe(TensorType t, Fill f, Act a, int64_t n, const char* level) {
    return std::string(tensor_type_traits(static_cast<uint32_t>(t)).name) + " weights=" + fill_name(f) +
           " act=" + act_name(a) + " n=" + std::to_string(n) + " level=" + level;
}

// Q4_1/Q5_1 use the f16-rounded block sum s of the Q8_1 activations for their offset term, as
// ggml does; the dequantized reference does not see that rounding, so allow half an f16 ulp of it.
double q8_1_sum_slack(TensorType t, const std::vector<uint8_t>& w, const std::vector<uint8_t>& qa, int64_t n) {
    if (t != TensorType::Q4_1 && t != TensorType::Q5_1) return 0.0;
    const size_t wb = tensor_type_traits(static_cast<uint32_t>(t)).block_bytes;
    double slack = 0.0;
    for (int64_t blk = 0; blk < n / QK; ++blk) {
        uint16_t m;
        std::memcpy(&m, &w[static_cast<size_t>(blk) * wb + 2], 2);
        const BlockQ8_1* a = reinterpret_cast<const BlockQ8_1*>(qa.data()) + blk;
        slack += std::fabs(f16_to_f32(m)) * std::fabs(f16_to_f32(a->s)) * std::ldexp(1.0, -10);
    }
    return slack;
}

struct DotResult { float value; std::vector<uint8_t> activations; };

DotResult run_dot(TensorType t, const char* level, const std::vector<uint8_t>& w, const std::vector<float>& a, int64_t n) {
    const TypeKernels* k = type_kernels_for(t, level);
    const TypeKernels* ka = type_kernels_for(k->vec_dot_type, level);
    DotResult r{0.0f, std::vector<uint8_t>(row_bytes(k->vec_dot_type, n))};
    ka->from_float(a.data(), r.activations.data(), n);
    k->vec_dot(n, &r.value, w.data(), r.activations.data());
    return r;
}

// The SIMD levels this CPU can run (each compared with the scalar reference).
std::vector<const char*> simd_levels() {
    std::vector<const char*> levels;
    for (const char* level : {"avx2", "avx512"}) {
        if (type_kernels_for(TensorType::F32, level)) levels.push_back(level);
    }
    if (levels.empty()) std::printf("  (no SIMD level on this CPU: scalar only)\n");
    return levels;
}

TEST_CASE("vec_dot matches the dequantized dot; SIMD levels agree with scalar") {
    std::mt19937 rng(1234);
    const std::vector<const char*> levels = simd_levels();
    for (TensorType t : kWeightTypes) {
        const int64_t bs = tensor_type_traits(static_cast<uint32_t>(t)).block_size;
        const std::vector<int64_t> sizes = bs == 1 ? std::vector<int64_t>{1, 37, 4109} : std::vector<int64_t>{bs, 4096, bs * 37};
        for (Fill fill : {Fill::random, Fill::all_ones, Fill::all_zeros}) {
            for (Act act : {Act::random, Act::zeros, Act::spike, Act::negative}) {
                for (int64_t n : sizes) {
                    const std::vector<uint8_t> w = make_weights(t, n, fill, rng);
                    const std::vector<float> a = make_activations(n, act, rng);
                    const DotResult ref = run_dot(t, "scalar", w, a, n);
                    const TensorType vt = scalar_kernels(t).vec_dot_type;
                    const std::vector<float> wf = dequantize(t, w, n);
                    const std::vector<float> af = dequantize(vt, ref.activations, n);
                    double exact = 0.0, mag = 0.0;
                    for (int64_t i = 0; i < n; ++i) {
                        exact += static_cast<double>(wf[i]) * af[i];
                        mag += std::fabs(static_cast<double>(wf[i]) * af[i]);
                    }
                    const double tol = 1e-5 * mag + q8_1_sum_slack(t, w, ref.activations, n) + 1e-30;
                    if (!(std::fabs(ref.value - exact) <= tol)) {
                        check::fail(__FILE__, __LINE__, describe(t, fill, act, n, "scalar") + ": " +
                                    std::to_string(ref.value) + " vs dequantized " + std::to_string(exact));
                    }
                    for (const char* level : levels) {
                        const DotResult simd = run_dot(t, level, w, a, n);
                        if (simd.activations != ref.activations) {
                            check::fail(__FILE__, __LINE__, describe(t, fill, act, n, level) + ": activation bytes differ");
                        }
                        if (!(std::fabs(simd.value - ref.value) <= 1e-5 * mag + 1e-30)) {
                            check::fail(__FILE__, __LINE__, describe(t, fill, act, n, level) + ": " +
                                        std::to_string(simd.value) + " vs scalar " + std::to_string(ref.value));
                        }
                    }
                }
            }
        }
    }
}

// Activation quantizers see every float the model produces; the scalar and AVX2 paths must write
// the same bytes, including for ties, tiny and huge values.
TEST_CASE("activation quantizers: scalar and SIMD bytes identical") {
    const std::vector<const char*> levels = simd_levels();
    std::mt19937 rng(99);
    std::uniform_real_distribution<float> exponent(-20.0f, 20.0f);
    std::uniform_int_distribution<int> small(-300, 300);
    const int64_t n = 256 * 8;
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<float> x(n);
        for (int64_t i = 0; i < n; ++i) {
            // alternate wide-range values with multiples of 0.5 that create exact .5 ties
            x[i] = (i + trial) % 3 ? std::ldexp(1.0f, static_cast<int>(exponent(rng))) * (small(rng) / 300.0f)
                                   : small(rng) * 0.5f;
        }
        for (TensorType t : {TensorType::Q8_0, TensorType::Q8_1, TensorType::Q8_K, TensorType::F16, TensorType::BF16}) {
            std::vector<uint8_t> a(row_bytes(t, n)), b(row_bytes(t, n));
            type_kernels_for(t, "scalar")->from_float(x.data(), a.data(), n);
            for (const char* level : levels) {
                type_kernels_for(t, level)->from_float(x.data(), b.data(), n);
                if (a != b) {
                    check::fail(__FILE__, __LINE__, std::string(tensor_type_traits(static_cast<uint32_t>(t)).name) +
                                " bytes differ at " + level);
                }
            }
        }
    }
}

TEST_CASE("dequantize: scalar and SIMD give identical floats") {
    const std::vector<const char*> levels = simd_levels();
    std::mt19937 rng(7);
    for (TensorType t : kWeightTypes) {
        const int64_t n = 4096;
        const std::vector<uint8_t> w = make_weights(t, n, Fill::random, rng);
        std::vector<float> a(n), b(n);
        type_kernels_for(t, "scalar")->to_float(w.data(), a.data(), n);
        for (const char* level : levels) {
            type_kernels_for(t, level)->to_float(w.data(), b.data(), n);
            CHECK(std::memcmp(a.data(), b.data(), n * sizeof(float)) == 0);
        }
    }
}

// The tinyBLAS-order dots (prefill products of float weights) compute the same dot to f32 rounding.
TEST_CASE("batched_vec_dot: float types only, same dot as the dequantized reference") {
    std::mt19937 rng(5);
    struct Level { const char* name; VecDotFn (*get)(TensorType); int lanes; };
    const Level levels[] = {{"avx2", quants_avx2_batched_dot, 8}, {"avx512", quants_avx512_batched_dot, 16}};
    CHECK(batched_vec_dot(TensorType::Q4_0) == nullptr);
    CHECK(batched_dot_lanes() == (std::strcmp(simd_level(), "avx512") == 0 ? 16 : std::strcmp(simd_level(), "avx2") == 0 ? 8 : 0));
    CHECK(batched_dot_cols(TensorType::F16) == batched_dot_lanes());
    const bool avx512 = std::strcmp(simd_level(), "avx512") == 0;
    CHECK(batched_dot_cols(TensorType::BF16) == (avx512 && cpu_has_avx512_bf16() ? 32 : batched_dot_lanes()));
    for (const Level& level : levels) {
        if (!type_kernels_for(TensorType::F32, level.name)) continue;
        CHECK(level.get(TensorType::Q8_0) == nullptr);
        for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16}) {
            const VecDotFn dot = level.get(t);
            CHECK(dot != nullptr);
            if (!dot) continue;
            // vdpbf16ps steps over 32 BF16 columns (batched_dot_cols)
            const bool dp_bf16 = t == TensorType::BF16 && level.lanes == 16 && cpu_has_avx512_bf16();
            const int64_t step = dp_bf16 ? 32 : level.lanes;
            for (int64_t n : {step, static_cast<int64_t>(64), static_cast<int64_t>(4096)}) {
                const std::vector<uint8_t> w = make_weights(t, n, Fill::random, rng);
                const std::vector<float> a = make_activations(n, Act::random, rng);
                std::vector<uint8_t> qa(row_bytes(t, n));
                type_kernels_for(t, level.name)->from_float(a.data(), qa.data(), n);
                const std::vector<float> wf = dequantize(t, w, n), af = dequantize(t, qa, n);
                double exact = 0.0, mag = 0.0;
                for (int64_t i = 0; i < n; ++i) {
                    exact += static_cast<double>(wf[i]) * af[i];
                    mag += std::fabs(static_cast<double>(wf[i]) * af[i]);
                }
                float got = 0.0f;
                dot(n, &got, w.data(), qa.data());
                if (!(std::fabs(got - exact) <= 1e-5 * mag)) {
                    check::fail(__FILE__, __LINE__, describe(t, Fill::random, Act::random, n, level.name) + ": batched " +
                                std::to_string(got) + " vs " + std::to_string(exact));
                }
            }
        }
    }
}

// llama.cpp's repacked-Q4_0 order: one accumulator over blocks, fma(isum, d_w * d_a, acc), exactly.
TEST_CASE("repacked_vec_dot: Q4_0 only, block after block in one f32 accumulator") {
    std::mt19937 rng(17);
    CHECK(repacked_vec_dot(TensorType::Q8_0) == nullptr);
    CHECK(quants_avx2_repacked_dot(TensorType::Q4_1) == nullptr);
    const VecDotFn dot = quants_avx2_repacked_dot(TensorType::Q4_0);
    if (!type_kernels_for(TensorType::Q4_0, "avx2")) return; // no AVX2 on this CPU
    CHECK(dot != nullptr);
    if (!dot) return;
    for (int64_t n : {static_cast<int64_t>(32), static_cast<int64_t>(576), static_cast<int64_t>(4096)}) {
        const std::vector<uint8_t> w = make_weights(TensorType::Q4_0, n, Fill::random, rng);
        const std::vector<float> x = make_activations(n, Act::random, rng);
        std::vector<uint8_t> qa(row_bytes(TensorType::Q8_0, n));
        type_kernels_for(TensorType::Q8_0, "scalar")->from_float(x.data(), qa.data(), n);
        const auto* wb = reinterpret_cast<const BlockQ4_0*>(w.data());
        const auto* ab = reinterpret_cast<const BlockQ8_0*>(qa.data());
        float want = 0.0f;
        for (int64_t b = 0; b < n / 32; ++b) {
            int32_t isum = 0;
            for (int j = 0; j < 16; ++j) {
                isum += ((wb[b].qs[j] & 0x0F) - 8) * ab[b].qs[j] + ((wb[b].qs[j] >> 4) - 8) * ab[b].qs[j + 16];
            }
            want = std::fma(static_cast<float>(isum), f16_to_f32(wb[b].d) * f16_to_f32(ab[b].d), want);
        }
        float got = 0.0f;
        dot(n, &got, w.data(), qa.data());
        CHECK(std::memcmp(&got, &want, sizeof got) == 0);
    }
}

// llama.cpp's repacked-Q4_K order: exact integer sums, one fma pair per 64 elements (GEMM) or per
// 256-element super-block (GEMV), then acc - acc_min.
TEST_CASE("repacked_vec_dot: Q4_K per 64 elements, repacked_vec_dot_1row per super-block") {
    std::mt19937 rng(19);
    if (!type_kernels_for(TensorType::Q4_K, "avx2")) return; // no AVX2 on this CPU
    const VecDotFn gemm = quants_avx2_repacked_dot(TensorType::Q4_K), gemv = quants_avx2_repacked_dot_1row(TensorType::Q4_K);
    CHECK(gemm != nullptr && gemv != nullptr && gemm != gemv);
    if (!gemm || !gemv) return;
    const int64_t n = 3 * 256;
    const std::vector<uint8_t> w = make_weights(TensorType::Q4_K, n, Fill::random, rng);
    const std::vector<float> x = make_activations(n, Act::random, rng);
    std::vector<uint8_t> qa(row_bytes(TensorType::Q8_K, n));
    type_kernels_for(TensorType::Q8_K, "scalar")->from_float(x.data(), qa.data(), n);
    const auto* wb = reinterpret_cast<const BlockQ4_K*>(w.data());
    const auto* ab = reinterpret_cast<const BlockQ8_K*>(qa.data());
    for (int step : {64, 256}) {
        float acc = 0.0f, acc_min = 0.0f;
        for (int64_t b = 0; b < n / 256; ++b) {
            uint8_t sc[8], mn[8];
            unpack_scales_k4(wb[b].scales, sc, mn);
            int32_t isum = 0, imin = 0;
            for (int e = 0; e < 256; ++e) {
                const int sub = e / 32, q = (wb[b].qs[32 * (sub / 2) + e % 32] >> (4 * (sub % 2))) & 0x0F;
                isum += sc[sub] * q * ab[b].qs[e];
                if (e % 32 == 0) imin += mn[sub] * (ab[b].bsums[2 * sub] + ab[b].bsums[2 * sub + 1]);
                if ((e + 1) % step == 0) {
                    acc = std::fma(static_cast<float>(isum), f16_to_f32(wb[b].d) * ab[b].d, acc);
                    acc_min = std::fma(static_cast<float>(imin), f16_to_f32(wb[b].dmin) * ab[b].d, acc_min);
                    isum = imin = 0;
                }
            }
        }
        const float want = acc - acc_min;
        float got = 0.0f;
        (step == 64 ? gemm : gemv)(n, &got, w.data(), qa.data());
        if (std::memcmp(&got, &want, sizeof got) != 0) {
            check::fail(__FILE__, __LINE__, "Q4_K fma every " + std::to_string(step) + ": " + std::to_string(got) + " vs " + std::to_string(want));
        }
    }
}

// The 4-row dots must give the bits of four one-row dots, for every row of a group.
TEST_CASE("vec_dot_4rows: bit-identical to vec_dot row by row") {
    std::mt19937 rng(11);
    CHECK(vec_dot_4rows_for(TensorType::Q4_0, "scalar") == nullptr);
    for (const char* level : simd_levels()) {
        CHECK(vec_dot_4rows_for(TensorType::Q6_K, level) == nullptr);
        for (TensorType t : {TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1, TensorType::Q8_0}) {
            const VecDot4Fn dot4 = vec_dot_4rows_for(t, level);
            CHECK(dot4 != nullptr);
            if (!dot4) continue;
            const TypeKernels* k = type_kernels_for(t, level);
            for (int64_t n : {static_cast<int64_t>(32), static_cast<int64_t>(32 * 37), static_cast<int64_t>(4096)}) {
                for (Fill fill : {Fill::random, Fill::all_ones}) {
                    const size_t rb = row_bytes(t, n);
                    std::vector<uint8_t> w;
                    for (int r = 0; r < 4; ++r) {
                        const std::vector<uint8_t> row = make_weights(t, n, fill, rng);
                        w.insert(w.end(), row.begin(), row.end());
                    }
                    const std::vector<float> a = make_activations(n, Act::random, rng);
                    std::vector<uint8_t> qa(row_bytes(k->vec_dot_type, n));
                    type_kernels_for(k->vec_dot_type, level)->from_float(a.data(), qa.data(), n);
                    float four[4], one[4];
                    dot4(n, four, w.data(), rb, qa.data());
                    for (int r = 0; r < 4; ++r) k->vec_dot(n, &one[r], w.data() + rb * r, qa.data());
                    if (std::memcmp(four, one, sizeof four) != 0) {
                        check::fail(__FILE__, __LINE__, describe(t, fill, Act::random, n, level) + ": 4-row dot differs");
                    }
                }
            }
        }
    }
}

} // namespace

int main() { return run_all_tests(); }
