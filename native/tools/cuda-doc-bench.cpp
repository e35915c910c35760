// cuda-doc-bench: a document session end to end on the GPU and on the CPU of the same machine:
// ingest (prefill, clustering, calibration), attach, then per mode a question's prefill and greedy
// decode, dense vs squeezed at the calibrated 70% / 90%. The CPU session (all cores) attaches the
// GPU's pack: CPU prefill of long contexts would dominate the run and measures nothing new.
//
//   cuda-doc-bench MODEL [--fixed N] [--decode D] [--threads T] [--cpu 0|1] [--json PATH]
//     MODEL: smollm2-shape | llama-1b-shape | a GGUF path. Defaults: 8192 fixed tokens, 64 decoded.
// Prints one row per (backend, mode); the JSON has the same rows with the machine and the command.
#include <cstdio>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "cuda-doc-fixture.h"
#include "cuda-forward-prompts.h"
#include "device.cuh"

using namespace sq;
using namespace sq::doc_fixture;

namespace {

struct Row {
    std::string backend, mode;
    double question_ms = 0, decode_tok_s = 0, sparsity = 0;
    size_t n_decoded = 0;
};

struct ModeSpec {
    const char* name;
    SqueezeMode mode;
};

std::vector<ModeSpec> modes() {
    SqueezeMode s70{SqueezeKind::Threshold}, s90{SqueezeKind::Threshold};
    s70.sparsity = 0.7f;
    s90.sparsity = 0.9f;
    s70.token_mass = s90.token_mass = false;
    SqueezeMode all{SqueezeKind::AllClusters};
    all.token_mass = false;
    // "dense" is the forward pass's own attention (the CPU's rounding); "all clusters" reads every
    // key through the squeezed path's split-K kernels: the GPU's fast dense.
    return {{"dense", SqueezeMode{SqueezeKind::Dense}}, {"all clusters", all}, {"sparsity 0.7", s70}, {"sparsity 0.9", s90}};
}

bool run_modes(DocSession& ds, const char* backend, const std::vector<int32_t>& question, uint32_t n_decode, std::vector<Row>& rows) {
    GenerateParams gp;
    gp.max_tokens = n_decode;
    gp.sampling.temperature = 0.0f;
    for (const ModeSpec& m : modes()) {
        AnswerResult r;
        // The first answer in a mode warms it (kernel attributes, graph capture, page faults).
        Status st = ds.answer(question, m.mode, gp, nullptr, nullptr, r);
        if (st) st = ds.answer(question, m.mode, gp, nullptr, nullptr, r);
        if (!st) {
            std::fprintf(stderr, "%s %s: %s: %s\n", backend, m.name, st.code.c_str(), st.message.c_str());
            return false;
        }
        Row row{backend, m.name, r.generation.prefill_ms, 0, r.stats.sparsity(), r.generation.tokens.size()};
        if (r.generation.tokens.size() > 1) row.decode_tok_s = 1e3 * (r.generation.tokens.size() - 1) / r.generation.decode_ms;
        std::printf("%-4s %-13s question %7.2f ms   decode %8.1f tok/s   sparsity %.3f   (%zu tokens)\n", backend, m.name,
                    row.question_ms, row.decode_tok_s, row.sparsity, row.n_decoded);
        rows.push_back(row);
    }
    return true;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: cuda-doc-bench MODEL [--fixed N] [--decode D] [--threads T] [--cpu 0|1] [--json PATH]\n");
        return 2;
    }
    const std::string spec = argv[1];
    uint32_t n_fixed = 8192, n_decode = 64, n_threads = std::max(1u, std::thread::hardware_concurrency()), with_cpu = 1;
    std::string json;
    for (int i = 2; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const uint32_t v = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
        if (flag == "--fixed") n_fixed = v;
        else if (flag == "--decode") n_decode = v;
        else if (flag == "--threads") n_threads = v;
        else if (flag == "--cpu") with_cpu = v;
        else if (flag == "--json") json = argv[i + 1];
        else {
            std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
            return 2;
        }
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-doc-bench: no GPU (%s)\n", probe.name);
        return 0;
    }
    std::unique_ptr<Model> model = load_model(spec);
    if (!model) return 1;
    const uint32_t n_ctx = n_fixed + 1024;
    const std::vector<int32_t> fixed = pseudo_text(n_fixed, 21, model->hparams().n_vocab);
    const std::vector<int32_t> question(kSmolLM2Prompts[0].tokens.begin() + 1, kSmolLM2Prompts[0].tokens.end());

    std::unique_ptr<DocSession> gpu;
    Ingested ing;
    Status st = make_session(*model, Backend::Cuda, n_ctx, n_threads, gpu);
    if (st) st = ingest(*gpu, fixed, ing);
    if (!st) {
        std::fprintf(stderr, "GPU ingest: %s: %s\n", st.code.c_str(), st.message.c_str());
        return 1;
    }
    std::printf("%s on %s, %u CPU threads: %u fixed tokens, question %zu tokens, %u decoded\n", spec.c_str(), probe.name, n_threads,
                n_fixed, question.size(), n_decode);
    std::printf("GPU ingest: prefill %.0f ms, cluster (CPU) %.0f ms, calibrate %.0f ms, attach %.1f ms\n", ing.timings.prefill_ms,
                ing.timings.cluster_ms, ing.timings.calibrate_ms, ing.attach_ms);
    std::vector<Row> rows;
    if (!run_modes(*gpu, "gpu", question, n_decode, rows)) return 1;
    gpu.reset();
    double cpu_attach_ms = 0;
    if (with_cpu) {
        std::unique_ptr<DocSession> cpu;
        st = make_session(*model, Backend::Cpu, n_ctx, n_threads, cpu);
        const double t0 = now_ms();
        if (st) st = cpu->attach(ing.pack);
        cpu_attach_ms = now_ms() - t0;
        if (!st) {
            std::fprintf(stderr, "CPU attach: %s: %s\n", st.code.c_str(), st.message.c_str());
            return 1;
        }
        std::printf("CPU attach %.1f ms\n", cpu_attach_ms);
        if (!run_modes(*cpu, "cpu", question, n_decode, rows)) return 1;
    }
    if (!json.empty()) {
        FILE* f = std::fopen(json.c_str(), "w");
        if (!f) return 1;
        const char* commit = std::getenv("COMMIT");
        std::string cmd;
        for (int i = 0; i < argc; ++i) cmd += (i ? " " : "") + std::string(argv[i]);
        std::fprintf(f, "{\"device\": \"%s\", \"cpu_threads\": %u, \"commit\": \"%s\", \"command\": \"%s\", \"model\": \"%s\",\n", probe.name,
                     n_threads, commit ? commit : "unknown", cmd.c_str(), spec.c_str());
        std::fprintf(f, " \"n_fixed\": %u, \"n_question\": %zu, \"n_decode\": %u,\n", n_fixed, question.size(), n_decode);
        std::fprintf(f, " \"ingest_gpu\": {\"prefill_ms\": %.1f, \"cluster_ms\": %.1f, \"calibrate_ms\": %.1f, \"attach_ms\": %.2f}, \"attach_cpu_ms\": %.2f,\n",
                     ing.timings.prefill_ms, ing.timings.cluster_ms, ing.timings.calibrate_ms, ing.attach_ms, cpu_attach_ms);
        std::fprintf(f, " \"rows\": [\n");
        for (size_t i = 0; i < rows.size(); ++i) {
            const Row& r = rows[i];
            std::fprintf(f, "  {\"backend\": \"%s\", \"mode\": \"%s\", \"question_ms\": %.3f, \"decode_tok_s\": %.2f, \"sparsity\": %.4f, \"n_decoded\": %zu}%s\n",
                         r.backend.c_str(), r.mode.c_str(), r.question_ms, r.decode_tok_s, r.sparsity, r.n_decoded, i + 1 < rows.size() ? "," : "");
        }
        std::fprintf(f, " ]}\n");
        std::fclose(f);
    }
    return 0;
}

#else

int main() {
    std::printf("cuda-doc-bench: skipped (built without CUDA)\n");
    return 0;
}

#endif
