// Elementwise accumulate on the GPU: y[i] += x[i % x_period]. With x_period = n it is the residual
// add; with x_period = a row length it adds a bias vector to every row (qwen2's QKV bias).
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

struct AddParams {
    float* y;        // [n]
    const float* x;  // [x_period]
    long n;
    long x_period;   // > 0
};

cudaError_t add(const AddParams& p, cudaStream_t stream);

} // namespace sq::cuda
