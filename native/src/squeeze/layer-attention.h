// The attention of one layer when the fixed context is squeezed: the call the forward pass makes
// instead of its dense attention loop once a document pack is active.
//
// For each KV head: one lookup over the centroids (all of the batch's tokens averaged, the group's
// query heads merged), then for every token and query head exact attention over the selected
// fixed-context keys (read in place from the index), exact causal attention over the dynamic rows of
// the KV cache, and the log-sum-exp merge of the two. With round_as_dense (the engine's F16 cache),
// both key sets share one softmax whose probabilities are rounded to f16 as the dense kernel rounds
// them (sparse-attention.h, attention_rounded_f16).
#pragma once

#include <cstdint>
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

// Per-slot buffers (one per pool thread), kept by the caller across layers and tokens so decode does not allocate.
struct LayerScratch {
    std::vector<LookupScratch> lookup;          // [n_threads]
    std::vector<std::vector<float>> rows;       // [n_threads] gathered query rows / logits
    std::vector<std::vector<float>> partial;    // [n_threads] dynamic-part output and logits
    std::vector<std::vector<AttnPartial>> parts; // [n_threads][group] fixed-part (max, sum) per row
    std::vector<std::vector<float>> mass;       // [n_threads][n_fixed_tokens] token_mass shares
    std::vector<double> recall;                 // [n_threads] recall summed over the slot's rows
    std::vector<AttnTimes> times;               // [n_threads] part times of the slot's attention tasks
    std::vector<Selection> selections;          // [n_kv_heads], or [n_tokens][n_kv_heads] with per_token
};

// Errors: SQUEEZE_BAD_PARAMS (no index, layer out of range, heads not a multiple of the KV heads,
// missing buffers, round_as_dense with an F32 cache, recall without stats).
Status squeeze_attend_layer(const LayerAttention& a, cpu::ThreadPool& pool, LayerScratch& scratch, SqueezeStats* stats);

} // namespace sq::squeeze
