// A persistent pool of worker threads for the CPU forward pass.
//
// A decode step runs a few hundred small parallel ops, so creating threads per op (or sleeping on a
// condition variable between ops) would cost more than the work. Workers spin briefly on a
// generation counter after each job and only then sleep, and the calling thread takes a share of
// every job itself.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace sq::cpu {

class ThreadPool {
public:
    // n_threads counts the caller: 1 runs everything inline. 0 means hardware concurrency.
    explicit ThreadPool(uint32_t n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    uint32_t n_threads() const { return n_threads_; }

    // Splits [0, n) into one contiguous range per thread, runs fn(begin, end) on each and returns
    // when all are done (a barrier). Not reentrant: fn must not call parallel_for.
    template <typename Fn>
    void parallel_for(int64_t n, Fn&& fn) {
        if (n <= 0) return;
        if (n_threads_ == 1 || n == 1) {
            fn(int64_t{0}, n);
            return;
        }
        auto trampoline = [](void* ctx, int64_t begin, int64_t end) { (*static_cast<Fn*>(ctx))(begin, end); };
        run(trampoline, &fn, n);
    }

    // Runs fn(thread_index) once on every thread (0 is the caller) and waits for all: for work that
    // needs per-thread scratch or its own interleaved split.
    template <typename Fn>
    void for_each_thread(Fn&& fn) {
        parallel_for(n_threads_, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) fn(static_cast<uint32_t>(i));
        });
    }

private:
    using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
    void run(RangeFn fn, void* ctx, int64_t n);
    void worker_main(uint32_t index);
    void run_share(uint32_t index);

    uint32_t n_threads_;
    std::vector<std::thread> workers_;

    // The current job, published by bumping generation_.
    RangeFn job_fn_ = nullptr;
    void* job_ctx_ = nullptr;
    int64_t job_n_ = 0;
    std::atomic<uint64_t> generation_{0};
    std::atomic<uint32_t> pending_{0}; // workers that have not finished the current job
    std::atomic<bool> stop_{false};

    std::mutex mutex_;                 // guards sleeping only; jobs are published through atomics
    std::condition_variable wake_;
    uint32_t n_sleeping_ = 0;
};

} // namespace sq::cpu
