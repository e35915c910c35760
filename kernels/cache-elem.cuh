// Reading 16-byte runs of f16/bf16 cache rows (keys, values, centroids) as floats; shared by the
// attention and lookup kernels.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace sq::cuda {

// Eight cache elements (one 16-byte load) as floats; element 2i is the low half of word i.
template <typename T>
__device__ __forceinline__ void to_float8(const uint4& r, float f[8]);

template <>
__device__ __forceinline__ void to_float8<__half>(const uint4& r, float f[8]) {
    const __half2* h = reinterpret_cast<const __half2*>(&r);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const float2 t = __half22float2(h[i]);
        f[2 * i] = t.x;
        f[2 * i + 1] = t.y;
    }
}

template <>
__device__ __forceinline__ void to_float8<__nv_bfloat16>(const uint4& r, float f[8]) {
    const unsigned w[4] = {r.x, r.y, r.z, r.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        f[2 * i] = __uint_as_float(w[i] << 16);
        f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

} // namespace sq::cuda
