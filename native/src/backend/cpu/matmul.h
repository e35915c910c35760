// Weight × activation products, ggml-style: each activation row is converted once to the weight
// type's vec_dot_type (quants.h), then every weight row is dotted with it.
//
// Threads split the weight rows. Inside a thread, a block of weight rows small enough to stay in
// L1/L2 is dotted with every token of the batch before the next block is read, so a prefill batch
// reads each weight from memory once; with one token (decode) this is a plain GEMV bound by memory
// bandwidth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "../../common/tensor-type.h"
#include "thread-pool.h"

namespace sq::cpu {

// A row-major weight matrix inside the model mapping: n_rows rows of n_cols elements.
struct MatrixRef {
    TensorType type;
    const uint8_t* data;
    size_t row_bytes;
    int64_t n_rows;
    int64_t n_cols;
    bool row_major_only = false; // read by rows elsewhere (token embedding): llama.cpp cannot repack it
};

// One product of a batch: y[t][r] = dot(w row r, x row t), t < n_tokens, r < w.n_rows.
struct MatmulOut {
    MatrixRef w;
    float* y;          // [n_tokens][y_stride]
    int64_t y_stride;
};

// Activation rows converted to vec_dot types, reused between calls to avoid reallocating.
struct MatmulScratch {
    std::vector<uint8_t> rows[2]; // one buffer per distinct vec_dot_type of a call
};

// Bytes MatmulScratch needs per buffer for n_tokens rows of n_cols converted to w_type's vec_dot_type.
size_t matmul_scratch_bytes(TensorType w_type, int64_t n_cols, int64_t n_tokens);

// Runs all products in `outs` over the same activations x [n_tokens][n_cols] in one parallel pass
// (e.g. Q, K and V), so threads synchronise once (more passes when the weights need more than two
// activation encodings). All weights must have n_cols columns and types with kernels.
void matmul(ThreadPool& pool, const MatmulOut* outs, size_t n_outs, const float* x, int64_t n_tokens,
            int64_t n_cols, MatmulScratch& scratch);

} // namespace sq::cpu
