#include "squeeze-token-mass.cuh"

#include <cuda_fp16.h>

namespace sq::cuda {

namespace {

constexpr int kBlock = 128;

template <int D>
static __global__ void squeeze_token_mass_kernel(SqueezeTokenMassParams p) {
    const int h = blockIdx.y;
    const int e = blockIdx.x * kBlock + threadIdx.x;
    if (e >= p.n_keys[h]) return;
    const int slot = p.slots[h * p.slot_stride + e];
    const __half* k = static_cast<const __half*>(p.k) + h * p.kv_head_stride + static_cast<long>(slot) * D;
    float key[D];
#pragma unroll
    for (int d = 0; d < D; ++d) key[d] = __half2float(k[d]);
    const int group = p.n_heads / p.n_kv_heads;
    float acc = 0.0f;
    for (int t = 0; t < p.n_q; ++t)
        for (int g = 0; g < group; ++g) {
            const int head = h * group + g;
            const float* q = p.q + (static_cast<long>(t) * p.n_heads + head) * D;
            float dot = 0.0f;
#pragma unroll
            for (int d = 0; d < D; ++d) dot = fmaf(q[d], key[d], dot);
            acc += expf(p.scale * dot - p.lse[head * p.lse_head_stride + t * p.lse_token_stride]);
        }
    atomicAdd(p.mass + p.token_of_slot[static_cast<long>(h) * p.n_fixed + slot], acc);
}

} // namespace

cudaError_t squeeze_token_mass(const SqueezeTokenMassParams& p, cudaStream_t stream) {
    if (p.n_q <= 0 || p.n_fixed <= 0) return cudaSuccess;
    if (!p.q || !p.lse || !p.k || !p.slots || !p.n_keys || !p.token_of_slot || !p.mass || p.n_kv_heads <= 0 ||
        p.n_heads % p.n_kv_heads != 0)
        return cudaErrorInvalidValue;
    const dim3 grid((p.n_fixed + kBlock - 1) / kBlock, p.n_kv_heads);
    switch (p.head_dim) {
    case 64: squeeze_token_mass_kernel<64><<<grid, kBlock, 0, stream>>>(p); break;
    case 128: squeeze_token_mass_kernel<128><<<grid, kBlock, 0, stream>>>(p); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace sq::cuda
