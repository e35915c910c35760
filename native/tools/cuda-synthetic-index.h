// Synthetic two-level squeeze trees for the GPU benches (cuda-squeeze-bench, cuda-e2e-bench): cluster
// sizes are uniform random cuts of the context (roughly exponential sizes, some empty); level-1
// centroids are random, level-2 centroids their parent's plus noise, so the levels agree as with real
// keys. No keys: the benches fill their K/V stores separately.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "squeeze/cluster-index.h"

namespace sq::tools {

// Fast deterministic noise (the benches build ~10^8 centroid values).
struct Noise {
    uint64_t s;
    float next() { // uniform in [-1, 1)
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        return static_cast<float>(s >> 40) * (2.0f / 16777216.0f) - 1.0f;
    }
};

// first[] of n ranges over total items with uniform random cuts.
inline std::vector<uint32_t> cuts(uint32_t n, uint32_t total, std::mt19937& gen) {
    std::vector<uint32_t> first(n + 1, 0);
    first[n] = total;
    std::uniform_int_distribution<uint32_t> dist(0, total);
    for (uint32_t i = 1; i < n; ++i) first[i] = dist(gen);
    std::sort(first.begin() + 1, first.end() - 1);
    return first;
}

// k1 level-1 and k2 level-2 clusters over n_tokens after n_always always-attended slots.
inline squeeze::HeadIndex make_synthetic_head(uint32_t n_tokens, uint32_t k1, uint32_t k2, uint32_t n_always, int head_dim,
                                              std::mt19937& gen, Noise& noise) {
    squeeze::HeadIndex h;
    h.n_tokens = n_tokens;
    h.head_dim = head_dim;
    h.n_always = n_always;
    h.levels.resize(2);
    squeeze::ClusterLevel &top = h.levels[0], &fine = h.levels[1];
    top.n_clusters = k1;
    fine.n_clusters = k2;
    top.first = cuts(k1, k2, gen);
    fine.first = cuts(k2, n_tokens - n_always, gen);
    for (uint32_t& f : fine.first) f += n_always;
    top.centroids.resize(size_t{k1} * head_dim);
    fine.centroids.resize(size_t{k2} * head_dim);
    for (float& c : top.centroids) c = noise.next();
    top.counts.assign(k1, 0);
    fine.counts.resize(k2);
    for (uint32_t p = 0; p < k1; ++p)
        for (uint32_t c = top.first[p]; c < top.first[p + 1]; ++c) {
            fine.counts[c] = fine.first[c + 1] - fine.first[c];
            top.counts[p] += fine.counts[c];
            for (int e = 0; e < head_dim; ++e)
                fine.centroids[size_t{c} * head_dim + e] = top.centroids[size_t{p} * head_dim + e] + 0.6f * noise.next();
        }
    return h;
}

} // namespace sq::tools
