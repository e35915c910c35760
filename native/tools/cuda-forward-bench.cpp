// cuda-forward-bench: prefill and decode speed of the GPU forward pass beside the CPU's, same
// model, same run. Decode is greedy one token per eval after a short prompt, as generation runs;
// the GPU is measured with decode steps replayed from a CUDA graph and without
// (SQUEEZE_CUDA_GRAPHS=0), to show what the launches cost, and its prefill with the tensor-core
// GEMM and the decode GEMV (default) and without (SQUEEZE_CUDA_GEMM=0: the CPU-order kernels, the
// CPU's bits). Both round block sums differently from the CPU, so the bench also reports what that
// changes: the last prompt token's logits (max |delta|, against the GEMM-off GPU run, which has the
// CPU's bits) and how many of --agree greedy tokens after the prompt are the same.
//
//   cuda-forward-bench MODEL [--threads N] [--prompt P] [--decode D] [--agree A] [--cpu 0|1] [--chat 0|1]
//                      [--json PATH]
//     P: prefill length (one batch), default 512; D: decode steps, default 128; A: greedy tokens
//     compared, default 64 (0: none); --cpu 0 skips the CPU run (long prompts of large shapes);
//     --chat 1: also 64 greedy tokens after each of cuda-forward-test's SmolLM2 chat prompts
//     (MODEL the real SmolLM2), default path vs SQUEEZE_CUDA_GEMM=0, tokens equal counted.
//     MODEL "smollm2-shape": a generated model of SmolLM2-135M's shape and types (random weights,
//     the same bytes to read and work to do) where the real file is not at hand.
//     MODEL "llama8b-shape:L": L layers of Llama-3.1-8B's shape in Q8_0 (vocab 32000, tied): prefill
//     time is per layer, so 32 layers take about 32 / L times as long. "llama-1b-shape": Llama-3.2-1B
//     (16 layers, 32/8 heads of 64, Q8_0, vocab 128256).
//
//   cuda-forward-bench MODEL --keys K1,K2,... [--decode D] [--batch B] [--json PATH]
//     The forward pass's own attention at long contexts: per K, prefill of K tokens in batches of B
//     (default 1024) and D greedy decode steps at depth K (graph replays), with the CPU-order kernel
//     up to its limit ("cpu-order": SQUEEZE_CUDA_ATTENTION_KEYS past any context, the attention
//     before the crossover existed) and with the fast kernels at every length ("fast": 0). The
//     default crossover (cuda-forward.cpp) takes "cpu-order" up to it and "fast" past it.
#include <cstdio>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda-forward-model.h"
#include "cuda-forward-prompts.h"
#include "device.cuh"
#include "model/model.h"

using namespace sq;

namespace {

struct Numbers {
    double prefill_tok_s = 0;
    double decode_tok_s = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<Context> make_context(const Model& m, Backend backend, uint32_t threads, uint32_t n_ctx, uint32_t n_batch) {
    ContextParams p;
    p.n_ctx = n_ctx;
    p.n_batch = n_batch;
    p.n_threads = threads;
    p.backend = backend;
    std::unique_ptr<Context> ctx;
    const Status st = Context::create(m, p, ctx);
    if (!st) std::fprintf(stderr, "%s: %s\n", st.code.c_str(), st.message.c_str());
    return ctx;
}

std::vector<int32_t> prompt_tokens(const Model& m, uint32_t prompt) {
    std::vector<int32_t> tokens(prompt);
    for (uint32_t i = 0; i < prompt; ++i) tokens[i] = static_cast<int32_t>((i * 7919u + 13u) % m.hparams().n_vocab);
    return tokens;
}

int32_t argmax(const std::vector<float>& v) {
    return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

bool measure(const Model& m, Backend backend, uint32_t threads, uint32_t prompt, uint32_t decode, Numbers& out) {
    const std::unique_ptr<Context> ctx = make_context(m, backend, threads, prompt + decode + 64, prompt);
    if (!ctx) return false;
    const std::vector<int32_t> tokens = prompt_tokens(m, prompt);
    std::vector<float> logits;
    // Warm-up (module load, first-touch of the cache), then the timed prefill from position 0.
    if (!ctx->eval(tokens.data(), prompt, false, logits).is_ok()) return false;
    ctx->truncate(0);
    auto t0 = std::chrono::steady_clock::now();
    if (!ctx->eval(tokens.data(), prompt, false, logits).is_ok()) return false;
    out.prefill_tok_s = prompt / seconds_since(t0);

    ctx->truncate(32);
    int32_t next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < decode; ++i) {
        if (!ctx->eval(&next, 1, false, logits).is_ok()) return false;
        next = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    }
    out.decode_tok_s = decode / seconds_since(t0);
    return true;
}

struct Agreement {
    double max_abs_delta = 0; // last prompt token's logits, GEMM vs the CPU's order
    double max_abs_logit = 0;
    bool same_argmax = false;
    int same_prefix = 0, same_tokens = 0, n = 0; // greedy tokens after the prompt
};

// Prompt then n greedy tokens, each context choosing its own: logits of the prompt's last token and
// the generated ids.
bool prefill_and_generate(Context& ctx, const std::vector<int32_t>& prompt, int n, std::vector<float>& last,
                          std::vector<int32_t>& out) {
    if (!ctx.eval(prompt.data(), static_cast<uint32_t>(prompt.size()), false, last).is_ok()) return false;
    std::vector<float> logits = last;
    for (int i = 0; i < n; ++i) {
        int32_t next = argmax(logits);
        out.push_back(next);
        if (!ctx.eval(&next, 1, false, logits).is_ok()) return false;
    }
    return true;
}

// The GEMM's prefill (default) against the GEMV's (SQUEEZE_CUDA_GEMM=0, the CPU's bits).
bool agreement(const Model& m, uint32_t threads, uint32_t prompt, int n, Agreement& out) {
    const std::vector<int32_t> tokens = prompt_tokens(m, prompt);
    std::vector<float> last_gemm, last_ref;
    std::vector<int32_t> gen_gemm, gen_ref;
    const std::unique_ptr<Context> gemm = make_context(m, Backend::Cuda, threads, prompt + n + 8, prompt);
    setenv("SQUEEZE_CUDA_GEMM", "0", 1);
    const std::unique_ptr<Context> ref = make_context(m, Backend::Cuda, threads, prompt + n + 8, prompt);
    unsetenv("SQUEEZE_CUDA_GEMM");
    if (!gemm || !ref || !prefill_and_generate(*gemm, tokens, n, last_gemm, gen_gemm) ||
        !prefill_and_generate(*ref, tokens, n, last_ref, gen_ref))
        return false;
    for (size_t i = 0; i < last_ref.size(); ++i) {
        out.max_abs_delta = std::max(out.max_abs_delta, static_cast<double>(std::fabs(last_gemm[i] - last_ref[i])));
        out.max_abs_logit = std::max(out.max_abs_logit, static_cast<double>(std::fabs(last_ref[i])));
    }
    out.same_argmax = argmax(last_gemm) == argmax(last_ref);
    out.n = n;
    bool prefix = true;
    for (int i = 0; i < n; ++i) {
        const bool same = gen_gemm[i] == gen_ref[i];
        out.same_tokens += same;
        prefix = prefix && same;
        out.same_prefix += prefix;
    }
    return true;
}

// Greedy tokens after each chat prompt: the default path (GEMM, decode GEMV) against the CPU's
// order (SQUEEZE_CUDA_GEMM=0, which cuda-forward-test holds to the CPU's tokens).
struct ChatAgreement {
    int same = 0, total = 0;
    std::string first_diffs; // per prompt: the index of the first differing token, or "-"
};

bool chat_agreement(const Model& m, uint32_t threads, int n, ChatAgreement& out) {
    for (const PromptTokens& p : kSmolLM2Prompts) {
        const uint32_t n_ctx = static_cast<uint32_t>(p.tokens.size()) + n + 8;
        std::vector<float> last_fast, last_ref;
        std::vector<int32_t> gen_fast, gen_ref;
        const std::unique_ptr<Context> fast = make_context(m, Backend::Cuda, threads, n_ctx, n_ctx);
        setenv("SQUEEZE_CUDA_GEMM", "0", 1);
        const std::unique_ptr<Context> ref = make_context(m, Backend::Cuda, threads, n_ctx, n_ctx);
        unsetenv("SQUEEZE_CUDA_GEMM");
        if (!fast || !ref || !prefill_and_generate(*fast, p.tokens, n, last_fast, gen_fast) ||
            !prefill_and_generate(*ref, p.tokens, n, last_ref, gen_ref))
            return false;
        int first = -1;
        for (int i = 0; i < n; ++i) {
            out.same += gen_fast[i] == gen_ref[i];
            if (first < 0 && gen_fast[i] != gen_ref[i]) first = i;
        }
        out.total += n;
        out.first_diffs += (out.first_diffs.empty() ? "" : ",") + (first < 0 ? std::string("-") : std::to_string(first));
    }
    return true;
}

struct KeysRow {
    uint32_t keys;
    const char* variant;
    double prefill_tok_s, decode_tok_s;
};

// Prefill of `keys` tokens from position 0 in batches of n_batch, then n_decode greedy steps after them.
bool measure_at_depth(const Model& m, uint32_t keys, uint32_t n_decode, uint32_t n_batch, KeysRow& row) {
    const std::unique_ptr<Context> ctx = make_context(m, Backend::Cuda, 1, keys + n_decode + 64, n_batch);
    if (!ctx) return false;
    const std::vector<int32_t> tokens = prompt_tokens(m, keys);
    std::vector<float> logits;
    // Warm-up: module load and kernel attributes of both attention paths (a batch past the crossover).
    const uint32_t warm = std::min(keys, n_batch);
    if (!ctx->eval(tokens.data(), warm, false, logits).is_ok()) return false;
    ctx->truncate(0);
    auto t0 = std::chrono::steady_clock::now();
    if (!ctx->eval(tokens.data(), keys, false, logits).is_ok()) return false;
    row.prefill_tok_s = keys / seconds_since(t0);
    int32_t next = argmax(logits);
    // Two steps warm the graph (one eager, one captured); the timed steps replay it.
    for (int i = 0; i < 2; ++i) {
        if (!ctx->eval(&next, 1, false, logits).is_ok()) return false;
        next = argmax(logits);
    }
    t0 = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < n_decode; ++i) {
        if (!ctx->eval(&next, 1, false, logits).is_ok()) return false;
        next = argmax(logits);
    }
    row.decode_tok_s = n_decode / seconds_since(t0);
    return true;
}

int run_keys(const Model& m, const std::string& model_name, const std::string& list, uint32_t n_decode, uint32_t n_batch,
             const char* json, const char* card) {
    std::vector<KeysRow> rows;
    std::printf("%-16s %8s %-10s %14s %14s\n", "model", "keys", "attention", "prefill tok/s", "decode tok/s");
    for (const char* p = list.c_str(); *p;) {
        char* end = nullptr;
        const uint32_t keys = static_cast<uint32_t>(std::strtoul(p, &end, 10));
        if (end == p || keys < 33) {
            std::fprintf(stderr, "--keys takes a comma-separated list of lengths > 32\n");
            return 2;
        }
        p = *end == ',' ? end + 1 : end;
        for (const auto& [variant, crossover] : {std::pair{"cpu-order", "1000000000"}, std::pair{"fast", "0"}}) {
            setenv("SQUEEZE_CUDA_ATTENTION_KEYS", crossover, 1);
            KeysRow row{keys, variant, 0, 0};
            const bool ok = measure_at_depth(m, keys, n_decode, n_batch, row);
            unsetenv("SQUEEZE_CUDA_ATTENTION_KEYS");
            if (!ok) return 1;
            std::printf("%-16s %8u %-10s %14.0f %14.1f\n", model_name.c_str(), keys, variant, row.prefill_tok_s,
                        row.decode_tok_s);
            std::fflush(stdout);
            rows.push_back(row);
        }
    }
    if (!json) return 0;
    std::FILE* f = std::fopen(json, "w");
    if (!f) return 1;
    const char* commit = std::getenv("COMMIT");
    std::fprintf(f, "{\"card\": \"%s\", \"commit\": \"%s\", \"model\": \"%s\", \"batch\": %u, \"decode\": %u, \"rows\": [\n", card,
                 commit ? commit : "unknown", model_name.c_str(), n_batch, n_decode);
    for (size_t i = 0; i < rows.size(); ++i) {
        std::fprintf(f, "  {\"keys\": %u, \"attention\": \"%s\", \"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f}%s\n", rows[i].keys,
                     rows[i].variant, rows[i].prefill_tok_s, rows[i].decode_tok_s, i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "]}\n");
    std::fclose(f);
    return 0;
}

// "llama8b-shape:L": L layers of Llama-3.1-8B's shape.
bool parse_llama8b(const std::string& name, forward_model::Shape& s) {
    const std::string prefix = "llama8b-shape:";
    if (name.rfind(prefix, 0) != 0) return false;
    s.n_layers = static_cast<uint32_t>(std::strtoul(name.c_str() + prefix.size(), nullptr, 10));
    s.n_embd = 4096;
    s.n_ff = 14336;
    s.n_heads = 32;
    s.n_kv_heads = 8;
    s.n_vocab = 32000;
    s.tied = true;
    s.embd_type = TensorType::Q8_0;
    return s.n_layers > 0;
}

bool parse_llama1b(const std::string& name, forward_model::Shape& s) {
    if (name != "llama-1b-shape") return false;
    s = forward_model::llama1b_shape();
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: cuda-forward-bench MODEL [--threads N] [--prompt P] [--decode D] [--json PATH]\n");
        return 2;
    }
    const std::string path = argv[1];
    uint32_t threads = std::max(1u, std::thread::hardware_concurrency()), prompt = 512, decode = 128, agree = 64, cpu_run = 1;
    uint32_t chat = 0;
    uint32_t batch = 1024;
    const char* json = nullptr;
    std::string keys;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const uint32_t v = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
        if (flag == "--threads") threads = v;
        else if (flag == "--keys") keys = argv[i + 1];
        else if (flag == "--batch") batch = v;
        else if (flag == "--prompt") prompt = v;
        else if (flag == "--decode") decode = v;
        else if (flag == "--agree") agree = v;
        else if (flag == "--cpu") cpu_run = v;
        else if (flag == "--chat") chat = v;
        else if (flag == "--json") json = argv[i + 1];
        else {
            std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    if (prompt < 33 || decode == 0) {
        std::fprintf(stderr, "--prompt must be > 32 and --decode > 0\n");
        return 2;
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-forward-bench: no GPU (%s)\n", probe.name);
        return 0;
    }
    forward_model::Shape llama8b;
    const bool big = parse_llama8b(path, llama8b) || parse_llama1b(path, llama8b);
    const bool generated = path == "smollm2-shape" || big;
    const std::string file = big ? forward_model::write_model(llama8b, TensorType::Q8_0, 1)
                             : generated ? forward_model::write_model(forward_model::smollm2_shape(), TensorType::Q4_1, 1)
                                         : path;
    if (file.empty()) {
        std::fprintf(stderr, "cannot write the generated model\n");
        return 1;
    }
    std::unique_ptr<Model> m;
    const Status st = Model::load(file, m);
    if (generated) std::remove(file.c_str()); // the mapping stays valid after unlink
    if (!st) {
        std::fprintf(stderr, "%s: %s\n", st.code.c_str(), st.message.c_str());
        return 3;
    }
    if (!keys.empty()) return run_keys(*m, path, keys, decode, std::max(batch, 1u), json, probe.name);
    Numbers gpu, eager, gemv, cpu;
    setenv("SQUEEZE_CUDA_GRAPHS", "0", 1);
    const bool eager_ok = measure(*m, Backend::Cuda, threads, prompt, decode, eager);
    unsetenv("SQUEEZE_CUDA_GRAPHS");
    setenv("SQUEEZE_CUDA_GEMM", "0", 1);
    const bool gemv_ok = measure(*m, Backend::Cuda, threads, prompt, decode, gemv);
    unsetenv("SQUEEZE_CUDA_GEMM");
    if (!eager_ok || !gemv_ok || !measure(*m, Backend::Cuda, threads, prompt, decode, gpu) ||
        (cpu_run && !measure(*m, Backend::Cpu, threads, prompt, decode, cpu)))
        return 1;
    Agreement agr;
    if (agree && !agreement(*m, threads, prompt, static_cast<int>(agree), agr)) return 1;
    ChatAgreement chat_agr;
    if (chat && !chat_agreement(*m, threads, 64, chat_agr)) return 1;
    std::printf("%-40s %14s %14s\n", "", "prefill tok/s", "decode tok/s");
    std::printf("%-40s %14.0f %14.1f\n", (std::string(probe.name) + ", CUDA graph").c_str(), gpu.prefill_tok_s,
                gpu.decode_tok_s);
    std::printf("%-40s %14.0f %14.1f\n", (std::string(probe.name) + ", no graph").c_str(), eager.prefill_tok_s,
                eager.decode_tok_s);
    std::printf("%-40s %14.0f %14.1f\n", (std::string(probe.name) + ", no GEMM (CPU order)").c_str(),
                gemv.prefill_tok_s, gemv.decode_tok_s);
    if (cpu_run) {
        std::printf("%-40s %14.0f %14.1f\n", ("CPU, " + std::to_string(threads) + " threads").c_str(), cpu.prefill_tok_s,
                    cpu.decode_tok_s);
        std::printf("GPU / CPU: prefill %.1fx, decode %.1fx\n", gpu.prefill_tok_s / cpu.prefill_tok_s,
                    gpu.decode_tok_s / cpu.decode_tok_s);
    }
    std::printf("GEMM / no GEMM: prefill %.2fx (prefill %u tokens in one batch; decode %u steps after 32)\n",
                gpu.prefill_tok_s / gemv.prefill_tok_s, prompt, decode);
    if (agree) {
        std::printf("GEMM vs CPU order after %u prompt tokens: logits max |delta| %.3g (max |logit| %.3g), argmax %s; "
                    "greedy %d/%d tokens equal, first %d in a row\n",
                    prompt, agr.max_abs_delta, agr.max_abs_logit, agr.same_argmax ? "same" : "differs", agr.same_tokens,
                    agr.n, agr.same_prefix);
    }
    if (chat) {
        std::printf("default path vs CPU order on %zu chat prompts: greedy %d/%d tokens equal; first difference per "
                    "prompt: %s\n", std::size(kSmolLM2Prompts), chat_agr.same, chat_agr.total, chat_agr.first_diffs.c_str());
    }
    if (json) {
        std::FILE* f = std::fopen(json, "w");
        if (!f) return 1;
        const char* commit = std::getenv("COMMIT");
        std::fprintf(f,
                     "{\"card\": \"%s\", \"commit\": \"%s\", \"model\": \"%s\", \"threads\": %u, \"prompt\": %u, "
                     "\"decode\": %u,\n \"gpu\": {\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f},\n"
                     " \"gpu_no_graph\": {\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f},\n"
                     " \"gpu_no_gemm\": {\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f},\n"
                     " \"cpu\": {\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f},\n"
                     " \"gemm_vs_cpu_order\": {\"greedy_tokens\": %d, \"greedy_same\": %d, \"greedy_same_prefix\": %d, "
                     "\"last_logits_max_abs_delta\": %.6g, \"last_logits_max_abs\": %.6g, \"same_argmax\": %s},\n"
                     " \"chat_prompts_vs_cpu_order\": {\"greedy_tokens\": %d, \"greedy_same\": %d, \"first_diff\": \"%s\"}}\n",
                     probe.name, commit ? commit : "unknown", path.c_str(), threads, prompt, decode, gpu.prefill_tok_s,
                     gpu.decode_tok_s, eager.prefill_tok_s, eager.decode_tok_s, gemv.prefill_tok_s, gemv.decode_tok_s,
                     cpu.prefill_tok_s, cpu.decode_tok_s, agr.n, agr.same_tokens, agr.same_prefix, agr.max_abs_delta,
                     agr.max_abs_logit, agr.same_argmax ? "true" : "false", chat_agr.total, chat_agr.same,
                     chat_agr.first_diffs.c_str());
        std::fclose(f);
    }
    return 0;
}

#else

int main() {
    std::printf("cuda-forward-bench: built without CUDA\n");
    return 0;
}

#endif
