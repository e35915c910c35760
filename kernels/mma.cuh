// Tensor-core and async-copy building blocks shared by the K-means, prefill and decode attention
// kernels (sm_80+):
// mma.sync m16n8k16 with f32 accumulators, ldmatrix, and 16-byte cp.async into shared memory.
//
// Fragment layout of m16n8k16 (g = lane / 4, t = lane % 4), each register a pair of 16-bit values:
//   A (16 x 16, row-major): a0 = (row g, k 2t..2t+1), a1 = (row g+8, same k), a2 = (row g, k 2t+8..),
//                           a3 = (row g+8, k 2t+8..)
//   B (16 x 8, k-major):    b0 = (k 2t..2t+1, col g), b1 = (k 2t+8.., col g)
//   C (16 x 8, f32):        c0, c1 = (row g, cols 2t, 2t+1), c2, c3 = (row g+8, cols 2t, 2t+1)
#pragma once

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace sq::cuda {

template <typename T>
__device__ __forceinline__ void mma_16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1);

template <>
__device__ __forceinline__ void mma_16816<__half>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <>
__device__ __forceinline__ void mma_16816<__nv_bfloat16>(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as one register of T pairs (lo in the low half).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi);

template <>
__device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
    const __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
}

template <>
__device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
}

// x rounded to T and back.
template <typename T>
__device__ __forceinline__ float round_to(float x);

template <>
__device__ __forceinline__ float round_to<__half>(float x) { return __half2float(__float2half_rn(x)); }

template <>
__device__ __forceinline__ float round_to<__nv_bfloat16>(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

// (x0, x1) as a packed pair rounded to T (hi) and the packed pair of what rounding left (lo): an
// A operand of hi rows and lo rows makes the f32-accumulated product accurate to ~16 mantissa bits.
template <typename T>
__device__ __forceinline__ void split_pair(float x0, float x1, uint32_t& hi, uint32_t& lo) {
    const float h0 = round_to<T>(x0), h1 = round_to<T>(x1);
    hi = pack2<T>(h0, h1);
    lo = pack2<T>(x0 - h0, x1 - h1);
}

// A fragments of a 16-row tile for STEPS k-steps of 16 from its rows g (r0) and g + 8 (r1), 16-bit
// elements in global memory read as pairs; a row that is not valid gives zeros.
template <int STEPS>
__device__ __forceinline__ void load_a_rows(uint32_t (&a)[STEPS][4], const uint32_t* r0, const uint32_t* r1, bool v0, bool v1, int t) {
#pragma unroll
    for (int s = 0; s < STEPS; ++s) {
        a[s][0] = v0 ? r0[8 * s + t] : 0u;
        a[s][1] = v1 ? r1[8 * s + t] : 0u;
        a[s][2] = v0 ? r0[8 * s + t + 4] : 0u;
        a[s][3] = v1 ? r1[8 * s + t + 4] : 0u;
    }
}

// Four 8x8 matrices of 16-bit elements from shared memory; lane l gives the address of row l % 8 of
// matrix l / 8. Plain: register i holds (row g, cols 2t, 2t+1) of matrix i; trans: (rows 2t, 2t+1, col g).
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
    const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
    const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(smem_row));
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(a));
}

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(gmem));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;"); }

template <int N>
__device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;" ::"n"(N)); }

} // namespace sq::cuda
