#include "add.cuh"

namespace sq::cuda {

namespace {

constexpr int kBlock = 256;

static __global__ void add_kernel(AddParams p) {
    for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < p.n;
         i += static_cast<long>(gridDim.x) * blockDim.x) {
        p.y[i] += p.x[i % p.x_period];
    }
}

} // namespace

cudaError_t add(const AddParams& p, cudaStream_t stream) {
    if (p.n <= 0) return cudaSuccess;
    if (!p.y || !p.x || p.x_period <= 0) return cudaErrorInvalidValue;
    const long blocks = (p.n + kBlock - 1) / kBlock;
    add_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), kBlock, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
