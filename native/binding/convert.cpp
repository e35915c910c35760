#include "convert.h"

#include <algorithm>

namespace sqnode {

std::vector<int32_t> tokens_from_js(const Napi::Value& value) {
    Napi::Env env = value.Env();
    std::vector<int32_t> tokens;
    if (value.IsTypedArray()) {
        Napi::TypedArray ta = value.As<Napi::TypedArray>();
        if (ta.TypedArrayType() == napi_int32_array || ta.TypedArrayType() == napi_uint32_array) {
            Napi::Int32Array ints = Napi::Int32Array(env, ta);
            tokens.assign(ints.Data(), ints.Data() + ints.ElementLength());
            return tokens;
        }
    }
    if (!value.IsArray()) throw usage_error(env, "tokens must be an array of integers");
    Napi::Array arr = value.As<Napi::Array>();
    tokens.reserve(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); ++i) {
        Napi::Value v = arr.Get(i);
        if (!v.IsNumber()) throw usage_error(env, "token " + std::to_string(i) + " is not a number");
        const double d = v.As<Napi::Number>().DoubleValue();
        if (d != static_cast<int32_t>(d)) throw usage_error(env, "token " + std::to_string(i) + " is not an integer");
        tokens.push_back(static_cast<int32_t>(d));
    }
    return tokens;
}

double number_option(const Napi::Object& opts, const char* name, double fallback) {
    if (!opts.Has(name)) return fallback;
    Napi::Value v = opts.Get(name);
    if (v.IsUndefined() || v.IsNull()) return fallback;
    if (!v.IsNumber()) throw usage_error(opts.Env(), std::string("option '") + name + "' must be a number");
    return v.As<Napi::Number>().DoubleValue();
}

namespace {

std::string string_option(const Napi::Object& opts, const char* name) {
    if (!opts.Has(name)) return "";
    Napi::Value v = opts.Get(name);
    if (v.IsUndefined() || v.IsNull()) return "";
    if (!v.IsString()) throw usage_error(opts.Env(), std::string("option '") + name + "' must be a string");
    return v.As<Napi::String>().Utf8Value();
}

} // namespace

sq::ContextParams context_params_from_js(const Napi::Object& opts, const sq::Model& model) {
    constexpr uint32_t default_max_ctx = 8192;
    sq::ContextParams params;
    params.n_ctx = static_cast<uint32_t>(number_option(opts, "nCtx", std::min<uint32_t>(model.hparams().n_ctx_train, default_max_ctx)));
    params.n_threads = static_cast<uint32_t>(number_option(opts, "nThreads", 0));
    params.n_batch = static_cast<uint32_t>(number_option(opts, "nBatch", params.n_batch));
    const std::string kv = string_option(opts, "kvType");
    if (!kv.empty()) {
        if (kv != "f16" && kv != "f32") throw usage_error(opts.Env(), "kvType must be 'f16' or 'f32'");
        params.kv_type = kv == "f32" ? sq::KvType::F32 : sq::KvType::F16;
    }
    const std::string backend = string_option(opts, "backend");
    if (!backend.empty()) {
        if (backend == "cpu") params.backend = sq::Backend::Cpu;
        else if (backend == "cuda") params.backend = sq::Backend::Cuda;
        else if (backend == "auto") params.backend = sq::Backend::Auto;
        else throw usage_error(opts.Env(), "backend must be 'cpu', 'cuda' or 'auto'");
    }
    return params;
}

namespace {

Napi::Value integer_to_js(Napi::Env env, int64_t i, uint64_t u, bool is_signed) {
    const uint64_t magnitude = is_signed ? static_cast<uint64_t>(i < 0 ? -i : i) : u;
    if (magnitude <= (1ull << 53)) return Napi::Number::New(env, is_signed ? static_cast<double>(i) : static_cast<double>(u));
    return is_signed ? Napi::BigInt::New(env, i) : Napi::BigInt::New(env, u);
}

} // namespace

Napi::Value gguf_value_to_js(Napi::Env env, const sq::GgufValue& value) {
    using sq::GgufValueType;
    switch (value.type) {
        case GgufValueType::STRING:
            return Napi::String::New(env, value.str.data(), value.str.size());
        case GgufValueType::BOOL:
            return Napi::Boolean::New(env, value.u64 != 0);
        case GgufValueType::FLOAT32: case GgufValueType::FLOAT64:
            return Napi::Number::New(env, value.f64);
        case GgufValueType::INT8: case GgufValueType::INT16: case GgufValueType::INT32: case GgufValueType::INT64:
            return integer_to_js(env, value.i64, value.u64, true);
        case GgufValueType::ARRAY:
            break;
        default:
            return integer_to_js(env, value.i64, value.u64, false);
    }
    std::vector<sq::GgufValue> items;
    const sq::Status st = sq::GgufFile::array_items(value, items);
    if (!st) throw status_error(env, st);
    Napi::Array arr = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); ++i) arr.Set(static_cast<uint32_t>(i), gguf_value_to_js(env, items[i]));
    return arr;
}

sq::GenerateParams generate_params_from_js(const Napi::Object& o) {
    sq::GenerateParams p;
    p.max_tokens = static_cast<uint32_t>(number_option(o, "maxTokens", p.max_tokens));
    p.sampling.temperature = static_cast<float>(number_option(o, "temperature", p.sampling.temperature));
    p.sampling.top_k = static_cast<int32_t>(number_option(o, "topK", p.sampling.top_k));
    p.sampling.top_p = static_cast<float>(number_option(o, "topP", p.sampling.top_p));
    p.sampling.min_p = static_cast<float>(number_option(o, "minP", p.sampling.min_p));
    p.sampling.repeat_penalty = static_cast<float>(number_option(o, "repeatPenalty", p.sampling.repeat_penalty));
    p.sampling.repeat_last_n = static_cast<int32_t>(number_option(o, "repeatLastN", p.sampling.repeat_last_n));
    p.sampling.seed = static_cast<uint64_t>(number_option(o, "seed", 0));
    if (o.Has("stopTokens") && !o.Get("stopTokens").IsUndefined()) p.stop_tokens = tokens_from_js(o.Get("stopTokens"));
    return p;
}

} // namespace sqnode
