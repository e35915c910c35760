#include "layer-attention.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>

#include "../common/half.h"
#include "recall.h"
#include "sparse-attention.h"

namespace sq::squeeze {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Runs fn(task, slot) for every task in [0, n), tasks handed out dynamically. A slot in
// [0, n_threads) is never run twice at the same time, so it indexes per-thread scratch.
template <typename Fn>
void run_tasks(cpu::ThreadPool& pool, uint32_t n, Fn&& fn) {
    std::atomic<uint32_t> next{0};
    pool.parallel_for(pool.n_threads(), [&](int64_t begin, int64_t end) {
        for (int64_t slot = begin; slot < end; ++slot)
            for (uint32_t task; (task = next.fetch_add(1)) < n;) fn(task, static_cast<uint32_t>(slot));
    });
}

// Phase 2 hands out at least this many tasks per thread when one token's work must be split (a
// descheduled thread on a loaded machine then costs a small share), and no chunk of fewer keys.
constexpr uint32_t kTasksPerThread = 4;
constexpr uint32_t kMinChunkKeys = 128;

// Phase 2's jobs: job i is (token i / n_kv, KV head i % n_kv), the query rows of that head's group.
struct Jobs {
    const LayerAttention& a;
    const ClusterIndex& index;
    LayerScratch& scratch;
    const float* q; // the batch's queries, rounded to f16 with round_as_dense
    uint32_t n_kv, group, d;
    size_t elem_bytes;

    uint32_t count() const { return a.n_tokens * n_kv; }
    size_t row0(uint32_t job) const { return (size_t{job / n_kv} * a.n_heads + size_t{job % n_kv} * group) * d; }
    float* out(uint32_t job) const { return a.out + row0(job); }

    // The job's attention, its probabilities buffer still to be set.
    ChunkedAttention attention(uint32_t job) const {
        const uint32_t h = job % n_kv;
        ChunkedAttention c;
        c.head = &index.head(a.layer, h);
        c.keys = &scratch.key_lists[a.per_token ? job : h];
        c.k_dyn = static_cast<const uint8_t*>(a.k_dyn) + size_t{h} * a.dyn_head_stride * elem_bytes;
        c.v_dyn = static_cast<const uint8_t*>(a.v_dyn) + size_t{h} * a.dyn_head_stride * elem_bytes;
        c.elem = a.elem;
        c.n_dyn = a.n_dyn_before + job / n_kv + 1;
        c.q = q + row0(job);
        c.n_rows = group;
        c.scale = a.scale;
        c.round_f16 = a.round_as_dense;
        return c;
    }

    void add_recall(uint32_t job, uint32_t slot) const {
        if (!a.recall) return;
        const uint32_t h = job % n_kv;
        for (uint32_t g = 0; g < group; ++g)
            scratch.recall[slot] += selection_recall(index.head(a.layer, h), scratch.selections[a.per_token ? job : h],
                                                     a.q + row0(job) + size_t{g} * d, a.scale, scratch.partial[slot]);
    }
};

// One task per job, its three steps back to back in the slot's buffers (a question's prefill: the
// jobs alone keep every thread busy).
void attend_whole_jobs(const Jobs& jobs, cpu::ThreadPool& pool) {
    LayerScratch& scratch = jobs.scratch;
    run_tasks(pool, jobs.count(), [&](uint32_t job, uint32_t slot) {
        ChunkedAttention c = jobs.attention(job);
        std::vector<float>& probs = scratch.rows[slot];
        probs.resize(size_t{jobs.group} * c.n_keys());
        c.probs = probs.data();
        std::vector<float>& row = scratch.partial_max[slot]; // maxima, then 1 / sums
        std::vector<double>& sum = scratch.partial_sum[slot];
        row.resize(jobs.group);
        sum.resize(jobs.group);
        jobs.add_recall(job, slot);
        AttnTimes& times = scratch.times[slot];
        chunk_logits(c, 0, c.n_keys(), row.data(), times);
        chunk_exp(c, 0, c.n_keys(), row.data(), sum.data(), times);
        for (uint32_t g = 0; g < jobs.group; ++g) row[g] = sum[g] > 0.0 ? static_cast<float>(1.0 / sum[g]) : 0.0f;
        chunk_values(c, 0, c.n_keys(), row.data(), jobs.out(job), jobs.a.token_mass ? scratch.mass[slot].data() : nullptr, times);
    });
}

// The chunks of scratch.chunks in two parallel passes. The first computes logits; the chunk that
// finishes a job last takes that job's maximum over its chunks and runs its whole exp and sum, exactly
// as attend_whole_jobs does (so the probabilities are the same bits however the job was cut). The
// second computes each chunk's share of the output, added per job at the end (the serial part,
// counted as merge time of slot 0).
void attend_chunks(const Jobs& jobs, cpu::ThreadPool& pool) {
    LayerScratch& s = jobs.scratch;
    const std::vector<ChunkTask>& chunks = s.chunks;
    const uint32_t n_jobs = jobs.count(), n_chunks = static_cast<uint32_t>(chunks.size()), group = jobs.group;
    s.probs_at.resize(n_jobs + 1);
    s.probs_at[0] = 0;
    for (uint32_t job = 0; job < n_jobs; ++job) s.probs_at[job + 1] = s.probs_at[job] + size_t{group} * s.job_keys[job];
    s.probs.resize(s.probs_at[n_jobs]);
    s.chunk_max.resize(size_t{n_chunks} * group);
    s.chunk_out.resize(size_t{n_chunks} * group * jobs.d);
    s.row_inv.resize(size_t{n_jobs} * group);
    if (s.chunks_left_size < n_jobs) {
        s.chunks_left = std::make_unique<std::atomic<uint32_t>[]>(n_jobs);
        s.chunks_left_size = n_jobs;
    }
    // Published to the workers with the pool's job (thread-pool.cpp orders it).
    for (uint32_t job = 0; job < n_jobs; ++job) s.chunks_left[job].store(0, std::memory_order_relaxed);
    for (const ChunkTask& c : chunks) s.chunks_left[c.job].fetch_add(1, std::memory_order_relaxed);
    auto attention = [&](uint32_t job) {
        ChunkedAttention c = jobs.attention(job);
        c.probs = s.probs.data() + s.probs_at[job];
        return c;
    };

    run_tasks(pool, n_chunks, [&](uint32_t i, uint32_t slot) {
        const uint32_t job = chunks[i].job;
        const ChunkedAttention c = attention(job);
        if (chunks[i].begin == 0) jobs.add_recall(job, slot);
        chunk_logits(c, chunks[i].begin, chunks[i].end, s.chunk_max.data() + size_t{i} * group, s.times[slot]);
        // acq_rel: the last chunk sees every other chunk's logits and maximum.
        if (s.chunks_left[job].fetch_sub(1, std::memory_order_acq_rel) != 1) return;
        float* row = s.row_inv.data() + size_t{job} * group; // maxima, then 1 / sums
        std::fill(row, row + group, -INFINITY);
        uint32_t first = i;
        while (first > 0 && chunks[first - 1].job == job) --first;
        for (uint32_t k = first; k < n_chunks && chunks[k].job == job; ++k)
            for (uint32_t g = 0; g < group; ++g) row[g] = std::max(row[g], s.chunk_max[size_t{k} * group + g]);
        std::vector<double>& sum = s.partial_sum[slot];
        sum.resize(group);
        chunk_exp(c, 0, c.n_keys(), row, sum.data(), s.times[slot]);
        for (uint32_t g = 0; g < group; ++g) row[g] = sum[g] > 0.0 ? static_cast<float>(1.0 / sum[g]) : 0.0f;
    });

    run_tasks(pool, n_chunks, [&](uint32_t i, uint32_t slot) {
        const uint32_t job = chunks[i].job;
        chunk_values(attention(job), chunks[i].begin, chunks[i].end, s.row_inv.data() + size_t{job} * group,
                     s.chunk_out.data() + size_t{i} * group * jobs.d, jobs.a.token_mass ? s.mass[job].data() : nullptr, s.times[slot]);
    });
    const auto since = std::chrono::steady_clock::now();
    const size_t n_out = size_t{group} * jobs.d;
    for (uint32_t i = 0; i < n_chunks; ++i) {
        float* out = jobs.out(chunks[i].job);
        const float* part = s.chunk_out.data() + size_t{i} * n_out;
        if (i == 0 || chunks[i - 1].job != chunks[i].job) std::copy_n(part, n_out, out);
        else
            for (size_t c = 0; c < n_out; ++c) out[c] += part[c];
    }
    s.times[0].merge += seconds_since(since);
}

} // namespace

// Each job's keys are cut into ranges of about equal size, chosen so that all jobs together give
// kTasksPerThread tasks per thread. One chunk per job when the jobs alone are that many (a question's
// prefill) or there is one thread.
void plan_chunks(const std::vector<uint32_t>& job_keys, uint32_t n_threads, std::vector<ChunkTask>& chunks) {
    chunks.clear();
    const uint32_t n_jobs = static_cast<uint32_t>(job_keys.size());
    const uint32_t want = kTasksPerThread * n_threads;
    uint64_t total = 0;
    for (const uint32_t n : job_keys) total += n;
    const uint64_t size = std::max<uint64_t>(kMinChunkKeys, (total + want - 1) / want);
    for (uint32_t j = 0; j < n_jobs; ++j) {
        const uint32_t n = job_keys[j];
        const uint32_t parts = n_threads == 1 || n_jobs >= want ? 1 : static_cast<uint32_t>(std::max<uint64_t>(1, (n + size / 2) / size));
        for (uint32_t c = 0; c < parts; ++c)
            chunks.push_back({j, static_cast<uint32_t>(uint64_t{n} * c / parts), static_cast<uint32_t>(uint64_t{n} * (c + 1) / parts)});
    }
}

Status squeeze_attend_layer(const LayerAttention& a, cpu::ThreadPool& pool, LayerScratch& scratch, SqueezeStats* stats) {
    const ClusterIndex* index = a.index;
    if (!index || a.layer >= index->n_layers || index->n_kv_heads == 0 || a.n_heads % index->n_kv_heads != 0 || !a.q || !a.out ||
        (a.n_dyn_before + a.n_tokens > 0 && (!a.k_dyn || !a.v_dyn)) || (a.round_as_dense && a.elem != KvElem::F16) ||
        (a.recall && !stats))
        return Status::error("SQUEEZE_BAD_PARAMS", "squeeze_attend_layer: bad arguments for layer " + std::to_string(a.layer));
    if (a.n_tokens == 0) return Status::ok();
    const uint32_t d = index->head_dim, n_kv = index->n_kv_heads, group = a.n_heads / n_kv;
    const size_t elem_bytes = a.elem == KvElem::F16 ? 2 : 4;
    const uint32_t n_threads = pool.n_threads();
    scratch.lookup.resize(n_threads);
    scratch.rows.resize(n_threads);
    scratch.partial.resize(n_threads);
    scratch.partial_max.resize(n_threads);
    scratch.partial_sum.resize(n_threads);
    const uint32_t n_lookups = a.per_token ? a.n_tokens * n_kv : n_kv; // task i: token i / n_kv, KV head i % n_kv
    scratch.selections.resize(n_lookups);
    scratch.key_lists.resize(n_lookups);
    if (a.recall) scratch.recall.assign(n_threads, 0.0);
    scratch.times.assign(n_threads, AttnTimes{});

    // Phase 1: one selection per KV head from all of the batch's query rows of its group (or from
    // each token's own rows with per_token).
    auto t0 = std::chrono::steady_clock::now();
    run_tasks(pool, n_lookups, [&](uint32_t task, uint32_t slot) {
        const uint32_t h = task % n_kv, t_first = a.per_token ? task / n_kv : 0, n_q = a.per_token ? 1 : a.n_tokens;
        std::vector<float>& rows = scratch.rows[slot]; // [n_q][group][d]
        rows.resize(size_t{n_q} * group * d);
        for (uint32_t t = 0; t < n_q; ++t)
            std::copy_n(a.q + (size_t{t_first + t} * a.n_heads + size_t{h} * group) * d, size_t{group} * d, rows.begin() + size_t{t} * group * d);
        Selection& sel = scratch.selections[task];
        const HeadIndex& head = index->head(a.layer, h);
        lookup_select(head, rows.data(), n_q, group, a.scale, a.select, scratch.lookup[slot], sel);
        if (a.oracle != Oracle::None)
            oracle_select(head, rows.data(), n_q * group, a.scale, a.oracle, sel.n_keys, scratch.partial[slot], sel);
        key_list_build(head, sel, scratch.key_lists[task]);
    });
    const double lookup_s = seconds_since(t0);

    // Phase 2: per (token, KV head) job, the group's rows over the selected fixed-context keys and
    // the token's dynamic rows in one softmax, by chunks of keys (sparse-attention.h, ChunkedAttention).
    t0 = std::chrono::steady_clock::now();
    const float* q = a.q;
    if (a.round_as_dense) {
        scratch.q16.resize(size_t{a.n_tokens} * a.n_heads * d);
        for (size_t c = 0; c < scratch.q16.size(); ++c) scratch.q16[c] = f16_to_f32(f32_to_f16(a.q[c]));
        q = scratch.q16.data();
    }
    const Jobs jobs{a, *index, scratch, q, n_kv, group, d, elem_bytes};
    const uint32_t n_jobs = jobs.count();
    std::vector<uint32_t>& job_keys = scratch.job_keys;
    job_keys.resize(n_jobs);
    for (uint32_t job = 0; job < n_jobs; ++job) job_keys[job] = jobs.attention(job).n_keys();
    plan_chunks(job_keys, n_threads, scratch.chunks);
    const bool split = scratch.chunks.size() > n_jobs;
    // Token mass goes to one buffer per slot, or per job when split (a job's chunks touch disjoint tokens).
    if (a.token_mass) {
        scratch.mass.resize(split ? n_jobs : n_threads);
        for (std::vector<float>& m : scratch.mass) m.assign(index->n_tokens, 0.0f);
    }
    if (split) attend_chunks(jobs, pool);
    else attend_whole_jobs(jobs, pool);
    const double tasks_s = seconds_since(t0);
    if (a.token_mass)
        for (const std::vector<float>& m : scratch.mass)
            for (uint32_t i = 0; i < index->n_tokens; ++i) a.token_mass[i] += m[i];
    const double attention_s = seconds_since(t0);

    if (stats) {
        for (uint32_t i = 0; i < n_lookups; ++i) stats->add_lookup(a.layer, i % n_kv, index->head(a.layer, i % n_kv), scratch.selections[i]);
        stats->lookup_seconds += lookup_s;
        stats->add_attention(attention_s, tasks_s, scratch.times);
        if (a.recall) {
            double sum = 0.0;
            for (const double r : scratch.recall) sum += r;
            stats->add_recall(a.layer, sum, uint64_t{a.n_tokens} * a.n_heads);
        }
    }
    return Status::ok();
}

} // namespace sq::squeeze
