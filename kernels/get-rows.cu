#include "get-rows.cuh"

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace sq::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ float half_at(const uint8_t* p) {
    return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(p)));
}

// Element i of a row. Explicit _rn operations keep nvcc from fusing what the CPU rounds twice.
static __device__ float element(const uint8_t* row, WeightType type, int i) {
    switch (type) {
    case WeightType::F32: return reinterpret_cast<const float*>(row)[i];
    case WeightType::F16: return __half2float(reinterpret_cast<const __half*>(row)[i]);
    case WeightType::BF16: return __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(row)[i]);
    case WeightType::Q4_0: {
        const uint8_t* b = row + (i / 32) * 18;
        const int j = i % 32;
        const int q = j < 16 ? (b[2 + j] & 0xF) : (b[2 + j - 16] >> 4);
        return __fmul_rn(static_cast<float>(q - 8), half_at(b));
    }
    case WeightType::Q4_1: {
        const uint8_t* b = row + (i / 32) * 20;
        const int j = i % 32;
        const int q = j < 16 ? (b[4 + j] & 0xF) : (b[4 + j - 16] >> 4);
        return __fadd_rn(__fmul_rn(static_cast<float>(q), half_at(b)), half_at(b + 2));
    }
    case WeightType::Q8_0: {
        const uint8_t* b = row + (i / 32) * 34;
        return __fmul_rn(static_cast<float>(static_cast<int8_t>(b[2 + i % 32])), half_at(b));
    }
    case WeightType::Q4_K: {
        const uint8_t* b = row + (i / 256) * 144;
        const int j = i % 256, c = j / 64, sub = j / 32; // 64-element chunk, 32-element sub-block
        const uint8_t* s = b + 4;
        const int sc = sub < 4 ? s[sub] & 63 : (s[sub + 4] & 0xF) | ((s[sub - 4] >> 6) << 4);
        const int mn = sub < 4 ? s[sub + 4] & 63 : (s[sub + 4] >> 4) | ((s[sub] >> 6) << 4);
        const uint8_t byte = b[16 + 32 * c + j % 32];
        const int q = (j % 64) < 32 ? (byte & 0xF) : (byte >> 4);
        const float d = __fmul_rn(half_at(b), static_cast<float>(sc));
        const float m = __fmul_rn(half_at(b + 2), static_cast<float>(mn));
        return __fsub_rn(__fmul_rn(d, static_cast<float>(q)), m);
    }
    case WeightType::Q6_K: {
        const uint8_t* b = row + (i / 256) * 210;
        const int j = i % 256, half = j / 128, r = j % 128, quarter = r / 32, l = r % 32;
        const uint8_t* ql = b + 64 * half;
        const uint8_t qh = b[128 + 32 * half + l];
        const uint8_t lo = ql[l + (quarter % 2) * 32];
        const int nib = quarter < 2 ? (lo & 0xF) : (lo >> 4);
        const int q = (nib | (((qh >> (2 * quarter)) & 3) << 4)) - 32;
        const int sc = static_cast<int8_t>(b[192 + 8 * half + l / 16 + 2 * quarter]);
        return __fmul_rn(__fmul_rn(half_at(b + 208), static_cast<float>(sc)), static_cast<float>(q));
    }
    }
    return 0.0f;
}

static __global__ void get_rows_kernel(GetRowsParams p) {
    const int t = blockIdx.y;
    const uint8_t* row = static_cast<const uint8_t*>(p.w) + static_cast<long>(p.ids[t]) * p.w_row_bytes;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < p.n_cols; i += gridDim.x * blockDim.x) {
        p.y[t * p.y_stride + i] = element(row, p.type, i);
    }
}

} // namespace

cudaError_t get_rows(const GetRowsParams& p, cudaStream_t stream) {
    if (p.n_tokens <= 0 || p.n_cols <= 0) return cudaSuccess;
    if (!p.w || !p.ids || !p.y || !matmul_supports(static_cast<int>(p.type)) || p.n_tokens > 65535)
        return cudaErrorInvalidValue;
    const dim3 grid((p.n_cols + kThreads - 1) / kThreads, p.n_tokens);
    get_rows_kernel<<<grid, kThreads, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
