#include "session.h"

#include <algorithm>
#include <chrono>

namespace sq {

namespace {

double elapsed_ms(std::chrono::steady_clock::time_point since) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

bool is_stop_token(const GenerateParams& params, int32_t token) {
    return std::find(params.stop_tokens.begin(), params.stop_tokens.end(), token) != params.stop_tokens.end();
}

} // namespace

const char* stop_reason_name(StopReason r) {
    switch (r) {
        case StopReason::EndOfGeneration: return "eog";
        case StopReason::MaxTokens: return "max_tokens";
        case StopReason::Cancelled: return "cancelled";
        case StopReason::ContextFull: return "context_full";
    }
    return "unknown";
}

Status Session::create(const Model& model, const ContextParams& params, std::unique_ptr<Session>& out) {
    std::unique_ptr<Session> session(new Session());
    SQ_TRY(Context::create(model, params, session->ctx_));
    out = std::move(session);
    return Status::ok();
}

void Session::reset() {
    ctx_->truncate(0);
    cached_.clear();
}

void Session::adopt_cache(std::vector<int32_t> tokens) {
    ctx_->set_n_past(static_cast<uint32_t>(tokens.size()));
    cached_ = std::move(tokens);
}

uint32_t Session::reuse_prefix(const std::vector<int32_t>& prompt) {
    // Keep at least one prompt token to evaluate: its logits start the generation.
    const size_t limit = std::min(cached_.size(), prompt.size() - 1);
    size_t common = 0;
    while (common < limit && cached_[common] == prompt[common]) ++common;
    ctx_->truncate(static_cast<uint32_t>(common));
    cached_.resize(common);
    return static_cast<uint32_t>(common);
}

Status Session::generate(const std::vector<int32_t>& prompt, const GenerateParams& params,
                         const TokenCallback& on_token, const std::atomic<bool>* cancel, GenerateResult& out) {
    out = GenerateResult{};
    if (prompt.empty()) return Status::error("GENERATE_EMPTY_PROMPT", "the prompt has no tokens");
    const uint32_t n_ctx = ctx_->params().n_ctx;
    if (prompt.size() > n_ctx) {
        return Status::error("CONTEXT_FULL", "the prompt has " + std::to_string(prompt.size()) +
                                                 " tokens but the context holds " + std::to_string(n_ctx));
    }
    const int32_t n_vocab = static_cast<int32_t>(ctx_->model().hparams().n_vocab);
    out.n_prompt = static_cast<uint32_t>(prompt.size());
    out.n_prompt_reused = reuse_prefix(prompt);

    std::vector<float> logits; // [n_vocab] of the last evaluated token
    auto t0 = std::chrono::steady_clock::now();
    const std::vector<int32_t> fresh(prompt.begin() + out.n_prompt_reused, prompt.end());
    Status st = ctx_->eval(fresh.data(), static_cast<uint32_t>(fresh.size()), false, logits);
    if (!st) {
        reset(); // the cache may hold part of the prompt; start clean next time
        return st;
    }
    cached_.insert(cached_.end(), fresh.begin(), fresh.end());
    out.prefill_ms = elapsed_ms(t0);

    Sampler sampler(params.sampling);
    std::vector<int32_t> history = prompt;
    t0 = std::chrono::steady_clock::now();
    out.stop_reason = StopReason::MaxTokens;
    for (uint32_t i = 0; i < params.max_tokens; ++i) {
        if (cancel && cancel->load(std::memory_order_relaxed)) {
            out.stop_reason = StopReason::Cancelled;
            break;
        }
        const int32_t token = sampler.sample(logits.data(), n_vocab, history);
        if (is_stop_token(params, token)) {
            out.stop_reason = StopReason::EndOfGeneration;
            break;
        }
        out.tokens.push_back(token);
        history.push_back(token);
        if (on_token && !on_token(token)) {
            out.stop_reason = StopReason::Cancelled;
            break;
        }
        if (i + 1 == params.max_tokens) break; // no need to evaluate a token nobody samples after
        if (ctx_->n_past() >= n_ctx) {
            out.stop_reason = StopReason::ContextFull;
            break;
        }
        st = ctx_->eval(&token, 1, false, logits);
        if (!st) {
            reset();
            return st;
        }
        cached_.push_back(token);
    }
    out.decode_ms = elapsed_ms(t0);
    return Status::ok();
}

Status Session::eval_all_logits(const std::vector<int32_t>& tokens, std::vector<float>& logits) {
    reset();
    if (tokens.empty()) return Status::error("GENERATE_EMPTY_PROMPT", "no tokens to evaluate");
    Status st = ctx_->eval(tokens.data(), static_cast<uint32_t>(tokens.size()), true, logits);
    if (!st) {
        reset();
        return st;
    }
    cached_ = tokens;
    return Status::ok();
}

} // namespace sq
