// CUDA errors as Status values, for the backend's host side (cuda-forward.cpp, cuda-doc-attention.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>

#include <cuda_runtime.h>

#include "../../common/status.h"

namespace sq {

inline Status cuda_status(cudaError_t err, const std::string& what) {
    const char* code = err == cudaErrorMemoryAllocation ? "CUDA_OUT_OF_MEMORY" : "CUDA_ERROR";
    return Status::error(code, what + ": " + cudaGetErrorString(err));
}

// Returns from the enclosing Status function when a CUDA call fails.
#define SQ_CUDA(expr, what)                                                      \
    do {                                                                         \
        const cudaError_t sq_cuda_err_ = (expr);                                 \
        if (sq_cuda_err_ != cudaSuccess) return ::sq::cuda_status(sq_cuda_err_, what); \
    } while (0)

// cudaMalloc of at least 16 bytes; a failure says how many MiB `what` needed.
inline Status cuda_malloc(size_t bytes, void** out, const std::string& what) {
    *out = nullptr;
    const cudaError_t err = cudaMalloc(out, std::max<size_t>(bytes, 16));
    if (err != cudaSuccess) {
        cudaGetLastError(); // an allocation failure is not sticky; clear it for the next call
        *out = nullptr;
        return Status::error("CUDA_OUT_OF_MEMORY", what + " needs " + std::to_string((bytes + (1 << 20) - 1) >> 20) +
                                                       " MiB of GPU memory: " + cudaGetErrorString(err));
    }
    return Status::ok();
}

} // namespace sq
