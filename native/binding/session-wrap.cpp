#include "session-wrap.h"

#include "addon-data.h"
#include "convert.h"
#include "session-job.h"

namespace sqnode {

namespace {

using StatePtr = std::shared_ptr<SessionWrap::State>;

// Streams each generated token to `onToken(token)` on the JS thread; resolves with the result.
class GenerateWorker : public SessionProgressJob<SessionWrap::State, int32_t> {
public:
    GenerateWorker(Napi::Env env, Napi::Function on_token, StatePtr state, std::vector<int32_t> prompt, sq::GenerateParams params)
        : SessionProgressJob(env, on_token, std::move(state), "during generation"), prompt_(std::move(prompt)), params_(std::move(params)) {}

protected:
    sq::Status run(const Progress& progress) override {
        return state_->session->generate(
            prompt_, params_, [&](int32_t token) { progress.Send(&token, 1); return true; }, &state_->cancel, result_);
    }
    std::vector<napi_value> event_args(Napi::Env env, const int32_t& token) override { return {Napi::Number::New(env, token)}; }
    Napi::Value result(Napi::Env env) override {
        Napi::Object out = Napi::Object::New(env);
        Napi::Array tokens = Napi::Array::New(env, result_.tokens.size());
        for (size_t i = 0; i < result_.tokens.size(); ++i) tokens.Set(static_cast<uint32_t>(i), result_.tokens[i]);
        out.Set("tokens", tokens);
        out.Set("nPrompt", result_.n_prompt);
        out.Set("nPromptReused", result_.n_prompt_reused);
        out.Set("prefillMs", result_.prefill_ms);
        out.Set("decodeMs", result_.decode_ms);
        out.Set("stopReason", sq::stop_reason_name(result_.stop_reason));
        return out;
    }

private:
    std::vector<int32_t> prompt_;
    sq::GenerateParams params_;
    sq::GenerateResult result_;
};

// Logits of every position of `tokens`, evaluated from an empty cache (reference comparisons).
class EvalLogitsWorker : public SessionJob<SessionWrap::State> {
public:
    EvalLogitsWorker(Napi::Env env, StatePtr state, std::vector<int32_t> tokens)
        : SessionJob(env, std::move(state), "evaluating logits"), tokens_(std::move(tokens)) {}

protected:
    sq::Status run() override { return state_->session->eval_all_logits(tokens_, logits_); }
    Napi::Value result(Napi::Env env) override {
        Napi::Float32Array out = Napi::Float32Array::New(env, logits_.size()); // [n_tokens][n_vocab]
        std::copy(logits_.begin(), logits_.end(), out.Data());
        return out;
    }

private:
    std::vector<int32_t> tokens_;
    std::vector<float> logits_;
};

} // namespace

Napi::Function SessionWrap::define(Napi::Env env) {
    return DefineClass(env, "NativeSession",
                       {
                           InstanceMethod<&SessionWrap::generate>("generate"),
                           InstanceMethod<&SessionWrap::eval_logits>("evalLogits"),
                           InstanceMethod<&SessionWrap::cancel>("cancel"),
                           InstanceMethod<&SessionWrap::reset>("reset"),
                           InstanceMethod<&SessionWrap::cached_tokens>("cachedTokens"),
                           InstanceMethod<&SessionWrap::device>("device"),
                       });
}

SessionWrap::SessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SessionWrap>(info) {}

Napi::Value SessionWrap::create(const Napi::CallbackInfo& info, Napi::Value, std::shared_ptr<sq::Model> model) {
    Napi::Env env = info.Env();
    Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    const sq::ContextParams params = context_params_from_js(opts, *model);
    auto state = std::make_shared<State>();
    sq::Status st;
    try {
        st = sq::Session::create(*model, params, state->session);
    } catch (const std::bad_alloc&) {
        st = sq::Status::error("CONTEXT_OUT_OF_MEMORY", "not enough memory for a context of " + std::to_string(params.n_ctx) + " tokens");
    }
    if (!st) throw status_error(env, st);
    state->model = std::move(model);
    Napi::Object obj = env.GetInstanceData<AddonData>()->session_class.New({});
    Napi::ObjectWrap<SessionWrap>::Unwrap(obj)->state_ = std::move(state);
    return obj;
}

void SessionWrap::claim(Napi::Env env) {
    if (state_->busy.exchange(true)) {
        throw status_error(env, sq::Status::error("SESSION_BUSY", "the session is already generating; stop it first"));
    }
    state_->cancel.store(false);
}

// generate(tokens, options, onToken?): Promise<{tokens, nPrompt, nPromptReused, prefillMs, decodeMs, stopReason}>
Napi::Value SessionWrap::generate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw usage_error(env, "generate(tokens, options?, onToken?)");
    std::vector<int32_t> prompt = tokens_from_js(info[0]);
    Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    sq::GenerateParams params = generate_params_from_js(opts);
    Napi::Function on_token = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
    claim(env);
    return (new GenerateWorker(env, on_token, state_, std::move(prompt), std::move(params)))->start();
}

// evalLogits(tokens): Promise<Float32Array> of [n_tokens][n_vocab] logits.
Napi::Value SessionWrap::eval_logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw usage_error(env, "evalLogits(tokens)");
    std::vector<int32_t> tokens = tokens_from_js(info[0]);
    claim(env);
    return (new EvalLogitsWorker(env, state_, std::move(tokens)))->start();
}

Napi::Value SessionWrap::cancel(const Napi::CallbackInfo& info) {
    state_->cancel.store(true);
    return info.Env().Undefined();
}

Napi::Value SessionWrap::reset(const Napi::CallbackInfo& info) {
    claim(info.Env());
    state_->session->reset();
    state_->busy.store(false);
    return info.Env().Undefined();
}

Napi::Value SessionWrap::cached_tokens(const Napi::CallbackInfo& info) {
    const std::vector<int32_t>& cached = state_->session->cached_tokens();
    Napi::Array out = Napi::Array::New(info.Env(), cached.size());
    for (size_t i = 0; i < cached.size(); ++i) out.Set(static_cast<uint32_t>(i), cached[i]);
    return out;
}

// "cpu", or the GPU's name when the context runs there.
Napi::Value SessionWrap::device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), state_->session->context().device());
}

} // namespace sqnode
