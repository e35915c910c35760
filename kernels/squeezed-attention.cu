#include "squeezed-attention.cuh"

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "mma.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kStep = kWarps * 16;     // keys a block consumes per loop step (16 a warp)
constexpr int kMaxGroup = 8;           // query heads per block (the mma's 8 rows); larger groups take tiles
constexpr int kMaxItems = 1024;        // chunks per launch, over all heads
constexpr int kMergeThreads = 128;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

__device__ __forceinline__ float finite_base(float m) { return m == -CUDART_INF_F ? 0.0f : m; }

template <typename T>
__device__ __forceinline__ float round_to(float x);
template <>
__device__ __forceinline__ float round_to<__half>(float x) { return __half2float(__float2half_rn(x)); }
template <>
__device__ __forceinline__ float round_to<__nv_bfloat16>(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// (x0, x1) as a packed pair rounded to T (hi) and the packed pair of what rounding left (lo).
template <typename T>
__device__ __forceinline__ void split_pair(float x0, float x1, uint32_t& hi, uint32_t& lo) {
    const float h0 = round_to<T>(x0), h1 = round_to<T>(x1);
    hi = pack2<T>(h0, h1);
    lo = pack2<T>(x0 - h0, x1 - h1);
}

__device__ __forceinline__ uint32_t word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

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

// One block = one chunk of one head's list for a tile of at most 8 of its query heads. One warp
// takes 16 keys a step with mma.sync m16n8k16 (f32 accumulate):
//   S = Q K^T: A = the tile's query heads, rows g = q rounded to the cache type and rows g + 8 =
//              the rounding remainder, so S[g] + S[g + 8] is q.k to ~16 mantissa bits;
//   O = P V:   A = P built in registers from S's accumulator layout, again as hi and remainder.
// Each thread loads whole 16-byte runs of a K row, Q's fragments follow that order; V's pairs of
// keys are gathered from two rows with byte permutes (thread group g owns dims g*D/8 .. +D/8 - 1).
// A step's rows are read from the list one step ahead, so the list's latency overlaps the K/V loads.
template <int D, typename T>
static __global__ void __launch_bounds__(kThreads) squeezed_attention_kernel(SqueezedAttentionParams p, int target, int heads_per_tile) {
    constexpr int kVecs = D / 32;    // 16-byte runs of a K row per thread (4 threads a row)
    constexpr int kDimTiles = D / 8; // n-tiles of P V, and V dims per thread group
    constexpr int kVVecs = kDimTiles / 8;
    const Chunk ck = find_chunk(p, target, -1, blockIdx.x);
    if (ck.head < 0) return;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int g = lane / 4, t = lane % 4; // mma fragment coordinates
    const int group = p.n_heads / p.n_kv_heads, tile = blockIdx.y;
    const int row0 = tile * heads_per_tile, h0 = ck.head * group + row0;
    const int n_q = min(heads_per_tile, group - row0);

    // Q fragments, chunk 2u + c: dims (t + 4u)*8 + 4c + {0,1} (a0/a1) and + {2,3} (a2/a3).
    uint32_t qa[2 * kVecs][4];
    const float q_scale = p.scale * kLog2e;
#pragma unroll
    for (int u = 0; u < kVecs; ++u) {
        float qv[8];
        const float* src = p.q + static_cast<long>(h0 + g) * D + (t + 4 * u) * 8;
#pragma unroll
        for (int e = 0; e < 8; ++e) qv[e] = g < n_q ? src[e] * q_scale : 0.0f;
#pragma unroll
        for (int c = 0; c < 2; ++c) {
            split_pair<T>(qv[4 * c], qv[4 * c + 1], qa[2 * u + c][0], qa[2 * u + c][1]);
            split_pair<T>(qv[4 * c + 2], qv[4 * c + 3], qa[2 * u + c][2], qa[2 * u + c][3]);
        }
    }

    float m = -CUDART_INF_F, l = 0.0f; // head g; l is this thread's share of the sum
    float o[kDimTiles][4];             // [n-tile][rows g: cols 2t, 2t+1 | rows g + 8: same]
#pragma unroll
    for (int nt = 0; nt < kDimTiles; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;

    const long head_offset = static_cast<long>(ck.head) * p.kv_head_stride;
    const uint4* k = reinterpret_cast<const uint4*>(static_cast<const T*>(p.k) + head_offset);
    const uint4* v = reinterpret_cast<const uint4*>(static_cast<const T*>(p.v) + head_offset);
    const int* rows = p.rows + ck.head * p.rows_stride;
    const int end = ck.end;

    // Rows of this warp's 16 keys a step (K rows base + 8j + g, V rows base + 8(r/2) + 2t + r%2; -1 past the chunk).
    const auto rows_of = [&](int base, int (&kr_row)[2], int (&vr_row)[4]) {
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            const int key = base + 8 * j + g;
            kr_row[j] = key < end ? __ldg(rows + key) : -1;
        }
#pragma unroll
        for (int r = 0; r < 4; ++r) {
            const int key = base + 8 * (r / 2) + 2 * t + r % 2;
            vr_row[r] = key < end ? __ldg(rows + key) : -1;
        }
    };
    int k_row[2], v_row[4];
    rows_of(ck.begin + warp * 16, k_row, v_row);
    for (int base = ck.begin + warp * 16; base < end; base += kStep) {
        uint4 kr[2][kVecs], vr[4][kVVecs];
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int u = 0; u < kVecs; ++u)
                kr[j][u] = k_row[j] >= 0 ? __ldg(k + static_cast<long>(k_row[j]) * (D / 8) + t + 4 * u) : make_uint4(0, 0, 0, 0);
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
            for (int w = 0; w < kVVecs; ++w)
                vr[r][w] = v_row[r] >= 0 ? __ldg(v + static_cast<long>(v_row[r]) * (D / 8) + g * kVVecs + w) : make_uint4(0, 0, 0, 0);
        rows_of(base + kStep, k_row, v_row);

        float sacc[2][4] = {}; // per 8-key tile: rows g (hi) cols 2t, 2t+1, rows g + 8 (lo)
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int u = 0; u < kVecs; ++u) {
                mma_16816<T>(sacc[j], qa[2 * u], kr[j][u].x, kr[j][u].y);
                mma_16816<T>(sacc[j], qa[2 * u + 1], kr[j][u].z, kr[j][u].w);
            }

        float sc[2][2]; // head g, keys base + 8j + 2t + e
        float mx = m;
#pragma unroll
        for (int j = 0; j < 2; ++j)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const bool valid = base + 8 * j + 2 * t + e < end;
                sc[j][e] = valid ? sacc[j][e] + sacc[j][2 + e] : -CUDART_INF_F;
                mx = fmaxf(mx, sc[j][e]);
            }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // Rescale only when the running maximum grows (rare after the first keys); warp-uniform so
        // every lane reaches the mma.sync instructions together.
        if (__any_sync(0xffffffffu, mx > m)) {
            const float c = mx > m ? exp2f(m - mx) : 1.0f;
            m = mx;
            l *= c;
#pragma unroll
            for (int nt = 0; nt < kDimTiles; ++nt)
#pragma unroll
                for (int i = 0; i < 4; ++i) o[nt][i] *= c;
        }
        const float b = finite_base(m);
        // P as the A operand: (rows g, k 0-7), (rows g+8, k 0-7), (rows g, k 8-15), (rows g+8, k 8-15).
        uint32_t pa[4];
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            const float p0 = exp2f(sc[j][0] - b), p1 = exp2f(sc[j][1] - b);
            l += p0 + p1;
            split_pair<T>(p0, p1, pa[2 * j], pa[2 * j + 1]);
        }
#pragma unroll
        for (int nt = 0; nt < kDimTiles; ++nt) {
            const int w = nt / 8, i = (nt % 8) / 2;
            const unsigned sel = nt % 2 ? 0x7632u : 0x5410u; // high or low halves of two words
            const uint32_t b0 = __byte_perm(word(vr[0][w], i), word(vr[1][w], i), sel);
            const uint32_t b1 = __byte_perm(word(vr[2][w], i), word(vr[3][w], i), sel);
            mma_16816<T>(o[nt], pa, b0, b1);
        }
    }

    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    // The warps' states, then one normalised state for the chunk: [warp][head][dim].
    __shared__ float acc_s[kWarps][kMaxGroup][D];
    __shared__ float m_s[kWarps][kMaxGroup], l_s[kWarps][kMaxGroup];
    if (g < n_q) {
#pragma unroll
        for (int nt = 0; nt < kDimTiles; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) acc_s[warp][g][(2 * t + e) * kDimTiles + nt] = o[nt][e] + o[nt][2 + e];
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
        if (d == 0) lse_part[row] = sum > 0.0f ? (bw + log2f(sum)) * kLn2 : -CUDART_INF_F;
    }
}

// One block per query head: its KV head's chunks (and the extra state) by log-sum-exp. A head with
// no keys and no extra state comes out as zeros with lse -inf.
static __global__ void __launch_bounds__(kMergeThreads) merge_kernel(SqueezedAttentionParams p, int target) {
    const int h = blockIdx.x, group = p.n_heads / p.n_kv_heads, row = h % group, D = p.head_dim;
    const Chunk ck = find_chunk(p, target, h / group, 0);
    const float* o_part = p.workspace;
    const float* lse_part = p.workspace + static_cast<long>(kMaxItems) * group * D;
    const auto lse_of = [&](int i) { return lse_part[static_cast<long>(ck.first_item + i) * group + row]; };
    float mx = p.extra_lse ? p.extra_lse[h] : -CUDART_INF_F;
    for (int i = 0; i < ck.n_items; ++i) mx = fmaxf(mx, lse_of(i));
    const float base = finite_base(mx);
    for (int d = threadIdx.x; d < D; d += kMergeThreads) {
        float acc = 0.0f, w_sum = 0.0f;
        for (int i = 0; i < ck.n_items; ++i) {
            const float w = __expf(lse_of(i) - base);
            w_sum += w;
            acc += w * o_part[(static_cast<long>(ck.first_item + i) * group + row) * D + d];
        }
        if (p.extra_lse) {
            const float w = __expf(p.extra_lse[h] - base);
            w_sum += w;
            acc += w * p.extra_o[static_cast<long>(h) * D + d];
        }
        p.out[static_cast<long>(h) * D + d] = w_sum > 0.0f ? acc / w_sum : 0.0f;
        if (d == 0 && p.lse) p.lse[h] = w_sum > 0.0f ? base + logf(w_sum) : -CUDART_INF_F;
    }
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
    squeezed_attention_kernel<D, T><<<dim3(items, n_tiles), kThreads, 0, stream>>>(p, target, heads_per_tile);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    merge_kernel<<<p.n_heads, kMergeThreads, 0, stream>>>(p, target);
    return cudaGetLastError();
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
