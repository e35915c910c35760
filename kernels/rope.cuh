// Rotary position embedding on the GPU, in place, with the CPU reference's numerics
// (backend/cpu/ops.h rope_cache/rope_apply): theta_i = pos * theta_scale^i built by repeated float
// multiplication, optional freq_factors dividing theta, linear freq_scale, normal or NeoX pairs.
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

struct RopeParams {
    float* x;                   // [n_tokens][n_heads][head_dim], token stride x_token_stride floats
    const int* positions;       // [n_tokens], device memory
    const float* freq_factors;  // [n_rot / 2] divisors of theta (rope_freqs.weight), or null
    int n_tokens;
    int n_heads;
    int head_dim;
    int n_rot;                  // rotated dims, the first n_rot of each head; even, <= head_dim <= 512
    long x_token_stride;
    float freq_base;
    float freq_scale;           // linear scaling: theta *= freq_scale
    bool neox;                  // pairs (i, i + n_rot/2) instead of (2i, 2i+1)
    // [n_tokens][n_rot] {cos0, sin0, cos1, ...} computed by the caller (the CPU's rope_cache gives
    // libm's bits), or null to compute them here from positions (cosf/sinf: a few ulp off libm).
    const float* cos_sin = nullptr;
};

cudaError_t rope(const RopeParams& p, cudaStream_t stream);

} // namespace sq::cuda
