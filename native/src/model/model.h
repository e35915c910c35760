// A loaded model (weights memory-mapped from GGUF) and an evaluation context (KV cache + scratch).
//
// Architectures: llama (Llama 2/3/3.1/3.2, Mistral, SmolLM) and qwen2 (QKV bias, NeoX RoPE).
// The forward pass is the CPU reference; it mirrors llama.cpp's graph op for op so that logits
// agree: RMSNorm, RoPE (normal/NeoX, rope_freqs, Llama-3.1 scaling), GQA attention with a KV cache,
// SwiGLU feed-forward, output head (tied to token_embd when output.weight is absent).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../common/status.h"
#include "../common/tensor-type.h"
#include "../gguf/gguf.h"

namespace sq {

namespace cpu {
class ThreadPool;
}
class GpuForward;

enum class RopeOrder { Normal, NeoX }; // Normal: pairs (2i, 2i+1); NeoX: pairs (i, i + d/2)

struct Hparams {
    std::string arch;          // "llama" | "qwen2"
    uint32_t n_vocab = 0;
    uint32_t n_ctx_train = 0;
    uint32_t n_embd = 0;
    uint32_t n_layers = 0;
    uint32_t n_ff = 0;
    uint32_t n_heads = 0;
    uint32_t n_kv_heads = 0;
    uint32_t head_dim = 0;     // n_embd / n_heads unless attention.key_length says otherwise
    uint32_t n_rot = 0;        // rope.dimension_count (defaults to head_dim)
    float rms_eps = 1e-5f;
    float rope_freq_base = 10000.0f;
    float rope_freq_scale = 1.0f; // 1 / rope.scaling.factor for linear scaling
    RopeOrder rope_order = RopeOrder::Normal;
    bool tied_output = false;  // output.weight absent: token_embd is the output head
};

// A weight tensor inside the mapping. ne[0] is the row length (input features).
struct Weight {
    TensorType type;
    uint64_t ne[4] = {1, 1, 1, 1};
    const uint8_t* data = nullptr;
    size_t row_bytes = 0;
};

struct LayerWeights {
    Weight attn_norm, wq, wk, wv, wo;
    Weight bq, bk, bv;         // qwen2 only (data == nullptr otherwise)
    Weight ffn_norm, w_gate, w_up, w_down;
};

class Model {
public:
    // Errors: GGUF_* from the reader; MODEL_UNKNOWN_ARCH, MODEL_MISSING_TENSOR,
    // MODEL_BAD_SHAPE, MODEL_BAD_HPARAMS, MODEL_UNSUPPORTED_TYPE (each naming the key/tensor).
    static Status load(const std::string& path, std::unique_ptr<Model>& out);

    const Hparams& hparams() const { return hparams_; }
    const GgufFile& gguf() const { return *gguf_; }
    const Weight& token_embd() const { return token_embd_; }
    const Weight& output_norm() const { return output_norm_; }
    const Weight& output() const { return output_; }
    const std::vector<LayerWeights>& layers() const { return layers_; }
    // Per-dimension RoPE frequency factors [n_rot/2] (rope_freqs.weight or Llama-3.1 scaling), empty if none.
    const std::vector<float>& rope_freq_factors() const { return rope_freq_factors_; }

private:
    Model() = default;
    Status load_hparams();
    Status bind_weights();
    // Norm and bias vectors are used as floats; other types are dequantized once into f32_copies_.
    void make_f32(Weight& w);

    std::unique_ptr<GgufFile> gguf_;
    Hparams hparams_;
    Weight token_embd_, output_norm_, output_;
    std::vector<LayerWeights> layers_;
    std::vector<float> rope_freq_factors_;
    std::vector<std::vector<float>> f32_copies_;
};

enum class KvType { F16, F32 };

// Where a context runs its forward pass. Cuda fails with CUDA_UNAVAILABLE / CUDA_UNSUPPORTED when
// the GPU path cannot take the model; Auto then stays on the CPU (backend/cuda/cuda-forward.h).
enum class Backend { Cpu, Cuda, Auto };

struct ContextParams {
    uint32_t n_ctx = 4096;     // KV cache capacity in tokens
    uint32_t n_threads = 0;    // 0: hardware concurrency
    KvType kv_type = KvType::F16;
    uint32_t n_batch = 512;    // tokens per forward pass during prefill
    Backend backend = Backend::Cpu;
};

// One layer's attention as the forward pass is about to compute it (the batch's K/V already stored).
struct AttentionCall {
    uint32_t layer = 0;
    uint32_t n_tokens = 0;     // tokens of the batch
    uint32_t pos0 = 0;         // position of the batch's first token
    const float* q = nullptr;  // [n_tokens][n_heads][head_dim] post-RoPE queries
    float* out = nullptr;      // [n_tokens][n_heads][head_dim]
};

// Installed on a Context by squeeze (document packs): sees every layer's queries and may compute
// the attention itself, e.g. squeezed attention over a clustered fixed context.
class AttentionHook {
public:
    virtual ~AttentionHook() = default;
    // Returns true when it wrote call.out (the dense attention is then skipped).
    virtual bool attend(const AttentionCall& call, cpu::ThreadPool& pool) = 0;
};

// The raw KV cache: [n_layers][n_kv_heads][n_ctx][head_dim] of type, one head's rows contiguous.
struct KvCacheRef {
    uint8_t* k = nullptr;
    uint8_t* v = nullptr;
    KvType type = KvType::F16;
    uint32_t n_ctx = 0;
};

class Context {
public:
    // Errors: CONTEXT_OUT_OF_MEMORY when the KV cache cannot be allocated (says how much it needs).
    static Status create(const Model& model, const ContextParams& params, std::unique_ptr<Context>& out);
    ~Context();

    // Runs `tokens` at positions n_past() .. n_past()+n-1 and appends their K/V to the cache.
    // logits receives [n][n_vocab] when all_logits, else [n_vocab] for the last token.
    // Errors: CONTEXT_FULL when the cache has no room; EVAL_BAD_TOKEN for ids outside the vocabulary.
    Status eval(const int32_t* tokens, uint32_t n, bool all_logits, std::vector<float>& logits);

    uint32_t n_past() const;
    // Forgets cached positions >= n (regenerate, edit-and-resend); n <= n_past().
    void truncate(uint32_t n);

    const Model& model() const;
    const ContextParams& params() const;
    // "cpu", or the GPU's name when the forward pass runs there.
    std::string device() const;
    // The GPU forward pass when the context runs there (document sessions hook its attention and
    // move its cache), else null.
    GpuForward* gpu();

    // For document packs: cluster the fixed context's K/V, or restore them without a prefill.
    // CPU contexts only: on a GPU context the cache lives on the device and k/v are null.
    KvCacheRef kv_cache();
    // Marks positions [0, n) as filled after writing them through kv_cache(); n is clamped to n_ctx.
    void set_n_past(uint32_t n);
    // Used by the following evals until replaced (null: dense attention only). Not owned.
    // CPU contexts only: a GPU context never calls it.
    void set_attention_hook(AttentionHook* hook);

private:
    Context() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace sq
