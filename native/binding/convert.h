// JS <-> engine conversions shared by the binding's wrappers.
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "squeeze.h"

namespace sqnode {

// A JS Error carrying the engine's code, e.g. err.code === "GGUF_TRUNCATED".
inline Napi::Error status_error(Napi::Env env, const sq::Status& st) {
    Napi::Error err = Napi::Error::New(env, st.message);
    err.Set("code", Napi::String::New(env, st.code));
    return err;
}

inline Napi::Error usage_error(Napi::Env env, const std::string& message) {
    return status_error(env, sq::Status::error("BAD_ARGUMENT", message));
}

// Token ids from an array or Int32Array/Uint32Array of integers.
std::vector<int32_t> tokens_from_js(const Napi::Value& value);

// Reads an optional number property; `fallback` when absent or undefined.
double number_option(const Napi::Object& opts, const char* name, double fallback);

// A GGUF metadata value as a JS value (arrays become JS arrays; 64-bit integers become numbers
// when exact, else BigInt).
Napi::Value gguf_value_to_js(Napi::Env env, const sq::GgufValue& value);

// Context options { nCtx (default: the model's training context, at most 8192), nThreads, nBatch,
// kvType: 'f16' | 'f32', backend: 'cpu' | 'cuda' | 'auto' }.
sq::ContextParams context_params_from_js(const Napi::Object& opts, const sq::Model& model);

// Generation options { maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed, stopTokens }.
sq::GenerateParams generate_params_from_js(const Napi::Object& o);

} // namespace sqnode
