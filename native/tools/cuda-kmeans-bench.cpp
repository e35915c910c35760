// cuda-kmeans-bench: GPU K-means (kernels/kmeans) at the size of a document pack: --keys keys per
// KV head (128K), --heads KV heads of a layer clustered in one call (8), --layers calls (32),
// d = 128, bf16 keys, level 2 = 5% of the keys, then level 1 = 1% over the level-2 centroids (f32).
// Keys: clustered random (a shared offset, a few large channels, keys / 40 centres, uniform
// noise), the same for every layer (only the seed changes), built on the host once.
//
// Prints the total for all layers (both levels), the time of one layer split into seeding +
// finishing and one Lloyd step (from runs of 1 and --iters steps), the assignment's tensor-core
// rate, and the objective (mean 1 - cos per key) after --iters and after 2 x --iters steps.
//
//   cuda-kmeans-bench [--keys 131072] [--heads 8] [--layers 32] [--iters 10] [--rounds 8] [--json FILE]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "common/half.h"
#include "cuda-bench-util.h"
#include "cuda-squeeze-index.h"
#include "device.cuh"
#include "kmeans.cuh"

using namespace sq;
using namespace sq::tools;

namespace {

constexpr int kDim = 128;

struct Options {
    int keys = 131072, heads = 8, layers = 32, iters = 10, rounds = 8;
    const char* json_path = nullptr;
};

struct Lcg {
    uint64_t s;
    float next() { // uniform in [-1, 1)
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<float>(s >> 40) * (2.0f / 16777216.0f) - 1.0f;
    }
};

std::vector<uint16_t> clustered_keys(int heads, int n, int d) {
    std::vector<uint16_t> out(static_cast<size_t>(heads) * n * d);
    Lcg rng{12345};
    for (int h = 0; h < heads; ++h) {
        const int n_centres = std::max(1, n / 40);
        std::vector<float> offset(d), centres(static_cast<size_t>(n_centres) * d);
        for (int e = 0; e < d; ++e) offset[e] = 0.5f * rng.next() + (e % 17 == 3 ? 4.0f : 0.0f);
        for (float& c : centres) c = 1.5f * rng.next();
        for (int i = 0; i < n; ++i) {
            const int c = static_cast<int>((rng.next() + 1.0f) * 0.5f * n_centres) % n_centres;
            uint16_t* row = out.data() + (static_cast<size_t>(h) * n + i) * d;
            for (int e = 0; e < d; ++e) row[e] = f32_to_bf16(offset[e] + centres[static_cast<size_t>(c) * d + e] + 0.6f * rng.next());
        }
    }
    return out;
}

struct Run {
    cuda::KmeansParams p{};
    GpuArray<int> assign, counts;
    GpuArray<float> centroids;
    GpuArray<double> objective;
    GpuArray<char> ws;
    Run(const void* points, cuda::KmeansPointType type, int batches, int n, int k, int iters, int rounds)
        : assign(size_t(batches) * n), counts(size_t(batches) * k), centroids(size_t(batches) * k * kDim), objective(batches) {
        p.points = points;
        p.point_type = type;
        p.n_batches = batches;
        p.n_points = n;
        p.dim = kDim;
        p.n_clusters = k;
        p.n_iters = iters;
        p.seed_rounds = rounds;
        p.assign = assign.ptr;
        p.counts = counts.ptr;
        p.centroids = centroids.ptr;
        p.objective = objective.ptr;
        ws.alloc(cuda::kmeans_workspace_bytes(p));
        p.workspace = ws.ptr;
    }
    bool ok() const { return assign.ok && counts.ok && centroids.ok && objective.ok && ws.ok; }
    double mean_objective() const {
        double sum = 0.0;
        for (const double o : objective.download()) sum += o;
        return sum / (static_cast<double>(p.n_batches) * p.n_points);
    }
};

// Milliseconds of `calls` back-to-back kmeans calls (seed changing per call), events around them.
double time_calls(cuda::KmeansParams p, int calls) {
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    cudaEventRecord(start);
    cudaError_t err = cudaSuccess;
    for (int c = 0; c < calls && err == cudaSuccess; ++c) {
        p.seed = 1000 + c;
        err = cuda::kmeans(p, nullptr);
    }
    cudaEventRecord(stop);
    if (!ok(err, "kmeans") || !ok(cudaEventSynchronize(stop), "sync")) return -1.0;
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return ms;
}

double median_of_3(const cuda::KmeansParams& p) {
    double t[3];
    for (double& x : t) x = time_calls(p, 1);
    std::sort(t, t + 3);
    return t[1];
}

} // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (!std::strcmp(argv[i], "--keys") && has_value) opt.keys = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--heads") && has_value) opt.heads = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--layers") && has_value) opt.layers = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--iters") && has_value) opt.iters = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--rounds") && has_value) opt.rounds = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--json") && has_value) opt.json_path = argv[++i];
        else {
            std::fprintf(stderr, "usage: cuda-kmeans-bench [--keys N] [--heads N] [--layers N] [--iters N] [--rounds N] [--json FILE]\n");
            return 2;
        }
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-kmeans-bench: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    const int n = opt.keys;
    const int k2 = std::max(1, static_cast<int>(std::lround(0.05 * n)));
    const int k1 = std::max(1, std::min(k2, static_cast<int>(std::lround(0.01 * n))));
    std::printf("cuda-kmeans-bench on %s: %d layers x %d KV heads x %d keys, d %d, K2 %d (5%%), K1 %d (1%%), %d Lloyd steps, %d seed rounds\n",
                probe.name, opt.layers, opt.heads, n, kDim, k2, k1, opt.iters, opt.rounds);

    GpuArray<uint16_t> keys;
    keys.upload(clustered_keys(opt.heads, n, kDim));
    Run level2(keys.ptr, cuda::KmeansPointType::BF16, opt.heads, n, k2, opt.iters, opt.rounds);
    Run level1(level2.centroids.ptr, cuda::KmeansPointType::F32, opt.heads, k2, k1, opt.iters, opt.rounds);
    if (!keys.ok || !level2.ok() || !level1.ok()) {
        std::fprintf(stderr, "cuda-kmeans-bench: out of device memory\n");
        return 1;
    }

    // Warm-up (module load), then level 2 of every layer followed by its level 1, as a pack build runs.
    if (time_calls(level2.p, 1) < 0 || time_calls(level1.p, 1) < 0) return 1;
    cudaEvent_t start, stop;
    cudaEventCreate(&start);
    cudaEventCreate(&stop);
    cudaEventRecord(start);
    cudaError_t err = cudaSuccess;
    for (int l = 0; l < opt.layers && err == cudaSuccess; ++l) {
        level2.p.seed = 7 * l + 1;
        level1.p.seed = 7 * l + 2;
        err = cuda::kmeans(level2.p, nullptr);
        if (err == cudaSuccess) err = cuda::kmeans(level1.p, nullptr);
    }
    cudaEventRecord(stop);
    if (!ok(err, "kmeans") || !ok(cudaEventSynchronize(stop), "sync")) return 1;
    float total_ms = 0.0f;
    cudaEventElapsedTime(&total_ms, start, stop);
    const double objective = level2.mean_objective();

    // One layer: runs of 1 and --iters steps give the seeding + finishing time and one step's.
    const double t_layer2 = median_of_3(level2.p);
    const double t_layer1 = median_of_3(level1.p);
    cuda::KmeansParams one = level2.p;
    one.n_iters = 1;
    const double t_one = median_of_3(one);
    const double per_step = (t_layer2 - t_one) / std::max(1, opt.iters - 1);
    const double seed_finish = t_one - per_step;
    const double step_flop = 2.0 * opt.heads * static_cast<double>(n) * k2 * kDim;
    const double tflops = step_flop / (per_step * 1e-3) / 1e12;

    cuda::KmeansParams twice = level2.p;
    twice.n_iters = 2 * opt.iters;
    twice.seed = 1;
    level2.p.seed = 1;
    time_calls(level2.p, 1);
    const double objective_iters = level2.mean_objective();
    const double t_twice = time_calls(twice, 1);
    const double objective_twice = level2.mean_objective();

    std::printf("  total, %d layers (level 2 + level 1): %.3f s  (goal <= 10 s)\n", opt.layers, total_ms * 1e-3);
    std::printf("  one layer: level 2 %.1f ms (seeding + finish %.1f ms, one Lloyd step %.2f ms = %.0f TFLOP/s in the assignment), level 1 %.2f ms\n",
                t_layer2, seed_finish, per_step, tflops, t_layer1);
    std::printf("  mean 1 - cos per key: %.5f after %d steps (seed 1: %.5f), %.5f after %d steps (%.1f ms)\n", objective, opt.iters,
                objective_iters, objective_twice, 2 * opt.iters, t_twice);
    if (opt.json_path) {
        FILE* f = std::fopen(opt.json_path, "w");
        if (!f) {
            std::fprintf(stderr, "cuda-kmeans-bench: cannot write %s\n", opt.json_path);
            return 1;
        }
        std::fprintf(f,
                     "{\n  \"card\": \"%s\",\n  \"layers\": %d, \"kv_heads\": %d, \"keys\": %d, \"dim\": %d, \"k2\": %d, \"k1\": %d,\n"
                     "  \"iters\": %d, \"seed_rounds\": %d, \"key_type\": \"bf16\",\n"
                     "  \"total_s\": %.4f, \"layer_level2_ms\": %.3f, \"layer_level1_ms\": %.3f, \"seed_finish_ms\": %.3f,\n"
                     "  \"lloyd_step_ms\": %.3f, \"assign_tflops\": %.1f,\n"
                     "  \"mean_objective\": %.6f, \"mean_objective_seed1\": %.6f, \"mean_objective_2x_iters\": %.6f, \"layer_2x_iters_ms\": %.3f\n}\n",
                     probe.name, opt.layers, opt.heads, n, kDim, k2, k1, opt.iters, opt.rounds, total_ms * 1e-3, t_layer2, t_layer1,
                     seed_finish, per_step, tflops, objective, objective_iters, objective_twice, t_twice);
        std::fclose(f);
    }
    return 0;
}

#else

int main() {
    std::printf("cuda-kmeans-bench: skipped, built without CUDA\n");
    return 0;
}

#endif
