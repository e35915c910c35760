#include "attention-batch.cuh"

#include <atomic>
#include <cfloat>
#include <cstdint>

#include "ggml-order.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;

using ggml_order::dot_chain16;
using ggml_order::dot_vec_f16;
using ggml_order::f16_to_float;
using ggml_order::reduce_add16;
using ggml_order::tree16;

__device__ float block_max(float v, float* scratch) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
    __syncthreads();
    float r = scratch[0];
    for (int w = 1; w < kWarps; ++w) r = fmaxf(r, scratch[w]);
    return r;
}

static __global__ void __launch_bounds__(kThreads) attention_batch_kernel(AttentionBatchParams p) {
    extern __shared__ float smem[];
    const int n_kv = (p.pos0_device ? *p.pos0_device : p.pos0) + blockIdx.y + 1;
    const int n16 = (n_kv + 15) / 16 * 16;
    float* q16 = smem;                    // [head_dim] query rounded to F16
    float* scores = q16 + p.head_dim;     // [n16] scores, exps, then probabilities rounded to F16
    float* chunk_sums = scores + n16;     // [n16 / 16]
    __shared__ float scratch[kWarps];
    __shared__ float inv_sum;

    const int h = blockIdx.x, t = blockIdx.y;
    const int kvh = h / (p.n_heads / p.n_kv_heads);
    const long head_offset = static_cast<long>(kvh) * p.n_ctx * p.head_dim;
    const uint16_t* k = reinterpret_cast<const uint16_t*>(p.k) + head_offset;
    const uint16_t* v = reinterpret_cast<const uint16_t*>(p.v) + head_offset;
    const float* q = p.q + t * p.q_stride + static_cast<long>(h) * p.head_dim;
    for (int d = threadIdx.x; d < p.head_dim; d += kThreads) q16[d] = ggml_order::round_f16(q[d]);
    __syncthreads();

    const bool single_token = p.n_tokens == 1;
    const bool chain = !single_token && p.head_dim % 16 == 0;
    float max = -FLT_MAX;
    for (int j = threadIdx.x; j < n_kv; j += kThreads) {
        const uint16_t* kj = k + static_cast<long>(j) * p.head_dim;
        const float s = (chain ? dot_chain16(kj, q16, p.head_dim) : dot_vec_f16(kj, q16, p.head_dim)) * p.scale;
        scores[j] = s;
        max = fmaxf(max, s);
    }
    max = block_max(max, scratch);

    for (int c = threadIdx.x; c < n16 / 16; c += kThreads) {
        float e[16];
#pragma unroll
        for (int l = 0; l < 16; ++l) {
            const int j = 16 * c + l;
            e[l] = j < n_kv ? ggml_order::expf_ggml(scores[j] - max) : 0.0f; // masked keys: exp(-inf) = 0
            if (j < n_kv) scores[j] = e[l];
        }
        chunk_sums[c] = reduce_add16(e);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        double sum = 0.0;
        for (int c = 0; c < n16 / 16; ++c) sum += static_cast<double>(chunk_sums[c]);
        inv_sum = static_cast<float>(1.0 / sum);
    }
    __syncthreads();
    for (int j = threadIdx.x; j < n_kv; j += kThreads) scores[j] = ggml_order::round_f16(scores[j] * inv_sum);
    __syncthreads();

    float* out = p.out + t * p.out_stride + static_cast<long>(h) * p.head_dim;
    for (int d = threadIdx.x; d < p.head_dim; d += kThreads) {
        const uint16_t* vd = v + d;
        float lane[16];
        if (single_token) {
            // ggml_vec_dot_f16 over the keys: key j in chain (j / 16) % 4, lane j % 16.
            float acc[64] = {};
            for (int j0 = 0; j0 < n_kv; j0 += 64) {
#pragma unroll
                for (int c = 0; c < 64; ++c) {
                    const int j = j0 + c;
                    if (j < n_kv) acc[c] = fmaf(f16_to_float(vd[static_cast<long>(j) * p.head_dim]), scores[j], acc[c]);
                }
            }
#pragma unroll
            for (int l = 0; l < 16; ++l) lane[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]);
        } else {
            // tinyBLAS over the keys: key j in lane j % 16.
#pragma unroll
            for (int l = 0; l < 16; ++l) lane[l] = 0.0f;
            for (int j0 = 0; j0 < n_kv; j0 += 16) {
#pragma unroll
                for (int l = 0; l < 16; ++l) {
                    const int j = j0 + l;
                    if (j < n_kv) lane[l] = fmaf(f16_to_float(vd[static_cast<long>(j) * p.head_dim]), scores[j], lane[l]);
                }
            }
        }
        out[d] = tree16(lane);
    }
}

size_t smem_bytes(int head_dim, int n_kv) {
    const size_t n16 = (static_cast<size_t>(n_kv) + 15) / 16 * 16;
    return sizeof(float) * (static_cast<size_t>(head_dim) + n16 + n16 / 16);
}

} // namespace

int attention_batch_max_keys(int head_dim) {
    static const int optin = [] {
        int device = 0, bytes = 0;
        if (cudaGetDevice(&device) != cudaSuccess ||
            cudaDeviceGetAttribute(&bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess)
            return 0;
        return bytes;
    }();
    const int reserved = 1024; // the kernel's static scratch
    const int floats = (optin - reserved) / static_cast<int>(sizeof(float)) - head_dim;
    return floats <= 32 ? 0 : floats * 16 / 17 - 16; // scores padded to 16, plus one chunk sum per 16
}

cudaError_t attention_batch(const AttentionBatchParams& p, cudaStream_t stream) {
    if (p.n_tokens <= 0) return cudaSuccess;
    if (!p.q || !p.k || !p.v || !p.out || p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || p.head_dim <= 0 ||
        p.head_dim > 256 || p.n_tokens > 65535 || (!p.pos0_device && (p.pos0 < 0 || p.pos0 + p.n_tokens > p.n_ctx)))
        return cudaErrorInvalidValue;
    const int max_kv = p.pos0_device ? p.n_ctx : p.pos0 + p.n_tokens;
    if (max_kv > attention_batch_max_keys(p.head_dim)) return cudaErrorInvalidValue;
    const size_t bytes = smem_bytes(p.head_dim, max_kv);
    // Raised once per size, never lowered: a launch being captured into a graph then sets nothing.
    static std::atomic<size_t> allowed{48 * 1024};
    if (bytes > allowed.load()) {
        const cudaError_t err =
            cudaFuncSetAttribute(attention_batch_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
        if (err != cudaSuccess) return err;
        size_t seen = allowed.load();
        while (seen < bytes && !allowed.compare_exchange_weak(seen, bytes)) {
        }
    }
    attention_batch_kernel<<<dim3(p.n_heads, p.n_tokens), kThreads, bytes, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
