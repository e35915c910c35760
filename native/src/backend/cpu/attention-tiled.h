// Causal attention of a whole prefill batch over a long KV cache, flash-attention style: queries
// and keys are cut into tiles so that a K/V tile, converted to f32 once, serves every query of a
// tile and every query head of its KV group (GQA) while it sits in L1/L2, with an online softmax.
//
// This is the fast path for long contexts. llama.cpp's default CPU prefill (llama-bench, flash
// attention "auto") runs its own tiled flash attention (ggml-cpu ops.cpp,
// ggml_compute_forward_flash_attn_ext_tiled): f32 queries, K/V tiles converted to f32, online
// softmax, no F16 rounding of the query or the probabilities. This kernel keeps that numeric
// contract (it does not reproduce its summation order), so it is not bit-equal to the per-head
// kernels of ops.h, which mirror llama.cpp's non-flash graph; callers keep those for short
// contexts (see kTiledMinKeys).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "thread-pool.h"

namespace sq::cpu {

struct TiledAttentionParams {
    const float* q = nullptr;  // [n_tokens][q_stride]: query head h of token t at q + t * q_stride + h * head_dim
    size_t q_stride = 0;
    float* out = nullptr;      // [n_tokens][out_stride], laid out as q
    size_t out_stride = 0;
    // KV cache of one layer: [n_kv_heads][kv_head_rows][head_dim], of uint16_t (F16) or float.
    const void* k = nullptr;
    const void* v = nullptr;
    bool kv_f16 = true;
    size_t kv_head_rows = 0;   // rows between two KV heads (the context size)
    uint32_t n_tokens = 0;     // the batch: tokens at positions pos0 .. pos0 + n_tokens - 1
    uint32_t pos0 = 0;         // cached positions before the batch; token t sees keys 0 .. pos0 + t
    uint32_t n_heads = 0;
    uint32_t n_kv_heads = 0;   // divides n_heads; query head h reads KV head h / (n_heads / n_kv_heads)
    uint32_t head_dim = 0;
    float scale = 1.0f;        // multiplies q·k before the softmax
};

// Below this many visible keys a batch keeps the per-head kernels (bit-equal to llama.cpp's
// non-flash path, which the parity tests check on prompts of up to 512 tokens). This is set by
// parity, not speed: on SmolLM2's heads (9/3, head_dim 64, 2 threads) a 512-token batch took
// 5.4 ms tiled vs 26 ms per-head from an empty cache, 211 vs 2066 ms at 7680 cached keys
// (bench/results/cpu-prefill-2026-11-26.md).
constexpr uint32_t kTiledMinKeys = 1024;

// Whether this CPU (AVX2+FMA+F16C or AVX-512) has the kernel for head_dim (a multiple of 16, <= 256).
bool attention_tiled_supported(uint32_t head_dim);

// Runs the whole batch on the pool. scratch is grown as needed and can be reused across calls.
// level: nullptr for the best this CPU has, or "avx2" / "avx512" (tests compare levels); a level
// the CPU lacks, or an unsupported head_dim, returns false without touching out.
bool attention_tiled(ThreadPool& pool, const TiledAttentionParams& p, std::vector<float>& scratch,
                     const char* level = nullptr);

} // namespace sq::cpu
