#include "matmul-q.cuh"

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMatmulTokens = 8; // activation rows per grid row: each weight block is read once per token from L1

__device__ __forceinline__ float half_at(const uint8_t* p) {
    return __half2float(__ushort_as_half(__ldg(reinterpret_cast<const unsigned short*>(p))));
}
__device__ __forceinline__ uint32_t ld32(const uint8_t* p) { return __ldg(reinterpret_cast<const uint32_t*>(p)); }
// Four bytes at a 2-byte aligned address (Q4_0, Q8_0 and Q6_K blocks are only that aligned).
__device__ __forceinline__ uint32_t ld32_a2(const uint8_t* p) {
    const unsigned short* h = reinterpret_cast<const unsigned short*>(p);
    return static_cast<uint32_t>(__ldg(h)) | (static_cast<uint32_t>(__ldg(h + 1)) << 16);
}
__device__ __forceinline__ int dp4a(uint32_t a, uint32_t b, int c) {
    return __dp4a(static_cast<int>(a), static_cast<int>(b), c);
}
constexpr uint32_t kLowNibbles = 0x0F0F0F0Fu;

// Each type: elements and bytes of a weight block, bytes of the matching activation block, and the
// CPU vec_dot's per-block term (backend/cpu/quants-scalar.cpp) with the integer sum done by dp4a.

struct DotQ4_0 { // x Q8_0: (d_w d_a) * sum((nibble - 8) a)
    static constexpr int kElems = 32, kBytes = 18, kActBytes = 34;
    static __device__ __forceinline__ float dot(const uint8_t* w, const uint8_t* a) {
        int isum = 0, asum = 0;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint32_t q = ld32_a2(w + 2 + 4 * i);
            const uint32_t lo = ld32_a2(a + 2 + 4 * i), hi = ld32_a2(a + 18 + 4 * i);
            isum = dp4a(q & kLowNibbles, lo, isum);
            isum = dp4a((q >> 4) & kLowNibbles, hi, isum);
            asum = dp4a(0x01010101u, lo, asum);
            asum = dp4a(0x01010101u, hi, asum);
        }
        return (half_at(w) * half_at(a)) * static_cast<float>(isum - 8 * asum);
    }
};

// 6-bit scale and min of sub-block j from the 12 packed bytes (unpack_scales_k4 in quants-blocks.h).
__device__ __forceinline__ void scale_min_k4(const uint8_t* s, int j, int* sc, int* mn) {
    if (j < 4) {
        *sc = __ldg(s + j) & 63;
        *mn = __ldg(s + j + 4) & 63;
    } else {
        *sc = (__ldg(s + j + 4) & 0xF) | ((__ldg(s + j - 4) >> 6) << 4);
        *mn = (__ldg(s + j + 4) >> 4) | ((__ldg(s + j) >> 6) << 4);
    }
}

struct DotQ4_K { // x Q8_K: a_d d_w * sum_j sc_j dot_j - a_d dmin_w * sum_g bsum_g mn_(g/2)
    static constexpr int kElems = 256, kBytes = 144, kActBytes = 292;
    static __device__ __forceinline__ float dot(const uint8_t* w, const uint8_t* a) {
        int isum = 0, imin = 0;
#pragma unroll
        for (int c = 0; c < 4; ++c) {
            int lo = 0, hi = 0;
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                const uint32_t q = ld32(w + 16 + 32 * c + 4 * i);
                lo = dp4a(q & kLowNibbles, ld32(a + 4 + 64 * c + 4 * i), lo);
                hi = dp4a((q >> 4) & kLowNibbles, ld32(a + 36 + 64 * c + 4 * i), hi);
            }
            int sc_lo, mn_lo, sc_hi, mn_hi;
            scale_min_k4(w + 4, 2 * c, &sc_lo, &mn_lo);
            scale_min_k4(w + 4, 2 * c + 1, &sc_hi, &mn_hi);
            isum += sc_lo * lo + sc_hi * hi;
            const int16_t* bsums = reinterpret_cast<const int16_t*>(a + 260);
            imin += (__ldg(bsums + 4 * c) + __ldg(bsums + 4 * c + 1)) * mn_lo +
                    (__ldg(bsums + 4 * c + 2) + __ldg(bsums + 4 * c + 3)) * mn_hi;
        }
        const float a_d = __ldg(reinterpret_cast<const float*>(a));
        const float d = a_d * half_at(w), dmin = a_d * half_at(w + 2);
        return d * static_cast<float>(isum) - dmin * static_cast<float>(imin);
    }
};

struct DotQ6_K { // x Q8_K: (a_d d_w) * sum_k sc_k (sum(q a) - 32 bsum_k)
    static constexpr int kElems = 256, kBytes = 210, kActBytes = 292;
    static __device__ __forceinline__ float dot(const uint8_t* w, const uint8_t* a) {
        const int16_t* bsums = reinterpret_cast<const int16_t*>(a + 260);
        int isum = 0;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
            const uint8_t* ql = w + 64 * half;
            const uint8_t* qh = w + 128 + 32 * half;
            const int8_t* sc = reinterpret_cast<const int8_t*>(w + 192 + 8 * half);
            const uint8_t* q8 = a + 4 + 128 * half;
            int sub[8] = {}; // [sub-block of 16 within this half]
#pragma unroll
            for (int l = 0; l < 32; l += 4) {
                const int is = l / 16;
                const uint32_t la = ld32_a2(ql + l), lb = ld32_a2(ql + l + 32), h = ld32_a2(qh + l);
                const uint32_t q1 = (la & kLowNibbles) | ((h & 0x03030303u) << 4);
                const uint32_t q2 = (lb & kLowNibbles) | (((h >> 2) & 0x03030303u) << 4);
                const uint32_t q3 = ((la >> 4) & kLowNibbles) | (((h >> 4) & 0x03030303u) << 4);
                const uint32_t q4 = ((lb >> 4) & kLowNibbles) | (((h >> 6) & 0x03030303u) << 4);
                sub[is + 0] = dp4a(q1, ld32(q8 + l), sub[is + 0]);
                sub[is + 2] = dp4a(q2, ld32(q8 + l + 32), sub[is + 2]);
                sub[is + 4] = dp4a(q3, ld32(q8 + l + 64), sub[is + 4]);
                sub[is + 6] = dp4a(q4, ld32(q8 + l + 96), sub[is + 6]);
            }
#pragma unroll
            for (int k = 0; k < 8; ++k) isum += __ldg(sc + k) * (sub[k] - 32 * __ldg(bsums + 8 * half + k));
        }
        const float a_d = __ldg(reinterpret_cast<const float*>(a));
        return (a_d * half_at(w + 208)) * static_cast<float>(isum);
    }
};

struct DotF32 {
    static constexpr int kElems = 32, kBytes = 128, kActBytes = 128;
    static __device__ __forceinline__ float dot(const uint8_t* w, const uint8_t* a) {
        const float4* w4 = reinterpret_cast<const float4*>(w);
        const float4* a4 = reinterpret_cast<const float4*>(a);
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
            const float4 x = __ldg(w4 + i), y = __ldg(a4 + i);
            s = fmaf(x.x, y.x, s); s = fmaf(x.y, y.y, s); s = fmaf(x.z, y.z, s); s = fmaf(x.w, y.w, s);
        }
        return s;
    }
};

template <typename H>
__device__ __forceinline__ float2 to_float2(uint32_t bits);
template <>
__device__ __forceinline__ float2 to_float2<__half>(uint32_t bits) {
    return __half22float2(*reinterpret_cast<const __half2*>(&bits));
}
template <>
__device__ __forceinline__ float2 to_float2<__nv_bfloat16>(uint32_t bits) {
    return make_float2(__uint_as_float(bits << 16), __uint_as_float(bits & 0xffff0000u));
}

template <typename H> // F16 x F16, BF16 x BF16: products of the rounded values summed in float
struct DotHalf {
    static constexpr int kElems = 32, kBytes = 64, kActBytes = 64;
    static __device__ __forceinline__ float dot(const uint8_t* w, const uint8_t* a) {
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const float2 x = to_float2<H>(ld32(w + 4 * i)), y = to_float2<H>(ld32(a + 4 * i));
            s = fmaf(x.x, y.x, s);
            s = fmaf(x.y, y.y, s);
        }
        return s;
    }
};

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

template <typename T>
static __global__ void __launch_bounds__(kThreads) matmul_q_kernel(MatmulQParams p) {
    const int lane = threadIdx.x % 32;
    const int row = blockIdx.x * kWarps + threadIdx.x / 32;
    if (row >= p.n_rows) return;
    const int t0 = blockIdx.y * kMatmulTokens;
    const int nt = min(kMatmulTokens, p.n_tokens - t0);
    const int n_blocks = p.n_cols / T::kElems;
    const uint8_t* w = static_cast<const uint8_t*>(p.w) + row * p.w_row_bytes;
    const uint8_t* a = static_cast<const uint8_t*>(p.a) + t0 * p.a_row_bytes;

    float acc[kMatmulTokens] = {};
    for (int blk = lane; blk < n_blocks; blk += 32) {
        const uint8_t* wb = w + static_cast<long>(blk) * T::kBytes;
        const uint8_t* ab = a + static_cast<long>(blk) * T::kActBytes;
#pragma unroll
        for (int t = 0; t < kMatmulTokens; ++t) {
            if (t < nt) acc[t] += T::dot(wb, ab + t * p.a_row_bytes);
        }
    }
#pragma unroll
    for (int t = 0; t < kMatmulTokens; ++t) {
        const float total = warp_sum(acc[t]);
        if (lane == 0 && t < nt) p.y[(t0 + t) * p.y_stride + row] = total;
    }
}

// Q4_1 and Q8_0 in ggml-cpu's x86 order (backend/cpu/quants-x86-q32.h), which the CPU engine runs
// for them in decode and prefill alike: 8 f32 lanes per row, lane l accumulating
// fma(d_w d_a, sum of the products of elements 4l..4l+3, acc_l) block after block, the lanes then
// added as hsum_float_8 does ((a4+a0) + (a6+a2)) + ((a5+a1) + (a7+a3)), plus for Q4_1 the offsets
// sum_m = fma(m_w, s_a, sum_m). Eight threads per row, one per lane: the result has the CPU's bits.
//
// The weight words a lane needs (W) are loaded for kX86Unroll blocks before the first of them is
// used, so that many loads are in flight per thread while each lane's fma chain keeps its block
// order. Walking the blocks one load at a time left every block waiting a full memory latency
// (SmolLM2 decode at 268 tok/s on an H100, below the CPU's 479).
struct X86Q4_1 {
    static constexpr int kBytes = 20, kActBytes = 36;
    static constexpr bool kHasMin = true;
    struct W {
        uint32_t dm; // d (low half) and m (high half)
        uint32_t q;  // nibbles of elements 4(l%4)..+3 and 16+4(l%4)..+3
    };
    static __device__ __forceinline__ W load(const uint8_t* w, int l) { return {ld32(w), ld32(w + 4 + 4 * (l % 4))}; }
    static __device__ __forceinline__ int lane_sum(W w, const uint8_t* a, int l) {
        return dp4a(l < 4 ? w.q & kLowNibbles : (w.q >> 4) & kLowNibbles, ld32(a + 4 + 4 * l), 0);
    }
    static __device__ __forceinline__ float scale(W w, const uint8_t* a) {
        return __half2float(__ushort_as_half(static_cast<unsigned short>(w.dm & 0xffffu))) * half_at(a);
    }
    static __device__ __forceinline__ float min_term(W w, const uint8_t* a, float sum_m) {
        return fmaf(__half2float(__ushort_as_half(static_cast<unsigned short>(w.dm >> 16))), half_at(a + 2), sum_m);
    }
};

struct X86Q8_0 {
    static constexpr int kBytes = 34, kActBytes = 34;
    static constexpr bool kHasMin = false;
    struct W {
        unsigned short d;
        uint32_t q; // elements 4l..4l+3
    };
    static __device__ __forceinline__ W load(const uint8_t* w, int l) {
        return {__ldg(reinterpret_cast<const unsigned short*>(w)), ld32_a2(w + 2 + 4 * l)};
    }
    static __device__ __forceinline__ int lane_sum(W w, const uint8_t* a, int l) {
        return dp4a(w.q, ld32_a2(a + 2 + 4 * l), 0);
    }
    static __device__ __forceinline__ float scale(W w, const uint8_t* a) { return __half2float(__ushort_as_half(w.d)) * half_at(a); }
    static __device__ __forceinline__ float min_term(W, const uint8_t*, float sum_m) { return sum_m; }
};

constexpr int kX86Lanes = 8;
// 64 threads (8 rows) a block: a decode GEMV of a few hundred rows still spreads over most SMs.
constexpr int kX86Threads = 64;
constexpr int kX86Rows = kX86Threads / kX86Lanes;
// Blocks whose weight words one thread loads before using them. Measured on an H100
// (bench/results/gpu-forward-2026-11-26.md, gpu-e2e-2026-11-26.md): decode with 32 and no branch
// between the loads runs SmolLM2-shaped decode at 416 tok/s (16 behind branches: 307; one at a
// time: 268) and 8B-shaped Q8_0 GEMVs at 1.2-1.9 TB/s. Prefill keeps 8: 8 tokens x 16 cost a third
// of its speed, and 8 x 32 spills registers.
constexpr int kX86DecodeUnroll = 32, kX86PrefillUnroll = 8;

// kTokens activation rows per grid row (1 for decode), kUnroll blocks loaded ahead.
template <typename T, int kTokens, int kUnroll>
static __global__ void __launch_bounds__(kX86Threads) matmul_x86_kernel(MatmulQParams p) {
    const int l = threadIdx.x % kX86Lanes;
    const int row = blockIdx.x * kX86Rows + threadIdx.x / kX86Lanes;
    const bool valid = row < p.n_rows; // no early return: the lanes meet in shuffles
    const int t0 = blockIdx.y * kTokens;
    const int nt = min(kTokens, p.n_tokens - t0);
    const int n_blocks = valid ? p.n_cols / 32 : 0;
    const uint8_t* w = static_cast<const uint8_t*>(p.w) + (valid ? row : 0) * p.w_row_bytes;
    const uint8_t* a = static_cast<const uint8_t*>(p.a) + t0 * p.a_row_bytes;

    float acc[kTokens] = {}, sum_m[kTokens] = {};
    for (int blk0 = 0; blk0 < n_blocks; blk0 += kUnroll) {
        // Past the row's end a lane re-reads its last block and discards the term: no branch
        // between the loads, so they are all issued before the first is used.
        typename T::W wv[kUnroll];
#pragma unroll
        for (int u = 0; u < kUnroll; ++u) wv[u] = T::load(w + static_cast<long>(min(blk0 + u, n_blocks - 1)) * T::kBytes, l);
#pragma unroll
        for (int t = 0; t < kTokens; ++t) {
            if (t >= nt) break;
            const uint8_t* at = a + t * p.a_row_bytes;
#pragma unroll
            for (int u = 0; u < kUnroll; ++u) {
                const bool in_row = blk0 + u < n_blocks;
                const uint8_t* ab = at + static_cast<long>(min(blk0 + u, n_blocks - 1)) * T::kActBytes;
                const float next = fmaf(T::scale(wv[u], ab), static_cast<float>(T::lane_sum(wv[u], ab, l)), acc[t]);
                acc[t] = in_row ? next : acc[t];
                if (T::kHasMin) {
                    const float next_m = T::min_term(wv[u], ab, sum_m[t]);
                    sum_m[t] = in_row ? next_m : sum_m[t];
                }
            }
        }
    }
#pragma unroll
    for (int t = 0; t < kTokens; ++t) {
        float x = acc[t];
        x += __shfl_down_sync(0xffffffffu, x, 4, kX86Lanes); // lane l < 4: a_l + a_(l+4)
        x += __shfl_down_sync(0xffffffffu, x, 2, kX86Lanes); // lane l < 2: (a_l + a_(l+4)) + (a_(l+2) + a_(l+6))
        x += __shfl_down_sync(0xffffffffu, x, 1, kX86Lanes);
        if (l == 0 && valid && t < nt) p.y[(t0 + t) * p.y_stride + row] = T::kHasMin ? x + sum_m[t] : x;
    }
}

template <typename T>
cudaError_t launch_x86(const MatmulQParams& p, cudaStream_t stream) {
    if (p.n_cols % 32 != 0 || p.w_row_bytes < static_cast<long>(p.n_cols / 32) * T::kBytes ||
        p.a_row_bytes < static_cast<long>(p.n_cols / 32) * T::kActBytes)
        return cudaErrorInvalidValue;
    const unsigned row_blocks = (p.n_rows + kX86Rows - 1) / kX86Rows;
    if (p.n_tokens == 1) {
        matmul_x86_kernel<T, 1, kX86DecodeUnroll><<<row_blocks, kX86Threads, 0, stream>>>(p);
        return cudaGetLastError();
    }
    const dim3 grid(row_blocks, (p.n_tokens + kMatmulTokens - 1) / kMatmulTokens);
    if (grid.y > 65535) return cudaErrorInvalidValue;
    matmul_x86_kernel<T, kMatmulTokens, kX86PrefillUnroll><<<grid, kX86Threads, 0, stream>>>(p);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch(const MatmulQParams& p, cudaStream_t stream) {
    if (p.n_cols % T::kElems != 0 || p.w_row_bytes < static_cast<long>(p.n_cols / T::kElems) * T::kBytes ||
        p.a_row_bytes < static_cast<long>(p.n_cols / T::kElems) * T::kActBytes)
        return cudaErrorInvalidValue;
    const dim3 grid((p.n_rows + kWarps - 1) / kWarps, (p.n_tokens + kMatmulTokens - 1) / kMatmulTokens);
    if (grid.y > 65535) return cudaErrorInvalidValue;
    matmul_q_kernel<T><<<grid, kThreads, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace

ActType matmul_act_type(WeightType type) {
    switch (type) {
    case WeightType::F16: return ActType::F16;
    case WeightType::BF16: return ActType::BF16;
    case WeightType::Q4_0: case WeightType::Q8_0: return ActType::Q8_0;
    case WeightType::Q4_1: return ActType::Q8_1;
    case WeightType::Q4_K: case WeightType::Q6_K: return ActType::Q8_K;
    default: return ActType::F32;
    }
}

bool matmul_supports(int type_id) {
    switch (static_cast<WeightType>(type_id)) {
    case WeightType::F32: case WeightType::F16: case WeightType::BF16: case WeightType::Q4_0:
    case WeightType::Q4_1: case WeightType::Q8_0: case WeightType::Q4_K: case WeightType::Q6_K:
        return true;
    }
    return false;
}

cudaError_t matmul_q(const MatmulQParams& p, cudaStream_t stream) {
    if (p.n_rows <= 0 || p.n_tokens <= 0) return cudaSuccess;
    const uintptr_t align = reinterpret_cast<uintptr_t>(p.w) | static_cast<uintptr_t>(p.w_row_bytes);
    const uintptr_t a_align = reinterpret_cast<uintptr_t>(p.a) | static_cast<uintptr_t>(p.a_row_bytes);
    if (!p.w || !p.a || !p.y || p.n_cols <= 0 || align % 2 != 0 || a_align % 4 != 0) return cudaErrorInvalidValue;
    switch (p.type) {
    case WeightType::Q4_0: return launch<DotQ4_0>(p, stream);
    case WeightType::Q4_1: return align % 4 ? cudaErrorInvalidValue : launch_x86<X86Q4_1>(p, stream);
    case WeightType::Q8_0: return launch_x86<X86Q8_0>(p, stream);
    case WeightType::Q4_K: return align % 4 ? cudaErrorInvalidValue : launch<DotQ4_K>(p, stream);
    case WeightType::Q6_K: return launch<DotQ6_K>(p, stream);
    case WeightType::F32: return align % 16 || a_align % 16 ? cudaErrorInvalidValue : launch<DotF32>(p, stream);
    case WeightType::F16: return align % 4 ? cudaErrorInvalidValue : launch<DotHalf<__half>>(p, stream);
    case WeightType::BF16: return align % 4 ? cudaErrorInvalidValue : launch<DotHalf<__nv_bfloat16>>(p, stream);
    }
    return cudaErrorInvalidValue;
}

} // namespace sq::cuda
