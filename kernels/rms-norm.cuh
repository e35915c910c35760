// RMSNorm on the GPU: y[r][i] = x[r][i] / sqrt(mean_i(x[r]^2) + eps) * w[i].
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

struct RmsNormParams {
    const float* x;   // [n_rows][n_cols], row stride x_stride floats
    const float* w;   // [n_cols]
    float* y;         // [n_rows][n_cols], row stride y_stride floats
    int n_rows;
    int n_cols;
    long x_stride;
    long y_stride;
    float eps;
};

cudaError_t rms_norm(const RmsNormParams& p, cudaStream_t stream);

} // namespace sq::cuda
