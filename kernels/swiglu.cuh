// SwiGLU on the GPU: y = silu(gate) * up, silu(g) = g / (1 + exp(-g)), elementwise, with ggml's
// vectorised expf as llama.cpp's CPU build (and the engine's AVX-512 path) computes it.
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
