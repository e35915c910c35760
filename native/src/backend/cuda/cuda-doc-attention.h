// Squeezed Attention of a document session inside the GPU forward pass (DESIGN.md §3 "Online",
// the GPU side of session/doc-session.cpp's CPU hook).
//
// At attach, the pack's fixed context goes into rows [0, n_fixed) of the forward pass's own F16
// cache in each head's *slot order* (clusters contiguous), and the centroid tree beside it. Every
// dynamic token keeps its row at its position, so one cache serves all modes:
//   dense         the forward pass's attention over every row (the order of the fixed rows changes
//                 only the summation order: RoPE already put the positions into the keys);
//   squeezed      per layer, the lookup over the centroids, attention over the selected slots read
//                 in place, causal attention over the dynamic rows, merged by log-sum-exp:
//                 decode (one token) through squeezed_decode; the question's prefill through
//                 squeeze_lookup_prefill (scores averaged over its tokens, as on the CPU) and
//                 attention_prefill over the slot list + the dynamic rows in one online softmax.
// Ingest (capture) attends densely with attention_prefill as well: the forward pass's own kernel
// reproduces the CPU's rounding one (head, token) block at a time and is slow past a few thousand
// keys, and the clustering needs only the keys.
// Thresholds are per (layer, level), so the global and per-layer calibrations both run; a
// threshold of 0 selects every cluster. Keys attended are summed on the device (no copy back per
// step) and read once per answer. Squeezed decode steps read the step's position on the device, so
// the forward pass captures one in a CUDA graph and replays it (replayable()).
//
// Built only with SQUEEZE_WITH_CUDA; without it gpu_doc_attention_create says so.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "../../common/status.h"
#include "../../squeeze/cluster-index.h"
#include "../../squeeze/stats.h"
#include "cuda-forward.h"

namespace sq {

struct Hparams;

class GpuDocAttention : public GpuAttentionHook {
public:
    // Installs itself on the forward pass: the following evaluations copy the queries of positions
    // [n_fixed - window, n_fixed) into q_out [n_layers][window][n_heads][head_dim] (calibration)
    // and attend densely on tensor cores (attention_prefill). q_out must live until stop().
    virtual void capture(uint32_t n_fixed, uint32_t window, float* q_out) = 0;
    // Uploads the index's tree and writes its keys/values into the cache in slot order (the
    // caller then marks [0, n_tokens) filled). Errors: CUDA_UNSUPPORTED (a tree the GPU lookup
    // cannot take: named), CUDA_OUT_OF_MEMORY, CUDA_ERROR.
    virtual Status attach(const squeeze::ClusterIndex& index) = 0;
    // Installs itself: the following evaluations past the fixed context attend squeezed.
    // tau: [n_layers][n_levels] for decode; empty selects every cluster. tau_prefill: the same for a
    // batch's lookup over its averaged scores (Thresholds' prefill ladder). keys_hint: keys a head is expected
    // to read (sizes the attention's split count; 0: all). token_mass: null, or host [n_fixed]
    // to which stats() adds each fixed token's attention probability (summed over layers, heads
    // and tokens, as the CPU's; kernels/squeeze-token-mass.cuh). Resets the stats.
    virtual void squeeze(std::vector<float> tau, std::vector<float> tau_prefill, uint32_t keys_hint, float* token_mass) = 0;
    // Uninstalls itself: dense attention (and CUDA graphs) again.
    virtual void stop() = 0;
    // What the lookups since squeeze() selected (waits for the GPU); no times or centroid counts.
    // Also adds the token mass to squeeze()'s token_mass.
    virtual Status stats(const squeeze::ClusterIndex& index, squeeze::SqueezeStats& out) = 0;
};

// Errors: CUDA_UNAVAILABLE (no CUDA build), CUDA_UNSUPPORTED (head_dim other than 64 or 128),
// CUDA_OUT_OF_MEMORY.
Status gpu_doc_attention_create(GpuForward& gpu, const Hparams& hp, uint32_t n_batch, std::unique_ptr<GpuDocAttention>& out);

} // namespace sq
