// The GPU layout of a squeeze index (one layer), shared by cuda-squeeze-test and cuda-squeeze-bench:
// the CPU index's per-head trees and cluster-ordered keys/values flattened into the arrays
// squeeze_lookup and squeezed_decode read. Centroids are rounded to the cache type (see
// kernels/squeeze-lookup.cuh); round_centroids gives the CPU index the same values, so the CPU
// lookup is an exact reference for the selection.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <cuda_runtime.h>

#include "common/half.h"
#include "squeeze-lookup.cuh"
#include "squeeze/cluster-index.h"

namespace sq::tools {

inline uint16_t to_cache(cuda::KvType t, float f) { return t == cuda::KvType::F16 ? f32_to_f16(f) : f32_to_bf16(f); }
inline float from_cache(cuda::KvType t, uint16_t h) { return t == cuda::KvType::F16 ? f16_to_f32(h) : bf16_to_f32(h); }

// Device memory freed on scope exit; `ok` is false when the allocation failed.
template <typename T>
struct GpuArray {
    T* ptr = nullptr;
    size_t n = 0;
    bool ok = true;
    GpuArray() = default;
    explicit GpuArray(size_t count) { alloc(count); }
    ~GpuArray() { cudaFree(ptr); }
    GpuArray(const GpuArray&) = delete;
    GpuArray& operator=(const GpuArray&) = delete;
    void alloc(size_t count) {
        cudaFree(ptr);
        n = count;
        ptr = nullptr;
        ok = cudaMalloc(&ptr, (count ? count : 1) * sizeof(T)) == cudaSuccess;
    }
    void upload(const std::vector<T>& host) {
        alloc(host.size());
        if (ok && n) ok = cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess;
    }
    std::vector<T> download() const {
        std::vector<T> host(n);
        if (ptr && n) cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost);
        return host;
    }
};

// Centroids rounded to the cache type, in place (derived fields rebuilt).
inline void round_centroids(squeeze::HeadIndex& head, cuda::KvType type) {
    for (squeeze::ClusterLevel& lv : head.levels) {
        for (float& c : lv.centroids) c = from_cache(type, to_cache(type, c));
        squeeze::cluster_level_derive(lv, head.head_dim);
    }
}

struct GpuSqueezeIndex {
    int n_kv_heads = 0, head_dim = 0, n_tokens = 0, n_always = 0, n_levels = 0;
    int n_clusters[cuda::kMaxSqueezeLevels] = {};
    GpuArray<uint16_t> centroids[cuda::kMaxSqueezeLevels]; // [n_kv_heads][K_l][head_dim] cache type
    GpuArray<int> parent[cuda::kMaxSqueezeLevels];         // [n_kv_heads][K_l], levels >= 1
    GpuArray<float> log_counts;                            // [n_kv_heads][K_0]
    GpuArray<int> first;                                   // [n_kv_heads][K_finest + 1]
    GpuArray<uint16_t> k, v;                               // [n_kv_heads][n_tokens][head_dim], when uploaded
    bool ok = true;

    // Lookup parameters over this index (q, heads, scale, outputs and workspace left to the caller).
    cuda::SqueezeLookupParams lookup(cuda::KvType type, const float* tau) const {
        cuda::SqueezeLookupParams p{};
        p.centroid_type = type;
        p.n_levels = n_levels;
        for (int l = 0; l < n_levels; ++l)
            p.levels[l] = {centroids[l].ptr, l > 0 ? parent[l].ptr : nullptr, n_clusters[l], tau ? tau[l] : 0.0f};
        p.log_counts = log_counts.ptr;
        p.first = first.ptr;
        p.n_always = n_always;
        p.n_kv_heads = n_kv_heads;
        p.head_dim = head_dim;
        p.slot_stride = n_tokens;
        return p;
    }
};

// heads: one per KV head, same shape (tokens, n_always, levels and cluster counts). Keys and values
// are uploaded when the heads carry them (converted from the index's f16 to `type`).
inline bool upload_index(const std::vector<const squeeze::HeadIndex*>& heads, cuda::KvType type, GpuSqueezeIndex& out) {
    const squeeze::HeadIndex& h0 = *heads[0];
    const int d = static_cast<int>(h0.head_dim);
    out.n_kv_heads = static_cast<int>(heads.size());
    out.head_dim = d;
    out.n_tokens = static_cast<int>(h0.n_tokens);
    out.n_always = static_cast<int>(h0.n_always);
    // A tree whose coarsest level is empty (every token always attended) is no tree, as for the CPU lookup.
    out.n_levels = h0.levels.empty() || h0.levels[0].n_clusters == 0 ? 0 : static_cast<int>(h0.levels.size());
    if (out.n_levels > cuda::kMaxSqueezeLevels) return false;
    for (const squeeze::HeadIndex* h : heads)
        if (h->n_tokens != h0.n_tokens || h->n_always != h0.n_always || h->levels.size() != h0.levels.size()) return false;
    if (out.n_levels == 0) for (const squeeze::HeadIndex* h : heads) if (!h->levels.empty() && h->levels[0].n_clusters != 0) return false;
    for (int l = 0; l < out.n_levels; ++l) {
        const int k = static_cast<int>(h0.levels[l].n_clusters);
        out.n_clusters[l] = k;
        std::vector<uint16_t> cent;
        std::vector<int> parent;
        cent.reserve(size_t(k) * d * heads.size());
        for (const squeeze::HeadIndex* h : heads) {
            if (static_cast<int>(h->levels[l].n_clusters) != k) return false;
            for (const float c : h->levels[l].centroids) cent.push_back(to_cache(type, c));
            if (l == 0) continue;
            const squeeze::ClusterLevel& up = h->levels[l - 1];
            std::vector<int> par(k, -1);
            for (uint32_t p = 0; p < up.n_clusters; ++p)
                for (uint32_t c = up.first[p]; c < up.first[p + 1]; ++c) par[c] = static_cast<int>(p);
            parent.insert(parent.end(), par.begin(), par.end());
        }
        out.centroids[l].upload(cent);
        if (l > 0) out.parent[l].upload(parent);
        out.ok = out.ok && out.centroids[l].ok && (l == 0 || out.parent[l].ok);
    }
    if (out.n_levels > 0) {
        std::vector<float> log_counts;
        std::vector<int> first;
        for (const squeeze::HeadIndex* h : heads) {
            for (const uint32_t c : h->levels[0].counts) log_counts.push_back(std::log(static_cast<float>(c)));
            for (const uint32_t f : h->levels.back().first) first.push_back(static_cast<int>(f));
        }
        out.log_counts.upload(log_counts);
        out.first.upload(first);
        out.ok = out.ok && out.log_counts.ok && out.first.ok;
    }
    if (!h0.keys.empty()) {
        std::vector<uint16_t> k, v;
        k.reserve(h0.keys.size() * heads.size());
        v.reserve(h0.values.size() * heads.size());
        for (const squeeze::HeadIndex* h : heads)
            for (size_t i = 0; i < h->keys.size(); ++i) {
                k.push_back(type == cuda::KvType::F16 ? h->keys[i] : to_cache(type, f16_to_f32(h->keys[i])));
                v.push_back(type == cuda::KvType::F16 ? h->values[i] : to_cache(type, f16_to_f32(h->values[i])));
            }
        out.k.upload(k);
        out.v.upload(v);
        out.ok = out.ok && out.k.ok && out.v.ok;
    }
    return out.ok;
}

} // namespace sq::tools
