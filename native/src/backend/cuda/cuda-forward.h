// The forward pass on a CUDA GPU, behind the interface a Context dispatches to (model/context.cpp):
// the model's weights live on the device in their GGUF types, the KV cache is F16 on the device,
// and each op is a kernel from kernels/ that mirrors the CPU op's rounding, so logits agree with
// the CPU path to float rounding of the summation order.
//
// Built only with SQUEEZE_WITH_CUDA (cuda-forward.cpp); without it gpu_forward_create says so
// (cuda-forward-none.cpp) and the engine stays on the CPU.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "../../common/status.h"

namespace sq {

class Model;
struct ContextParams;

// One layer's attention as the GPU forward pass is about to compute it (the batch's K/V already
// stored). Every pointer is device memory; work is queued on `stream` (a cudaStream_t).
struct GpuAttentionCall {
    uint32_t layer = 0;
    uint32_t n_tokens = 0;      // tokens of the batch
    uint32_t pos0 = 0;          // position of the batch's first token
    const float* q = nullptr;   // [n_tokens][n_heads][head_dim] post-RoPE queries
    float* out = nullptr;       // [n_tokens][n_heads][head_dim]
    const void* k = nullptr;    // this layer's F16 cache: [n_kv_heads][n_ctx][head_dim]
    const void* v = nullptr;
    uint32_t n_ctx = 0;
    void* stream = nullptr;
    // Set while a decode step is queued for a CUDA graph: pos0 is then this step's, but replays
    // read theirs here (device memory), so nothing queued may depend on the host's pos0.
    const int* pos0_device = nullptr;
};

// Installed by a document session (session/doc-session.cpp): sees every layer's queries on the
// device and may compute the attention itself. Decode steps run eagerly unless the hook says that
// a step at this position may be captured once and replayed (its work then reads the position
// from call.pos0_device); installing a hook drops the graph captured under the previous one.
class GpuAttentionHook {
public:
    virtual ~GpuAttentionHook() = default;
    // taken: true when it wrote call.out (the dense attention is then skipped).
    virtual Status attend(const GpuAttentionCall& call, bool& taken) = 0;
    // Whether decode steps from pos0 on queue the same work for every position (graph replay).
    virtual bool replayable(uint32_t /*pos0*/) const { return false; }
    // A replayed step ran the captured work again: host-side bookkeeping of one attend per layer.
    virtual void replayed() {}
};

class GpuForward {
public:
    virtual ~GpuForward() = default;
    // Runs tokens [n] at positions pos0 .. pos0 + n - 1 and stores their K/V. logits receives
    // [n][n_vocab] when all_logits, else [n_vocab] for the last token; null skips the head.
    virtual Status forward(const int32_t* tokens, uint32_t n, uint32_t pos0, float* logits, bool all_logits) = 0;
    // The GPU's name, as the driver reports it.
    virtual const std::string& device_name() const = 0;

    // Null: the forward pass's own attention only. Not owned.
    virtual void set_attention_hook(GpuAttentionHook* hook) = 0;
    // Positions [0, n) of every (layer, KV head) of the F16 cache into host
    // k, v [n_layers][n_kv_heads][n][head_dim].
    virtual Status kv_download(uint32_t n, uint16_t* k, uint16_t* v) = 0;
    // Host k, v [n][head_dim] F16 into rows [0, n) of one (layer, KV head) of the cache.
    virtual Status kv_upload_head(uint32_t layer, uint32_t kv_head, uint32_t n, const uint16_t* k, const uint16_t* v) = 0;
};

// Errors: CUDA_UNAVAILABLE (no CUDA build, no driver or no device: the message says which),
// CUDA_UNSUPPORTED (a tensor type, KV type or head size the GPU path lacks: named),
// CUDA_OUT_OF_MEMORY (says how much was asked), CUDA_ERROR.
Status gpu_forward_create(const Model& model, const ContextParams& params, std::unique_ptr<GpuForward>& out);

} // namespace sq
