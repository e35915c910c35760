#include "attention-decode.cuh"

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "lse-merge.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroup = 8;          // query heads per block; larger GQA groups take several tiles
constexpr int kMaxSplits = 1024;
constexpr int kMinKeysPerSplit = 256; // below this a slice's merge costs more than its keys
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

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

// Running maxima start at -inf; subtracting a base of 0 instead keeps exp2(-inf - -inf) from
// turning an empty state into NaN (its weight comes out 0).
__device__ __forceinline__ float finite_base(float m) { return m == -CUDART_INF_F ? 0.0f : m; }

struct SplitOutput {
    float* o;            // [n_splits][n_heads][head_dim], or the final output when n_splits == 1
    float* lse;          // [n_splits][n_heads], or null
    long o_split_stride;
    long lse_split_stride;
};

// One block = one KV head's query heads (a tile of at most G) over one slice of `chunk` keys.
// A group of D/8 lanes reads one K row and one V row, 16 bytes a lane, and keeps a running
// (max, sum, acc) per query head for its 8 dimensions; KPI rows per group are loaded before any
// is used so each thread has 2*KPI independent 16-byte loads in flight. Scores are in log2 units
// (q pre-multiplied by scale*log2 e) so each exponential is a single exp2.
template <int D, int G, int KPI, typename T>
static __global__ void __launch_bounds__(kThreads)
attention_decode_kernel(AttentionDecodeParams p, SplitOutput dst, int heads_per_tile, int n_tiles, int chunk) {
    constexpr int kLanes = D / 8;
    constexpr int kGroups = kThreads / kLanes;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int li = threadIdx.x % kLanes, gi = threadIdx.x / kLanes;
    const int kv_head = blockIdx.y / n_tiles, tile = blockIdx.y % n_tiles;
    const int group = p.n_heads / p.n_kv_heads;
    const int h0 = kv_head * group + tile * heads_per_tile;
    const int n_q = min(heads_per_tile, group - tile * heads_per_tile);

    float q[G][8]; // [head][dim li*8 + e]
    const float q_scale = p.scale * kLog2e;
#pragma unroll
    for (int h = 0; h < G; ++h) {
        const float* src = p.q + static_cast<long>(h0 + h) * D + li * 8;
#pragma unroll
        for (int e = 0; e < 8; ++e) q[h][e] = h < n_q ? src[e] * q_scale : 0.0f;
    }

    float m[G], l[G], acc[G][8];
#pragma unroll
    for (int h = 0; h < G; ++h) {
        m[h] = -CUDART_INF_F;
        l[h] = 0.0f;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[h][e] = 0.0f;
    }

    const long head_offset = static_cast<long>(kv_head) * p.kv_head_stride;
    const uint4* k = reinterpret_cast<const uint4*>(static_cast<const T*>(p.k) + head_offset) + li;
    const uint4* v = reinterpret_cast<const uint4*>(static_cast<const T*>(p.v) + head_offset) + li;
    const int begin = blockIdx.x * chunk;
    const int end = min(p.n_kv, begin + chunk);

    for (int base = begin; base < end; base += kGroups * KPI) {
        uint4 kr[KPI], vr[KPI];
#pragma unroll
        for (int j = 0; j < KPI; ++j) {
            const int key = base + j * kGroups + gi;
            if (key < end) {
                kr[j] = __ldg(k + static_cast<long>(key) * kLanes);
                vr[j] = __ldg(v + static_cast<long>(key) * kLanes);
            } else {
                kr[j] = vr[j] = make_uint4(0, 0, 0, 0);
            }
        }

        float s[G][KPI]; // scores, then probabilities
#pragma unroll
        for (int j = 0; j < KPI; ++j) {
            float kf[8];
            to_float8<T>(kr[j], kf);
#pragma unroll
            for (int h = 0; h < G; ++h) {
                float dot = 0.0f;
#pragma unroll
                for (int e = 0; e < 8; ++e) dot = fmaf(q[h][e], kf[e], dot);
                s[h][j] = dot;
            }
        }
#pragma unroll
        for (int off = kLanes / 2; off > 0; off /= 2)
#pragma unroll
            for (int h = 0; h < G; ++h)
#pragma unroll
                for (int j = 0; j < KPI; ++j) s[h][j] += __shfl_xor_sync(0xffffffffu, s[h][j], off);

#pragma unroll
        for (int h = 0; h < G; ++h) {
            float mx = m[h];
#pragma unroll
            for (int j = 0; j < KPI; ++j) {
                if (base + j * kGroups + gi >= end) s[h][j] = -CUDART_INF_F;
                mx = fmaxf(mx, s[h][j]);
            }
            const float b = finite_base(mx);
            const float c = exp2f(m[h] - b);
            m[h] = mx;
            l[h] *= c;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[h][e] *= c;
#pragma unroll
            for (int j = 0; j < KPI; ++j) {
                s[h][j] = exp2f(s[h][j] - b);
                l[h] += s[h][j];
            }
        }
#pragma unroll
        for (int j = 0; j < KPI; ++j) {
            float vf[8];
            to_float8<T>(vr[j], vf);
#pragma unroll
            for (int h = 0; h < G; ++h)
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[h][e] = fmaf(s[h][j], vf[e], acc[h][e]);
        }
    }

    // Merge the groups of each warp (same dimensions, different keys), then the warps.
#pragma unroll
    for (int off = kLanes; off < 32; off *= 2) {
#pragma unroll
        for (int h = 0; h < G; ++h) {
            const float m_o = __shfl_xor_sync(0xffffffffu, m[h], off);
            const float l_o = __shfl_xor_sync(0xffffffffu, l[h], off);
            const float mx = fmaxf(m[h], m_o), b = finite_base(mx);
            const float c = exp2f(m[h] - b), c_o = exp2f(m_o - b);
            m[h] = mx;
            l[h] = l[h] * c + l_o * c_o;
#pragma unroll
            for (int e = 0; e < 8; ++e) acc[h][e] = acc[h][e] * c + __shfl_xor_sync(0xffffffffu, acc[h][e], off) * c_o;
        }
    }

    __shared__ float s_acc[kWarps][G][D];
    __shared__ float s_m[kWarps][G];
    __shared__ float s_l[kWarps][G];
    if (lane < kLanes) {
#pragma unroll
        for (int h = 0; h < G; ++h) {
#pragma unroll
            for (int e = 0; e < 8; ++e) s_acc[warp][h][li * 8 + e] = acc[h][e];
            if (li == 0) {
                s_m[warp][h] = m[h];
                s_l[warp][h] = l[h];
            }
        }
    }
    __syncthreads();

    for (int i = threadIdx.x; i < n_q * D; i += kThreads) {
        const int h = i / D, d = i % D;
        float mx = -CUDART_INF_F;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, s_m[w][h]);
        const float b = finite_base(mx);
        float sum = 0.0f, a = 0.0f;
#pragma unroll
        for (int w = 0; w < kWarps; ++w) {
            const float c = exp2f(s_m[w][h] - b);
            sum += s_l[w][h] * c;
            a += s_acc[w][h][d] * c;
        }
        const int row = h0 + h;
        dst.o[blockIdx.x * dst.o_split_stride + static_cast<long>(row) * D + d] = sum > 0.0f ? a / sum : 0.0f;
        if (d == 0 && dst.lse)
            dst.lse[blockIdx.x * dst.lse_split_stride + row] = sum > 0.0f ? (b + log2f(sum)) * kLn2 : -CUDART_INF_F;
    }
}

// One wave: as many slices as let every block of every slice be resident at once, so equal slices
// run side by side and finish together (rounding up would leave a second, nearly empty wave);
// fewer when the slices would get too short.
template <typename Kernel>
cudaError_t pick_splits(Kernel kernel, int head_blocks, int n_kv, int* n_splits) {
    int dev = 0, n_sms = 0, per_sm = 0;
    cudaError_t err = cudaGetDevice(&dev);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&n_sms, cudaDevAttrMultiProcessorCount, dev);
    if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0);
    if (err != cudaSuccess) return err;
    const int fill = n_sms * per_sm / head_blocks;
    const int longest = (n_kv + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
    *n_splits = max(1, min(fill, longest));
    return cudaSuccess;
}

template <int D, int G, int KPI, typename T>
cudaError_t launch(const AttentionDecodeParams& p, int heads_per_tile, int n_tiles, cudaStream_t stream) {
    constexpr int kStep = kThreads / (D / 8) * KPI; // keys a block consumes per loop step
    const auto kernel = attention_decode_kernel<D, G, KPI, T>;
    const int head_blocks = p.n_kv_heads * n_tiles;
    int n_splits = p.n_splits;
    if (n_splits <= 0) {
        const cudaError_t err = pick_splits(kernel, head_blocks, p.n_kv, &n_splits);
        if (err != cudaSuccess) return err;
    }
    n_splits = min(n_splits, kMaxSplits);
    // Whole steps per slice, so only a slice's last step runs past its end.
    int chunk = (p.n_kv + n_splits - 1) / n_splits;
    chunk = max(kStep, (chunk + kStep - 1) / kStep * kStep);
    n_splits = max(1, (p.n_kv + chunk - 1) / chunk);

    const dim3 grid(n_splits, head_blocks);
    if (n_splits == 1) {
        kernel<<<grid, kThreads, 0, stream>>>(p, SplitOutput{p.out, p.lse, 0, 0}, heads_per_tile, n_tiles, chunk);
        return cudaGetLastError();
    }
    const long o_stride = static_cast<long>(p.n_heads) * D;
    float* lse_part = p.workspace + static_cast<long>(n_splits) * o_stride; // [n_splits][n_heads]
    kernel<<<grid, kThreads, 0, stream>>>(p, SplitOutput{p.workspace, lse_part, o_stride, p.n_heads},
                                          heads_per_tile, n_tiles, chunk);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    return lse_merge(LseMergeParams{p.workspace, lse_part, p.out, p.lse, n_splits, p.n_heads, D, o_stride, p.n_heads},
                     stream);
}

// Register budget measured with ptxas (sm_90, 128 threads): G * KPI <= 16 stays spill-free.
template <int D, int G, typename T>
cudaError_t dispatch_kpi(const AttentionDecodeParams& p, int heads_per_tile, int n_tiles, cudaStream_t stream) {
    int kpi = p.keys_per_iter;
    if (kpi == 0) kpi = G <= 2 ? 8 : G == 4 ? 4 : 2;
    switch (kpi) {
    case 2: return launch<D, G, 2, T>(p, heads_per_tile, n_tiles, stream);
    case 4: return launch<D, G, 4, T>(p, heads_per_tile, n_tiles, stream);
    case 8: return launch<D, G, 8, T>(p, heads_per_tile, n_tiles, stream);
    default: return cudaErrorInvalidValue;
    }
}

template <int D, typename T>
cudaError_t dispatch_group(const AttentionDecodeParams& p, cudaStream_t stream) {
    const int group = p.n_heads / p.n_kv_heads;
    const int n_tiles = (group + kMaxGroup - 1) / kMaxGroup;
    const int heads_per_tile = (group + n_tiles - 1) / n_tiles;
    if (heads_per_tile <= 1) return dispatch_kpi<D, 1, T>(p, heads_per_tile, n_tiles, stream);
    if (heads_per_tile <= 2) return dispatch_kpi<D, 2, T>(p, heads_per_tile, n_tiles, stream);
    if (heads_per_tile <= 4) return dispatch_kpi<D, 4, T>(p, heads_per_tile, n_tiles, stream);
    return dispatch_kpi<D, 8, T>(p, heads_per_tile, n_tiles, stream);
}

template <int D>
cudaError_t dispatch_type(const AttentionDecodeParams& p, cudaStream_t stream) {
    return p.kv_type == KvType::F16 ? dispatch_group<D, __half>(p, stream) : dispatch_group<D, __nv_bfloat16>(p, stream);
}

} // namespace

size_t attention_decode_workspace_floats(int n_heads, int head_dim) {
    return static_cast<size_t>(kMaxSplits) * n_heads * (head_dim + 1);
}

cudaError_t attention_decode(const AttentionDecodeParams& p, cudaStream_t stream) {
    if (p.n_heads <= 0) return cudaSuccess;
    if (p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || p.n_kv < 0 || !p.q || !p.out) return cudaErrorInvalidValue;
    if (p.n_kv > 0 && (!p.k || !p.v || p.kv_head_stride < static_cast<long>(p.n_kv) * p.head_dim)) return cudaErrorInvalidValue;
    // 16-byte row loads: rows and head strides must keep 16-byte alignment.
    if (p.kv_head_stride % 8 != 0 || reinterpret_cast<uintptr_t>(p.k) % 16 != 0 || reinterpret_cast<uintptr_t>(p.v) % 16 != 0)
        return cudaErrorInvalidValue;
    if (p.n_splits != 1 && !p.workspace) return cudaErrorInvalidValue;
    switch (p.head_dim) {
    case 64: return dispatch_type<64>(p, stream);
    case 128: return dispatch_type<128>(p, stream);
    default: return cudaErrorInvalidValue;
    }
}

} // namespace sq::cuda
