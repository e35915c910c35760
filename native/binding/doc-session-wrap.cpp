#include "doc-session-wrap.h"

#include <chrono>

#include "addon-data.h"
#include "convert.h"
#include "session-job.h"

namespace sqnode {

namespace {

using StatePtr = std::shared_ptr<DocSessionWrap::State>;

double now_ms() { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string string_option(Napi::Env env, const Napi::Object& o, const char* name) {
    if (!o.Has(name) || !o.Get(name).IsString()) throw usage_error(env, std::string(name) + " must be a string");
    return o.Get(name).As<Napi::String>().Utf8Value();
}

// The engine's ingest settings, with the calibrated sparsities of o.sparsities when given (a
// non-empty ascending list in (0, 1); default: calibrate.h's ladder).
sq::IngestParams ingest_params_from_js(Napi::Env env, const Napi::Object& o) {
    sq::IngestParams p;
    if (!o.Has("sparsities") || o.Get("sparsities").IsUndefined()) return p;
    const Napi::Value v = o.Get("sparsities");
    const char* rule = "sparsities must be a non-empty ascending list of numbers in (0, 1)";
    if (!v.IsArray() || v.As<Napi::Array>().Length() == 0) throw usage_error(env, rule);
    Napi::Array arr = v.As<Napi::Array>();
    p.calibration.targets.clear();
    for (uint32_t i = 0; i < arr.Length(); ++i) {
        const Napi::Value x = arr.Get(i);
        const double s = x.IsNumber() ? x.As<Napi::Number>().DoubleValue() : -1.0;
        if (!(s > 0.0 && s < 1.0) || (i > 0 && s <= p.calibration.targets.back())) throw usage_error(env, rule);
        p.calibration.targets.push_back(static_cast<float>(s));
    }
    return p;
}

// A pack's calibrated ladder, read on the worker thread while the job holds the session.
struct PackLadder {
    std::vector<float> sparsities;
    bool per_layer = false; // per-layer thresholds stored beside the global ones

    static PackLadder of(const sq::squeeze::Pack& pack) {
        const sq::squeeze::Thresholds& th = pack.thresholds;
        return {th.targets, !th.per_layer.empty() && th.per_layer.size() == th.global.size() * th.n_layers};
    }
    // out.sparsities, out.perLayer
    void set(Napi::Object& out) const {
        Napi::Array list = Napi::Array::New(out.Env(), sparsities.size());
        for (size_t i = 0; i < sparsities.size(); ++i) list.Set(static_cast<uint32_t>(i), static_cast<double>(sparsities[i]));
        out.Set("sparsities", list);
        out.Set("perLayer", per_layer);
    }
};

// What a pack must say about itself to be used with this model, these documents and this engine.
sq::squeeze::PackMeta expected_meta(const sq::Model& model, const sq::IngestParams& params, std::string doc_hash, std::vector<int32_t> fixed) {
    sq::squeeze::PackMeta m;
    m.model_hash = sq::squeeze::model_fingerprint(model);
    m.settings = sq::squeeze::pack_settings(params.cluster, params.calibration);
    m.doc_hash = std::move(doc_hash);
    m.fixed_tokens = std::move(fixed);
    return m;
}

class LoadPackWorker : public SessionJob<DocSessionWrap::State> {
public:
    LoadPackWorker(Napi::Env env, StatePtr state, std::string path, sq::IngestParams params, std::string doc_hash, std::vector<int32_t> fixed)
        : SessionJob(env, std::move(state), "loading the document pack"), path_(std::move(path)), params_(std::move(params)),
          doc_hash_(std::move(doc_hash)), fixed_(std::move(fixed)) {}

protected:
    sq::Status run() override {
        const double t0 = now_ms();
        auto pack = std::make_shared<sq::squeeze::Pack>();
        sq::Status st = sq::squeeze::pack_read(path_, expected_meta(*state_->model, params_, doc_hash_, fixed_), *pack);
        if (st) st = state_->session->attach(pack);
        load_ms_ = now_ms() - t0;
        if (st) ladder_ = PackLadder::of(*pack);
        return st;
    }
    Napi::Value result(Napi::Env env) override {
        const sq::squeeze::Pack& pack = *state_->session->pack();
        Napi::Object out = Napi::Object::New(env);
        out.Set("loadMs", load_ms_);
        out.Set("nFixed", static_cast<double>(pack.meta.fixed_tokens.size()));
        out.Set("sourceMap", pack.meta.source_map);
        ladder_.set(out);
        return out;
    }

private:
    std::string path_;
    sq::IngestParams params_;
    std::string doc_hash_;
    std::vector<int32_t> fixed_;
    double load_ms_ = 0;
    PackLadder ladder_;
};

struct IngestEvent {
    const char* phase;
    uint32_t done, total;
};

// Prefill, cluster, calibrate, write the pack atomically, attach it; progress goes to onProgress.
class IngestWorker : public SessionProgressJob<DocSessionWrap::State, IngestEvent> {
public:
    IngestWorker(Napi::Env env, Napi::Function on_progress, StatePtr state, std::vector<int32_t> fixed, sq::IngestParams params,
                 std::string path, std::string doc_hash, std::string source_map)
        : SessionProgressJob(env, on_progress, std::move(state), "building the document pack"), fixed_(std::move(fixed)),
          params_(std::move(params)), path_(std::move(path)), doc_hash_(std::move(doc_hash)), source_map_(std::move(source_map)) {}

protected:
    sq::Status run(const Progress& progress) override {
        auto pack = std::make_shared<sq::squeeze::Pack>();
        SQ_TRY(state_->session->ingest(
            fixed_, params_,
            [&](const char* phase, uint32_t done, uint32_t total) {
                const IngestEvent e{phase, done, total};
                progress.Send(&e, 1);
            },
            &state_->cancel, *pack, timings_));
        pack->meta.doc_hash = doc_hash_;
        pack->meta.source_map = source_map_;
        const double t0 = now_ms();
        SQ_TRY(sq::squeeze::pack_write(path_, *pack, &pack_bytes_));
        write_ms_ = now_ms() - t0;
        SQ_TRY(state_->session->attach(pack));
        ladder_ = PackLadder::of(*pack);
        return sq::Status::ok();
    }
    std::vector<napi_value> event_args(Napi::Env env, const IngestEvent& e) override {
        return {Napi::String::New(env, e.phase), Napi::Number::New(env, e.done), Napi::Number::New(env, e.total)};
    }
    Napi::Value result(Napi::Env env) override {
        Napi::Object out = Napi::Object::New(env);
        out.Set("nFixed", static_cast<double>(fixed_.size()));
        out.Set("prefillMs", timings_.prefill_ms);
        out.Set("clusterMs", timings_.cluster_ms);
        out.Set("calibrateMs", timings_.calibrate_ms);
        out.Set("writeMs", write_ms_);
        out.Set("packBytes", static_cast<double>(pack_bytes_));
        ladder_.set(out);
        return out;
    }

private:
    std::vector<int32_t> fixed_;
    sq::IngestParams params_;
    std::string path_, doc_hash_, source_map_;
    sq::IngestTimings timings_;
    double write_ms_ = 0;
    uint64_t pack_bytes_ = 0;
    PackLadder ladder_;
};

sq::SqueezeMode mode_from_js(Napi::Env env, const Napi::Object& o) {
    sq::SqueezeMode m;
    const std::string kind = o.Has("mode") && o.Get("mode").IsString() ? o.Get("mode").As<Napi::String>().Utf8Value() : "sparsity";
    if (kind == "dense") m.kind = sq::SqueezeKind::Dense;
    else if (kind == "all") m.kind = sq::SqueezeKind::AllClusters;
    else if (kind == "sparsity") m.kind = sq::SqueezeKind::Threshold;
    else if (kind == "budget") m.kind = sq::SqueezeKind::Budget;
    else if (kind == "mass") m.kind = sq::SqueezeKind::Mass;
    else throw usage_error(env, "mode must be 'dense', 'all', 'sparsity', 'budget' or 'mass'");
    m.sparsity = static_cast<float>(number_option(o, "sparsity", m.sparsity));
    m.budget_keys = static_cast<uint32_t>(number_option(o, "budget", 0));
    m.mass_target = static_cast<float>(number_option(o, "massTarget", m.mass_target));
    m.per_layer = o.Has("perLayer") && o.Get("perLayer").ToBoolean().Value();
    m.recall = o.Has("recall") && o.Get("recall").ToBoolean().Value();
    m.per_token = o.Has("perToken") && o.Get("perToken").ToBoolean().Value();
    const std::string oracle = o.Has("oracle") && o.Get("oracle").IsString() ? o.Get("oracle").As<Napi::String>().Utf8Value() : "none";
    if (oracle == "clusters") m.oracle = sq::squeeze::Oracle::Clusters;
    else if (oracle == "keys") m.oracle = sq::squeeze::Oracle::Keys;
    else if (oracle != "none") throw usage_error(env, "oracle must be 'none', 'clusters' or 'keys'");
    if (o.Has("tokenMass") && !o.Get("tokenMass").IsUndefined()) m.token_mass = o.Get("tokenMass").ToBoolean().Value();
    if (!(m.sparsity >= 0.0f && m.sparsity < 1.0f)) throw usage_error(env, "sparsity must be in [0, 1)");
    return m;
}

Napi::Object stats_to_js(Napi::Env env, const sq::squeeze::SqueezeStats& s) {
    Napi::Object out = Napi::Object::New(env);
    Napi::Array levels = Napi::Array::New(env, s.clusters_per_level.size());
    for (size_t i = 0; i < s.clusters_per_level.size(); ++i) levels.Set(static_cast<uint32_t>(i), s.clusters_per_level[i]);
    out.Set("clustersPerLevel", levels);
    out.Set("nLayers", s.n_layers);
    out.Set("nKvHeads", s.n_kv_heads);
    const size_t n = size_t{s.n_layers} * s.n_kv_heads;
    Napi::Float64Array mean = Napi::Float64Array::New(env, n), spread = Napi::Float64Array::New(env, n); // [n_layers][n_kv_heads]
    for (uint32_t l = 0; l < s.n_layers; ++l) {
        for (uint32_t h = 0; h < s.n_kv_heads; ++h) {
            mean[size_t{l} * s.n_kv_heads + h] = s.mean_keys(l, h);
            spread[size_t{l} * s.n_kv_heads + h] = s.stddev_keys(l, h);
        }
    }
    out.Set("keysMean", mean);
    out.Set("keysStddev", spread);
    out.Set("keysAttended", static_cast<double>(s.keys_attended));
    out.Set("keysFixed", static_cast<double>(s.keys_fixed));
    out.Set("sparsity", s.sparsity());
    out.Set("centroidsScored", static_cast<double>(s.centroids_scored));
    out.Set("bytesRead", static_cast<double>(s.bytes_read));
    out.Set("bytesDense", static_cast<double>(s.bytes_dense));
    out.Set("lookupMs", s.lookup_seconds * 1e3);
    out.Set("attentionMs", s.attention_seconds * 1e3);
    out.Set("fixedAttentionMs", s.fixed_seconds * 1e3);
    out.Set("dynamicAttentionMs", s.dynamic_seconds * 1e3);
    out.Set("mergeMs", s.merge_seconds * 1e3);
    // [n_layers] mean attention-mass recall, only when the mode asked for it
    Napi::Float64Array recall = Napi::Float64Array::New(env, s.recall_rows.empty() ? 0 : s.n_layers);
    for (uint32_t l = 0; l < recall.ElementLength(); ++l) recall[l] = s.mean_recall(l);
    out.Set("recallPerLayer", recall);
    return out;
}

// Streams each generated token to onToken(token); resolves with tokens, timings, stats and token mass.
class AnswerWorker : public SessionProgressJob<DocSessionWrap::State, int32_t> {
public:
    AnswerWorker(Napi::Env env, Napi::Function on_token, StatePtr state, std::vector<int32_t> tokens, sq::SqueezeMode mode,
                 sq::GenerateParams params)
        : SessionProgressJob(env, on_token, std::move(state), "during generation"), tokens_(std::move(tokens)), mode_(mode),
          params_(std::move(params)) {}

protected:
    sq::Status run(const Progress& progress) override {
        return state_->session->answer(
            tokens_, mode_, params_, [&](int32_t token) { progress.Send(&token, 1); return true; }, &state_->cancel, result_);
    }
    std::vector<napi_value> event_args(Napi::Env env, const int32_t& token) override { return {Napi::Number::New(env, token)}; }
    Napi::Value result(Napi::Env env) override {
        const sq::GenerateResult& g = result_.generation;
        Napi::Object out = Napi::Object::New(env);
        Napi::Array tokens = Napi::Array::New(env, g.tokens.size());
        for (size_t i = 0; i < g.tokens.size(); ++i) tokens.Set(static_cast<uint32_t>(i), g.tokens[i]);
        out.Set("tokens", tokens);
        out.Set("nPrompt", g.n_prompt);
        out.Set("nPromptReused", g.n_prompt_reused);
        out.Set("prefillMs", g.prefill_ms);
        out.Set("decodeMs", g.decode_ms);
        out.Set("stopReason", sq::stop_reason_name(g.stop_reason));
        out.Set("mode", sq::squeeze_kind_name(result_.kind));
        out.Set("target", result_.target);
        out.Set("stats", stats_to_js(env, result_.stats));
        Napi::Float32Array mass = Napi::Float32Array::New(env, result_.token_mass.size()); // [n_fixed]
        std::copy(result_.token_mass.begin(), result_.token_mass.end(), mass.Data());
        out.Set("tokenMass", mass);
        return out;
    }

private:
    std::vector<int32_t> tokens_;
    sq::SqueezeMode mode_;
    sq::GenerateParams params_;
    sq::AnswerResult result_;
};

// Teacher-forced logits of a continuation in one mode (DocSession::eval_logits).
class EvalLogitsWorker : public SessionJob<DocSessionWrap::State> {
public:
    EvalLogitsWorker(Napi::Env env, StatePtr state, std::vector<int32_t> tokens, std::vector<int32_t> continuation, sq::SqueezeMode mode)
        : SessionJob(env, std::move(state), "scoring the continuation"), tokens_(std::move(tokens)),
          continuation_(std::move(continuation)), mode_(mode) {}

protected:
    sq::Status run() override { return state_->session->eval_logits(tokens_, continuation_, mode_, result_); }
    Napi::Value result(Napi::Env env) override {
        Napi::Object out = Napi::Object::New(env);
        Napi::Float32Array logits = Napi::Float32Array::New(env, result_.logits.size()); // [n_continuation][n_vocab]
        std::copy(result_.logits.begin(), result_.logits.end(), logits.Data());
        out.Set("logits", logits);
        out.Set("mode", sq::squeeze_kind_name(mode_.kind));
        out.Set("target", result_.target);
        out.Set("stats", stats_to_js(env, result_.stats));
        return out;
    }

private:
    std::vector<int32_t> tokens_, continuation_;
    sq::SqueezeMode mode_;
    sq::EvalResult result_;
};

} // namespace

Napi::Function DocSessionWrap::define(Napi::Env env) {
    return DefineClass(env, "NativeDocSession",
                       {
                           InstanceMethod<&DocSessionWrap::load_pack>("loadPack"),
                           InstanceMethod<&DocSessionWrap::ingest>("ingest"),
                           InstanceMethod<&DocSessionWrap::answer>("answer"),
                           InstanceMethod<&DocSessionWrap::eval_logits>("evalLogits"),
                           InstanceMethod<&DocSessionWrap::cancel>("cancel"),
                           InstanceMethod<&DocSessionWrap::device>("device"),
                       });
}

DocSessionWrap::DocSessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DocSessionWrap>(info) {}

Napi::Value DocSessionWrap::create(const Napi::CallbackInfo& info, std::shared_ptr<sq::Model> model) {
    Napi::Env env = info.Env();
    Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(env);
    const sq::ContextParams params = context_params_from_js(opts, *model);
    auto state = std::make_shared<State>();
    sq::Status st;
    try {
        st = sq::DocSession::create(*model, params, state->session);
    } catch (const std::bad_alloc&) {
        st = sq::Status::error("CONTEXT_OUT_OF_MEMORY", "not enough memory for a context of " + std::to_string(params.n_ctx) + " tokens");
    }
    if (!st) throw status_error(env, st);
    state->model = std::move(model);
    Napi::Object obj = env.GetInstanceData<AddonData>()->doc_session_class.New({});
    Napi::ObjectWrap<DocSessionWrap>::Unwrap(obj)->state_ = std::move(state);
    return obj;
}

void DocSessionWrap::claim(Napi::Env env) {
    if (state_->busy.exchange(true)) {
        throw status_error(env, sq::Status::error("SESSION_BUSY", "the document session is busy; stop it first"));
    }
    state_->cancel.store(false);
}

// loadPack(path, { docHash, fixedTokens, sparsities? }): Promise<{ loadMs, nFixed, sourceMap, sparsities, perLayer }>;
// rejects with PACK_MISSING, PACK_STALE (another ladder too), PACK_TRUNCATED, PACK_BAD, PACK_READ or PACK_MISMATCH.
Napi::Value DocSessionWrap::load_pack(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) throw usage_error(env, "loadPack(path, { docHash, fixedTokens, sparsities? })");
    Napi::Object o = info[1].As<Napi::Object>();
    std::string doc_hash = string_option(env, o, "docHash");
    std::vector<int32_t> fixed = tokens_from_js(o.Get("fixedTokens"));
    sq::IngestParams params = ingest_params_from_js(env, o);
    claim(env);
    return (new LoadPackWorker(env, state_, info[0].As<Napi::String>().Utf8Value(), std::move(params), std::move(doc_hash), std::move(fixed)))
        ->start();
}

// ingest(fixedTokens, { path, docHash, sourceMap, sparsities? }, onProgress?(phase, done, total)):
// Promise<{ nFixed, prefillMs, clusterMs, calibrateMs, writeMs, packBytes, sparsities, perLayer }>.
Napi::Value DocSessionWrap::ingest(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[1].IsObject()) throw usage_error(env, "ingest(fixedTokens, { path, docHash, sourceMap }, onProgress?)");
    std::vector<int32_t> fixed = tokens_from_js(info[0]);
    Napi::Object o = info[1].As<Napi::Object>();
    std::string path = string_option(env, o, "path");
    std::string doc_hash = string_option(env, o, "docHash");
    std::string source_map = string_option(env, o, "sourceMap");
    sq::IngestParams params = ingest_params_from_js(env, o);
    Napi::Function on_progress = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
    claim(env);
    return (new IngestWorker(env, on_progress, state_, std::move(fixed), std::move(params), std::move(path), std::move(doc_hash),
                             std::move(source_map)))
        ->start();
}

// answer(tokens, { mode, sparsity, budget, massTarget, perLayer, tokenMass, ...generation options }, onToken?):
// Promise<{ tokens, nPrompt, nPromptReused, prefillMs, decodeMs, stopReason, mode, target, stats, tokenMass }>.
Napi::Value DocSessionWrap::answer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw usage_error(env, "answer(tokens, options?, onToken?)");
    std::vector<int32_t> tokens = tokens_from_js(info[0]);
    Napi::Object opts = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    const sq::SqueezeMode mode = mode_from_js(env, opts);
    sq::GenerateParams params = generate_params_from_js(opts);
    Napi::Function on_token = info.Length() > 2 && info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
    claim(env);
    return (new AnswerWorker(env, on_token, state_, std::move(tokens), mode, std::move(params)))->start();
}

// evalLogits(tokens, continuation, { mode, sparsity, budget, massTarget, perLayer, recall }):
// Promise<{ logits, mode, target, stats }>.
Napi::Value DocSessionWrap::eval_logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2) throw usage_error(env, "evalLogits(tokens, continuation, options?)");
    std::vector<int32_t> tokens = tokens_from_js(info[0]);
    std::vector<int32_t> continuation = tokens_from_js(info[1]);
    Napi::Object opts = info.Length() > 2 && info[2].IsObject() ? info[2].As<Napi::Object>() : Napi::Object::New(env);
    const sq::SqueezeMode mode = mode_from_js(env, opts);
    claim(env);
    return (new EvalLogitsWorker(env, state_, std::move(tokens), std::move(continuation), mode))->start();
}

Napi::Value DocSessionWrap::cancel(const Napi::CallbackInfo& info) {
    state_->cancel.store(true);
    return info.Env().Undefined();
}

// "cpu", or the GPU's name when the session's forward pass and squeezed attention run there.
Napi::Value DocSessionWrap::device(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), state_->session->session().context().device());
}

} // namespace sqnode
