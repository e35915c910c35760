// Eight consecutive elements of a K-means point row as floats, for each point type (16-byte loads
// for f16/bf16, two for f32); rows must be 16-byte aligned.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cache-elem.cuh"

namespace sq::cuda {

template <typename T>
__device__ __forceinline__ void load_point8(const T* row, int first, float f[8]) {
    to_float8<T>(*reinterpret_cast<const uint4*>(row + first), f);
}

template <>
__device__ __forceinline__ void load_point8<float>(const float* row, int first, float f[8]) {
    const float4 a = *reinterpret_cast<const float4*>(row + first);
    const float4 b = *reinterpret_cast<const float4*>(row + first + 4);
    f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
}

} // namespace sq::cuda
