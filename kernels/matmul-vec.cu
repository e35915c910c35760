#include "matmul-vec.cuh"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cuda_fp16.h>

namespace sq::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kThreads = 32 * kWarps;
constexpr uint32_t kLowNibbles = 0x0F0F0F0Fu;

// 16-byte global -> shared copy that holds no register while in flight (sm_80+), bypassing L1:
// each weight byte is read once, and L1 keeps the activation rows every warp re-reads.
__device__ __forceinline__ void copy16_async(void* smem, const void* gmem) {
    const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}

// N words from shared memory at any byte offset of a 16-byte aligned buffer: N + 1 aligned words
// funnel-shifted (ggml blocks sit at 2-byte offsets). Reads up to 4 bytes past the last word.
template <int N>
__device__ __forceinline__ void load_words(const uint8_t* buf, int off, uint32_t (&out)[N]) {
    const uint32_t* w = reinterpret_cast<const uint32_t*>(buf + (off & ~3));
    const int shift = 8 * (off & 3);
    uint32_t lo = w[0];
#pragma unroll
    for (int i = 0; i < N; ++i) {
        const uint32_t hi = w[i + 1];
        out[i] = __funnelshift_r(lo, hi, shift);
        lo = hi;
    }
}

__device__ __forceinline__ float half_at(const uint8_t* p) { return __half2float(*reinterpret_cast<const __half*>(p)); }
__device__ __forceinline__ int dp4a(uint32_t a, int b, int c) { return __dp4a(static_cast<int>(a), b, c); }
__device__ __forceinline__ int4 act16(const int8_t* p) { return __ldg(reinterpret_cast<const int4*>(p)); }

// Integer dot of 16 unsigned 4-bit or 8-bit weights (4 words) with 16 int8 activations.
__device__ __forceinline__ int dot16(const uint32_t* w, int4 a, int acc) {
    acc = dp4a(w[0], a.x, acc);
    acc = dp4a(w[1], a.y, acc);
    acc = dp4a(w[2], a.z, acc);
    return dp4a(w[3], a.w, acc);
}
__device__ __forceinline__ int sum16(int4 a, int acc) {
    const uint32_t ones[4] = {0x01010101u, 0x01010101u, 0x01010101u, 0x01010101u};
    return dot16(ones, a, acc);
}

// One token's planar activation row (quantize-rows.cuh): qs int8[n_cols], then the scale planes.
struct ActRow {
    const int8_t* qs;
    const float* planes; // d[n_blocks] (then s[n_blocks] for Q8_1, bsums int16 for Q8_K)
};
__device__ __forceinline__ ActRow act_row(const uint8_t* a, long a_row_bytes, int t, int n_cols) {
    const uint8_t* row = a + t * a_row_bytes;
    return {reinterpret_cast<const int8_t*>(row), reinterpret_cast<const float*>(row + n_cols)};
}

// Each type: a block's elements and bytes; kGroup blocks make whole 16-byte chunks (so slices of
// kGroup-multiples start 16-byte aligned); kUnits lane work units per block; kSliceBlocks the
// blocks a warp stages at most per row (~2.2 KB, two stages under the 48 KB a block takes without
// opting in). Measured on an H200 (bench/results/gpu-gemv-2026-11-26.md), 8B layer GB/s: one stage
// of twice these slices, one row a warp: Q8_0 2494, Q4_K 1495, Q6_K 1699; two stages of these:
// 2311, 1305, 1354 (bytes a copy round matter more than overlap); two rows a warp: 2500, 1449, -.
// load() unpacks unit j of the block at byte off
// of a staged slice; act() loads the unit's activation values of one token (block gb of the row);
// dot() is the unit's term, the CPU vec_dot's per-block expression over the unit's elements.

struct VecQ8_0 { // x Q8_0: (d_w d_a) * sum(q_w q_a)
    static constexpr int kElems = 32, kBytes = 34, kGroup = 8, kUnits = 1, kSliceBlocks = 64;
    struct W { uint32_t q[8]; float d; };
    struct A { int4 lo, hi; float d; };
    static __device__ __forceinline__ W load(const uint8_t* buf, int off, int) {
        W w;
        load_words(buf, off + 2, w.q);
        w.d = half_at(buf + off);
        return w;
    }
    static __device__ __forceinline__ A act(const ActRow& r, long gb, int, int) {
        return {act16(r.qs + 32 * gb), act16(r.qs + 32 * gb + 16), __ldg(r.planes + gb)};
    }
    static __device__ __forceinline__ float dot(const W& w, const A& a) {
        return (w.d * a.d) * static_cast<float>(dot16(w.q + 4, a.hi, dot16(w.q, a.lo, 0)));
    }
};

struct VecQ4_0 { // x Q8_0: (d_w d_a) * sum((nibble - 8) q_a); low nibbles are elements 0-15
    static constexpr int kElems = 32, kBytes = 18, kGroup = 8, kUnits = 1, kSliceBlocks = 128;
    struct W { uint32_t lo[4], hi[4]; float d; };
    struct A { int4 lo, hi; float d; int sum; };
    static __device__ __forceinline__ W load(const uint8_t* buf, int off, int) {
        W w;
        uint32_t q[4];
        load_words(buf, off + 2, q);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            w.lo[i] = q[i] & kLowNibbles;
            w.hi[i] = (q[i] >> 4) & kLowNibbles;
        }
        w.d = half_at(buf + off);
        return w;
    }
    static __device__ __forceinline__ A act(const ActRow& r, long gb, int, int) {
        const int4 lo = act16(r.qs + 32 * gb), hi = act16(r.qs + 32 * gb + 16);
        return {lo, hi, __ldg(r.planes + gb), sum16(hi, sum16(lo, 0))};
    }
    static __device__ __forceinline__ float dot(const W& w, const A& a) {
        return (w.d * a.d) * static_cast<float>(dot16(w.hi, a.hi, dot16(w.lo, a.lo, 0)) - 8 * a.sum);
    }
};

struct VecQ4_1 { // x Q8_1: (d_w d_a) * sum(nibble q_a) + m_w s_a
    static constexpr int kElems = 32, kBytes = 20, kGroup = 4, kUnits = 1, kSliceBlocks = 128;
    struct W { uint32_t lo[4], hi[4]; float d, m; };
    struct A { int4 lo, hi; float d, s; };
    static __device__ __forceinline__ W load(const uint8_t* buf, int off, int) {
        W w;
        uint32_t q[4];
        load_words(buf, off + 4, q);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            w.lo[i] = q[i] & kLowNibbles;
            w.hi[i] = (q[i] >> 4) & kLowNibbles;
        }
        w.d = half_at(buf + off);
        w.m = half_at(buf + off + 2);
        return w;
    }
    static __device__ __forceinline__ A act(const ActRow& r, long gb, int, int n_cols) {
        return {act16(r.qs + 32 * gb), act16(r.qs + 32 * gb + 16), __ldg(r.planes + gb), __ldg(r.planes + n_cols / 32 + gb)};
    }
    static __device__ __forceinline__ float dot(const W& w, const A& a) {
        return (w.d * a.d) * static_cast<float>(dot16(w.hi, a.hi, dot16(w.lo, a.lo, 0))) + w.m * a.s;
    }
};

// 6-bit scale and min of sub-block j from the 12 packed bytes (unpack_scales_k4 in quants-blocks.h).
__device__ __forceinline__ void scale_min_k4(const uint8_t* s, int j, int* sc, int* mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// x Q8_K: unit j takes qs bytes [16 j, 16 j + 16): 16 low nibbles of sub-block 2c and 16 high
// nibbles of sub-block 2c + 1 (c = j / 2), elements first + i and first + 32 + i.
struct VecQ4_K { // a_d d_w * sum_j sc_j dot_j - a_d dmin_w * sum_j mn_j bsum_j
    static constexpr int kElems = 256, kBytes = 144, kGroup = 1, kUnits = 8, kSliceBlocks = 16;
    struct W { uint32_t lo[4], hi[4]; int sc_lo, mn_lo, sc_hi, mn_hi; float d, dmin; };
    struct A { int4 lo, hi; int bsum_lo, bsum_hi; float d; };
    static __device__ __forceinline__ int first(int j) { return 64 * (j / 2) + 16 * (j % 2); }
    static __device__ __forceinline__ W load(const uint8_t* buf, int off, int j) {
        W w;
        const uint4 q = *reinterpret_cast<const uint4*>(buf + off + 16 + 16 * j); // blocks are 16-byte aligned
        const uint32_t qw[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            w.lo[i] = qw[i] & kLowNibbles;
            w.hi[i] = (qw[i] >> 4) & kLowNibbles;
        }
        scale_min_k4(buf + off + 4, 2 * (j / 2), &w.sc_lo, &w.mn_lo);
        scale_min_k4(buf + off + 4, 2 * (j / 2) + 1, &w.sc_hi, &w.mn_hi);
        w.d = half_at(buf + off);
        w.dmin = half_at(buf + off + 2);
        return w;
    }
    static __device__ __forceinline__ A act(const ActRow& r, long gb, int j, int n_cols) {
        const int8_t* qs = r.qs + 256 * gb + first(j);
        const int16_t* bsums = reinterpret_cast<const int16_t*>(r.planes + n_cols / 256) + 16 * gb + first(j) / 16;
        return {act16(qs), act16(qs + 32), __ldg(bsums), __ldg(bsums + 2), __ldg(r.planes + gb)};
    }
    static __device__ __forceinline__ float dot(const W& w, const A& a) {
        const int isum = w.sc_lo * dot16(w.lo, a.lo, 0) + w.sc_hi * dot16(w.hi, a.hi, 0);
        const int imin = w.mn_lo * a.bsum_lo + w.mn_hi * a.bsum_hi;
        return (a.d * w.d) * static_cast<float>(isum) - (a.d * w.dmin) * static_cast<float>(imin);
    }
};

// x Q8_K: unit j is the 16-element sub-block j (elements 16 j ..), scale sc[j]; within half h = j / 8,
// k = j % 8 = is + 2 g: ql bytes 64 h + 16 is + 32 (g & 1) (high nibbles when g >= 2), qh bytes
// 128 + 32 h + 16 is (bits 2 g, 2 g + 1), as the CPU's q1..q4 of quants-scalar.cpp.
struct VecQ6_K { // (a_d d_w) * sum_j sc_j (sum(q a) - 32 bsum_j)
    static constexpr int kElems = 256, kBytes = 210, kGroup = 8, kUnits = 16, kSliceBlocks = 8;
    struct W { uint32_t q[4]; int sc; float d; };
    struct A { int4 q; int bsum; float d; };
    static __device__ __forceinline__ W load(const uint8_t* buf, int off, int j) {
        W w;
        const int h = j / 8, k = j % 8, is = k % 2, g = k / 2;
        uint32_t ql[4], qh[4];
        load_words(buf, off + 64 * h + 16 * is + 32 * (g & 1), ql);
        load_words(buf, off + 128 + 32 * h + 16 * is, qh);
#pragma unroll
        for (int i = 0; i < 4; ++i)
            w.q[i] = ((g >= 2 ? ql[i] >> 4 : ql[i]) & kLowNibbles) | (((qh[i] >> (2 * g)) & 0x03030303u) << 4);
        w.sc = static_cast<int8_t>(buf[off + 192 + j]);
        w.d = half_at(buf + off + 208);
        return w;
    }
    static __device__ __forceinline__ A act(const ActRow& r, long gb, int j, int n_cols) {
        const int16_t* bsums = reinterpret_cast<const int16_t*>(r.planes + n_cols / 256);
        return {act16(r.qs + 256 * gb + 16 * j), __ldg(bsums + 16 * gb + j), __ldg(r.planes + gb)};
    }
    static __device__ __forceinline__ float dot(const W& w, const A& a) {
        return (a.d * w.d) * static_cast<float>(w.sc * (dot16(w.q, a.q, 0) - 32 * a.bsum));
    }
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

__device__ __forceinline__ void commit_async_copies() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int kPending>
__device__ __forceinline__ void wait_async_copies() { asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory"); }

constexpr int kMaxRowsPerWarp = 4;

// How a launch splits the matrix: warps_per_row warps share a row (split-K), each taking every
// warps_per_row-th slice of slice_blocks blocks; a block holds kWarps / warps_per_row rows at a
// time and walks rows_per_warp of them (row i of warp w: (block * rows_per_warp + i) * rows a
// block + w / warps_per_row), kRows at a time, so a warp has several slices to pipeline.
struct Split {
    int warps_per_row, slice_blocks, rows_per_warp;
};

// Each warp copies its next slices while it computes the current ones (two shared-memory stages):
// the copies are in flight the whole time the previous slices are unpacked. kRows rows are
// computed together, so each activation load serves kRows weight units.
template <typename T, int kTokens, int kRows>
static __global__ void __launch_bounds__(kThreads, 4) matmul_vec_kernel(MatmulQParams p, Split sp) {
    extern __shared__ uint4 staged[];                        // [kWarps][2][kRows][slice_chunks + 1] weight slices
    __shared__ float partial[kWarps][kMaxRowsPerWarp][kTokens]; // each warp's sum of each of its rows
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int rows_per_block = kWarps / sp.warps_per_row;
    const int split = warp % sp.warps_per_row;
    const int t0 = blockIdx.y * kTokens;
    const int nt = min(kTokens, p.n_tokens - t0);
    const int n_blocks = p.n_cols / T::kElems;
    const int slice_chunks = (sp.slice_blocks * T::kBytes + 15) / 16;
    const int slot = slice_chunks + 1; // 16 bytes more than a slice: load_words' overrun
    // Stage s, row r of this warp's buffers.
    const auto buffer = [&](int stage, int r) {
        return reinterpret_cast<uint8_t*>(staged + ((2 * warp + stage) * kRows + r) * slot);
    };
    const uint8_t* a = static_cast<const uint8_t*>(p.a) + t0 * p.a_row_bytes;
    const auto row_of = [&](int i) { return (blockIdx.x * sp.rows_per_warp + i) * rows_per_block + warp / sp.warps_per_row; };

    // Items: (step s: rows kRows s .. kRows s + kRows - 1, slice k), k over the warp's slices of a row.
    const int first_block = split * sp.slice_blocks, stride = sp.warps_per_row * sp.slice_blocks;
    const int n_slices = first_block < n_blocks ? (n_blocks - first_block + stride - 1) / stride : 0;
    int n_rows_here = 0;
    while (n_rows_here < sp.rows_per_warp && row_of(n_rows_here) < p.n_rows) ++n_rows_here;
    const int n_items = (n_rows_here + kRows - 1) / kRows * n_slices;
    if (lane == 0) {
        for (int i = 0; i < kMaxRowsPerWarp; ++i)
            for (int t = 0; t < kTokens; ++t) partial[warp][i][t] = 0.0f;
    }
    const auto issue = [&](int item) {
        const int b0 = first_block + (item % n_slices) * stride;
        // The last slice rounds up to a whole chunk: still inside the 16-byte aligned row.
        const int chunks = (min(sp.slice_blocks, n_blocks - b0) * T::kBytes + 15) / 16;
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
            const int i = item / n_slices * kRows + r;
            if (i >= n_rows_here) break;
            const uint8_t* src =
                static_cast<const uint8_t*>(p.w) + static_cast<long>(row_of(i)) * p.w_row_bytes + static_cast<long>(b0) * T::kBytes;
            uint8_t* dst = buffer(item % 2, r);
            for (int c = lane; c < chunks; c += 32) copy16_async(dst + 16 * c, src + 16 * c);
        }
        commit_async_copies();
    };

    float acc[kRows][kTokens] = {};
    if (n_items > 0) issue(0);
    for (int item = 0; item < n_items; ++item) {
        if (item + 1 < n_items) {
            issue(item + 1); // into the stage the previous item was computed from (synced below)
            wait_async_copies<1>();
        } else {
            wait_async_copies<0>();
        }
        __syncwarp();
        const int k = item % n_slices, b0 = first_block + k * stride;
        const int nb = min(sp.slice_blocks, n_blocks - b0);
        for (int u = lane; u < nb * T::kUnits; u += 32) {
            const int b = u / T::kUnits, j = u % T::kUnits;
            typename T::W w[kRows];
#pragma unroll
            for (int r = 0; r < kRows; ++r) w[r] = T::load(buffer(item % 2, r), b * T::kBytes, j);
#pragma unroll
            for (int t = 0; t < kTokens; ++t) {
                if (t >= nt) break;
                const typename T::A av = T::act(act_row(a, p.a_row_bytes, t, p.n_cols), b0 + b, j, p.n_cols);
#pragma unroll
                for (int r = 0; r < kRows; ++r) acc[r][t] += T::dot(w[r], av);
            }
        }
        if (k == n_slices - 1) {
#pragma unroll
            for (int r = 0; r < kRows; ++r) {
#pragma unroll
                for (int t = 0; t < kTokens; ++t) {
                    const float v = warp_sum(acc[r][t]);
                    const int i = item / n_slices * kRows + r;
                    if (lane == 0 && i < n_rows_here) partial[warp][i][t] = v;
                    acc[r][t] = 0.0f;
                }
            }
        }
        __syncwarp(); // this stage is consumed before the next item's copies overwrite it
    }
    __syncthreads();
    if (split == 0 && lane < nt) {
        for (int i = 0; i < n_rows_here; ++i) {
            float sum = 0.0f;
            for (int w = 0; w < sp.warps_per_row; ++w) sum += partial[warp + w][i][lane];
            p.y[(t0 + lane) * p.y_stride + row_of(i)] = sum;
        }
    }
}

int sm_count() {
    static const int sms = [] {
        int dev = 0, n = 0;
        if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
            return 132;
        return n;
    }();
    return sms;
}

template <typename T, int kTokens, int kRows>
cudaError_t launch_tokens(const MatmulQParams& p, const Split& sp, cudaStream_t stream) {
    const size_t smem = sizeof(uint4) * 2 * kRows * kWarps * ((sp.slice_blocks * T::kBytes + 15) / 16 + 1);
    // Shared memory is what keeps weight bytes in flight: prefer it to L1 (the activation rows,
    // the only L1 data, are a few KB). Set outside stream captures (a first eager call does it).
    static std::atomic<bool> attributes_set{false};
    cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
    if (!attributes_set.load() && cudaStreamIsCapturing(stream, &capture) == cudaSuccess &&
        capture == cudaStreamCaptureStatusNone) {
        const cudaError_t err = cudaFuncSetAttribute(matmul_vec_kernel<T, kTokens, kRows>,
                                                     cudaFuncAttributePreferredSharedMemoryCarveout,
                                                     cudaSharedmemCarveoutMaxShared);
        if (err != cudaSuccess) return err;
        attributes_set = true;
    }
    const int rows_per_block = kWarps / sp.warps_per_row * sp.rows_per_warp;
    const dim3 grid((p.n_rows + rows_per_block - 1) / rows_per_block, (p.n_tokens + kTokens - 1) / kTokens);
    if (grid.y > 65535) return cudaErrorInvalidValue;
    matmul_vec_kernel<T, kTokens, kRows><<<grid, kThreads, smem, stream>>>(p, sp);
    return cudaGetLastError();
}

// Blocks resident per SM at up to 64 registers a thread (the kernels' launch bounds).
constexpr int kBlocksPerSm = 4;

// Rows a warp computes together: 2 halves each slice (the same shared memory, under the 48 KB a
// block takes without opting in), where half a slice is still whole groups.
template <typename T, int kRows>
constexpr bool rows_fit() {
    return kRows == 1 || (T::kSliceBlocks / kRows >= T::kGroup && T::kSliceBlocks / kRows % T::kGroup == 0);
}

template <typename T>
cudaError_t launch(const MatmulQParams& p, int rows_together, cudaStream_t stream) {
    const int n_groups = (p.n_cols / T::kElems + T::kGroup - 1) / T::kGroup;
    // Token tiles keep one row a warp: 8 tokens x 2 rows of accumulators spill registers.
    const bool pairs = rows_together == 2 && p.n_tokens == 1 && rows_fit<T, 2>();
    const int slice_cap = pairs ? T::kSliceBlocks / 2 : T::kSliceBlocks;
    const long resident_warps = static_cast<long>(sm_count()) * kBlocksPerSm * kWarps;
    // Rows split across warps until there are warps for every resident slot, never below one group
    // a warp; then each warp walks up to kMaxRowsPerWarp rows so that about one wave of blocks runs.
    Split sp{1, 0, 1};
    while (sp.warps_per_row < kWarps && static_cast<long>(p.n_rows) * sp.warps_per_row < resident_warps) sp.warps_per_row *= 2;
    while (sp.warps_per_row > 1 && sp.warps_per_row / 2 >= n_groups) sp.warps_per_row /= 2;
    sp.slice_blocks = std::min(slice_cap, (n_groups + sp.warps_per_row - 1) / sp.warps_per_row * T::kGroup);
    const long row_groups = (p.n_rows + kWarps / sp.warps_per_row - 1) / (kWarps / sp.warps_per_row);
    const long max_blocks = static_cast<long>(sm_count()) * kBlocksPerSm;
    sp.rows_per_warp = static_cast<int>(std::clamp<long>((row_groups + max_blocks - 1) / max_blocks, 1, kMaxRowsPerWarp));
    if constexpr (rows_fit<T, 2>()) {
        if (pairs) {
            sp.rows_per_warp = (sp.rows_per_warp + 1) / 2 * 2;
            return launch_tokens<T, 1, 2>(p, sp, stream);
        }
    }
    return p.n_tokens == 1 ? launch_tokens<T, 1, 1>(p, sp, stream) : launch_tokens<T, kMatmulVecMaxTokens, 1>(p, sp, stream);
}

} // namespace

ActType matmul_vec_act_type(WeightType type) {
    switch (type) {
    case WeightType::Q4_0: case WeightType::Q8_0: return ActType::Q8_0_PLANAR;
    case WeightType::Q4_1: return ActType::Q8_1_PLANAR;
    case WeightType::Q4_K: case WeightType::Q6_K: return ActType::Q8_K_PLANAR;
    default: return ActType::F32;
    }
}

bool matmul_vec_supports(WeightType type, int n_cols, long w_row_bytes, const void* w) {
    const int elems = type == WeightType::Q4_K || type == WeightType::Q6_K ? 256 : 32;
    return matmul_vec_act_type(type) != ActType::F32 && n_cols > 0 && n_cols % elems == 0 && w_row_bytes % 16 == 0 &&
           reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

cudaError_t matmul_vec(const MatmulQParams& p, cudaStream_t stream, int rows_together) {
    if (p.n_rows <= 0 || p.n_tokens <= 0) return cudaSuccess;
    const uintptr_t a_align = reinterpret_cast<uintptr_t>(p.a) | static_cast<uintptr_t>(p.a_row_bytes);
    if (!p.w || !p.a || !p.y || !matmul_vec_supports(p.type, p.n_cols, p.w_row_bytes, p.w) || a_align % 16 != 0 ||
        (rows_together != 1 && rows_together != 2) ||
        p.a_row_bytes < quantized_row_bytes(matmul_vec_act_type(p.type), p.n_cols))
        return cudaErrorInvalidValue;
    switch (p.type) {
    case WeightType::Q8_0: return p.w_row_bytes < p.n_cols / 32 * 34L ? cudaErrorInvalidValue : launch<VecQ8_0>(p, rows_together, stream);
    case WeightType::Q4_0: return p.w_row_bytes < p.n_cols / 32 * 18L ? cudaErrorInvalidValue : launch<VecQ4_0>(p, rows_together, stream);
    case WeightType::Q4_1: return p.w_row_bytes < p.n_cols / 32 * 20L ? cudaErrorInvalidValue : launch<VecQ4_1>(p, rows_together, stream);
    case WeightType::Q4_K: return p.w_row_bytes < p.n_cols / 256 * 144L ? cudaErrorInvalidValue : launch<VecQ4_K>(p, rows_together, stream);
    case WeightType::Q6_K: return p.w_row_bytes < p.n_cols / 256 * 210L ? cudaErrorInvalidValue : launch<VecQ6_K>(p, rows_together, stream);
    default: return cudaErrorInvalidValue;
    }
}

} // namespace sq::cuda
