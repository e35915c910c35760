// cuda-gemm-bench: the prefill matmul alone, tensor-core GEMM (matmul_mma, activation unpack
// included) beside the GEMV kernels' token tiles (matmul_q), per weight type and shape, in int8
// TOPS (2 * rows * cols * tokens per second; the scale arithmetic is not counted). Inputs are
// random valid blocks, already quantized (quantize_rows is the same for both kernels).
// bench/gpu/gemm_torch.py measures torch.matmul bf16 (cuBLAS) on the same shapes in the same run.
//
//   cuda-gemm-bench [--json PATH]
#include <cstdio>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "common/half.h"
#include "device.cuh"
#include "matmul-mma.cuh"
#include "matmul-q.cuh"

using namespace sq;

namespace {

struct Shape {
    const char* model;
    const char* name;
    int n_rows, n_cols;
};

const Shape kShapes[] = {
    {"smollm2", "q/o 576x576", 576, 576},        {"smollm2", "k/v 192x576", 192, 576},
    {"smollm2", "gate/up 1536x576", 1536, 576},  {"smollm2", "down 576x1536", 576, 1536},
    {"llama-8b", "q/o 4096x4096", 4096, 4096},   {"llama-8b", "gate/up 14336x4096", 14336, 4096},
    {"llama-8b", "down 4096x14336", 4096, 14336},
};

struct TypeInfo {
    const char* name;
    cuda::WeightType type;
    int block_bytes, act_block_bytes;
};

const TypeInfo kTypes[] = {{"q8_0", cuda::WeightType::Q8_0, 34, 34},
                           {"q4_1", cuda::WeightType::Q4_1, 20, 36},
                           {"q4_0", cuda::WeightType::Q4_0, 18, 34}};

uint64_t g_state = 0x9E3779B97F4A7C15ull;
uint32_t next_random() { // xorshift64*: fast enough for hundreds of MB of random blocks
    g_state ^= g_state >> 12;
    g_state ^= g_state << 25;
    g_state ^= g_state >> 27;
    return static_cast<uint32_t>((g_state * 0x2545F4914F6CDD1Dull) >> 32);
}

// Random blocks of `block_bytes` with their f16 scale(s) (the first `n_scales` halves) set small.
std::vector<uint8_t> random_blocks(size_t n_blocks, int block_bytes, int n_scales) {
    std::vector<uint8_t> out(n_blocks * block_bytes);
    for (size_t i = 0; i + 4 <= out.size(); i += 4) {
        const uint32_t r = next_random();
        std::memcpy(&out[i], &r, 4);
    }
    for (size_t b = 0; b < n_blocks; ++b) {
        for (int s = 0; s < n_scales; ++s) {
            const uint16_t h = f32_to_f16(0.001f + 0.01f * (next_random() % 1000) / 1000.0f);
            std::memcpy(&out[b * block_bytes + 2 * s], &h, 2);
        }
    }
    return out;
}

struct Timer {
    cudaEvent_t start, stop;
    Timer() { cudaEventCreate(&start); cudaEventCreate(&stop); }
    ~Timer() { cudaEventDestroy(start); cudaEventDestroy(stop); }
};

// Median milliseconds of `reps` launches of f (after one warm-up), or a negative value on error.
template <typename F>
double median_ms(F&& f, int reps) {
    Timer t;
    if (f() != cudaSuccess || cudaDeviceSynchronize() != cudaSuccess) return -1.0;
    std::vector<float> ms(reps);
    for (int i = 0; i < reps; ++i) {
        cudaEventRecord(t.start);
        f();
        cudaEventRecord(t.stop);
        if (cudaEventSynchronize(t.stop) != cudaSuccess) return -1.0;
        cudaEventElapsedTime(&ms[i], t.start, t.stop);
    }
    std::sort(ms.begin(), ms.end());
    return ms[reps / 2];
}

struct Result {
    std::string type, model, shape;
    int n_rows, n_cols, n_tokens;
    double gemv_ms, mma_ms;
};

bool run_case(const TypeInfo& ti, const Shape& s, int n_tokens, Result& out) {
    const int n_blocks = s.n_cols / 32;
    const long w_row_bytes = long{n_blocks} * ti.block_bytes;
    const long a_row_bytes = (long{n_blocks} * ti.act_block_bytes + 15) / 16 * 16;
    const std::vector<uint8_t> w = random_blocks(size_t(s.n_rows) * n_blocks, ti.block_bytes,
                                                 ti.type == cuda::WeightType::Q4_1 ? 2 : 1);
    // Activation rows: Q8_0 blocks (d) or Q8_1 blocks (d, s), each row padded to 16 bytes.
    std::vector<uint8_t> a(size_t(n_tokens) * a_row_bytes);
    for (int t = 0; t < n_tokens; ++t) {
        const std::vector<uint8_t> row = random_blocks(n_blocks, ti.act_block_bytes, ti.act_block_bytes == 36 ? 2 : 1);
        std::memcpy(&a[t * a_row_bytes], row.data(), row.size());
    }
    const size_t ws_bytes = cuda::matmul_mma_workspace_bytes(n_tokens, s.n_cols);
    void *dw = nullptr, *da = nullptr, *dws = nullptr, *dy = nullptr;
    bool ok = cudaMalloc(&dw, w.size()) == cudaSuccess && cudaMalloc(&da, a.size()) == cudaSuccess &&
              cudaMalloc(&dws, ws_bytes) == cudaSuccess && cudaMalloc(&dy, sizeof(float) * n_tokens * s.n_rows) == cudaSuccess &&
              cudaMemcpy(dw, w.data(), w.size(), cudaMemcpyHostToDevice) == cudaSuccess &&
              cudaMemcpy(da, a.data(), a.size(), cudaMemcpyHostToDevice) == cudaSuccess;
    float* y = static_cast<float*>(dy);
    const cuda::MatmulQParams qp{dw, ti.type, s.n_rows, s.n_cols, w_row_bytes, da, a_row_bytes, n_tokens, y, s.n_rows};
    const cuda::MatmulMmaParams mp{dw, ti.type, s.n_rows, s.n_cols, w_row_bytes, da, a_row_bytes, n_tokens, dws, y, s.n_rows};
    const double ops = 2.0 * s.n_rows * s.n_cols * n_tokens;
    const int reps = ops > 5e10 ? 5 : 20;
    if (ok) {
        out = {ti.name, s.model, s.name, s.n_rows, s.n_cols, n_tokens, 0, 0};
        out.gemv_ms = median_ms([&] { return cuda::matmul_q(qp, nullptr); }, reps);
        out.mma_ms = median_ms([&] { return cuda::matmul_mma(mp, nullptr); }, reps);
        ok = out.gemv_ms > 0 && out.mma_ms > 0;
    }
    cudaFree(dw);
    cudaFree(da);
    cudaFree(dws);
    cudaFree(dy);
    return ok;
}

double tops(const Result& r, double ms) { return 2.0 * r.n_rows * r.n_cols * r.n_tokens / (ms * 1e-3) / 1e12; }

} // namespace

int main(int argc, char** argv) {
    const char* json = argc == 3 && std::strcmp(argv[1], "--json") == 0 ? argv[2] : nullptr;
    if (argc != 1 && !json) {
        std::fprintf(stderr, "usage: cuda-gemm-bench [--json PATH]\n");
        return 2;
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-gemm-bench: no GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("card: %s\n%-5s %-9s %-20s %6s %10s %10s %9s %9s %7s\n", probe.name, "type", "model", "shape", "tokens",
                "gemv ms", "mma ms", "gemv TOPS", "mma TOPS", "speedup");
    std::vector<Result> results;
    const auto run = [&](const TypeInfo& ti, const Shape& s, int n_tokens) {
        Result r;
        if (!run_case(ti, s, n_tokens, r)) {
            std::fprintf(stderr, "%s %s %d tokens failed: %s\n", ti.name, s.name, n_tokens, cudaGetErrorString(cudaGetLastError()));
            return false;
        }
        std::printf("%-5s %-9s %-20s %6d %10.4f %10.4f %9.2f %9.2f %6.2fx\n", r.type.c_str(), r.model.c_str(),
                    r.shape.c_str(), n_tokens, r.gemv_ms, r.mma_ms, tops(r, r.gemv_ms), tops(r, r.mma_ms),
                    r.gemv_ms / r.mma_ms);
        results.push_back(r);
        return true;
    };
    for (const TypeInfo& ti : kTypes)
        for (const Shape& s : kShapes)
            for (int n_tokens : {512, 2048})
                if (!run(ti, s, n_tokens)) return 1;
    // The crossover: small batches on the SmolLM2 and 8B shapes where both kernels are cheapest.
    for (const TypeInfo& ti : kTypes)
        for (const Shape* s : {&kShapes[2], &kShapes[4]})
            for (int n_tokens : {8, 16, 32, 64, 128})
                if (!run(ti, *s, n_tokens)) return 1;
    if (json) {
        std::FILE* f = std::fopen(json, "w");
        if (!f) return 1;
        const char* commit = std::getenv("COMMIT");
        std::fprintf(f, "{\"card\": \"%s\", \"commit\": \"%s\", \"command\": \"cuda-gemm-bench --json %s\", \"results\": [\n",
                     probe.name, commit ? commit : "unknown", json);
        for (size_t i = 0; i < results.size(); ++i) {
            const Result& r = results[i];
            std::fprintf(f,
                         " {\"type\": \"%s\", \"model\": \"%s\", \"shape\": \"%s\", \"n_rows\": %d, \"n_cols\": %d, "
                         "\"n_tokens\": %d, \"gemv_ms\": %.5f, \"mma_ms\": %.5f, \"gemv_tops\": %.3f, \"mma_tops\": %.3f}%s\n",
                         r.type.c_str(), r.model.c_str(), r.shape.c_str(), r.n_rows, r.n_cols, r.n_tokens, r.gemv_ms,
                         r.mma_ms, tops(r, r.gemv_ms), tops(r, r.mma_ms), i + 1 < results.size() ? "," : "");
        }
        std::fprintf(f, "]}\n");
        std::fclose(f);
    }
    return 0;
}

#else

int main() {
    std::printf("cuda-gemm-bench: built without CUDA\n");
    return 0;
}

#endif
