// CudaDocAttention: see cuda-doc-attention.h. The per-call work is queued on the forward pass's
// stream; nothing here waits for the GPU except attach (uploads) and stats (one copy back).
#include "cuda-doc-attention.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "attention-prefill.cuh"
#include "head-major.cuh"
#include "squeeze-key-count.cuh"
#include "squeeze-lookup-prefill.cuh"
#include "squeeze-token-mass.cuh"
#include "squeezed-decode.cuh"

#include "../../common/half.h"
#include "../../model/model.h"
#include "cuda-status.h"

namespace sq {

namespace {

using squeeze::ClusterIndex;
using squeeze::ClusterLevel;
using squeeze::HeadIndex;

// Key slices of the question's prefill attention at most: the workspace holds this many partial
// outputs of [n_heads][n_batch][head_dim + 1] floats.
constexpr int kPrefillMaxSplits = 8;

// Device memory owned by one holder.
struct DeviceBuffer {
    void* ptr = nullptr;
    DeviceBuffer() = default;
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    ~DeviceBuffer() { cudaFree(ptr); }

    Status alloc(size_t bytes, const std::string& what) {
        cudaFree(ptr);
        return cuda_malloc(bytes, &ptr, what);
    }
    template <typename T>
    Status upload(const std::vector<T>& host, const std::string& what) {
        SQ_TRY(alloc(sizeof(T) * host.size(), what));
        SQ_CUDA(cudaMemcpy(ptr, host.data(), sizeof(T) * host.size(), cudaMemcpyHostToDevice), what);
        return Status::ok();
    }
    template <typename T>
    T* as() const { return static_cast<T*>(ptr); }
};

enum class HookMode { Off, Capture, Squeeze };

class CudaDocAttention final : public GpuDocAttention {
public:
    CudaDocAttention(GpuForward& gpu, const Hparams& hp, uint32_t n_batch)
        : gpu_(gpu), n_layers_(hp.n_layers), n_heads_(hp.n_heads), n_kv_heads_(hp.n_kv_heads), head_dim_(hp.head_dim),
          n_batch_(n_batch), scale_(1.0f / std::sqrt(static_cast<float>(hp.head_dim))) {}
    ~CudaDocAttention() override { stop(); }
    Status init();

    void capture(uint32_t n_fixed, uint32_t window, float* q_out) override {
        mode_ = HookMode::Capture;
        capture_end_ = n_fixed;
        window_ = std::min(window, n_fixed);
        q_window_ = q_out;
        gpu_.set_attention_hook(this);
    }
    Status attach(const ClusterIndex& index) override;
    void squeeze(std::vector<float> tau, std::vector<float> tau_prefill, uint32_t keys_hint, float* token_mass) override {
        mode_ = HookMode::Squeeze;
        tau_ = std::move(tau);
        tau_prefill_ = std::move(tau_prefill);
        keys_hint_ = keys_hint;
        token_mass_ = token_mass;
        std::fill(lookups_.begin(), lookups_.end(), 0);
        reset_sums_ = true;
        gpu_.set_attention_hook(this);
    }
    void stop() override {
        mode_ = HookMode::Off;
        q_window_ = nullptr;
        gpu_.set_attention_hook(nullptr);
    }
    Status stats(const ClusterIndex& index, squeeze::SqueezeStats& out) override;
    Status attend(const GpuAttentionCall& call, bool& taken) override;
    // Squeezed decode steps queue the same work at every position past the fixed context (the
    // dynamic length is read on the device); the stats' resets must not be captured.
    bool replayable(uint32_t pos0) const override {
        return mode_ == HookMode::Squeeze && n_levels_ > 0 && pos0 >= static_cast<uint32_t>(n_fixed_) && !reset_sums_;
    }
    void replayed() override {
        for (uint64_t& n : lookups_) ++n;
    }

private:
    Status copy_window(const GpuAttentionCall& call);
    cuda::SqueezeLevelView level_view(uint32_t layer, int level, bool prefill) const;
    // The attached tree of one layer and the selection's outputs, in the fields the decode
    // (SqueezeLookupParams) and the prefill (SqueezeLookupPrefillParams) lookups share.
    template <typename LookupParams>
    void set_lookup_tree(uint32_t layer, bool prefill, LookupParams& l) const {
        l.centroid_type = cuda::KvType::F16;
        for (int i = 0; i < n_levels_; ++i) l.levels[i] = level_view(layer, i, prefill);
        l.n_levels = n_levels_;
        l.log_counts = log_counts_.as<float>() + size_t{layer} * n_kv_heads_ * n_clusters_[0];
        l.first = first_.as<int>() + size_t{layer} * n_kv_heads_ * (n_clusters_[n_levels_ - 1] + 1);
        l.n_always = n_always_;
        l.n_heads = static_cast<int>(n_heads_);
        l.n_kv_heads = static_cast<int>(n_kv_heads_);
        l.head_dim = static_cast<int>(head_dim_);
        l.scale = scale_;
        l.slots = slots_.as<int>();
        l.n_keys = n_keys_.as<int>();
        l.slot_stride = n_fixed_;
    }
    Status decode(const GpuAttentionCall& call, cudaStream_t stream);
    Status prefill(const GpuAttentionCall& call, cudaStream_t stream);
    // Dense causal attention of an ingest batch over rows [0, pos0 + n) on tensor cores: the forward
    // pass's own kernel mirrors the CPU's rounding one (head, token) at a time and is slow at long
    // contexts; the clustering only needs the keys, which this does not change.
    Status prefill_dense(const GpuAttentionCall& call, cudaStream_t stream);
    // [n_heads][n][head_dim] attention_prefill over the batch's queries, then back to token-major rows.
    Status run_prefill_attention(const GpuAttentionCall& call, cuda::AttentionPrefillParams a, cudaStream_t stream);
    // Adds the final probabilities of the keys the call read to mass_ (lse_: the rows' lse).
    Status add_token_mass(const GpuAttentionCall& call, long lse_head_stride, long lse_token_stride, cudaStream_t stream);

    GpuForward& gpu_;
    const uint32_t n_layers_, n_heads_, n_kv_heads_, head_dim_, n_batch_;
    const float scale_;
    HookMode mode_ = HookMode::Off;

    // Capture (ingest)
    uint32_t capture_end_ = 0, window_ = 0;
    float* q_window_ = nullptr; // host [n_layers][window][n_heads][head_dim]

    // The attached tree, every layer's heads side by side (the GPU lookup takes one cluster count
    // per level for all heads, which the CPU build gives: counts follow from n_tokens alone).
    int n_fixed_ = 0, n_always_ = 0, n_levels_ = 0;
    int n_clusters_[cuda::kMaxSqueezeLevels] = {};
    DeviceBuffer centroids_[cuda::kMaxSqueezeLevels]; // [n_layers][n_kv_heads][K_l][head_dim] f16
    DeviceBuffer parent_[cuda::kMaxSqueezeLevels];    // [n_layers][n_kv_heads][K_l] int, levels >= 1
    DeviceBuffer log_counts_;                         // [n_layers][n_kv_heads][K_0] float
    DeviceBuffer first_;                              // [n_layers][n_kv_heads][K_finest + 1] int slots
    DeviceBuffer slots_;                              // [n_kv_heads][n_fixed] int: one lookup's selection
    DeviceBuffer n_keys_;                             // [n_kv_heads] int
    DeviceBuffer key_sums_;                           // [n_layers][n_kv_heads][2] double: sum, sum of squares
    DeviceBuffer token_of_slot_;                      // [n_layers][n_kv_heads][n_fixed] int
    DeviceBuffer mass_;                               // [n_fixed] float: attention mass per fixed token
    DeviceBuffer lse_;                                // [n_heads][n_batch] float: the rows' lse (token mass)
    DeviceBuffer workspace_;                          // the larger of the decode and prefill lookups' workspaces
    DeviceBuffer attention_workspace_;                // attention_prefill's key slices for n_batch queries
    DeviceBuffer q_heads_;                            // [n_heads][n_batch][head_dim] f16 batch queries
    DeviceBuffer out_heads_;                          // [n_heads][n_batch][head_dim] float

    std::vector<float> tau_;          // [n_layers][n_levels] decode thresholds; empty: every cluster
    std::vector<float> tau_prefill_;  // [n_layers][n_levels] thresholds of the prefill lookup (averaged scores)
    uint32_t keys_hint_ = 0;
    float* token_mass_ = nullptr;     // host [n_fixed]: where stats() adds mass_, or null
    std::vector<uint64_t> lookups_;   // [n_layers] lookups since squeeze() (each covers every KV head)
    bool reset_sums_ = false;
};

cuda::SqueezeLevelView CudaDocAttention::level_view(uint32_t layer, int l, bool prefill) const {
    const size_t heads = size_t{layer} * n_kv_heads_;
    const int k = n_clusters_[l];
    const std::vector<float>& taus = prefill ? tau_prefill_ : tau_;
    const float tau = taus.empty() ? 0.0f : taus[size_t{layer} * n_levels_ + l];
    return {centroids_[l].as<__half>() + heads * k * head_dim_, l > 0 ? parent_[l].as<int>() + heads * k : nullptr, k, tau};
}

Status CudaDocAttention::attach(const ClusterIndex& index) {
    stop();
    n_fixed_ = n_levels_ = 0;
    if (index.n_layers != n_layers_ || index.n_kv_heads != n_kv_heads_ || index.head_dim != head_dim_ ||
        index.heads.size() != size_t{n_layers_} * n_kv_heads_) {
        return Status::error("PACK_MISMATCH", "the document pack's shape is not the model's");
    }
    const HeadIndex& h0 = index.heads[0];
    const int n_levels = h0.levels.empty() || h0.levels[0].n_clusters == 0 ? 0 : static_cast<int>(h0.levels.size());
    if (n_levels > cuda::kMaxSqueezeLevels) {
        return Status::error("CUDA_UNSUPPORTED", "the pack's tree has " + std::to_string(n_levels) + " levels; the GPU lookup takes " +
                                                     std::to_string(cuda::kMaxSqueezeLevels));
    }
    for (const HeadIndex& h : index.heads) {
        bool same = h.n_tokens == h0.n_tokens && h.n_always == h0.n_always && h.levels.size() == h0.levels.size();
        for (size_t l = 0; same && l < h.levels.size(); ++l) same = h.levels[l].n_clusters == h0.levels[l].n_clusters;
        if (!same) return Status::error("CUDA_UNSUPPORTED", "the pack's heads differ in shape; the GPU lookup needs one cluster count per level");
    }
    for (uint32_t l = 0; l < n_layers_; ++l)
        for (uint32_t h = 0; h < n_kv_heads_; ++h) {
            const HeadIndex& head = index.head(l, h);
            SQ_TRY(gpu_.kv_upload_head(l, h, head.n_tokens, head.keys.data(), head.values.data()));
        }

    for (int l = 0; l < n_levels; ++l) {
        const int k = static_cast<int>(h0.levels[l].n_clusters);
        n_clusters_[l] = k;
        std::vector<uint16_t> cent;  // [n_layers][n_kv_heads][k][head_dim]
        std::vector<int> parent;     // [n_layers][n_kv_heads][k]
        cent.reserve(index.heads.size() * k * head_dim_);
        for (const HeadIndex& h : index.heads) {
            for (const float c : h.levels[l].centroids) cent.push_back(f32_to_f16(c));
            if (l == 0) continue;
            const ClusterLevel& up = h.levels[l - 1];
            std::vector<int> par(k, 0);
            for (uint32_t p = 0; p < up.n_clusters; ++p)
                for (uint32_t c = up.first[p]; c < up.first[p + 1] && c < static_cast<uint32_t>(k); ++c) par[c] = static_cast<int>(p);
            parent.insert(parent.end(), par.begin(), par.end());
        }
        SQ_TRY(centroids_[l].upload(cent, "the pack's centroids"));
        if (l > 0) SQ_TRY(parent_[l].upload(parent, "the pack's tree"));
    }
    if (n_levels > 0) {
        std::vector<float> log_counts;
        std::vector<int> first;
        for (const HeadIndex& h : index.heads) {
            for (const uint32_t c : h.levels[0].counts) log_counts.push_back(std::log(static_cast<float>(c)));
            for (const uint32_t f : h.levels.back().first) first.push_back(static_cast<int>(f));
        }
        SQ_TRY(log_counts_.upload(log_counts, "the pack's cluster counts"));
        SQ_TRY(first_.upload(first, "the pack's cluster ranges"));
    }
    const int n_fixed = static_cast<int>(index.n_tokens);
    SQ_TRY(slots_.alloc(sizeof(int) * n_kv_heads_ * std::max(n_fixed, 1), "the lookup's slot lists"));
    SQ_TRY(n_keys_.alloc(sizeof(int) * n_kv_heads_, "the lookup's key counts"));
    SQ_TRY(key_sums_.alloc(sizeof(double) * 2 * n_layers_ * n_kv_heads_, "the key statistics"));
    std::vector<int> token_of_slot; // [n_layers][n_kv_heads][n_fixed]
    token_of_slot.reserve(index.heads.size() * n_fixed);
    for (const HeadIndex& h : index.heads) token_of_slot.insert(token_of_slot.end(), h.token_of_slot.begin(), h.token_of_slot.end());
    SQ_TRY(token_of_slot_.upload(token_of_slot, "the pack's slot map"));
    SQ_TRY(mass_.alloc(sizeof(float) * std::max(n_fixed, 1), "the token mass"));

    n_fixed_ = n_fixed;
    n_always_ = static_cast<int>(h0.n_always);
    n_levels_ = n_levels;
    // Workspaces for the largest calls: a decode step with every slot, a prefill of n_batch tokens.
    cuda::SqueezedDecodeParams dp{};
    dp.lookup.n_heads = static_cast<int>(n_heads_);
    dp.lookup.n_kv_heads = static_cast<int>(n_kv_heads_);
    dp.lookup.head_dim = static_cast<int>(head_dim_);
    dp.lookup.n_levels = std::max(n_levels, 1);
    for (int l = 0; l < n_levels; ++l) dp.lookup.levels[l].n_clusters = n_clusters_[l];
    dp.lookup.slot_stride = n_fixed;
    cuda::SqueezeLookupPrefillParams lp{};
    lp.n_q = static_cast<int>(n_batch_);
    lp.n_heads = dp.lookup.n_heads;
    lp.n_kv_heads = dp.lookup.n_kv_heads;
    lp.head_dim = dp.lookup.head_dim;
    lp.n_levels = n_levels;
    for (int l = 0; l < n_levels; ++l) lp.levels[l].n_clusters = n_clusters_[l];
    lp.slot_stride = n_fixed;
    SQ_TRY(workspace_.alloc(std::max(cuda::squeezed_decode_workspace_bytes(dp), cuda::squeeze_lookup_prefill_workspace_bytes(lp)),
                            "the squeezed attention's workspace"));
    lookups_.assign(n_layers_, 0);
    return Status::ok();
}

Status CudaDocAttention::init() {
    SQ_TRY(q_heads_.alloc(sizeof(__half) * n_heads_ * n_batch_ * head_dim_, "a batch's queries"));
    SQ_TRY(lse_.alloc(sizeof(float) * n_heads_ * n_batch_, "a batch's log-sum-exp"));
    SQ_TRY(out_heads_.alloc(sizeof(float) * n_heads_ * n_batch_ * head_dim_, "a batch's attention"));
    return attention_workspace_.alloc(sizeof(float) * cuda::attention_prefill_workspace_floats(static_cast<int>(n_heads_), static_cast<int>(n_batch_),
                                                                                              static_cast<int>(head_dim_), kPrefillMaxSplits),
                                      "the prefill attention's workspace");
}

Status CudaDocAttention::attend(const GpuAttentionCall& call, bool& taken) {
    taken = false;
    if (mode_ == HookMode::Capture) {
        SQ_TRY(copy_window(call));
        SQ_TRY(prefill_dense(call, static_cast<cudaStream_t>(call.stream)));
        taken = true;
        return Status::ok();
    }
    // A tree-less pack (every fixed token always attended) is dense attention exactly.
    if (mode_ != HookMode::Squeeze || n_levels_ == 0 || call.pos0 < static_cast<uint32_t>(n_fixed_)) return Status::ok();
    if (head_dim_ != 64 && head_dim_ != 128) return Status::ok();
    const cudaStream_t stream = static_cast<cudaStream_t>(call.stream);
    if (reset_sums_) {
        SQ_CUDA(cudaMemsetAsync(key_sums_.ptr, 0, sizeof(double) * 2 * n_layers_ * n_kv_heads_, stream), "resetting the key statistics");
        SQ_CUDA(cudaMemsetAsync(mass_.ptr, 0, sizeof(float) * n_fixed_, stream), "resetting the token mass");
        reset_sums_ = false;
    }
    SQ_TRY(call.n_tokens == 1 ? decode(call, stream) : prefill(call, stream));
    const cuda::SqueezeKeyCountParams kp{n_keys_.as<int>(), key_sums_.as<double>() + size_t{call.layer} * n_kv_heads_ * 2,
                                         static_cast<int>(n_kv_heads_)};
    SQ_CUDA(cuda::squeeze_key_count(kp, stream), "squeeze_key_count");
    ++lookups_[call.layer];
    taken = true;
    return Status::ok();
}

Status CudaDocAttention::copy_window(const GpuAttentionCall& call) {
    const uint32_t w0 = capture_end_ - window_;
    const uint32_t begin = std::max(call.pos0, w0), end = std::min(call.pos0 + call.n_tokens, capture_end_);
    if (begin >= end || !q_window_) return Status::ok();
    const size_t row = size_t{n_heads_} * head_dim_;
    SQ_CUDA(cudaMemcpyAsync(q_window_ + (size_t{call.layer} * window_ + (begin - w0)) * row, call.q + (begin - call.pos0) * row,
                            sizeof(float) * row * (end - begin), cudaMemcpyDeviceToHost, static_cast<cudaStream_t>(call.stream)),
            "copying the observation window's queries");
    return Status::ok();
}

Status CudaDocAttention::decode(const GpuAttentionCall& call, cudaStream_t stream) {
    const long head_stride = long{call.n_ctx} * head_dim_;
    cuda::SqueezedDecodeParams p{};
    cuda::SqueezeLookupParams& l = p.lookup;
    l.q = call.q;
    set_lookup_tree(call.layer, false, l);
    p.k = call.k;
    p.v = call.v;
    p.kv_head_stride = head_stride;
    p.kv_type = cuda::KvType::F16;
    p.n_fixed = n_fixed_;
    p.n_keys_hint = static_cast<int>(keys_hint_);
    // Dynamic rows [n_fixed, pos0]: this token's key is already stored.
    p.k_dyn = static_cast<const __half*>(call.k) + size_t(n_fixed_) * head_dim_;
    p.v_dyn = static_cast<const __half*>(call.v) + size_t(n_fixed_) * head_dim_;
    p.dyn_head_stride = head_stride;
    p.n_dyn = static_cast<int>(call.pos0) + 1 - n_fixed_;
    if (call.pos0_device) {
        p.n_dyn = static_cast<int>(call.n_ctx) - n_fixed_;
        p.n_dyn_device = call.pos0_device;
        p.n_dyn_add = 1 - n_fixed_;
    }
    p.out = call.out;
    p.lse = token_mass_ ? lse_.as<float>() : nullptr;
    p.workspace = workspace_.ptr;
    SQ_CUDA(cuda::squeezed_decode(p, stream), "squeezed_decode");
    return token_mass_ ? add_token_mass(call, 1, 0, stream) : Status::ok();
}

Status CudaDocAttention::prefill(const GpuAttentionCall& call, cudaStream_t stream) {
    const int n = static_cast<int>(call.n_tokens);
    if (call.n_tokens > n_batch_) return Status::error("CUDA_ERROR", "a batch larger than the session's n_batch");
    const cuda::HeadMajorParams to_heads{call.q, q_heads_.ptr, cuda::HeadMajorDirection::ToHeads, n, static_cast<int>(n_heads_),
                                         static_cast<int>(head_dim_)};
    SQ_CUDA(cuda::head_major(to_heads, stream), "head_major");

    cuda::SqueezeLookupPrefillParams l{};
    l.q = q_heads_.ptr;
    l.n_q = n;
    set_lookup_tree(call.layer, true, l);
    l.workspace = workspace_.ptr;
    SQ_CUDA(cuda::squeeze_lookup_prefill(l, stream), "squeeze_lookup_prefill");

    // The selected slots (all visible) and the dynamic rows [n_fixed, pos0 + n): question token j
    // sees dynamic row j + (pos0 - n_fixed) and those before it.
    cuda::AttentionPrefillParams a{};
    a.key_rows = l.slots;
    a.n_list = l.n_keys;
    a.key_rows_stride = n_fixed_;
    a.n_list_hint = keys_hint_ ? static_cast<int>(keys_hint_) : n_fixed_;
    a.dense_begin = n_fixed_;
    a.causal_offset = static_cast<int>(call.pos0) - n_fixed_;
    a.lse = token_mass_ ? lse_.as<float>() : nullptr;
    SQ_TRY(run_prefill_attention(call, a, stream));
    return token_mass_ ? add_token_mass(call, n, 1, stream) : Status::ok();
}

Status CudaDocAttention::add_token_mass(const GpuAttentionCall& call, long lse_head_stride, long lse_token_stride, cudaStream_t stream) {
    cuda::SqueezeTokenMassParams p{};
    p.q = call.q;
    p.lse = lse_.as<float>();
    p.lse_head_stride = lse_head_stride;
    p.lse_token_stride = lse_token_stride;
    p.k = call.k;
    p.kv_head_stride = long{call.n_ctx} * head_dim_;
    p.slots = slots_.as<int>();
    p.n_keys = n_keys_.as<int>();
    p.slot_stride = n_fixed_;
    p.token_of_slot = token_of_slot_.as<int>() + size_t{call.layer} * n_kv_heads_ * n_fixed_;
    p.n_fixed = n_fixed_;
    p.n_q = static_cast<int>(call.n_tokens);
    p.n_heads = static_cast<int>(n_heads_);
    p.n_kv_heads = static_cast<int>(n_kv_heads_);
    p.head_dim = static_cast<int>(head_dim_);
    p.scale = scale_;
    p.mass = mass_.as<float>();
    SQ_CUDA(cuda::squeeze_token_mass(p, stream), "squeeze_token_mass");
    return Status::ok();
}

Status CudaDocAttention::prefill_dense(const GpuAttentionCall& call, cudaStream_t stream) {
    if (call.n_tokens > n_batch_) return Status::error("CUDA_ERROR", "a batch larger than the session's n_batch");
    const cuda::HeadMajorParams to_heads{call.q, q_heads_.ptr, cuda::HeadMajorDirection::ToHeads, static_cast<int>(call.n_tokens),
                                         static_cast<int>(n_heads_), static_cast<int>(head_dim_)};
    SQ_CUDA(cuda::head_major(to_heads, stream), "head_major");
    cuda::AttentionPrefillParams a{};
    a.dense_begin = 0;
    a.causal_offset = static_cast<int>(call.pos0);
    return run_prefill_attention(call, a, stream);
}

Status CudaDocAttention::run_prefill_attention(const GpuAttentionCall& call, cuda::AttentionPrefillParams a, cudaStream_t stream) {
    const int n = static_cast<int>(call.n_tokens);
    a.q = q_heads_.ptr;
    a.k = call.k;
    a.v = call.v;
    a.kv_type = cuda::KvType::F16;
    a.out = out_heads_.as<float>();
    a.n_heads = static_cast<int>(n_heads_);
    a.n_kv_heads = static_cast<int>(n_kv_heads_);
    a.head_dim = static_cast<int>(head_dim_);
    a.n_q = n;
    a.kv_head_stride = long{call.n_ctx} * head_dim_;
    a.scale = scale_;
    a.dense_end = static_cast<int>(call.pos0) + n;
    a.causal = true;
    a.workspace = attention_workspace_.as<float>();
    SQ_CUDA(cuda::attention_prefill(a, kPrefillMaxSplits, stream), "attention_prefill");
    const cuda::HeadMajorParams to_rows{out_heads_.as<float>(), call.out, cuda::HeadMajorDirection::ToRows, n,
                                        static_cast<int>(n_heads_), static_cast<int>(head_dim_)};
    SQ_CUDA(cuda::head_major(to_rows, stream), "head_major");
    return Status::ok();
}

Status CudaDocAttention::stats(const ClusterIndex& index, squeeze::SqueezeStats& out) {
    out.reset(index);
    if (n_levels_ == 0 || lookups_.empty()) return Status::ok();
    std::vector<double> sums(size_t{2} * n_layers_ * n_kv_heads_, 0.0);
    if (!reset_sums_) SQ_CUDA(cudaMemcpy(sums.data(), key_sums_.ptr, sizeof(double) * sums.size(), cudaMemcpyDeviceToHost), "reading the key statistics");
    const uint64_t row_bytes = uint64_t{head_dim_} * sizeof(uint16_t) * 2; // one key + one value
    for (uint32_t l = 0; l < n_layers_; ++l)
        for (uint32_t h = 0; h < n_kv_heads_; ++h) {
            const size_t i = size_t{l} * n_kv_heads_ + h;
            out.lookups[i] = lookups_[l];
            out.keys_sum[i] = sums[2 * i];
            out.keys_sum_sq[i] = sums[2 * i + 1];
            out.keys_attended += static_cast<uint64_t>(sums[2 * i]);
            out.keys_fixed += lookups_[l] * uint64_t(n_fixed_);
        }
    out.bytes_read = out.keys_attended * row_bytes;
    out.bytes_dense = out.keys_fixed * row_bytes;
    if (token_mass_ && !reset_sums_) {
        std::vector<float> mass(n_fixed_);
        SQ_CUDA(cudaMemcpy(mass.data(), mass_.ptr, sizeof(float) * mass.size(), cudaMemcpyDeviceToHost), "reading the token mass");
        for (size_t i = 0; i < mass.size(); ++i) token_mass_[i] += mass[i];
    }
    return Status::ok();
}

} // namespace

Status gpu_doc_attention_create(GpuForward& gpu, const Hparams& hp, uint32_t n_batch, std::unique_ptr<GpuDocAttention>& out) {
    if (hp.head_dim != 64 && hp.head_dim != 128) {
        return Status::error("CUDA_UNSUPPORTED", "squeezed attention on the GPU takes head dimension 64 or 128, not " +
                                                     std::to_string(hp.head_dim));
    }
    auto attention = std::make_unique<CudaDocAttention>(gpu, hp, n_batch);
    SQ_TRY(attention->init());
    out = std::move(attention);
    return Status::ok();
}

} // namespace sq
