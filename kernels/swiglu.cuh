// SwiGLU on the GPU: y = silu(gate) * up, silu(g) = g / (1 + exp(-g)), elementwise.
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

struct SwigluParams {
    const float* gate;  // [n]
    const float* up;    // [n]
    float* y;           // [n]; may alias gate or up
    long n;
};

cudaError_t swiglu(const SwigluParams& p, cudaStream_t stream);

} // namespace sq::cuda
