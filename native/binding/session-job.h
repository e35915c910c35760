// What every job on a session shares: it holds the session's busy flag until it ends (claimed on the
// JS thread before it is queued), runs off the JS thread, turns bad_alloc into OUT_OF_MEMORY, and
// settles a promise with a coded error or its result. SessionJob has no events; SessionProgressJob
// streams events (tokens, build progress) to a JS callback before the promise settles.
#pragma once

#include <napi.h>

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "convert.h"

namespace sqnode {

// Releases the session for the next job however the worker ends.
template <typename State>
struct BusyGuard {
    std::shared_ptr<State> state;
    ~BusyGuard() { state->busy.store(false); }
};

// Runs a job's work on the worker thread: the session is released at the end, bad_alloc becomes
// OUT_OF_MEMORY ("ran out of memory <doing>").
template <typename State, typename Work>
sq::Status run_on_session(const std::shared_ptr<State>& state, const char* doing, Work&& work) {
    BusyGuard<State> guard{state};
    try {
        return work();
    } catch (const std::bad_alloc&) {
        return sq::Status::error("OUT_OF_MEMORY", std::string("ran out of memory ") + doing);
    }
}

// On the JS thread: rejects with the coded error, or resolves with make_result(env).
template <typename MakeResult>
void settle(Napi::Promise::Deferred& deferred, Napi::Env env, const sq::Status& status, MakeResult&& make_result) {
    if (!status) {
        deferred.Reject(status_error(env, status).Value());
        return;
    }
    deferred.Resolve(make_result(env));
}

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
    void Execute() override { status_ = run_on_session(state_, out_of_memory_doing_, [&] { return run(); }); }
    void OnOK() override { settle(deferred_, Env(), status_, [&](Napi::Env env) { return result(env); }); }
    void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

    const char* out_of_memory_doing_;
    Napi::Promise::Deferred deferred_;
    sq::Status status_;
};

// A job that sends Events from the worker thread to `callback(...event_args(event))` on the JS thread
// (queued: none is dropped, all arrive before the promise settles). An empty callback ignores them.
template <typename State, typename Event>
class SessionProgressJob : public Napi::AsyncProgressQueueWorker<Event> {
public:
    using Progress = typename Napi::AsyncProgressQueueWorker<Event>::ExecutionProgress;

    SessionProgressJob(Napi::Env env, Napi::Function callback, std::shared_ptr<State> state, const char* out_of_memory_doing)
        : Napi::AsyncProgressQueueWorker<Event>(callback.IsEmpty() ? Napi::Function::New(env, [](const Napi::CallbackInfo&) {}) : callback),
          state_(std::move(state)), out_of_memory_doing_(out_of_memory_doing), deferred_(Napi::Promise::Deferred::New(env)) {}

    // Queues the job; the promise settles when it ends.
    Napi::Promise start() {
        Napi::Promise promise = deferred_.Promise();
        this->Queue();
        return promise;
    }

protected:
    virtual sq::Status run(const Progress& progress) = 0;
    virtual Napi::Value result(Napi::Env env) = 0;
    virtual std::vector<napi_value> event_args(Napi::Env env, const Event& event) = 0;

    std::shared_ptr<State> state_;

private:
    void Execute(const Progress& progress) override {
        status_ = run_on_session(state_, out_of_memory_doing_, [&] { return run(progress); });
    }
    void OnProgress(const Event* events, size_t count) override {
        Napi::Env env = this->Env();
        Napi::HandleScope scope(env);
        for (size_t i = 0; i < count; ++i) this->Callback().Call(event_args(env, events[i]));
    }
    void OnOK() override { settle(deferred_, this->Env(), status_, [&](Napi::Env env) { return result(env); }); }
    void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

    const char* out_of_memory_doing_;
    Napi::Promise::Deferred deferred_;
    sq::Status status_;
};

} // namespace sqnode
