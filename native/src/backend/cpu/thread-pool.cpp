#include "thread-pool.h"

#include <algorithm>
#include <chrono>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define SQ_CPU_RELAX() _mm_pause()
#else
#define SQ_CPU_RELAX() std::this_thread::yield()
#endif

namespace sq::cpu {

namespace {

// How long an idle worker stays awake after a job: longer than the gap between two ops of a decode
// step (so workers stay hot through a forward pass), short enough not to burn a core between tokens.
constexpr auto kSpinTime = std::chrono::microseconds(300);
// Busy-wait iterations before yielding the core instead (matters when threads outnumber free cores).
constexpr uint32_t kSpinsBeforeYield = 2000;
// Chunks per thread: enough for dynamic balancing and for the caller to absorb an absent worker's share.
constexpr int64_t kChunksPerThread = 4;

constexpr int kNextBits = 20, kChunkBits = 20;
constexpr uint64_t kFieldMask = (uint64_t{1} << kNextBits) - 1;
constexpr uint64_t kGenerationMask = (uint64_t{1} << (64 - kNextBits - kChunkBits)) - 1;

uint64_t generation_of(uint64_t s) { return s >> (kNextBits + kChunkBits); }
uint64_t n_chunks_of(uint64_t s) { return (s >> kNextBits) & kFieldMask; }
uint64_t next_of(uint64_t s) { return s & kFieldMask; }

} // namespace

ThreadPool::ThreadPool(uint32_t n_threads) {
    if (n_threads == 0) n_threads = std::thread::hardware_concurrency();
    n_threads_ = n_threads == 0 ? 1 : n_threads;
    workers_.reserve(n_threads_ - 1);
    for (uint32_t i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_main(); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_.store(true);
        generation_ = (generation_ + 1) & kGenerationMask;
        state_.store(generation_ << (kNextBits + kChunkBits)); // a job with no chunks
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
}

void ThreadPool::work(uint64_t generation) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
        if (generation_of(s) != generation || next_of(s) >= n_chunks_of(s)) return;
        if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
        const int64_t chunk = static_cast<int64_t>(next_of(s)), n_chunks = static_cast<int64_t>(n_chunks_of(s));
        const int64_t begin = job_n_ * chunk / n_chunks, end = job_n_ * (chunk + 1) / n_chunks;
        if (begin < end) job_fn_(job_ctx_, begin, end);
        done_.fetch_add(1, std::memory_order_acq_rel);
        s = state_.load(std::memory_order_acquire);
    }
}

void ThreadPool::run(RangeFn fn, void* ctx, int64_t n) {
    const int64_t n_chunks = std::min<int64_t>({n, int64_t{n_threads_} * kChunksPerThread, int64_t(kFieldMask)});
    job_fn_ = fn;
    job_ctx_ = ctx;
    job_n_ = n;
    done_.store(0, std::memory_order_relaxed);
    generation_ = (generation_ + 1) & kGenerationMask;
    {
        // Publishing under the mutex pairs with a worker's check-then-sleep, so no wake-up is lost.
        std::lock_guard<std::mutex> lock(mutex_);
        state_.store((generation_ << (kNextBits + kChunkBits)) | (static_cast<uint64_t>(n_chunks) << kNextBits),
                     std::memory_order_release);
        if (n_sleeping_ > 0) wake_.notify_all();
    }
    work(generation_);
    // Only chunks claimed by workers can still be running: spin briefly, then yield so a worker
    // descheduled on an oversubscribed machine gets the core instead of us burning it.
    for (uint32_t i = 0; done_.load(std::memory_order_acquire) != static_cast<uint32_t>(n_chunks); ++i) {
        if (i < kSpinsBeforeYield) SQ_CPU_RELAX();
        else std::this_thread::yield();
    }
}

void ThreadPool::worker_main() {
    uint64_t seen = 0;
    for (;;) {
        const auto spin_until = std::chrono::steady_clock::now() + kSpinTime;
        uint64_t gen = generation_of(state_.load(std::memory_order_acquire));
        for (uint32_t i = 0; gen == seen; ++i) {
            if (i < kSpinsBeforeYield) SQ_CPU_RELAX();
            else std::this_thread::yield();
            if ((i & 255) == 255 && std::chrono::steady_clock::now() > spin_until) {
                std::unique_lock<std::mutex> lock(mutex_);
                ++n_sleeping_;
                wake_.wait(lock, [&] { return generation_of(state_.load(std::memory_order_acquire)) != seen; });
                --n_sleeping_;
            }
            gen = generation_of(state_.load(std::memory_order_acquire));
        }
        seen = gen;
        if (stop_.load()) return;
        work(gen);
    }
}

} // namespace sq::cpu
