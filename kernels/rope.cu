#include "rope.cuh"

#include <cmath>

namespace sq::cuda {

namespace {

constexpr int kBlock = 128;
constexpr int kMaxRot = 512;

// One block per token: the cos/sin table of its position is built once in shared memory and used
// by every head. Pair i multiplies theta_scale into pos i times, in order, so theta is bit-equal to
// the CPU's running product; cosf/sinf are within a few ulp of libm.
static __global__ void rope_kernel(RopeParams p, float theta_scale) {
    __shared__ float cache[kMaxRot]; // {cos0, sin0, cos1, sin1, ...}
    const int token = blockIdx.x;
    const int n_pairs = p.n_rot / 2;
    for (int i = threadIdx.x; i < n_pairs; i += blockDim.x) {
        if (p.cos_sin) {
            cache[2 * i] = p.cos_sin[static_cast<long>(token) * p.n_rot + 2 * i];
            cache[2 * i + 1] = p.cos_sin[static_cast<long>(token) * p.n_rot + 2 * i + 1];
            continue;
        }
        float theta = static_cast<float>(p.positions[token]);
        for (int k = 0; k < i; ++k) theta *= theta_scale;
        const float ff = p.freq_factors ? p.freq_factors[i] : 1.0f;
        const float t = p.freq_scale * (theta / ff);
        cache[2 * i] = cosf(t);
        cache[2 * i + 1] = sinf(t);
    }
    __syncthreads();

    float* x = p.x + token * p.x_token_stride;
    for (int idx = threadIdx.x; idx < p.n_heads * n_pairs; idx += blockDim.x) {
        const int h = idx / n_pairs, i = idx % n_pairs;
        float* v = x + static_cast<long>(h) * p.head_dim;
        const int a = p.neox ? i : 2 * i;
        const int b = p.neox ? i + n_pairs : 2 * i + 1;
        const float c = cache[2 * i], s = cache[2 * i + 1];
        const float x0 = v[a], x1 = v[b];
        // The CPU's rounding (ops.cpp rope_apply): one fused multiply-add of two products.
        v[a] = fmaf(x0, c, -(x1 * s));
        v[b] = fmaf(x0, s, x1 * c);
    }
}

} // namespace

cudaError_t rope(const RopeParams& p, cudaStream_t stream) {
    if (p.n_tokens <= 0 || p.n_heads <= 0 || p.n_rot == 0) return cudaSuccess;
    if (p.n_rot < 0 || p.n_rot % 2 != 0 || p.n_rot > p.head_dim || p.head_dim > kMaxRot || !p.x || (!p.positions && !p.cos_sin))
        return cudaErrorInvalidValue;
    // Computed on the host with std::pow exactly as the CPU reference does.
    const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.n_rot));
    rope_kernel<<<p.n_tokens, kBlock, 0, stream>>>(p, theta_scale);
    return cudaGetLastError();
}

} // namespace sq::cuda
