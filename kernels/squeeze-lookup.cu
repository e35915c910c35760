#include "squeeze-lookup.cuh"

#include <cstdint>
#include <cub/block/block_scan.cuh>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "cache-elem.cuh"
#include "grid-dependency.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroup = 32;     // pass masks are 32-bit, one bit per query head of the group
constexpr int kScoreChunk = 128;  // level-0 centroids per scoring item: at 512K keys (5243) 41 items a head
constexpr int kSegment = kThreads; // clusters per selection item, one per thread
// Blocks of 256 threads an SM: the items are chains of dependent loads, so latency is hidden by
// blocks in flight (the separate selection kernel ran at 36% occupancy, 1.7 TB/s). 4 caps the
// kernel at 64 registers (ptxas spills ~100 bytes); 3 allows 80 (no spills). Both are built; the
// bench times both (SqueezeLookupParams::blocks_per_sm).
constexpr int kDefaultBlocksPerSm = 4;

// Look-back words of the finest level's segments: (state << 32) | keys.
constexpr unsigned kEmpty = 0, kAggregate = 1, kPrefix = 2;

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// Work items, taken in this order from one ticket counter: the scoring of level 0 (head-major,
// kScoreChunk centroids each), then per deeper level (or level 0 alone when it is the only one)
// the selection of kSegment clusters (head-major). An item only waits on items of earlier phases.
struct Layout {
    size_t logits;                   // f32 [n_kv_heads][group][K0]: scale * q.c of level 0
    size_t chunk_lse;                // f32 [n_kv_heads][n_chunks][group]: log sum n_j exp(scale q.c_j) per chunk
    size_t log_d;                    // f32 [n_kv_heads][group]: log D of each query head
    size_t masks[kMaxSqueezeLevels]; // u32 [n_kv_heads][K_l]: heads of the group a cluster passed for (levels above the finest)
    // Zeroed before every call, one memset:
    size_t arrivals;                 // i32 [n_levels][n_kv_heads]: items done per (phase, head); phase 0 ends at n_chunks + 1 (log D written)
    size_t lookback;                 // u64 [n_kv_heads][n_segments of the finest level]
    size_t ticket;                   // i32: next work item
    size_t bytes;
    int n_chunks;
    int first_select_level;          // 1, or 0 when level 0 is the only level
    int n_segments[kMaxSqueezeLevels];
    int phase_start[kMaxSqueezeLevels + 1]; // first item of each phase (phase 0 = scoring); [n_phases] = total
    int n_phases;
};

Layout layout_of(const SqueezeLookupParams& p) {
    Layout l{};
    if (p.n_levels <= 0) return l;
    const int group = p.n_heads / p.n_kv_heads;
    const size_t hkv = static_cast<size_t>(p.n_kv_heads);
    const int k0 = p.levels[0].n_clusters, finest = p.n_levels - 1;
    l.n_chunks = (k0 + kScoreChunk - 1) / kScoreChunk;
    l.first_select_level = p.n_levels > 1 ? 1 : 0;
    size_t at = 0;
    l.logits = at;
    at += align256(hkv * group * k0 * sizeof(float));
    l.chunk_lse = at;
    at += align256(hkv * l.n_chunks * group * sizeof(float));
    l.log_d = at;
    at += align256(hkv * group * sizeof(float));
    for (int i = 0; i < p.n_levels; ++i) {
        l.n_segments[i] = (p.levels[i].n_clusters + kSegment - 1) / kSegment;
        if (i == finest || i == 0) continue;
        l.masks[i] = at;
        at += align256(hkv * p.levels[i].n_clusters * sizeof(uint32_t));
    }
    l.arrivals = at;
    at += p.n_levels * hkv * sizeof(int);
    at = (at + 7) / 8 * 8;
    l.lookback = at;
    at += hkv * l.n_segments[finest] * sizeof(unsigned long long);
    l.ticket = at;
    at += sizeof(int);
    l.bytes = align256(at);
    l.phase_start[0] = 0;
    l.n_phases = 1;
    int items = l.n_chunks * p.n_kv_heads;
    for (int lv = l.first_select_level; lv < p.n_levels; ++lv) {
        l.phase_start[l.n_phases++] = items;
        items += l.n_segments[lv] * p.n_kv_heads;
    }
    l.phase_start[l.n_phases] = items;
    return l;
}

template <typename T>
__device__ __forceinline__ T* at(void* ws, size_t offset) {
    return reinterpret_cast<T*>(static_cast<char*>(ws) + offset);
}

__device__ __forceinline__ int load_acquire(const int* p) {
    int v;
    asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ unsigned long long load_volatile(const unsigned long long* p) {
    return *reinterpret_cast<const volatile unsigned long long*>(p);
}

// Thread 0 waits until *counter reaches target; the block then sees what the counted items wrote.
__device__ void wait_for(const int* counter, int target) {
    if (threadIdx.x == 0)
        while (load_acquire(counter) < target) __nanosleep(64);
    __syncthreads();
}

// Publishes the block's writes, then counts the item done. Returns the count before this item
// (thread 0 only).
__device__ int arrive(int* counter) {
    __syncthreads();
    int before = 0;
    if (threadIdx.x == 0) {
        __threadfence();
        before = atomicAdd(counter, 1);
    }
    return before;
}

// Lanes of one centroid row (D/8 lanes, 16 bytes each) within a warp, for sub-warp shuffles.
template <int D>
__device__ __forceinline__ unsigned row_lanes() {
    constexpr int kLanes = D / 8;
    if constexpr (kLanes == 32) return 0xffffffffu;
    const int lane = threadIdx.x % 32;
    return ((1u << kLanes) - 1) << (lane / kLanes * kLanes);
}

// Queries of the group, scaled, as [g][e][D/8]: a row's lanes li read consecutive words (no bank
// conflicts) for element e of their 8 dimensions li*8 + e.
template <int D>
__device__ __forceinline__ float q_at(const float* q_s, int g, int e, int li) {
    return q_s[(g * 8 + e) * (D / 8) + li];
}

template <int D>
__device__ void load_group_queries(const SqueezeLookupParams& p, int kv, int group, float* q_s) {
    for (int i = threadIdx.x; i < group * D; i += kThreads) {
        const int g = i / D, d = i % D;
        q_s[(g * 8 + d % 8) * (D / 8) + d / 8] = p.q[static_cast<long>(kv) * group * D + i] * p.scale;
    }
}

// dot of a centroid row's 8 elements (this lane's) with head g's scaled query, summed over the row's lanes.
template <int D>
__device__ __forceinline__ float row_dot(const float* q_s, int g, int li, const float (&f)[8], unsigned lanes) {
    float dot = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) dot = fmaf(q_at<D>(q_s, g, e, li), f[e], dot);
#pragma unroll
    for (int off = D / 16; off > 0; off /= 2) dot += __shfl_xor_sync(lanes, dot, off);
    return dot;
}


__device__ __forceinline__ float log_tau(float tau) { return tau > 0.0f ? logf(tau) : -CUDART_INF_F; }

struct Shared {
    float log_d[kMaxGroup];
    unsigned mask[kSegment];
    int excl[kSegment], start[kSegment], count[kSegment];
    cub::BlockScan<int, kThreads>::TempStorage scan;
    int item, next_item, head_of_q, flag, seg_excl;
};

// Level 0, centroids [chunk * kScoreChunk, +kScoreChunk) of KV head kv: logits and the chunk's
// log-sum-exp of logit + log n_j. The last chunk of the head to finish also reduces log D.
template <int D, typename T>
__device__ void score_chunk(const SqueezeLookupParams& p, const Layout& lay, Shared& sh, float* q_s, float* logit_s, int kv,
                            int chunk) {
    constexpr int kLanes = D / 8, kRows = kThreads / kLanes, kBatch = kScoreChunk / kRows;
    const int group = p.n_heads / p.n_kv_heads, lane = threadIdx.x % 32;
    const int k0 = p.levels[0].n_clusters, j0 = chunk * kScoreChunk, n = min(kScoreChunk, k0 - j0);
    const int li = threadIdx.x % kLanes, row0 = threadIdx.x / kLanes;
    const unsigned lanes = row_lanes<D>();
    // Every centroid row of the chunk is requested before anything waits on one (latency).
    const uint4* c = reinterpret_cast<const uint4*>(static_cast<const T*>(p.levels[0].centroids) + (static_cast<long>(kv) * k0 + j0) * D);
    uint4 raw[kBatch];
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
        const int r = row0 + b * kRows;
        raw[b] = r < n ? __ldg(c + static_cast<long>(r) * kLanes + li) : make_uint4(0, 0, 0, 0);
    }
    const float* log_counts = p.log_counts + static_cast<long>(kv) * k0 + j0;
    float log_n[kScoreChunk / 32]; // of rows lane + 32 i, for the chunk's log-sum-exp
#pragma unroll
    for (int i = 0; i < kScoreChunk / 32; ++i) log_n[i] = lane + 32 * i < n ? __ldg(log_counts + lane + 32 * i) : -CUDART_INF_F;
    if (sh.head_of_q != kv) {
        load_group_queries<D>(p, kv, group, q_s);
        __syncthreads();
        if (threadIdx.x == 0) sh.head_of_q = kv;
    }
    __syncthreads();
#pragma unroll
    for (int b = 0; b < kBatch; ++b) {
        const int r = row0 + b * kRows;
        if (r >= n) break; // the same for all lanes of the row
        float f[8];
        to_float8<T>(raw[b], f);
        for (int g = 0; g < group; ++g) {
            const float dot = row_dot<D>(q_s, g, li, f, lanes);
            if (li == 0) logit_s[g * kScoreChunk + r] = dot;
        }
    }
    __syncthreads();

    float* logits = at<float>(p.workspace, lay.logits) + static_cast<long>(kv) * group * k0;
    for (int i = threadIdx.x; i < group * n; i += kThreads) logits[static_cast<long>(i / n) * k0 + j0 + i % n] = logit_s[(i / n) * kScoreChunk + i % n];
    float* chunk_lse = at<float>(p.workspace, lay.chunk_lse) + (static_cast<long>(kv) * lay.n_chunks + chunk) * group;
    for (int g = threadIdx.x / 32; g < group; g += kWarps) {
        float x[kScoreChunk / 32];
        float m = -CUDART_INF_F;
#pragma unroll
        for (int i = 0; i < kScoreChunk / 32; ++i) {
            const int r = lane + 32 * i;
            x[i] = r < n ? logit_s[g * kScoreChunk + r] + log_n[i] : -CUDART_INF_F;
            m = fmaxf(m, x[i]);
        }
        for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < kScoreChunk / 32; ++i) s += x[i] == -CUDART_INF_F ? 0.0f : __expf(x[i] - m);
        for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) chunk_lse[g] = m + logf(s);
    }

    int* arrivals = at<int>(p.workspace, lay.arrivals) + kv;
    const int before = arrive(arrivals);
    if (threadIdx.x == 0) sh.flag = before == lay.n_chunks - 1;
    __syncthreads();
    if (!sh.flag) return;
    // Last chunk of the head: log D from every chunk's partial, then phase 0 of the head is over.
    __threadfence();
    // Maximum, then the sum of exponentials: a running log-sum-exp (log_add per chunk) saved a pass
    // of loads but rounded differently enough to flip a cluster against the CPU reference at 512K
    // keys (cuda-squeeze-test, H100).
    const float* all = at<float>(p.workspace, lay.chunk_lse) + static_cast<long>(kv) * lay.n_chunks * group;
    for (int g = threadIdx.x / 32; g < group; g += kWarps) {
        float m = -CUDART_INF_F;
        for (int i = lane; i < lay.n_chunks; i += 32) m = fmaxf(m, __ldcg(all + i * group + g));
        for (int off = 16; off > 0; off /= 2) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
        float s = 0.0f;
        for (int i = lane; i < lay.n_chunks; i += 32) s += __expf(__ldcg(all + i * group + g) - m);
        for (int off = 16; off > 0; off /= 2) s += __shfl_xor_sync(0xffffffffu, s, off);
        if (lane == 0) at<float>(p.workspace, lay.log_d)[kv * group + g] = m + logf(s);
    }
    arrive(arrivals);
}

// Heads of the group for which level-0 cluster j passes: logit - log D >= log tau_0.
// Loads of 8 heads are issued before any is compared (one latency, not one per head).
__device__ __forceinline__ unsigned level0_pass(const float* logits, int k0, int j, int group, const float* log_d, float lt) {
    unsigned m = 0;
    for (int g0 = 0; g0 < group; g0 += 8) {
        float x[8];
#pragma unroll
        for (int k = 0; k < 8; ++k) x[k] = g0 + k < group ? __ldcg(logits + static_cast<long>(g0 + k) * k0 + j) : 0.0f;
#pragma unroll
        for (int k = 0; k < 8; ++k)
            if (g0 + k < group && x[k] - log_d[g0 + k] >= lt) m |= 1u << (g0 + k);
    }
    return m;
}

// The keys before this segment in the head's list (decoupled look-back over the earlier segments'
// words; they were ticketed earlier, so they are running or done). Warp 0; every lane returns it.
__device__ int look_back(unsigned long long* words, int seg, int aggregate) {
    const int lane = threadIdx.x % 32;
    if (seg == 0) {
        if (lane == 0) atomicExch(words, (static_cast<unsigned long long>(kPrefix) << 32) | static_cast<unsigned>(aggregate));
        return 0;
    }
    if (lane == 0) atomicExch(words + seg, (static_cast<unsigned long long>(kAggregate) << 32) | static_cast<unsigned>(aggregate));
    int excl = 0;
    for (int end = seg - 1;; end -= 32) {
        const int j = end - lane;
        // Wait only for the segments up to the nearest one that knows its prefix.
        unsigned long long w;
        unsigned prefixes, empties;
        do {
            w = j >= 0 ? load_volatile(words + j) : static_cast<unsigned long long>(kPrefix) << 32;
            prefixes = __ballot_sync(0xffffffffu, (w >> 32) == kPrefix);
            empties = __ballot_sync(0xffffffffu, (w >> 32) == kEmpty);
        } while (empties && !(prefixes && __ffs(prefixes) < __ffs(empties)));
        const int stop = prefixes ? __ffs(prefixes) - 1 : 31; // nearest segment that knows its prefix
        int v = lane <= stop ? static_cast<int>(w & 0xffffffffu) : 0;
        for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
        excl += v;
        if (prefixes) break;
    }
    if (lane == 0) atomicExch(words + seg, (static_cast<unsigned long long>(kPrefix) << 32) | static_cast<unsigned>(excl + aggregate));
    return excl;
}

// Clusters [seg * kSegment, +kSegment) of level `level` for KV head kv: pass masks (a cluster is
// scored only for the heads its parent passed for). Above the finest level the masks are stored;
// at the finest, the passing clusters' slots go to the head's list at the offset of the keys of
// the segments before (look-back), so the list comes out ascending.
template <int D, typename T>
__device__ void select_segment(const SqueezeLookupParams& p, const Layout& lay, Shared& sh, float* q_s, int level, int kv, int seg) {
    constexpr int kLanes = D / 8, kRows = kThreads / kLanes, kBatch = 8;
    const int group = p.n_heads / p.n_kv_heads, i = threadIdx.x;
    const int k0 = p.levels[0].n_clusters, kl = p.levels[level].n_clusters;
    const int c0 = seg * kSegment, n = min(kSegment, kl - c0), c = c0 + i;
    const bool finest = level == p.n_levels - 1;
    const int* first = p.first + static_cast<long>(kv) * (kl + 1);
    // Loads that depend on nothing this item waits for go first.
    int parent = 0, run_start = 0, run_keys = 0;
    if (i < n) {
        if (level > 0) parent = __ldg(p.levels[level].parent + static_cast<long>(kv) * kl + c);
        if (finest) {
            run_start = __ldg(first + c);
            run_keys = __ldg(first + c + 1) - run_start;
        }
    }
    if (level > 0 && sh.head_of_q != kv) load_group_queries<D>(p, kv, group, q_s);
    int* arrivals = at<int>(p.workspace, lay.arrivals);
    if (level <= 1) wait_for(arrivals + kv, lay.n_chunks + 1);
    else wait_for(arrivals + (level - 1) * p.n_kv_heads + kv, lay.n_segments[level - 1]);
    if (i < group) sh.log_d[i] = __ldcg(at<float>(p.workspace, lay.log_d) + kv * group + i);
    if (threadIdx.x == 0 && level > 0) sh.head_of_q = kv;
    __syncthreads();

    // Level 0 (only level): final masks. Deeper: the heads to score each cluster for.
    const float* logits = at<float>(p.workspace, lay.logits) + static_cast<long>(kv) * group * k0;
    const float lt0 = log_tau(p.levels[0].tau);
    if (i < n) {
        if (level == 0) sh.mask[i] = level0_pass(logits, k0, c, group, sh.log_d, lt0);
        else if (level == 1) sh.mask[i] = level0_pass(logits, k0, parent, group, sh.log_d, lt0);
        else sh.mask[i] = __ldcg(at<uint32_t>(p.workspace, lay.masks[level - 1]) + static_cast<long>(kv) * p.levels[level - 1].n_clusters + parent);
    }
    __syncthreads();

    if (level > 0) {
        // kBatch rows of a lane group are requested before any is reduced; rows whose parent
        // failed for every head are never read.
        const int li = threadIdx.x % kLanes, row0 = threadIdx.x / kLanes;
        const unsigned lanes = row_lanes<D>();
        const float lt = log_tau(p.levels[level].tau);
        const uint4* cent = reinterpret_cast<const uint4*>(static_cast<const T*>(p.levels[level].centroids) + (static_cast<long>(kv) * kl + c0) * D);
        for (int r_base = row0; r_base < n; r_base += kRows * kBatch) {
            unsigned parent_mask[kBatch]; // the same for all lanes of a row
            uint4 raw[kBatch];
#pragma unroll
            for (int b = 0; b < kBatch; ++b) {
                const int r = r_base + b * kRows;
                parent_mask[b] = r < n ? sh.mask[r] : 0u;
                raw[b] = parent_mask[b] ? __ldg(cent + static_cast<long>(r) * kLanes + li) : make_uint4(0, 0, 0, 0);
            }
#pragma unroll
            for (int b = 0; b < kBatch; ++b) {
                if (parent_mask[b] == 0) continue;
                float f[8];
                to_float8<T>(raw[b], f);
                unsigned pass = 0;
                for (int g = 0; g < group; ++g) {
                    const float dot = row_dot<D>(q_s, g, li, f, lanes);
                    if ((parent_mask[b] >> g & 1u) && dot - sh.log_d[g] >= lt) pass |= 1u << g;
                }
                if (li == 0) sh.mask[r_base + b * kRows] = pass;
            }
        }
        __syncthreads();
    }

    if (!finest) {
        if (i < n) at<uint32_t>(p.workspace, lay.masks[level])[static_cast<long>(kv) * kl + c] = sh.mask[i];
        arrive(arrivals + level * p.n_kv_heads + kv);
        return;
    }

    const int keys = i < n && sh.mask[i] ? run_keys : 0;
    int excl = 0, aggregate = 0;
    cub::BlockScan<int, kThreads>(sh.scan).ExclusiveSum(keys, excl, aggregate);
    sh.excl[i] = excl;
    sh.start[i] = run_start;
    sh.count[i] = keys;
    if (threadIdx.x < 32) {
        unsigned long long* words = at<unsigned long long>(p.workspace, lay.lookback) + static_cast<long>(kv) * lay.n_segments[level];
        const int before = look_back(words, seg, aggregate);
        if (threadIdx.x == 0) sh.seg_excl = before;
    }
    __syncthreads();

    // Each warp writes whole runs (clusters hold ~20 keys on average at 5% clusters).
    int* slots = p.slots + static_cast<long>(kv) * p.slot_stride;
    const int base = p.n_always + sh.seg_excl, lane = threadIdx.x % 32;
    for (int r = threadIdx.x / 32; r < n; r += kWarps) {
        const int count = sh.count[r];
        for (int j = lane; j < count; j += 32) slots[base + sh.excl[r] + j] = sh.start[r] + j;
    }
    if (seg == 0)
        for (int s = threadIdx.x; s < p.n_always; s += kThreads) slots[s] = s;
    if (seg == lay.n_segments[level] - 1 && threadIdx.x == 0) p.n_keys[kv] = base + aggregate;
}

// The whole lookup in one launch: blocks take work items from a ticket counter, so an item only
// ever waits on items ticketed before it, which are running or done (no deadlock whatever the
// number of resident blocks), and heads overlap (one head's selection runs while another's level
// 0 is scored). q_s: [group][8][D/8] scaled queries; logit_s: [group][kScoreChunk].
template <int D, typename T, int MIN_BLOCKS>
static __global__ void __launch_bounds__(kThreads, MIN_BLOCKS) lookup_kernel(SqueezeLookupParams p, Layout lay) {
    // The attention after it may be scheduled now (it waits for this grid's end; grid-dependency.cuh):
    // its blocks take the SMs this persistent grid leaves as its blocks run out of items.
    allow_dependents();
    extern __shared__ float dyn_s[];
    __shared__ Shared sh;
    const int group = p.n_heads / p.n_kv_heads;
    float* q_s = dyn_s;
    float* logit_s = dyn_s + group * D;
    int* ticket = at<int>(p.workspace, lay.ticket);
    const int total = lay.phase_start[lay.n_phases];
    if (threadIdx.x == 0) {
        sh.head_of_q = -1;
        sh.next_item = -1;
    }
    __syncthreads();
    for (;;) {
        // The next ticket is fetched while this item runs, unless few items are left: then a held
        // ticket would wait behind this item while another block could run it now.
        if (threadIdx.x == 0) {
            sh.item = sh.next_item < 0 ? atomicAdd(ticket, 1) : sh.next_item;
            sh.next_item = sh.item + static_cast<int>(gridDim.x) < total ? atomicAdd(ticket, 1) : -1;
        }
        __syncthreads();
        const int item = sh.item;
        if (item >= total) return;
        int phase = 0;
        while (item >= lay.phase_start[phase + 1]) ++phase;
        const int local = item - lay.phase_start[phase];
        if (phase == 0) {
            score_chunk<D, T>(p, lay, sh, q_s, logit_s, local / lay.n_chunks, local % lay.n_chunks);
        } else {
            const int level = lay.first_select_level + phase - 1, per_head = lay.n_segments[level];
            select_segment<D, T>(p, lay, sh, q_s, level, local / per_head, local % per_head);
        }
        __syncthreads();
    }
}

// No clustered keys (every fixed-context token always attended): the slots are [0, n_always).
static __global__ void always_only_kernel(SqueezeLookupParams p) {
    int* slots = p.slots + static_cast<long>(blockIdx.x) * p.slot_stride;
    for (int s = threadIdx.x; s < p.n_always; s += blockDim.x) slots[s] = s;
    if (threadIdx.x == 0) p.n_keys[blockIdx.x] = p.n_always;
}

template <int D, typename T, int MIN_BLOCKS>
cudaError_t launch(const SqueezeLookupParams& p, const Layout& lay, cudaStream_t stream) {
    const int group = p.n_heads / p.n_kv_heads;
    const size_t smem = static_cast<size_t>(group) * (D + kScoreChunk) * sizeof(float);
    int dev = 0, n_sms = 0, per_sm = 0;
    cudaError_t err = cudaGetDevice(&dev);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&n_sms, cudaDevAttrMultiProcessorCount, dev);
    if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, lookup_kernel<D, T, MIN_BLOCKS>, kThreads, smem);
    if (err == cudaSuccess)
        err = cudaMemsetAsync(static_cast<char*>(p.workspace) + lay.arrivals, 0, lay.ticket + sizeof(int) - lay.arrivals, stream);
    if (err != cudaSuccess) return err;
    const int blocks = max(1, min(lay.phase_start[lay.n_phases], n_sms * max(1, per_sm)));
    lookup_kernel<D, T, MIN_BLOCKS><<<blocks, kThreads, smem, stream>>>(p, lay);
    return cudaGetLastError();
}

template <int D, typename T>
cudaError_t run(const SqueezeLookupParams& p, const Layout& lay, cudaStream_t stream) {
    const int blocks_per_sm = p.blocks_per_sm > 0 ? p.blocks_per_sm : kDefaultBlocksPerSm;
    return blocks_per_sm == 3 ? launch<D, T, 3>(p, lay, stream) : launch<D, T, 4>(p, lay, stream);
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
    if (p.blocks_per_sm != 0 && p.blocks_per_sm != 3 && p.blocks_per_sm != 4) return cudaErrorInvalidValue;
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
