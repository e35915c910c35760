#include "kmeans-update.cuh"

#include "kmeans-points.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 256;

// A group of dim/8 lanes per point adds its 8 elements into the cluster's sum. Float atomics: the
// order of additions (and so the last bits of a sum) varies from run to run.
template <int D, typename T>
static __global__ void __launch_bounds__(kThreads) kmeans_sum_kernel(KmeansSumParams p) {
    constexpr int kLanes = D / 8;
    const long point = (static_cast<long>(blockIdx.x) * kThreads + threadIdx.x) / kLanes;
    const int li = threadIdx.x % kLanes;
    if (point >= static_cast<long>(p.n_batches) * p.n_points) return;
    const long batch = point / p.n_points;
    const int cluster = p.assign[point];
    float f[8];
    load_point8<T>(static_cast<const T*>(p.points) + point * D, li * 8, f);
    float* sum = p.sums + (batch * p.n_clusters + cluster) * D + li * 8;
#pragma unroll
    for (int e = 0; e < 8; ++e) atomicAdd(sum + e, f[e]);
    if (li == 0 && p.counts) atomicAdd(p.counts + batch * p.n_clusters + cluster, 1);
}

constexpr int kFixThreads = 256;
constexpr int kMaxEmptyPerPass = 1024;

static __global__ void __launch_bounds__(kFixThreads) kmeans_fix_empty_kernel(KmeansFixEmptyParams p) {
    __shared__ int empties[kMaxEmptyPerPass];
    __shared__ int n_empty, moved_point, moved_from;
    const long batch = blockIdx.x;
    int* assign = p.assign + batch * p.n_points;
    int* counts = p.counts + batch * p.n_clusters;
    float* sums = p.sums + batch * p.n_clusters * p.dim;
    const __half* unit = p.unit + batch * p.n_points * p.dim;
    const int* worst = p.worst + batch * p.n_worst;
    int cursor = 0; // thread 0's position in (candidates, then all points)
    for (;;) {
        if (threadIdx.x == 0) n_empty = 0;
        __syncthreads();
        for (int j = threadIdx.x; j < p.n_clusters; j += kFixThreads)
            if (counts[j] == 0) {
                const int slot = atomicAdd(&n_empty, 1);
                if (slot < kMaxEmptyPerPass) empties[slot] = j;
            }
        __syncthreads();
        const int n = min(n_empty, kMaxEmptyPerPass);
        if (n == 0) return;
        for (int k = 0; k < n; ++k) {
            const int e = empties[k];
            if (threadIdx.x == 0) {
                int point = -1;
                while (point < 0 && cursor < p.n_worst + p.n_points) {
                    const int cand = cursor < p.n_worst ? worst[cursor] : cursor - p.n_worst;
                    ++cursor;
                    if (cand >= 0 && counts[assign[cand]] > 1) point = cand;
                }
                moved_point = point;
                if (point >= 0) {
                    moved_from = assign[point];
                    --counts[moved_from];
                    counts[e] = 1;
                    assign[point] = e;
                }
            }
            __syncthreads();
            if (moved_point < 0) return; // n_clusters > n_points: nothing left to give
            for (int d = threadIdx.x; d < p.dim; d += kFixThreads) {
                const float u = __half2float(unit[static_cast<long>(moved_point) * p.dim + d]);
                sums[static_cast<long>(moved_from) * p.dim + d] -= u;
                sums[static_cast<long>(e) * p.dim + d] = u;
            }
            __syncthreads();
        }
    }
}

// One warp per row.
static __global__ void __launch_bounds__(kThreads) kmeans_directions_kernel(const float* sums, __half* dirs, int n_rows, int dim) {
    const long row = (static_cast<long>(blockIdx.x) * kThreads + threadIdx.x) / 32;
    const int lane = threadIdx.x % 32;
    if (row >= n_rows) return;
    const float* s = sums + row * dim;
    float norm2 = 0.0f;
    for (int d = lane; d < dim; d += 32) norm2 = fmaf(s[d], s[d], norm2);
#pragma unroll
    for (int off = 16; off > 0; off /= 2) norm2 += __shfl_xor_sync(0xffffffffu, norm2, off);
    if (!(norm2 > 0.0f)) return;
    const float inv = rsqrtf(norm2);
    for (int d = lane; d < dim; d += 32) dirs[row * dim + d] = __float2half_rn(s[d] * inv);
}

static __global__ void __launch_bounds__(kThreads)
kmeans_centroids_kernel(const float* sums, const int* counts, float* centroids, int n_rows, int dim) {
    const long i = static_cast<long>(blockIdx.x) * kThreads + threadIdx.x;
    if (i >= static_cast<long>(n_rows) * dim) return;
    const int c = counts[i / dim];
    centroids[i] = c > 0 ? sums[i] / static_cast<float>(c) : 0.0f;
}

// Grid (point blocks, batches): a group of dim/8 lanes per point, the block's terms summed in
// shared memory so each block adds once to its batch's total.
template <int D>
static __global__ void __launch_bounds__(kThreads) kmeans_objective_kernel(KmeansObjectiveParams p) {
    constexpr int kLanes = D / 8;
    __shared__ float warp_terms[kThreads / 32];
    const long batch = blockIdx.y;
    const int point = (blockIdx.x * kThreads + threadIdx.x) / kLanes;
    const int li = threadIdx.x % kLanes;
    float u[8] = {}, c[8] = {};
    if (point < p.n_points) {
        const long row = batch * p.n_points + point;
        load_point8<__half>(p.unit + row * D, li * 8, u);
        load_point8<__half>(p.dirs + (batch * p.n_clusters + p.assign[row]) * D, li * 8, c);
    }
    float dot = 0.0f;
#pragma unroll
    for (int e = 0; e < 8; ++e) dot = fmaf(u[e], c[e], dot);
#pragma unroll
    for (int off = kLanes / 2; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
    float term = li == 0 && point < p.n_points ? 1.0f - dot : 0.0f;
#pragma unroll
    for (int off = 16; off > 0; off /= 2) term += __shfl_xor_sync(0xffffffffu, term, off);
    if (threadIdx.x % 32 == 0) warp_terms[threadIdx.x / 32] = term;
    __syncthreads();
    if (threadIdx.x == 0) {
        float sum = 0.0f;
        for (int w = 0; w < kThreads / 32; ++w) sum += warp_terms[w];
        atomicAdd(p.objective + batch, static_cast<double>(sum));
    }
}

template <int D>
cudaError_t launch_sum(const KmeansSumParams& p, cudaStream_t stream) {
    const long threads = static_cast<long>(p.n_batches) * p.n_points * (D / 8);
    const unsigned blocks = static_cast<unsigned>((threads + kThreads - 1) / kThreads);
    switch (p.point_type) {
    case KmeansPointType::F16: kmeans_sum_kernel<D, __half><<<blocks, kThreads, 0, stream>>>(p); break;
    case KmeansPointType::BF16: kmeans_sum_kernel<D, __nv_bfloat16><<<blocks, kThreads, 0, stream>>>(p); break;
    case KmeansPointType::F32: kmeans_sum_kernel<D, float><<<blocks, kThreads, 0, stream>>>(p); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace

cudaError_t kmeans_sum(const KmeansSumParams& p, cudaStream_t stream) {
    if (p.n_batches <= 0 || p.n_points <= 0) return cudaSuccess;
    switch (p.dim) {
    case 64: return launch_sum<64>(p, stream);
    case 128: return launch_sum<128>(p, stream);
    default: return cudaErrorInvalidValue;
    }
}

cudaError_t kmeans_fix_empty(const KmeansFixEmptyParams& p, cudaStream_t stream) {
    if (p.n_batches <= 0 || p.n_clusters <= 0) return cudaSuccess;
    kmeans_fix_empty_kernel<<<p.n_batches, kFixThreads, 0, stream>>>(p);
    return cudaGetLastError();
}

cudaError_t kmeans_directions(const float* sums, __half* dirs, int n_rows, int dim, cudaStream_t stream) {
    if (n_rows <= 0) return cudaSuccess;
    const unsigned blocks = static_cast<unsigned>((static_cast<long>(n_rows) * 32 + kThreads - 1) / kThreads);
    kmeans_directions_kernel<<<blocks, kThreads, 0, stream>>>(sums, dirs, n_rows, dim);
    return cudaGetLastError();
}

cudaError_t kmeans_centroids(const float* sums, const int* counts, float* centroids, int n_rows, int dim, cudaStream_t stream) {
    if (n_rows <= 0) return cudaSuccess;
    const unsigned blocks = static_cast<unsigned>((static_cast<long>(n_rows) * dim + kThreads - 1) / kThreads);
    kmeans_centroids_kernel<<<blocks, kThreads, 0, stream>>>(sums, counts, centroids, n_rows, dim);
    return cudaGetLastError();
}

cudaError_t kmeans_objective(const KmeansObjectiveParams& p, cudaStream_t stream) {
    if (p.n_batches <= 0 || p.n_points <= 0) return cudaSuccess;
    const dim3 grid((p.n_points * (p.dim / 8) + kThreads - 1) / kThreads, p.n_batches);
    switch (p.dim) {
    case 64: kmeans_objective_kernel<64><<<grid, kThreads, 0, stream>>>(p); break;
    case 128: kmeans_objective_kernel<128><<<grid, kThreads, 0, stream>>>(p); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace sq::cuda
