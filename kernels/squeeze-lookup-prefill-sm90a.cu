#include "squeeze-lookup-prefill-sm90a.cuh"

#include <cstdint>
#include <math_constants.h>

#include "mma.cuh"
#include "wgmma.cuh"

namespace sq::cuda {

namespace {

constexpr int kD = 128;
constexpr int kThreads = 256;        // two warpgroups, 64 A rows each
constexpr int kRows = 128;           // A rows a block: tokens (log D) or clusters (mean)
constexpr int kTile = 128;           // B rows a shared-memory stage: clusters (log D) or tokens (mean)
constexpr int kChunks = kD / 8;      // 16-byte chunks a row
constexpr int kTileBytes = kTile * kD * 2;
constexpr int kSmemBytes = 2 * kTileBytes + 1024; // two stages + alignment of the base to 1024
constexpr float kLog2e = 1.4426950408889634f;

// Rows [first, first + kTile) of src ([n][kD], rows past n as zeros) into a swizzled stage.
template <typename T>
__device__ __forceinline__ void load_stage(unsigned char* stage, const T* src, int first, int n) {
    for (int i = threadIdx.x; i < kTile * kChunks; i += kThreads) {
        const int r = i / kChunks, pc = i % kChunks;
        unsigned char* dst = stage + swizzle_offset(r, pc, kTile);
        if (first + r < n) cp_async16(dst, src + static_cast<long>(first + r) * kD + pc * 8);
        else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
    }
}

// D (64 x 128) = A (this warpgroup's 64 rows, registers) B^T (a stage's 128 rows).
template <typename T>
__device__ __forceinline__ void product(float (&s)[64], const uint32_t (&a)[kD / 16][4], const unsigned char* stage) {
#pragma unroll
    for (int i = 0; i < 64; ++i) s[i] = 0.0f;
    wgmma_fence_operands(s);
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < kD / 16; ++ks) wgmma_m64n128k16_rs<T>(s, a[ks], wgmma_desc(stage + (ks / 4) * kTileBytes / 2 + (ks % 4) * 32), ks > 0);
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_operands(s);
}

__device__ __forceinline__ unsigned char* aligned_smem(unsigned char* raw) {
    return raw + ((1024 - static_cast<uint32_t>(__cvta_generic_to_shared(raw)) % 1024) % 1024);
}

// log2 D of 128 tokens of one query head (warpgroup w: tokens 64w..64w+63, as A fragments) against
// all level-0 centroids, 128 a stage (two cp.async stages): S = Q C^T on wgmma, an online log-sum-exp
// of scale q.c_j + log n_j along each row.
template <typename T>
static __global__ void __launch_bounds__(kThreads) log_d_kernel(LookupLogDArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    unsigned char* stages = aligned_smem(smem_raw); // [2][2 halves][kTile][64]
    __shared__ float log_counts[2][kTile];          // log2 n_j of the stage's clusters, -inf past the level

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int head = blockIdx.y, kv_head = head / a.group;
    const int row = static_cast<int>(blockIdx.x) * kRows + warp * 16 + g;
    const int qi[2] = {row, row + 8};
    const T* cents = static_cast<const T*>(a.centroids) + static_cast<long>(kv_head) * a.n_clusters * kD;
    const float* counts = a.log_counts + static_cast<long>(kv_head) * a.n_clusters;
    const auto load = [&](int c, int buf) {
        load_stage(stages + buf * kTileBytes, cents, c * kTile, a.n_clusters);
        if (threadIdx.x < kTile)
            log_counts[buf][threadIdx.x] = c * kTile + threadIdx.x < a.n_clusters ? counts[c * kTile + threadIdx.x] * kLog2e : -CUDART_INF_F;
        cp_async_commit();
    };
    const int n_chunks = (a.n_clusters + kTile - 1) / kTile;
    load(0, 0);

    uint32_t qa[kD / 16][4];
    {
        const T* qh = static_cast<const T*>(a.q) + static_cast<long>(head) * a.n_q * kD;
        const uint32_t* r0 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(min(qi[0], a.n_q - 1)) * kD);
        const uint32_t* r1 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(min(qi[1], a.n_q - 1)) * kD);
        load_a_rows(qa, r0, r1, qi[0] < a.n_q, qi[1] < a.n_q, t);
    }
    const float score_scale = a.scale * kLog2e;
    float m[2] = {-CUDART_INF_F, -CUDART_INF_F}, l[2] = {0.0f, 0.0f};
    for (int c = 0; c < n_chunks; ++c) {
        const int buf = c & 1;
        if (c + 1 < n_chunks) {
            load(c + 1, buf ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        fence_proxy_async();
        __syncthreads();
        float s[64];
        product<T>(s, qa, stages + buf * kTileBytes);
        float mx[2] = {m[0], m[1]};
#pragma unroll
        for (int nt = 0; nt < kTile / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const float lc = log_counts[buf][nt * 8 + 2 * t + e];
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    s[4 * nt + 2 * h + e] = s[4 * nt + 2 * h + e] * score_scale + lc;
                    mx[h] = fmaxf(mx[h], s[4 * nt + 2 * h + e]);
                }
            }
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
            if (mx[h] > m[h]) {
                l[h] *= exp2f(m[h] - mx[h]);
                m[h] = mx[h];
            }
            const float base = m[h] == -CUDART_INF_F ? 0.0f : m[h];
#pragma unroll
            for (int nt = 0; nt < kTile / 8; ++nt) l[h] += exp2f(s[4 * nt + 2 * h] - base) + exp2f(s[4 * nt + 2 * h + 1] - base);
        }
        __syncthreads(); // the next iteration refills this stage
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
        if (t == 0 && qi[h] < a.n_q) a.log2_d[static_cast<long>(head) * a.n_q + qi[h]] = l[h] > 0.0f ? m[h] + log2f(l[h]) : -CUDART_INF_F;
    }
#endif
}

// Token-averaged scores of 128 clusters (warpgroup w: list positions 64w..64w+63, their centroids
// gathered as A fragments) of one query head against all its tokens, 128 a stage with their log2 D:
// S^T = C Q^T on wgmma; each thread sums exp over its token columns in registers.
template <typename T>
static __global__ void __launch_bounds__(kThreads) mean_kernel(LookupMeanArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    unsigned char* stages = aligned_smem(smem_raw); // [2][2 halves][kTile][64]
    __shared__ float log2_d[2][kTile];              // +inf past the question: those columns add 0

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int head = blockIdx.y, kv_head = head / a.group;
    const int count = a.list ? a.list_count[kv_head] : a.n_clusters;
    const int pos0 = blockIdx.x * kRows;
    if (pos0 >= count) return; // the grid is sized for every cluster; the list may hold fewer

    const T* qh = static_cast<const T*>(a.q) + static_cast<long>(head) * a.n_q * kD;
    const float* log2_dh = a.log2_d + static_cast<long>(head) * a.n_q;
    const auto load = [&](int it, int buf) {
        load_stage(stages + buf * kTileBytes, qh, it * kTile, a.n_q);
        if (threadIdx.x < kTile) log2_d[buf][threadIdx.x] = it * kTile + threadIdx.x < a.n_q ? log2_dh[it * kTile + threadIdx.x] : CUDART_INF_F;
        cp_async_commit();
    };
    const int n_tiles = (a.n_q + kTile - 1) / kTile;
    load(0, 0);

    int cluster[2]; // rows g and g + 8 of this warp's 16; -1 past the list
    uint32_t ca[kD / 16][4];
    {
        const int* list = a.list ? a.list + static_cast<long>(kv_head) * a.n_clusters : nullptr;
        const T* cents = static_cast<const T*>(a.centroids) + static_cast<long>(kv_head) * a.n_clusters * kD;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int pos = pos0 + warp * 16 + g + 8 * h;
            cluster[h] = pos >= count ? -1 : list ? list[pos] : pos;
        }
        const uint32_t* r0 = reinterpret_cast<const uint32_t*>(cents + static_cast<long>(max(cluster[0], 0)) * kD);
        const uint32_t* r1 = reinterpret_cast<const uint32_t*>(cents + static_cast<long>(max(cluster[1], 0)) * kD);
        load_a_rows(ca, r0, r1, cluster[0] >= 0, cluster[1] >= 0, t);
    }
    const float score_scale = a.scale * kLog2e;
    float acc[2] = {0.0f, 0.0f};
    for (int it = 0; it < n_tiles; ++it) {
        const int buf = it & 1;
        if (it + 1 < n_tiles) {
            load(it + 1, buf ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        fence_proxy_async();
        __syncthreads();
        float s[64];
        product<T>(s, ca, stages + buf * kTileBytes);
#pragma unroll
        for (int nt = 0; nt < kTile / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const float ld = log2_d[buf][nt * 8 + 2 * t + e];
                acc[0] += exp2f(s[4 * nt + e] * score_scale - ld);
                acc[1] += exp2f(s[4 * nt + 2 + e] * score_scale - ld);
            }
        __syncthreads(); // the next iteration refills this stage
    }
    float* scores = a.scores + static_cast<long>(head) * a.n_clusters;
    const float inv_n = 1.0f / static_cast<float>(a.n_q);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        float v = acc[h];
        v += __shfl_xor_sync(0xffffffffu, v, 1);
        v += __shfl_xor_sync(0xffffffffu, v, 2);
        if (t == 0 && cluster[h] >= 0) scores[cluster[h]] = v * inv_n;
    }
#endif
}

template <typename K>
cudaError_t launch(K kernel, dim3 grid, const void* args, cudaStream_t stream) {
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    if (err != cudaSuccess) return err;
    void* params[] = {const_cast<void*>(args)};
    return cudaLaunchKernel(reinterpret_cast<const void*>(kernel), grid, dim3(kThreads), params, kSmemBytes, stream);
}

} // namespace

cudaError_t lookup_log_d_sm90a(const LookupLogDArgs& a, KvType type, int n_heads, cudaStream_t stream) {
    const dim3 grid((a.n_q + kRows - 1) / kRows, n_heads);
    return type == KvType::F16 ? launch(log_d_kernel<__half>, grid, &a, stream) : launch(log_d_kernel<__nv_bfloat16>, grid, &a, stream);
}

cudaError_t lookup_mean_sm90a(const LookupMeanArgs& a, KvType type, int n_heads, cudaStream_t stream) {
    const dim3 grid((a.n_clusters + kRows - 1) / kRows, n_heads);
    return type == KvType::F16 ? launch(mean_kernel<__half>, grid, &a, stream) : launch(mean_kernel<__nv_bfloat16>, grid, &a, stream);
}

} // namespace sq::cuda
