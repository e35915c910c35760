// Decode attention over an F16 cache (cpu::attention_f16 with one token) against a plain scalar
// rendition of the kernels llama.cpp's AVX-512 build runs for it: the fast paths of ops-attention.cpp
// (16 keys reduced together, accumulators held in registers) must give the very same bits.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/ops-expf.h"
#include "backend/cpu/ops.h"
#include "check.h"
#include "common/half.h"

// GCC 12's AVX-512 headers trip its own uninitialised-value warning (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

using namespace sq;

namespace {

// 16 lanes summed as _mm512_reduce_add_ps does: pairs 8 apart, then 4, 2, 1.
float tree16(float lane[16]) {
    for (int w = 8; w >= 1; w /= 2) {
        for (int i = 0; i < w; ++i) lane[i] += lane[i + w];
    }
    return lane[0];
}

// ggml_vec_dot_f16 (AVX-512 build): element i of each 64-element step in chain (i / 16) % 4, lane
// i % 16, one FMA each; chains added 0+2, 1+3, then together; lanes by tree16; the n % 64 tail
// added in double.
float vec_dot_f16_ref(const std::vector<float>& x, const std::vector<float>& y) {
    const size_t n = x.size(), np = n & ~size_t{63};
    float chain[4][16] = {};
    for (size_t i = 0; i < np; ++i) chain[(i / 16) % 4][i % 16] = std::fma(x[i], y[i], chain[(i / 16) % 4][i % 16]);
    float lane[16];
    for (int l = 0; l < 16; ++l) lane[l] = (chain[0][l] + chain[2][l]) + (chain[1][l] + chain[3][l]);
    double sum = tree16(lane);
    for (size_t i = np; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
    return static_cast<float>(sum);
}

// ggml_soft_max_ext of one row: scaled, max-subtracted, ggml's vector exp over 16-key chunks
// (masked keys give 0), chunk sums (tree16) added in double, then one multiply by 1/sum.
__attribute__((target("avx512f,avx512dq"))) std::vector<float> soft_max_ref(std::vector<float> x, float scale) {
    float max = -INFINITY;
    for (float& v : x) {
        v *= scale;
        max = std::fmax(max, v);
    }
    const size_t n = x.size();
    x.resize((n + 15) & ~size_t{15}, -INFINITY);
    double sum = 0.0;
    for (size_t i = 0; i < x.size(); i += 16) {
        float e[16];
        _mm512_storeu_ps(e, cpu::expf_ggml16(_mm512_sub_ps(_mm512_loadu_ps(&x[i]), _mm512_set1_ps(max))));
        std::memcpy(&x[i], e, sizeof e);
        sum += static_cast<double>(tree16(e));
    }
    x.resize(n);
    const float inv = static_cast<float>(1.0 / sum);
    for (float& v : x) v *= inv;
    return x;
}

struct Case {
    std::vector<uint16_t> q16, k, v; // q [head_dim], k and v [n_kv][head_dim]
    std::vector<float> q;
    uint32_t n_kv, head_dim;
};

Case random_case(uint32_t n_kv, uint32_t head_dim, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Case c{{}, {}, {}, {}, n_kv, head_dim};
    for (uint32_t i = 0; i < head_dim; ++i) c.q.push_back(2.0f * normal(rng));
    for (size_t i = 0; i < size_t{n_kv} * head_dim; ++i) {
        c.k.push_back(f32_to_f16(normal(rng)));
        c.v.push_back(f32_to_f16(normal(rng)));
    }
    return c;
}

// The single-token F16 attention of llama.cpp (flash attention off): KQ by vec_dot_f16 per key, with
// the query rounded to F16; softmax; probabilities rounded to F16; KQV by vec_dot_f16 over the keys
// of each output dim (V is stored transposed there), the keys padded to a multiple of 256 with
// probability 0, which adds nothing.
std::vector<float> attention_ref(const Case& c, float scale) {
    const uint32_t d = c.head_dim;
    std::vector<float> q(d), row(d), scores(c.n_kv);
    for (uint32_t i = 0; i < d; ++i) q[i] = f16_to_f32(f32_to_f16(c.q[i]));
    for (uint32_t j = 0; j < c.n_kv; ++j) {
        for (uint32_t i = 0; i < d; ++i) row[i] = f16_to_f32(c.k[size_t{j} * d + i]);
        scores[j] = vec_dot_f16_ref(row, q);
    }
    std::vector<float> p = soft_max_ref(scores, scale);
    const size_t padded = (c.n_kv + 255) & ~size_t{255};
    std::vector<float> prob(padded, 0.0f), column(padded, 0.0f), out(d);
    for (uint32_t j = 0; j < c.n_kv; ++j) prob[j] = f16_to_f32(f32_to_f16(p[j]));
    for (uint32_t i = 0; i < d; ++i) {
        for (uint32_t j = 0; j < c.n_kv; ++j) column[j] = f16_to_f32(c.v[size_t{j} * d + i]);
        out[i] = vec_dot_f16_ref(column, prob);
    }
    return out;
}

std::vector<float> attention_ours(const Case& c, float scale) {
    const size_t n16 = (c.n_kv + 15) & ~size_t{15};
    std::vector<float> scores(n16), out(c.head_dim);
    std::vector<uint16_t> q16(c.head_dim), p16(n16);
    cpu::attention_f16(c.q.data(), c.k.data(), c.v.data(), c.n_kv, c.head_dim, scale, true, scores.data(), q16.data(),
                       p16.data(), out.data());
    return out;
}

int differing_bits(const std::vector<float>& a, const std::vector<float>& b) {
    int n = 0;
    for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return n;
}

} // namespace

TEST_CASE("single-token F16 attention has llama.cpp's bits at awkward lengths and head sizes") {
    if (!cpu::cpu_has_expf_ggml16()) {
        std::printf("  skipped: llama.cpp's order is followed on AVX-512 CPUs only\n");
        return;
    }
    for (uint32_t head_dim : {64u, 128u, 256u, 80u, 16u}) {
        for (uint32_t n_kv : {1u, 15u, 16u, 17u, 63u, 64u, 65u, 255u, 257u, 1000u, 4099u}) {
            const Case c = random_case(n_kv, head_dim, n_kv * 131 + head_dim);
            const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
            const std::vector<float> want = attention_ref(c, scale), got = attention_ours(c, scale);
            const int bad = differing_bits(want, got);
            if (bad) std::printf("  head_dim %u, n_kv %u: %d of %u outputs differ\n", head_dim, n_kv, bad, head_dim);
            CHECK_EQ(bad, 0);
        }
    }
}

TEST_CASE("single-token F16 attention: one dominant key takes its value row") {
    Case c = random_case(300, 64, 7);
    for (uint32_t i = 0; i < 64; ++i) c.k[size_t{123} * 64 + i] = f32_to_f16(c.q[i] > 0 ? 8.0f : -8.0f);
    const std::vector<float> out = attention_ours(c, 0.125f);
    for (uint32_t i = 0; i < 64; ++i) CHECK_NEAR(out[i], f16_to_f32(c.v[size_t{123} * 64 + i]), 1e-3);
}

int main() { return run_all_tests(); }
