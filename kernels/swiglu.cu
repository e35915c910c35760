#include "swiglu.cuh"

#include "ggml-order.cuh"

namespace sq::cuda {

namespace {

constexpr int kBlock = 256;

static __global__ void swiglu_kernel(SwigluParams p) {
    for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < p.n;
         i += static_cast<long>(gridDim.x) * blockDim.x) {
        const float g = p.gate[i];
        p.y[i] = ggml_order::silu_ggml(g) * p.up[i];
    }
}

} // namespace

cudaError_t swiglu(const SwigluParams& p, cudaStream_t stream) {
    if (p.n <= 0) return cudaSuccess;
    if (!p.gate || !p.up || !p.y) return cudaErrorInvalidValue;
    // Grid-stride loop: a decode step's n (a few 10K) fits in one wave; no size overflows the grid.
    const long blocks = (p.n + kBlock - 1) / kBlock;
    swiglu_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), kBlock, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
