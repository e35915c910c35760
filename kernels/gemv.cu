#include "gemv.cuh"

#include <cstdint>
#include <cuda_fp16.h>

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
// Rows a warp computes together, sharing each x load. Q8_0 reads 4 bytes of x per weight byte and
// Q4_K 7: two Q4_K rows per warp keep that L1 traffic well under the L1's bandwidth. On an H200
// (bench/results/gpu-attention-2026-11-26*.json) two rows for both and no unrolling gave Q8_0
// 0.9-1.6 TB/s and Q4_K 0.7-1.1; one Q8_0 row a warp with the unrolled loops below, Q8_0 1.6-2.0
// and Q4_K 0.8-1.2: still latency-bound, far from the ~4.5 TB/s the attention kernel reads at.
constexpr int kQ8_0RowsPerWarp = 1;
constexpr int kQ4_KRowsPerWarp = 2;

constexpr int kQ8_0Bytes = 34;  // f16 d | i8 qs[32]
constexpr int kQ4_KBytes = 144; // f16 d, dmin | u8 scales[12] | u8 qs[128]

__device__ __forceinline__ float half_at(const uint8_t* p) {
    return __half2float(__ushort_as_half(__ldg(reinterpret_cast<const unsigned short*>(p))));
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int off = 16; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

// Q8_0: four lanes per 32-element block, eight values a lane; blocks are only 2-byte aligned, so
// the int8 values come in as four 16-bit loads.
static __global__ void __launch_bounds__(kThreads) gemv_q8_0_kernel(GemvParams p) {
    const int lane = threadIdx.x % 32;
    const int row0 = (blockIdx.x * kWarps + threadIdx.x / 32) * kQ8_0RowsPerWarp;
    if (row0 >= p.n_rows) return;
    const int part = lane % 4, slot = lane / 4;
    const int n_blocks = p.n_cols / 32;
    const uint8_t* w = static_cast<const uint8_t*>(p.w);

    float sum[kQ8_0RowsPerWarp] = {};
#pragma unroll 4
    for (int blk = slot; blk < n_blocks; blk += 8) {
        const float4* xp = reinterpret_cast<const float4*>(p.x + blk * 32 + part * 8);
        const float4 xa = __ldg(xp), xb = __ldg(xp + 1);
        const float xv[8] = {xa.x, xa.y, xa.z, xa.w, xb.x, xb.y, xb.z, xb.w};
#pragma unroll
        for (int r = 0; r < kQ8_0RowsPerWarp; ++r) {
            if (row0 + r >= p.n_rows) break;
            const uint8_t* b = w + (row0 + r) * p.row_bytes + static_cast<long>(blk) * kQ8_0Bytes;
            const unsigned short* qs = reinterpret_cast<const unsigned short*>(b + 2 + part * 8);
            float dot = 0.0f;
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const unsigned short two = __ldg(qs + i);
                dot = fmaf(static_cast<float>(static_cast<int8_t>(two & 0xff)), xv[2 * i], dot);
                dot = fmaf(static_cast<float>(static_cast<int8_t>(two >> 8)), xv[2 * i + 1], dot);
            }
            sum[r] = fmaf(half_at(b), dot, sum[r]);
        }
    }
#pragma unroll
    for (int r = 0; r < kQ8_0RowsPerWarp; ++r) {
        const float total = warp_sum(sum[r]);
        if (lane == 0 && row0 + r < p.n_rows) p.y[row0 + r] = total;
    }
}

// 6-bit scale and min of sub-block j of a Q4_K block (the 12 packed bytes at s; see
// unpack_scales_k4 in quants-blocks.h).
__device__ __forceinline__ void scale_min_k4(const uint8_t* s, int j, float* sc, float* mn) {
    if (j < 4) {
        *sc = static_cast<float>(__ldg(s + j) & 63);
        *mn = static_cast<float>(__ldg(s + j + 4) & 63);
    } else {
        const int hi = __ldg(s + j + 4);
        *sc = static_cast<float>((hi & 0xF) | ((__ldg(s + j - 4) >> 6) << 4));
        *mn = static_cast<float>((hi >> 4) | ((__ldg(s + j) >> 6) << 4));
    }
}

// Q4_K: eight lanes per 256-element block; lane `part` takes qs bytes [16 part, 16 part + 16) in
// one 16-byte load: 16 low nibbles of sub-block 2c and 16 high nibbles of sub-block 2c + 1 (c = part/2).
static __global__ void __launch_bounds__(kThreads) gemv_q4_k_kernel(GemvParams p) {
    const int lane = threadIdx.x % 32;
    const int row0 = (blockIdx.x * kWarps + threadIdx.x / 32) * kQ4_KRowsPerWarp;
    if (row0 >= p.n_rows) return;
    const int part = lane % 8, slot = lane / 8;
    const int c = part / 2;
    const int first = 64 * c + 16 * (part % 2); // element of the first low nibble in the block
    const int n_blocks = p.n_cols / 256;
    const uint8_t* w = static_cast<const uint8_t*>(p.w);

    float sum[kQ4_KRowsPerWarp] = {};
#pragma unroll 2
    for (int blk = slot; blk < n_blocks; blk += 4) {
        const float4* xlo4 = reinterpret_cast<const float4*>(p.x + blk * 256 + first);
        const float4* xhi4 = reinterpret_cast<const float4*>(p.x + blk * 256 + first + 32);
        float xlo[16], xhi[16];
        float sum_xlo = 0.0f, sum_xhi = 0.0f;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const float4 a = __ldg(xlo4 + i), b = __ldg(xhi4 + i);
            xlo[4 * i] = a.x; xlo[4 * i + 1] = a.y; xlo[4 * i + 2] = a.z; xlo[4 * i + 3] = a.w;
            xhi[4 * i] = b.x; xhi[4 * i + 1] = b.y; xhi[4 * i + 2] = b.z; xhi[4 * i + 3] = b.w;
            sum_xlo += (a.x + a.y) + (a.z + a.w);
            sum_xhi += (b.x + b.y) + (b.z + b.w);
        }
#pragma unroll
        for (int r = 0; r < kQ4_KRowsPerWarp; ++r) {
            if (row0 + r >= p.n_rows) break;
            const uint8_t* b = w + (row0 + r) * p.row_bytes + static_cast<long>(blk) * kQ4_KBytes;
            const uint4 q = __ldg(reinterpret_cast<const uint4*>(b + 16 + 16 * part));
            const unsigned words[4] = {q.x, q.y, q.z, q.w};
            float dot_lo = 0.0f, dot_hi = 0.0f;
#pragma unroll
            for (int i = 0; i < 16; ++i) {
                const unsigned byte = (words[i / 4] >> (8 * (i % 4))) & 0xff;
                dot_lo = fmaf(static_cast<float>(byte & 0xF), xlo[i], dot_lo);
                dot_hi = fmaf(static_cast<float>(byte >> 4), xhi[i], dot_hi);
            }
            float sc_lo, mn_lo, sc_hi, mn_hi;
            scale_min_k4(b + 4, 2 * c, &sc_lo, &mn_lo);
            scale_min_k4(b + 4, 2 * c + 1, &sc_hi, &mn_hi);
            const float d = half_at(b), dmin = half_at(b + 2);
            sum[r] += d * (sc_lo * dot_lo + sc_hi * dot_hi) - dmin * (mn_lo * sum_xlo + mn_hi * sum_xhi);
        }
    }
#pragma unroll
    for (int r = 0; r < kQ4_KRowsPerWarp; ++r) {
        const float total = warp_sum(sum[r]);
        if (lane == 0 && row0 + r < p.n_rows) p.y[row0 + r] = total;
    }
}

} // namespace

cudaError_t gemv(const GemvParams& p, cudaStream_t stream) {
    if (p.n_rows <= 0) return cudaSuccess;
    if (!p.w || !p.x || !p.y || p.n_cols < 0 || reinterpret_cast<uintptr_t>(p.x) % 16 != 0) return cudaErrorInvalidValue;
    const auto blocks = [&](int rows_per_warp) {
        return static_cast<unsigned>((p.n_rows + kWarps * rows_per_warp - 1) / (kWarps * rows_per_warp));
    };
    switch (p.type) {
    case GemvType::Q8_0:
        if (p.n_cols % 32 != 0 || p.row_bytes < p.n_cols / 32 * kQ8_0Bytes || p.row_bytes % 2 != 0 ||
            reinterpret_cast<uintptr_t>(p.w) % 2 != 0)
            return cudaErrorInvalidValue;
        gemv_q8_0_kernel<<<blocks(kQ8_0RowsPerWarp), kThreads, 0, stream>>>(p);
        break;
    case GemvType::Q4_K:
        if (p.n_cols % 256 != 0 || p.row_bytes < p.n_cols / 256 * kQ4_KBytes || p.row_bytes % 16 != 0 ||
            reinterpret_cast<uintptr_t>(p.w) % 16 != 0)
            return cudaErrorInvalidValue;
        gemv_q4_k_kernel<<<blocks(kQ4_KRowsPerWarp), kThreads, 0, stream>>>(p);
        break;
    default:
        return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace sq::cuda
