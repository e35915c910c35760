#include "squeezed-attention.cuh"

#include <cstdint>
#include <math_constants.h>

#include "attention-tile.cuh"
#include "grid-dependency.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kStep = kWarps * 16;     // keys a block consumes per loop step (16 a warp)
constexpr int kMaxGroup = 8;           // query heads per block (the mma's 8 rows); larger groups take tiles
constexpr int kMaxItems = 1024;        // chunks per launch, over all heads
constexpr int kMergeThreads = 512;  // the merge's threads: 512 / head_dim parts of a head's chunks

// Chunk `item` of the concatenated lists: keys [begin, end) of `head`'s list, or head -1 past the
// last chunk. Every chunk holds `chunk` keys except a head's last; chunk is sized so that at most
// `target` + n_kv_heads chunks exist (a whole number of loop steps each).
struct Chunk {
    int head, begin, end, first_item, n_items;
};

__device__ int chunk_keys(const SqueezedAttentionParams& p, int target) {
    long total = 0;
    for (int h = 0; h < p.n_kv_heads; ++h) total += p.n_keys[h];
    const long keys = (total + target - 1) / target;
    return static_cast<int>(max(static_cast<long>(kStep), (keys + kStep - 1) / kStep * kStep));
}

// The chunks of KV head `head`, or (with head < 0) the head owning chunk `item`.
__device__ Chunk find_chunk(const SqueezedAttentionParams& p, int target, int head, int item) {
    const int chunk = chunk_keys(p, target);
    int first = 0;
    for (int h = 0; h < p.n_kv_heads; ++h) {
        const int n = p.n_keys[h], items = (n + chunk - 1) / chunk;
        if (h == head || (head < 0 && item < first + items)) {
            const int begin = head < 0 ? (item - first) * chunk : 0;
            return {h, begin, min(n, begin + chunk), first, items};
        }
        first += items;
    }
    return {-1, 0, 0, first, 0};
}

// One block = one chunk of one head's list for a tile of at most 8 of its query heads; each warp
// takes 16 keys a step (attention-tile.cuh). A step's rows are read from the list one step ahead,
// so the list's latency overlaps the K/V loads.
template <int D, typename T>
static __global__ void __launch_bounds__(kThreads) squeezed_attention_kernel(SqueezedAttentionParams p, int target, int heads_per_tile) {
    grid_dependency_wait(); // the lists come from the lookup (grid-dependency.cuh)
    allow_dependents();
    const Chunk ck = find_chunk(p, target, -1, blockIdx.x);
    if (ck.head < 0) return;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int g = lane / 4, t = lane % 4; // mma fragment coordinates
    const int group = p.n_heads / p.n_kv_heads, tile = blockIdx.y;
    const int row0 = tile * heads_per_tile, h0 = ck.head * group + row0;
    const int n_q = min(heads_per_tile, group - row0);

    uint32_t qa[D / 16][4];
    const float q_scale = p.scale * kAttentionLog2e;
    tile_load_q<D, T>(p.q, h0, n_q, q_scale, g, t, qa);

    float m = -CUDART_INF_F, l = 0.0f; // head g; l is this thread's share of the sum
    float o[D / 8][4];                 // [n-tile][rows g: cols 2t, 2t+1 | rows g + 8: same]
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;

    const long head_offset = static_cast<long>(ck.head) * p.kv_head_stride;
    const uint4* k = reinterpret_cast<const uint4*>(static_cast<const T*>(p.k) + head_offset);
    const uint4* v = reinterpret_cast<const uint4*>(static_cast<const T*>(p.v) + head_offset);
    const int* rows = p.rows + ck.head * p.rows_stride;
    const int end = ck.end;

    int k_row[2], v_row[4];
    tile_list_rows(rows, ck.begin + warp * 16, end, g, t, k_row, v_row);
    for (int base = ck.begin + warp * 16; base < end; base += kStep) {
        uint4 kr[2][D / 32], vr[4][D / 64];
        tile_load_rows<D>(k, v, k_row, v_row, g, t, kr, vr);
        tile_list_rows(rows, base + kStep, end, g, t, k_row, v_row);
        tile_step<D, T>(qa, kr, vr, base, end, t, m, l, o);
    }

    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    // The warps' states, then one normalised state for the chunk: [warp][head][dim]. Not through
    // tile_store_state / store_merged: their slice arithmetic measured 0.1-0.7% slower here (H200,
    // bench/results/gpu-dedupe-2026-11-26.md).
    __shared__ float acc_s[kWarps][kMaxGroup][D];
    __shared__ float m_s[kWarps][kMaxGroup], l_s[kWarps][kMaxGroup];
    if (g < n_q) {
#pragma unroll
        for (int nt = 0; nt < (D / 8); ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) acc_s[warp][g][(2 * t + e) * (D / 8) + nt] = o[nt][e] + o[nt][2 + e];
        if (t == 0) {
            m_s[warp][g] = m;
            l_s[warp][g] = l;
        }
    }
    __syncthreads();
    float* o_part = p.workspace;                                              // [kMaxItems][group][D]
    float* lse_part = p.workspace + static_cast<long>(kMaxItems) * group * D; // [kMaxItems][group]
    for (int i = threadIdx.x; i < n_q * D; i += kThreads) {
        const int h = i / D, d = i % D;
        float mxw = -CUDART_INF_F;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) mxw = fmaxf(mxw, m_s[w][h]);
        const float bw = finite_base(mxw);
        float sum = 0.0f, a = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            const float c = exp2f(m_s[w][h] - bw);
            sum += l_s[w][h] * c;
            a += acc_s[w][h][d] * c;
        }
        const long row = static_cast<long>(blockIdx.x) * group + row0 + h;
        o_part[row * D + d] = sum > 0.0f ? a / sum : 0.0f;
        if (d == 0) lse_part[row] = sum > 0.0f ? (bw + log2f(sum)) * kAttentionLn2 : -CUDART_INF_F;
    }
}

// One block per query head: its KV head's chunks (and the extra state) by log-sum-exp. A head with
// no keys and no extra state comes out as zeros with lse -inf. The chunks are cut into kMergeParts
// interleaved parts, one per group of head_dim threads, joined in shared memory: with 8 KV heads a
// head has ~50 chunks, a chain of dependent loads for one thread per dimension.
static __global__ void __launch_bounds__(kMergeThreads) merge_kernel(SqueezedAttentionParams p, int target) {
    __shared__ float part_s[2][kMergeThreads]; // sums of w * o and of w, [part][dim]
    grid_dependency_wait();
    const int h = blockIdx.x, group = p.n_heads / p.n_kv_heads, row = h % group, D = p.head_dim;
    const int parts = kMergeThreads / D, part = threadIdx.x / D, d = threadIdx.x % D;
    const Chunk ck = find_chunk(p, target, h / group, 0);
    const float* o_part = p.workspace;
    const float* lse_part = p.workspace + static_cast<long>(kMaxItems) * group * D;
    const auto lse_of = [&](int i) { return lse_part[static_cast<long>(ck.first_item + i) * group + row]; };
    float mx = p.extra_lse ? p.extra_lse[h] : -CUDART_INF_F;
#pragma unroll 8
    for (int i = 0; i < ck.n_items; ++i) mx = fmaxf(mx, lse_of(i));
    const float base = finite_base(mx);
    float acc = 0.0f, w_sum = 0.0f;
#pragma unroll 4
    for (int i = part; i < ck.n_items; i += parts) {
        const float w = __expf(lse_of(i) - base);
        w_sum += w;
        acc += w * o_part[(static_cast<long>(ck.first_item + i) * group + row) * D + d];
    }
    if (p.extra_lse && part == parts - 1) {
        const float w = __expf(p.extra_lse[h] - base);
        w_sum += w;
        acc += w * p.extra_o[static_cast<long>(h) * D + d];
    }
    part_s[0][threadIdx.x] = acc;
    part_s[1][threadIdx.x] = w_sum;
    __syncthreads();
    if (part != 0) return;
    for (int q = 1; q < parts; ++q) {
        acc += part_s[0][q * D + d];
        w_sum += part_s[1][q * D + d];
    }
    p.out[static_cast<long>(h) * D + d] = w_sum > 0.0f ? acc / w_sum : 0.0f;
    if (d == 0 && p.lse) p.lse[h] = w_sum > 0.0f ? base + logf(w_sum) : -CUDART_INF_F;
}

template <int D, typename T>
cudaError_t run(const SqueezedAttentionParams& p, cudaStream_t stream) {
    const int group = p.n_heads / p.n_kv_heads;
    const int n_tiles = (group + kMaxGroup - 1) / kMaxGroup, heads_per_tile = (group + n_tiles - 1) / n_tiles;
    int dev = 0, n_sms = 0, per_sm = 0;
    cudaError_t err = cudaGetDevice(&dev);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&n_sms, cudaDevAttrMultiProcessorCount, dev);
    if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, squeezed_attention_kernel<D, T>, kThreads, 0);
    if (err != cudaSuccess) return err;
    // One wave: at most `fill` chunks, so `target` leaves room for each head's shorter last chunk.
    const int fill = min(kMaxItems, max(1, n_sms * per_sm / n_tiles));
    const int target = max(1, fill - p.n_kv_heads);
    const int items = min(kMaxItems, target + p.n_kv_heads);
    err = launch_dependent(squeezed_attention_kernel<D, T>, dim3(items, n_tiles), dim3(kThreads), 0, stream, p, target, heads_per_tile);
    if (err != cudaSuccess) return err;
    return launch_dependent(merge_kernel, dim3(p.n_heads), dim3(kMergeThreads), 0, stream, p, target);
}

} // namespace

size_t squeezed_attention_workspace_floats(int n_heads, int n_kv_heads, int head_dim) {
    if (n_kv_heads <= 0) return 0;
    return static_cast<size_t>(kMaxItems) * (n_heads / n_kv_heads) * (head_dim + 1);
}

cudaError_t squeezed_attention(const SqueezedAttentionParams& p, cudaStream_t stream) {
    if (p.n_heads <= 0) return cudaSuccess;
    if (p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || !p.q || !p.out || !p.rows || !p.n_keys || !p.workspace)
        return cudaErrorInvalidValue;
    // The chunk count is bounded by kMaxItems only when every head can get one.
    if (p.n_kv_heads >= kMaxItems || (p.extra_o == nullptr) != (p.extra_lse == nullptr)) return cudaErrorInvalidValue;
    if (!p.k || !p.v || p.kv_head_stride % 8 != 0 || reinterpret_cast<uintptr_t>(p.k) % 16 != 0 || reinterpret_cast<uintptr_t>(p.v) % 16 != 0)
        return cudaErrorInvalidValue;
    const bool f16 = p.kv_type == KvType::F16;
    switch (p.head_dim) {
    case 64: return f16 ? run<64, __half>(p, stream) : run<64, __nv_bfloat16>(p, stream);
    case 128: return f16 ? run<128, __half>(p, stream) : run<128, __nv_bfloat16>(p, stream);
    default: return cudaErrorInvalidValue;
    }
}

} // namespace sq::cuda
