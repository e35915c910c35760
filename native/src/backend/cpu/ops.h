// CPU reference ops of the forward pass, one idea per function, written to mirror ggml-cpu's
// numerics (accumulation types, operation order, rounding points) so logits agree with llama.cpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sq::cpu {

// y = x / sqrt(mean(x^2) + eps) * w over n elements. The mean of squares is accumulated in double,
// as ggml_compute_forward_rms_norm does; the scale and the weight multiply are float.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

struct RopeParams {
    uint32_t n_rot = 0;           // rotated dims (the first n_rot of each head), even
    float freq_base = 10000.0f;
    float freq_scale = 1.0f;      // linear scaling: theta *= freq_scale
    const float* freq_factors = nullptr; // [n_rot/2] divisors of theta (rope_freqs.weight), or null
    bool neox = false;            // pairs (i, i + n_rot/2) instead of (2i, 2i+1)
};

// cos/sin of every rotated pair at position pos: cache [n_rot] = {cos0, sin0, cos1, sin1, ...}.
// theta_i = pos * base^(-2i/n_rot), built by repeated float multiplication like ggml_rope_cache_init.
void rope_cache(const RopeParams& p, int32_t pos, float* cache);

// Rotates the first n_rot dims of each of n_heads heads in x [n_heads][head_dim], in place, each
// output as one fused multiply-add of two products (as ggml-cpu's compiled rotate_pairs rounds).
void rope_apply(const RopeParams& p, const float* cache, float* x, uint32_t n_heads, uint32_t head_dim);

// x = softmax(x * scale) in place: max-subtracted expf, sum in double, then one float multiply by
// 1/sum (ggml_soft_max_ext without a mask; masked keys are simply not passed).
void soft_max_scaled(float* x, int64_t n, float scale);

// y = silu(gate) * up, silu(g) = g / (1 + exp(-g)), with ggml's vector exp where the CPU has
// AVX-512 (ops-expf.h), as ggml_vec_swiglu_f32. y may alias gate.
void swiglu(const float* gate, const float* up, float* y, int64_t n);

// y += x over n elements. y may alias x of another row only if identical.
void add(float* y, const float* x, int64_t n);

// Attention of one query head over n_kv cached positions of one KV head (all of them visible: the
// caller passes n_kv = position + 1 for causal attention). k, v: [n_kv][head_dim] rows.
// out: [head_dim]. scores: scratch [n_kv rounded up to 16].
//
// On AVX-512 CPUs the summation order follows the kernels llama.cpp's CPU backend runs for its
// non-flash attention graph (see ops-attention.cpp), whose choice depends on whether the batch holds
// a single token: `single_token` says so. Elsewhere a plain SIMD order is used.
void attention_f32(const float* q, const float* k, const float* v, uint32_t n_kv, uint32_t head_dim,
                   float scale, bool single_token, float* scores, float* out);
// The same over an F16 cache. As ggml's mul_mat converts its F32 operand to the F16 vec_dot type,
// the query is rounded to F16 before the K dot and the probabilities before the V product.
// q16: scratch [head_dim]; p16: scratch [n_kv rounded up to 16].
void attention_f16(const float* q, const uint16_t* k, const uint16_t* v, uint32_t n_kv, uint32_t head_dim,
                   float scale, bool single_token, float* scores, uint16_t* q16, uint16_t* p16, float* out);

} // namespace sq::cpu
