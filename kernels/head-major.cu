#include "head-major.cuh"

#include <cuda_fp16.h>

namespace sq::cuda {

namespace {

constexpr int kBlock = 256;

// One thread per element, indexed in the destination's order so the writes are coalesced.
static __global__ void head_major_kernel(HeadMajorParams p) {
    const long n = static_cast<long>(p.n_rows) * p.n_heads * p.head_dim;
    for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long>(gridDim.x) * blockDim.x) {
        const int d = static_cast<int>(i % p.head_dim);
        const long outer = i / p.head_dim;
        if (p.direction == HeadMajorDirection::ToHeads) {
            const int r = static_cast<int>(outer % p.n_rows), h = static_cast<int>(outer / p.n_rows);
            static_cast<__half*>(p.dst)[i] = __float2half_rn(p.src[(static_cast<long>(r) * p.n_heads + h) * p.head_dim + d]);
        } else {
            const int h = static_cast<int>(outer % p.n_heads), r = static_cast<int>(outer / p.n_heads);
            static_cast<float*>(p.dst)[i] = p.src[(static_cast<long>(h) * p.n_rows + r) * p.head_dim + d];
        }
    }
}

} // namespace

cudaError_t head_major(const HeadMajorParams& p, cudaStream_t stream) {
    const long n = static_cast<long>(p.n_rows) * p.n_heads * p.head_dim;
    if (n <= 0) return cudaSuccess;
    if (!p.src || !p.dst || p.src == p.dst) return cudaErrorInvalidValue;
    const long blocks = (n + kBlock - 1) / kBlock;
    head_major_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), kBlock, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
