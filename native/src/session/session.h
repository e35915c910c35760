// A conversation's evaluation state: a Context plus the tokens its KV cache holds, so a new prompt
// that extends an earlier one (the next turn of a chat) only evaluates what is new.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../model/model.h"
#include "sampler.h"

namespace sq {

struct GenerateParams {
    SamplerParams sampling;
    uint32_t max_tokens = 256;
    std::vector<int32_t> stop_tokens; // end-of-generation ids (EOS, EOT, ...); not emitted
};

enum class StopReason { EndOfGeneration, MaxTokens, Cancelled, ContextFull };
const char* stop_reason_name(StopReason r);

struct GenerateResult {
    std::vector<int32_t> tokens;  // generated ids, in order
    uint32_t n_prompt = 0;        // prompt tokens
    uint32_t n_prompt_reused = 0; // prompt tokens whose KV came from the cache
    double prefill_ms = 0;        // evaluating the new prompt tokens
    double decode_ms = 0;         // every step after the first sampled token
    StopReason stop_reason = StopReason::MaxTokens;
};

// Called for each generated token; returning false stops generation (like cancel, but in-thread).
using TokenCallback = std::function<bool(int32_t token)>;

class Session {
public:
    static Status create(const Model& model, const ContextParams& params, std::unique_ptr<Session>& out);

    // Evaluates `prompt` (reusing the longest cached prefix), then samples up to max_tokens.
    // `cancel` is polled between tokens. Errors: those of Context::eval, GENERATE_EMPTY_PROMPT.
    Status generate(const std::vector<int32_t>& prompt, const GenerateParams& params,
                    const TokenCallback& on_token, const std::atomic<bool>* cancel, GenerateResult& out);

    // Evaluates `tokens` from position 0 (no reuse) and returns logits [n][n_vocab] of every position.
    Status eval_all_logits(const std::vector<int32_t>& tokens, std::vector<float>& logits);

    void reset();
    const std::vector<int32_t>& cached_tokens() const { return cached_; }
    const Context& context() const { return *ctx_; }
    // For document packs (DocSession): install an attention hook, write a restored cache.
    Context& context() { return *ctx_; }
    // Declares that the cache holds the K/V of `tokens` at positions [0, n) (restored from a pack),
    // so generate() reuses them as a prefix.
    void adopt_cache(std::vector<int32_t> tokens);

private:
    Session() = default;
    // Drops the cached suffix that differs from `prompt`; returns how many prompt tokens stay cached.
    uint32_t reuse_prefix(const std::vector<int32_t>& prompt);

    std::unique_ptr<Context> ctx_;
    std::vector<int32_t> cached_; // tokens whose K/V are in ctx_, in position order
};

} // namespace sq
