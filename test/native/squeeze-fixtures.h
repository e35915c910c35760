// Synthetic keys, values and queries for the squeeze tests: keys around a few "topics" plus a shared
// offset (as real post-RoPE keys have), queries that point at one topic, so attention is concentrated
// the way a question's attention over a document is.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "common/half.h"

namespace squeeze_fixtures {

struct Synthetic {
    uint32_t n_tokens, head_dim;
    std::vector<float> keys, values; // [n_tokens][head_dim], already rounded to f16 values
    std::vector<float> topics;       // [n_topics][head_dim]
};

inline float round_f16(float x) { return sq::f16_to_f32(sq::f32_to_f16(x)); }

inline Synthetic synthetic_head(uint32_t n_tokens, uint32_t head_dim, uint32_t n_topics, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Synthetic s{n_tokens, head_dim, {}, {}, std::vector<float>(size_t{n_topics} * head_dim)};
    std::vector<float> offset(head_dim);
    for (float& t : s.topics) t = normal(rng);
    for (float& o : offset) o = 0.7f * normal(rng);
    s.keys.resize(size_t{n_tokens} * head_dim);
    s.values.resize(s.keys.size());
    for (uint32_t i = 0; i < n_tokens; ++i) {
        const uint32_t t = static_cast<uint32_t>(rng() % n_topics);
        for (uint32_t d = 0; d < head_dim; ++d) {
            s.keys[size_t{i} * head_dim + d] = round_f16(offset[d] + s.topics[size_t{t} * head_dim + d] + 0.5f * normal(rng));
            s.values[size_t{i} * head_dim + d] = round_f16(normal(rng));
        }
    }
    return s;
}

// n rows, each a blend of one random topic and noise, scaled so logits spread over several units.
inline std::vector<float> synthetic_queries(const Synthetic& s, uint32_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const uint32_t n_topics = static_cast<uint32_t>(s.topics.size() / s.head_dim);
    std::vector<float> q(size_t{n} * s.head_dim);
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t t = static_cast<uint32_t>(rng() % n_topics);
        for (uint32_t d = 0; d < s.head_dim; ++d) q[size_t{i} * s.head_dim + d] = 1.5f * s.topics[size_t{t} * s.head_dim + d] + 0.5f * normal(rng);
    }
    return q;
}

// Plain softmax attention in double over rows [0, n): the reference.
inline std::vector<double> reference_attention(const float* q, const float* k, const float* v, uint32_t n, uint32_t d, double scale) {
    std::vector<double> logit(n), out(d, 0.0);
    double m = -1e300, sum = 0.0;
    for (uint32_t i = 0; i < n; ++i) {
        double dot = 0.0;
        for (uint32_t c = 0; c < d; ++c) dot += double(q[c]) * k[size_t{i} * d + c];
        logit[i] = dot * scale;
        m = std::max(m, logit[i]);
    }
    for (uint32_t i = 0; i < n; ++i) sum += std::exp(logit[i] - m);
    for (uint32_t i = 0; i < n; ++i) {
        const double p = std::exp(logit[i] - m) / sum;
        for (uint32_t c = 0; c < d; ++c) out[c] += p * v[size_t{i} * d + c];
    }
    return out;
}

} // namespace squeeze_fixtures
