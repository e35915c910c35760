// Timing, filling and JSON helpers shared by the CUDA bench drivers (cuda-bench, cuda-squeeze-bench,
// cuda-prefill-bench).
#pragma once

#include <algorithm>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <cuda_runtime.h>

namespace sq::tools {

inline bool ok(cudaError_t err, const char* what) {
    if (err == cudaSuccess) return true;
    std::fprintf(stderr, "cuda: %s: %s\n", what, cudaGetErrorString(err));
    return false;
}

// Milliseconds per call of fn: the median over 7 batches of `reps` back-to-back calls, each batch
// timed with CUDA events after 3 warm-up calls. Back-to-back calls keep the GPU busy, so host-side
// launch overhead hides behind the previous call as it does in a decode loop. A launch error makes
// the result negative.
inline double median_ms(const std::function<cudaError_t()>& fn, int reps) {
    for (int i = 0; i < 3; ++i)
        if (!ok(fn(), "warm-up launch")) return -1.0;
    cudaEvent_t start, stop;
    if (!ok(cudaEventCreate(&start), "event") || !ok(cudaEventCreate(&stop), "event")) return -1.0;
    std::vector<float> times;
    for (int batch = 0; batch < 7; ++batch) {
        cudaEventRecord(start);
        cudaError_t err = cudaSuccess;
        for (int i = 0; i < reps && err == cudaSuccess; ++i) err = fn();
        cudaEventRecord(stop);
        if (!ok(err, "launch") || !ok(cudaEventSynchronize(stop), "sync")) return -1.0;
        float ms = 0.0f;
        cudaEventElapsedTime(&ms, start, stop);
        times.push_back(ms / reps);
    }
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    std::sort(times.begin(), times.end());
    return times[times.size() / 2];
}

// Fills n bytes of device memory with a 64 MiB random host pattern of 16-bit values from `make`
// (repeated: contents do not matter to bandwidth, only that they are not zeros).
inline bool fill_u16(void* dst, size_t n_bytes, const std::function<uint16_t(float)>& make) {
    const size_t chunk = std::min<size_t>(n_bytes, 64u << 20);
    std::vector<uint16_t> host(chunk / 2);
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (uint16_t& h : host) h = make(dist(gen));
    char* d = static_cast<char*>(dst);
    if (!ok(cudaMemcpy(d, host.data(), chunk, cudaMemcpyHostToDevice), "fill")) return false;
    for (size_t off = chunk; off < n_bytes; off += chunk)
        if (!ok(cudaMemcpy(d + off, d, std::min(chunk, n_bytes - off), cudaMemcpyDeviceToDevice), "fill")) return false;
    return true;
}

struct Json {
    std::string text;
    void add(const std::string& row) { text += (text.empty() ? "" : ",\n    ") + row; }
};

// Writes a bench's JSON: {fields, "name": [rows], ...}. fields: the leading members, already
// formatted ("\"card\": \"...\", \"reps\": 20"). False (with a message naming the tool) when the
// file cannot be written.
inline bool write_bench_json(const char* path, const char* tool, const std::string& fields,
                             std::initializer_list<std::pair<const char*, const Json*>> arrays) {
    FILE* f = std::fopen(path, "w");
    if (!f) {
        std::fprintf(stderr, "%s: cannot write %s\n", tool, path);
        return false;
    }
    std::fprintf(f, "{\n  %s", fields.c_str());
    for (const auto& [name, rows] : arrays) std::fprintf(f, ",\n  \"%s\": [\n    %s\n  ]", name, rows->text.c_str());
    std::fprintf(f, "\n}\n");
    std::fclose(f);
    return true;
}

} // namespace sq::tools
