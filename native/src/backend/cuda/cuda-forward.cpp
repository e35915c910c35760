// CudaForward: the llama / qwen2 forward pass of model/context.cpp, op for op, on one GPU.
//   embeddings (get_rows) -> per layer [RMSNorm -> Q/K/V matmuls (+bias) -> RoPE -> KV store ->
//   causal attention -> output matmul -> residual -> RMSNorm -> gate/up matmuls -> SwiGLU -> down
//   matmul -> residual] -> RMSNorm -> head.
// Matmul inputs are first converted to the weight type's vec_dot type, as on the CPU, once per
// distinct type per input; RoPE takes its cos/sin from the CPU's rope_cache; attention, SiLU and
// the Q4_1/Q8_0 matmuls follow the CPU's order of operations. All work is queued on one stream;
// forward() waits for the logits.
//
// A decode step is some 20 small kernels per layer, so launching them costs more than running them.
// The second decode step is captured into a CUDA graph (the position read on the device) and every
// later one replays it; SQUEEZE_CUDA_GRAPHS=0 turns that off (benchmarks compare the two). Steps
// that attend differently (the CPU-order kernel, split-K, an attention hook) have a graph each.
//
// Attention: up to kFastAttentionMinKeys keys, attention_batch (the CPU's bits, one block per
// (head, token)); past them decode takes split-K attention_decode and batches take the tensor-core
// attention_prefill (dense causal), which round differently (f32 / f16 P) and are many times faster
// at long contexts (bench/results/gpu-forward-attention-*). SQUEEZE_CUDA_ATTENTION_KEYS=<keys> moves
// the crossover (benchmarks, tests).
//
// Batches of kMatmulMmaMinTokens tokens or more run their Q8_0/Q4_0/Q4_1 matmuls on int8 tensor
// cores (matmul-mma.cuh), whose block sums round differently from the CPU's 8-lane order; decode
// and smaller batches take the decode GEMV (matmul-vec.cuh, Q8_0/Q4_0/Q4_1/Q4_K/Q6_K rows of whole
// 16-byte chunks), which reads weights at memory speed and adds in its own order too.
// SQUEEZE_CUDA_GEMM=0 keeps every batch on the CPU's order (matmul-q.cuh): the GPU = CPU tests.
#include "cuda-forward.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "add.cuh"
#include "attention-batch.cuh"
#include "attention-decode.cuh"
#include "device.cuh"
#include "attention-prefill.cuh"
#include "get-rows.cuh"
#include "head-major.cuh"
#include "kv-store.cuh"
#include "matmul-mma.cuh"
#include "matmul-q.cuh"
#include "matmul-vec.cuh"
#include "quantize-rows.cuh"
#include "rms-norm.cuh"
#include "rope.cuh"
#include "swiglu.cuh"

#include "../../model/model.h"
#include "../cpu/ops.h"
#include "cuda-status.h"

namespace sq {

namespace {

struct DeviceMatrix {
    const void* data = nullptr;  // [n_rows][row_bytes]
    cuda::WeightType type = cuda::WeightType::F32;
    int n_rows = 0;
    int n_cols = 0;
    long row_bytes = 0;
};

struct DeviceLayer {
    const float* attn_norm = nullptr; // [n_embd]
    const float* ffn_norm = nullptr;  // [n_embd]
    const float* bq = nullptr;        // [q_dim] qwen2 only
    const float* bk = nullptr;        // [kv_dim]
    const float* bv = nullptr;        // [kv_dim]
    DeviceMatrix wq, wk, wv, wo, gate, up, down;
};

long round_up(long v, long to) { return (v + to - 1) / to * to; }

// Keys above which the forward pass attends with the fast kernels instead of the CPU-order one.
// Speed alone would put it below 1K (H100, bench/results/gpu-forward-attention-2026-11-26.md: at
// 1024 keys split-K decodes 2.6x / 1.7x and the tensor cores prefill 7.7x / 5.5x the CPU-order
// kernel on the SmolLM2 / Llama-3.2-1B shapes; 39x / 136x at 32K on SmolLM2). It sits here so that
// every GPU = CPU equality test (prompts within n_ctx 512, document tests at 1.5K fixed tokens)
// stays below it.
constexpr int kFastAttentionMinKeys = 2048;
// Key slices of a batch's tensor-core attention at most (its workspace holds that many outputs).
constexpr int kPrefillMaxSplits = 8;

// The attention kernel a step takes; decode steps keep one CUDA graph per kind.
enum class AttentionKind { CpuOrder = 0, SplitK = 1, Hook = 2, Count = 3 };

class CudaForward final : public GpuForward {
public:
    ~CudaForward() override;
    Status init(const Model& model, const ContextParams& params, const std::string& device_name);
    Status forward(const int32_t* tokens, uint32_t n, uint32_t pos0, float* logits, bool all_logits) override;
    const std::string& device_name() const override { return name_; }
    void set_attention_hook(GpuAttentionHook* hook) override {
        hook_ = hook;
        drop_decode_graph(AttentionKind::Hook);
    }
    Status kv_download(uint32_t n, uint16_t* k, uint16_t* v) override;
    Status kv_upload_head(uint32_t layer, uint32_t kv_head, uint32_t n, const uint16_t* k, const uint16_t* v) override;

private:
    Status alloc(size_t bytes, void** out, const std::string& what);
    template <typename T>
    Status alloc_n(size_t n, T** out, const std::string& what) {
        return alloc(n * sizeof(T), reinterpret_cast<void**>(out), what);
    }
    Status upload_matrix(const Weight& w, const std::string& name, DeviceMatrix& out);
    Status upload_vector(const Weight& w, const std::string& name, const float** out);
    // ys[i] = x . ws[i]^T for n rows of x [n][n_cols]; the input is converted once per act type.
    // With norm_w, x is RMS-normalised first (rms_norm's bits), inside the conversion when every
    // matrix takes one act type (a decode step then saves a kernel per norm).
    Status project(const float* x, int n_cols, int n, const DeviceMatrix* const* ws, float* const* ys, int count,
                   const float* norm_w = nullptr);
    Status norm(const float* w, const float* x, float* y, int n);
    // Queues the forward pass of n staged tokens; *rows: the rows of logits_ it fills.
    Status enqueue(uint32_t n, int pos0, bool want_logits, bool all_logits, int* rows);
    Status capture_decode_graph(AttentionKind kind, int pos0);
    void drop_decode_graph(AttentionKind kind);
    Status attention_block(const DeviceLayer& l, uint32_t il, int n, int pos0);
    Status attend(uint32_t il, int n, int pos0);
    // Whether n tokens at pos0 take the fast kernels (split-K decode, tensor-core prefill).
    bool fast_attention(int n, int pos0) const;
    // Dense causal attention of the batch over rows [0, pos0 + n) on tensor cores.
    Status attend_prefill(size_t layer_offset, int n, int pos0);
    Status ffn_block(const DeviceLayer& l, int n);

    Hparams hp_;
    uint32_t n_ctx_ = 0, n_batch_ = 0;
    std::string name_;
    cudaStream_t stream_ = nullptr;
    std::vector<void*> allocations_;

    DeviceMatrix token_embd_, output_;
    const float* output_norm_ = nullptr;
    cpu::RopeParams rope_;                 // cos/sin of positions from the CPU's rope_cache: libm's bits
    std::vector<DeviceLayer> layers_;

    __half* k_cache_ = nullptr; // [n_layers][n_kv_heads][n_ctx][head_dim]
    __half* v_cache_ = nullptr;
    float* x_ = nullptr;        // [n_batch][n_embd] residual stream
    float* xn_ = nullptr;       // [n_batch][n_embd]
    float* q_ = nullptr;        // [n_batch][q_dim]
    float* k_ = nullptr;        // [n_batch][kv_dim]
    float* v_ = nullptr;        // [n_batch][kv_dim]
    float* attn_ = nullptr;     // [n_batch][q_dim]
    float* proj_ = nullptr;     // [n_batch][n_embd]
    float* gate_ = nullptr;     // [n_batch][n_ff]
    float* up_ = nullptr;       // [n_batch][n_ff]
    float* logits_ = nullptr;   // [n_batch][n_vocab]
    uint8_t* act_ = nullptr;    // [n_batch][act_row_capacity_] matmul input in its vec_dot type
    long act_row_capacity_ = 0;
    void* mma_workspace_ = nullptr; // matmul_mma_workspace_bytes(n_batch, widest input)
    bool gemm_ = false;             // large batches may use the tensor-core GEMM
    bool fast_gemv_ = false;        // other batches may use the decode GEMV (not the CPU's order)
    int* ids_ = nullptr;        // [n_batch]
    float* rope_cs_ = nullptr;  // [n_batch][n_rot] cos/sin of each token's position
    float* decode_workspace_ = nullptr; // split-K decode attention
    __half* q_heads_ = nullptr;         // [n_heads][n_batch][head_dim] a batch's queries, head-major
    float* out_heads_ = nullptr;        // [n_heads][n_batch][head_dim] its attention, head-major
    float* prefill_workspace_ = nullptr; // attention_prefill's key slices
    int fast_min_keys_ = 0;             // more keys than this take the fast kernels
    int* pos0_dev_ = nullptr;           // [1] position of the step's first token, for graph replays
    int* host_pos0_ = nullptr;          // [1] pinned
    const int* device_pos0_ = nullptr;  // pos0_dev_ while queuing a step that reads it there
    bool graphs_ = false;               // decode steps may run as a CUDA graph
    // Per AttentionKind: one decode step ran eagerly (kernel attributes set); the captured step.
    bool decode_warm_[static_cast<int>(AttentionKind::Count)] = {};
    cudaGraphExec_t decode_graph_[static_cast<int>(AttentionKind::Count)] = {};
    int batch_kernel_max_keys_ = 0;
    GpuAttentionHook* hook_ = nullptr;  // a document session's squeezed attention; not owned
    // Pinned, so the per-step copies are plain DMA instead of staged pageable copies.
    int* host_ids_ = nullptr;         // [n_batch]
    float* host_rope_cs_ = nullptr;   // [n_batch][n_rot]
};

CudaForward::~CudaForward() {
    if (stream_) cudaStreamSynchronize(stream_);
    for (void* p : allocations_) cudaFree(p);
    for (cudaGraphExec_t g : decode_graph_)
        if (g) cudaGraphExecDestroy(g);
    if (host_ids_) cudaFreeHost(host_ids_);
    if (host_pos0_) cudaFreeHost(host_pos0_);
    if (host_rope_cs_) cudaFreeHost(host_rope_cs_);
    if (stream_) cudaStreamDestroy(stream_);
}

Status CudaForward::alloc(size_t bytes, void** out, const std::string& what) {
    void* p = nullptr;
    SQ_TRY(cuda_malloc(bytes, &p, what));
    allocations_.push_back(p);
    *out = p;
    return Status::ok();
}

Status CudaForward::upload_matrix(const Weight& w, const std::string& name, DeviceMatrix& out) {
    if (!cuda::matmul_supports(static_cast<int>(w.type))) {
        const TensorTypeTraits t = tensor_type_traits(static_cast<uint32_t>(w.type));
        return Status::error("CUDA_UNSUPPORTED", "tensor " + name + " has type " + (t.name ? t.name : "?") +
                                                     ", which has no GPU kernels");
    }
    const size_t bytes = w.row_bytes * w.ne[1];
    void* p = nullptr;
    SQ_TRY(alloc(bytes, &p, "tensor " + name));
    SQ_CUDA(cudaMemcpy(p, w.data, bytes, cudaMemcpyHostToDevice), "uploading " + name);
    out = {p, static_cast<cuda::WeightType>(w.type), static_cast<int>(w.ne[1]), static_cast<int>(w.ne[0]),
           static_cast<long>(w.row_bytes)};
    return Status::ok();
}

Status CudaForward::upload_vector(const Weight& w, const std::string& name, const float** out) {
    if (!w.data) return Status::ok();
    float* p = nullptr;
    SQ_TRY(alloc_n(w.ne[0], &p, "tensor " + name));
    SQ_CUDA(cudaMemcpy(p, w.data, sizeof(float) * w.ne[0], cudaMemcpyHostToDevice), "uploading " + name);
    *out = p;
    return Status::ok();
}

Status CudaForward::init(const Model& model, const ContextParams& params, const std::string& device_name) {
    hp_ = model.hparams();
    n_ctx_ = params.n_ctx;
    n_batch_ = params.n_batch;
    name_ = device_name;
    if (params.kv_type != KvType::F16) {
        return Status::error("CUDA_UNSUPPORTED", "the GPU path keeps an F16 KV cache; an F32 cache runs on the CPU");
    }
    if (hp_.head_dim > 256) {
        return Status::error("CUDA_UNSUPPORTED", "head dimension " + std::to_string(hp_.head_dim) +
                                                     " is above the GPU attention's 256");
    }
    SQ_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream");

    SQ_TRY(upload_matrix(model.token_embd(), "token_embd.weight", token_embd_));
    if (hp_.tied_output) output_ = token_embd_;
    else SQ_TRY(upload_matrix(model.output(), "output.weight", output_));
    SQ_TRY(upload_vector(model.output_norm(), "output_norm.weight", &output_norm_));
    layers_.resize(hp_.n_layers);
    for (uint32_t il = 0; il < hp_.n_layers; ++il) {
        const LayerWeights& src = model.layers()[il];
        DeviceLayer& l = layers_[il];
        const std::string p = "blk." + std::to_string(il) + ".";
        SQ_TRY(upload_vector(src.attn_norm, p + "attn_norm.weight", &l.attn_norm));
        SQ_TRY(upload_vector(src.ffn_norm, p + "ffn_norm.weight", &l.ffn_norm));
        SQ_TRY(upload_vector(src.bq, p + "attn_q.bias", &l.bq));
        SQ_TRY(upload_vector(src.bk, p + "attn_k.bias", &l.bk));
        SQ_TRY(upload_vector(src.bv, p + "attn_v.bias", &l.bv));
        SQ_TRY(upload_matrix(src.wq, p + "attn_q.weight", l.wq));
        SQ_TRY(upload_matrix(src.wk, p + "attn_k.weight", l.wk));
        SQ_TRY(upload_matrix(src.wv, p + "attn_v.weight", l.wv));
        SQ_TRY(upload_matrix(src.wo, p + "attn_output.weight", l.wo));
        SQ_TRY(upload_matrix(src.w_gate, p + "ffn_gate.weight", l.gate));
        SQ_TRY(upload_matrix(src.w_up, p + "ffn_up.weight", l.up));
        SQ_TRY(upload_matrix(src.w_down, p + "ffn_down.weight", l.down));
    }
    rope_.n_rot = hp_.n_rot;
    rope_.freq_base = hp_.rope_freq_base;
    rope_.freq_scale = hp_.rope_freq_scale;
    rope_.freq_factors = model.rope_freq_factors().empty() ? nullptr : model.rope_freq_factors().data();
    rope_.neox = hp_.rope_order == RopeOrder::NeoX;

    const size_t nb = n_batch_, q_dim = size_t{hp_.n_heads} * hp_.head_dim, kv_dim = size_t{hp_.n_kv_heads} * hp_.head_dim;
    const size_t cache_elems = size_t{hp_.n_layers} * n_ctx_ * kv_dim;
    SQ_TRY(alloc_n(cache_elems, &k_cache_, "the KV cache for n_ctx " + std::to_string(n_ctx_)));
    SQ_TRY(alloc_n(cache_elems, &v_cache_, "the KV cache for n_ctx " + std::to_string(n_ctx_)));
    SQ_TRY(alloc_n(nb * hp_.n_embd, &x_, "activations"));
    SQ_TRY(alloc_n(nb * hp_.n_embd, &xn_, "activations"));
    SQ_TRY(alloc_n(nb * hp_.n_embd, &proj_, "activations"));
    SQ_TRY(alloc_n(nb * q_dim, &q_, "activations"));
    SQ_TRY(alloc_n(nb * q_dim, &attn_, "activations"));
    SQ_TRY(alloc_n(nb * kv_dim, &k_, "activations"));
    SQ_TRY(alloc_n(nb * kv_dim, &v_, "activations"));
    SQ_TRY(alloc_n(nb * hp_.n_ff, &gate_, "activations"));
    SQ_TRY(alloc_n(nb * hp_.n_ff, &up_, "activations"));
    SQ_TRY(alloc_n(nb * hp_.n_vocab, &logits_, "logits"));
    SQ_TRY(alloc_n(nb, &ids_, "token ids"));
    SQ_TRY(alloc_n(nb * hp_.n_rot, &rope_cs_, "rope table"));
    SQ_CUDA(cudaMallocHost(&host_ids_, sizeof(int) * nb), "pinned host memory");
    SQ_CUDA(cudaMallocHost(&host_pos0_, sizeof(int)), "pinned host memory");
    SQ_TRY(alloc_n(1, &pos0_dev_, "the position"));
    SQ_CUDA(cudaMallocHost(&host_rope_cs_, sizeof(float) * nb * hp_.n_rot), "pinned host memory");
    for (const cuda::ActType t : {cuda::ActType::F32, cuda::ActType::F16, cuda::ActType::BF16, cuda::ActType::Q8_0,
                                  cuda::ActType::Q8_1, cuda::ActType::Q8_K, cuda::ActType::Q8_0_PLANAR,
                                  cuda::ActType::Q8_1_PLANAR, cuda::ActType::Q8_K_PLANAR}) {
        for (const uint32_t cols : {hp_.n_embd, static_cast<uint32_t>(q_dim), hp_.n_ff}) {
            act_row_capacity_ = std::max(act_row_capacity_, round_up(cuda::quantized_row_bytes(t, cols), 16));
        }
    }
    SQ_TRY(alloc_n(nb * act_row_capacity_, &act_, "matmul inputs"));
    const char* gemm = std::getenv("SQUEEZE_CUDA_GEMM");
    fast_gemv_ = !(gemm && std::strcmp(gemm, "0") == 0);
    gemm_ = fast_gemv_ && n_batch_ >= static_cast<uint32_t>(cuda::kMatmulMmaMinTokens);
    if (gemm_) {
        const int widest = static_cast<int>(std::max({hp_.n_embd, static_cast<uint32_t>(q_dim), hp_.n_ff}));
        SQ_TRY(alloc(cuda::matmul_mma_workspace_bytes(static_cast<int>(n_batch_), widest), &mma_workspace_,
                     "the GEMM workspace"));
    }
    batch_kernel_max_keys_ = cuda::attention_batch_max_keys(hp_.head_dim);
    const char* graphs = std::getenv("SQUEEZE_CUDA_GRAPHS");
    graphs_ = !(graphs && std::strcmp(graphs, "0") == 0);
    const bool fast_kernels = hp_.head_dim == 64 || hp_.head_dim == 128;
    if (!fast_kernels) {
        if (n_ctx_ > static_cast<uint32_t>(batch_kernel_max_keys_)) {
            return Status::error("CUDA_UNSUPPORTED", "n_ctx " + std::to_string(n_ctx_) + " with head dimension " +
                                                         std::to_string(hp_.head_dim) +
                                                         " needs the split-K attention, which takes 64 or 128");
        }
        fast_min_keys_ = static_cast<int>(n_ctx_);
        return Status::ok();
    }
    const char* crossover = std::getenv("SQUEEZE_CUDA_ATTENTION_KEYS");
    fast_min_keys_ = crossover ? static_cast<int>(std::strtol(crossover, nullptr, 10)) : kFastAttentionMinKeys;
    SQ_TRY(alloc_n(cuda::attention_decode_workspace_floats(hp_.n_heads, hp_.head_dim), &decode_workspace_,
                   "attention workspace"));
    if (n_batch_ > 1 && n_ctx_ > static_cast<uint32_t>(fast_min_keys_)) {
        const int heads = static_cast<int>(hp_.n_heads), dim = static_cast<int>(hp_.head_dim);
        SQ_TRY(alloc_n(nb * q_dim, &q_heads_, "attention inputs"));
        SQ_TRY(alloc_n(nb * q_dim, &out_heads_, "attention outputs"));
        SQ_TRY(alloc_n(cuda::attention_prefill_workspace_floats(heads, static_cast<int>(n_batch_), dim, kPrefillMaxSplits),
                       &prefill_workspace_, "attention workspace"));
    }
    return Status::ok();
}

Status CudaForward::norm(const float* w, const float* x, float* y, int n) {
    const cuda::RmsNormParams p{x, w, y, n, static_cast<int>(hp_.n_embd), hp_.n_embd, hp_.n_embd, hp_.rms_eps};
    SQ_CUDA(cuda::rms_norm(p, stream_), "rms_norm");
    return Status::ok();
}

Status CudaForward::project(const float* x, int n_cols, int n, const DeviceMatrix* const* ws, float* const* ys,
                            int count, const float* norm_w) {
    // Which kernel takes a matrix, and the activation encoding it reads.
    const auto takes_mma = [&](const DeviceMatrix& w) {
        return gemm_ && n >= cuda::kMatmulMmaMinTokens && cuda::matmul_mma_supports(w.type, n_cols, w.row_bytes);
    };
    const auto takes_vec = [&](const DeviceMatrix& w) {
        return fast_gemv_ && !takes_mma(w) && cuda::matmul_vec_supports(w.type, n_cols, w.row_bytes, w.data);
    };
    const auto act_type = [&](const DeviceMatrix& w) {
        return takes_vec(w) ? cuda::matmul_vec_act_type(w.type) : cuda::matmul_act_type(w.type);
    };
    bool fuse_norm = norm_w && n_cols <= cuda::kQuantizeNormMaxCols;
    for (int i = 1; i < count; ++i) fuse_norm = fuse_norm && act_type(*ws[i]) == act_type(*ws[0]);
    if (norm_w && !fuse_norm) {
        SQ_TRY(norm(norm_w, x, xn_, n));
        x = xn_;
    }
    bool converted = false;
    cuda::ActType have = cuda::ActType::F32;
    long a_row_bytes = 0;
    for (int i = 0; i < count; ++i) {
        const DeviceMatrix& w = *ws[i];
        const cuda::ActType want = act_type(w);
        if (!converted || want != have) {
            a_row_bytes = round_up(cuda::quantized_row_bytes(want, n_cols), 16);
            const cuda::QuantizeRowsParams qp{x, act_, want, n, n_cols, n_cols, a_row_bytes,
                                              fuse_norm ? norm_w : nullptr, hp_.rms_eps};
            SQ_CUDA(cuda::quantize_rows(qp, stream_), "quantize_rows");
            converted = true;
            have = want;
        }
        if (takes_mma(w)) {
            const cuda::MatmulMmaParams mp{w.data, w.type, w.n_rows, n_cols, w.row_bytes, act_, a_row_bytes, n,
                                           mma_workspace_, ys[i], w.n_rows};
            SQ_CUDA(cuda::matmul_mma(mp, stream_), "matmul_mma");
            continue;
        }
        const cuda::MatmulQParams mp{w.data, w.type, w.n_rows, n_cols, w.row_bytes, act_, a_row_bytes, n, ys[i], w.n_rows};
        if (takes_vec(w)) SQ_CUDA(cuda::matmul_vec(mp, stream_), "matmul_vec");
        else SQ_CUDA(cuda::matmul_q(mp, stream_), "matmul_q");
    }
    return Status::ok();
}

Status CudaForward::forward(const int32_t* tokens, uint32_t n, uint32_t pos0, float* logits, bool all_logits) {
    if (n == 0) return Status::ok();
    if (n > n_batch_ || pos0 + n > n_ctx_) return Status::error("CUDA_ERROR", "batch outside the context's sizes");
    // The previous forward() synchronised its stream, so the pinned buffers are free to refill.
    std::memcpy(host_ids_, tokens, sizeof(int) * n);
    *host_pos0_ = static_cast<int>(pos0);
    for (uint32_t t = 0; t < n; ++t) cpu::rope_cache(rope_, static_cast<int32_t>(pos0 + t), host_rope_cs_ + size_t{t} * hp_.n_rot);
    SQ_CUDA(cudaMemcpyAsync(ids_, host_ids_, sizeof(int) * n, cudaMemcpyHostToDevice, stream_), "copying tokens");
    SQ_CUDA(cudaMemcpyAsync(pos0_dev_, host_pos0_, sizeof(int), cudaMemcpyHostToDevice, stream_), "copying the position");
    SQ_CUDA(cudaMemcpyAsync(rope_cs_, host_rope_cs_, sizeof(float) * n * hp_.n_rot, cudaMemcpyHostToDevice, stream_),
            "copying the rope table");

    // A replayed step's attention_batch is sized for n_ctx keys (it reads the position on the device).
    const AttentionKind kind = hook_ ? AttentionKind::Hook
                               : fast_attention(1, static_cast<int>(pos0)) ? AttentionKind::SplitK
                                                                           : AttentionKind::CpuOrder;
    const int k = static_cast<int>(kind);
    const bool replayable = hook_ ? hook_->replayable(pos0)
                                  : kind == AttentionKind::SplitK || n_ctx_ <= static_cast<uint32_t>(batch_kernel_max_keys_);
    const bool graph_step = graphs_ && n == 1 && logits && replayable;
    int rows = 1;
    if (graph_step && decode_graph_[k]) {
        SQ_CUDA(cudaGraphLaunch(decode_graph_[k], stream_), "replaying the decode step");
        if (hook_) hook_->replayed();
    } else if (graph_step && decode_warm_[k]) {
        SQ_TRY(capture_decode_graph(kind, static_cast<int>(pos0)));
    } else {
        // The first decode step runs as the graph will (position on the device), so the kernels'
        // attributes are set before a capture.
        device_pos0_ = graph_step ? pos0_dev_ : nullptr;
        const Status st = enqueue(n, static_cast<int>(pos0), logits != nullptr, all_logits, &rows);
        device_pos0_ = nullptr;
        SQ_TRY(st);
        decode_warm_[k] = decode_warm_[k] || graph_step;
    }
    if (logits) {
        SQ_CUDA(cudaMemcpyAsync(logits, logits_, sizeof(float) * size_t(rows) * hp_.n_vocab, cudaMemcpyDeviceToHost,
                                stream_), "copying logits");
    }
    SQ_CUDA(cudaStreamSynchronize(stream_), "forward pass");
    return Status::ok();
}

void CudaForward::drop_decode_graph(AttentionKind kind) {
    const int k = static_cast<int>(kind);
    if (decode_graph_[k]) cudaGraphExecDestroy(decode_graph_[k]);
    decode_graph_[k] = nullptr;
    decode_warm_[k] = false;
}

Status CudaForward::capture_decode_graph(AttentionKind kind, int pos0) {
    cudaGraphExec_t& exec = decode_graph_[static_cast<int>(kind)];
    SQ_CUDA(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "capturing the decode step");
    device_pos0_ = pos0_dev_;
    int rows = 0;
    const Status st = enqueue(1, pos0, true, false, &rows);
    device_pos0_ = nullptr;
    cudaGraph_t graph = nullptr;
    const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
    if (!st) {
        if (graph) cudaGraphDestroy(graph);
        return st;
    }
    SQ_CUDA(end, "capturing the decode step");
    const cudaError_t made = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (made != cudaSuccess) exec = nullptr;
    SQ_CUDA(made, "instantiating the decode step");
    SQ_CUDA(cudaGraphLaunch(exec, stream_), "replaying the decode step");
    return Status::ok();
}

Status CudaForward::enqueue(uint32_t n, int pos0, bool want_logits, bool all_logits, int* rows_out) {
    const cuda::GetRowsParams gp{token_embd_.data, token_embd_.type, token_embd_.n_cols, token_embd_.row_bytes,
                                 ids_, static_cast<int>(n), x_, hp_.n_embd};
    SQ_CUDA(cuda::get_rows(gp, stream_), "get_rows");
    int rows = static_cast<int>(n);
    for (uint32_t il = 0; il < hp_.n_layers; ++il) {
        SQ_TRY(attention_block(layers_[il], il, rows, pos0));
        if (il + 1 == hp_.n_layers) {
            if (!want_logits) break; // the last FFN only feeds the head; this batch's K/V are stored
            if (!all_logits && rows > 1) {
                // Only the last token's logits are asked for: the rest of the graph is per row.
                SQ_CUDA(cudaMemcpyAsync(x_, x_ + size_t(rows - 1) * hp_.n_embd, sizeof(float) * hp_.n_embd,
                                        cudaMemcpyDeviceToDevice, stream_), "copying the last row");
                rows = 1;
            }
        }
        SQ_TRY(ffn_block(layers_[il], rows));
    }
    if (want_logits) {
        const DeviceMatrix* head = &output_;
        SQ_TRY(project(x_, static_cast<int>(hp_.n_embd), rows, &head, &logits_, 1, output_norm_));
    }
    *rows_out = rows;
    return Status::ok();
}

Status CudaForward::attention_block(const DeviceLayer& l, uint32_t il, int n, int pos0) {
    const long q_dim = long{hp_.n_heads} * hp_.head_dim, kv_dim = long{hp_.n_kv_heads} * hp_.head_dim;
    const DeviceMatrix* ws[3] = {&l.wq, &l.wk, &l.wv};
    float* const ys[3] = {q_, k_, v_};
    SQ_TRY(project(x_, static_cast<int>(hp_.n_embd), n, ws, ys, 3, l.attn_norm));
    const float* biases[3] = {l.bq, l.bk, l.bv};
    for (int i = 0; i < 3; ++i) {
        if (!biases[i]) continue;
        const long dim = i == 0 ? q_dim : kv_dim;
        SQ_CUDA(cuda::add({ys[i], biases[i], dim * n, dim}, stream_), "adding a bias");
    }
    for (const auto& [x, heads, stride] : {std::tuple{q_, hp_.n_heads, q_dim}, std::tuple{k_, hp_.n_kv_heads, kv_dim}}) {
        const cuda::RopeParams rp{x, nullptr, nullptr, n, static_cast<int>(heads), static_cast<int>(hp_.head_dim),
                                  static_cast<int>(hp_.n_rot), stride, hp_.rope_freq_base, hp_.rope_freq_scale,
                                  hp_.rope_order == RopeOrder::NeoX, rope_cs_};
        SQ_CUDA(cuda::rope(rp, stream_), "rope");
    }
    const size_t layer_offset = size_t{il} * hp_.n_kv_heads * n_ctx_ * hp_.head_dim;
    for (const auto& [src, cache] : {std::pair{k_, k_cache_}, std::pair{v_, v_cache_}}) {
        const cuda::KvStoreParams kp{src, cache + layer_offset, n, static_cast<int>(hp_.n_kv_heads),
                                     static_cast<int>(hp_.head_dim), static_cast<int>(n_ctx_), pos0, kv_dim,
                                     device_pos0_};
        SQ_CUDA(cuda::kv_store(kp, stream_), "kv_store");
    }
    SQ_TRY(attend(il, n, pos0));
    const DeviceMatrix* wo = &l.wo;
    SQ_TRY(project(attn_, static_cast<int>(q_dim), n, &wo, &proj_, 1));
    SQ_CUDA(cuda::add({x_, proj_, long{n} * hp_.n_embd, long{n} * hp_.n_embd}, stream_), "residual add");
    return Status::ok();
}

bool CudaForward::fast_attention(int n, int pos0) const {
    const int keys = pos0 + n;
    // Past the batch kernel's shared memory there is no choice.
    if (keys > batch_kernel_max_keys_) return true;
    return keys > fast_min_keys_ && (n == 1 || q_heads_);
}

Status CudaForward::attend(uint32_t il, int n, int pos0) {
    const long q_dim = long{hp_.n_heads} * hp_.head_dim;
    const size_t layer_offset = size_t{il} * hp_.n_kv_heads * n_ctx_ * hp_.head_dim;
    if (hook_) {
        GpuAttentionCall call{il, static_cast<uint32_t>(n), static_cast<uint32_t>(pos0), q_, attn_,
                              k_cache_ + layer_offset, v_cache_ + layer_offset, n_ctx_, stream_};
        call.pos0_device = device_pos0_;
        bool taken = false;
        SQ_TRY(hook_->attend(call, taken));
        if (taken) return Status::ok();
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim));
    if (!fast_attention(n, pos0)) {
        const cuda::AttentionBatchParams ap{q_, k_cache_ + layer_offset, v_cache_ + layer_offset, attn_, n,
                                            static_cast<int>(hp_.n_heads), static_cast<int>(hp_.n_kv_heads),
                                            static_cast<int>(hp_.head_dim), static_cast<int>(n_ctx_), pos0, q_dim,
                                            q_dim, scale, device_pos0_};
        SQ_CUDA(cuda::attention_batch(ap, stream_), "attention_batch");
        return Status::ok();
    }
    if (n > 1 && q_heads_) return attend_prefill(layer_offset, n, pos0);
    // Split-K decode; a batch past the batch kernel's limit with the crossover set above that limit
    // (no buffers for the tensor-core kernel) goes a token at a time.
    for (int t = 0; t < n; ++t) {
        cuda::AttentionDecodeParams dp{};
        dp.q = q_ + t * q_dim;
        dp.k = k_cache_ + layer_offset;
        dp.v = v_cache_ + layer_offset;
        dp.out = attn_ + t * q_dim;
        dp.workspace = decode_workspace_;
        dp.kv_type = cuda::KvType::F16;
        dp.n_heads = static_cast<int>(hp_.n_heads);
        dp.n_kv_heads = static_cast<int>(hp_.n_kv_heads);
        dp.head_dim = static_cast<int>(hp_.head_dim);
        dp.n_kv = pos0 + t + 1;
        // A graph replay reads its position on the device: the launch is sized for the whole cache.
        if (device_pos0_) {
            dp.n_kv = static_cast<int>(n_ctx_);
            dp.n_kv_device = device_pos0_;
            dp.n_kv_add = 1;
        }
        dp.kv_head_stride = long{n_ctx_} * hp_.head_dim;
        dp.scale = scale;
        SQ_CUDA(cuda::attention_decode(dp, stream_), "attention_decode");
    }
    return Status::ok();
}

Status CudaForward::attend_prefill(size_t layer_offset, int n, int pos0) {
    const int heads = static_cast<int>(hp_.n_heads), dim = static_cast<int>(hp_.head_dim);
    SQ_CUDA(cuda::head_major({q_, q_heads_, cuda::HeadMajorDirection::ToHeads, n, heads, dim}, stream_), "head_major");
    cuda::AttentionPrefillParams a{};
    a.q = q_heads_;
    a.k = k_cache_ + layer_offset;
    a.v = v_cache_ + layer_offset;
    a.kv_type = cuda::KvType::F16;
    a.out = out_heads_;
    a.n_heads = heads;
    a.n_kv_heads = static_cast<int>(hp_.n_kv_heads);
    a.head_dim = dim;
    a.n_q = n;
    a.kv_head_stride = long{n_ctx_} * hp_.head_dim;
    a.scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim));
    a.dense_begin = 0;
    a.dense_end = pos0 + n;
    a.causal = true;
    a.causal_offset = pos0;
    a.workspace = prefill_workspace_;
    SQ_CUDA(cuda::attention_prefill(a, kPrefillMaxSplits, stream_), "attention_prefill");
    SQ_CUDA(cuda::head_major({out_heads_, attn_, cuda::HeadMajorDirection::ToRows, n, heads, dim}, stream_), "head_major");
    return Status::ok();
}

Status CudaForward::kv_download(uint32_t n, uint16_t* k, uint16_t* v) {
    if (n > n_ctx_) return Status::error("CUDA_ERROR", "reading more cache rows than the context holds");
    const size_t row_bytes = sizeof(__half) * hp_.head_dim;
    const size_t heads = size_t{hp_.n_layers} * hp_.n_kv_heads;
    SQ_CUDA(cudaStreamSynchronize(stream_), "finishing the forward pass");
    for (const auto& [dst, src] : {std::pair{k, k_cache_}, std::pair{v, v_cache_}}) {
        SQ_CUDA(cudaMemcpy2D(dst, n * row_bytes, src, n_ctx_ * row_bytes, n * row_bytes, heads, cudaMemcpyDeviceToHost),
                "reading the KV cache");
    }
    return Status::ok();
}

Status CudaForward::kv_upload_head(uint32_t layer, uint32_t kv_head, uint32_t n, const uint16_t* k, const uint16_t* v) {
    if (layer >= hp_.n_layers || kv_head >= hp_.n_kv_heads || n > n_ctx_) {
        return Status::error("CUDA_ERROR", "writing cache rows outside the context");
    }
    const size_t offset = (size_t{layer} * hp_.n_kv_heads + kv_head) * n_ctx_ * hp_.head_dim;
    const size_t bytes = sizeof(__half) * n * hp_.head_dim;
    SQ_CUDA(cudaStreamSynchronize(stream_), "finishing the forward pass");
    SQ_CUDA(cudaMemcpy(k_cache_ + offset, k, bytes, cudaMemcpyHostToDevice), "writing the KV cache");
    SQ_CUDA(cudaMemcpy(v_cache_ + offset, v, bytes, cudaMemcpyHostToDevice), "writing the KV cache");
    return Status::ok();
}

Status CudaForward::ffn_block(const DeviceLayer& l, int n) {
    const DeviceMatrix* ws[2] = {&l.gate, &l.up};
    float* const ys[2] = {gate_, up_};
    SQ_TRY(project(x_, static_cast<int>(hp_.n_embd), n, ws, ys, 2, l.ffn_norm));
    SQ_CUDA(cuda::swiglu({gate_, up_, gate_, long{n} * hp_.n_ff}, stream_), "swiglu");
    const DeviceMatrix* down = &l.down;
    SQ_TRY(project(gate_, static_cast<int>(hp_.n_ff), n, &down, &proj_, 1));
    SQ_CUDA(cuda::add({x_, proj_, long{n} * hp_.n_embd, long{n} * hp_.n_embd}, stream_), "residual add");
    return Status::ok();
}

} // namespace

Status gpu_forward_create(const Model& model, const ContextParams& params, std::unique_ptr<GpuForward>& out) {
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) return Status::error("CUDA_UNAVAILABLE", std::string("no usable GPU: ") + probe.name);
    auto gpu = std::make_unique<CudaForward>();
    SQ_TRY(gpu->init(model, params, probe.name));
    out = std::move(gpu);
    return Status::ok();
}

} // namespace sq
