// The tensor-core step of single-query attention, shared by attention_decode's mma kernel and
// squeezed_attention (sm_80+). One warp takes 16 keys a step with mma.sync m16n8k16 (f32 accumulate)
// for a tile of at most 8 query heads:
//   S = Q K^T: A = the tile's query heads, rows g = q rounded to the cache type and rows g + 8 =
//              the rounding remainder, so S[g] + S[g + 8] is q.k to ~16 mantissa bits;
//   O = P V:   A = P built in registers from S's accumulator layout, again as hi (rows g) and
//              remainder (rows g + 8), so O[g] + O[g + 8] is the f32-accurate product.
// A dot product may pair dimensions in any order both operands share, so each thread loads whole
// 16-byte runs of a K row and Q's fragments follow that order; V's pairs of keys are gathered from
// two rows with byte permutes, its dimensions permuted (thread group g owns dims g*D/8 .. +D/8 - 1).
// Scores are in log2 units (q pre-multiplied by scale * log2 e) so each exponential is one exp2.
//
// The step's functions are __forceinline__ so that each kernel's key loop compiles to the PTX it had
// when it carried its own copy (checked with nvcc -ptx at the clean-up). attention_prefill takes
// finite_base and SplitOutput from here too.
#pragma once

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "mma.cuh"

namespace sq::cuda {

constexpr float kAttentionLog2e = 1.4426950408889634f;
constexpr float kAttentionLn2 = 0.6931471805599453f;

// Running maxima start at -inf; subtracting a base of 0 instead keeps exp2(-inf - -inf) from
// turning an empty state into NaN (its weight comes out 0).
__device__ __forceinline__ float finite_base(float m) { return m == -CUDART_INF_F ? 0.0f : m; }

__device__ __forceinline__ uint32_t word(const uint4& v, int i) { return i == 0 ? v.x : i == 1 ? v.y : i == 2 ? v.z : v.w; }

// Q fragments of the tile's n_q heads h0 .. h0 + n_q - 1 of q [heads][D], scaled (rows from n_q
// on are zeros). Chunk 2u + c: dims (t + 4u)*8 + 4c + {0,1} (a0/a1) and + {2,3} (a2/a3).
template <int D, typename T>
__device__ __forceinline__ void tile_load_q(const float* q, int h0, int n_q, float q_scale, int g, int t, uint32_t (&qa)[D / 16][4]) {
#pragma unroll
    for (int u = 0; u < D / 32; ++u) {
        float qv[8];
        const float* src = q + static_cast<long>(h0 + g) * D + (t + 4 * u) * 8;
#pragma unroll
        for (int e = 0; e < 8; ++e) qv[e] = g < n_q ? src[e] * q_scale : 0.0f;
#pragma unroll
        for (int c = 0; c < 2; ++c) {
            split_pair<T>(qv[4 * c], qv[4 * c + 1], qa[2 * u + c][0], qa[2 * u + c][1]);
            split_pair<T>(qv[4 * c + 2], qv[4 * c + 3], qa[2 * u + c][2], qa[2 * u + c][3]);
        }
    }
}

// Rows of a warp's 16 keys [base, base + 16) of a list: K rows base + 8j + g, V rows
// base + 8(r/2) + 2t + r%2; -1 at and past `end`.
__device__ __forceinline__ void tile_list_rows(const int* rows, int base, int end, int g, int t, int (&k_row)[2], int (&v_row)[4]) {
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        const int key = base + 8 * j + g;
        k_row[j] = key < end ? __ldg(rows + key) : -1;
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) {
        const int key = base + 8 * (r / 2) + 2 * t + r % 2;
        v_row[r] = key < end ? __ldg(rows + key) : -1;
    }
}

// The K and V runs of those rows (rows of -1 load as zeros); k, v: one head's [rows][D] as uint4.
template <int D>
__device__ __forceinline__ void tile_load_rows(const uint4* k, const uint4* v, const int (&k_row)[2], const int (&v_row)[4], int g, int t,
                                               uint4 (&kr)[2][D / 32], uint4 (&vr)[4][D / 64]) {
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
        for (int u = 0; u < D / 32; ++u)
            kr[j][u] = k_row[j] >= 0 ? __ldg(k + static_cast<long>(k_row[j]) * (D / 8) + t + 4 * u) : make_uint4(0, 0, 0, 0);
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
        for (int w = 0; w < D / 64; ++w)
            vr[r][w] = v_row[r] >= 0 ? __ldg(v + static_cast<long>(v_row[r]) * (D / 8) + g * (D / 64) + w) : make_uint4(0, 0, 0, 0);
}

// One step over the warp's keys [base, base + 16) (those at or past `end` are masked): S = Q K^T,
// the online softmax of head g (m: running maximum, l: this thread's share of the sum), O += P V.
// o: [n-tile][rows g: cols 2t, 2t+1 | rows g + 8: same].
template <int D, typename T>
__device__ __forceinline__ void tile_step(const uint32_t (&qa)[D / 16][4], const uint4 (&kr)[2][D / 32], const uint4 (&vr)[4][D / 64],
                                          int base, int end, int t, float& m, float& l, float (&o)[D / 8][4]) {
    float sacc[2][4] = {}; // per 8-key tile: rows g (hi) cols 2t, 2t+1, rows g + 8 (lo)
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
        for (int u = 0; u < D / 32; ++u) {
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
    // every lane reaches the mma.sync instructions below together.
    if (__any_sync(0xffffffffu, mx > m)) {
        const float c = mx > m ? exp2f(m - mx) : 1.0f;
        m = mx;
        l *= c;
#pragma unroll
        for (int nt = 0; nt < D / 8; ++nt)
#pragma unroll
            for (int i = 0; i < 4; ++i) o[nt][i] *= c;
    }
    const float b = finite_base(m);
    // P as the A operand, whose registers are (rows g, k 0-7), (rows g+8, k 0-7), (rows g, k 8-15),
    // (rows g+8, k 8-15): hi and lo of key tile 0, then of key tile 1.
    uint32_t pa[4];
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        const float p0 = exp2f(sc[j][0] - b), p1 = exp2f(sc[j][1] - b);
        l += p0 + p1;
        split_pair<T>(p0, p1, pa[2 * j], pa[2 * j + 1]);
    }
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt) {
        const int w = nt / 8, i = (nt % 8) / 2;
        const unsigned sel = nt % 2 ? 0x7632u : 0x5410u; // high or low halves of two words
        const uint32_t b0 = __byte_perm(word(vr[0][w], i), word(vr[1][w], i), sel);
        const uint32_t b1 = __byte_perm(word(vr[2][w], i), word(vr[3][w], i), sel);
        mma_16816<T>(o[nt], pa, b0, b1);
    }
}

// Each warp's (max, sum, unnormalised output) per query head of a W-warp block, merged by store_merged.
template <int W, int G, int D>
struct WarpStates {
    float acc[W][G][D];
    float m[W][G];
    float l[W][G];
};

// Where a block writes its slice's normalised output and log-sum-exp (a kernel's slice index picks
// the slice: o + slice * o_split_stride).
struct SplitOutput {
    float* o;            // [slices][rows][head_dim], or the final output with one slice
    float* lse;          // [slices][rows] natural log, or null
    long o_split_stride;
    long lse_split_stride;
};

// The warp's state after its last tile_step into st (head g of the tile, n_q heads valid).
template <int W, int G, int D>
__device__ __forceinline__ void tile_store_state(WarpStates<W, G, D>& st, int warp, int g, int t, int n_q, float m, float l,
                                                 const float (&o)[D / 8][4]) {
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    if (g < n_q) {
#pragma unroll
        for (int nt = 0; nt < D / 8; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) st.acc[warp][g][(2 * t + e) * (D / 8) + nt] = o[nt][e] + o[nt][2 + e];
        if (t == 0) {
            st.m[warp][g] = m;
            st.l[warp][g] = l;
        }
    }
}

// Merges the warps' states of the block's n_q heads and writes the slice's normalised output and
// log-sum-exp at heads h0 .. h0 + n_q - 1. Call after a barrier that follows the writes to st.
template <int W, int G, int D>
__device__ void store_merged(const WarpStates<W, G, D>& st, int n_q, int h0, const SplitOutput& dst) {
    for (int i = threadIdx.x; i < n_q * D; i += W * 32) {
        const int h = i / D, d = i % D;
        float mx = -CUDART_INF_F;
#pragma unroll
        for (int w = 0; w < W; ++w) mx = fmaxf(mx, st.m[w][h]);
        const float b = finite_base(mx);
        float sum = 0.0f, a = 0.0f;
#pragma unroll
        for (int w = 0; w < W; ++w) {
            const float c = exp2f(st.m[w][h] - b);
            sum += st.l[w][h] * c;
            a += st.acc[w][h][d] * c;
        }
        const int row = h0 + h;
        dst.o[blockIdx.x * dst.o_split_stride + static_cast<long>(row) * D + d] = sum > 0.0f ? a / sum : 0.0f;
        if (d == 0 && dst.lse)
            dst.lse[blockIdx.x * dst.lse_split_stride + row] = sum > 0.0f ? (b + log2f(sum)) * kAttentionLn2 : -CUDART_INF_F;
    }
}

} // namespace sq::cuda
