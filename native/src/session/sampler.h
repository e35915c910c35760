// Token sampling from a logits row: repetition penalty → top-k → top-p → min-p → temperature → draw.
// temperature <= 0 is greedy (argmax, lowest id on ties), which is what llama.cpp does at temp 0.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace sq {

struct SamplerParams {
    float temperature = 0.0f;
    int32_t top_k = 40;          // <= 0: off
    float top_p = 0.95f;         // >= 1: off
    float min_p = 0.05f;         // <= 0: off
    float repeat_penalty = 1.0f; // 1: off
    int32_t repeat_last_n = 64;  // how many recent tokens the penalty looks at
    uint64_t seed = 0;
};

class Sampler {
public:
    explicit Sampler(const SamplerParams& params);

    // Picks the next token from logits [n_vocab]; `history` is every token so far (prompt + output).
    int32_t sample(const float* logits, int32_t n_vocab, const std::vector<int32_t>& history);

private:
    struct Candidate {
        int32_t id;
        float logit;
    };
    void apply_repeat_penalty(const std::vector<int32_t>& history);
    void keep_top_k();
    void keep_top_p();
    void keep_min_p();

    SamplerParams params_;
    std::mt19937_64 rng_;
    std::vector<Candidate> candidates_; // sorted by logit, descending, after keep_top_k()
};

int32_t argmax(const float* logits, int32_t n);

} // namespace sq
