#include "attention-batch.cuh"

#include <cfloat>

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

template <typename T>
__device__ T block_reduce(T v, T* scratch, bool is_max) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
        const T o = __shfl_xor_sync(0xffffffffu, v, off);
        v = is_max ? (o > v ? o : v) : v + o;
    }
    __syncthreads(); // scratch may still be read from the previous reduction
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    T r = scratch[0];
    for (int w = 1; w < kWarps; ++w) r = is_max ? (scratch[w] > r ? scratch[w] : r) : r + scratch[w];
    return r;
}

static __global__ void __launch_bounds__(kThreads) attention_batch_kernel(AttentionBatchParams p) {
    extern __shared__ float smem[];
    float* q16 = smem;                 // [head_dim] query rounded to F16
    float* scores = smem + p.head_dim; // [n_kv] scores, then probabilities rounded to F16
    __shared__ double dscratch[kWarps];
    __shared__ float fscratch[kWarps];

    const int h = blockIdx.x, t = blockIdx.y;
    const int n_kv = p.pos0 + t + 1;
    const int kvh = h / (p.n_heads / p.n_kv_heads);
    const __half* k = p.k + static_cast<long>(kvh) * p.n_ctx * p.head_dim;
    const __half* v = p.v + static_cast<long>(kvh) * p.n_ctx * p.head_dim;
    const float* q = p.q + t * p.q_stride + static_cast<long>(h) * p.head_dim;
    for (int d = threadIdx.x; d < p.head_dim; d += kThreads) q16[d] = __half2float(__float2half_rn(q[d]));
    __syncthreads();

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int j = warp; j < n_kv; j += kWarps) {
        const __half* kj = k + static_cast<long>(j) * p.head_dim;
        float dot = 0.0f;
        for (int d = lane; d < p.head_dim; d += 32) dot = fmaf(q16[d], __half2float(kj[d]), dot);
#pragma unroll
        for (int off = 16; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        if (lane == 0) scores[j] = dot * p.scale;
    }
    __syncthreads();

    float max = -FLT_MAX;
    for (int j = threadIdx.x; j < n_kv; j += kThreads) max = fmaxf(max, scores[j]);
    max = block_reduce(max, fscratch, true);
    double sum = 0.0;
    for (int j = threadIdx.x; j < n_kv; j += kThreads) {
        const float e = expf(scores[j] - max);
        scores[j] = e;
        sum += static_cast<double>(e);
    }
    sum = block_reduce(sum, dscratch, false);
    const float inv = static_cast<float>(1.0 / sum);
    for (int j = threadIdx.x; j < n_kv; j += kThreads) scores[j] = __half2float(__float2half_rn(scores[j] * inv));
    __syncthreads();

    float* out = p.out + t * p.out_stride + static_cast<long>(h) * p.head_dim;
    for (int d = threadIdx.x; d < p.head_dim; d += kThreads) {
        float acc = 0.0f;
        for (int j = 0; j < n_kv; ++j) acc = fmaf(scores[j], __half2float(v[static_cast<long>(j) * p.head_dim + d]), acc);
        out[d] = acc;
    }
}

size_t smem_bytes(int head_dim, int n_kv) { return sizeof(float) * (static_cast<size_t>(head_dim) + n_kv); }

} // namespace

int attention_batch_max_keys(int head_dim) {
    int device = 0, optin = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess)
        return 0;
    const int reserved = 1024; // the kernel's static reduction scratch
    return (optin - reserved) / static_cast<int>(sizeof(float)) - head_dim;
}

cudaError_t attention_batch(const AttentionBatchParams& p, cudaStream_t stream) {
    if (p.n_tokens <= 0) return cudaSuccess;
    if (!p.q || !p.k || !p.v || !p.out || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || p.head_dim <= 0 ||
        p.head_dim > 256 || p.pos0 < 0 || p.pos0 + p.n_tokens > p.n_ctx || p.n_tokens > 65535)
        return cudaErrorInvalidValue;
    const int max_kv = p.pos0 + p.n_tokens;
    if (max_kv > attention_batch_max_keys(p.head_dim)) return cudaErrorInvalidValue;
    const size_t bytes = smem_bytes(p.head_dim, max_kv);
    if (bytes > 48 * 1024) {
        const cudaError_t err =
            cudaFuncSetAttribute(attention_batch_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
        if (err != cudaSuccess) return err;
    }
    attention_batch_kernel<<<dim3(p.n_heads, p.n_tokens), kThreads, bytes, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
