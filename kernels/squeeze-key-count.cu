#include "squeeze-key-count.cuh"

namespace sq::cuda {

namespace {

static __global__ void squeeze_key_count_kernel(SqueezeKeyCountParams p) {
    const int h = blockIdx.x * blockDim.x + threadIdx.x;
    if (h >= p.n_kv_heads) return;
    const double k = p.n_keys[h];
    p.sums[2 * h] += k;
    p.sums[2 * h + 1] += k * k;
}

} // namespace

cudaError_t squeeze_key_count(const SqueezeKeyCountParams& p, cudaStream_t stream) {
    if (p.n_kv_heads <= 0) return cudaSuccess;
    if (!p.n_keys || !p.sums) return cudaErrorInvalidValue;
    squeeze_key_count_kernel<<<(p.n_kv_heads + 127) / 128, 128, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
