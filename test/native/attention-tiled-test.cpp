// The tiled prefill attention (cpu::attention_tiled) against a double-precision reference on
// awkward shapes: GQA groups 1, 3 and 4 (and 32 query heads per KV head), head dims 64 and 128,
// batches whose length and start are not multiples of any tile, F16 and F32 caches, one and two
// threads, at every SIMD level this CPU has. The error bar is relative to the per-head f32
// kernel's own error (cpu::attention_f32) on the same case, as flash-attention tests do.
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/attention-tiled.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/thread-pool.h"
#include "check.h"
#include "common/half.h"

using namespace sq;

namespace {

struct Shape {
    uint32_t n_heads, n_kv_heads, head_dim, pos0, n_tokens;
};

struct Case {
    Shape s;
    uint32_t n_ctx;                 // cache rows per KV head; rows past pos0 + n_tokens hold NaN
    std::vector<float> q;           // [n_tokens][n_heads][head_dim]
    std::vector<float> k, v;        // [n_kv_heads][n_ctx][head_dim], values as stored (F16-exact when f16)
    std::vector<uint16_t> k16, v16; // the same as F16
};

Case random_case(const Shape& s, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Case c{s, s.pos0 + s.n_tokens + 5, {}, {}, {}, {}, {}};
    const size_t cache = size_t{s.n_kv_heads} * c.n_ctx * s.head_dim;
    c.q.resize(size_t{s.n_tokens} * s.n_heads * s.head_dim);
    // Queries twice as large as keys make the softmax peaked, so masking mistakes show.
    for (float& x : c.q) x = 2.0f * normal(rng);
    c.k.assign(cache, std::numeric_limits<float>::quiet_NaN());
    c.v.assign(cache, std::numeric_limits<float>::quiet_NaN());
    for (uint32_t h = 0; h < s.n_kv_heads; ++h) {
        for (size_t i = 0; i < size_t{s.pos0 + s.n_tokens} * s.head_dim; ++i) {
            const size_t at = size_t{h} * c.n_ctx * s.head_dim + i;
            c.k[at] = f16_to_f32(f32_to_f16(normal(rng)));
            c.v[at] = f16_to_f32(f32_to_f16(normal(rng)));
        }
    }
    for (float x : c.k) c.k16.push_back(f32_to_f16(x));
    for (float x : c.v) c.v16.push_back(f32_to_f16(x));
    return c;
}

float scale_of(const Shape& s) { return 1.0f / std::sqrt(static_cast<float>(s.head_dim)); }

const float* head_rows(const std::vector<float>& cache, const Case& c, uint32_t kv_head) {
    return cache.data() + size_t{kv_head} * c.n_ctx * c.s.head_dim;
}

// Exact causal attention in double: token t sees keys 0 .. pos0 + t.
std::vector<double> reference(const Case& c) {
    const Shape& s = c.s;
    const uint32_t d = s.head_dim, group = s.n_heads / s.n_kv_heads;
    std::vector<double> out(c.q.size());
    for (uint32_t t = 0; t < s.n_tokens; ++t) {
        for (uint32_t h = 0; h < s.n_heads; ++h) {
            const float* q = c.q.data() + (size_t{t} * s.n_heads + h) * d;
            const float* k = head_rows(c.k, c, h / group);
            const float* v = head_rows(c.v, c, h / group);
            const uint32_t n_kv = s.pos0 + t + 1;
            std::vector<double> w(n_kv);
            double max = -INFINITY, sum = 0.0;
            for (uint32_t j = 0; j < n_kv; ++j) {
                double dot = 0.0;
                for (uint32_t i = 0; i < d; ++i) dot += double{q[i]} * k[size_t{j} * d + i];
                w[j] = dot * scale_of(s);
                max = std::fmax(max, w[j]);
            }
            for (double& x : w) sum += (x = std::exp(x - max));
            double* o = out.data() + (size_t{t} * s.n_heads + h) * d;
            for (uint32_t j = 0; j < n_kv; ++j) {
                for (uint32_t i = 0; i < d; ++i) o[i] += w[j] / sum * v[size_t{j} * d + i];
            }
        }
    }
    return out;
}

// The per-head f32 kernel over the same case: the yardstick for float error.
std::vector<float> per_head_f32(const Case& c) {
    const Shape& s = c.s;
    const uint32_t d = s.head_dim, group = s.n_heads / s.n_kv_heads;
    std::vector<float> out(c.q.size()), scores((c.n_ctx + 15) & ~15u);
    for (uint32_t t = 0; t < s.n_tokens; ++t) {
        for (uint32_t h = 0; h < s.n_heads; ++h) {
            const size_t at = (size_t{t} * s.n_heads + h) * d;
            cpu::attention_f32(c.q.data() + at, head_rows(c.k, c, h / group), head_rows(c.v, c, h / group),
                               s.pos0 + t + 1, d, scale_of(s), false, scores.data(), out.data() + at);
        }
    }
    return out;
}

std::vector<float> tiled(const Case& c, bool f16, uint32_t n_threads, const char* level, bool* ran) {
    const Shape& s = c.s;
    std::vector<float> out(c.q.size(), std::numeric_limits<float>::quiet_NaN());
    cpu::TiledAttentionParams p;
    p.q = c.q.data();
    p.q_stride = size_t{s.n_heads} * s.head_dim;
    p.out = out.data();
    p.out_stride = p.q_stride;
    p.k = f16 ? static_cast<const void*>(c.k16.data()) : c.k.data();
    p.v = f16 ? static_cast<const void*>(c.v16.data()) : c.v.data();
    p.kv_f16 = f16;
    p.kv_head_rows = c.n_ctx;
    p.n_tokens = s.n_tokens;
    p.pos0 = s.pos0;
    p.n_heads = s.n_heads;
    p.n_kv_heads = s.n_kv_heads;
    p.head_dim = s.head_dim;
    p.scale = scale_of(s);
    cpu::ThreadPool pool(n_threads);
    std::vector<float> scratch;
    *ran = cpu::attention_tiled(pool, p, scratch, level);
    return out;
}

double max_error(const std::vector<float>& got, const std::vector<double>& want) {
    double worst = 0.0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double e = std::fabs(got[i] - want[i]);
        if (!(e <= worst)) worst = e; // NaN sticks
    }
    return worst;
}

std::string describe(const Shape& s) {
    return "heads " + std::to_string(s.n_heads) + "/" + std::to_string(s.n_kv_heads) + ", head_dim " +
           std::to_string(s.head_dim) + ", pos0 " + std::to_string(s.pos0) + ", tokens " + std::to_string(s.n_tokens);
}

const Shape kShapes[] = {
    {9, 3, 64, 0, 70},      // SmolLM2's heads; a batch from an empty cache
    {9, 3, 64, 1000, 37},   // mid-cache start, neither a multiple of a tile
    {8, 8, 64, 130, 49},    // group 1
    {32, 8, 64, 300, 21},   // Llama-3.2-1B's heads (group 4)
    {8, 2, 128, 77, 33},    // head_dim 128, group 4
    {6, 2, 128, 2049, 5},   // group 3, a short batch deep in the cache
    {32, 1, 64, 63, 3},     // 32 query heads on one KV head: one token per tile
};

} // namespace

TEST_CASE("tiled attention matches exact causal attention at every level, cache type and thread count") {
    for (const char* level : {"avx512", "avx2"}) {
        bool level_ran = false;
        for (const Shape& s : kShapes) {
            const Case c = random_case(s, s.pos0 * 7 + s.n_tokens);
            const std::vector<double> want = reference(c);
            // The per-head kernel's error over the same rounded inputs, floored for cases where it is ~0.
            const double bar = std::fmax(4.0 * max_error(per_head_f32(c), want), 1e-5);
            for (bool f16 : {true, false}) {
                for (uint32_t threads : {1u, 2u}) {
                    bool ran = false;
                    const double err = max_error(tiled(c, f16, threads, level, &ran), want);
                    if (!ran) continue;
                    level_ran = true;
                    if (!(err <= bar)) {
                        std::printf("  %s %s %s, %u threads: max error %.3g > %.3g\n", level, f16 ? "f16" : "f32",
                                    describe(s).c_str(), threads, err, bar);
                    }
                    CHECK(err <= bar);
                }
            }
        }
        if (!level_ran) std::printf("  %s: not on this CPU, skipped\n", level);
    }
}

TEST_CASE("tiled attention: a key past a token's position never reaches its output") {
    const Shape s{4, 2, 64, 10, 40};
    Case c = random_case(s, 5);
    bool ran = false;
    const std::vector<float> before = tiled(c, true, 2, nullptr, &ran);
    if (!ran) {
        std::printf("  skipped: no tiled kernel on this CPU\n");
        return;
    }
    // Change the last token's key and value: only the last token's output may move.
    const uint32_t last = s.pos0 + s.n_tokens - 1;
    for (uint32_t h = 0; h < s.n_kv_heads; ++h) {
        for (uint32_t i = 0; i < s.head_dim; ++i) {
            c.k16[(size_t{h} * c.n_ctx + last) * s.head_dim + i] = f32_to_f16(50.0f);
            c.v16[(size_t{h} * c.n_ctx + last) * s.head_dim + i] = f32_to_f16(9.0f);
        }
    }
    const std::vector<float> after = tiled(c, true, 2, nullptr, &ran);
    const size_t per_token = size_t{s.n_heads} * s.head_dim;
    for (size_t i = 0; i < (s.n_tokens - 1) * per_token; ++i) CHECK_EQ(after[i], before[i]);
    size_t moved = 0;
    for (size_t i = (s.n_tokens - 1) * per_token; i < after.size(); ++i) moved += after[i] != before[i];
    CHECK(moved > 0);
}

TEST_CASE("tiled attention refuses head dims it has no kernel for, leaving the output alone") {
    const Shape s{2, 1, 72, 0, 4};
    const Case c = random_case(s, 3);
    bool ran = true;
    const std::vector<float> out = tiled(c, true, 1, nullptr, &ran);
    CHECK(!ran);
    CHECK(!cpu::attention_tiled_supported(72));
    CHECK(std::isnan(out[0]));
}

int main() { return run_all_tests(); }
