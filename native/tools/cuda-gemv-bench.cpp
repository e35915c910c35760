// cuda-gemv-bench: decode GEMV bandwidth per weight type on Llama-3.1-8B's matrix shapes, the
// CPU-order kernels (matmul_q, what SQUEEZE_CUDA_GEMM=0 runs) beside the decode GEMV (matmul_vec,
// one and two weight rows a warp at a time) in the same run, on the same weights and activation.
//
// Each matrix is laid out in enough copies that together they are several times the L2 (no call
// finds its rows in L2); one CUDA graph runs one GEMV per copy, replayed (median of 7 batches), so
// launch gaps do not count. Bandwidth counts weight bytes. The old and the default new kernel's
// outputs on the last copy are compared (max |old - new| / max |old|): they differ only in the order of float additions.
// Weights are random bytes with small f16 values (every quant pattern); speed does not depend on them.
//
//   cuda-gemv-bench [--types q8_0,q4_k,q6_k,q4_0,q4_1] [--tokens N] [--reps R] [--json PATH]
#include <cstdio>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "common/half.h"
#include "common/tensor-type.h"
#include "cuda-bench-util.h"
#include "cuda-squeeze-index.h"
#include "device.cuh"
#include "matmul-q.cuh"
#include "matmul-vec.cuh"
#include "quantize-rows.cuh"

using namespace sq;
using namespace sq::tools;

namespace {

struct Shape {
    const char* name;
    int rows, cols;
    int per_layer; // how many of it a layer reads (0: once per token)
};
// Llama-3.1-8B: attn_q and attn_out, attn_k and attn_v, ffn_gate and ffn_up, ffn_down; the head.
const Shape kShapes[] = {{"attn_q/out", 4096, 4096, 2}, {"attn_k/v", 1024, 4096, 2}, {"ffn_gate/up", 14336, 4096, 2},
                         {"ffn_down", 4096, 14336, 1},  {"output", 128256, 4096, 0}};
constexpr size_t kRotationBytes = size_t{768} << 20; // copies of a matrix together at least this (H100 L2: 50 MB)

struct TypeName {
    const char* name;
    cuda::WeightType type;
};
const TypeName kTypes[] = {{"q8_0", cuda::WeightType::Q8_0}, {"q4_k", cuda::WeightType::Q4_K}, {"q6_k", cuda::WeightType::Q6_K},
                           {"q4_0", cuda::WeightType::Q4_0}, {"q4_1", cuda::WeightType::Q4_1}};

// Milliseconds per replay of the graph of fn(s) captured on s, replayed on the legacy stream.
double graph_ms(cudaStream_t s, const std::function<cudaError_t(cudaStream_t)>& fn, int reps) {
    cudaGraph_t g = nullptr;
    cudaGraphExec_t exec = nullptr;
    if (!ok(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "capture")) return -1.0;
    const cudaError_t queued = fn(s);
    if (!ok(cudaStreamEndCapture(s, &g), "capture") || !ok(queued, "capture") || !ok(cudaGraphInstantiate(&exec, g, 0), "instantiate"))
        return -1.0;
    cudaGraphDestroy(g);
    const double ms = median_ms([&] { return cudaGraphLaunch(exec, nullptr); }, reps);
    cudaGraphExecDestroy(exec);
    return ok(cudaDeviceSynchronize(), "graph replays") ? ms : -1.0;
}

struct Row {
    std::string type, matrix;
    int rows, cols, copies;
    double bytes, old_us, new_us, new2_us, rel_diff;
};

bool run_shape(cudaStream_t s, const TypeName& t, const Shape& sh, int n_tokens, int reps, Row& out) {
    const TensorTypeTraits tt = tensor_type_traits(static_cast<uint32_t>(t.type));
    const long row_bytes = long(sh.cols / tt.block_size) * tt.block_bytes;
    const size_t bytes = size_t(sh.rows) * row_bytes;
    const int copies = static_cast<int>(std::clamp<size_t>((kRotationBytes + bytes - 1) / bytes, 2, 256));
    GpuArray<uint8_t> w(bytes * copies);
    if (!w.ok || !fill_u16(w.ptr, w.n, [](float f) { return f32_to_f16(1e-3f * f); })) return false;

    std::vector<float> x(size_t(n_tokens) * sh.cols);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
    GpuArray<float> dx;
    dx.upload(x);
    const cuda::ActType old_act = cuda::matmul_act_type(t.type), new_act = cuda::matmul_vec_act_type(t.type);
    const long old_bytes = (cuda::quantized_row_bytes(old_act, sh.cols) + 15) / 16 * 16;
    const long new_bytes = (cuda::quantized_row_bytes(new_act, sh.cols) + 15) / 16 * 16;
    GpuArray<uint8_t> a_old(size_t(n_tokens) * old_bytes), a_new(size_t(n_tokens) * new_bytes);
    GpuArray<float> y_old(size_t(n_tokens) * sh.rows), y_new(size_t(n_tokens) * sh.rows);
    if (!dx.ok || !a_old.ok || !a_new.ok || !y_old.ok || !y_new.ok) return false;
    if (!ok(cuda::quantize_rows({dx.ptr, a_old.ptr, old_act, n_tokens, sh.cols, sh.cols, old_bytes}, nullptr), "quantize") ||
        !ok(cuda::quantize_rows({dx.ptr, a_new.ptr, new_act, n_tokens, sh.cols, sh.cols, new_bytes}, nullptr), "quantize"))
        return false;

    const auto params = [&](int copy, bool fast) {
        return cuda::MatmulQParams{w.ptr + size_t(copy) * bytes, t.type, sh.rows, sh.cols, row_bytes,
                                   fast ? a_new.ptr : a_old.ptr, fast ? new_bytes : old_bytes, n_tokens,
                                   fast ? y_new.ptr : y_old.ptr, sh.rows};
    };
    // rows_together 0: the CPU-order matmul_q; 1 or 2: matmul_vec with that many rows a warp.
    const auto all_copies = [&](int rows_together) {
        return [&, rows_together](cudaStream_t st) {
            cudaError_t e = cudaSuccess;
            for (int c = 0; c < copies && e == cudaSuccess; ++c)
                e = rows_together ? cuda::matmul_vec(params(c, true), st, rows_together) : cuda::matmul_q(params(c, false), st);
            return e;
        };
    };
    // One eager call each first: kernel attributes are set outside captures.
    for (int rows_together : {2, 1, 0})
        if (!ok(all_copies(rows_together)(s), "eager calls") || !ok(cudaStreamSynchronize(s), "eager calls")) return false;
    const double old_ms = graph_ms(s, all_copies(0), reps) / copies;
    const double new2_ms = graph_ms(s, all_copies(2), reps) / copies;
    const double new_ms = graph_ms(s, all_copies(1), reps) / copies;
    if (old_ms < 0 || new_ms < 0 || new2_ms < 0) return false;
    if (!ok(all_copies(cuda::kMatmulVecRowsTogether)(s), "default") || !ok(cudaStreamSynchronize(s), "default")) return false;
    const std::vector<float> yo = y_old.download(), yn = y_new.download();
    double diff = 0.0, mag = 0.0;
    for (size_t i = 0; i < yo.size(); ++i) {
        diff = std::max(diff, double(std::fabs(yo[i] - yn[i])));
        mag = std::max(mag, double(std::fabs(yo[i])));
    }
    const double weight_bytes = double(bytes);
    out = {t.name, sh.name, sh.rows, sh.cols, copies, weight_bytes, old_ms * 1e3, new_ms * 1e3, new2_ms * 1e3,
           std::isfinite(diff) ? diff / std::max(mag, 1e-30) : INFINITY};
    return true;
}

} // namespace

int main(int argc, char** argv) {
    std::string types = "q8_0,q4_k,q6_k,q4_0,q4_1";
    int n_tokens = 1, reps = 20;
    const char* json = nullptr;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--types") types = argv[i + 1];
        else if (flag == "--tokens") n_tokens = std::atoi(argv[i + 1]);
        else if (flag == "--reps") reps = std::atoi(argv[i + 1]);
        else if (flag == "--json") json = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: cuda-gemv-bench [--types q8_0,q4_k,...] [--tokens N] [--reps R] [--json PATH]\n");
            return 2;
        }
    }
    if (n_tokens < 1 || reps < 1) {
        std::fprintf(stderr, "--tokens and --reps must be >= 1\n");
        return 2;
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-gemv-bench: no GPU (%s)\n", probe.name);
        return 0;
    }
    cudaStream_t stream = nullptr;
    if (!ok(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream")) return 1;
    std::printf("card: %s; Llama-3.1-8B matrix shapes; %d token(s); old = matmul_q (CPU order), new = matmul_vec with 1 "
                "and 2 rows a warp (default %d)\n", probe.name, n_tokens, cuda::kMatmulVecRowsTogether);
    std::printf("%-5s %-12s %7s %6s %6s %8s %8s %8s %8s %8s %8s %7s %8s\n", "type", "matrix", "rows", "cols", "copies",
                "old us", "GB/s", "new1 us", "GB/s", "new2 us", "GB/s", "best/old", "rel diff");
    Json rows;
    for (const TypeName& t : kTypes) {
        if (("," + types + ",").find("," + std::string(t.name) + ",") == std::string::npos) continue;
        double layer_old = 0, layer_new = 0, layer_new2 = 0, layer_bytes = 0;
        for (const Shape& sh : kShapes) {
            Row r;
            if (!run_shape(stream, t, sh, n_tokens, reps, r)) {
                std::fprintf(stderr, "%s %s failed\n", t.name, sh.name);
                return 1;
            }
            const auto gbs = [&](double us) { return r.bytes / (us * 1e3); };
            std::printf("%-5s %-12s %7d %6d %6d %8.2f %8.0f %8.2f %8.0f %8.2f %8.0f %7.2fx %8.2g\n", r.type.c_str(),
                        r.matrix.c_str(), r.rows, r.cols, r.copies, r.old_us, gbs(r.old_us), r.new_us, gbs(r.new_us),
                        r.new2_us, gbs(r.new2_us), r.old_us / std::min(r.new_us, r.new2_us), r.rel_diff);
            std::fflush(stdout);
            layer_old += sh.per_layer * r.old_us;
            layer_new += sh.per_layer * r.new_us;
            layer_new2 += sh.per_layer * r.new2_us;
            layer_bytes += sh.per_layer * r.bytes;
            char buf[400];
            std::snprintf(buf, sizeof buf,
                          "{\"type\": \"%s\", \"matrix\": \"%s\", \"rows\": %d, \"cols\": %d, \"copies\": %d, \"old_us\": %.3f, "
                          "\"old_gb_s\": %.1f, \"new_1row_us\": %.3f, \"new_1row_gb_s\": %.1f, \"new_2row_us\": %.3f, "
                          "\"new_2row_gb_s\": %.1f, \"rel_diff\": %.3g}",
                          r.type.c_str(), r.matrix.c_str(), r.rows, r.cols, r.copies, r.old_us, gbs(r.old_us), r.new_us,
                          gbs(r.new_us), r.new2_us, gbs(r.new2_us), r.rel_diff);
            rows.add(buf);
        }
        std::printf("%-5s %-12s one layer's 7 GEMVs: old %.1f us (%.0f GB/s), new 1 row %.1f us (%.0f GB/s), 2 rows %.1f us "
                    "(%.0f GB/s)\n", t.name, "layer", layer_old, layer_bytes / (layer_old * 1e3), layer_new,
                    layer_bytes / (layer_new * 1e3), layer_new2, layer_bytes / (layer_new2 * 1e3));
    }
    cudaStreamDestroy(stream);
    if (json) {
        const char* commit = std::getenv("COMMIT");
        const std::string fields = std::string("\"card\": \"") + probe.name + "\", \"commit\": \"" + (commit ? commit : "unknown") +
                                   "\", \"tokens\": " + std::to_string(n_tokens) + ", \"reps\": " + std::to_string(reps);
        if (!write_bench_json(json, "cuda-gemv-bench", fields, {{"rows", &rows}})) return 1;
    }
    return 0;
}

#else

int main() {
    std::printf("cuda-gemv-bench: built without CUDA\n");
    return 0;
}

#endif
