#include "kv-store.cuh"

namespace sq::cuda {

namespace {

constexpr int kBlock = 256;

static __global__ void kv_store_kernel(KvStoreParams p) {
    const long per_token = static_cast<long>(p.n_kv_heads) * p.head_dim;
    const long n = per_token * p.n_tokens;
    const int pos0 = p.pos0_device ? *p.pos0_device : p.pos0;
    for (long i = blockIdx.x * static_cast<long>(blockDim.x) + threadIdx.x; i < n;
         i += static_cast<long>(gridDim.x) * blockDim.x) {
        const long t = i / per_token, hd = i % per_token;
        const long h = hd / p.head_dim, d = hd % p.head_dim;
        p.cache[(h * p.n_ctx + pos0 + t) * p.head_dim + d] = __float2half_rn(p.src[t * p.src_stride + hd]);
    }
}

} // namespace

cudaError_t kv_store(const KvStoreParams& p, cudaStream_t stream) {
    if (p.n_tokens <= 0) return cudaSuccess;
    if (!p.src || !p.cache || (!p.pos0_device && (p.pos0 < 0 || p.pos0 + p.n_tokens > p.n_ctx))) return cudaErrorInvalidValue;
    const long n = static_cast<long>(p.n_tokens) * p.n_kv_heads * p.head_dim;
    const long blocks = (n + kBlock - 1) / kBlock;
    kv_store_kernel<<<static_cast<unsigned>(blocks < 65535 ? blocks : 65535), kBlock, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
