// cuda-forward-bench: prefill and decode speed of the GPU forward pass beside the CPU's, same
// model, same run. Decode is greedy one token per eval after a short prompt, as generation runs;
// the GPU is measured with decode steps replayed from a CUDA graph and without
// (SQUEEZE_CUDA_GRAPHS=0), to show what the launches cost.
//
//   cuda-forward-bench MODEL [--threads N] [--prompt P] [--decode D] [--json PATH]
//     P: prefill length (one batch), default 512; D: decode steps, default 128.
//     MODEL "smollm2-shape": a generated model of SmolLM2-135M's shape and types (random weights,
//     the same bytes to read and work to do) where the real file is not at hand.
#include <cstdio>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cuda-forward-model.h"
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

bool measure(const Model& m, Backend backend, uint32_t threads, uint32_t prompt, uint32_t decode, Numbers& out) {
    ContextParams p;
    p.n_ctx = prompt + decode + 64;
    p.n_batch = prompt;
    p.n_threads = threads;
    p.backend = backend;
    std::unique_ptr<Context> ctx;
    const Status st = Context::create(m, p, ctx);
    if (!st) {
        std::fprintf(stderr, "%s: %s\n", st.code.c_str(), st.message.c_str());
        return false;
    }
    const uint32_t n_vocab = m.hparams().n_vocab;
    std::vector<int32_t> tokens(prompt);
    for (uint32_t i = 0; i < prompt; ++i) tokens[i] = static_cast<int32_t>((i * 7919u + 13u) % n_vocab);
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

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: cuda-forward-bench MODEL [--threads N] [--prompt P] [--decode D] [--json PATH]\n");
        return 2;
    }
    const std::string path = argv[1];
    uint32_t threads = std::max(1u, std::thread::hardware_concurrency()), prompt = 512, decode = 128;
    const char* json = nullptr;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const uint32_t v = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
        if (flag == "--threads") threads = v;
        else if (flag == "--prompt") prompt = v;
        else if (flag == "--decode") decode = v;
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
    const bool generated = path == "smollm2-shape";
    const std::string file = generated ? forward_model::write_model(forward_model::smollm2_shape(), TensorType::Q4_1, 1) : path;
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
    Numbers gpu, eager, cpu;
    setenv("SQUEEZE_CUDA_GRAPHS", "0", 1);
    const bool eager_ok = measure(*m, Backend::Cuda, threads, prompt, decode, eager);
    unsetenv("SQUEEZE_CUDA_GRAPHS");
    if (!eager_ok || !measure(*m, Backend::Cuda, threads, prompt, decode, gpu) ||
        !measure(*m, Backend::Cpu, threads, prompt, decode, cpu))
        return 1;
    std::printf("%-36s %14s %14s\n", "", "prefill tok/s", "decode tok/s");
    std::printf("%-36s %14.0f %14.1f\n", (std::string(probe.name) + ", CUDA graph").c_str(), gpu.prefill_tok_s,
                gpu.decode_tok_s);
    std::printf("%-36s %14.0f %14.1f\n", (std::string(probe.name) + ", no graph").c_str(), eager.prefill_tok_s,
                eager.decode_tok_s);
    std::printf("%-36s %14.0f %14.1f\n", ("CPU, " + std::to_string(threads) + " threads").c_str(), cpu.prefill_tok_s,
                cpu.decode_tok_s);
    std::printf("GPU / CPU: prefill %.1fx, decode %.1fx (prefill %u tokens in one batch; decode %u steps after 32)\n",
                gpu.prefill_tok_s / cpu.prefill_tok_s, gpu.decode_tok_s / cpu.decode_tok_s, prompt, decode);
    if (json) {
        std::FILE* f = std::fopen(json, "w");
        if (!f) return 1;
        const char* commit = std::getenv("COMMIT");
        std::fprintf(f,
                     "{\"card\": \"%s\", \"commit\": \"%s\", \"model\": \"%s\", \"threads\": %u, \"prompt\": %u, "
                     "\"decode\": %u,\n \"gpu\": {\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f},\n"
                     " \"gpu_no_graph\": {\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f},\n"
                     " \"cpu\": {\"prefill_tok_s\": %.1f, \"decode_tok_s\": %.2f}}\n",
                     probe.name, commit ? commit : "unknown", path.c_str(), threads, prompt, decode, gpu.prefill_tok_s,
                     gpu.decode_tok_s, eager.prefill_tok_s, eager.decode_tok_s, cpu.prefill_tok_s, cpu.decode_tok_s);
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
