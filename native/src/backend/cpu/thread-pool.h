// A persistent pool of worker threads for the CPU forward pass.
//
// A decode step runs a few hundred small parallel ops, so threads are never created per op: workers
// spin briefly on the job word after each job and only then sleep, and the calling thread works
// too. Work is split into more chunks than threads and claimed dynamically, and a job waits only
// for chunks some thread has claimed: on a busy machine a descheduled worker does not stall every
// op, the caller simply runs the chunks itself.
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

    // Splits [0, n) into contiguous ranges, runs fn(begin, end) on each (on any of the threads) and
    // returns when all are done. Not reentrant: fn must not call the pool.
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

    // Runs fn(slot) once for every slot in [0, n_threads()), up to n_threads() at a time, and waits:
    // for work with per-slot scratch or its own interleaved split (a slot is not a thread id).
    template <typename Fn>
    void for_each_slot(Fn&& fn) {
        parallel_for(n_threads_, [&](int64_t begin, int64_t end) {
            for (int64_t i = begin; i < end; ++i) fn(static_cast<uint32_t>(i));
        });
    }

private:
    using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);
    void run(RangeFn fn, void* ctx, int64_t n);
    void work(uint64_t generation); // claims and runs chunks of that job until none are left
    void worker_main();

    uint32_t n_threads_;
    std::vector<std::thread> workers_;

    // The current job. Written by the caller before it publishes the job in state_, read by
    // workers only after they claimed a chunk, and not rewritten before every chunk is done.
    RangeFn job_fn_ = nullptr;
    void* job_ctx_ = nullptr;
    int64_t job_n_ = 0;

    // [generation:24][n_chunks:20][next chunk:20]: one word, so a claim (a CAS) can only succeed
    // for the job it was read for.
    std::atomic<uint64_t> state_{0};
    std::atomic<uint32_t> done_{0};    // chunks of the current job that have finished
    uint64_t generation_ = 0;          // caller side copy of the current generation
    std::atomic<bool> stop_{false};

    std::mutex mutex_;                 // guards sleeping only
    std::condition_variable wake_;
    uint32_t n_sleeping_ = 0;
};

} // namespace sq::cpu
