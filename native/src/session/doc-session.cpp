#include "doc-session.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "../backend/cpu/thread-pool.h"
#include "../backend/cuda/cuda-doc-attention.h"

namespace sq {

using namespace squeeze;

namespace {

double now_ms() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Tokens [first, first + count) of captured window queries [n_layers][window][row_floats], as
// [n_layers][count][row_floats].
std::vector<float> window_part(const std::vector<float>& q, uint32_t n_layers, uint32_t window, uint32_t first, uint32_t count,
                               size_t row_floats) {
    std::vector<float> out(size_t{n_layers} * count * row_floats);
    for (uint32_t l = 0; l < n_layers; ++l)
        std::copy_n(q.begin() + (size_t{l} * window + first) * row_floats, size_t{count} * row_floats, out.begin() + size_t{l} * count * row_floats);
    return out;
}

bool same_mode(const SqueezeMode& a, const SqueezeMode& b) {
    return a.kind == b.kind && a.sparsity == b.sparsity && a.per_layer == b.per_layer && a.budget_keys == b.budget_keys &&
           a.mass_target == b.mass_target && a.recall == b.recall && a.per_token == b.per_token && a.oracle == b.oracle &&
           a.prefill_rerank == b.prefill_rerank;
}

// The GPU squeezed path runs the calibrated and every-cluster selections; the others are CPU-only so far.
Status gpu_mode_check(const SqueezeMode& m) {
    if (m.kind == SqueezeKind::Budget || m.kind == SqueezeKind::Mass || m.recall) {
        return Status::error("SQUEEZE_BAD_MODE", std::string("mode '") + squeeze_kind_name(m.kind) +
                                                     (m.recall ? "' with recall" : "'") + " runs on the CPU only; this session runs on the GPU");
    }
    return Status::ok();
}

} // namespace

const char* squeeze_kind_name(SqueezeKind k) {
    switch (k) {
        case SqueezeKind::Dense: return "dense";
        case SqueezeKind::AllClusters: return "all";
        case SqueezeKind::Threshold: return "sparsity";
        case SqueezeKind::Budget: return "budget";
        case SqueezeKind::Mass: return "mass";
    }
    return "unknown";
}

// Sits in the forward pass of the session's Context. While ingesting, it copies the observation
// window's queries (for calibration) and lets the dense attention run; while answering, it computes
// every layer's attention of the dynamic tokens with squeeze_attend_layer.
class DocSession::Hook : public AttentionHook {
public:
    explicit Hook(const Hparams& hp) : hp_(hp) {}

    void capture(uint32_t n_fixed, uint32_t window) {
        pack_ = nullptr;
        n_fixed_ = n_fixed;
        window_ = std::min(window, n_fixed);
        q_cal_.assign(size_t{hp_.n_layers} * window_ * row_floats(), 0.0f);
    }
    // [n_layers][window][n_heads][head_dim]
    const std::vector<float>& captured() const { return q_cal_; }
    float* captured_data() { return q_cal_.data(); }
    uint32_t window() const { return window_; }

    void squeeze(const Pack* pack, const KvCacheRef& cache, SelectParams select, uint32_t target, const SqueezeMode& mode, float* token_mass) {
        pack_ = pack;
        cache_ = cache;
        select_ = select;
        target_ = target;
        per_layer_ = mode.per_layer;
        token_mass_ = token_mass;
        recall_ = mode.recall;
        per_token_ = mode.per_token;
        oracle_ = mode.oracle;
        q_cal_.clear();
        error_ = Status::ok();
    }
    void stop() {
        pack_ = nullptr;
        q_cal_.clear();
    }
    SqueezeStats& stats() { return stats_; }
    const Status& error() const { return error_; }

    bool attend(const AttentionCall& c, cpu::ThreadPool& pool) override {
        if (!q_cal_.empty()) {
            copy_window(c);
            return false;
        }
        if (!pack_ || c.pos0 < pack_->index.n_tokens) return false;
        const uint32_t n_fixed = pack_->index.n_tokens;
        const size_t elem = cache_.type == KvType::F16 ? 2 : 4;
        const size_t dyn_offset = (size_t{c.layer} * hp_.n_kv_heads * cache_.n_ctx + n_fixed) * hp_.head_dim * elem;
        LayerAttention a;
        a.index = &pack_->index;
        a.layer = c.layer;
        a.n_heads = hp_.n_heads;
        a.n_tokens = c.n_tokens;
        a.q = c.q;
        a.k_dyn = cache_.k + dyn_offset;
        a.v_dyn = cache_.v + dyn_offset;
        a.elem = cache_.type == KvType::F16 ? KvElem::F16 : KvElem::F32;
        a.dyn_head_stride = size_t{cache_.n_ctx} * hp_.head_dim;
        a.n_dyn_before = c.pos0 - n_fixed;
        a.scale = 1.0f / std::sqrt(static_cast<float>(hp_.head_dim));
        a.select = select_;
        // A batch that selects once from its tokens' averaged scores takes the ladder calibrated on averaged scores.
        const bool averaged = c.n_tokens > 1 && !per_token_;
        if (select_.mode == SelectMode::Threshold) a.select.tau = pack_->thresholds.tau(target_, c.layer, per_layer_, averaged);
        a.out = c.out;
        a.token_mass = token_mass_;
        // With an F16 cache, round as the dense kernel does: every cluster selected then agrees with dense.
        a.round_as_dense = a.elem == KvElem::F16;
        a.recall = recall_;
        a.per_token = per_token_;
        a.oracle = oracle_;
        Status st = squeeze_attend_layer(a, pool, scratch_, &stats_);
        if (st) return true;
        // Validated at attach, so this is a bug; dense attention still gives a right answer.
        error_ = st;
        return false;
    }

private:
    size_t row_floats() const { return size_t{hp_.n_heads} * hp_.head_dim; }
    void copy_window(const AttentionCall& c) {
        const uint32_t w0 = n_fixed_ - window_;
        for (uint32_t t = 0; t < c.n_tokens; ++t) {
            const uint32_t pos = c.pos0 + t;
            if (pos < w0 || pos >= n_fixed_) continue;
            std::memcpy(q_cal_.data() + (size_t{c.layer} * window_ + (pos - w0)) * row_floats(), c.q + t * row_floats(),
                        sizeof(float) * row_floats());
        }
    }

    const Hparams& hp_;
    std::vector<float> q_cal_;
    uint32_t n_fixed_ = 0, window_ = 0;
    const Pack* pack_ = nullptr;
    KvCacheRef cache_;
    SelectParams select_;
    uint32_t target_ = 0;
    bool per_layer_ = false;
    float* token_mass_ = nullptr;
    bool recall_ = false;
    bool per_token_ = false;
    Oracle oracle_ = Oracle::None;
    LayerScratch scratch_;
    SqueezeStats stats_;
    Status error_;
};

Status DocSession::create(const Model& model, const ContextParams& params, std::unique_ptr<DocSession>& out) {
    std::unique_ptr<DocSession> ds(new DocSession());
    SQ_TRY(Session::create(model, params, ds->session_));
    ds->hook_ = std::make_unique<Hook>(model.hparams());
    ds->session_->context().set_attention_hook(ds->hook_.get());
    if (GpuForward* gpu = ds->session_->context().gpu()) {
        const Status st = gpu_doc_attention_create(*gpu, model.hparams(), ds->session_->context().params().n_batch, ds->gpu_attention_);
        if (!st && params.backend == Backend::Auto) {
            ContextParams cpu = params;
            cpu.backend = Backend::Cpu;
            return create(model, cpu, out);
        }
        SQ_TRY(st);
    }
    out = std::move(ds);
    return Status::ok();
}

DocSession::~DocSession() {
    if (session_) session_->context().set_attention_hook(nullptr);
}

Status DocSession::ingest(const std::vector<int32_t>& fixed, const IngestParams& params, const IngestProgress& progress,
                          const std::atomic<bool>* cancel, Pack& out, IngestTimings& timings) {
    timings = IngestTimings{};
    if (fixed.empty()) return Status::error("INGEST_EMPTY", "the fixed context has no tokens");
    Context& ctx = session_->context();
    const Hparams& hp = ctx.model().hparams();
    if (fixed.size() >= ctx.params().n_ctx) {
        return Status::error("CONTEXT_FULL", "the documents take " + std::to_string(fixed.size()) +
                                                 " tokens; the context holds " + std::to_string(ctx.params().n_ctx) +
                                                 " with room for a question");
    }
    pack_.reset();
    session_->reset();
    const uint32_t n = static_cast<uint32_t>(fixed.size());
    hook_->capture(n, params.cluster.n_window);
    if (gpu_attention_) gpu_attention_->capture(n, hook_->window(), hook_->captured_data());

    double t0 = now_ms();
    std::vector<float> logits;
    const uint32_t step = ctx.params().n_batch;
    for (uint32_t i = 0; i < n; i += step) {
        if (cancel && cancel->load()) {
            stop_attention();
            session_->reset();
            return Status::error("SQUEEZE_CANCELLED", "document processing was cancelled");
        }
        const uint32_t m = std::min(step, n - i);
        Status st = ctx.eval(fixed.data() + i, m, false, logits);
        if (!st) {
            stop_attention();
            session_->reset();
            return st;
        }
        if (progress) progress("prefill", i + m, n);
    }
    session_->adopt_cache(fixed);
    const std::vector<float> q_cal = hook_->captured();
    const uint32_t window = hook_->window();
    stop_attention();
    timings.prefill_ms = now_ms() - t0;

    t0 = now_ms();
    KvView view;
    std::vector<uint16_t> gpu_k, gpu_v; // GPU: [n_layers][n_kv_heads][n][head_dim], the cache brought back to cluster it
    if (GpuForward* gpu = ctx.gpu()) {
        const size_t elems = size_t{hp.n_layers} * hp.n_kv_heads * n * hp.head_dim;
        gpu_k.resize(elems);
        gpu_v.resize(elems);
        SQ_TRY(gpu->kv_download(n, gpu_k.data(), gpu_v.data()));
        view = {gpu_k.data(), gpu_v.data(), KvElem::F16, hp.n_layers, hp.n_kv_heads, hp.head_dim, n, n};
    } else {
        const KvCacheRef cache = ctx.kv_cache();
        view = {cache.k, cache.v, cache.type == KvType::F16 ? KvElem::F16 : KvElem::F32, hp.n_layers, hp.n_kv_heads,
                hp.head_dim, cache.n_ctx, n};
    }
    BuildProgress build;
    if (progress) build.on_progress = [&](uint32_t done, uint32_t total) { progress("cluster", done, total); };
    build.cancel = cancel;
    // The window's first half shapes the clusters' metric and its second half calibrates the
    // thresholds: calibrated on the queries the clusters were fitted to, the thresholds expect sharper
    // scores than a question gets and read more keys than the target allows (70% read 63%).
    const size_t row_floats = size_t{hp.n_heads} * hp.head_dim;
    const uint32_t n_metric = params.cluster.query_metric ? window / 2 : 0, n_calib = window - n_metric;
    const std::vector<float> q_metric = window_part(q_cal, hp.n_layers, window, 0, n_metric, row_floats);
    const std::vector<float> q_calib = window_part(q_cal, hp.n_layers, window, n_metric, n_calib, row_floats);
    SQ_TRY(cluster_index_build(view, params.cluster, build, out.index, QueryRows{q_metric.data(), n_metric, hp.n_heads}));
    timings.cluster_ms = now_ms() - t0;

    t0 = now_ms();
    if (progress) progress("calibrate", 0, 1);
    SQ_TRY(calibrate(out.index, q_calib.data(), n_calib, hp.n_heads, 1.0f / std::sqrt(static_cast<float>(hp.head_dim)),
                     params.calibration, out.thresholds));
    if (progress) progress("calibrate", 1, 1);
    timings.calibrate_ms = now_ms() - t0;

    out.meta.model_hash = model_fingerprint(ctx.model());
    out.meta.settings = pack_settings(params.cluster, params.calibration);
    out.meta.fixed_tokens = fixed;
    return Status::ok();
}

Status DocSession::attach(std::shared_ptr<const Pack> pack) {
    pack_.reset();
    stop_attention();
    session_->reset();
    if (!pack) return Status::ok();
    if (pack->index.n_tokens != pack->meta.fixed_tokens.size()) {
        return Status::error("PACK_MISMATCH", "the pack's index and token list disagree on the fixed context's length");
    }
    if (pack->thresholds.n_layers != pack->index.n_layers || pack->thresholds.n_levels != pack->index.n_levels) {
        return Status::error("PACK_MISMATCH", "the pack's thresholds do not match its index");
    }
    pack_ = std::move(pack);
    Status st = restore_fixed();
    if (!st) pack_.reset();
    return st;
}

Status DocSession::restore_fixed() {
    if (gpu_attention_) SQ_TRY(restore_fixed_gpu());
    else SQ_TRY(pack_restore_kv(*pack_, session_->context()));
    session_->adopt_cache(pack_->meta.fixed_tokens);
    return Status::ok();
}

Status DocSession::restore_fixed_gpu() {
    Context& ctx = session_->context();
    const uint32_t n = pack_->index.n_tokens;
    if (n >= ctx.params().n_ctx) {
        return Status::error("PACK_MISMATCH", "the fixed context of " + std::to_string(n) + " tokens leaves no room in a context of " +
                                                  std::to_string(ctx.params().n_ctx));
    }
    SQ_TRY(gpu_attention_->attach(pack_->index));
    ctx.set_n_past(n);
    return Status::ok();
}

void DocSession::stop_attention() {
    hook_->stop();
    if (gpu_attention_) gpu_attention_->stop();
}

Status DocSession::select_params(const SqueezeMode& mode, SelectParams& select, uint32_t& target) const {
    const Thresholds& th = pack_->thresholds;
    select = SelectParams{};
    target = 0;
    switch (mode.kind) {
        case SqueezeKind::Dense:
        case SqueezeKind::AllClusters: select.mode = SelectMode::Dense; break;
        case SqueezeKind::Threshold:
            if (th.targets.empty()) return Status::error("SQUEEZE_BAD_MODE", "the pack has no calibrated sparsities");
            for (uint32_t i = 1; i < th.targets.size(); ++i)
                if (std::fabs(th.targets[i] - mode.sparsity) < std::fabs(th.targets[target] - mode.sparsity)) target = i;
            select.mode = SelectMode::Threshold;
            if (!mode.prefill_rerank) select.rerank_shortlist = 0.0f;
            break;
        case SqueezeKind::Budget:
            if (mode.budget_keys == 0) return Status::error("SQUEEZE_BAD_MODE", "a key budget must be positive");
            select.mode = SelectMode::Budget;
            select.budget_keys = mode.budget_keys;
            break;
        case SqueezeKind::Mass:
            if (!(mode.mass_target > 0.0f && mode.mass_target <= 1.0f)) {
                return Status::error("SQUEEZE_BAD_MODE", "the mass target must be in (0, 1]");
            }
            select.mode = SelectMode::Mass;
            select.mass_target = mode.mass_target;
            break;
    }
    return Status::ok();
}

void DocSession::begin(const SqueezeMode& mode, const SelectParams& select, uint32_t target, float* token_mass) {
    hook_->stats().reset(pack_->index);
    if (gpu_attention_) {
        if (mode.kind == SqueezeKind::Dense) return gpu_attention_->stop();
        const Thresholds& th = pack_->thresholds;
        const uint32_t n_layers = pack_->index.n_layers, n_levels = pack_->index.n_levels;
        std::vector<float> tau, tau_prefill; // [n_layers][n_levels] decode and prefill ladders; empty: every cluster
        uint32_t keys_hint = 0;
        if (select.mode == SelectMode::Threshold) {
            for (uint32_t l = 0; l < n_layers; ++l) {
                const float* t = th.tau(target, l, mode.per_layer);
                tau.insert(tau.end(), t, t + n_levels);
                const float* tp = th.tau(target, l, mode.per_layer, true);
                tau_prefill.insert(tau_prefill.end(), tp, tp + n_levels);
            }
            keys_hint = static_cast<uint32_t>((1.0f - th.targets[target]) * pack_->index.n_tokens);
        }
        return gpu_attention_->squeeze(std::move(tau), std::move(tau_prefill), keys_hint, token_mass);
    }
    if (mode.kind == SqueezeKind::Dense) stop_attention();
    else hook_->squeeze(pack_.get(), session_->context().kv_cache(), select, target, mode, token_mass);
}

Status DocSession::answer(const std::vector<int32_t>& dynamic, const SqueezeMode& mode, const GenerateParams& params,
                          const TokenCallback& on_token, const std::atomic<bool>* cancel, AnswerResult& out) {
    out = AnswerResult{};
    out.kind = mode.kind;
    if (!pack_) return Status::error("PACK_NONE", "no document pack is attached");
    if (dynamic.empty()) return Status::error("GENERATE_EMPTY_PROMPT", "the question has no tokens");
    const std::vector<int32_t>& fixed = pack_->meta.fixed_tokens;
    SelectParams select;
    uint32_t target = 0;
    SQ_TRY(select_params(mode, select, target));
    if (gpu_attention_) SQ_TRY(gpu_mode_check(mode));
    if (mode.kind == SqueezeKind::Threshold) out.target = pack_->thresholds.targets[target];

    // A failed generation resets the session: put the fixed context back rather than prefill it.
    const std::vector<int32_t>& cached = session_->cached_tokens();
    if (cached.size() < fixed.size() || !std::equal(fixed.begin(), fixed.end(), cached.begin())) SQ_TRY(restore_fixed());
    else if (!same_mode(mode, last_mode_)) session_->adopt_cache(fixed); // drop dynamic K/V of another mode
    last_mode_ = mode;

    std::vector<int32_t> prompt;
    prompt.reserve(fixed.size() + dynamic.size());
    prompt.insert(prompt.end(), fixed.begin(), fixed.end());
    prompt.insert(prompt.end(), dynamic.begin(), dynamic.end());

    if (mode.token_mass && mode.kind != SqueezeKind::Dense) out.token_mass.assign(fixed.size(), 0.0f);
    begin(mode, select, target, out.token_mass.empty() ? nullptr : out.token_mass.data());
    Status st = session_->generate(prompt, params, on_token, cancel, out.generation);
    stop_attention();
    if (!gpu_attention_ || mode.kind == SqueezeKind::Dense) out.stats = hook_->stats();
    else if (const Status gs = gpu_attention_->stats(pack_->index, out.stats); !gs && st) st = gs;
    SQ_TRY(st);
    return hook_->error();
}

Status DocSession::eval_logits(const std::vector<int32_t>& dynamic, const std::vector<int32_t>& continuation, const SqueezeMode& mode,
                               EvalResult& out) {
    out = EvalResult{};
    if (!pack_) return Status::error("PACK_NONE", "no document pack is attached");
    if (dynamic.empty()) return Status::error("GENERATE_EMPTY_PROMPT", "the question has no tokens");
    if (continuation.empty()) return Status::error("EVAL_EMPTY", "there are no continuation tokens to score");
    const std::vector<int32_t>& fixed = pack_->meta.fixed_tokens;
    SelectParams select;
    uint32_t target = 0;
    SQ_TRY(select_params(mode, select, target));
    if (gpu_attention_) SQ_TRY(gpu_mode_check(mode));
    if (mode.kind == SqueezeKind::Threshold) out.target = pack_->thresholds.targets[target];

    const std::vector<int32_t>& cached = session_->cached_tokens();
    if (cached.size() < fixed.size() || !std::equal(fixed.begin(), fixed.end(), cached.begin())) SQ_TRY(restore_fixed());
    else session_->adopt_cache(fixed);

    Context& ctx = session_->context();
    const size_t n_vocab = ctx.model().hparams().n_vocab;
    out.logits.reserve(continuation.size() * n_vocab);
    std::vector<float> logits; // [n_vocab] of the last token evaluated
    begin(mode, select, target, nullptr);
    Status st = ctx.eval(dynamic.data(), static_cast<uint32_t>(dynamic.size()), false, logits);
    for (size_t i = 0; st && i < continuation.size(); ++i) {
        out.logits.insert(out.logits.end(), logits.begin(), logits.end());
        if (i + 1 < continuation.size()) st = ctx.eval(continuation.data() + i, 1, false, logits);
    }
    stop_attention();
    if (!gpu_attention_ || mode.kind == SqueezeKind::Dense) out.stats = hook_->stats();
    else if (const Status gs = gpu_attention_->stats(pack_->index, out.stats); !gs && st) st = gs;
    session_->adopt_cache(fixed); // the dynamic rows written here belong to no conversation
    SQ_TRY(st);
    return hook_->error();
}

} // namespace sq
