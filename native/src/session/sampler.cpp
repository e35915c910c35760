#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_set>

namespace sq {

int32_t argmax(const float* logits, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i) {
        if (logits[i] > logits[best]) best = i;
    }
    return best;
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {}

int32_t Sampler::sample(const float* logits, int32_t n_vocab, const std::vector<int32_t>& history) {
    candidates_.resize(n_vocab);
    for (int32_t i = 0; i < n_vocab; ++i) candidates_[i] = {i, logits[i]};
    apply_repeat_penalty(history);
    if (params_.temperature <= 0.0f) {
        auto best = std::max_element(candidates_.begin(), candidates_.end(),
                                     [](const Candidate& a, const Candidate& b) { return a.logit < b.logit; });
        return best->id;
    }
    keep_top_k();
    keep_top_p();
    keep_min_p();

    // Softmax at the temperature over the survivors (sorted descending, so [0] holds the max).
    std::vector<double> weights(candidates_.size());
    const double max_logit = candidates_[0].logit;
    for (size_t i = 0; i < candidates_.size(); ++i) {
        weights[i] = std::exp((candidates_[i].logit - max_logit) / params_.temperature);
    }
    std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
    return candidates_[pick(rng_)].id;
}

// CTRL-style penalty as llama.cpp applies it: positive logits are divided, negative multiplied,
// once per distinct token among the last repeat_last_n.
void Sampler::apply_repeat_penalty(const std::vector<int32_t>& history) {
    if (params_.repeat_penalty == 1.0f || params_.repeat_last_n <= 0 || history.empty()) return;
    const size_t n = std::min<size_t>(history.size(), static_cast<size_t>(params_.repeat_last_n));
    std::unordered_set<int32_t> seen(history.end() - n, history.end());
    for (int32_t id : seen) {
        if (id < 0 || id >= static_cast<int32_t>(candidates_.size())) continue;
        float& l = candidates_[id].logit;
        l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    }
}

void Sampler::keep_top_k() {
    const auto by_logit = [](const Candidate& a, const Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    const size_t k = params_.top_k > 0 ? std::min<size_t>(params_.top_k, candidates_.size()) : candidates_.size();
    std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(), by_logit);
    candidates_.resize(k);
}

// Smallest prefix whose probability mass reaches top_p (at temperature 1, as llama.cpp does).
void Sampler::keep_top_p() {
    if (params_.top_p >= 1.0f) return;
    const double max_logit = candidates_[0].logit;
    double total = 0;
    for (const auto& c : candidates_) total += std::exp(c.logit - max_logit);
    double mass = 0;
    size_t keep = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
        mass += std::exp(candidates_[i].logit - max_logit) / total;
        if (mass >= params_.top_p) {
            keep = i + 1;
            break;
        }
    }
    candidates_.resize(keep);
}

// Drops tokens whose probability is below min_p times the most likely token's.
void Sampler::keep_min_p() {
    if (params_.min_p <= 0.0f) return;
    const float cutoff = candidates_[0].logit + std::log(params_.min_p);
    size_t keep = 1;
    while (keep < candidates_.size() && candidates_[keep].logit >= cutoff) ++keep;
    candidates_.resize(keep);
}

} // namespace sq
