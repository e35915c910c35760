#include "quantize-rows.cuh"

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;

// One warp per 32-element block: lane j quantizes element j. __float2int_rn rounds half to even
// like the CPU's nearest_int; 127.f / amax is an IEEE division (no fast-math in this build).
// Scale d and (with_sum) s = d * sum(q) go to d_out / s_out as F16, or as the f32 of that F16 when
// planar.
template <bool with_sum, bool planar>
static __device__ void quantize_block_q8(const float* x, int8_t* qs, void* d_out, void* s_out, int lane) {
    const float v = x[lane];
    float amax = fabsf(v);
#pragma unroll
    for (int off = 16; off > 0; off /= 2) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, off));
    const float d = amax / 127.f;
    const float id = amax != 0.0f ? 127.f / amax : 0.0f;
    const int q = __float2int_rn(v * id);
    qs[lane] = static_cast<int8_t>(q);
    int sum = q;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (lane == 0) {
        const __half dh = __float2half_rn(d), sh = __float2half_rn(d * static_cast<float>(sum));
        if (planar) *static_cast<float*>(d_out) = __half2float(dh);
        else *static_cast<__half*>(d_out) = dh;
        if (with_sum && planar) *static_cast<float*>(s_out) = __half2float(sh);
        else if (with_sum) *static_cast<__half*>(s_out) = sh;
    }
}

// One warp per 256-element super-block: lane l holds elements l + 32 i. The scale comes from the
// signed value of largest magnitude, the lowest index winning ties, as the CPU's scan does.
// qs, bsums and d point into a block of the Q8_K layout or into the planes of a planar row.
static __device__ void quantize_block_q8_k(const float* x, int8_t* qs, int16_t* bsums, float* d, int lane) {
    float v[8];
    float amax = 0.0f, max = 0.0f;
    int at = 1 << 30;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
        v[i] = x[lane + 32 * i];
        if (fabsf(v[i]) > amax) { amax = fabsf(v[i]); max = v[i]; at = lane + 32 * i; }
    }
#pragma unroll
    for (int off = 16; off > 0; off /= 2) {
        const float o_amax = __shfl_xor_sync(0xffffffffu, amax, off);
        const float o_max = __shfl_xor_sync(0xffffffffu, max, off);
        const int o_at = __shfl_xor_sync(0xffffffffu, at, off);
        if (o_amax > amax || (o_amax == amax && o_at < at)) { amax = o_amax; max = o_max; at = o_at; }
    }
    if (amax == 0.0f) {
#pragma unroll
        for (int i = 0; i < 8; ++i) qs[lane + 32 * i] = 0;
        if (lane < 16) bsums[lane] = 0;
        if (lane == 0) *d = 0.0f;
        return;
    }
    const float iscale = -127.f / max;
#pragma unroll
    for (int i = 0; i < 8; ++i) qs[lane + 32 * i] = static_cast<int8_t>(min(__float2int_rn(iscale * v[i]), 127));
    __syncwarp();
    if (lane < 16) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += qs[lane * 16 + l];
        bsums[lane] = static_cast<int16_t>(sum);
    }
    if (lane == 0) *d = 1 / iscale;
}

// Block blk (of block_elems elements) of the row at y_row, n_cols wide, from the elements at x.
static __device__ void convert_block(ActType type, const float* x, uint8_t* y_row, int n_cols, long blk, int block_bytes,
                                     int lane) {
    uint8_t* y = y_row + blk * block_bytes;
    int8_t* planar_qs = reinterpret_cast<int8_t*>(y_row) + blk * (type == ActType::Q8_K_PLANAR ? 256 : 32);
    float* planar_d = reinterpret_cast<float*>(y_row + n_cols);
    switch (type) {
    case ActType::Q8_0: quantize_block_q8<false, false>(x, reinterpret_cast<int8_t*>(y + 2), y, nullptr, lane); break;
    case ActType::Q8_1: quantize_block_q8<true, false>(x, reinterpret_cast<int8_t*>(y + 4), y, y + 2, lane); break;
    case ActType::Q8_K:
        quantize_block_q8_k(x, reinterpret_cast<int8_t*>(y + 4), reinterpret_cast<int16_t*>(y + 260),
                            reinterpret_cast<float*>(y), lane);
        break;
    case ActType::Q8_0_PLANAR: quantize_block_q8<false, true>(x, planar_qs, planar_d + blk, nullptr, lane); break;
    case ActType::Q8_1_PLANAR:
        quantize_block_q8<true, true>(x, planar_qs, planar_d + blk, planar_d + n_cols / 32 + blk, lane);
        break;
    case ActType::Q8_K_PLANAR:
        quantize_block_q8_k(x, planar_qs, reinterpret_cast<int16_t*>(planar_d + n_cols / 256) + 16 * blk,
                            planar_d + blk, lane);
        break;
    case ActType::F16: reinterpret_cast<__half*>(y)[lane] = __float2half_rn(x[lane]); break;
    case ActType::BF16: reinterpret_cast<__nv_bfloat16*>(y)[lane] = __float2bfloat16_rn(x[lane]); break;
    case ActType::F32: reinterpret_cast<float*>(y)[lane] = x[lane]; break;
    }
}

// One warp per block (32 elements, or 256 for Q8_K); float encodings take 32 elements per warp.
static __global__ void __launch_bounds__(kThreads) quantize_rows_kernel(QuantizeRowsParams p, int block_elems,
                                                                       int block_bytes) {
    const int lane = threadIdx.x % 32;
    const long blocks_per_row = p.n_cols / block_elems;
    const long b = static_cast<long>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
    if (b >= blocks_per_row * p.n_rows) return;
    const long row = b / blocks_per_row, blk = b % blocks_per_row;
    const float* x = p.x + row * p.x_stride + blk * block_elems;
    convert_block(p.type, x, static_cast<uint8_t*>(p.y) + row * p.y_row_bytes, p.n_cols, blk, block_bytes, lane);
}

// One block per row, with rms_norm's threads and order of additions (so its bits): squares
// rounded to float, summed in double over 256 thread slices and a tree, y = (x * scale) * w staged
// in shared memory; then each warp converts blocks of the staged row.
constexpr int kNormThreads = 256;

static __global__ void __launch_bounds__(kNormThreads) quantize_norm_rows_kernel(QuantizeRowsParams p, int block_elems,
                                                                                int block_bytes) {
    extern __shared__ float row_n[]; // [n_cols] the normalised row
    __shared__ double partial[kNormThreads];
    const float* x = p.x + blockIdx.x * p.x_stride;
    double sum = 0.0;
    for (int i = threadIdx.x; i < p.n_cols; i += kNormThreads) sum += static_cast<double>(__fmul_rn(x[i], x[i]));
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int step = kNormThreads / 2; step > 0; step /= 2) {
        if (threadIdx.x < step) partial[threadIdx.x] += partial[threadIdx.x + step];
        __syncthreads();
    }
    const float mean = static_cast<float>(partial[0] / static_cast<double>(p.n_cols));
    const float scale = 1.0f / sqrtf(mean + p.norm_eps);
    for (int i = threadIdx.x; i < p.n_cols; i += kNormThreads) row_n[i] = (x[i] * scale) * p.norm_w[i];
    __syncthreads();

    const int lane = threadIdx.x % 32;
    uint8_t* y_row = static_cast<uint8_t*>(p.y) + blockIdx.x * p.y_row_bytes;
    for (int blk = threadIdx.x / 32; blk < p.n_cols / block_elems; blk += kNormThreads / 32)
        convert_block(p.type, row_n + blk * block_elems, y_row, p.n_cols, blk, block_bytes, lane);
}

struct Layout {
    int elems, bytes;
};

Layout layout(ActType type) {
    switch (type) {
    case ActType::Q8_0: return {32, 34};
    case ActType::Q8_1: return {32, 36};
    case ActType::Q8_K: return {256, 292};
    case ActType::F16: return {32, 64};
    case ActType::BF16: return {32, 64};
    case ActType::F32: return {32, 128};
    case ActType::Q8_0_PLANAR: return {32, 36};
    case ActType::Q8_1_PLANAR: return {32, 40};
    case ActType::Q8_K_PLANAR: return {256, 292};
    }
    return {0, 0};
}

} // namespace

long quantized_row_bytes(ActType type, int n_cols) {
    const Layout l = layout(type);
    return l.elems ? static_cast<long>(n_cols / l.elems) * l.bytes : 0;
}

cudaError_t quantize_rows(const QuantizeRowsParams& p, cudaStream_t stream) {
    const Layout l = layout(p.type);
    if (p.n_rows <= 0 || p.n_cols <= 0) return cudaSuccess;
    if (!l.elems || !p.x || !p.y || p.n_cols % l.elems != 0 || p.y_row_bytes < quantized_row_bytes(p.type, p.n_cols) ||
        p.y_row_bytes % 4 != 0 || reinterpret_cast<uintptr_t>(p.y) % 4 != 0)
        return cudaErrorInvalidValue;
    const bool planar = p.type == ActType::Q8_0_PLANAR || p.type == ActType::Q8_1_PLANAR || p.type == ActType::Q8_K_PLANAR;
    if (planar && (p.y_row_bytes % 16 != 0 || reinterpret_cast<uintptr_t>(p.y) % 16 != 0)) return cudaErrorInvalidValue;
    if (p.norm_w) {
        if (p.n_cols > kQuantizeNormMaxCols || p.n_rows > 0x7fffffff) return cudaErrorInvalidValue;
        quantize_norm_rows_kernel<<<p.n_rows, kNormThreads, sizeof(float) * p.n_cols, stream>>>(p, l.elems, l.bytes);
        return cudaGetLastError();
    }
    const long n_blocks = static_cast<long>(p.n_cols / l.elems) * p.n_rows;
    const long grid = (n_blocks + kThreads / 32 - 1) / (kThreads / 32);
    if (grid > 0x7fffffffL) return cudaErrorInvalidValue;
    quantize_rows_kernel<<<static_cast<unsigned>(grid), kThreads, 0, stream>>>(p, l.elems, l.bytes);
    return cudaGetLastError();
}

} // namespace sq::cuda
