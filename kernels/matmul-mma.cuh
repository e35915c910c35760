// Quantized weight matrix times many activation rows on int8 tensor cores (prefill):
//   y[t][r] = sum over blocks b of (d_w[r][b] d_a[t][b]) * isum[r][t][b]  (+ m_w[r][b] s_a[t][b] for Q4_1)
// with isum the exact integer dot of block b (32 elements), one mma.sync m16n8k32 s8.s8 -> s32.
//
// Summation order: each output adds its blocks one after another in block order, each block's
// integer sum exact (Q4_1: the block's m_w s_a term follows it into the same accumulator). The CPU (and matmul-q's GEMV, which decode keeps using) splits every block
// into 8 lanes of 4 elements, scales and adds each lane on its own and adds the lanes at the end:
// a tensor core only gives the whole block's sum, so the two differ by float rounding (a few ulp
// of each output). The forward pass therefore runs this kernel only for batches of at least
// kMatmulMmaMinTokens tokens; decode stays the CPU's bits.
//
// Weight types: Q8_0, Q4_0 (x Q8_0 activations) and Q4_1 (x Q8_1), as quantize_rows gives them.
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

#include "matmul-q.cuh"

namespace sq::cuda {

struct MatmulMmaParams {
    const void* w;       // [n_rows][w_row_bytes] bytes, 4-byte aligned rows
    WeightType type;
    int n_rows;          // output features
    int n_cols;          // input features, a multiple of 32
    long w_row_bytes;
    const void* a;       // [n_tokens][a_row_bytes] in matmul_act_type(type) (quantize_rows)
    long a_row_bytes;
    int n_tokens;
    void* workspace;     // matmul_mma_workspace_bytes(n_tokens, n_cols) bytes, 16-byte aligned
    float* y;            // [n_tokens][y_stride] floats
    long y_stride;
};

// Batches from this many tokens use the tensor cores. Measured on an H200 (bench/results/gpu-gemm-*):
// at 32 tokens the GEMM is 1.6-2x the GEMV kernels' token tiles on a 4096x4096 matrix and within
// 0.8-1x (a few microseconds) on SmolLM2's; at 8-16 the GEMV wins. Smaller batches keep the CPU's bits.
constexpr int kMatmulMmaMinTokens = 32;

// Whether matmul_mma takes this weight matrix (type, alignment and row length).
bool matmul_mma_supports(WeightType type, int n_cols, long w_row_bytes);

// Bytes of the workspace: the activations as plain int8 rows plus their block scales.
size_t matmul_mma_workspace_bytes(int n_tokens, int n_cols);

cudaError_t matmul_mma(const MatmulMmaParams& p, cudaStream_t stream);

} // namespace sq::cuda
