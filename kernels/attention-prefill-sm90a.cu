#include "attention-prefill-sm90a.cuh"

#include <cstdint>
#include <math_constants.h>

#include "mma.cuh"
#include "wgmma.cuh"

namespace sq::cuda {

namespace {

constexpr int kD = 128;
constexpr int kChunks = kD / 8;                // 16-byte chunks a row
constexpr int kStages = 3;                     // cp.async stages: two tiles in flight while one is computed

// K or V tile of TILE keys: [2 halves][TILE][64].
template <int TILE>
__host__ __device__ constexpr int tile_bytes() { return TILE * kD * 2; }
template <int TILE>
constexpr int smem_bytes() { return kStages * 2 * tile_bytes<TILE>() + 1024; } // + alignment of the base to 1024

// S (64 x TILE) = Q K^T of one warpgroup: 8 k-steps, Q from registers, K from shared memory.
template <typename T, int TILE>
__device__ __forceinline__ void issue_scores(float (&s)[TILE / 2], const uint32_t (&qa)[kD / 16][4], const unsigned char* kt) {
#pragma unroll
    for (int ks = 0; ks < kD / 16; ++ks) {
        const uint64_t desc = wgmma_desc(kt + (ks / 4) * tile_bytes<TILE>() / 2 + (ks % 4) * 32);
        if constexpr (TILE == 128) wgmma_m64n128k16_rs<T>(s, qa[ks], desc, ks > 0);
        else wgmma_m64n64k16_rs<T>(s, qa[ks], desc, ks > 0);
    }
}

// O (64 x 128) += P V: TILE / 16 k-steps x 2 column halves, P from registers, V read transposed.
template <typename T, int TILE>
__device__ __forceinline__ void issue_pv(float (&o)[2][32], const uint32_t (&pa)[TILE / 16][4], const unsigned char* vt) {
#pragma unroll
    for (int kk = 0; kk < TILE / 16; ++kk)
#pragma unroll
        for (int half = 0; half < 2; ++half)
            wgmma_m64n64k16_rs_tb<T>(o[half], pa[kk], wgmma_desc(vt + half * tile_bytes<TILE>() / 2 + kk * 16 * 128));
}

__device__ __forceinline__ void rescale(float (&o)[2][32], const float (&c)[2]) {
#pragma unroll
    for (int i = 0; i < 32; ++i) {
        o[0][i] *= c[(i / 2) % 2];
        o[1][i] *= c[(i / 2) % 2];
    }
}

// Where a tile's keys sit in the virtual sequence and which of them a query sees.
struct TileView {
    int n_list, end, q0;      // list length, end of the slice, the block's first query
    bool causal;
    int causal_offset;
};

// Online softmax of one tile's raw scores s (accumulator layout) for this thread's rows qi: masks
// (only where the tile needs them), running max m and sum l, the factor c the earlier output is to be
// rescaled by, and P packed as A fragments per 16-key step: (row g, n-tile 2kk), (g + 8, 2kk),
// (g, 2kk + 1), (g + 8, 2kk + 1).
template <typename T, int TILE>
__device__ __forceinline__ void softmax_tile(float (&s)[TILE / 2], int pos0, const TileView& v, const int (&qi)[2], float score_scale,
                                             float (&m)[2], float (&l)[2], float (&c)[2], uint32_t (&pa)[TILE / 16][4]) {
    const int t = threadIdx.x % 4;
    // Masks only on tiles that need them: past the slice, or causal keys later than the block's first query.
    const bool whole = pos0 + TILE <= v.end && (!v.causal || pos0 + TILE - 1 - v.n_list <= v.q0 + v.causal_offset);
    float mx[2] = {m[0], m[1]};
#pragma unroll
    for (int nt = 0; nt < TILE / 8; ++nt)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                float x = s[4 * nt + 2 * h + e] * score_scale;
                if (!whole) {
                    const int pos = pos0 + nt * 8 + 2 * t + e;
                    const bool seen = pos < v.end && (pos < v.n_list || !v.causal || pos - v.n_list <= qi[h] + v.causal_offset);
                    if (!seen) x = -CUDART_INF_F;
                }
                s[4 * nt + 2 * h + e] = x;
                mx[h] = fmaxf(mx[h], x);
            }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
        mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
        c[h] = mx[h] > m[h] ? exp2f(m[h] - mx[h]) : 1.0f; // 0 while nothing was accumulated
        m[h] = fmaxf(m[h], mx[h]);
        l[h] *= c[h];
    }
    const float base[2] = {finite_base(m[0]), finite_base(m[1])};
#pragma unroll
    for (int kk = 0; kk < TILE / 16; ++kk)
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            const float* sn = s + 4 * (2 * kk + j);
            const float p00 = exp2f(sn[0] - base[0]), p01 = exp2f(sn[1] - base[0]);
            const float p10 = exp2f(sn[2] - base[1]), p11 = exp2f(sn[3] - base[1]);
            l[0] += p00 + p01;
            l[1] += p10 + p11;
            pa[kk][2 * j] = pack2<T>(p00, p01);
            pa[kk][2 * j + 1] = pack2<T>(p10, p11);
        }
}

// One block = 64 queries a warpgroup of one head (warpgroup w: rows 64w..64w+63) over one slice of its key
// sequence. Each warp holds its 16 query rows as wgmma A fragments for the whole run; K and V tiles
// of TILE gathered rows stream through three cp.async stages (row indices read a tile ahead, as in
// attention_prefill), one barrier a tile. Per tile and warpgroup: S = Q K^T as 8 wgmma k-steps of
// N = TILE (K from shared memory), the online softmax in registers (S's accumulators have the
// m16n8 layout, so P packs straight into A fragments), and O += P V as TILE / 16 k-steps x 2 column
// halves of wgmma with A from registers and V read transposed. Shared-memory reads per product
// (the limit of 64-key tiles with Q in shared memory, measured: 310-345 TFLOP/s on an H200) drop to
// B alone, 64 bytes a clock at the tensor cores' rate.
// WGS warpgroups a block share its K/V stages; one warpgroup a block lets two blocks an SM drift out of
// phase, so one's softmax can run beside the other's products.
template <typename T, bool LIST, int TILE, int WGS>
static __global__ void __launch_bounds__(128 * WGS) attention_prefill_sm90a_kernel(AttentionPrefillParams p, SplitOutput dst) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    constexpr int kThreads = 128 * WGS, kBlockQ = 64 * WGS;
    constexpr int kTileBytes = tile_bytes<TILE>();
    extern __shared__ unsigned char smem_raw[];
    unsigned char* kv_tiles = smem_raw + ((1024 - static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)) % 1024) % 1024);
    // kv_tiles: [kStages][K, V][2][TILE][64]

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int wg = warp / 4, wi = warp % 4;
    const int head = blockIdx.y, kv_head = head / (p.n_heads / p.n_kv_heads);
    const int q0 = blockIdx.x * kBlockQ;
    const int q_last = min(p.n_q, q0 + kBlockQ) - 1;

    const int n_list = LIST ? p.n_list[kv_head] : 0;
    const int* rows = LIST ? p.key_rows + kv_head * p.key_rows_stride : nullptr;
    int total = n_list + (p.dense_end - p.dense_begin);
    if (p.causal) total = min(total, n_list + max(0, q_last + p.causal_offset + 1)); // no query here sees past this
    const int splits = gridDim.z;
    const int chunk = ((total + splits - 1) / splits + TILE - 1) / TILE * TILE;
    const int begin = blockIdx.z * chunk, end = min(total, begin + chunk);
    const TileView view{n_list, end, q0, p.causal, p.causal_offset};

    const long head_offset = static_cast<long>(kv_head) * p.kv_head_stride;
    const T* k = static_cast<const T*>(p.k) + head_offset;
    const T* v = static_cast<const T*>(p.v) + head_offset;
    // A thread copies chunk `piece` of rows row0 + j * kRowStep of every tile.
    constexpr int kCopies = TILE * kChunks / kThreads, kRowStep = kThreads / kChunks;
    static_assert(TILE * kChunks % kThreads == 0 && kThreads % kChunks == 0);
    const int piece = threadIdx.x % kChunks, row0 = threadIdx.x / kChunks;
    int next_rows[kCopies]; // -1: past the slice
    const auto fetch_rows = [&](int pos0) {
#pragma unroll
        for (int j = 0; j < kCopies; ++j) {
            const int pos = pos0 + row0 + j * kRowStep;
            next_rows[j] = pos >= end ? -1 : LIST && pos < n_list ? __ldg(rows + pos) : p.dense_begin + (pos - n_list);
        }
    };
    const auto load_tile = [&](int stage) {
        unsigned char* kd = kv_tiles + stage * 2 * kTileBytes;
        unsigned char* vd = kd + kTileBytes;
#pragma unroll
        for (int j = 0; j < kCopies; ++j) {
            const int r = row0 + j * kRowStep, at = swizzle_offset(r, piece, TILE);
            if (next_rows[j] >= 0) {
                cp_async16(kd + at, k + static_cast<long>(next_rows[j]) * kD + piece * 8);
                cp_async16(vd + at, v + static_cast<long>(next_rows[j]) * kD + piece * 8);
            } else { // zeros, not stale rows: P is 0 there, and 0 * NaN would poison O
                *reinterpret_cast<uint4*>(kd + at) = make_uint4(0, 0, 0, 0);
                *reinterpret_cast<uint4*>(vd + at) = make_uint4(0, 0, 0, 0);
            }
        }
    };

    // One copy group per tile, the first kStages - 1 tiles ahead (empty groups past the slice keep the count).
    const int n_tiles = end > begin ? (end - begin + TILE - 1) / TILE : 0;
#pragma unroll
    for (int i = 0; i < kStages - 1; ++i) {
        fetch_rows(begin + i * TILE);
        if (i < n_tiles) load_tile(i);
        cp_async_commit();
    }
    fetch_rows(begin + (kStages - 1) * TILE);

    const int qi[2] = {q0 + wg * 64 + wi * 16 + g, q0 + wg * 64 + wi * 16 + g + 8}; // this thread's query rows
    uint32_t qa[kD / 16][4]; // Q's A fragments, zero rows past the question
    {
        const T* qh = static_cast<const T*>(p.q) + static_cast<long>(head) * p.n_q * kD;
        const uint32_t* r0 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(min(qi[0], p.n_q - 1)) * kD);
        const uint32_t* r1 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(min(qi[1], p.n_q - 1)) * kD);
        load_a_rows(qa, r0, r1, qi[0] < p.n_q, qi[1] < p.n_q, t);
    }
    float m[2] = {-CUDART_INF_F, -CUDART_INF_F}, l[2] = {0.0f, 0.0f}, c[2];
    float o[2][32]; // [column half][m64n64 accumulators]
#pragma unroll
    for (int i = 0; i < 32; ++i) o[0][i] = o[1][i] = 0.0f;
    const float score_scale = p.scale * kAttentionLog2e;

    for (int it = 0; it < n_tiles; ++it) {
        // Groups committed so far: kStages - 1 + it; all but the newest kStages - 2 done = tile it is in.
        cp_async_wait<kStages - 2>();
        fence_proxy_async();
        __syncthreads(); // also: every warpgroup is done with the stage refilled next (tile it - 1's)
        if (it + kStages - 1 < n_tiles) load_tile((it + kStages - 1) % kStages);
        cp_async_commit();
        fetch_rows(begin + (it + kStages) * TILE);
        const unsigned char* kt = kv_tiles + (it % kStages) * 2 * kTileBytes;

        float s[TILE / 2];
#pragma unroll
        for (int i = 0; i < TILE / 2; ++i) s[i] = 0.0f;
        wgmma_fence_operands(s);
        wgmma_fence();
        issue_scores<T, TILE>(s, qa, kt);
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(s);
        uint32_t pa[TILE / 16][4];
        softmax_tile<T, TILE>(s, begin + it * TILE, view, qi, score_scale, m, l, c, pa);
        rescale(o, c);
        wgmma_fence_operands(o[0]);
        wgmma_fence_operands(o[1]);
        wgmma_fence();
        issue_pv<T, TILE>(o, pa, kt + kTileBytes);
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(o[0]);
        wgmma_fence_operands(o[1]);
    }
    cp_async_wait<0>(); // no copy outlives the block (the groups past the last tile are empty)

#pragma unroll
    for (int h = 0; h < 2; ++h) {
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
        l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
        if (qi[h] >= p.n_q) continue;
        const long row = static_cast<long>(head) * p.n_q + qi[h];
        const float inv = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
        float* out = dst.o + blockIdx.z * dst.o_split_stride + row * kD;
#pragma unroll
        for (int half = 0; half < 2; ++half)
#pragma unroll
            for (int nt = 0; nt < 8; ++nt)
                *reinterpret_cast<float2*>(out + half * 64 + nt * 8 + 2 * t) =
                    make_float2(o[half][4 * nt + 2 * h] * inv, o[half][4 * nt + 2 * h + 1] * inv);
        if (t == 0 && dst.lse)
            dst.lse[blockIdx.z * dst.lse_split_stride + row] = l[h] > 0.0f ? (m[h] + log2f(l[h])) * kAttentionLn2 : -CUDART_INF_F;
    }
#endif
}

using Kernel = void (*)(AttentionPrefillParams, SplitOutput);

struct Variant {
    Kernel kernel;
    int smem, warpgroups;
};

// wgmma_variant 0: 128-key tiles, two warpgroups a block; 1: 64-key tiles, two; 2: 64-key tiles, one.
// Dense prefill at 512K keys on an H200: 22.5, 24.5 and 27.1 ms (gpu-prefill-2026-11-26-h200-3666691.md).
template <typename T, bool LIST>
Variant variant_of(int variant) {
    if (variant == 1) return {attention_prefill_sm90a_kernel<T, LIST, 64, 2>, smem_bytes<64>(), 2};
    if (variant == 2) return {attention_prefill_sm90a_kernel<T, LIST, 64, 1>, smem_bytes<64>(), 1};
    return {attention_prefill_sm90a_kernel<T, LIST, 128, 2>, smem_bytes<128>(), 2};
}

Variant pick(const AttentionPrefillParams& p) {
    const bool list = p.key_rows != nullptr;
    if (p.kv_type == KvType::F16) return list ? variant_of<__half, true>(p.wgmma_variant) : variant_of<__half, false>(p.wgmma_variant);
    return list ? variant_of<__nv_bfloat16, true>(p.wgmma_variant) : variant_of<__nv_bfloat16, false>(p.wgmma_variant);
}

} // namespace

int attention_prefill_sm90a_rows(const AttentionPrefillParams& p) { return 64 * pick(p).warpgroups; }

cudaError_t attention_prefill_sm90a_occupancy(const AttentionPrefillParams& p, int* blocks_per_sm) {
    const Variant v = pick(p);
    cudaError_t err = cudaFuncSetAttribute(v.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, v.smem);
    if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks_per_sm, v.kernel, 128 * v.warpgroups, v.smem);
    return err;
}

cudaError_t attention_prefill_sm90a_launch(const AttentionPrefillParams& p, int splits, const SplitOutput& dst, cudaStream_t stream) {
    const Variant v = pick(p);
    const cudaError_t err = cudaFuncSetAttribute(v.kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, v.smem);
    if (err != cudaSuccess) return err;
    const int rows = 64 * v.warpgroups;
    const dim3 grid((p.n_q + rows - 1) / rows, p.n_heads, splits);
    v.kernel<<<grid, 128 * v.warpgroups, v.smem, stream>>>(p, dst);
    return cudaGetLastError();
}

} // namespace sq::cuda
