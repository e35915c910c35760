// Context: the KV cache, per-batch scratch and the forward pass (llama / qwen2), mirroring
// llama.cpp's graph op for op: embeddings → per layer [RMSNorm → Q/K/V (+bias) → RoPE → causal GQA
// attention → output projection → residual → RMSNorm → SwiGLU FFN → residual] → RMSNorm → head.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>

#include "../backend/cpu/attention-tiled.h"
#include "../backend/cpu/matmul.h"
#include "../backend/cpu/ops.h"
#include "../backend/cpu/quants.h"
#include "../backend/cpu/thread-pool.h"
#include "../backend/cuda/cuda-forward.h"
#include "../common/half.h"
#include "../common/memory.h"
#include "model.h"

namespace sq {

struct Context::Impl {
    const Model* model = nullptr;
    ContextParams params;
    std::unique_ptr<cpu::ThreadPool> pool;
    cpu::RopeParams rope;
    uint32_t n_past = 0;
    size_t kv_elem_bytes = 0;
    AttentionHook* hook = nullptr; // squeeze: replaces attend() when it takes a call
    std::unique_ptr<GpuForward> gpu; // set when the forward pass runs on a GPU; the CPU buffers are then empty

    // [n_layers][n_kv_heads][n_ctx][head_dim] of kv_type: one head's keys are contiguous rows.
    std::unique_ptr<uint8_t[]> k_cache, v_cache;

    // Activations of one batch of up to n_batch tokens.
    std::vector<float> x;       // [n_batch][n_embd] residual stream
    std::vector<float> xn;      // [n_batch][n_embd] normalised input of a sub-layer
    std::vector<float> q;       // [n_batch][n_heads * head_dim]
    std::vector<float> k, v;    // [n_batch][n_kv_heads * head_dim]
    std::vector<float> attn;    // [n_batch][n_heads * head_dim]
    std::vector<float> proj;    // [n_batch][n_embd] output of attn_output / ffn_down
    std::vector<float> gate, up; // [n_batch][n_ff]
    std::vector<float> rope_cs; // [n_batch][n_rot] cos/sin of each token's position
    uint32_t scores_stride = 0; // n_ctx rounded up to 16 (the attention kernels sum 16-key chunks)
    std::vector<float> scores;  // [n_threads][scores_stride] attention probabilities, per thread
    std::vector<uint16_t> p16;  // [n_threads][scores_stride] the same rounded to F16 (F16 cache)
    std::vector<uint16_t> q16;  // [n_threads][head_dim] F16 query, per thread
    std::vector<float> tiled_scratch; // per-thread tiles of cpu::attention_tiled, grown on first use
    cpu::MatmulScratch mm;

    uint8_t* kv_row(uint8_t* cache, uint32_t layer, uint32_t kv_head, uint32_t pos) const {
        const Hparams& hp = model->hparams();
        const size_t row = (static_cast<size_t>(layer) * hp.n_kv_heads + kv_head) * params.n_ctx + pos;
        return cache + row * hp.head_dim * kv_elem_bytes;
    }

    void forward(const int32_t* tokens, uint32_t n, float* logits, bool all_logits);
    void embed(const int32_t* tokens, uint32_t n);
    void attention_block(const LayerWeights& l, uint32_t il, uint32_t n, uint32_t pos0);
    void store_kv(uint32_t il, uint32_t n, uint32_t pos0);
    void attend(uint32_t il, uint32_t n, uint32_t pos0);
    bool attend_tiled(uint32_t il, uint32_t n, uint32_t pos0);
    void ffn_block(const LayerWeights& l, uint32_t n);
    void norm_rows(const Weight& w, uint32_t n);
};

namespace {

cpu::MatrixRef matrix(const Weight& w) {
    return {w.type, w.data, w.row_bytes, static_cast<int64_t>(w.ne[1]), static_cast<int64_t>(w.ne[0])};
}

const float* f32(const Weight& w) { return reinterpret_cast<const float*>(w.data); }

std::string mib(uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

} // namespace

Status Context::create(const Model& model, const ContextParams& params, std::unique_ptr<Context>& out) {
    const Hparams& hp = model.hparams();
    if (params.n_ctx == 0) return Status::error("CONTEXT_BAD_PARAMS", "n_ctx must be positive");
    std::unique_ptr<Context> ctx(new Context());
    ctx->impl_ = std::make_unique<Impl>();
    Impl& im = *ctx->impl_;
    im.model = &model;
    im.params = params;
    im.params.n_batch = std::clamp<uint32_t>(params.n_batch == 0 ? 512 : params.n_batch, 1, params.n_ctx);
    im.kv_elem_bytes = params.kv_type == KvType::F16 ? 2 : 4;
    if (params.backend != Backend::Cpu) {
        const Status st = gpu_forward_create(model, im.params, im.gpu);
        if (st) {
            out = std::move(ctx);
            return Status::ok();
        }
        if (params.backend == Backend::Cuda) return st;
    }

    const uint64_t nb = im.params.n_batch;
    const uint64_t q_dim = uint64_t{hp.n_heads} * hp.head_dim, kv_dim = uint64_t{hp.n_kv_heads} * hp.head_dim;
    const uint64_t n_threads = params.n_threads ? params.n_threads : std::max(1u, std::thread::hardware_concurrency());
    const uint64_t kv_bytes = 2 * uint64_t{hp.n_layers} * params.n_ctx * kv_dim * im.kv_elem_bytes;
    im.scores_stride = (params.n_ctx + 15) & ~15u;
    const uint64_t act_floats = nb * (3 * uint64_t{hp.n_embd} + 2 * q_dim + 2 * kv_dim + 2 * uint64_t{hp.n_ff} + hp.n_rot) +
                                n_threads * im.scores_stride * 3 / 2;
    size_t mm_bytes = 0;
    auto grow = [&](const Weight& w) { mm_bytes = std::max(mm_bytes, cpu::matmul_scratch_bytes(w.type, w.ne[0], nb)); };
    grow(model.output());
    for (const LayerWeights& l : model.layers()) {
        for (const Weight* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) grow(*w);
    }
    const uint64_t need = kv_bytes + act_floats * sizeof(float) + 2 * mm_bytes + n_threads * hp.head_dim * 2;
    const uint64_t avail = available_memory_bytes();
    const std::string what = "the KV cache and scratch for n_ctx " + std::to_string(params.n_ctx) + " need " + mib(need);
    if (avail != 0 && need > avail) {
        return Status::error("CONTEXT_OUT_OF_MEMORY", what + ", only " + mib(avail) + " available");
    }
    try {
        // Not value-initialised: pages of the cache are only touched as positions are filled.
        im.k_cache.reset(new uint8_t[kv_bytes / 2]);
        im.v_cache.reset(new uint8_t[kv_bytes / 2]);
        im.x.resize(nb * hp.n_embd);
        im.xn.resize(nb * hp.n_embd);
        im.proj.resize(nb * hp.n_embd);
        im.q.resize(nb * q_dim);
        im.attn.resize(nb * q_dim);
        im.k.resize(nb * kv_dim);
        im.v.resize(nb * kv_dim);
        im.gate.resize(nb * hp.n_ff);
        im.up.resize(nb * hp.n_ff);
        im.rope_cs.resize(nb * hp.n_rot);
        im.scores.resize(n_threads * im.scores_stride);
        im.p16.resize(n_threads * im.scores_stride);
        im.q16.resize(n_threads * hp.head_dim);
        for (auto& buf : im.mm.rows) buf.resize(mm_bytes);
        im.pool = std::make_unique<cpu::ThreadPool>(static_cast<uint32_t>(n_threads));
    } catch (const std::bad_alloc&) {
        return Status::error("CONTEXT_OUT_OF_MEMORY", what + ": allocation failed");
    }
    im.rope.n_rot = hp.n_rot;
    im.rope.freq_base = hp.rope_freq_base;
    im.rope.freq_scale = hp.rope_freq_scale;
    im.rope.freq_factors = model.rope_freq_factors().empty() ? nullptr : model.rope_freq_factors().data();
    im.rope.neox = hp.rope_order == RopeOrder::NeoX;
    out = std::move(ctx);
    return Status::ok();
}

Context::~Context() = default;

uint32_t Context::n_past() const { return impl_->n_past; }
void Context::truncate(uint32_t n) { impl_->n_past = std::min(n, impl_->n_past); }
const Model& Context::model() const { return *impl_->model; }
const ContextParams& Context::params() const { return impl_->params; }
std::string Context::device() const { return impl_->gpu ? impl_->gpu->device_name() : "cpu"; }
GpuForward* Context::gpu() { return impl_->gpu.get(); }
KvCacheRef Context::kv_cache() { return {impl_->k_cache.get(), impl_->v_cache.get(), impl_->params.kv_type, impl_->params.n_ctx}; }
void Context::set_n_past(uint32_t n) { impl_->n_past = std::min(n, impl_->params.n_ctx); }
void Context::set_attention_hook(AttentionHook* hook) { impl_->hook = hook; }

Status Context::eval(const int32_t* tokens, uint32_t n, bool all_logits, std::vector<float>& logits) {
    Impl& im = *impl_;
    const uint32_t n_vocab = im.model->hparams().n_vocab;
    for (uint32_t i = 0; i < n; ++i) {
        if (tokens[i] < 0 || static_cast<uint32_t>(tokens[i]) >= n_vocab) {
            return Status::error("EVAL_BAD_TOKEN", "token id " + std::to_string(tokens[i]) + " at index " +
                                                       std::to_string(i) + " is outside the vocabulary of " +
                                                       std::to_string(n_vocab));
        }
    }
    if (uint64_t{im.n_past} + n > im.params.n_ctx) {
        return Status::error("CONTEXT_FULL", "evaluating " + std::to_string(n) + " tokens after " +
                                                 std::to_string(im.n_past) + " exceeds the context of " +
                                                 std::to_string(im.params.n_ctx));
    }
    try {
        logits.assign(n == 0 ? 0 : (all_logits ? size_t{n} * n_vocab : n_vocab), 0.0f);
    } catch (const std::bad_alloc&) {
        return Status::error("CONTEXT_OUT_OF_MEMORY", "no memory for the logits of " + std::to_string(n) + " tokens");
    }
    for (uint32_t i = 0; i < n; i += im.params.n_batch) {
        const uint32_t m = std::min(im.params.n_batch, n - i);
        float* out = nullptr;
        if (all_logits) out = logits.data() + size_t{i} * n_vocab;
        else if (i + m == n) out = logits.data();
        if (im.gpu) SQ_TRY(im.gpu->forward(tokens + i, m, im.n_past, out, all_logits));
        else im.forward(tokens + i, m, out, all_logits);
        im.n_past += m;
    }
    return Status::ok();
}

void Context::Impl::forward(const int32_t* tokens, uint32_t n, float* logits, bool all_logits) {
    const Hparams& hp = model->hparams();
    const uint32_t pos0 = n_past;
    embed(tokens, n);
    for (uint32_t il = 0; il < hp.n_layers; ++il) {
        const LayerWeights& l = model->layers()[il];
        attention_block(l, il, n, pos0);
        if (il + 1 == hp.n_layers) {
            if (!logits) return; // the last FFN only feeds the head; K/V of this batch are stored
            if (!all_logits && n > 1) {
                // Only the last token's logits are asked for: the rest of the graph is per row.
                std::memcpy(x.data(), x.data() + size_t{n - 1} * hp.n_embd, sizeof(float) * hp.n_embd);
                n = 1;
            }
        }
        ffn_block(l, n);
    }
    norm_rows(model->output_norm(), n);
    cpu::MatrixRef out_w = matrix(model->output());
    out_w.row_major_only = model->output().data == model->token_embd().data; // tied output
    const cpu::MatmulOut head{out_w, logits, hp.n_vocab};
    cpu::matmul(*pool, &head, 1, xn.data(), n, hp.n_embd, mm);
}

void Context::Impl::embed(const int32_t* tokens, uint32_t n) {
    const Weight& e = model->token_embd();
    const uint32_t n_embd = model->hparams().n_embd;
    const cpu::ToFloatFn to_float = cpu::type_kernels(e.type)->to_float;
    pool->parallel_for(n, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            to_float(e.data + static_cast<size_t>(tokens[t]) * e.row_bytes, x.data() + t * n_embd, n_embd);
        }
    });
}

void Context::Impl::norm_rows(const Weight& w, uint32_t n) {
    const Hparams& hp = model->hparams();
    pool->parallel_for(n, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            cpu::rms_norm(x.data() + t * hp.n_embd, f32(w), xn.data() + t * hp.n_embd, hp.n_embd, hp.rms_eps);
        }
    });
}

void Context::Impl::attention_block(const LayerWeights& l, uint32_t il, uint32_t n, uint32_t pos0) {
    const Hparams& hp = model->hparams();
    const int64_t q_dim = int64_t{hp.n_heads} * hp.head_dim, kv_dim = int64_t{hp.n_kv_heads} * hp.head_dim;
    norm_rows(l.attn_norm, n);
    const cpu::MatmulOut qkv[3] = {{matrix(l.wq), q.data(), q_dim}, {matrix(l.wk), k.data(), kv_dim},
                                   {matrix(l.wv), v.data(), kv_dim}};
    cpu::matmul(*pool, qkv, 3, xn.data(), n, hp.n_embd, mm);

    pool->parallel_for(n, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            float* qt = q.data() + t * q_dim;
            float* kt = k.data() + t * kv_dim;
            if (l.bq.data) cpu::add(qt, f32(l.bq), q_dim);
            if (l.bk.data) cpu::add(kt, f32(l.bk), kv_dim);
            if (l.bv.data) cpu::add(v.data() + t * kv_dim, f32(l.bv), kv_dim);
            float* cs = rope_cs.data() + t * hp.n_rot;
            if (il == 0) cpu::rope_cache(rope, static_cast<int32_t>(pos0 + t), cs); // same for every layer
            cpu::rope_apply(rope, cs, qt, hp.n_heads, hp.head_dim);
            cpu::rope_apply(rope, cs, kt, hp.n_kv_heads, hp.head_dim);
        }
    });
    store_kv(il, n, pos0);
    attend(il, n, pos0);

    const cpu::MatmulOut o{matrix(l.wo), proj.data(), hp.n_embd};
    cpu::matmul(*pool, &o, 1, attn.data(), n, q_dim, mm);
    cpu::add(x.data(), proj.data(), int64_t{n} * hp.n_embd);
}

void Context::Impl::store_kv(uint32_t il, uint32_t n, uint32_t pos0) {
    const Hparams& hp = model->hparams();
    const size_t kv_dim = size_t{hp.n_kv_heads} * hp.head_dim;
    for (uint32_t t = 0; t < n; ++t) {
        for (uint32_t h = 0; h < hp.n_kv_heads; ++h) {
            const float* ks = k.data() + t * kv_dim + size_t{h} * hp.head_dim;
            const float* vs = v.data() + t * kv_dim + size_t{h} * hp.head_dim;
            uint8_t* kd = kv_row(k_cache.get(), il, h, pos0 + t);
            uint8_t* vd = kv_row(v_cache.get(), il, h, pos0 + t);
            if (params.kv_type == KvType::F32) {
                std::memcpy(kd, ks, sizeof(float) * hp.head_dim);
                std::memcpy(vd, vs, sizeof(float) * hp.head_dim);
                continue;
            }
            uint16_t* k16 = reinterpret_cast<uint16_t*>(kd);
            uint16_t* v16 = reinterpret_cast<uint16_t*>(vd);
            for (uint32_t i = 0; i < hp.head_dim; ++i) {
                k16[i] = f32_to_f16(ks[i]);
                v16[i] = f32_to_f16(vs[i]);
            }
        }
    }
}

void Context::Impl::attend(uint32_t il, uint32_t n, uint32_t pos0) {
    if (hook && hook->attend(AttentionCall{il, n, pos0, q.data(), attn.data()}, *pool)) return;
    if (attend_tiled(il, n, pos0)) return;
    const Hparams& hp = model->hparams();
    const size_t q_dim = size_t{hp.n_heads} * hp.head_dim;
    const uint32_t group = hp.n_heads / hp.n_kv_heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
    const uint32_t n_threads = pool->n_threads();
    const uint32_t n_items = n * hp.n_heads; // (token, query head) pairs
    // Interleaved split: with causal attention later tokens cost more, so contiguous ranges would not balance.
    pool->for_each_slot([&](uint32_t ti) {
        float* sc = scores.data() + size_t{ti} * scores_stride;
        uint16_t* p = p16.data() + size_t{ti} * scores_stride;
        uint16_t* qh16 = q16.data() + size_t{ti} * hp.head_dim;
        for (uint32_t item = ti; item < n_items; item += n_threads) {
            const uint32_t t = item / hp.n_heads, h = item % hp.n_heads;
            const uint32_t n_kv = pos0 + t + 1;
            const float* qh = q.data() + t * q_dim + size_t{h} * hp.head_dim;
            float* out = attn.data() + t * q_dim + size_t{h} * hp.head_dim;
            const uint8_t* kh = kv_row(k_cache.get(), il, h / group, 0);
            const uint8_t* vh = kv_row(v_cache.get(), il, h / group, 0);
            if (params.kv_type == KvType::F32) {
                cpu::attention_f32(qh, reinterpret_cast<const float*>(kh), reinterpret_cast<const float*>(vh), n_kv,
                                   hp.head_dim, scale, n == 1, sc, out);
            } else {
                cpu::attention_f16(qh, reinterpret_cast<const uint16_t*>(kh), reinterpret_cast<const uint16_t*>(vh),
                                   n_kv, hp.head_dim, scale, n == 1, sc, qh16, p, out);
            }
        }
    });
}

// Batches that see many keys take the tiled kernel (several times faster there); short ones and
// decode keep the per-head kernels, whose bits follow llama.cpp's non-flash path.
bool Context::Impl::attend_tiled(uint32_t il, uint32_t n, uint32_t pos0) {
    const Hparams& hp = model->hparams();
    if (n < 2 || pos0 + n < cpu::kTiledMinKeys || !cpu::attention_tiled_supported(hp.head_dim)) return false;
    cpu::TiledAttentionParams p;
    p.q = q.data();
    p.q_stride = size_t{hp.n_heads} * hp.head_dim;
    p.out = attn.data();
    p.out_stride = p.q_stride;
    p.k = kv_row(k_cache.get(), il, 0, 0);
    p.v = kv_row(v_cache.get(), il, 0, 0);
    p.kv_f16 = params.kv_type == KvType::F16;
    p.kv_head_rows = params.n_ctx;
    p.n_tokens = n;
    p.pos0 = pos0;
    p.n_heads = hp.n_heads;
    p.n_kv_heads = hp.n_kv_heads;
    p.head_dim = hp.head_dim;
    p.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim));
    return cpu::attention_tiled(*pool, p, tiled_scratch);
}

void Context::Impl::ffn_block(const LayerWeights& l, uint32_t n) {
    const Hparams& hp = model->hparams();
    norm_rows(l.ffn_norm, n);
    const cpu::MatmulOut gu[2] = {{matrix(l.w_gate), gate.data(), hp.n_ff}, {matrix(l.w_up), up.data(), hp.n_ff}};
    cpu::matmul(*pool, gu, 2, xn.data(), n, hp.n_embd, mm);
    pool->parallel_for(n, [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) {
            cpu::swiglu(gate.data() + t * hp.n_ff, up.data() + t * hp.n_ff, gate.data() + t * hp.n_ff, hp.n_ff);
        }
    });
    const cpu::MatmulOut down{matrix(l.w_down), proj.data(), hp.n_embd};
    cpu::matmul(*pool, &down, 1, gate.data(), n, hp.n_ff, mm);
    cpu::add(x.data(), proj.data(), int64_t{n} * hp.n_embd);
}

} // namespace sq
