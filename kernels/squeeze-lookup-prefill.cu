#include "squeeze-lookup-prefill.cuh"

#include <cstdint>
#include <math_constants.h>

#include "mma.cuh"
#include "squeeze-lookup-prefill-sm90a.cuh"
#ifdef SQUEEZE_WITH_SM90A
#include "sm90a.cuh"
#endif

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;          // 4 warps
constexpr int kTileQ = 64;             // log D: question tokens a block; mean: tokens a shared-memory stage
constexpr int kChunk = 64;             // log D: centroids a shared-memory stage
constexpr int kMeanMTiles = 2;         // mean: 16-centroid m-tiles a warp
constexpr int kMeanBlock = 4 * 16 * kMeanMTiles; // mean: centroids a block
constexpr int kSelectThreads = 256;    // marking, listing and compaction: clusters a block
constexpr float kLog2e = 1.4426950408889634f;

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// Workspace: log2_d [n_heads][n_q] f32, then per level scores [n_heads][K_l] f32, pass masks
// [n_kv_heads][K_l] u32 (bit g: passes for query head g of the group), and for levels >= 1 the
// clusters to score [n_kv_heads][K_l] (children of a parent passing for some head) and their count
// [n_kv_heads]; last, the keys of the finest passing clusters per block of kSelectThreads clusters
// [n_kv_heads][select blocks] (the compaction's offsets).
struct Layout {
    size_t log2_d, scores[kMaxSqueezeLevels], masks[kMaxSqueezeLevels], list[kMaxSqueezeLevels], list_count[kMaxSqueezeLevels];
    size_t block_keys, bytes;
};

int select_blocks(int k) { return max(1, (k + kSelectThreads - 1) / kSelectThreads); }

Layout layout_of(const SqueezeLookupPrefillParams& p) {
    Layout l{};
    size_t at = align256(static_cast<size_t>(p.n_heads) * p.n_q * sizeof(float));
    const auto take = [&](size_t bytes) {
        const size_t here = at;
        at += align256(bytes);
        return here;
    };
    for (int lv = 0; lv < p.n_levels; ++lv) {
        const size_t k = static_cast<size_t>(p.levels[lv].n_clusters);
        l.scores[lv] = take(static_cast<size_t>(p.n_heads) * k * sizeof(float));
        l.masks[lv] = take(static_cast<size_t>(p.n_kv_heads) * k * sizeof(uint32_t));
        if (lv > 0) {
            l.list[lv] = take(static_cast<size_t>(p.n_kv_heads) * k * sizeof(int));
            l.list_count[lv] = take(static_cast<size_t>(p.n_kv_heads) * sizeof(int));
        }
    }
    const int k_fin = p.n_levels > 0 ? p.levels[p.n_levels - 1].n_clusters : 0;
    l.block_keys = take(static_cast<size_t>(p.n_kv_heads) * select_blocks(k_fin) * sizeof(int));
    l.bytes = at;
    return l;
}

// log2 D of every (head, token): one block = 64 tokens of one query head (a warp's 16 rows hold Q as
// A fragments) against all level-0 centroids streamed through two cp.async stages; S = Q C^T on
// tensor cores, an online log-sum-exp of scale q.c_j + log n_j along each row.
template <int D, typename T>
static __global__ void __launch_bounds__(kThreads) log_d_kernel(LookupLogDArgs a) {
    constexpr int kRow = D + 8;
    constexpr int kSteps = D / 16;
    constexpr int kPieces = D / 8;
    __shared__ __align__(16) T tiles[2][kChunk][kRow];

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int head = blockIdx.y, kv_head = head / a.group;
    const int q0 = blockIdx.x * kTileQ;
    const T* cents = static_cast<const T*>(a.centroids) + static_cast<long>(kv_head) * a.n_clusters * D;
    const float* log_counts = a.log_counts + static_cast<long>(kv_head) * a.n_clusters;

    const auto load_chunk = [&](int first, int buf) {
        for (int i = threadIdx.x; i < kChunk * kPieces; i += kThreads) {
            const int r = i / kPieces, piece = i % kPieces;
            T* dst = &tiles[buf][r][piece * 8];
            if (first + r < a.n_clusters) cp_async16(dst, cents + static_cast<long>(first + r) * D + piece * 8);
            else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
        }
        cp_async_commit();
    };
    const int n_chunks = (a.n_clusters + kChunk - 1) / kChunk;
    load_chunk(0, 0);

    const int qi[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    uint32_t qa[kSteps][4];
    {
        const T* qh = static_cast<const T*>(a.q) + static_cast<long>(head) * a.n_q * D;
        const uint32_t* r0 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(qi[0]) * D);
        const uint32_t* r1 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(qi[1]) * D);
        load_a_rows(qa, r0, r1, qi[0] < a.n_q, qi[1] < a.n_q, t);
    }
    const float score_scale = a.scale * kLog2e;
    float m[2] = {-CUDART_INF_F, -CUDART_INF_F}, l[2] = {0.0f, 0.0f};
    const int mi = lane / 8, mr = lane % 8;

    for (int c = 0; c < n_chunks; ++c) {
        const int buf = c & 1, first = c * kChunk;
        if (c + 1 < n_chunks) {
            load_chunk(first + kChunk, buf ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        float s[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int st = 0; st < kSteps; ++st)
#pragma unroll
            for (int np = 0; np < 4; ++np) {
                uint32_t b[4];
                ldmatrix_x4(b, &tiles[buf][(2 * np + mi / 2) * 8 + mr][16 * st + (mi % 2) * 8]);
                mma_16816<T>(s[2 * np], qa[st], b[0], b[1]);
                mma_16816<T>(s[2 * np + 1], qa[st], b[2], b[3]);
            }
        float mx[2] = {m[0], m[1]};
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int col = first + nt * 8 + 2 * t + e;
                const float lc = col < a.n_clusters ? log_counts[col] * kLog2e : -CUDART_INF_F;
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    s[nt][2 * h + e] = s[nt][2 * h + e] * score_scale + lc;
                    mx[h] = fmaxf(mx[h], s[nt][2 * h + e]);
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
            for (int nt = 0; nt < 8; ++nt) l[h] += exp2f(s[nt][2 * h] - base) + exp2f(s[nt][2 * h + 1] - base);
        }
        __syncthreads(); // the next iteration refills this stage
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
        if (t == 0 && qi[h] < a.n_q) a.log2_d[static_cast<long>(head) * a.n_q + qi[h]] = l[h] > 0.0f ? m[h] + log2f(l[h]) : -CUDART_INF_F;
    }
}

// Token-averaged scores, 1/n_q sum_i exp2(scale' q_i.c_j - log2 D_i), centroid-major: one block =
// 128 clusters (4 warps x 2 m-tiles of 16, their centroids as A fragments in registers, gathered
// through the list) of one query head against all its question tokens, which stream through two
// cp.async stages of 64 with their log2 D. S^T = C Q^T on tensor cores: each thread's accumulators
// hold 2 centroids x 16 tokens, so the sum over tokens stays in registers (2 shuffles at the end),
// no [tokens x clusters] matrix reaches memory and no atomics are needed. Rows past the question
// have zero queries and log2 D = +inf: they add exp2(-inf) = 0.
template <int D, typename T>
static __global__ void __launch_bounds__(kThreads) mean_scores_kernel(LookupMeanArgs a) {
    constexpr int kRow = D + 8;
    constexpr int kSteps = D / 16;
    constexpr int kPieces = D / 8;
    constexpr int MT = kMeanMTiles;
    __shared__ __align__(16) T q_tiles[2][kTileQ][kRow];
    __shared__ float log2_d[2][kTileQ];

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int head = blockIdx.y, kv_head = head / a.group;
    const int count = a.list ? a.list_count[kv_head] : a.n_clusters;
    const int pos0 = blockIdx.x * kMeanBlock;
    if (pos0 >= count) return; // the grid is sized for every cluster; the list may hold fewer

    const T* qh = static_cast<const T*>(a.q) + static_cast<long>(head) * a.n_q * D;
    const float* log2_dh = a.log2_d + static_cast<long>(head) * a.n_q;
    const auto load_tile = [&](int first, int buf) {
        for (int i = threadIdx.x; i < kTileQ * kPieces; i += kThreads) {
            const int r = i / kPieces, piece = i % kPieces;
            T* dst = &q_tiles[buf][r][piece * 8];
            if (first + r < a.n_q) cp_async16(dst, qh + static_cast<long>(first + r) * D + piece * 8);
            else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
        }
        if (threadIdx.x < kTileQ) log2_d[buf][threadIdx.x] = first + threadIdx.x < a.n_q ? log2_dh[first + threadIdx.x] : CUDART_INF_F;
        cp_async_commit();
    };
    const int n_tiles = (a.n_q + kTileQ - 1) / kTileQ;
    load_tile(0, 0);

    int cluster[MT][2]; // rows g and g + 8 of each m-tile; -1 past the list
    uint32_t ca[MT][kSteps][4];
    const T* cents = static_cast<const T*>(a.centroids) + static_cast<long>(kv_head) * a.n_clusters * D;
    const int* list = a.list ? a.list + static_cast<long>(kv_head) * a.n_clusters : nullptr;
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int pos = pos0 + (warp * MT + mt) * 16 + g + 8 * h;
            cluster[mt][h] = pos >= count ? -1 : list ? list[pos] : pos;
        }
        const uint32_t* r0 = reinterpret_cast<const uint32_t*>(cents + static_cast<long>(max(cluster[mt][0], 0)) * D);
        const uint32_t* r1 = reinterpret_cast<const uint32_t*>(cents + static_cast<long>(max(cluster[mt][1], 0)) * D);
        load_a_rows(ca[mt], r0, r1, cluster[mt][0] >= 0, cluster[mt][1] >= 0, t);
    }
    const float score_scale = a.scale * kLog2e;
    float acc[MT][2] = {};
    const int mi = lane / 8, mr = lane % 8;

    for (int it = 0; it < n_tiles; ++it) {
        const int buf = it & 1;
        if (it + 1 < n_tiles) {
            load_tile((it + 1) * kTileQ, buf ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        float s[MT][8][4]; // [m-tile][token n-tile][centroid g: tokens 2t, 2t+1 | centroid g + 8: same]
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;
#pragma unroll
        for (int st = 0; st < kSteps; ++st)
#pragma unroll
            for (int np = 0; np < 4; ++np) {
                uint32_t b[4];
                ldmatrix_x4(b, &q_tiles[buf][(2 * np + mi / 2) * 8 + mr][16 * st + (mi % 2) * 8]);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    mma_16816<T>(s[mt][2 * np], ca[mt][st], b[0], b[1]);
                    mma_16816<T>(s[mt][2 * np + 1], ca[mt][st], b[2], b[3]);
                }
            }
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const float ld = log2_d[buf][nt * 8 + 2 * t + e];
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    acc[mt][0] += exp2f(s[mt][nt][e] * score_scale - ld);
                    acc[mt][1] += exp2f(s[mt][nt][2 + e] * score_scale - ld);
                }
            }
        __syncthreads(); // the next iteration refills this stage
    }
    float* scores = a.scores + static_cast<long>(head) * a.n_clusters;
    const float inv_n = 1.0f / static_cast<float>(a.n_q);
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float v = acc[mt][h];
            v += __shfl_xor_sync(0xffffffffu, v, 1);
            v += __shfl_xor_sync(0xffffffffu, v, 2);
            if (t == 0 && cluster[mt][h] >= 0) scores[cluster[mt][h]] = v * inv_n;
        }
}

// Exclusive prefix sum of value over the block's threads in thread order; total: the block's sum.
// Every thread of the block must call it (it holds barriers).
__device__ int block_exclusive_scan(int value, int* warp_totals /*[kSelectThreads / 32]*/, int& total) {
    constexpr int kWarps = kSelectThreads / 32;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int incl = value;
#pragma unroll
    for (int off = 1; off < 32; off *= 2) {
        const int o = __shfl_up_sync(0xffffffffu, incl, off);
        if (lane >= off) incl += o;
    }
    if (lane == 31) warp_totals[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        int w = lane < kWarps ? warp_totals[lane] : 0;
#pragma unroll
        for (int off = 1; off < 32; off *= 2) {
            const int o = __shfl_up_sync(0xffffffffu, w, off);
            if (lane >= off) w += o;
        }
        if (lane < kWarps) warp_totals[lane] = w;
    }
    __syncthreads();
    const int excl = (warp > 0 ? warp_totals[warp - 1] : 0) + incl - value;
    total = warp_totals[kWarps - 1];
    __syncthreads(); // warp_totals is reused by the next call
    return excl;
}

// The selection runs over (blocks of kSelectThreads clusters, KV heads), one launch per step, so it
// spreads over the GPU (one block per KV head, looping over 26K clusters at 512K keys, was latency
// bound: ~0.4 ms on an H100).
struct MarkArgs {
    const float* scores;          // [n_heads][k] of this level; valid where the parent passed for some head
    const uint32_t* parent_masks; // [n_kv_heads][k_up] masks of the level above, or null at level 0
    const int* parent;            // [n_kv_heads][k] (levels >= 1)
    uint32_t* masks;              // out: [n_kv_heads][k]
    int k, k_up;
    float tau;
    int group;
    int* next_list_count;         // [n_kv_heads] of the next level, zeroed here; null at the finest level
    const int* first;             // finest: [n_kv_heads][k + 1] slot ranges
    int* block_keys;              // finest, out: [n_kv_heads][gridDim.x] keys of the passing clusters per block
};

// Pass masks: cluster j passes for head g when its parent passed for g and its score >= tau; scores
// are read only under a passing parent, so clusters the tree did not score are never read.
static __global__ void __launch_bounds__(kSelectThreads) mark_kernel(MarkArgs a) {
    __shared__ int warp_totals[kSelectThreads / 32];
    const int kv_head = blockIdx.y, h0 = kv_head * a.group, j = blockIdx.x * kSelectThreads + threadIdx.x;
    const uint32_t all_heads = a.group == 32 ? 0xffffffffu : (1u << a.group) - 1u;
    uint32_t bits = 0;
    if (j < a.k) {
        const uint32_t allowed =
            a.parent_masks ? a.parent_masks[static_cast<long>(kv_head) * a.k_up + a.parent[static_cast<long>(kv_head) * a.k + j]] : all_heads;
        for (int gi = 0; gi < a.group; ++gi)
            if ((allowed >> gi & 1u) && a.scores[static_cast<long>(h0 + gi) * a.k + j] >= a.tau) bits |= 1u << gi;
        a.masks[static_cast<long>(kv_head) * a.k + j] = bits;
    }
    if (a.next_list_count) {
        if (blockIdx.x == 0 && threadIdx.x == 0) a.next_list_count[kv_head] = 0; // the list launch follows this one
        return;
    }
    const int* first = a.first + static_cast<long>(kv_head) * (a.k + 1);
    const int size = bits ? first[j + 1] - first[j] : 0;
    int total = 0;
    block_exclusive_scan(size, warp_totals, total);
    if (threadIdx.x == 0) a.block_keys[static_cast<long>(kv_head) * gridDim.x + blockIdx.x] = total;
}

// The next level's clusters to score: children of a cluster passing for some head. The mean kernel
// writes scores by cluster, so the list needs no order: one atomic per warp.
static __global__ void __launch_bounds__(kSelectThreads) list_kernel(const uint32_t* masks /*[n_kv_heads][k]*/, int k,
                                                                     const int* child_parent /*[n_kv_heads][k_next]*/, int k_next,
                                                                     int* list /*[n_kv_heads][k_next]*/, int* list_count) {
    const int kv_head = blockIdx.y, j = blockIdx.x * kSelectThreads + threadIdx.x, lane = threadIdx.x % 32;
    const bool take = j < k_next && masks[static_cast<long>(kv_head) * k + child_parent[static_cast<long>(kv_head) * k_next + j]] != 0u;
    const uint32_t ballot = __ballot_sync(0xffffffffu, take);
    if (!ballot) return;
    int base = 0;
    if (lane == 0) base = atomicAdd(list_count + kv_head, __popc(ballot));
    base = __shfl_sync(0xffffffffu, base, 0);
    if (take) list[static_cast<long>(kv_head) * k_next + base + __popc(ballot & ((1u << lane) - 1u))] = j;
}

struct CompactArgs {
    const uint32_t* masks;        // [n_kv_heads][k] of the finest level
    const int* first;             // [n_kv_heads][k + 1]
    const int* block_keys;        // [n_kv_heads][gridDim.x]
    int k, n_always;
    int* slots;                   // out: [n_kv_heads][slot_stride]
    int* n_keys;                  // out: [n_kv_heads]
    long slot_stride;
};

// Slot runs of the passing finest clusters in cluster order (= slot order) after the always-attended
// slots: a block's offset is the keys of the blocks before it; its own runs are written by the whole
// block position by position (coalesced), each position finding its cluster by binary search in the
// block's prefix sums.
static __global__ void __launch_bounds__(kSelectThreads) compact_kernel(CompactArgs a) {
    __shared__ int warp_totals[kSelectThreads / 32];
    __shared__ int prefix[kSelectThreads + 1]; // exclusive prefix of the block's run sizes, then its total
    __shared__ int cluster_first[kSelectThreads];
    const int kv_head = blockIdx.y, j = blockIdx.x * kSelectThreads + threadIdx.x;
    int* slots = a.slots + kv_head * a.slot_stride;
    if (blockIdx.x == 0)
        for (int s = threadIdx.x; s < a.n_always; s += kSelectThreads) slots[s] = s;

    int before = 0, total = 0; // keys of the earlier blocks
    for (int b = threadIdx.x; b < blockIdx.x; b += kSelectThreads) before += a.block_keys[static_cast<long>(kv_head) * gridDim.x + b];
    block_exclusive_scan(before, warp_totals, before);

    const int* first = a.first + static_cast<long>(kv_head) * (a.k + 1);
    const bool pass = j < a.k && a.masks[static_cast<long>(kv_head) * a.k + j] != 0u;
    const int size = pass ? first[j + 1] - first[j] : 0;
    prefix[threadIdx.x] = block_exclusive_scan(size, warp_totals, total);
    cluster_first[threadIdx.x] = pass ? first[j] : 0;
    if (threadIdx.x == 0) prefix[kSelectThreads] = total;
    __syncthreads();
    const int offset = a.n_always + before;
    for (int o = threadIdx.x; o < total; o += kSelectThreads) {
        int lo = 0, hi = kSelectThreads - 1; // the last cluster whose run starts at or before o
        while (lo < hi) {
            const int mid = (lo + hi + 1) / 2;
            if (prefix[mid] <= o) lo = mid;
            else hi = mid - 1;
        }
        slots[offset + o] = cluster_first[lo] + (o - prefix[lo]);
    }
    if (blockIdx.x == gridDim.x - 1 && threadIdx.x == 0) a.n_keys[kv_head] = offset + total;
}

// The slot lists from the finest level's masks and per-block key counts (no levels: one block per KV
// head, which reads no counts, writes the always-attended slots alone).
cudaError_t compact(const SqueezeLookupPrefillParams& p, const Layout& lay, char* ws, cudaStream_t stream) {
    const int finest = p.n_levels - 1;
    const int k = p.n_levels > 0 ? p.levels[finest].n_clusters : 0;
    CompactArgs c{};
    c.masks = p.n_levels > 0 ? reinterpret_cast<const uint32_t*>(ws + lay.masks[finest]) : nullptr;
    c.first = p.first;
    c.block_keys = reinterpret_cast<const int*>(ws + lay.block_keys);
    c.k = k;
    c.n_always = p.n_always;
    c.slots = p.slots;
    c.n_keys = p.n_keys;
    c.slot_stride = p.slot_stride;
    compact_kernel<<<dim3(select_blocks(k), p.n_kv_heads), kSelectThreads, 0, stream>>>(c);
    return cudaGetLastError();
}

// Level 0: log D, then every cluster's mean; deeper levels: the mean of the listed clusters only.
// Each level's marks follow its scores, so the next level's list is ready before its scoring.
template <int D, typename T>
cudaError_t run_levels(const SqueezeLookupPrefillParams& p, const Layout& lay, char* ws, cudaStream_t stream) {
    const int group = p.n_heads / p.n_kv_heads;
    float* log2_d = reinterpret_cast<float*>(ws + lay.log2_d);
#ifdef SQUEEZE_WITH_SM90A
    const bool sm90a = D == 128 && !p.mma_sync && sm90a_device();
#else
    constexpr bool sm90a = false;
#endif
    const LookupLogDArgs la{p.q, p.levels[0].centroids, p.log_counts, log2_d, p.n_q, group, p.levels[0].n_clusters, p.scale};
    cudaError_t err = cudaSuccess;
    if (sm90a) {
        err = lookup_log_d_sm90a(la, p.centroid_type, p.n_heads, stream);
    } else {
        log_d_kernel<D, T><<<dim3((p.n_q + kTileQ - 1) / kTileQ, p.n_heads), kThreads, 0, stream>>>(la);
        err = cudaGetLastError();
    }
    const int finest = p.n_levels - 1;
    if (err == cudaSuccess && p.scores_out && finest > 0) // clusters the tree does not score read 0
        err = cudaMemsetAsync(ws + lay.scores[finest], 0, static_cast<size_t>(p.n_heads) * p.levels[finest].n_clusters * sizeof(float), stream);
    for (int lv = 0; lv < p.n_levels && err == cudaSuccess; ++lv) {
        const int k = p.levels[lv].n_clusters;
        float* scores = reinterpret_cast<float*>(ws + lay.scores[lv]);
        const int* list = lv > 0 ? reinterpret_cast<const int*>(ws + lay.list[lv]) : nullptr;
        const int* list_count = lv > 0 ? reinterpret_cast<const int*>(ws + lay.list_count[lv]) : nullptr;
        const LookupMeanArgs ma{p.q, p.levels[lv].centroids, log2_d, list, list_count, scores, p.n_q, group, k, p.scale};
        if (sm90a) {
            err = lookup_mean_sm90a(ma, p.centroid_type, p.n_heads, stream);
        } else {
            mean_scores_kernel<D, T><<<dim3((k + kMeanBlock - 1) / kMeanBlock, p.n_heads), kThreads, 0, stream>>>(ma);
            err = cudaGetLastError();
        }
        if (err != cudaSuccess) break;

        MarkArgs m{};
        m.scores = scores;
        m.parent_masks = lv > 0 ? reinterpret_cast<const uint32_t*>(ws + lay.masks[lv - 1]) : nullptr;
        m.parent = p.levels[lv].parent;
        m.masks = reinterpret_cast<uint32_t*>(ws + lay.masks[lv]);
        m.k = k;
        m.k_up = lv > 0 ? p.levels[lv - 1].n_clusters : 0;
        m.tau = p.levels[lv].tau;
        m.group = group;
        m.next_list_count = lv < finest ? reinterpret_cast<int*>(ws + lay.list_count[lv + 1]) : nullptr;
        m.first = p.first;
        m.block_keys = reinterpret_cast<int*>(ws + lay.block_keys);
        mark_kernel<<<dim3(select_blocks(k), p.n_kv_heads), kSelectThreads, 0, stream>>>(m);
        err = cudaGetLastError();
        if (err != cudaSuccess || lv == finest) break;
        const int k_next = p.levels[lv + 1].n_clusters;
        list_kernel<<<dim3(select_blocks(k_next), p.n_kv_heads), kSelectThreads, 0, stream>>>(
            m.masks, k, p.levels[lv + 1].parent, k_next, reinterpret_cast<int*>(ws + lay.list[lv + 1]), m.next_list_count);
        err = cudaGetLastError();
    }
    if (err == cudaSuccess) err = compact(p, lay, ws, stream);
    return err;
}

} // namespace

size_t squeeze_lookup_prefill_workspace_bytes(const SqueezeLookupPrefillParams& p) { return layout_of(p).bytes; }

cudaError_t squeeze_lookup_prefill(const SqueezeLookupPrefillParams& p, cudaStream_t stream) {
    if (p.n_kv_heads <= 0) return cudaSuccess;
    if (p.n_heads % p.n_kv_heads != 0 || p.n_heads / p.n_kv_heads > 32 || p.n_levels < 0 || p.n_levels > kMaxSqueezeLevels ||
        !p.slots || !p.n_keys || !p.workspace || p.n_always < 0 || p.slot_stride < p.n_always)
        return cudaErrorInvalidValue;
    if (p.n_levels > 0 && (!p.q || p.n_q <= 0 || !p.log_counts || !p.first)) return cudaErrorInvalidValue;
    for (int lv = 0; lv < p.n_levels; ++lv)
        if (!p.levels[lv].centroids || p.levels[lv].n_clusters <= 0 || (lv > 0 && !p.levels[lv].parent)) return cudaErrorInvalidValue;
    const Layout lay = layout_of(p);
    char* ws = static_cast<char*>(p.workspace);
    if (p.n_levels == 0) return compact(p, lay, ws, stream); // only the always-attended slots
    const bool f16 = p.centroid_type == KvType::F16;
    cudaError_t err = cudaSuccess;
    switch (p.head_dim) {
    case 64: err = f16 ? run_levels<64, __half>(p, lay, ws, stream) : run_levels<64, __nv_bfloat16>(p, lay, ws, stream); break;
    case 128: err = f16 ? run_levels<128, __half>(p, lay, ws, stream) : run_levels<128, __nv_bfloat16>(p, lay, ws, stream); break;
    default: return cudaErrorInvalidValue;
    }
    if (err == cudaSuccess && p.scores_out) {
        const int lv = p.n_levels - 1;
        err = cudaMemcpyAsync(p.scores_out, ws + lay.scores[lv], static_cast<size_t>(p.n_heads) * p.levels[lv].n_clusters * sizeof(float),
                              cudaMemcpyDeviceToDevice, stream);
    }
    return err;
}

} // namespace sq::cuda
