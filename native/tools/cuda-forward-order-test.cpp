// cuda-forward-order-test: the scalar pieces the GPU forward pass borrows from llama.cpp's CPU
// numerics (kernels/ggml-order.cuh) give the CPU ops' bits, on the host, without a GPU: ggml's
// expf and SiLU per lane, and attention computed in the order kernels/attention-batch.cu follows,
// against cpu::swiglu and cpu::attention_f16. The CPU takes that order only on AVX-512 machines
// (as llama.cpp's AVX-512 build); elsewhere the test says so and checks nothing.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../../kernels/ggml-order.cuh"
#include "../../test/native/check.h"
#include "backend/cpu/ops.h"
#include "common/half.h"

using namespace sq;

namespace {

bool cpu_has_ggml_order() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

// attention-batch.cu's steps for one (token, head), on the host.
void attention_gpu_order(const float* q, const uint16_t* k, const uint16_t* v, int n_kv, int hd, float scale,
                         bool single_token, float* out) {
    std::vector<float> q16(hd), s((n_kv + 15) / 16 * 16);
    for (int d = 0; d < hd; ++d) q16[d] = ggml_order::round_f16(q[d]);
    const bool chain = !single_token && hd % 16 == 0;
    float max = -INFINITY;
    for (int j = 0; j < n_kv; ++j) {
        const uint16_t* kj = k + size_t(j) * hd;
        s[j] = (chain ? ggml_order::dot_chain16(kj, q16.data(), hd) : ggml_order::dot_vec_f16(kj, q16.data(), hd)) * scale;
        max = std::fmax(max, s[j]);
    }
    double sum = 0;
    for (int c = 0; c < (n_kv + 15) / 16; ++c) {
        float e[16];
        for (int l = 0; l < 16; ++l) {
            const int j = 16 * c + l;
            e[l] = j < n_kv ? ggml_order::expf_ggml(s[j] - max) : 0.0f;
            if (j < n_kv) s[j] = e[l];
        }
        sum += static_cast<double>(ggml_order::reduce_add16(e));
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int j = 0; j < n_kv; ++j) s[j] = ggml_order::round_f16(s[j] * inv);
    for (int d = 0; d < hd; ++d) {
        float lane[16] = {};
        if (single_token) {
            float acc[64] = {};
            for (int j = 0; j < n_kv; ++j) acc[j & 63] = std::fma(f16_to_f32(v[size_t(j) * hd + d]), s[j], acc[j & 63]);
            for (int l = 0; l < 16; ++l) lane[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]);
        } else {
            for (int j = 0; j < n_kv; ++j) lane[j & 15] = std::fma(f16_to_f32(v[size_t(j) * hd + d]), s[j], lane[j & 15]);
        }
        out[d] = ggml_order::tree16(lane);
    }
}

TEST_CASE("ggml expf and SiLU per lane equal the CPU's vector SiLU bit for bit") {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-90.0f, 90.0f);
    std::vector<float> g(4096), ones(4096, 1.0f), y(4096);
    for (float& x : g) x = u(rng);
    g[0] = 0.0f; g[1] = -0.0f; g[2] = 1e-30f; g[3] = -200.0f; g[4] = 200.0f;
    cpu::swiglu(g.data(), ones.data(), y.data(), static_cast<int64_t>(g.size()));
    int differ = 0;
    for (size_t i = 0; i < g.size(); ++i) differ += bits(ggml_order::silu_ggml(g[i])) != bits(y[i]);
    std::printf("  silu: %d of %zu differ\n", differ, g.size());
    CHECK_EQ(differ, 0);
}

TEST_CASE("attention in the GPU kernel's order equals cpu::attention_f16 bit for bit") {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd;
    int cases = 0, differ = 0;
    for (int hd : {64, 128, 80}) {
        for (int n_kv : {1, 7, 16, 17, 64, 65, 300}) {
            for (bool single : {true, false}) {
                std::vector<float> q(hd), ref(hd), ours(hd), scores((n_kv + 15) / 16 * 16);
                std::vector<uint16_t> k(size_t(n_kv) * hd), v(size_t(n_kv) * hd), q16(hd), p16(scores.size());
                for (float& x : q) x = 2.0f * nd(rng);
                for (uint16_t& x : k) x = f32_to_f16(nd(rng));
                for (uint16_t& x : v) x = f32_to_f16(nd(rng));
                const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
                cpu::attention_f16(q.data(), k.data(), v.data(), n_kv, hd, scale, single, scores.data(), q16.data(),
                                   p16.data(), ref.data());
                attention_gpu_order(q.data(), k.data(), v.data(), n_kv, hd, scale, single, ours.data());
                ++cases;
                bool same = true;
                for (int d = 0; d < hd; ++d) same = same && bits(ours[d]) == bits(ref[d]);
                differ += !same;
                if (!same) std::printf("  differs: head_dim %d, %d keys, %s\n", hd, n_kv, single ? "one token" : "batch");
            }
        }
    }
    std::printf("  attention: %d of %d cases differ\n", differ, cases);
    CHECK_EQ(differ, 0);
}

} // namespace

int main() {
    if (!cpu_has_ggml_order()) {
        std::printf("cuda-forward-order-test: skipped (this CPU runs the plain order, not llama.cpp's AVX-512 one)\n");
        return 0;
    }
    return run_all_tests();
}
