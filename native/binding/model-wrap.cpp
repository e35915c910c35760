#include "model-wrap.h"

#include "addon-data.h"
#include "convert.h"
#include "doc-session-wrap.h"
#include "session-wrap.h"

namespace sqnode {

namespace {

class LoadWorker : public Napi::AsyncWorker {
public:
    LoadWorker(Napi::Env env, std::string path)
        : Napi::AsyncWorker(env), path_(std::move(path)), deferred_(Napi::Promise::Deferred::New(env)) {}
    Napi::Promise promise() { return deferred_.Promise(); }

protected:
    void Execute() override {
        try {
            status_ = sq::Model::load(path_, model_);
        } catch (const std::bad_alloc&) {
            status_ = sq::Status::error("MODEL_OUT_OF_MEMORY", "not enough memory to load '" + path_ + "'");
        }
    }
    void OnOK() override {
        Napi::Env env = Env();
        if (!status_) {
            deferred_.Reject(status_error(env, status_).Value());
            return;
        }
        Napi::Object obj = env.GetInstanceData<AddonData>()->model_class.New({});
        ModelWrap::adopt(obj, std::shared_ptr<sq::Model>(std::move(model_)));
        deferred_.Resolve(obj);
    }

private:
    std::string path_;
    Napi::Promise::Deferred deferred_;
    sq::Status status_;
    std::unique_ptr<sq::Model> model_;
};

} // namespace

Napi::Function ModelWrap::define(Napi::Env env) {
    return DefineClass(env, "NativeModel",
                       {
                           InstanceMethod<&ModelWrap::info>("info"),
                           InstanceMethod<&ModelWrap::metadata>("metadata"),
                           InstanceMethod<&ModelWrap::create_session>("createSession"),
                           InstanceMethod<&ModelWrap::create_doc_session>("createDocSession"),
                           InstanceMethod<&ModelWrap::fingerprint>("fingerprint"),
                       });
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}

void ModelWrap::adopt(Napi::Object obj, std::shared_ptr<sq::Model> model) {
    Napi::ObjectWrap<ModelWrap>::Unwrap(obj)->model_ = std::move(model);
}

Napi::Value ModelWrap::load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw usage_error(env, "loadModel(path): path must be a string");
    auto* worker = new LoadWorker(env, info[0].As<Napi::String>().Utf8Value());
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
}

// Architecture, hyperparameters and a tensor-type census: what `squeeze info` prints.
Napi::Value ModelWrap::info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const sq::Hparams& hp = model_->hparams();
    Napi::Object out = Napi::Object::New(env);
    out.Set("arch", hp.arch);
    out.Set("nVocab", hp.n_vocab);
    out.Set("nCtxTrain", hp.n_ctx_train);
    out.Set("nEmbd", hp.n_embd);
    out.Set("nLayers", hp.n_layers);
    out.Set("nFf", hp.n_ff);
    out.Set("nHeads", hp.n_heads);
    out.Set("nKvHeads", hp.n_kv_heads);
    out.Set("headDim", hp.head_dim);
    out.Set("nRot", hp.n_rot);
    out.Set("rmsEps", hp.rms_eps);
    out.Set("ropeFreqBase", hp.rope_freq_base);
    out.Set("ropeFreqScale", hp.rope_freq_scale);
    out.Set("ropeOrder", hp.rope_order == sq::RopeOrder::NeoX ? "neox" : "normal");
    out.Set("tiedOutput", hp.tied_output);

    const sq::GgufFile& gguf = model_->gguf();
    out.Set("ggufVersion", gguf.version());
    out.Set("fileSize", static_cast<double>(gguf.file_size()));
    Napi::Object types = Napi::Object::New(env);
    double n_params = 0;
    for (const sq::GgufTensor& t : gguf.tensors()) {
        const char* name = sq::tensor_type_traits(t.type).name;
        const uint32_t count = types.Has(name) ? types.Get(name).As<Napi::Number>().Uint32Value() : 0;
        types.Set(name, count + 1);
        n_params += static_cast<double>(t.ne[0]) * t.ne[1] * t.ne[2] * t.ne[3];
    }
    out.Set("tensorTypes", types);
    out.Set("nTensors", static_cast<double>(gguf.tensors().size()));
    out.Set("nParams", n_params);
    return out;
}

// Every metadata key as a plain JS object (the tokenizer and chat template read theirs from it).
Napi::Value ModelWrap::metadata(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object out = Napi::Object::New(env);
    for (const sq::GgufKv& kv : model_->gguf().kvs()) out.Set(kv.key, gguf_value_to_js(env, kv.value));
    return out;
}

Napi::Value ModelWrap::create_session(const Napi::CallbackInfo& info) {
    return SessionWrap::create(info, Value(), model_);
}

Napi::Value ModelWrap::create_doc_session(const Napi::CallbackInfo& info) { return DocSessionWrap::create(info, model_); }

// SHA-256 over what decides the model's K/V (document packs are keyed by it); reads a few KiB.
Napi::Value ModelWrap::fingerprint(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), sq::squeeze::model_fingerprint(*model_));
}

} // namespace sqnode
