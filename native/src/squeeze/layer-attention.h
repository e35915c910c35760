// The attention of one layer when the fixed context is squeezed: the call the forward pass makes
// instead of its dense attention loop once a document pack is active.
//
// For each KV head: one lookup over the centroids (all of the batch's tokens averaged, the group's
// query heads merged), then for every token and query head exact attention over the selected
// fixed-context keys (read in place from the index) and the dynamic rows of the KV cache, in one
// softmax over both key sets. One token's keys are cut into chunks when the (token, KV head) jobs
// alone would leave threads idle (decode: one job per KV head), so every thread works
// (sparse-attention.h, ChunkedAttention). With round_as_dense (the engine's F16 cache), the
// probabilities are rounded to f16 as the dense kernel rounds them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "../backend/cpu/thread-pool.h"
#include "../common/status.h"
#include "cluster-index.h"
#include "lookup.h"
#include "recall.h"
#include "sparse-attention.h"
#include "stats.h"

namespace sq::squeeze {

struct LayerAttention {
    const ClusterIndex* index = nullptr;
    uint32_t layer = 0;
    uint32_t n_heads = 0;        // query heads (a multiple of the index's KV heads)
    uint32_t n_tokens = 0;       // tokens of this batch (1 in decode, the question's length in prefill)
    const float* q = nullptr;    // [n_tokens][n_heads][head_dim] post-RoPE queries of the batch
    // This layer's cache rows after the fixed context, the batch's own rows already written:
    // KV head h's dynamic rows are k_dyn + h * dyn_head_stride elements, [n_dyn][head_dim] each.
    const void* k_dyn = nullptr;
    const void* v_dyn = nullptr;
    KvElem elem = KvElem::F16;
    size_t dyn_head_stride = 0;  // elements between KV heads (n_ctx * head_dim in the engine's cache)
    uint32_t n_dyn_before = 0;   // dynamic rows cached before this batch: token t sees n_dyn_before + t + 1
    float scale = 0.0f;          // 1 / sqrt(head_dim)
    SelectParams select;         // tau: this layer's thresholds (Thresholds::tau)
    float* out = nullptr;        // [n_tokens][n_heads][head_dim]
    // Optional, for citations: [index->n_tokens] per fixed-context token, its attention probability
    // summed over the batch's tokens and query heads is added here (null: not collected).
    float* token_mass = nullptr;
    // Round as the engine's dense F16-cache attention does (query and probabilities to f16; needs
    // elem F16), so that with every cluster selected the squeezed path agrees with dense generation
    // (attention_rounded_f16). Off: probabilities stay f32 (the CUDA kernels' reference).
    bool round_as_dense = false;
    // Evaluation: add every row's attention-mass recall (recall.h) to stats (which must be given).
    // Scores every fixed-context key, as dense attention would.
    bool recall = false;
    // One selection per (token, KV head) for a batch too, as decode makes, instead of one from the
    // batch's averaged scores.
    bool per_token = false;
    // Evaluation: replace each lookup's selection by the oracle one of the same key count (recall.h).
    Oracle oracle = Oracle::None;
};

// Keys [begin, end) of (token, KV head) job `job` (token job / n_kv_heads, KV head job % n_kv_heads).
struct ChunkTask {
    uint32_t job, begin, end;
};

// Buffers kept by the caller across layers and tokens so decode does not allocate. Per-slot ones
// have one entry per pool thread; per-chunk ones are used when a token's work is split.
struct LayerScratch {
    std::vector<LookupScratch> lookup;          // [n_threads]
    std::vector<std::vector<float>> rows;       // [n_threads] gathered query rows / one job's probabilities
    std::vector<std::vector<float>> partial;    // [n_threads] scratch of the oracle and recall
    std::vector<std::vector<float>> partial_max; // [n_threads][group] one job's row maxima, then 1 / sums
    std::vector<std::vector<double>> partial_sum; // [n_threads][group] one job's row sums
    std::vector<std::vector<float>> mass;       // [n_threads or n_jobs][n_fixed_tokens] token_mass shares
    std::vector<double> recall;                 // [n_threads] recall summed over the slot's rows
    std::vector<AttnTimes> times;               // [n_threads] part times of the slot's attention tasks
    std::vector<Selection> selections;          // [n_kv_heads], or [n_tokens][n_kv_heads] with per_token
    std::vector<KeyList> key_lists;             // the selections' keys, as selections
    std::vector<float> q16;                     // [n_tokens][n_heads][head_dim] queries rounded to f16 (round_as_dense)
    std::vector<uint32_t> job_keys;             // [n_jobs] keys each job attends
    std::vector<ChunkTask> chunks;              // [n_chunks], a job's chunks in key order
    std::vector<size_t> probs_at;               // [n_jobs + 1] where each job's probabilities start in probs
    std::vector<float> probs;                   // the jobs' [group][n_keys] probabilities, one after another
    std::vector<float> chunk_max;               // [n_chunks][group]
    std::vector<float> chunk_out;               // [n_chunks][group][head_dim] each chunk's share of the output
    std::vector<float> row_inv;                 // [n_jobs][group] 1 / each row's sum over its job's keys
    std::unique_ptr<std::atomic<uint32_t>[]> chunks_left; // [chunks_left_size >= n_jobs] chunks of a job still computing logits
    uint32_t chunks_left_size = 0;
};

// Cuts jobs of job_keys[j] keys into chunks (in job order, each job's in key order, covering its keys):
// one per job when there is one thread or the jobs alone give 4 tasks per thread, otherwise about
// 4 per thread of roughly equal key counts (about max(128, all keys / (4 * n_threads)) each).
void plan_chunks(const std::vector<uint32_t>& job_keys, uint32_t n_threads, std::vector<ChunkTask>& chunks);

// Errors: SQUEEZE_BAD_PARAMS (no index, layer out of range, heads not a multiple of the KV heads,
// missing buffers, round_as_dense with an F32 cache, recall without stats).
Status squeeze_attend_layer(const LayerAttention& a, cpu::ThreadPool& pool, LayerScratch& scratch, SqueezeStats* stats);

} // namespace sq::squeeze
