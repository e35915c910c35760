// cuda-forward-test: the GPU forward pass (backend/cuda) against the CPU one (model/context.cpp).
//   1. Generated llama models, one per weight type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K)
//      and a qwen2 one (QKV bias, NeoX RoPE): a prompt prefilled in several batches (all logits),
//      then greedy decode steps; logits compared as ||gpu - cpu|| / ||cpu|| and by argmax. Where
//      the CPU runs llama.cpp's AVX-512 order, Q8_0 and Q4_1 models must give the CPU's bits.
//   2. The backend choice: Cuda lands on the GPU, an F32 KV cache is refused there, Auto falls back.
//   3. A generated model of SmolLM2's shape and types (Q4_1, tied Q8_0 embedding): 64-token greedy
//      generation on the GPU equals the CPU's.
//   4. Past the attention crossover (forced to 0): tensor-core prefill and split-K decode replayed
//      from a CUDA graph, against the CPU to rounding.
//   5. With SQUEEZE_SMOLLM2=<gguf>: 64-token greedy generation of SmolLM2 on the GPU and the CPU
//      from the prompts of test/engine/generate.test.ts; every token must agree.
//
// Batches of 32+ tokens normally run the int8 tensor-core GEMM (matmul_mma), whose block sums cannot
// follow the CPU's lane order; this test turns it off (SQUEEZE_CUDA_GEMM=0) to check the path that
// gives the CPU's bits, and cuda-forward-bench --agree measures the GEMM's agreement instead.
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
#include <utility>
#include <vector>

#include "backend/cpu/quants.h"
#include "common/half.h"
#include "common/tensor-type.h"
#include "cuda-forward-model.h"
#include "cuda-forward-prompts.h"
#include "device.cuh"
#include "model/model.h"

using namespace sq;
using namespace sq::forward_model;

namespace {

std::unique_ptr<Model> load_generated(const Shape& s, TensorType type, uint32_t seed) {
    const std::string path = write_model(s, type, seed);
    if (path.empty()) check::fail(__FILE__, __LINE__, "cannot write a generated model");
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

// The CPU engine follows llama.cpp's AVX-512 order (backend/cpu/ops-attention.cpp), which the GPU
// kernels reproduce; with the x86 order of the Q8_0/Q4_1 dots every op then has the same bits.
bool cpu_in_ggml_order() {
    return std::string(cpu::simd_level()) == "avx512";
}

// Quantized matmul inputs are re-quantized to 8 bits, and an ulp of difference in the summation
// order can move one int8 step: up to 2e-2 relative on these models. Float weights see only the
// summation order. A wrong op gives errors of order 1. tolerance 0: the CPU's bits.
void check_type(TensorType type, const Shape& shape, double tolerance, uint32_t seed) {
    if (!have_gpu()) return;
    auto m = load_generated(shape, type, seed);
    if (!m) return;
    int misses = 0, positions = 0;
    const double err = compare_on(*m, &misses, &positions);
    std::printf("  %-5s %-6s layers %u  worst rel. error %.2e  argmax differs at %d/%d positions\n",
                tensor_type_traits(static_cast<uint32_t>(type)).name, shape.arch.c_str(), shape.n_layers, err, misses,
                positions);
    CHECK(tolerance == 0 ? err == 0 : err < tolerance);
    CHECK(misses <= positions / 20);
}

TEST_CASE("generated llama models: GPU logits equal the CPU's, every weight type") {
    Shape s;
    uint32_t seed = 100;
    const double exact = cpu_in_ggml_order() ? 0.0 : 5e-2;
    check_type(TensorType::F32, s, 2e-3, ++seed);
    check_type(TensorType::F16, s, 2e-3, ++seed);
    check_type(TensorType::BF16, s, 1e-2, ++seed);
    for (TensorType t : {TensorType::Q4_0, TensorType::Q4_K, TensorType::Q6_K}) check_type(t, s, 5e-2, ++seed);
    check_type(TensorType::Q8_0, s, exact, ++seed);
    check_type(TensorType::Q4_1, s, exact, ++seed);
    s.tied = true; // SmolLM2's layout: the Q8_0 embedding is the output head
    s.embd_type = TensorType::Q8_0;
    s.n_layers = 4;
    check_type(TensorType::Q4_1, s, exact, ++seed);
}

TEST_CASE("generated qwen2 model (QKV bias, NeoX RoPE, head dim 128): GPU equals CPU") {
    Shape s;
    s.arch = "qwen2";
    s.n_heads = 2;
    s.n_kv_heads = 1;
    check_type(TensorType::F32, s, 2e-3, 200);
    check_type(TensorType::Q8_0, s, cpu_in_ggml_order() ? 0.0 : 5e-2, 201);
}

// Past the crossover the batches attend on tensor cores (f16 queries and probabilities) and decode
// splits the keys (f32, another order), so logits follow the CPU's to rounding, not to the bit;
// a wrong mask, length or merge gives errors of order 1. Decode steps 3-8 replay a CUDA graph that
// reads the position on the device.
TEST_CASE("fast attention at every length (SQUEEZE_CUDA_ATTENTION_KEYS=0): prefill and graph decode agree with the CPU") {
    setenv("SQUEEZE_CUDA_ATTENTION_KEYS", "0", 1);
    check_type(TensorType::F32, Shape{}, 2e-2, 300);
    Shape s;
    s.arch = "qwen2";
    s.n_heads = 2;
    s.n_kv_heads = 1;
    check_type(TensorType::F32, s, 2e-2, 301);
    unsetenv("SQUEEZE_CUDA_ATTENTION_KEYS");
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

// Greedy tokens of the CPU and the GPU from `prompt`: {common prefix, same positions}.
std::pair<int, int> greedy_agreement(const Model& m, const std::vector<int32_t>& prompt, int n) {
    auto cpu = make_context(m, Backend::Cpu, 512, 512);
    auto gpu = make_context(m, Backend::Cuda, 512, 512);
    if (!cpu || !gpu) return {0, 0};
    const std::vector<int32_t> a = greedy(*cpu, prompt, n), b = greedy(*gpu, prompt, n);
    int prefix = 0, same = 0;
    while (prefix < n && prefix < int(a.size()) && prefix < int(b.size()) && a[prefix] == b[prefix]) ++prefix;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) same += a[i] == b[i];
    return {prefix, same};
}

TEST_CASE("generated model of SmolLM2's shape and types: 64-token greedy generation on the GPU equals the CPU's") {
    if (!have_gpu()) return;
    auto m = load_generated(smollm2_shape(), TensorType::Q4_1, 500);
    if (!m) return;
    const auto [prefix, same] = greedy_agreement(*m, kSmolLM2Prompts[0].tokens, 64);
    std::printf("  SmolLM2-shaped Q4_1 model (random weights): common prefix %d/64, same %d/64\n", prefix, same);
    if (cpu_in_ggml_order()) CHECK_EQ(prefix, 64);
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
        const auto [prefix, same] = greedy_agreement(*m, p.tokens, kTokens);
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
    setenv("SQUEEZE_CUDA_GEMM", "0", 1);
    std::printf("cuda-forward-test on %s; CPU reference at SIMD level %s\n", cuda::probe_devices().name,
                cpu::simd_level());
    return run_all_tests();
}

#else

int main() {
    std::printf("cuda-forward-test: skipped (built without CUDA)\n");
    return 0;
}

#endif
