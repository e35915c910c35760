#include "convert.h"

#include <cstring>

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

using sq::GgufValueType;

template <typename T>
T read_le(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

Napi::Value integer_to_js(Napi::Env env, int64_t i, uint64_t u, bool is_signed) {
    const uint64_t magnitude = is_signed ? static_cast<uint64_t>(i < 0 ? -i : i) : u;
    if (magnitude <= (1ull << 53)) return Napi::Number::New(env, is_signed ? static_cast<double>(i) : static_cast<double>(u));
    return is_signed ? Napi::BigInt::New(env, i) : Napi::BigInt::New(env, u);
}

size_t scalar_size(GgufValueType t) {
    switch (t) {
        case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
        case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
        case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
        case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
        default: return 0;
    }
}

// Decodes one scalar element of an array already validated by the reader.
Napi::Value array_scalar_to_js(Napi::Env env, GgufValueType t, const uint8_t* p) {
    switch (t) {
        case GgufValueType::UINT8: return Napi::Number::New(env, read_le<uint8_t>(p));
        case GgufValueType::INT8: return Napi::Number::New(env, read_le<int8_t>(p));
        case GgufValueType::UINT16: return Napi::Number::New(env, read_le<uint16_t>(p));
        case GgufValueType::INT16: return Napi::Number::New(env, read_le<int16_t>(p));
        case GgufValueType::UINT32: return Napi::Number::New(env, read_le<uint32_t>(p));
        case GgufValueType::INT32: return Napi::Number::New(env, read_le<int32_t>(p));
        case GgufValueType::FLOAT32: return Napi::Number::New(env, read_le<float>(p));
        case GgufValueType::FLOAT64: return Napi::Number::New(env, read_le<double>(p));
        case GgufValueType::BOOL: return Napi::Boolean::New(env, read_le<uint8_t>(p) != 0);
        case GgufValueType::UINT64: return integer_to_js(env, 0, read_le<uint64_t>(p), false);
        case GgufValueType::INT64: return integer_to_js(env, read_le<int64_t>(p), 0, true);
        default: return env.Undefined();
    }
}

} // namespace

Napi::Value gguf_value_to_js(Napi::Env env, const sq::GgufValue& value) {
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
    Napi::Array arr = Napi::Array::New(env, value.array_count);
    const uint8_t* p = value.array_data;
    if (value.array_type == GgufValueType::STRING) {
        // Strings are length-prefixed (u64); the reader has bounded every one against the file.
        for (uint64_t i = 0; i < value.array_count; ++i) {
            const uint64_t len = read_le<uint64_t>(p);
            arr.Set(static_cast<uint32_t>(i), Napi::String::New(env, reinterpret_cast<const char*>(p + 8), len));
            p += 8 + len;
        }
        return arr;
    }
    const size_t size = scalar_size(value.array_type);
    if (size == 0) return env.Undefined(); // nested arrays: no model key uses them
    for (uint64_t i = 0; i < value.array_count; ++i) {
        arr.Set(static_cast<uint32_t>(i), array_scalar_to_js(env, value.array_type, p + i * size));
    }
    return arr;
}

} // namespace sqnode
