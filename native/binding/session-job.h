// What every job on a session shares: it holds the session's busy flag until it ends (claimed on the
// JS thread before it is queued), runs off the JS thread, turns bad_alloc into OUT_OF_MEMORY, and
// settles a promise with a coded error or its result.
#pragma once

#include <napi.h>

#include <memory>
#include <new>
#include <string>

#include "convert.h"

namespace sqnode {

// Releases the session for the next job however the worker ends.
template <typename State>
struct BusyGuard {
    std::shared_ptr<State> state;
    ~BusyGuard() { state->busy.store(false); }
};

// A job without progress events: subclasses say what runs (worker thread) and what it resolves to.
template <typename State>
class SessionJob : public Napi::AsyncWorker {
public:
    // out_of_memory_doing: e.g. "evaluating logits", for "ran out of memory evaluating logits".
    SessionJob(Napi::Env env, std::shared_ptr<State> state, const char* out_of_memory_doing)
        : Napi::AsyncWorker(env), state_(std::move(state)), out_of_memory_doing_(out_of_memory_doing),
          deferred_(Napi::Promise::Deferred::New(env)) {}

    // Queues the job; the promise settles when it ends.
    Napi::Promise start() {
        Napi::Promise promise = deferred_.Promise();
        Queue();
        return promise;
    }

protected:
    virtual sq::Status run() = 0;
    virtual Napi::Value result(Napi::Env env) = 0;

    std::shared_ptr<State> state_;

private:
    void Execute() override {
        BusyGuard<State> guard{state_};
        try {
            status_ = run();
        } catch (const std::bad_alloc&) {
            status_ = sq::Status::error("OUT_OF_MEMORY", std::string("ran out of memory ") + out_of_memory_doing_);
        }
    }
    void OnOK() override {
        if (!status_) {
            deferred_.Reject(status_error(Env(), status_).Value());
            return;
        }
        deferred_.Resolve(result(Env()));
    }
    void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

    const char* out_of_memory_doing_;
    Napi::Promise::Deferred deferred_;
    sq::Status status_;
};

} // namespace sqnode
