// Forward-pass unit tests: ops on hand-checked cases, Model::load errors on crafted GGUF files,
// KV-cache consistency (batched prefill == token-by-token decode; truncate then re-eval), and the
// thread pool / matmul plumbing. Comparison with llama.cpp lives in test/engine/forward-vs-llama.test.ts.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/quants.h"
#include "backend/cpu/thread-pool.h"
#include "check.h"
#include "common/half.h"
#include "gguf/gguf-writer.h"
#include "model/model.h"

#define CHECK_CODE(status, want)                                                              \
    do {                                                                                      \
        if ((status).code != (want))                                                          \
            check::fail(__FILE__, __LINE__, "code " + (status).code + " (" + (status).message + \
                                                ") instead of " + (want));                    \
    } while (0)

namespace {

struct TinySpec {
    std::string arch = "llama";
    uint32_t n_layers = 2, n_embd = 64, n_ff = 96, n_heads = 4, n_kv_heads = 2, n_vocab = 50;
    uint32_t seed = 1;
    // Hooks for crafting bad files.
    std::string skip_tensor;        // leave this tensor out
    std::string wrong_shape_tensor; // give this tensor one extra row
    uint32_t head_count_key = 0;    // overrides attention.head_count when non-zero
};

std::string temp_path(const std::string& name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/squeeze-model-test-" + std::to_string(::getpid()) + "-" + name + ".gguf";
}

// A random F32 model of the given shape; weights scaled so activations stay O(1).
std::string write_tiny_model(const TinySpec& s, const std::string& name) {
    sq::GgufWriter g;
    g.kv_str("general.architecture", s.arch);
    const std::string a = s.arch + ".";
    g.kv_u32(a + "block_count", s.n_layers);
    g.kv_u32(a + "embedding_length", s.n_embd);
    g.kv_u32(a + "feed_forward_length", s.n_ff);
    g.kv_u32(a + "attention.head_count", s.head_count_key ? s.head_count_key : s.n_heads);
    g.kv_u32(a + "attention.head_count_kv", s.n_kv_heads);
    g.kv_u32(a + "context_length", 256);
    g.kv_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
    g.kv_f32(a + "rope.freq_base", 10000.0f);
    g.kv_u32(a + "vocab_size", s.n_vocab);
    std::mt19937 rng(s.seed);
    std::normal_distribution<float> normal;
    auto add = [&](const std::string& tname, std::vector<uint64_t> ne, float scale, float mean = 0.0f) {
        if (tname == s.skip_tensor) return;
        if (tname == s.wrong_shape_tensor) ne.back() += 1;
        uint64_t n = 1;
        for (uint64_t d : ne) n *= d;
        std::vector<float> v(n);
        for (float& x : v) x = mean + scale * normal(rng);
        g.tensor_f32(tname, ne, v);
    };
    const uint64_t hd = s.n_embd / s.n_heads, q_dim = hd * s.n_heads, kv_dim = hd * s.n_kv_heads;
    const float in_scale = 1.0f / std::sqrt(static_cast<float>(s.n_embd));
    add("token_embd.weight", {s.n_embd, s.n_vocab}, 1.0f);
    add("output_norm.weight", {s.n_embd}, 0.1f, 1.0f);
    for (uint32_t il = 0; il < s.n_layers; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        add(p + "attn_norm.weight", {s.n_embd}, 0.1f, 1.0f);
        add(p + "attn_q.weight", {s.n_embd, q_dim}, in_scale * 2.0f);
        add(p + "attn_k.weight", {s.n_embd, kv_dim}, in_scale * 2.0f);
        add(p + "attn_v.weight", {s.n_embd, kv_dim}, in_scale);
        if (s.arch == "qwen2") {
            add(p + "attn_q.bias", {q_dim}, 0.1f);
            add(p + "attn_k.bias", {kv_dim}, 0.1f);
            add(p + "attn_v.bias", {kv_dim}, 0.1f);
        }
        add(p + "attn_output.weight", {q_dim, s.n_embd}, 1.0f / std::sqrt(static_cast<float>(q_dim)));
        add(p + "ffn_norm.weight", {s.n_embd}, 0.1f, 1.0f);
        add(p + "ffn_gate.weight", {s.n_embd, s.n_ff}, in_scale);
        add(p + "ffn_up.weight", {s.n_embd, s.n_ff}, in_scale);
        add(p + "ffn_down.weight", {s.n_ff, s.n_embd}, 1.0f / std::sqrt(static_cast<float>(s.n_ff)));
    }
    const std::string path = temp_path(name);
    CHECK(g.write(path));
    return path;
}

sq::Status load(const TinySpec& s, const std::string& name, std::unique_ptr<sq::Model>& m) {
    const std::string path = write_tiny_model(s, name);
    sq::Status st = sq::Model::load(path, m);
    std::remove(path.c_str()); // the mapping stays valid after unlink
    return st;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) return INFINITY;
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
    return m;
}

std::unique_ptr<sq::Context> make_context(const sq::Model& m, uint32_t n_ctx, sq::KvType kv, uint32_t n_batch = 512,
                                          uint32_t n_threads = 2) {
    sq::ContextParams p;
    p.n_ctx = n_ctx;
    p.kv_type = kv;
    p.n_batch = n_batch;
    p.n_threads = n_threads;
    std::unique_ptr<sq::Context> ctx;
    sq::Status st = sq::Context::create(m, p, ctx);
    CHECK(st.is_ok());
    return ctx;
}

const std::vector<int32_t> kPrompt = {3, 17, 42, 8, 8, 25, 1, 49, 0, 33, 12, 7};

} // namespace

// ---- ops ----------------------------------------------------------------------------------------

TEST_CASE("rms_norm scales by 1/sqrt(mean square + eps) then by the weight") {
    const float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 0.5f};
    float y[4];
    sq::cpu::rms_norm(x, w, y, 4, 0.0f);
    const float s = 1.0f / std::sqrt(7.5f);
    CHECK_NEAR(y[0], 1 * s, 1e-6);
    CHECK_NEAR(y[1], 2 * s, 1e-6);
    CHECK_NEAR(y[2], 6 * s, 1e-6);
    CHECK_NEAR(y[3], 2 * s, 1e-6);
    sq::cpu::rms_norm(x, w, y, 4, 2.5f); // eps enters under the root: mean 7.5 + 2.5 = 10
    CHECK_NEAR(y[0], 1 / std::sqrt(10.0f), 1e-6);
}

TEST_CASE("rope rotates pairs (2i, 2i+1) in normal order and (i, i + n_rot/2) in NeoX order") {
    sq::cpu::RopeParams p;
    p.n_rot = 4;
    p.freq_base = 10000.0f; // theta_0 = pos, theta_1 = pos * 10000^(-2/4) = pos / 100
    float cache[4];
    sq::cpu::rope_cache(p, 1, cache);
    const double c0 = std::cos(1.0), s0 = std::sin(1.0), c1 = std::cos(0.01), s1 = std::sin(0.01);
    CHECK_NEAR(cache[0], c0, 1e-6);
    CHECK_NEAR(cache[3], s1, 1e-6);

    float x[6] = {1, 2, 3, 4, 5, 6}; // head_dim 6, only the first 4 dims rotate
    sq::cpu::rope_apply(p, cache, x, 1, 6);
    CHECK_NEAR(x[0], 1 * c0 - 2 * s0, 1e-6);
    CHECK_NEAR(x[1], 1 * s0 + 2 * c0, 1e-6);
    CHECK_NEAR(x[2], 3 * c1 - 4 * s1, 1e-6);
    CHECK_NEAR(x[3], 3 * s1 + 4 * c1, 1e-6);
    CHECK_EQ(x[4], 5.0f);
    CHECK_EQ(x[5], 6.0f);

    p.neox = true;
    float y[12] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}; // two heads
    sq::cpu::rope_apply(p, cache, y, 2, 6);
    for (int h = 0; h < 2; ++h) {
        const float* v = y + 6 * h;
        CHECK_NEAR(v[0], 1 * c0 - 3 * s0, 1e-6);
        CHECK_NEAR(v[2], 1 * s0 + 3 * c0, 1e-6);
        CHECK_NEAR(v[1], 2 * c1 - 4 * s1, 1e-6);
        CHECK_NEAR(v[3], 2 * s1 + 4 * c1, 1e-6);
        CHECK_EQ(v[5], 6.0f);
    }
}

TEST_CASE("rope divides theta by rope_freqs factors and multiplies it by the linear scale") {
    sq::cpu::RopeParams p;
    p.n_rot = 4;
    const float factors[2] = {2.0f, 4.0f};
    p.freq_factors = factors;
    p.freq_scale = 0.5f;
    float cache[4];
    sq::cpu::rope_cache(p, 8, cache);
    CHECK_NEAR(cache[0], std::cos(8.0 / 2 * 0.5), 1e-6);
    CHECK_NEAR(cache[3], std::sin(8.0 / 100 / 4 * 0.5), 1e-6);
}

TEST_CASE("soft_max_scaled matches exp(x*s)/sum and survives large inputs") {
    float x[3] = {1, 2, 3};
    sq::cpu::soft_max_scaled(x, 3, 0.5f);
    const double z = std::exp(0.5) + std::exp(1.0) + std::exp(1.5);
    CHECK_NEAR(x[0], std::exp(0.5) / z, 1e-7);
    CHECK_NEAR(x[2], std::exp(1.5) / z, 1e-7);
    float big[2] = {1000.0f, 1001.0f};
    sq::cpu::soft_max_scaled(big, 2, 1.0f);
    CHECK_NEAR(big[1], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
    CHECK_NEAR(big[0] + big[1], 1.0, 1e-6);
}

TEST_CASE("swiglu is silu(gate) * up") {
    const float gate[2] = {1.0f, -2.0f}, up[2] = {2.0f, 3.0f};
    float y[2];
    sq::cpu::swiglu(gate, up, y, 2);
    CHECK_NEAR(y[0], 2.0 / (1.0 + std::exp(-1.0)), 1e-6);
    CHECK_NEAR(y[1], 3.0 * -2.0 / (1.0 + std::exp(2.0)), 1e-6);
}

TEST_CASE("attention weights values by softmax(q.k * scale); the F16 cache agrees to F16 precision") {
    const uint32_t d = 4, n = 3;
    const float q[d] = {1, 0, 2, 0};
    const float k[n * d] = {1, 0, 0, 0, /**/ 0, 0, 1, 0, /**/ 1, 1, 1, 1};
    const float v[n * d] = {1, 2, 3, 4, /**/ -1, 0, 1, 0, /**/ 0, 0, 0, 8};
    float scores[16], out[d];
    sq::cpu::attention_f32(q, k, v, n, d, 0.5f, false, scores, out);
    const double e0 = std::exp(0.5), e1 = std::exp(1.0), e2 = std::exp(1.5), z = e0 + e1 + e2;
    const double want[d] = {(e0 - e1) / z, 2 * e0 / z, (3 * e0 + e1) / z, (4 * e0 + 8 * e2) / z};
    for (uint32_t i = 0; i < d; ++i) CHECK_NEAR(out[i], want[i], 1e-6);

    uint16_t k16[n * d], v16[n * d], q16[d], p16[16];
    for (uint32_t i = 0; i < n * d; ++i) {
        k16[i] = sq::f32_to_f16(k[i]);
        v16[i] = sq::f32_to_f16(v[i]);
    }
    float out16[d];
    sq::cpu::attention_f16(q, k16, v16, n, d, 0.5f, false, scores, q16, p16, out16);
    for (uint32_t i = 0; i < d; ++i) CHECK_NEAR(out16[i], want[i], 2e-3);
}

// ---- thread pool and matmul ---------------------------------------------------------------------

TEST_CASE("parallel_for covers every index exactly once, for any n and thread count") {
    for (uint32_t threads : {1u, 2u, 3u, 5u}) {
        sq::cpu::ThreadPool pool(threads);
        CHECK_EQ(pool.n_threads(), threads);
        for (int64_t n : {1, 2, 3, 7, 64, 1001}) {
            std::vector<int> hits(n, 0);
            for (int rep = 0; rep < 3; ++rep) {
                pool.parallel_for(n, [&](int64_t b, int64_t e) { for (int64_t i = b; i < e; ++i) ++hits[i]; });
            }
            bool all_three = true;
            for (int h : hits) all_three = all_three && h == 3;
            CHECK(all_three);
        }
        std::vector<int> seen(threads, 0);
        pool.for_each_slot([&](uint32_t i) { ++seen[i]; });
        for (int s : seen) CHECK_EQ(s, 1);
    }
}

TEST_CASE("batched matmul over several weights equals a naive product") {
    const int64_t cols = 64, rows_a = 37, rows_b = 5, n_tok = 9;
    std::mt19937 rng(3);
    std::normal_distribution<float> normal;
    std::vector<float> wa(rows_a * cols), wb(rows_b * cols), x(n_tok * cols);
    for (auto* v : {&wa, &wb, &x}) for (float& f : *v) f = normal(rng);
    std::vector<float> ya(n_tok * rows_a), yb(n_tok * rows_b);
    const sq::cpu::MatmulOut outs[2] = {
        {{sq::TensorType::F32, reinterpret_cast<const uint8_t*>(wa.data()), cols * 4, rows_a, cols}, ya.data(), rows_a},
        {{sq::TensorType::F32, reinterpret_cast<const uint8_t*>(wb.data()), cols * 4, rows_b, cols}, yb.data(), rows_b},
    };
    sq::cpu::ThreadPool pool(3);
    sq::cpu::MatmulScratch scratch;
    sq::cpu::matmul(pool, outs, 2, x.data(), n_tok, cols, scratch);
    double worst = 0;
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t r = 0; r < rows_a + rows_b; ++r) {
            const float* w = r < rows_a ? &wa[r * cols] : &wb[(r - rows_a) * cols];
            double want = 0;
            for (int64_t c = 0; c < cols; ++c) want += static_cast<double>(w[c]) * x[t * cols + c];
            const float got = r < rows_a ? ya[t * rows_a + r] : yb[t * rows_b + r - rows_a];
            worst = std::max(worst, std::fabs(got - want));
        }
    }
    CHECK(worst < 1e-4);
}

TEST_CASE("one matmul call over weights needing three activation encodings equals separate calls") {
    const int64_t cols = 64, rows = 24, n_tok = 3;
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    std::vector<float> w(rows * cols), x(n_tok * cols);
    for (float& f : w) f = normal(rng);
    for (float& f : x) f = normal(rng);
    std::vector<uint16_t> w16(w.size());
    for (size_t i = 0; i < w.size(); ++i) w16[i] = sq::f32_to_f16(w[i]);
    std::vector<uint8_t> w8(rows * cols / 32 * 34), w41(rows * cols / 32 * 20);
    sq::cpu::type_kernels(sq::TensorType::Q8_0)->from_float(w.data(), w8.data(), rows * cols);
    for (size_t b = 0; b < w41.size(); b += 20) { // Q4_1 blocks: d = 0.1, m = -0.8, random nibbles
        const uint16_t d = sq::f32_to_f16(0.1f), m = sq::f32_to_f16(-0.8f);
        std::memcpy(&w41[b], &d, 2);
        std::memcpy(&w41[b + 2], &m, 2);
        for (int i = 4; i < 20; ++i) w41[b + i] = static_cast<uint8_t>(rng());
    }
    auto ref = [&](sq::TensorType t, const void* data, size_t row_bytes) {
        return sq::cpu::MatrixRef{t, static_cast<const uint8_t*>(data), row_bytes, rows, cols};
    };
    const sq::cpu::MatrixRef mats[3] = {ref(sq::TensorType::F16, w16.data(), cols * 2),
                                        ref(sq::TensorType::Q8_0, w8.data(), cols / 32 * 34),
                                        ref(sq::TensorType::Q4_1, w41.data(), cols / 32 * 20)};
    sq::cpu::ThreadPool pool(2);
    sq::cpu::MatmulScratch scratch;
    std::vector<float> together(3 * n_tok * rows), apart(3 * n_tok * rows);
    sq::cpu::MatmulOut outs[3];
    for (int i = 0; i < 3; ++i) outs[i] = {mats[i], together.data() + i * n_tok * rows, rows};
    sq::cpu::matmul(pool, outs, 3, x.data(), n_tok, cols, scratch);
    for (int i = 0; i < 3; ++i) {
        const sq::cpu::MatmulOut one{mats[i], apart.data() + i * n_tok * rows, rows};
        sq::cpu::matmul(pool, &one, 1, x.data(), n_tok, cols, scratch);
    }
    CHECK_EQ(max_abs_diff(together, apart), 0.0);
    double norm = 0;
    for (float f : together) norm += std::fabs(f);
    CHECK(norm > 1.0); // the products are not trivially zero
}

// ---- Model::load errors -------------------------------------------------------------------------

TEST_CASE("Model::load accepts a well-formed llama and qwen2 model and reads its hparams") {
    for (const char* arch : {"llama", "qwen2"}) {
        TinySpec s;
        s.arch = arch;
        std::unique_ptr<sq::Model> m;
        sq::Status st = load(s, arch, m);
        CHECK(st.is_ok());
        if (!m) continue;
        const sq::Hparams& hp = m->hparams();
        CHECK_EQ(hp.n_layers, 2u);
        CHECK_EQ(hp.head_dim, 16u);
        CHECK_EQ(hp.n_rot, 16u);
        CHECK_EQ(hp.n_vocab, 50u);
        CHECK(hp.tied_output);
        CHECK(hp.rope_order == (std::string(arch) == "qwen2" ? sq::RopeOrder::NeoX : sq::RopeOrder::Normal));
        CHECK((m->layers()[0].bq.data != nullptr) == (std::string(arch) == "qwen2"));
    }
}

TEST_CASE("Model::load gives coded errors naming what is wrong") {
    std::unique_ptr<sq::Model> m;
    sq::Status st = sq::Model::load("/nonexistent/model.gguf", m);
    CHECK(!st.is_ok() && st.code.rfind("GGUF_", 0) == 0);

    TinySpec s;
    s.arch = "mamba";
    st = load(s, "arch", m);
    CHECK_CODE(st, "MODEL_UNKNOWN_ARCH");
    CHECK(contains(st.message, "mamba"));

    s = TinySpec();
    s.skip_tensor = "blk.1.ffn_up.weight";
    st = load(s, "missing", m);
    CHECK_CODE(st, "MODEL_MISSING_TENSOR");
    CHECK(contains(st.message, "blk.1.ffn_up.weight"));

    s = TinySpec();
    s.wrong_shape_tensor = "blk.0.attn_k.weight";
    st = load(s, "shape", m);
    CHECK_CODE(st, "MODEL_BAD_SHAPE");
    CHECK(contains(st.message, "blk.0.attn_k.weight") && contains(st.message, "[64, 33, 1, 1]") &&
          contains(st.message, "[64, 32, 1, 1]"));

    s = TinySpec();
    s.n_kv_heads = 3; // 4 query heads cannot share 3 KV heads
    st = load(s, "gqa", m);
    CHECK_CODE(st, "MODEL_BAD_HPARAMS");

    s = TinySpec();
    s.head_count_key = 5; // 64 / 5 is not an integer head dimension
    st = load(s, "heads", m);
    CHECK_CODE(st, "MODEL_BAD_HPARAMS");
    CHECK(!m);
}

TEST_CASE("Model::load rejects weight types without CPU kernels, naming tensor and type") {
    sq::GgufWriter g;
    g.kv_str("general.architecture", "llama");
    for (auto [k, v] : std::vector<std::pair<std::string, uint32_t>>{{"block_count", 1}, {"embedding_length", 256},
                                                                     {"feed_forward_length", 256},
                                                                     {"attention.head_count", 2}, {"context_length", 64},
                                                                     {"vocab_size", 4}}) {
        g.kv_u32("llama." + k, v);
    }
    auto f32 = [&](const std::string& name, std::vector<uint64_t> ne) {
        uint64_t n = 1;
        for (uint64_t d : ne) n *= d;
        g.tensor_f32(name, ne, std::vector<float>(n, 0.5f));
    };
    f32("token_embd.weight", {256, 4});
    f32("output_norm.weight", {256});
    f32("blk.0.attn_norm.weight", {256});
    // Q2_K (type 10): a real GGUF type, 84 bytes per 256 elements, which the engine cannot run.
    g.tensor("blk.0.attn_q.weight", {256, 256}, sq::TensorType::Q2_K, std::vector<uint8_t>(84 * 256, 0));
    const std::string path = temp_path("q2k");
    CHECK(g.write(path));
    std::unique_ptr<sq::Model> m;
    sq::Status st = sq::Model::load(path, m);
    std::remove(path.c_str());
    CHECK_CODE(st, "MODEL_UNSUPPORTED_TYPE");
    CHECK(contains(st.message, "blk.0.attn_q.weight") && contains(st.message, "Q2_K"));
}

// ---- Context: KV cache consistency --------------------------------------------------------------

TEST_CASE("batched prefill equals prefill + token-by-token decode, for both archs and KV types") {
    for (const char* arch : {"llama", "qwen2"}) {
        TinySpec s;
        s.arch = arch;
        std::unique_ptr<sq::Model> m;
        CHECK(load(s, std::string("kv-") + arch, m).is_ok());
        if (!m) continue;
        const uint32_t n_vocab = m->hparams().n_vocab;
        for (sq::KvType kv : {sq::KvType::F32, sq::KvType::F16}) {
            auto batch = make_context(*m, 64, kv);
            std::vector<float> all;
            CHECK(batch->eval(kPrompt.data(), kPrompt.size(), true, all).is_ok());
            CHECK_EQ(all.size(), kPrompt.size() * n_vocab);
            CHECK_EQ(batch->n_past(), static_cast<uint32_t>(kPrompt.size()));

            auto single = make_context(*m, 64, kv);
            std::vector<float> one, stitched;
            CHECK(single->eval(kPrompt.data(), 4, true, one).is_ok()); // a prefill of 4, then decode
            stitched = one;
            for (size_t i = 4; i < kPrompt.size(); ++i) {
                CHECK(single->eval(&kPrompt[i], 1, false, one).is_ok());
                CHECK_EQ(one.size(), static_cast<size_t>(n_vocab));
                stitched.insert(stitched.end(), one.begin(), one.end());
            }
            CHECK(max_abs_diff(all, stitched) < 1e-4);

            // last-token-only logits equal the last row of all logits
            auto last = make_context(*m, 64, kv);
            CHECK(last->eval(kPrompt.data(), kPrompt.size(), false, one).is_ok());
            std::vector<float> last_row(all.end() - n_vocab, all.end());
            CHECK(max_abs_diff(one, last_row) < 1e-5);

            // small n_batch: the prompt is split into several forward passes
            auto chunked = make_context(*m, 64, kv, 5);
            std::vector<float> chunked_all;
            CHECK(chunked->eval(kPrompt.data(), kPrompt.size(), true, chunked_all).is_ok());
            CHECK(max_abs_diff(all, chunked_all) < 1e-4);
        }
    }
}

TEST_CASE("logits depend on earlier tokens through the KV cache, and truncate() rewinds it") {
    TinySpec s;
    std::unique_ptr<sq::Model> m;
    CHECK(load(s, "truncate", m).is_ok());
    if (!m) return;
    auto ctx = make_context(*m, 32, sq::KvType::F32);
    std::vector<float> first, second, after;
    CHECK(ctx->eval(kPrompt.data(), 8, false, first).is_ok());
    const int32_t other[3] = {44, 2, 9};
    CHECK(ctx->eval(other, 3, false, second).is_ok());
    CHECK_EQ(ctx->n_past(), 11u);

    ctx->truncate(8);
    CHECK_EQ(ctx->n_past(), 8u);
    CHECK(ctx->eval(other, 3, false, after).is_ok());
    CHECK(max_abs_diff(second, after) < 1e-5);

    ctx->truncate(5); // a different history gives different logits for the same tokens
    const int32_t changed[3] = {30, 31, 32};
    std::vector<float> diverged;
    CHECK(ctx->eval(changed, 3, false, diverged).is_ok());
    CHECK(ctx->eval(other, 3, false, after).is_ok());
    CHECK(max_abs_diff(second, after) > 1e-3);

    ctx->truncate(100); // beyond n_past: no change
    CHECK_EQ(ctx->n_past(), 11u);
}

TEST_CASE("thread count does not change the logits") {
    TinySpec s;
    s.arch = "qwen2";
    std::unique_ptr<sq::Model> m;
    CHECK(load(s, "threads", m).is_ok());
    if (!m) return;
    std::vector<float> a, b;
    auto one = make_context(*m, 32, sq::KvType::F16, 512, 1);
    auto three = make_context(*m, 32, sq::KvType::F16, 512, 3);
    CHECK(one->eval(kPrompt.data(), kPrompt.size(), true, a).is_ok());
    CHECK(three->eval(kPrompt.data(), kPrompt.size(), true, b).is_ok());
    CHECK_EQ(max_abs_diff(a, b), 0.0);
}

TEST_CASE("eval and create report coded errors instead of crashing") {
    TinySpec s;
    std::unique_ptr<sq::Model> m;
    CHECK(load(s, "errors", m).is_ok());
    if (!m) return;
    auto ctx = make_context(*m, 8, sq::KvType::F16);
    std::vector<float> logits;
    const int32_t bad[2] = {1, 50};
    sq::Status st = ctx->eval(bad, 2, false, logits);
    CHECK_CODE(st, "EVAL_BAD_TOKEN");
    CHECK(contains(st.message, "50"));
    CHECK_EQ(ctx->n_past(), 0u);
    const int32_t many[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    st = ctx->eval(many, 9, false, logits);
    CHECK_CODE(st, "CONTEXT_FULL");
    CHECK(ctx->eval(many, 8, false, logits).is_ok());
    st = ctx->eval(many, 1, false, logits);
    CHECK_CODE(st, "CONTEXT_FULL");

    // A machine with 1 MiB available cannot hold a 1M-token cache: a coded error, not a crash.
    ::setenv("SQUEEZE_MEMORY_LIMIT", "1048576", 1);
    sq::ContextParams p;
    p.n_ctx = 1u << 20;
    std::unique_ptr<sq::Context> huge;
    st = sq::Context::create(*m, p, huge);
    ::unsetenv("SQUEEZE_MEMORY_LIMIT");
    CHECK_CODE(st, "CONTEXT_OUT_OF_MEMORY");
    CHECK(contains(st.message, "MiB"));
    CHECK(!huge);
}

int main() { return run_all_tests(); }
