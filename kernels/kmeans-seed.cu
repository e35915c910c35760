#include "kmeans-seed.cuh"

#include "kmeans-points.cuh"

namespace sq::cuda {

namespace {

constexpr int kNormThreads = 256;
constexpr int kSeedThreads = 1024;
constexpr int kScanItems = 4; // consecutive weights per thread and scan tile

// A group of dim/8 lanes per point, each normalising 8 elements.
template <int D, typename T>
static __global__ void __launch_bounds__(kNormThreads) kmeans_normalize_kernel(KmeansNormalizeParams p) {
    constexpr int kLanes = D / 8;
    const long point = (static_cast<long>(blockIdx.x) * kNormThreads + threadIdx.x) / kLanes;
    const int li = threadIdx.x % kLanes;
    const long total = static_cast<long>(p.n_batches) * p.n_points;
    const bool valid = point < total;
    float f[8] = {};
    if (valid) load_point8<T>(static_cast<const T*>(p.points) + point * D, li * 8, f);
    float norm2 = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) norm2 = fmaf(f[e], f[e], norm2);
#pragma unroll
    for (int off = kLanes / 2; off > 0; off /= 2) norm2 += __shfl_xor_sync(0xffffffffu, norm2, off);
    if (!valid) return;
    const float inv = norm2 > 0.0f ? rsqrtf(norm2) : 0.0f;
    __half2 h[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) h[i] = __floats2half2_rn(f[2 * i] * inv, f[2 * i + 1] * inv);
    *reinterpret_cast<uint4*>(p.unit + point * D + li * 8) = *reinterpret_cast<const uint4*>(h);
    if (li == 0) p.best[point] = -1.0f;
}

__device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// Uniform in [0, 1) with 24 bits, the resolution of the float prefix sums it is compared with.
__device__ __forceinline__ float uniform01(uint64_t seed, int batch, int draw) {
    const uint64_t h = splitmix64(seed ^ splitmix64((static_cast<uint64_t>(batch) << 32) | static_cast<uint32_t>(draw)));
    return static_cast<float>(h >> 40) * (1.0f / 16777216.0f);
}

// One block per batch: the inclusive prefix sums of the weights max(0, 1 - best) (float; a weight
// is at most 2 and the sum at most 2n), then each draw binary-searches its uniform in them, and the
// drawn points' unit vectors become the round's directions.
static __global__ void __launch_bounds__(kSeedThreads) kmeans_seed_round_kernel(KmeansSeedRoundParams p) {
    __shared__ float warp_sums[kSeedThreads / 32];
    __shared__ float carry_shared;
    __shared__ int picks[kSeedThreads];
    const int batch = blockIdx.x;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const float* best = p.best + static_cast<long>(batch) * p.n_points;
    float* cdf = p.cdf + static_cast<long>(batch) * p.n_points;

    float carry = 0.0f;
    for (int base = 0; base < p.n_points; base += kSeedThreads * kScanItems) {
        const int i0 = base + threadIdx.x * kScanItems;
        float w[kScanItems], run = 0.0f;
#pragma unroll
        for (int e = 0; e < kScanItems; ++e) {
            w[e] = i0 + e < p.n_points ? fmaxf(0.0f, 1.0f - best[i0 + e]) : 0.0f;
            run += w[e];
        }
        float incl = run; // inclusive scan of the threads' totals within the warp
#pragma unroll
        for (int off = 1; off < 32; off *= 2) {
            const float o = __shfl_up_sync(0xffffffffu, incl, off);
            if (lane >= off) incl += o;
        }
        if (lane == 31) warp_sums[warp] = incl;
        __syncthreads();
        if (warp == 0) {
            float ws = warp_sums[lane];
#pragma unroll
            for (int off = 1; off < 32; off *= 2) {
                const float o = __shfl_up_sync(0xffffffffu, ws, off);
                if (lane >= off) ws += o;
            }
            warp_sums[lane] = ws; // inclusive over warps
        }
        __syncthreads();
        float prefix = carry + (warp > 0 ? warp_sums[warp - 1] : 0.0f) + incl - run;
#pragma unroll
        for (int e = 0; e < kScanItems; ++e) {
            prefix += w[e];
            if (i0 + e < p.n_points) cdf[i0 + e] = prefix;
        }
        carry += warp_sums[kSeedThreads / 32 - 1];
        __syncthreads(); // warp_sums is rewritten by the next tile
    }
    if (threadIdx.x == 0) carry_shared = carry;
    __syncthreads();
    const float total = carry_shared;

    for (int d0 = 0; d0 < p.n_draws; d0 += kSeedThreads) {
        const int draw = d0 + threadIdx.x;
        if (draw < p.n_draws) {
            const float u = uniform01(p.seed + static_cast<uint64_t>(p.first), batch, draw);
            int pick;
            if (total > 0.0f) {
                // First point whose prefix sum exceeds u * total; rounding at the top end falls back
                // to the last point with a positive weight.
                const float target = u * total;
                int lo = 0, hi = p.n_points - 1;
                while (lo < hi) {
                    const int mid = (lo + hi) / 2;
                    if (cdf[mid] > target) hi = mid;
                    else lo = mid + 1;
                }
                pick = lo;
            } else {
                pick = min(p.n_points - 1, static_cast<int>(u * p.n_points)); // every direction taken
            }
            picks[threadIdx.x] = pick;
        }
        __syncthreads();
        const int n = min(kSeedThreads, p.n_draws - d0);
        const int pieces = p.dim / 8;
        const uint4* src = reinterpret_cast<const uint4*>(p.unit + static_cast<long>(batch) * p.n_points * p.dim);
        uint4* dst = reinterpret_cast<uint4*>(p.dirs + (static_cast<long>(batch) * p.dir_stride + p.first + d0) * p.dim);
        for (int i = threadIdx.x; i < n * pieces; i += kSeedThreads)
            dst[i] = src[static_cast<long>(picks[i / pieces]) * pieces + i % pieces];
        __syncthreads();
    }
}

template <int D>
cudaError_t launch_normalize(const KmeansNormalizeParams& p, cudaStream_t stream) {
    const long threads = static_cast<long>(p.n_batches) * p.n_points * (D / 8);
    const unsigned blocks = static_cast<unsigned>((threads + kNormThreads - 1) / kNormThreads);
    switch (p.point_type) {
    case KmeansPointType::F16: kmeans_normalize_kernel<D, __half><<<blocks, kNormThreads, 0, stream>>>(p); break;
    case KmeansPointType::BF16: kmeans_normalize_kernel<D, __nv_bfloat16><<<blocks, kNormThreads, 0, stream>>>(p); break;
    case KmeansPointType::F32: kmeans_normalize_kernel<D, float><<<blocks, kNormThreads, 0, stream>>>(p); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace

cudaError_t kmeans_normalize(const KmeansNormalizeParams& p, cudaStream_t stream) {
    if (p.n_batches <= 0 || p.n_points <= 0) return cudaSuccess;
    switch (p.dim) {
    case 64: return launch_normalize<64>(p, stream);
    case 128: return launch_normalize<128>(p, stream);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t kmeans_seed_round(const KmeansSeedRoundParams& p, cudaStream_t stream) {
    if (p.n_batches <= 0 || p.n_draws <= 0) return cudaSuccess;
    if (p.n_points <= 0 || p.first < 0 || p.first + p.n_draws > p.dir_stride || p.dim % 8 != 0) return cudaErrorInvalidValue;
    kmeans_seed_round_kernel<<<p.n_batches, kSeedThreads, 0, stream>>>(p);
    return cudaGetLastError();
}

} // namespace sq::cuda
