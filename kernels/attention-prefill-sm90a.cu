#include "attention-prefill-sm90a.cuh"

#include <cstdint>
#include <math_constants.h>

#include "mma.cuh"
#include "wgmma.cuh"

namespace sq::cuda {

namespace {

constexpr int kD = 128;
constexpr int kWarpGroups = 2;                 // each owns 64 query rows
constexpr int kThreads = 128 * kWarpGroups;
constexpr int kBlockQ = kAttentionPrefillSm90aRows;
constexpr int kTileK = 64;                     // keys a stage
constexpr int kStages = 3;                     // cp.async stages: two tiles in flight while one is computed
constexpr int kChunks = kD / 8;                // 16-byte chunks a row
constexpr int kQBytes = kBlockQ * kD * 2;      // [2 halves][kBlockQ][64]
constexpr int kTileBytes = kTileK * kD * 2;    // K or V: [2 halves][kTileK][64]
constexpr int kSmemBytes = kQBytes + kStages * 2 * kTileBytes + 1024; // + alignment of the base to 1024
static_assert(kBlockQ == 64 * kWarpGroups);

// One block = 128 queries of one head (warpgroup w: rows 64w..64w+63) over one slice of its key
// sequence. Q stays in shared memory; K and V tiles of 64 gathered rows stream through three
// cp.async stages (row indices read a tile ahead, as in attention_prefill). Per tile and warpgroup:
// S = Q K^T as 8 wgmma k-steps (both operands from shared memory), the online softmax in registers
// (S's accumulators have the m16n8 layout, so P packs straight into A fragments), and O += P V as 4
// k-steps x 2 column halves of wgmma with A from registers and V read transposed. One barrier a
// tile: the stage it refills was last read by the previous tile's wgmma, waited for before it.
template <typename T, bool LIST>
static __global__ void __launch_bounds__(kThreads, 1) attention_prefill_sm90a_kernel(AttentionPrefillParams p, SplitOutput dst) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    extern __shared__ unsigned char smem_raw[];
    unsigned char* smem = smem_raw + ((1024 - static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw)) % 1024) % 1024);
    unsigned char* q_tile = smem;                 // [2][kBlockQ][64]
    unsigned char* kv_tiles = smem + kQBytes;     // [kStages][K, V][2][kTileK][64]

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
    const int chunk = ((total + splits - 1) / splits + kTileK - 1) / kTileK * kTileK;
    const int begin = blockIdx.z * chunk, end = min(total, begin + chunk);

    const long head_offset = static_cast<long>(kv_head) * p.kv_head_stride;
    const T* k = static_cast<const T*>(p.k) + head_offset;
    const T* v = static_cast<const T*>(p.v) + head_offset;
    // A thread copies chunk `piece` of rows row0 + j * kRowStep of every tile.
    constexpr int kCopies = kTileK * kChunks / kThreads, kRowStep = kThreads / kChunks;
    static_assert(kTileK * kChunks % kThreads == 0 && kThreads % kChunks == 0);
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
            const int r = row0 + j * kRowStep, at = swizzle_offset(r, piece, kTileK);
            if (next_rows[j] >= 0) {
                cp_async16(kd + at, k + static_cast<long>(next_rows[j]) * kD + piece * 8);
                cp_async16(vd + at, v + static_cast<long>(next_rows[j]) * kD + piece * 8);
            } else { // zeros, not stale rows: P is 0 there, and 0 * NaN would poison O
                *reinterpret_cast<uint4*>(kd + at) = make_uint4(0, 0, 0, 0);
                *reinterpret_cast<uint4*>(vd + at) = make_uint4(0, 0, 0, 0);
            }
        }
    };

    // The Q tile (zero rows past the question) joins the first tile's copy group.
    const T* qh = static_cast<const T*>(p.q) + static_cast<long>(head) * p.n_q * kD;
    for (int i = threadIdx.x; i < kBlockQ * kChunks; i += kThreads) {
        const int r = i / kChunks, pc = i % kChunks;
        unsigned char* dst_q = q_tile + swizzle_offset(r, pc, kBlockQ);
        if (q0 + r < p.n_q) cp_async16(dst_q, qh + static_cast<long>(q0 + r) * kD + pc * 8);
        else *reinterpret_cast<uint4*>(dst_q) = make_uint4(0, 0, 0, 0);
    }
    const int n_tiles = end > begin ? (end - begin + kTileK - 1) / kTileK : 0;
    fetch_rows(begin);
    if (n_tiles > 0) load_tile(0);
    cp_async_commit();
    fetch_rows(begin + kTileK);
    if (n_tiles > 1) load_tile(1);
    cp_async_commit();
    fetch_rows(begin + 2 * kTileK);

    int qi[2]; // this thread's query rows: g and g + 8 of its warp's 16
    qi[0] = q0 + wg * 64 + wi * 16 + g;
    qi[1] = qi[0] + 8;
    float m[2] = {-CUDART_INF_F, -CUDART_INF_F}, l[2] = {0.0f, 0.0f};
    float o[2][32]; // [column half][m64n64 accumulators]
#pragma unroll
    for (int i = 0; i < 32; ++i) o[0][i] = o[1][i] = 0.0f;
    const float score_scale = p.scale * kAttentionLog2e;
    const unsigned char* q_wg = q_tile + wg * 64 * 128;

    for (int it = 0; it < n_tiles; ++it) {
        const int stage = it % kStages, pos0 = begin + it * kTileK;
        cp_async_wait<1>(); // groups 0..it are complete: this tile (and Q) are in shared memory
        fence_proxy_async();
        __syncthreads();
        if (it + 2 < n_tiles) load_tile((it + 2) % kStages);
        cp_async_commit();
        fetch_rows(pos0 + 3 * kTileK);
        const unsigned char* kt = kv_tiles + stage * 2 * kTileBytes;
        const unsigned char* vt = kt + kTileBytes;

        float s[32];
#pragma unroll
        for (int i = 0; i < 32; ++i) s[i] = 0.0f;
        wgmma_fence_operands(s);
        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < kD / 16; ++ks) {
            const int half = ks / 4, within = (ks % 4) * 32;
            wgmma_m64n64k16_ss<T>(s, wgmma_desc(q_wg + half * kQBytes / 2 + within), wgmma_desc(kt + half * kTileBytes / 2 + within), ks > 0);
        }
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operands(s);

        // Masks only on tiles that need them: past the slice, or causal keys later than the block's first query.
        const bool whole = pos0 + kTileK <= end && (!p.causal || pos0 + kTileK - 1 - n_list <= q0 + p.causal_offset);
        float mx[2] = {m[0], m[1]};
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
            for (int h = 0; h < 2; ++h)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    float x = s[4 * nt + 2 * h + e] * score_scale;
                    if (!whole) {
                        const int pos = pos0 + nt * 8 + 2 * t + e;
                        const bool seen = pos < end && (pos < n_list || !p.causal || pos - n_list <= qi[h] + p.causal_offset);
                        if (!seen) x = -CUDART_INF_F;
                    }
                    s[4 * nt + 2 * h + e] = x;
                    mx[h] = fmaxf(mx[h], x);
                }
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
            mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
            if (mx[h] > m[h]) {
                const float c = exp2f(m[h] - mx[h]); // 0 while nothing was accumulated
                m[h] = mx[h];
                l[h] *= c;
#pragma unroll
                for (int nt = 0; nt < 8; ++nt) {
                    o[0][4 * nt + 2 * h] *= c;
                    o[0][4 * nt + 2 * h + 1] *= c;
                    o[1][4 * nt + 2 * h] *= c;
                    o[1][4 * nt + 2 * h + 1] *= c;
                }
            }
        }
        const float base[2] = {finite_base(m[0]), finite_base(m[1])};
        uint32_t pa[4][4]; // A fragments of P per 16-key step: (row g, n-tile 2kk), (g + 8, 2kk), (g, 2kk + 1), (g + 8, 2kk + 1)
#pragma unroll
        for (int kk = 0; kk < 4; ++kk)
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

        wgmma_fence_operands(o[0]);
        wgmma_fence_operands(o[1]);
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; ++kk)
#pragma unroll
            for (int half = 0; half < 2; ++half) wgmma_m64n64k16_rs_tb<T>(o[half], pa[kk], wgmma_desc(vt + half * kTileBytes / 2 + kk * 16 * 128));
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

template <typename T, bool LIST>
constexpr auto kernel_of() { return attention_prefill_sm90a_kernel<T, LIST>; }

using Kernel = void (*)(AttentionPrefillParams, SplitOutput);

Kernel pick(const AttentionPrefillParams& p) {
    const bool list = p.key_rows != nullptr;
    if (p.kv_type == KvType::F16) return list ? kernel_of<__half, true>() : kernel_of<__half, false>();
    return list ? kernel_of<__nv_bfloat16, true>() : kernel_of<__nv_bfloat16, false>();
}

} // namespace

bool attention_prefill_sm90a_usable() {
    int dev = 0, major = 0, minor = 0;
    return cudaGetDevice(&dev) == cudaSuccess && cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
           cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess && major == 9 && minor == 0;
}

cudaError_t attention_prefill_sm90a_occupancy(const AttentionPrefillParams& p, int* blocks_per_sm) {
    const Kernel kernel = pick(p);
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(blocks_per_sm, kernel, kThreads, kSmemBytes);
    return err;
}

cudaError_t attention_prefill_sm90a_launch(const AttentionPrefillParams& p, int splits, const SplitOutput& dst, cudaStream_t stream) {
    const Kernel kernel = pick(p);
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes);
    if (err != cudaSuccess) return err;
    const dim3 grid((p.n_q + kBlockQ - 1) / kBlockQ, p.n_heads, splits);
    kernel<<<grid, kThreads, kSmemBytes, stream>>>(p, dst);
    return cudaGetLastError();
}

} // namespace sq::cuda
