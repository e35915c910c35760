// cuda-forward-test: the GPU forward pass (backend/cuda) against the CPU one (model/context.cpp).
//   1. Generated llama models, one per weight type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)
//      and a qwen2 one (QKV bias, NeoX RoPE): a prompt prefilled in several batches (all logits),
//      then greedy decode steps; logits compared as ||gpu - cpu|| / ||cpu|| and by argmax.
//   2. The backend choice: Cuda lands on the GPU, an F32 KV cache is refused there, Auto falls back.
//   3. With SQUEEZE_SMOLLM2=<gguf>: 64-token greedy generation of SmolLM2 on the GPU and the CPU
//      from the prompts of test/engine/generate.test.ts; every token must agree.
//
//   cuda-forward-test        exit 0 when all pass, or when there is no CUDA build / no GPU (it says so)
#include <cstdio>

#include "../../test/native/check.h"

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "backend/cpu/quants.h"
#include "common/half.h"
#include "common/tensor-type.h"
#include "cuda-forward-prompts.h"
#include "device.cuh"
#include "model/model.h"

using namespace sq;

namespace {

// ---- a minimal GGUF writer ------------------------------------------------------------------

class TinyGguf {
public:
    void kv_u32(const std::string& key, uint32_t v) { key_header(key, 4); put(v, kvs_); ++n_kv_; }
    void kv_f32(const std::string& key, float v) { key_header(key, 6); put(v, kvs_); ++n_kv_; }
    void kv_str(const std::string& key, const std::string& v) { key_header(key, 8); put_str(v, kvs_); ++n_kv_; }
    void tensor(const std::string& name, std::vector<uint64_t> ne, TensorType type, const std::vector<uint8_t>& bytes) {
        put_str(name, infos_);
        put(static_cast<uint32_t>(ne.size()), infos_);
        for (uint64_t d : ne) put(d, infos_);
        put(static_cast<uint32_t>(type), infos_);
        put(static_cast<uint64_t>(data_.size()), infos_);
        data_.insert(data_.end(), bytes.begin(), bytes.end());
        data_.resize((data_.size() + 31) / 32 * 32, 0);
        ++n_tensors_;
    }
    bool write(const std::string& path) const {
        std::vector<uint8_t> out;
        put(0x46554747u, out); // "GGUF"
        put(3u, out);
        put(n_tensors_, out);
        put(n_kv_, out);
        out.insert(out.end(), kvs_.begin(), kvs_.end());
        out.insert(out.end(), infos_.begin(), infos_.end());
        out.resize((out.size() + 31) / 32 * 32, 0);
        out.insert(out.end(), data_.begin(), data_.end());
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) return false;
        const bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
        return std::fclose(f) == 0 && ok;
    }

private:
    template <typename T> static void put(T v, std::vector<uint8_t>& b) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + sizeof v);
    }
    static void put_str(const std::string& s, std::vector<uint8_t>& b) {
        put(static_cast<uint64_t>(s.size()), b);
        b.insert(b.end(), s.begin(), s.end());
    }
    void key_header(const std::string& key, uint32_t type) { put_str(key, kvs_); put(type, kvs_); }

    uint64_t n_kv_ = 0, n_tensors_ = 0;
    std::vector<uint8_t> kvs_, infos_, data_;
};

// ---- random weights of each type, elements of standard deviation about `scale` ---------------

void put_f16(uint8_t* p, float v) { const uint16_t h = f32_to_f16(v); std::memcpy(p, &h, 2); }

std::vector<uint8_t> random_rows(TensorType type, uint64_t n_rows, uint64_t n_cols, float scale, std::mt19937& rng) {
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<int> byte(0, 255);
    const TensorTypeTraits t = tensor_type_traits(static_cast<uint32_t>(type));
    const size_t row_bytes = tensor_row_bytes(t, n_cols);
    std::vector<uint8_t> out(row_bytes * n_rows);
    if (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16 || type == TensorType::Q8_0) {
        std::vector<float> row(n_cols);
        for (uint64_t r = 0; r < n_rows; ++r) {
            for (float& x : row) x = scale * normal(rng);
            cpu::type_kernels(type)->from_float(row.data(), out.data() + r * row_bytes, static_cast<int64_t>(n_cols));
        }
        return out;
    }
    for (uint8_t& b : out) b = static_cast<uint8_t>(byte(rng));
    // Scales set per block so the random quants give elements of about `scale`.
    for (size_t off = 0; off < out.size(); off += t.block_bytes) {
        uint8_t* b = out.data() + off;
        const float jitter = 0.5f + std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
        switch (type) {
        case TensorType::Q4_0: put_f16(b, jitter * scale / 4.6f); break;
        case TensorType::Q4_1: put_f16(b, jitter * scale / 4.6f); put_f16(b + 2, -7.5f * jitter * scale / 4.6f); break;
        case TensorType::Q4_K: put_f16(b, jitter * scale / 255.0f); put_f16(b + 2, 7.5f * jitter * scale / 255.0f); break;
        case TensorType::Q6_K:
            for (int i = 0; i < 16; ++i) b[192 + i] = static_cast<uint8_t>(static_cast<int8_t>(byte(rng) / 2 - 64));
            put_f16(b + 208, jitter * scale / 684.0f);
            break;
        default: break;
        }
    }
    return out;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

struct Shape {
    std::string arch = "llama";
    uint32_t n_layers = 2, n_embd = 256, n_ff = 512, n_heads = 4, n_kv_heads = 2, n_vocab = 300;
    bool tied = false;
};

std::string write_model(const Shape& s, TensorType type, uint32_t seed) {
    TinyGguf g;
    g.kv_str("general.architecture", s.arch);
    const std::string a = s.arch + ".";
    g.kv_u32(a + "block_count", s.n_layers);
    g.kv_u32(a + "embedding_length", s.n_embd);
    g.kv_u32(a + "feed_forward_length", s.n_ff);
    g.kv_u32(a + "attention.head_count", s.n_heads);
    g.kv_u32(a + "attention.head_count_kv", s.n_kv_heads);
    g.kv_u32(a + "context_length", 512);
    g.kv_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
    g.kv_f32(a + "rope.freq_base", 10000.0f);
    g.kv_u32(a + "vocab_size", s.n_vocab);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    const auto vec = [&](uint64_t n, float mean, float sd) {
        std::vector<float> v(n);
        for (float& x : v) x = mean + sd * normal(rng);
        return f32_bytes(v);
    };
    const uint64_t hd = s.n_embd / s.n_heads, q_dim = hd * s.n_heads, kv_dim = hd * s.n_kv_heads;
    const float in_scale = 1.0f / std::sqrt(static_cast<float>(s.n_embd));
    const auto mat = [&](const std::string& name, uint64_t cols, uint64_t rows, float scale) {
        g.tensor(name, {cols, rows}, type, random_rows(type, rows, cols, scale, rng));
    };
    mat("token_embd.weight", s.n_embd, s.n_vocab, 1.0f);
    if (!s.tied) mat("output.weight", s.n_embd, s.n_vocab, in_scale * 4.0f);
    g.tensor("output_norm.weight", {s.n_embd}, TensorType::F32, vec(s.n_embd, 1.0f, 0.1f));
    for (uint32_t il = 0; il < s.n_layers; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        g.tensor(p + "attn_norm.weight", {s.n_embd}, TensorType::F32, vec(s.n_embd, 1.0f, 0.1f));
        mat(p + "attn_q.weight", s.n_embd, q_dim, in_scale * 2.0f);
        mat(p + "attn_k.weight", s.n_embd, kv_dim, in_scale * 2.0f);
        mat(p + "attn_v.weight", s.n_embd, kv_dim, in_scale);
        if (s.arch == "qwen2") {
            g.tensor(p + "attn_q.bias", {q_dim}, TensorType::F32, vec(q_dim, 0.0f, 0.1f));
            g.tensor(p + "attn_k.bias", {kv_dim}, TensorType::F32, vec(kv_dim, 0.0f, 0.1f));
            g.tensor(p + "attn_v.bias", {kv_dim}, TensorType::F32, vec(kv_dim, 0.0f, 0.1f));
        }
        mat(p + "attn_output.weight", q_dim, s.n_embd, 1.0f / std::sqrt(static_cast<float>(q_dim)));
        g.tensor(p + "ffn_norm.weight", {s.n_embd}, TensorType::F32, vec(s.n_embd, 1.0f, 0.1f));
        mat(p + "ffn_gate.weight", s.n_embd, s.n_ff, in_scale);
        mat(p + "ffn_up.weight", s.n_embd, s.n_ff, in_scale);
        mat(p + "ffn_down.weight", s.n_ff, s.n_embd, 1.0f / std::sqrt(static_cast<float>(s.n_ff)));
    }
    const char* dir = std::getenv("TMPDIR");
    const std::string path = std::string(dir ? dir : "/tmp") + "/cuda-forward-test-" + std::to_string(::getpid()) +
                             "-" + std::to_string(seed) + ".gguf";
    if (!g.write(path)) check::fail(__FILE__, __LINE__, "cannot write " + path);
    return path;
}

std::unique_ptr<Model> load_generated(const Shape& s, TensorType type, uint32_t seed) {
    const std::string path = write_model(s, type, seed);
    std::unique_ptr<Model> m;
    const Status st = Model::load(path, m);
    std::remove(path.c_str()); // the mapping stays valid after unlink
    if (!st) check::fail(__FILE__, __LINE__, st.code + ": " + st.message);
    return m;
}

std::unique_ptr<Context> make_context(const Model& m, Backend backend, uint32_t n_ctx, uint32_t n_batch,
                                      KvType kv = KvType::F16) {
    ContextParams p;
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_threads = 4;
    p.kv_type = kv;
    p.backend = backend;
    std::unique_ptr<Context> ctx;
    const Status st = Context::create(m, p, ctx);
    if (!st) check::fail(__FILE__, __LINE__, st.code + ": " + st.message);
    return ctx;
}

double rel_error(const float* gpu, const float* cpu, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!std::isfinite(gpu[i])) return INFINITY;
        num += (double(gpu[i]) - cpu[i]) * (double(gpu[i]) - cpu[i]);
        den += double(cpu[i]) * cpu[i];
    }
    return std::sqrt(num / std::max(den, 1e-30));
}

int argmax(const float* x, size_t n) { return static_cast<int>(std::max_element(x, x + n) - x); }

// Prefill of 37 tokens in batches of 16 (all logits), then 8 greedy steps fed the CPU's choice.
// Returns the worst relative error over positions; counts argmax disagreements.
double compare_on(const Model& m, int* argmax_misses, int* positions) {
    const uint32_t n_vocab = m.hparams().n_vocab;
    auto cpu = make_context(m, Backend::Cpu, 128, 16);
    auto gpu = make_context(m, Backend::Cuda, 128, 16);
    if (!cpu || !gpu) return INFINITY;
    std::mt19937 rng(7);
    std::vector<int32_t> prompt(37);
    for (int32_t& t : prompt) t = static_cast<int32_t>(rng() % n_vocab);
    std::vector<float> lc, lg;
    double worst = 0;
    *argmax_misses = 0;
    *positions = 0;
    const auto score = [&](size_t rows) {
        for (size_t r = 0; r < rows; ++r) {
            worst = std::max(worst, rel_error(lg.data() + r * n_vocab, lc.data() + r * n_vocab, n_vocab));
            *argmax_misses += argmax(lg.data() + r * n_vocab, n_vocab) != argmax(lc.data() + r * n_vocab, n_vocab);
            ++*positions;
        }
    };
    CHECK(cpu->eval(prompt.data(), 37, true, lc).is_ok());
    CHECK(gpu->eval(prompt.data(), 37, true, lg).is_ok());
    if (lc.size() != lg.size()) return INFINITY;
    score(37);
    int32_t next = argmax(lc.data() + 36 * size_t{n_vocab}, n_vocab);
    for (int step = 0; step < 8; ++step) {
        CHECK(cpu->eval(&next, 1, false, lc).is_ok());
        CHECK(gpu->eval(&next, 1, false, lg).is_ok());
        score(1);
        next = argmax(lc.data(), n_vocab);
    }
    return worst;
}

bool have_gpu() {
    static const bool yes = cuda::probe_devices().n_devices > 0;
    return yes;
}

// Quantized matmul inputs are re-quantized to 8 bits, and an ulp of difference in the summation
// order can move one int8 step: about 1e-3 relative on these models. Float weights see only the
// summation order. A wrong op gives errors of order 1.
void check_type(TensorType type, const Shape& shape, double tolerance, uint32_t seed) {
    if (!have_gpu()) return;
    auto m = load_generated(shape, type, seed);
    if (!m) return;
    int misses = 0, positions = 0;
    const double err = compare_on(*m, &misses, &positions);
    std::printf("  %-5s %-6s layers %u  worst rel. error %.2e  argmax differs at %d/%d positions\n",
                tensor_type_traits(static_cast<uint32_t>(type)).name, shape.arch.c_str(), shape.n_layers, err, misses,
                positions);
    CHECK(err < tolerance);
    CHECK(misses <= positions / 20);
}

TEST_CASE("generated llama models: GPU logits equal the CPU's, every weight type") {
    Shape s;
    uint32_t seed = 100;
    for (TensorType t : {TensorType::F32, TensorType::F16, TensorType::BF16}) check_type(t, s, 1e-3, ++seed);
    for (TensorType t : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1, TensorType::Q4_K, TensorType::Q6_K}) {
        check_type(t, s, 2e-2, ++seed);
    }
    s.tied = true; // SmolLM2's layout: the Q8_0 embedding is the output head
    check_type(TensorType::Q8_0, s, 2e-2, ++seed);
    s.n_layers = 4;
    check_type(TensorType::Q4_1, s, 2e-2, ++seed);
}

TEST_CASE("generated qwen2 model (QKV bias, NeoX RoPE, head dim 128): GPU equals CPU") {
    Shape s;
    s.arch = "qwen2";
    s.n_heads = 2;
    s.n_kv_heads = 1;
    check_type(TensorType::F32, s, 1e-3, 200);
    check_type(TensorType::Q8_0, s, 2e-2, 201);
}

TEST_CASE("backend choice: Cuda on the GPU, F32 KV refused there, Auto falls back to the CPU") {
    if (!have_gpu()) return;
    auto m = load_generated(Shape{}, TensorType::Q8_0, 300);
    if (!m) return;
    auto gpu = make_context(*m, Backend::Cuda, 64, 16);
    if (gpu) CHECK(gpu->device() != "cpu");
    ContextParams p;
    p.n_ctx = 64;
    p.kv_type = KvType::F32;
    p.backend = Backend::Cuda;
    std::unique_ptr<Context> ctx;
    const Status st = Context::create(*m, p, ctx);
    CHECK(st.code == "CUDA_UNSUPPORTED");
    p.backend = Backend::Auto;
    CHECK(Context::create(*m, p, ctx).is_ok());
    if (ctx) CHECK(ctx->device() == "cpu");
    std::vector<float> logits;
    const int32_t bad = 1 << 20;
    if (gpu) CHECK(gpu->eval(&bad, 1, false, logits).code == "EVAL_BAD_TOKEN");
}

// Greedy generation of n tokens after the prompt (one batch), one token per eval.
std::vector<int32_t> greedy(Context& ctx, const std::vector<int32_t>& prompt, int n) {
    std::vector<int32_t> out;
    std::vector<float> logits;
    if (!ctx.eval(prompt.data(), static_cast<uint32_t>(prompt.size()), false, logits).is_ok()) return out;
    const uint32_t n_vocab = ctx.model().hparams().n_vocab;
    for (int i = 0; i < n; ++i) {
        const int32_t next = argmax(logits.data(), n_vocab);
        out.push_back(next);
        if (!ctx.eval(&next, 1, false, logits).is_ok()) break;
    }
    return out;
}

TEST_CASE("SmolLM2 (SQUEEZE_SMOLLM2): 64-token greedy generation on the GPU equals the CPU's") {
    const char* path = std::getenv("SQUEEZE_SMOLLM2");
    if (!path || !have_gpu()) {
        std::printf("  skipped: set SQUEEZE_SMOLLM2 to the model's path (and have a GPU)\n");
        return;
    }
    std::unique_ptr<Model> m;
    const Status st = Model::load(path, m);
    CHECK(st.is_ok());
    if (!m) return;
    constexpr int kTokens = 64;
    int total_same = 0, total = 0;
    for (const PromptTokens& p : kSmolLM2Prompts) {
        auto cpu = make_context(*m, Backend::Cpu, 512, 512);
        auto gpu = make_context(*m, Backend::Cuda, 512, 512);
        if (!cpu || !gpu) return;
        const std::vector<int32_t> a = greedy(*cpu, p.tokens, kTokens), b = greedy(*gpu, p.tokens, kTokens);
        int prefix = 0, same = 0;
        while (prefix < kTokens && prefix < int(a.size()) && prefix < int(b.size()) && a[prefix] == b[prefix]) ++prefix;
        for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) same += a[i] == b[i];
        std::printf("  %-66s common prefix %2d/%d, same %2d/%d\n", p.text, prefix, kTokens, same, kTokens);
        total_same += prefix;
        total += kTokens;
        CHECK_EQ(prefix, kTokens);
    }
    std::printf("  greedy agreement: %d/%d tokens\n", total_same, total);
}

// Without a GPU (CI): Cuda is refused with the reason, Auto runs on the CPU.
int check_without_gpu() {
    auto m = load_generated(Shape{}, TensorType::Q8_0, 400);
    if (!m) return 1;
    ContextParams p;
    p.n_ctx = 64;
    p.backend = Backend::Cuda;
    std::unique_ptr<Context> ctx;
    const Status st = Context::create(*m, p, ctx);
    CHECK(st.code == "CUDA_UNAVAILABLE");
    p.backend = Backend::Auto;
    CHECK(Context::create(*m, p, ctx).is_ok());
    std::vector<float> logits;
    const int32_t token = 5;
    if (ctx) {
        CHECK(ctx->device() == "cpu");
        CHECK(ctx->eval(&token, 1, false, logits).is_ok());
        CHECK(logits.size() == m->hparams().n_vocab && std::isfinite(logits[0]));
    }
    std::printf("cuda-forward-test: no GPU (%s): %s; the GPU comparisons are skipped\n", cuda::probe_devices().name,
                check::failures() ? "the CPU fallback FAILED" : "Auto falls back to the CPU");
    return check::failures() ? 1 : 0;
}

} // namespace

int main() {
    if (!have_gpu()) return check_without_gpu();
    std::printf("cuda-forward-test on %s\n", cuda::probe_devices().name);
    return run_all_tests();
}

#else

int main() {
    std::printf("cuda-forward-test: skipped (built without CUDA)\n");
    return 0;
}

#endif
