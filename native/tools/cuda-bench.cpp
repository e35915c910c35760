// cuda-bench: speed of dense decode attention on the GPU machine, as achieved memory bandwidth
// (the decode GEMV has its own bench: cuda-gemv-bench).
//   - copy ceiling: a large device-to-device copy (bytes read + written)
//   - dense decode attention (split-K), one query per head, H = 32, d = 128, KV heads 32 and 8,
//     f16/bf16 caches of 32K..512K keys: bytes = the K and V rows read
//   - a sweep of split counts x kernel variant (the measurement behind the defaults): every kernel
//     at 128K keys, the tensor-core kernel for Hkv 8 at 32K keys; the main table runs every variant:
//     CUDA cores with and without prefetch, tensor cores (mma)
// Times: median over 7 batches of --reps back-to-back calls (CUDA events), on random data.
//
//   cuda-bench [--reps 20] [--json FILE] [--max-keys 524288] [--dtypes bf16,f16]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "attention-decode.cuh"
#include "cuda-bench-util.h"
#include "common/half.h"
#include "device.cuh"

using namespace sq;
using namespace sq::tools;

namespace {

struct Options {
    int reps = 20;
    long max_keys = 512 * 1024;
    const char* json_path = nullptr;
    bool f16 = true; // --dtypes: bf16 always runs (the sweep is bf16)
};

double copy_ceiling_tbps(int reps) {
    const size_t bytes = size_t(2) << 30;
    void *a = nullptr, *b = nullptr;
    if (!ok(cudaMalloc(&a, bytes), "malloc") || !ok(cudaMalloc(&b, bytes), "malloc")) return 0.0;
    cudaMemset(a, 1, bytes);
    const double ms = median_ms([&] { return cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice); }, reps);
    cudaFree(a);
    cudaFree(b);
    return ms > 0 ? 2.0 * bytes / (ms * 1e-3) / 1e12 : 0.0;
}

struct AttentionBuffers {
    float *q = nullptr, *out = nullptr, *lse = nullptr, *ws = nullptr;
    void *k = nullptr, *v = nullptr;
};

cuda::AttentionDecodeParams attention_params(const AttentionBuffers& b, cuda::KvType type, int n_kv_heads, long n_kv,
                                             int n_splits, int kpi, int prefetch, int tensor_cores) {
    cuda::AttentionDecodeParams p{};
    p.q = b.q;
    p.k = b.k;
    p.v = b.v;
    p.out = b.out;
    p.lse = b.lse;
    p.workspace = b.ws;
    p.kv_type = type;
    p.n_heads = 32;
    p.n_kv_heads = n_kv_heads;
    p.head_dim = 128;
    p.n_kv = static_cast<int>(n_kv);
    p.kv_head_stride = n_kv * 128; // a packed [n_kv_heads][n_kv][128] cache, as PyTorch's is
    p.scale = 1.0f / std::sqrt(128.0f);
    p.n_splits = n_splits;
    p.keys_per_iter = kpi;
    p.prefetch = prefetch;
    p.tensor_cores = tensor_cores;
    return p;
}

void bench_attention(const Options& opt, Json& rows, Json& sweep) {
    const int n_heads = 32, d = 128;
    const size_t max_bytes = size_t(32) * opt.max_keys * d * 2; // the largest K (or V): 32 KV heads
    AttentionBuffers b;
    if (!ok(cudaMalloc(&b.q, n_heads * d * 4), "malloc") || !ok(cudaMalloc(&b.out, n_heads * d * 4), "malloc") ||
        !ok(cudaMalloc(&b.lse, n_heads * 4), "malloc") ||
        !ok(cudaMalloc(&b.ws, cuda::attention_decode_workspace_floats(n_heads, d) * 4), "malloc") ||
        !ok(cudaMalloc(&b.k, max_bytes), "malloc K") || !ok(cudaMalloc(&b.v, max_bytes), "malloc V"))
        return;
    std::vector<float> q(n_heads * d);
    std::mt19937 gen(3);
    for (float& x : q) x = std::uniform_real_distribution<float>(-2.0f, 2.0f)(gen);
    cudaMemcpy(b.q, q.data(), q.size() * 4, cudaMemcpyHostToDevice);

    struct Variant {
        const char* name;
        int prefetch, tensor_cores;
    };
    const Variant variants[] = {{"cores", -1, -1}, {"cores+prefetch", 1, -1}, {"mma", 0, 1}};
    std::printf("\n%-5s %4s %4s %8s %-15s %10s %8s\n", "kv", "H", "Hkv", "keys", "kernel", "ms", "TB/s");
    for (cuda::KvType type : {cuda::KvType::BF16, cuda::KvType::F16}) {
        const bool f16 = type == cuda::KvType::F16;
        if (f16 && !opt.f16) continue;
        const auto make = [f16](float f) { return f16 ? f32_to_f16(f) : f32_to_bf16(f); };
        if (!fill_u16(b.k, max_bytes, make) || !fill_u16(b.v, max_bytes, make)) return;
        for (int n_kv_heads : {32, 8}) {
            for (long n_kv : {32768L, 131072L, 262144L, 524288L}) {
                if (n_kv > opt.max_keys) continue;
                for (const Variant& var : variants) {
                    const cuda::AttentionDecodeParams p =
                        attention_params(b, type, n_kv_heads, n_kv, 0, 0, var.prefetch, var.tensor_cores);
                    const double ms = median_ms([&] { return cuda::attention_decode(p, nullptr); }, opt.reps);
                    const double bytes = 2.0 * n_kv_heads * n_kv * d * 2;
                    const double tbps = ms > 0 ? bytes / (ms * 1e-3) / 1e12 : 0.0;
                    std::printf("%-5s %4d %4d %8ld %-15s %10.4f %8.3f\n", f16 ? "f16" : "bf16", n_heads, n_kv_heads, n_kv,
                                var.name, ms, tbps);
                    char row[256];
                    std::snprintf(row, sizeof row,
                                  "{\"kv\": \"%s\", \"H\": %d, \"Hkv\": %d, \"d\": %d, \"keys\": %ld, \"kernel\": \"%s\", "
                                  "\"ms\": %.5f, \"tbps\": %.4f}",
                                  f16 ? "f16" : "bf16", n_heads, n_kv_heads, d, n_kv, var.name, ms, tbps);
                    rows.add(row);
                }
            }
        }
        if (f16) continue;
        // Tuning sweep (bf16): forced split counts x kernel (keys per step, prefetch, mma) at 128K
        // keys; at 32K keys (where Hkv 8 trailed cuDNN most) mma only.
        std::printf("\nsweep bf16, TB/s: splits (0 = auto) x kernel\n");
        for (const long sweep_keys : {131072L, 32768L}) {
            for (int n_kv_heads : {32, 8}) {
                if (sweep_keys == 32768L && n_kv_heads != 8) continue;
                for (int splits : {0, 33, 66, 132, 264}) {
                    std::printf("%6ld keys Hkv %2d splits %4d:", sweep_keys, n_kv_heads, splits);
                    for (int kpi : {2, 4, 0}) {
                        for (int prefetch : {-1, 1}) {
                            const bool mma = kpi == 0;
                            if ((mma && prefetch > 0) || (!mma && sweep_keys == 32768L)) continue;
                            const long n_kv = std::min(sweep_keys, opt.max_keys);
                            const cuda::AttentionDecodeParams p =
                                attention_params(b, type, n_kv_heads, n_kv, splits, kpi, prefetch, mma ? 1 : -1);
                            const double ms = median_ms([&] { return cuda::attention_decode(p, nullptr); }, opt.reps);
                            const double tbps = ms > 0 ? 2.0 * n_kv_heads * n_kv * d * 2 / (ms * 1e-3) / 1e12 : 0.0;
                            char name[32];
                            if (mma) std::snprintf(name, sizeof name, "mma");
                            else std::snprintf(name, sizeof name, "kpi %d pf %s", kpi, prefetch > 0 ? "on" : "off");
                            std::printf("  %s %6.3f", name, tbps);
                            char row[220];
                            std::snprintf(row, sizeof row,
                                          "{\"Hkv\": %d, \"keys\": %ld, \"splits\": %d, \"kernel\": \"%s\", \"ms\": %.5f, "
                                          "\"tbps\": %.4f}",
                                          n_kv_heads, n_kv, splits, name, ms, tbps);
                            sweep.add(row);
                        }
                    }
                    std::printf("\n");
                }
            }
        }
    }
    cudaFree(b.q);
    cudaFree(b.out);
    cudaFree(b.lse);
    cudaFree(b.ws);
    cudaFree(b.k);
    cudaFree(b.v);
}

} // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (!std::strcmp(argv[i], "--reps") && has_value) opt.reps = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--json") && has_value) opt.json_path = argv[++i];
        else if (!std::strcmp(argv[i], "--max-keys") && has_value) opt.max_keys = std::max(1L, std::atol(argv[++i]));
        else if (!std::strcmp(argv[i], "--dtypes") && has_value) opt.f16 = std::strstr(argv[++i], "f16") != nullptr;
        else {
            std::fprintf(stderr, "usage: cuda-bench [--reps N] [--json FILE] [--max-keys N] [--dtypes bf16,f16]\n");
            return 2;
        }
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-bench: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("cuda-bench on %s\n", probe.name);
    const double copy = copy_ceiling_tbps(opt.reps);
    std::printf("device-to-device copy: %.3f TB/s (read + write)\n", copy);
    Json attention, sweep;
    bench_attention(opt, attention, sweep);
    char fields[384];
    std::snprintf(fields, sizeof fields, "\"card\": \"%s\",\n  \"copy_tbps\": %.4f,\n  \"reps\": %d", probe.name, copy, opt.reps);
    if (opt.json_path &&
        !write_bench_json(opt.json_path, "cuda-bench", fields, {{"attention", &attention}, {"attention_sweep", &sweep}}))
        return 1;
    return 0;
}

#else

int main() {
    std::printf("cuda-bench: skipped, built without CUDA\n");
    return 0;
}

#endif
