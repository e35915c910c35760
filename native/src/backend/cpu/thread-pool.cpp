#include "thread-pool.h"

#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define SQ_CPU_RELAX() _mm_pause()
#else
#define SQ_CPU_RELAX() std::this_thread::yield()
#endif

namespace sq::cpu {

namespace {
// How long an idle worker spins before sleeping: longer than the gap between two ops of a decode
// step (so workers stay hot through a forward pass), short enough not to burn a core between tokens.
constexpr auto kSpinTime = std::chrono::microseconds(300);
constexpr uint32_t kSpinsBeforeYield = 2000;
} // namespace

ThreadPool::ThreadPool(uint32_t n_threads) {
    if (n_threads == 0) n_threads = std::thread::hardware_concurrency();
    n_threads_ = n_threads == 0 ? 1 : n_threads;
    workers_.reserve(n_threads_ - 1);
    for (uint32_t i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true);
        generation_.fetch_add(1);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::run_share(uint32_t index) {
    const int64_t begin = job_n_ * index / n_threads_;
    const int64_t end = job_n_ * (index + 1) / n_threads_;
    if (begin < end) job_fn_(job_ctx_, begin, end);
}

void ThreadPool::run(RangeFn fn, void* ctx, int64_t n) {
    job_fn_ = fn;
    job_ctx_ = ctx;
    job_n_ = n;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    {
        // Publishing under the mutex pairs with a worker's check-then-sleep, so no wake-up is lost.
        std::lock_guard<std::mutex> lock(mutex_);
        generation_.fetch_add(1, std::memory_order_release);
        if (n_sleeping_ > 0) wake_.notify_all();
    }
    run_share(0);
    // Spin briefly (the usual case: workers finish within microseconds), then yield so that a worker
    // descheduled on an oversubscribed machine gets the core instead of us burning it.
    for (uint32_t i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
        if (i < kSpinsBeforeYield) SQ_CPU_RELAX();
        else std::this_thread::yield();
    }
}

void ThreadPool::worker_main(uint32_t index) {
    uint64_t seen = 0;
    for (;;) {
        const auto spin_until = std::chrono::steady_clock::now() + kSpinTime;
        uint64_t gen = generation_.load(std::memory_order_acquire);
        for (uint32_t i = 0; gen == seen; ++i) {
            if (i < kSpinsBeforeYield) SQ_CPU_RELAX();
            else std::this_thread::yield();
            if ((i & 255) == 255 && std::chrono::steady_clock::now() > spin_until) {
                std::unique_lock<std::mutex> lock(mutex_);
                ++n_sleeping_;
                wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
                --n_sleeping_;
            }
            gen = generation_.load(std::memory_order_acquire);
        }
        seen = gen;
        if (stop_.load()) return;
        run_share(index);
        pending_.fetch_sub(1, std::memory_order_release);
    }
}

} // namespace sq::cpu
