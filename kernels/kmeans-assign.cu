#include "kmeans-assign.cuh"

#include <cstdint>
#include <math_constants.h>

#include "mma.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;          // 4 warps, 32 points each (two 16-row tiles)
constexpr int kChunk = 64;             // directions per shared-memory stage (8 n-tiles)
static_assert(kKmeansAssignPoints == kThreads);

// (v, i) beats (w, j) when larger, or equal with the lower index (the CPU's max_element picks the first).
__device__ __forceinline__ bool better(float v, int i, float w, int j) { return v > w || (v == w && i < j); }

// One block = 128 points of one batch against every scored direction. Each warp keeps its points'
// A fragments in registers for the whole run (d/16 k-steps x 2 tiles) and streams directions through
// two shared-memory stages of 64, filled by cp.async while the previous stage is multiplied. Rows
// are padded by 16 bytes so the 8 rows x 4 words a B fragment load touches fall in 32 distinct banks.
template <int D>
static __global__ void __launch_bounds__(kThreads) kmeans_assign_kernel(KmeansAssignParams p) {
    constexpr int kRow = D + 8;
    constexpr int kSteps = D / 16;
    constexpr int kPieces = D / 8; // 16-byte pieces per row
    __shared__ __align__(16) __half sdir[2][kChunk][kRow];
    __shared__ float warp_worst_best[kThreads / 32];
    __shared__ int warp_worst_point[kThreads / 32];

    const int batch = blockIdx.y;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int p0 = blockIdx.x * kThreads + warp * 32;
    const __half* unit = p.unit + static_cast<long>(batch) * p.n_points * D;
    const __half* dirs = p.dirs + static_cast<long>(batch) * p.dir_stride * D;

    const auto load_chunk = [&](int first, int buf) {
        for (int i = threadIdx.x; i < kChunk * kPieces; i += kThreads) {
            const int r = i / kPieces, piece = i % kPieces;
            __half* dst = &sdir[buf][r][piece * 8];
            if (first + r < p.dir_end) cp_async16(dst, dirs + static_cast<long>(first + r) * D + piece * 8);
            else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
        }
        cp_async_commit();
    };

    const int n_chunks = (p.dir_end - p.dir_begin + kChunk - 1) / kChunk;
    if (n_chunks > 0) load_chunk(p.dir_begin, 0);

    uint32_t a[2][kSteps][4]; // [m-tile][k-step][fragment]
#pragma unroll
    for (int mt = 0; mt < 2; ++mt) {
        const int r0 = p0 + 16 * mt + g, r1 = r0 + 8;
        const uint32_t* row0 = reinterpret_cast<const uint32_t*>(unit + static_cast<long>(r0) * D);
        const uint32_t* row1 = reinterpret_cast<const uint32_t*>(unit + static_cast<long>(r1) * D);
#pragma unroll
        for (int s = 0; s < kSteps; ++s) {
            a[mt][s][0] = r0 < p.n_points ? row0[8 * s + t] : 0u;
            a[mt][s][1] = r1 < p.n_points ? row1[8 * s + t] : 0u;
            a[mt][s][2] = r0 < p.n_points ? row0[8 * s + t + 4] : 0u;
            a[mt][s][3] = r1 < p.n_points ? row1[8 * s + t + 4] : 0u;
        }
    }

    float best[2][2]; // [m-tile][rows g, g + 8]
    int arg[2][2];
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            best[mt][h] = -CUDART_INF_F;
            arg[mt][h] = -1;
        }

    for (int c = 0; c < n_chunks; ++c) {
        const int buf = c & 1;
        if (c + 1 < n_chunks) {
            load_chunk(p.dir_begin + (c + 1) * kChunk, buf ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();

        float acc[2][8][4];
#pragma unroll
        for (int mt = 0; mt < 2; ++mt)
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) acc[mt][nt][0] = acc[mt][nt][1] = acc[mt][nt][2] = acc[mt][nt][3] = 0.0f;
#pragma unroll
        for (int s = 0; s < kSteps; ++s)
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) {
                const uint32_t* brow = reinterpret_cast<const uint32_t*>(&sdir[buf][nt * 8 + g][0]);
                const uint32_t b0 = brow[8 * s + t], b1 = brow[8 * s + t + 4];
                mma_16816<__half>(acc[0][nt], a[0][s], b0, b1);
                mma_16816<__half>(acc[1][nt], a[1][s], b0, b1);
            }

        // Columns ascend within a thread, so a strict > keeps the first of equal dots.
        const int first = p.dir_begin + c * kChunk;
#pragma unroll
        for (int nt = 0; nt < 8; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
                const int col = first + nt * 8 + 2 * t + e;
                if (col >= p.dir_end) continue;
#pragma unroll
                for (int mt = 0; mt < 2; ++mt)
#pragma unroll
                    for (int h = 0; h < 2; ++h)
                        if (acc[mt][nt][2 * h + e] > best[mt][h]) {
                            best[mt][h] = acc[mt][nt][2 * h + e];
                            arg[mt][h] = col;
                        }
            }
        __syncthreads(); // the next iteration refills this stage
    }

    // The four threads of a row hold interleaved columns: reduce them, then write (merging with the
    // previous rounds' result when asked).
    float worst = CUDART_INF_F;
    int worst_point = -1;
    float* best_out = p.best + static_cast<long>(batch) * p.n_points;
    int* assign_out = p.assign + static_cast<long>(batch) * p.n_points;
#pragma unroll
    for (int mt = 0; mt < 2; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            float v = best[mt][h];
            int i = arg[mt][h];
#pragma unroll
            for (int off = 1; off < 4; off *= 2) {
                const float ov = __shfl_xor_sync(0xffffffffu, v, off);
                const int oi = __shfl_xor_sync(0xffffffffu, i, off);
                if (better(ov, oi, v, i)) {
                    v = ov;
                    i = oi;
                }
            }
            const int row = p0 + 16 * mt + 8 * h + g;
            if (row < p.n_points) {
                if (p.merge && !(v > best_out[row])) v = best_out[row];
                else if (t == 0) {
                    best_out[row] = v;
                    assign_out[row] = i;
                }
                if (v < worst) {
                    worst = v;
                    worst_point = row;
                }
            }
        }
    if (!p.worst) return;
#pragma unroll
    for (int off = 4; off < 32; off *= 2) {
        const float ov = __shfl_xor_sync(0xffffffffu, worst, off);
        const int oi = __shfl_xor_sync(0xffffffffu, worst_point, off);
        if (oi >= 0 && (worst_point < 0 || ov < worst)) {
            worst = ov;
            worst_point = oi;
        }
    }
    if (lane == 0) {
        warp_worst_best[warp] = worst;
        warp_worst_point[warp] = worst_point;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < kThreads / 32; ++w)
            if (warp_worst_point[w] >= 0 && (worst_point < 0 || warp_worst_best[w] < worst)) {
                worst = warp_worst_best[w];
                worst_point = warp_worst_point[w];
            }
        p.worst[static_cast<long>(batch) * gridDim.x + blockIdx.x] = worst_point;
    }
}

} // namespace

cudaError_t kmeans_assign(const KmeansAssignParams& p, cudaStream_t stream) {
    if (p.n_batches <= 0 || p.n_points <= 0) return cudaSuccess;
    if (!p.unit || !p.dirs || !p.best || !p.assign || p.dir_begin < 0 || p.dir_end <= p.dir_begin || p.dir_end > p.dir_stride)
        return cudaErrorInvalidValue;
    const dim3 grid((p.n_points + kThreads - 1) / kThreads, p.n_batches);
    switch (p.dim) {
    case 64: kmeans_assign_kernel<64><<<grid, kThreads, 0, stream>>>(p); break;
    case 128: kmeans_assign_kernel<128><<<grid, kThreads, 0, stream>>>(p); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

} // namespace sq::cuda
