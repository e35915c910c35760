// JS class NativeDocSession: a conversation about documents over a squeeze document pack
// (native/src/session/doc-session.h). Every method that computes runs off the JS thread.
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>

#include "squeeze.h"

namespace sqnode {

class DocSessionWrap : public Napi::ObjectWrap<DocSessionWrap> {
public:
    static Napi::Function define(Napi::Env env);
    // model.createDocSession({ nCtx, nThreads, nBatch, backend })
    static Napi::Value create(const Napi::CallbackInfo& info, std::shared_ptr<sq::Model> model);

    explicit DocSessionWrap(const Napi::CallbackInfo& info);

    // Shared with the worker thread; outlives the JS object while a job runs.
    struct State {
        std::shared_ptr<sq::Model> model;
        std::unique_ptr<sq::DocSession> session;
        std::atomic<bool> busy{false};
        std::atomic<bool> cancel{false};
    };

private:
    Napi::Value load_pack(const Napi::CallbackInfo& info);
    Napi::Value ingest(const Napi::CallbackInfo& info);
    Napi::Value answer(const Napi::CallbackInfo& info);
    Napi::Value eval_logits(const Napi::CallbackInfo& info);
    Napi::Value cancel(const Napi::CallbackInfo& info);
    Napi::Value device(const Napi::CallbackInfo& info);
    void claim(Napi::Env env); // throws SESSION_BUSY while a job runs

    std::shared_ptr<State> state_;
};

} // namespace sqnode
