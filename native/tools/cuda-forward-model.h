// Generated GGUF models for the GPU forward-pass tools (cuda-forward-test, cuda-forward-bench): random
// weights of every type the GPU path reads (written with gguf/gguf-writer.h), elements of about the
// requested standard deviation, so activations stay O(1) through the layers.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "backend/cpu/quants.h"
#include "common/half.h"
#include "common/tensor-type.h"
#include "gguf/gguf-writer.h"

namespace sq::forward_model {

// ---- random weights of each type, elements of standard deviation about `scale` ---------------

inline void put_f16(uint8_t* p, float v) { const uint16_t h = f32_to_f16(v); std::memcpy(p, &h, 2); }

inline std::vector<uint8_t> random_rows(TensorType type, uint64_t n_rows, uint64_t n_cols, float scale, std::mt19937& rng) {
    std::normal_distribution<float> normal;
    std::uniform_int_distribution<int> byte(0, 255);
    const TensorTypeTraits t = tensor_type_traits(static_cast<uint32_t>(type));
    const size_t row_bytes = tensor_row_bytes(t, n_cols);
    std::vector<uint8_t> out(row_bytes * n_rows);
    if (type == TensorType::F32 || type == TensorType::F16 || type == TensorType::BF16 || type == TensorType::Q8_0) {
        std::vector<float> row(n_cols);
        for (uint64_t r = 0; r < n_rows; ++r) {
            for (float& x : row) x = scale * normal(rng);
            cpu::type_kernels(type)->from_float(row.data(), out.data() + r * row_bytes, static_cast<int64_t>(n_cols));
        }
        return out;
    }
    for (uint8_t& b : out) b = static_cast<uint8_t>(byte(rng));
    // Scales set per block so the random quants give elements of about `scale`.
    for (size_t off = 0; off < out.size(); off += t.block_bytes) {
        uint8_t* b = out.data() + off;
        const float jitter = 0.5f + std::uniform_real_distribution<float>(0.0f, 1.0f)(rng);
        switch (type) {
        case TensorType::Q4_0: put_f16(b, jitter * scale / 4.6f); break;
        case TensorType::Q4_1: put_f16(b, jitter * scale / 4.6f); put_f16(b + 2, -7.5f * jitter * scale / 4.6f); break;
        case TensorType::Q4_K: put_f16(b, jitter * scale / 255.0f); put_f16(b + 2, 7.5f * jitter * scale / 255.0f); break;
        case TensorType::Q6_K:
            for (int i = 0; i < 16; ++i) b[192 + i] = static_cast<uint8_t>(static_cast<int8_t>(byte(rng) / 2 - 64));
            put_f16(b + 208, jitter * scale / 684.0f);
            break;
        default: break;
        }
    }
    return out;
}

inline std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
    std::vector<uint8_t> b(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return b;
}

struct Shape {
    std::string arch = "llama";
    uint32_t n_layers = 2, n_embd = 256, n_ff = 512, n_heads = 4, n_kv_heads = 2, n_vocab = 300;
    bool tied = false;
    TensorType embd_type = TensorType::F32; // F32: the weights' type
};

// Writes a random model of shape s with weights of `type` under $TMPDIR; returns its path, or ""
// when the file cannot be written.
inline std::string write_model(const Shape& s, TensorType type, uint32_t seed) {
    GgufWriter g;
    g.kv_str("general.architecture", s.arch);
    const std::string a = s.arch + ".";
    g.kv_u32(a + "block_count", s.n_layers);
    g.kv_u32(a + "embedding_length", s.n_embd);
    g.kv_u32(a + "feed_forward_length", s.n_ff);
    g.kv_u32(a + "attention.head_count", s.n_heads);
    g.kv_u32(a + "attention.head_count_kv", s.n_kv_heads);
    g.kv_u32(a + "context_length", 512);
    g.kv_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
    g.kv_f32(a + "rope.freq_base", 10000.0f);
    g.kv_u32(a + "vocab_size", s.n_vocab);
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal;
    const auto vec = [&](uint64_t n, float mean, float sd) {
        std::vector<float> v(n);
        for (float& x : v) x = mean + sd * normal(rng);
        return f32_bytes(v);
    };
    const uint64_t hd = s.n_embd / s.n_heads, q_dim = hd * s.n_heads, kv_dim = hd * s.n_kv_heads;
    const float in_scale = 1.0f / std::sqrt(static_cast<float>(s.n_embd));
    const auto mat = [&](const std::string& name, uint64_t cols, uint64_t rows, float scale) {
        g.tensor(name, {cols, rows}, type, random_rows(type, rows, cols, scale, rng));
    };
    const TensorType embd_type = s.embd_type == TensorType::F32 ? type : s.embd_type;
    g.tensor("token_embd.weight", {s.n_embd, s.n_vocab}, embd_type, random_rows(embd_type, s.n_vocab, s.n_embd, 1.0f, rng));
    if (!s.tied) mat("output.weight", s.n_embd, s.n_vocab, in_scale * 4.0f);
    g.tensor("output_norm.weight", {s.n_embd}, TensorType::F32, vec(s.n_embd, 1.0f, 0.1f));
    for (uint32_t il = 0; il < s.n_layers; ++il) {
        const std::string p = "blk." + std::to_string(il) + ".";
        g.tensor(p + "attn_norm.weight", {s.n_embd}, TensorType::F32, vec(s.n_embd, 1.0f, 0.1f));
        mat(p + "attn_q.weight", s.n_embd, q_dim, in_scale * 2.0f);
        mat(p + "attn_k.weight", s.n_embd, kv_dim, in_scale * 2.0f);
        mat(p + "attn_v.weight", s.n_embd, kv_dim, in_scale);
        if (s.arch == "qwen2") {
            g.tensor(p + "attn_q.bias", {q_dim}, TensorType::F32, vec(q_dim, 0.0f, 0.1f));
            g.tensor(p + "attn_k.bias", {kv_dim}, TensorType::F32, vec(kv_dim, 0.0f, 0.1f));
            g.tensor(p + "attn_v.bias", {kv_dim}, TensorType::F32, vec(kv_dim, 0.0f, 0.1f));
        }
        mat(p + "attn_output.weight", q_dim, s.n_embd, 1.0f / std::sqrt(static_cast<float>(q_dim)));
        g.tensor(p + "ffn_norm.weight", {s.n_embd}, TensorType::F32, vec(s.n_embd, 1.0f, 0.1f));
        mat(p + "ffn_gate.weight", s.n_embd, s.n_ff, in_scale);
        mat(p + "ffn_up.weight", s.n_embd, s.n_ff, in_scale);
        mat(p + "ffn_down.weight", s.n_ff, s.n_embd, 1.0f / std::sqrt(static_cast<float>(s.n_ff)));
    }
    const char* dir = std::getenv("TMPDIR");
    const std::string path = std::string(dir ? dir : "/tmp") + "/cuda-forward-test-" + std::to_string(::getpid()) +
                             "-" + std::to_string(seed) + ".gguf";
    return g.write(path) ? path : std::string();
}

// SmolLM2-135M's shape and types: Q4_1 layers (write_model's type) with a tied Q8_0 embedding.
inline Shape smollm2_shape() {
    Shape s;
    s.n_layers = 30;
    s.n_embd = 576;
    s.n_ff = 1536;
    s.n_heads = 9;
    s.n_kv_heads = 3;
    s.n_vocab = 49152;
    s.tied = true;
    s.embd_type = TensorType::Q8_0;
    return s;
}

// Llama-3.2-1B's shape with a tied Q8_0 embedding (the benches write its layers as Q8_0).
inline Shape llama1b_shape() {
    Shape s;
    s.n_layers = 16;
    s.n_embd = 2048;
    s.n_ff = 8192;
    s.n_heads = 32;
    s.n_kv_heads = 8;
    s.n_vocab = 128256;
    s.tied = true;
    s.embd_type = TensorType::Q8_0;
    return s;
}

} // namespace sq::forward_model
