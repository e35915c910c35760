#include "squeeze-lookup.cuh"

#include <cstdint>
#include <cub/block/block_scan.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "cache-elem.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroup = 32;         // pass masks are 32-bit, one bit per query head of the group
constexpr int kScoreChunk = 64;       // level-0 centroids per block: at 512K keys (5243) 82 blocks a head
constexpr int kClustersPerBlock = 256; // clusters per selection / compaction block; one per compaction thread
constexpr int kSelectThreads = 256;

// Byte offsets of the workspace's arrays, 256-byte aligned.
struct Layout {
    size_t logits;                    // f32 [n_kv_heads][group][K0]: scale * q.c of level 0
    size_t chunk_lse;                 // f32 [n_kv_heads][n_chunks][group]: log sum n_j exp(scale q.c_j) per chunk
    size_t masks[kMaxSqueezeLevels];  // u32 [n_kv_heads][K_l]: heads of the group a cluster passed for
    size_t block_keys;                // i32 [n_kv_heads][n_blocks]: keys of the finest clusters per block
    size_t bytes;
    int n_chunks;
    int n_blocks;                     // selection blocks over the finest level
};

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

Layout layout_of(const SqueezeLookupParams& p) {
    Layout l{};
    const int group = p.n_heads / p.n_kv_heads;
    const size_t hkv = static_cast<size_t>(p.n_kv_heads);
    size_t at = 0;
    if (p.n_levels <= 0) return l;
    const int k0 = p.levels[0].n_clusters, kf = p.levels[p.n_levels - 1].n_clusters;
    l.n_chunks = (k0 + kScoreChunk - 1) / kScoreChunk;
    l.n_blocks = (kf + kClustersPerBlock - 1) / kClustersPerBlock;
    l.logits = at;
    at += align256(hkv * group * k0 * sizeof(float));
    l.chunk_lse = at;
    at += align256(hkv * l.n_chunks * group * sizeof(float));
    for (int i = 0; i < p.n_levels; ++i) {
        l.masks[i] = at;
        at += align256(hkv * p.levels[i].n_clusters * sizeof(uint32_t));
    }
    l.block_keys = at;
    at += align256(hkv * l.n_blocks * sizeof(int));
    l.bytes = at;
    return l;
}

template <typename T>
__device__ __forceinline__ T* at(void* ws, size_t offset) {
    return reinterpret_cast<T*>(static_cast<char*>(ws) + offset);
}

// Lanes of one centroid row (D/8 lanes, 16 bytes each) within a warp, for sub-warp shuffles.
template <int D>
__device__ __forceinline__ unsigned row_lanes() {
    constexpr int kLanes = D / 8;
    if constexpr (kLanes == 32) return 0xffffffffu;
    const int lane = threadIdx.x % 32;
    return ((1u << kLanes) - 1) << (lane / kLanes * kLanes);
}

// dot of a centroid row's 8 elements (this lane's) with head g's scaled query, summed over the row's lanes.
template <int D>
__device__ __forceinline__ float row_dot(const float* q_s, int g, int li, const float (&f)[8], unsigned lanes) {
    float dot = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) dot = fmaf(q_s[g * D + li * 8 + e], f[e], dot);
#pragma unroll
    for (int off = D / 16; off > 0; off /= 2) dot += __shfl_xor_sync(lanes, dot, off);
    return dot;
}

// q of the KV head's group, pre-multiplied by scale, into shared memory.
template <int D>
__device__ void load_group_queries(const SqueezeLookupParams& p, int kv, int group, float* q_s) {
    for (int i = threadIdx.x; i < group * D; i += blockDim.x) q_s[i] = p.q[static_cast<long>(kv) * group * D + i] * p.scale;
}

// Level 0 in full: logits scale * q.c_j of every head of the group, and per chunk of centroids
// the log-sum-exp of logit + log n_j (the share of the denominator D).
template <int D, typename T>
static __global__ void __launch_bounds__(kThreads) score_level0_kernel(SqueezeLookupParams p, Layout lay) {
    constexpr int kLanes = D / 8, kRows = kThreads / kLanes;
    __shared__ float q_s[kMaxGroup * D];
    __shared__ float logit_s[kMaxGroup][kScoreChunk];
    const int kv = blockIdx.y, group = p.n_heads / p.n_kv_heads;
    const int k0 = p.levels[0].n_clusters, j0 = blockIdx.x * kScoreChunk, n = min(kScoreChunk, k0 - j0);

    // Every centroid row of the chunk is requested before anything waits on one: a loop of
    // load-then-reduce steps was latency-bound (40 us at 32K keys on an H200).
    constexpr int kBatch = kScoreChunk / kRows;
    const int li = threadIdx.x % kLanes, row0 = threadIdx.x / kLanes;
    const unsigned lanes = row_lanes<D>();
    const uint4* c = reinterpret_cast<const uint4*>(static_cast<const T*>(p.levels[0].centroids) +
                                                    (static_cast<long>(kv) * k0 + j0) * D);
    uint4 raw[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
        const int r = row0 + b * kRows;
        raw[b] = r < n ? __ldg(c + static_cast<long>(r) * kLanes + li) : make_uint4(0, 0, 0, 0);
    }
    load_group_queries<D>(p, kv, group, q_s);
    __syncthreads();
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
        const int r = row0 + b * kRows;
        if (r >= n) break; // the same for all lanes of the row
        float f[8];
        to_float8<T>(raw[b], f);
        for (int g = 0; g < group; ++g) {
            const float dot = row_dot<D>(q_s, g, li, f, lanes);
            if (li == 0) logit_s[g][r] = dot;
        }
    }
    __syncthreads();

    float* logits = at<float>(p.workspace, lay.logits) + static_cast<long>(kv) * group * k0;
    for (int i = threadIdx.x; i < group * n; i += kThreads) logits[static_cast<long>(i / n) * k0 + j0 + i % n] = logit_s[i / n][i % n];

    const int lane = threadIdx.x % 32;
    const float* log_counts = p.log_counts + static_cast<long>(kv) * k0 + j0;
    float* chunk_lse = at<float>(p.workspace, lay.chunk_lse) + (static_cast<long>(kv) * lay.n_chunks + blockIdx.x) * group;
    for (int g = threadIdx.x / 32; g < group; g += kWarps) {
        float x[kScoreChunk / 32];
        float m = -CUDART_INF_F;
#pragma unroll
        for (int i = 0; i < kScoreChunk / 32; ++i) {
            const int r = lane + 32 * i;
            x[i] = r < n ? logit_s[g][r] + log_counts[r] : -CUDART_INF_F;
            m = fmaxf(m, x[i]);
        }
        for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < kScoreChunk / 32; ++i) s += x[i] == -CUDART_INF_F ? 0.0f : __expf(x[i] - m);
        for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) chunk_lse[g] = m + logf(s);
    }
}

__device__ __forceinline__ float log_tau(float tau) { return tau > 0.0f ? logf(tau) : -CUDART_INF_F; }

// Heads of the group for which level-0 cluster j passes: logit - log D >= log tau_0.
__device__ __forceinline__ unsigned level0_pass(const float* logits, int k0, int j, int group, const float* log_d, float lt) {
    unsigned m = 0;
    for (int g = 0; g < group; ++g)
        if (logits[static_cast<long>(g) * k0 + j] - log_d[g] >= lt) m |= 1u << g;
    return m;
}

// Pass masks of level `level`'s clusters [blockIdx.x * kClustersPerBlock, +kClustersPerBlock):
// level 0 from the stored logits; deeper levels score a cluster only for the heads its parent
// passed for. At the finest level the block also counts the keys its passing clusters hold.
template <int D, typename T>
static __global__ void __launch_bounds__(kSelectThreads) select_level_kernel(SqueezeLookupParams p, Layout lay, int level) {
    constexpr int kLanes = D / 8, kRows = kSelectThreads / kLanes, kSelectWarps = kSelectThreads / 32;
    __shared__ float q_s[kMaxGroup * D];
    __shared__ float log_d[kMaxGroup];
    __shared__ unsigned mask_s[kClustersPerBlock];
    __shared__ int warp_keys[kSelectWarps];
    const int kv = blockIdx.y, group = p.n_heads / p.n_kv_heads, lane = threadIdx.x % 32;
    const int k0 = p.levels[0].n_clusters, kl = p.levels[level].n_clusters;
    const int c0 = blockIdx.x * kClustersPerBlock, n = min(kClustersPerBlock, kl - c0);
    const float* logits = at<float>(p.workspace, lay.logits) + static_cast<long>(kv) * group * k0;

    // log D of each head from level 0's chunk partials.
    const float* chunk_lse = at<float>(p.workspace, lay.chunk_lse) + static_cast<long>(kv) * lay.n_chunks * group;
    for (int g = threadIdx.x / 32; g < group; g += kSelectWarps) {
        float m = -CUDART_INF_F;
        for (int i = lane; i < lay.n_chunks; i += 32) m = fmaxf(m, chunk_lse[i * group + g]);
        for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
        float s = 0.0f;
        for (int i = lane; i < lay.n_chunks; i += 32) s += __expf(chunk_lse[i * group + g] - m);
        for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) log_d[g] = m + logf(s);
    }
    if (level > 0) load_group_queries<D>(p, kv, group, q_s);
    __syncthreads();

    // Level 0: final masks. Deeper: the heads to score each cluster for (its parent's mask).
    const float lt0 = log_tau(p.levels[0].tau);
    for (int i = threadIdx.x; i < n; i += kSelectThreads) {
        const int c = c0 + i;
        if (level == 0) {
            mask_s[i] = level0_pass(logits, k0, c, group, log_d, lt0);
            continue;
        }
        const int parent = p.levels[level].parent[static_cast<long>(kv) * kl + c];
        mask_s[i] = level == 1 ? level0_pass(logits, k0, parent, group, log_d, lt0)
                               : at<uint32_t>(p.workspace, lay.masks[level - 1])[static_cast<long>(kv) * p.levels[level - 1].n_clusters + parent];
    }
    __syncthreads();

    if (level > 0) {
        // kBatch rows of a lane group are requested before any is reduced (latency, as above);
        // rows whose parent failed for every head are never read.
        constexpr int kBatch = 8;
        const int li = threadIdx.x % kLanes, row0 = threadIdx.x / kLanes;
        const unsigned lanes = row_lanes<D>();
        const float lt = log_tau(p.levels[level].tau);
        const uint4* cent = reinterpret_cast<const uint4*>(static_cast<const T*>(p.levels[level].centroids) +
                                                           (static_cast<long>(kv) * kl + c0) * D);
        for (int r_base = row0; r_base < n; r_base += kRows * kBatch) {
            unsigned parent_mask[kBatch]; // the same for all lanes of a row
            uint4 raw[kBatch];
#pragma unroll
            for (int b = 0; b < kBatch; ++b) {
                const int r = r_base + b * kRows;
                parent_mask[b] = r < n ? mask_s[r] : 0u;
                raw[b] = parent_mask[b] ? __ldg(cent + static_cast<long>(r) * kLanes + li) : make_uint4(0, 0, 0, 0);
            }
            __syncwarp(lanes);
#pragma unroll
            for (int b = 0; b < kBatch; ++b) {
                if (parent_mask[b] == 0) continue;
                float f[8];
                to_float8<T>(raw[b], f);
                unsigned pass = 0;
                for (int g = 0; g < group; ++g) {
                    const float dot = row_dot<D>(q_s, g, li, f, lanes);
                    if ((parent_mask[b] >> g & 1u) && dot - log_d[g] >= lt) pass |= 1u << g;
                }
                if (li == 0) mask_s[r_base + b * kRows] = pass;
            }
        }
        __syncthreads();
    }

    uint32_t* masks = at<uint32_t>(p.workspace, lay.masks[level]) + static_cast<long>(kv) * kl + c0;
    int keys = 0;
    const bool finest = level == p.n_levels - 1;
    const int* first = p.first + static_cast<long>(kv) * (kl + 1) + c0;
    for (int i = threadIdx.x; i < n; i += kSelectThreads) {
        masks[i] = mask_s[i];
        if (finest && mask_s[i]) keys += first[i + 1] - first[i];
    }
    if (!finest) return;
    for (int off = 16; off > 0; off /= 2) keys += __shfl_xor_sync(0xffffffffu, keys, off);
    if (lane == 0) warp_keys[threadIdx.x / 32] = keys;
    __syncthreads();
    if (threadIdx.x == 0) {
        int total = 0;
        for (int w = 0; w < kSelectWarps; ++w) total += warp_keys[w];
        at<int>(p.workspace, lay.block_keys)[static_cast<long>(kv) * lay.n_blocks + blockIdx.x] = total;
    }
}

// Slots of the passing finest clusters of one selection block, at an offset summed from the
// earlier blocks' key counts: one thread per cluster, then the block's output range written
// position by position (coalesced), each position finding its cluster by binary search.
static __global__ void __launch_bounds__(kClustersPerBlock) compact_kernel(SqueezeLookupParams p, Layout lay) {
    using Scan = cub::BlockScan<int, kClustersPerBlock>;
    __shared__ typename Scan::TempStorage scan_tmp;
    __shared__ int excl_s[kClustersPerBlock], start_s[kClustersPerBlock];
    __shared__ int before_s[kClustersPerBlock / 32], total_s[kClustersPerBlock / 32];
    const int kv = blockIdx.y, lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int kf = p.levels[p.n_levels - 1].n_clusters;
    const int c0 = blockIdx.x * kClustersPerBlock, n = min(kClustersPerBlock, kf - c0);

    const int* block_keys = at<int>(p.workspace, lay.block_keys) + static_cast<long>(kv) * lay.n_blocks;
    int before = 0, total = 0;
    for (int b = threadIdx.x; b < lay.n_blocks; b += kClustersPerBlock) {
        total += block_keys[b];
        if (b < static_cast<int>(blockIdx.x)) before += block_keys[b];
    }
    for (int off = 16; off > 0; off /= 2) {
        before += __shfl_xor_sync(0xffffffffu, before, off);
        total += __shfl_xor_sync(0xffffffffu, total, off);
    }
    if (lane == 0) {
        before_s[warp] = before;
        total_s[warp] = total;
    }

    const int i = threadIdx.x, c = c0 + i;
    const int* first = p.first + static_cast<long>(kv) * (kf + 1);
    const uint32_t* masks = at<uint32_t>(p.workspace, lay.masks[p.n_levels - 1]) + static_cast<long>(kv) * kf;
    const int count = i < n && masks[c] ? first[c + 1] - first[c] : 0;
    int excl = 0, block_total = 0;
    Scan(scan_tmp).ExclusiveSum(count, excl, block_total);
    excl_s[i] = excl;
    start_s[i] = i < n ? first[c] : 0;
    __syncthreads();
    before = total = 0;
    for (int w = 0; w < kClustersPerBlock / 32; ++w) {
        before += before_s[w];
        total += total_s[w];
    }

    int* slots = p.slots + static_cast<long>(kv) * p.slot_stride;
    const int base = p.n_always + before;
    for (int pos = threadIdx.x; pos < block_total; pos += kClustersPerBlock) {
        int lo = 0, hi = n; // last cluster whose run starts at or before pos (it holds pos; see below)
        while (hi - lo > 1) {
            const int mid = (lo + hi) / 2;
            if (excl_s[mid] <= pos) lo = mid;
            else hi = mid;
        }
        // Clusters with no keys share their successor's start, so the last one at or before pos has keys.
        slots[base + pos] = start_s[lo] + pos - excl_s[lo];
    }
    if (blockIdx.x == 0) {
        for (int s = threadIdx.x; s < p.n_always; s += kClustersPerBlock) slots[s] = s;
        if (threadIdx.x == 0) p.n_keys[kv] = p.n_always + total;
    }
}

// No clustered keys (every fixed-context token always attended): the slots are [0, n_always).
static __global__ void always_only_kernel(SqueezeLookupParams p) {
    int* slots = p.slots + static_cast<long>(blockIdx.x) * p.slot_stride;
    for (int s = threadIdx.x; s < p.n_always; s += blockDim.x) slots[s] = s;
    if (threadIdx.x == 0) p.n_keys[blockIdx.x] = p.n_always;
}

template <int D, typename T>
cudaError_t run(const SqueezeLookupParams& p, const Layout& lay, cudaStream_t stream) {
    score_level0_kernel<D, T><<<dim3(lay.n_chunks, p.n_kv_heads), kThreads, 0, stream>>>(p, lay);
    cudaError_t err = cudaGetLastError();
    for (int level = 0; level < p.n_levels && err == cudaSuccess; ++level) {
        // Level 0's masks are only needed when it is also the finest; deeper levels read its logits.
        if (level == 0 && p.n_levels > 1) continue;
        const int blocks = (p.levels[level].n_clusters + kClustersPerBlock - 1) / kClustersPerBlock;
        select_level_kernel<D, T><<<dim3(blocks, p.n_kv_heads), kSelectThreads, 0, stream>>>(p, lay, level);
        err = cudaGetLastError();
    }
    if (err != cudaSuccess) return err;
    compact_kernel<<<dim3(lay.n_blocks, p.n_kv_heads), kClustersPerBlock, 0, stream>>>(p, lay);
    return cudaGetLastError();
}

} // namespace

size_t squeeze_lookup_workspace_bytes(const SqueezeLookupParams& p) {
    if (p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0) return 0;
    return layout_of(p).bytes;
}

cudaError_t squeeze_lookup(const SqueezeLookupParams& p, cudaStream_t stream) {
    if (p.n_kv_heads <= 0 || p.n_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || p.n_heads / p.n_kv_heads > kMaxGroup)
        return cudaErrorInvalidValue;
    if (p.n_levels < 0 || p.n_levels > kMaxSqueezeLevels || p.n_always < 0 || !p.slots || !p.n_keys || !p.q)
        return cudaErrorInvalidValue;
    if (p.head_dim != 64 && p.head_dim != 128) return cudaErrorInvalidValue;
    if (p.n_levels == 0) {
        if (p.slot_stride < p.n_always) return cudaErrorInvalidValue;
        always_only_kernel<<<p.n_kv_heads, 128, 0, stream>>>(p);
        return cudaGetLastError();
    }
    for (int l = 0; l < p.n_levels; ++l) {
        const SqueezeLevelView& lv = p.levels[l];
        if (lv.n_clusters <= 0 || !lv.centroids || (l > 0 && !lv.parent) || !(lv.tau >= 0.0f)) return cudaErrorInvalidValue;
        if (reinterpret_cast<uintptr_t>(lv.centroids) % 16 != 0) return cudaErrorInvalidValue;
    }
    if (!p.log_counts || !p.first || !p.workspace) return cudaErrorInvalidValue;
    const Layout lay = layout_of(p);
    const bool f16 = p.centroid_type == KvType::F16;
    if (p.head_dim == 64) return f16 ? run<64, __half>(p, lay, stream) : run<64, __nv_bfloat16>(p, lay, stream);
    return f16 ? run<128, __half>(p, lay, stream) : run<128, __nv_bfloat16>(p, lay, stream);
}

} // namespace sq::cuda
