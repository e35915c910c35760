// cuda-doc-test: document sessions on the GPU (session/doc-session.cpp with backend/cuda/
// cuda-doc-attention) against the same sessions on the CPU, over one pack.
//   1. Ingest on the GPU: the fixed context's keys match the CPU prefill's; a pack built on either
//      backend attaches and answers on the other.
//   2. Per mode (dense, every cluster, calibrated 70% / 90%, per-layer 90%): teacher-forced logits
//      of a question and its continuation, GPU vs CPU, as ||gpu - cpu|| / ||cpu|| per row and by
//      argmax; keys attended (sparsity) equal to within rounding of the lookup's inputs. The pack's
//      centroids are rounded to f16 first, as the GPU stores them, so both lookups see one tree.
//   3. Greedy answers of 40 tokens per mode, GPU vs CPU.
//   4. Token mass (citations) per fixed token, GPU vs CPU.
//   5. Modes the GPU lacks are refused with SQUEEZE_BAD_MODE; without a GPU, backend cuda fails
//      with CUDA_UNAVAILABLE and auto answers on the CPU.
// Model: SQUEEZE_SMOLLM2=<gguf> (the real SmolLM2-135M-Instruct), else a generated model of its shape.
//
// Tolerances, from the runs on an H200 (bench/results/gpu-doc-2026-11-26.md). The GPU cache holds
// the fixed rows in slot order, so even the dense path sums in another order than the CPU. On the
// real SmolLM2 over a pseudo-random document that gives worst-row logit errors of 2.4e-2 (dense,
// int8 GEMM on; 3.7e-2 with it off) and 2.6e-2 .. 7.3e-2 in the squeezed modes, argmax differing
// at <= 3 of 24 rows; token masses agree to <= 1.8e-3. A random-weight 30-layer model is chaotic:
// the same reordering gives 0.26 in dense and ~1 in the calibrated modes (a cluster at its
// threshold flips), with the GEMM on or off; there the selection and the token mass are compared
// (mass 4.5e-2 with every cluster), not the logits.
//
//   cuda-doc-test        exit 0 when all pass, or when there is no CUDA build / no GPU (it says so)
#include <cstdio>

#include "../../test/native/check.h"

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/half.h"
#include "cuda-doc-fixture.h"
#include "cuda-forward-prompts.h"
#include "device.cuh"

using namespace sq;
using namespace sq::doc_fixture;

namespace {

constexpr uint32_t kFixed = 1536, kCtx = 2048, kContinuation = 24, kGreedy = 40;

bool have_gpu() {
    static const bool yes = cuda::probe_devices().n_devices > 0;
    return yes;
}

const char* real_model() { return std::getenv("SQUEEZE_SMOLLM2"); }

uint32_t threads() { return std::max(1u, std::thread::hardware_concurrency()); }

#define CHECK_OK(expr)                                                                                  \
    do {                                                                                                \
        const Status st_ = (expr);                                                                      \
        if (!st_) check::fail(__FILE__, __LINE__, #expr ": " + st_.code + ": " + st_.message);          \
    } while (0)

// The GPU keeps centroids in f16 (kernels/squeeze-lookup.cuh); the CPU lookup over the same values
// then selects the same clusters but for the rounding of its inputs.
void round_centroids(squeeze::Pack& pack) {
    for (squeeze::HeadIndex& h : pack.index.heads)
        for (squeeze::ClusterLevel& lv : h.levels) {
            for (float& c : lv.centroids) c = f16_to_f32(f32_to_f16(c));
            squeeze::cluster_level_derive(lv, h.head_dim);
        }
}

struct Fixture {
    std::unique_ptr<Model> model;
    std::unique_ptr<DocSession> cpu, gpu;
    Ingested cpu_ingest, gpu_ingest;
    std::shared_ptr<squeeze::Pack> pack; // the CPU's pack, centroids rounded to f16
    std::vector<int32_t> question, continuation;
    bool ok = false;
};

Fixture& fixture() {
    static Fixture f = [] {
        Fixture f;
        f.model = load_model(real_model() ? real_model() : "smollm2-shape");
        if (!f.model) return f;
        const uint32_t n_vocab = f.model->hparams().n_vocab;
        const std::vector<int32_t> fixed = pseudo_text(kFixed, 11, n_vocab);
        f.question.assign(kSmolLM2Prompts[0].tokens.begin() + 1, kSmolLM2Prompts[0].tokens.end());
        f.continuation = pseudo_text(kContinuation, 12, n_vocab);
        Status st = make_session(*f.model, Backend::Cpu, kCtx, threads(), f.cpu);
        if (st) st = make_session(*f.model, Backend::Cuda, kCtx, threads(), f.gpu);
        if (st) st = ingest(*f.cpu, fixed, f.cpu_ingest);
        if (st) st = ingest(*f.gpu, fixed, f.gpu_ingest);
        if (!st) {
            check::fail(__FILE__, __LINE__, "fixture: " + st.code + ": " + st.message);
            return f;
        }
        std::printf("  ingest of %u tokens: CPU prefill %.0f ms, cluster %.0f ms; GPU prefill %.0f ms, cluster %.0f ms, attach %.1f ms\n",
                    kFixed, f.cpu_ingest.timings.prefill_ms, f.cpu_ingest.timings.cluster_ms, f.gpu_ingest.timings.prefill_ms,
                    f.gpu_ingest.timings.cluster_ms, f.gpu_ingest.attach_ms);
        f.pack = std::make_shared<squeeze::Pack>(*f.cpu_ingest.pack);
        round_centroids(*f.pack);
        f.ok = true;
        return f;
    }();
    return f;
}

// Keys of one (layer, KV head) in token order, from a pack's slot order.
std::vector<float> keys_by_token(const squeeze::HeadIndex& h) {
    std::vector<float> out(size_t{h.n_tokens} * h.head_dim);
    for (uint32_t s = 0; s < h.n_tokens; ++s)
        for (uint32_t d = 0; d < h.head_dim; ++d)
            out[size_t{h.token_of_slot[s]} * h.head_dim + d] = f16_to_f32(h.keys[size_t{s} * h.head_dim + d]);
    return out;
}

double rel_error(const float* a, const float* b, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; ++i) num += double(a[i] - b[i]) * (a[i] - b[i]), den += double(b[i]) * b[i];
    return std::sqrt(num / std::max(den, 1e-30));
}

size_t argmax(const float* x, size_t n) { return std::max_element(x, x + n) - x; }

TEST_CASE("ingest on the GPU: the fixed context's keys match the CPU prefill's; packs cross backends") {
    Fixture& f = fixture();
    if (!f.ok) return;
    const squeeze::ClusterIndex& c = f.cpu_ingest.pack->index;
    const squeeze::ClusterIndex& g = f.gpu_ingest.pack->index;
    CHECK_EQ(g.n_tokens, c.n_tokens);
    double worst = 0;
    for (size_t i = 0; i < c.heads.size() && i < g.heads.size(); ++i) {
        const std::vector<float> kc = keys_by_token(c.heads[i]), kg = keys_by_token(g.heads[i]);
        worst = std::max(worst, rel_error(kg.data(), kc.data(), kc.size()));
    }
    std::printf("  GPU prefill's keys vs the CPU's: worst rel. error per head %.2e\n", worst);
    // Tensor-core GEMM and attention in the GPU's prefill: 2.1e-2 on SmolLM2 (0.6 on the chaotic
    // random model). A wrong cache layout gives order 1.
    if (real_model()) CHECK(worst < 5e-2);

    // The GPU's pack on the CPU and the CPU's on the GPU: dense answers agree.
    const SqueezeMode dense{SqueezeKind::Dense};
    EvalResult on_cpu, on_gpu;
    CHECK_OK(f.cpu->attach(f.gpu_ingest.pack));
    CHECK_OK(f.gpu->attach(f.cpu_ingest.pack));
    CHECK_OK(f.cpu->eval_logits(f.question, f.continuation, dense, on_cpu));
    CHECK_OK(f.gpu->eval_logits(f.question, f.continuation, dense, on_gpu));
    CHECK(on_cpu.logits.size() == on_gpu.logits.size() && !on_cpu.logits.empty());
    if (on_cpu.logits.size() == on_gpu.logits.size() && !on_cpu.logits.empty()) {
        const double err = rel_error(on_gpu.logits.data(), on_cpu.logits.data(), on_cpu.logits.size());
        std::printf("  crossed packs (CPU answers over the GPU's, GPU over the CPU's): rel. error %.2e\n", err);
        if (real_model()) CHECK(err < 5e-2);
    }
}

struct ModeCase {
    const char* name;
    SqueezeMode mode;
    double tolerance; // of ||gpu - cpu|| / ||cpu|| per row, on the real model
};

std::vector<ModeCase> mode_cases() {
    SqueezeMode all{SqueezeKind::AllClusters}, s70{SqueezeKind::Threshold}, s90{SqueezeKind::Threshold}, s90l{SqueezeKind::Threshold};
    s70.sparsity = 0.7f;
    s90.sparsity = 0.9f;
    s90l.sparsity = 0.9f;
    s90l.per_layer = true;
    // The CPU's prefill rerank by exact attention has no GPU counterpart yet: both sides compare the
    // estimate's own selection.
    for (SqueezeMode* m : {&s70, &s90, &s90l}) m->prefill_rerank = false;
    // Dense: only the order of the fixed rows differs (slot order on the GPU). The squeezed path's
    // question prefill runs on f16 tensor cores (P rounded to f16, as FlashAttention-2).
    return {{"dense", SqueezeMode{SqueezeKind::Dense}, 6e-2}, {"all clusters", all, 6e-2}, {"sparsity 0.7", s70, 1.2e-1},
            {"sparsity 0.9", s90, 1.2e-1}, {"sparsity 0.9 per layer", s90l, 1.2e-1}};
}

TEST_CASE("teacher-forced logits per mode: GPU equals CPU on the same pack") {
    Fixture& f = fixture();
    if (!f.ok) return;
    CHECK_OK(f.cpu->attach(f.pack));
    CHECK_OK(f.gpu->attach(f.pack));
    const size_t n_vocab = f.model->hparams().n_vocab;
    for (const ModeCase& mc : mode_cases()) {
        EvalResult c, g;
        CHECK_OK(f.cpu->eval_logits(f.question, f.continuation, mc.mode, c));
        CHECK_OK(f.gpu->eval_logits(f.question, f.continuation, mc.mode, g));
        if (c.logits.size() != g.logits.size() || c.logits.empty()) {
            check::fail(__FILE__, __LINE__, std::string(mc.name) + ": no logits to compare");
            continue;
        }
        double worst = 0;
        int argmax_diff = 0;
        const size_t rows = c.logits.size() / n_vocab;
        for (size_t r = 0; r < rows; ++r) {
            const float* lc = c.logits.data() + r * n_vocab;
            const float* lg = g.logits.data() + r * n_vocab;
            worst = std::max(worst, rel_error(lg, lc, n_vocab));
            argmax_diff += argmax(lc, n_vocab) != argmax(lg, n_vocab);
        }
        std::printf("  %-22s worst rel. error %.2e  argmax differs %d/%zu  keys attended CPU %llu GPU %llu of %llu (sparsity %.3f / %.3f)\n",
                    mc.name, worst, argmax_diff, rows, static_cast<unsigned long long>(c.stats.keys_attended),
                    static_cast<unsigned long long>(g.stats.keys_attended), static_cast<unsigned long long>(g.stats.keys_fixed),
                    c.stats.sparsity(), g.stats.sparsity());
        if (real_model()) {
            CHECK(worst < mc.tolerance);
            CHECK(argmax_diff <= static_cast<int>(rows) / 6);
        }
        if (mc.mode.kind == SqueezeKind::Dense) continue;
        CHECK_EQ(g.stats.keys_fixed, c.stats.keys_fixed);
        // The GPU's question prefill scores with f16 queries: a cluster at its threshold may flip.
        CHECK(std::fabs(g.stats.sparsity() - c.stats.sparsity()) < 0.01);
        if (mc.mode.kind == SqueezeKind::AllClusters) CHECK_EQ(g.stats.keys_attended, g.stats.keys_fixed);
    }
}

TEST_CASE("greedy answers per mode: GPU vs CPU over 40 tokens") {
    Fixture& f = fixture();
    if (!f.ok) return;
    CHECK_OK(f.cpu->attach(f.pack));
    CHECK_OK(f.gpu->attach(f.pack));
    GenerateParams gp;
    gp.max_tokens = kGreedy;
    gp.sampling.temperature = 0.0f;
    for (const ModeCase& mc : mode_cases()) {
        AnswerResult c, g;
        CHECK_OK(f.cpu->answer(f.question, mc.mode, gp, nullptr, nullptr, c));
        CHECK_OK(f.gpu->answer(f.question, mc.mode, gp, nullptr, nullptr, g));
        const std::vector<int32_t>& tc = c.generation.tokens;
        const std::vector<int32_t>& tg = g.generation.tokens;
        size_t prefix = 0;
        while (prefix < tc.size() && prefix < tg.size() && tc[prefix] == tg[prefix]) ++prefix;
        std::printf("  %-22s common prefix %zu/%zu  decode CPU %.1f tok/s GPU %.1f tok/s\n", mc.name, prefix, tc.size(),
                    tc.size() > 1 ? 1e3 * (tc.size() - 1) / c.generation.decode_ms : 0.0,
                    tg.size() > 1 ? 1e3 * (tg.size() - 1) / g.generation.decode_ms : 0.0);
        CHECK(tc.size() == kGreedy && tg.size() == kGreedy);
        // Over a pseudo-random document SmolLM2 reaches a near-tie at token 19 that the dense path
        // flips too (measured common prefixes 7..40 of 40); a broken path diverges at once.
        if (real_model()) CHECK(prefix >= 4);
    }
}

TEST_CASE("token mass (citations): the GPU's equals the CPU's") {
    Fixture& f = fixture();
    if (!f.ok) return;
    CHECK_OK(f.cpu->attach(f.pack));
    CHECK_OK(f.gpu->attach(f.pack));
    GenerateParams gp;
    gp.max_tokens = 4; // the question's prefill and three decode steps
    gp.sampling.temperature = 0.0f;
    for (const ModeCase& mc : mode_cases()) {
        if (mc.mode.kind == SqueezeKind::Dense) continue; // dense measures no mass
        AnswerResult c, g;
        CHECK_OK(f.cpu->answer(f.question, mc.mode, gp, nullptr, nullptr, c));
        CHECK_OK(f.gpu->answer(f.question, mc.mode, gp, nullptr, nullptr, g));
        CHECK(g.token_mass.size() == kFixed && c.token_mass.size() == kFixed);
        if (g.token_mass.size() != c.token_mass.size() || c.token_mass.empty()) continue;
        const double err = rel_error(g.token_mass.data(), c.token_mass.data(), c.token_mass.size());
        double total = 0;
        for (const float m : g.token_mass) total += m;
        const bool same_tokens = c.generation.tokens == g.generation.tokens;
        std::printf("  %-22s mass rel. error %.2e  total %.1f  (tokens %s)\n", mc.name, err, total, same_tokens ? "equal" : "differ");
        if (same_tokens) CHECK(err < (real_model() ? 5e-3 : 1e-1));
    }
}

TEST_CASE("the GPU session reports its device and refuses the modes it lacks") {
    Fixture& f = fixture();
    if (!f.ok) return;
    CHECK(f.gpu->session().context().device() == cuda::probe_devices().name);
    CHECK_OK(f.gpu->attach(f.pack));
    SqueezeMode budget{SqueezeKind::Budget};
    budget.budget_keys = 256;
    EvalResult r;
    CHECK(f.gpu->eval_logits(f.question, f.continuation, budget, r).code == "SQUEEZE_BAD_MODE");
}

int check_without_gpu() {
    std::unique_ptr<Model> m = load_model("smollm2-shape");
    CHECK(m != nullptr);
    if (!m) return 1;
    std::unique_ptr<DocSession> ds;
    CHECK(make_session(*m, Backend::Cuda, 512, 2, ds).code == "CUDA_UNAVAILABLE");
    CHECK_OK(make_session(*m, Backend::Auto, 512, 2, ds));
    if (ds) CHECK(ds->session().context().device() == "cpu");
    std::printf("cuda-doc-test: no GPU (%s): %s; the GPU comparisons are skipped\n", cuda::probe_devices().name,
                check::failures() ? "the CPU fallback FAILED" : "cuda is refused, auto falls back to the CPU");
    return check::failures() ? 1 : 0;
}

} // namespace

int main() {
    if (!have_gpu()) return check_without_gpu();
    std::printf("cuda-doc-test on %s with %s\n", cuda::probe_devices().name, real_model() ? real_model() : "a SmolLM2-shaped generated model");
    return run_all_tests();
}

#else

int main() {
    std::printf("cuda-doc-test: skipped (built without CUDA)\n");
    return 0;
}

#endif
