// The tiled attention kernel of attention-tiled.h, written once over a SIMD traits type and
// compiled per instruction set (attention-tiled-avx2.cpp, attention-tiled-avx512.cpp).
//
// One work item is (KV head, query tile): the rows of a tile are its tokens × the query heads of
// the KV head, row m = (token t0 + m / group, head kv_head * group + m % group). Queries and the
// output are kept transposed, [head_dim][rows], so that both products are outer-product updates of
// row vectors by broadcast scalars (no horizontal sums), and the softmax statistics of W rows are
// one vector:
//   st[j][m] = sum_i kf[j][i] * qt[i][m]         scores of key tile j against every row
//   ot[i][m] = ot[i][m] * corr[m] + sum_j vf[j][i] * st[j][m]    after st became exp(s - max),
//                                                                corr[m] = exp(old max - new max)
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "attention-tiled.h"

namespace sq::cpu {

// Keys per K/V tile: their f32 K and V (16 KiB each at head_dim 64) stay in L1/L2 while every row
// of the query tile uses them. 32, 64 and 128 measured the same (~80 GFLOP/s on one Zen 4 core,
// SmolLM2's heads, 512 queries over 2.5K keys), so the middle one.
constexpr uint32_t kTiledKeys = 64;

// Tile geometry and the per-slot scratch layout, the same for every item of one call.
struct TiledShape {
    uint32_t group = 0;        // query heads per KV head
    uint32_t tokens = 0;       // tokens per query tile
    uint32_t rows_padded = 0;  // tokens * group rounded up to 16 (a whole number of vectors)

    size_t qt_floats() const { return size_t{rows_padded} * head_dim; }
    uint32_t head_dim = 0;
    // [qt: head_dim][rows_padded] [ot: head_dim][rows_padded] [st: kTiledKeys][rows_padded]
    // [kf, vf: kTiledKeys][head_dim] [row_max, row_sum, row_pos, corr: rows_padded]
    size_t scratch_floats() const {
        return 2 * qt_floats() + size_t{kTiledKeys} * rows_padded + 2 * size_t{kTiledKeys} * head_dim +
               4 * size_t{rows_padded};
    }
};

using TiledItemFn = void (*)(const TiledAttentionParams& p, const TiledShape& s, uint32_t kv_head, uint32_t t0,
                             uint32_t t1, float* scratch);

// The kernel at each level, or nullptr where the compiler did not target it.
TiledItemFn attention_tiled_item_avx2();
TiledItemFn attention_tiled_item_avx512();

#ifdef SQ_TILED_KERNEL_BODY
// Internal linkage: each instruction-set file gets its own copies (see common/half.h for why).
namespace {

// c[r][m] = c[r][m] * c_scale[m] + sum_i a[r * a_rs + i * a_is] * b[i * b_stride + m] for R rows
// and MV vectors of m (c taken as 0 when c_scale is null): R x MV accumulators stay in registers
// over the whole inner loop.
template <typename S, int R, int MV>
inline void outer_tile(const float* a, size_t a_rs, size_t a_is, const float* b, size_t b_stride, uint32_t n_inner,
                       float* c, size_t c_stride, const float* c_scale) {
    using V = typename S::V;
    V acc[R][MV];
    for (int v = 0; v < MV; ++v) {
        const V scale = c_scale ? S::load(c_scale + v * S::W) : S::zero();
        for (int r = 0; r < R; ++r) acc[r][v] = c_scale ? S::mul(S::load(c + r * c_stride + v * S::W), scale) : scale;
    }
    for (uint32_t i = 0; i < n_inner; ++i) {
        V bv[MV];
        for (int v = 0; v < MV; ++v) bv[v] = S::load(b + i * b_stride + v * S::W);
        for (int r = 0; r < R; ++r) {
            const V ar = S::bcast(a[r * a_rs + i * a_is]);
            for (int v = 0; v < MV; ++v) acc[r][v] = S::fma(ar, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < R; ++r) {
        for (int v = 0; v < MV; ++v) S::store(c + r * c_stride + v * S::W, acc[r][v]);
    }
}

// The same over n_rows (a multiple of S::R) and `cols` columns (a multiple of S::W).
template <typename S>
inline void outer_product(const float* a, size_t a_rs, size_t a_is, uint32_t n_rows, const float* b, size_t b_stride,
                          uint32_t n_inner, uint32_t cols, float* c, size_t c_stride, const float* c_scale) {
    constexpr uint32_t block = S::MV * S::W;
    for (uint32_t m0 = 0; m0 < cols; m0 += block) {
        const uint32_t mv = (cols - m0 >= block) ? S::MV : (cols - m0) / S::W;
        for (uint32_t r0 = 0; r0 < n_rows; r0 += S::R) {
            const float* ar = a + r0 * a_rs;
            float* cr = c + r0 * c_stride + m0;
            const float* bm = b + m0;
            const float* sm = c_scale ? c_scale + m0 : nullptr;
            switch (mv) {
                case 3: outer_tile<S, S::R, 3>(ar, a_rs, a_is, bm, b_stride, n_inner, cr, c_stride, sm); break;
                case 2: outer_tile<S, S::R, 2>(ar, a_rs, a_is, bm, b_stride, n_inner, cr, c_stride, sm); break;
                default: outer_tile<S, S::R, 1>(ar, a_rs, a_is, bm, b_stride, n_inner, cr, c_stride, sm); break;
            }
        }
    }
}

// Rows j0 .. j0 + n - 1 of one head's cache as f32 [kTiledKeys][head_dim], zero past n.
template <typename S>
inline void load_tile(const void* head, bool f16, uint32_t j0, uint32_t n, uint32_t head_dim, float* dst) {
    if (f16) {
        S::f16_to_f32(static_cast<const uint16_t*>(head) + size_t{j0} * head_dim, dst, n * head_dim);
    } else {
        std::memcpy(dst, static_cast<const float*>(head) + size_t{j0} * head_dim, sizeof(float) * n * head_dim);
    }
    std::memset(dst + size_t{n} * head_dim, 0, sizeof(float) * (kTiledKeys - n) * head_dim);
}

// Online softmax over one key tile for every row: scales st, masks keys past a row's position
// (when the tile reaches past the first row's position), turns st into exp(s - new max), updates
// the running max and sum, and leaves each row's rescale factor for ot in corr.
template <typename S>
inline void softmax_tile(float* st, uint32_t rows_padded, uint32_t j0, bool causal_mask, float scale, float* row_max,
                         float* row_sum, const float* row_pos, float* corr) {
    using V = typename S::V;
    const V vscale = S::bcast(scale);
    for (uint32_t m = 0; m < rows_padded; m += S::W) {
        const V pos = S::load(row_pos + m);
        V tile_max = S::bcast(-INFINITY);
        for (uint32_t j = 0; j < kTiledKeys; ++j) {
            float* s = st + size_t{j} * rows_padded + m;
            V x = S::mul(S::load(s), vscale);
            if (causal_mask) x = S::mask_after(x, S::bcast(static_cast<float>(j0 + j)), pos);
            S::store(s, x);
            tile_max = S::max(tile_max, x);
        }
        const V old_max = S::load(row_max + m);
        const V new_max = S::max(old_max, tile_max);
        // A row with no visible key yet keeps max -inf; subtracting 0 then gives exp(-inf) = 0.
        const V shift = S::finite_or_zero(new_max);
        const V c = S::exp(S::sub(old_max, shift));
        V sum = S::zero();
        for (uint32_t j = 0; j < kTiledKeys; ++j) {
            float* s = st + size_t{j} * rows_padded + m;
            const V e = S::exp(S::sub(S::load(s), shift));
            S::store(s, e);
            sum = S::add(sum, e);
        }
        S::store(row_sum + m, S::fma(S::load(row_sum + m), c, sum));
        S::store(row_max + m, new_max);
        S::store(corr + m, c);
    }
}

template <typename S>
void tiled_item(const TiledAttentionParams& p, const TiledShape& s, uint32_t kv_head, uint32_t t0, uint32_t t1,
                float* scratch) {
    const uint32_t d = p.head_dim, mp = s.rows_padded, rows = (t1 - t0) * s.group;
    float* qt = scratch;                               // [d][mp]
    float* ot = qt + s.qt_floats();                    // [d][mp]
    float* st = ot + s.qt_floats();                    // [kTiledKeys][mp]
    float* kf = st + size_t{kTiledKeys} * mp;          // [kTiledKeys][d]
    float* vf = kf + size_t{kTiledKeys} * d;           // [kTiledKeys][d]
    float* row_max = vf + size_t{kTiledKeys} * d;      // [mp]
    float* row_sum = row_max + mp;                     // [mp]
    float* row_pos = row_sum + mp;                     // [mp] position of the row's token; -1 for padding
    float* corr = row_pos + mp;                        // [mp]

    std::memset(qt, 0, sizeof(float) * s.qt_floats());
    std::memset(ot, 0, sizeof(float) * s.qt_floats());
    for (uint32_t m = 0; m < mp; ++m) {
        row_max[m] = -INFINITY;
        row_sum[m] = 0.0f;
        row_pos[m] = m < rows ? static_cast<float>(p.pos0 + t0 + m / s.group) : -1.0f;
    }
    for (uint32_t m = 0; m < rows; ++m) {
        const float* q = p.q + size_t{t0 + m / s.group} * p.q_stride + size_t{kv_head * s.group + m % s.group} * d;
        for (uint32_t i = 0; i < d; ++i) qt[size_t{i} * mp + m] = q[i];
    }

    const size_t elem = p.kv_f16 ? sizeof(uint16_t) : sizeof(float);
    const uint8_t* k_head = static_cast<const uint8_t*>(p.k) + size_t{kv_head} * p.kv_head_rows * d * elem;
    const uint8_t* v_head = static_cast<const uint8_t*>(p.v) + size_t{kv_head} * p.kv_head_rows * d * elem;
    const uint32_t first_pos = p.pos0 + t0, n_keys = p.pos0 + t1; // keys seen by the first / last token
    for (uint32_t j0 = 0; j0 < n_keys; j0 += kTiledKeys) {
        const uint32_t n = n_keys - j0 < kTiledKeys ? n_keys - j0 : kTiledKeys;
        load_tile<S>(k_head, p.kv_f16, j0, n, d, kf);
        load_tile<S>(v_head, p.kv_f16, j0, n, d, vf);
        outer_product<S>(kf, d, 1, kTiledKeys, qt, mp, d, mp, st, mp, nullptr);
        // Keys past n (zero rows) are past every row's position too, so the mask removes them.
        const bool causal_mask = j0 + kTiledKeys - 1 > first_pos;
        softmax_tile<S>(st, mp, j0, causal_mask, p.scale, row_max, row_sum, row_pos, corr);
        outer_product<S>(vf, 1, d, d, st, mp, kTiledKeys, mp, ot, mp, corr); // rescales ot as it adds
    }

    for (uint32_t m = 0; m < rows; ++m) {
        float* out = p.out + size_t{t0 + m / s.group} * p.out_stride + size_t{kv_head * s.group + m % s.group} * d;
        const float inv = 1.0f / row_sum[m];
        for (uint32_t i = 0; i < d; ++i) out[i] = ot[size_t{i} * mp + m] * inv;
    }
}

} // namespace
#endif // SQ_TILED_KERNEL_BODY

} // namespace sq::cpu
