// JS class NativeSession: a KV cache over a model, running generation off the JS thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "squeeze.h"

namespace sqnode {

class SessionWrap : public Napi::ObjectWrap<SessionWrap> {
public:
    static Napi::Function define(Napi::Env env);
    // model.createSession({ nCtx, nThreads, kvType: 'f16' | 'f32', nBatch })
    static Napi::Value create(const Napi::CallbackInfo& info, Napi::Value model_obj, std::shared_ptr<sq::Model> model);

    explicit SessionWrap(const Napi::CallbackInfo& info);

    // Shared with the worker thread; outlives the JS object while a job runs.
    struct State {
        std::shared_ptr<sq::Model> model;
        std::unique_ptr<sq::Session> session;
        std::atomic<bool> busy{false};
        std::atomic<bool> cancel{false};
    };

private:
    Napi::Value generate(const Napi::CallbackInfo& info);
    Napi::Value eval_logits(const Napi::CallbackInfo& info);
    Napi::Value cancel(const Napi::CallbackInfo& info);
    Napi::Value reset(const Napi::CallbackInfo& info);
    Napi::Value cached_tokens(const Napi::CallbackInfo& info);
    Napi::Value device(const Napi::CallbackInfo& info);
    void claim(Napi::Env env); // throws SESSION_BUSY while a job runs

    std::shared_ptr<State> state_;
};

} // namespace sqnode
