#include "rms-norm.cuh"

namespace sq::cuda {

namespace {

constexpr int kBlock = 256; // one block per row; enough threads to cover n_embd up to 8K in 32 steps

// One block per row: each thread sums squares over a strided slice, then a shared-memory tree
// reduction. As the CPU op (ggml): squares rounded to float, summed in double, mean and scale in
// float, y = (x * scale) * w; only the order of the double additions differs.
static __global__ void rms_norm_kernel(RmsNormParams p) {
    __shared__ double partial[kBlock];
    const int row = blockIdx.x;
    const float* x = p.x + row * p.x_stride;
    float* y = p.y + row * p.y_stride;

    double sum = 0.0;
    for (int i = threadIdx.x; i < p.n_cols; i += blockDim.x) sum += static_cast<double>(__fmul_rn(x[i], x[i]));
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int step = blockDim.x / 2; step > 0; step /= 2) {
        if (threadIdx.x < step) partial[threadIdx.x] += partial[threadIdx.x + step];
        __syncthreads();
    }
    const float mean = static_cast<float>(partial[0] / static_cast<double>(p.n_cols));
    const float scale = 1.0f / sqrtf(mean + p.eps);
    for (int i = threadIdx.x; i < p.n_cols; i += blockDim.x) y[i] = (x[i] * scale) * p.w[i];
}

} // namespace

cudaError_t rms_norm(const RmsNormParams& p, cudaStream_t stream) {
    if (p.n_rows <= 0 || p.n_cols <= 0) return cudaSuccess;
    rms_norm_kernel<<<p.n_rows, kBlock, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
