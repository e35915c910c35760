#include "attention-decode.cuh"

#include <cstdint>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>

#include "attention-tile.cuh"
#include "cache-elem.cuh"
#include "grid-dependency.cuh"
#include "lse-merge.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxGroup = 8;          // query heads per block; larger GQA groups take several tiles
constexpr int kMaxSplits = 1024;
constexpr int kMinKeysPerSplit = 256; // below this a slice's merge costs more than its keys

struct KeyRange {
    int begin, end;
};

// The keys of this block's slice. Dense: `chunk` keys from the host, or an equal share of the
// device's count (n_kv_device: a graph replay, whose launch was sized for the bound). Sparse: the lists' lengths are
// known only here, and differ between heads (a calibrated threshold keeps more of some heads), so
// slices are sized from the mean list: the launcher gives each head twice the slices the mean needs
// and a short list leaves its last ones empty, while a list over twice the mean gets longer slices.
template <bool SPARSE>
__device__ __forceinline__ KeyRange key_range(const AttentionDecodeParams& p, int kv_head, int chunk, int step) {
    int n = SPARSE ? p.n_keys[kv_head] : p.n_kv;
    if (!SPARSE && p.n_kv_device) {
        n = min(p.n_kv, max(0, *p.n_kv_device + p.n_kv_add));
        chunk = (n + gridDim.x - 1) / gridDim.x;
        chunk = max(step, (chunk + step - 1) / step * step);
    }
    if constexpr (SPARSE) {
        long total = 0;
        for (int h = 0; h < p.n_kv_heads; ++h) total += p.n_keys[h];
        const long mean_slices = static_cast<long>(max(1u, gridDim.x / 2)) * p.n_kv_heads;
        chunk = max(static_cast<int>((total + mean_slices - 1) / mean_slices), static_cast<int>((n + gridDim.x - 1) / gridDim.x));
        chunk = max(step, (chunk + step - 1) / step * step);
    }
    const int begin = blockIdx.x * chunk;
    return {begin, min(n, begin + chunk)};
}

// One block = one KV head's query heads (a tile of at most G) over one slice of `chunk` keys.
// A group of D/8 lanes reads one K row and one V row, 16 bytes a lane, and keeps a running
// (max, sum, acc) per query head for its 8 dimensions; KPI rows per group are loaded before any
// is used so each thread has 2*KPI independent 16-byte loads in flight (4*KPI with PREFETCH, which
// loads the next step's rows before computing this one). Scores are in log2 units
// (q pre-multiplied by scale*log2 e) so each exponential is a single exp2.
template <int D, int G, int KPI, bool PREFETCH, bool SPARSE, typename T>
static __global__ void __launch_bounds__(kThreads)
attention_decode_kernel(AttentionDecodeParams p, SplitOutput dst, int heads_per_tile, int n_tiles, int chunk) {
    grid_dependency_wait(); // q, the cache and the lists come from kernels before (grid-dependency.cuh)
    allow_dependents();
    constexpr int kLanes = D / 8;
    constexpr int kGroups = kThreads / kLanes;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int li = threadIdx.x % kLanes, gi = threadIdx.x / kLanes;
    const int kv_head = blockIdx.y / n_tiles, tile = blockIdx.y % n_tiles;
    const int group = p.n_heads / p.n_kv_heads;
    const int h0 = kv_head * group + tile * heads_per_tile;
    const int n_q = min(heads_per_tile, group - tile * heads_per_tile);

    float q[G][8]; // [head][dim li*8 + e]
    const float q_scale = p.scale * kAttentionLog2e;
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
    const KeyRange range = key_range<SPARSE>(p, kv_head, chunk, kGroups * KPI);
    const int begin = range.begin, end = range.end;
    const int* rows = SPARSE ? p.key_rows + kv_head * p.key_rows_stride : nullptr;

    // Sparse lists: a step's rows are read from the list one step before its K/V loads issue, so
    // the list's load latency never holds up the K/V loads (ahead: rows of the next step to load).
    static_assert(!SPARSE || PREFETCH, "sparse lists run with prefetch");
    int ahead[KPI];
    const auto fetch_rows = [&](int base) {
#pragma unroll
        for (int j = 0; j < KPI; ++j) {
            const int key = base + j * kGroups + gi;
            ahead[j] = key < end ? __ldg(rows + key) : -1;
        }
    };
    // Keys past the slice load as zeros (and are masked below), so a prefetch may run off the end.
    const auto load = [&](int base, uint4(&kr)[KPI], uint4(&vr)[KPI]) {
#pragma unroll
        for (int j = 0; j < KPI; ++j) {
            const int key = base + j * kGroups + gi;
            if (key < end) {
                const long row = SPARSE ? ahead[j] : key;
                kr[j] = __ldg(k + row * kLanes);
                vr[j] = __ldg(v + row * kLanes);
            } else {
                kr[j] = vr[j] = make_uint4(0, 0, 0, 0);
            }
        }
    };
    constexpr int kStep = kGroups * KPI;
    uint4 kr[KPI], vr[KPI];
    if constexpr (SPARSE) fetch_rows(begin);
    if constexpr (PREFETCH) load(begin, kr, vr);
    if constexpr (SPARSE) fetch_rows(begin + kStep);
    for (int base = begin; base < end; base += kStep) {
        // PREFETCH: the next step's rows are in flight while this step computes.
        uint4 kn[KPI], vn[KPI];
        if constexpr (PREFETCH) load(base + kStep, kn, vn);
        else load(base, kr, vr);
        if constexpr (SPARSE) fetch_rows(base + 2 * kStep);

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
            // Rescale only when the running maximum grows, which after the first keys is rare:
            // measured on an H200, rescaling every step cost 10-25% of the bandwidth.
            if (mx > m[h]) {
                const float c = exp2f(m[h] - mx); // 0 while nothing was accumulated (m = -inf)
                m[h] = mx;
                l[h] *= c;
#pragma unroll
                for (int e = 0; e < 8; ++e) acc[h][e] *= c;
            }
            const float b = finite_base(m[h]);
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
        if constexpr (PREFETCH) {
#pragma unroll
            for (int j = 0; j < KPI; ++j) {
                kr[j] = kn[j];
                vr[j] = vn[j];
            }
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

    __shared__ WarpStates<kWarps, G, D> st;
    if (lane < kLanes) {
#pragma unroll
        for (int h = 0; h < G; ++h) {
#pragma unroll
            for (int e = 0; e < 8; ++e) st.acc[warp][h][li * 8 + e] = acc[h][e];
            if (li == 0) {
                st.m[warp][h] = m[h];
                st.l[warp][h] = l[h];
            }
        }
    }
    __syncthreads();
    store_merged(st, n_q, h0, dst);
}

// ---- tensor-core variant -------------------------------------------------------------------
// For GQA groups the CUDA-core kernel above is issue-bound: every lane redoes the softmax of its
// key for every head. Here each warp takes 16 keys a step on tensor cores (attention-tile.cuh).
template <int D, bool SPARSE, typename T>
static __global__ void __launch_bounds__(kThreads)
attention_decode_mma_kernel(AttentionDecodeParams p, SplitOutput dst, int heads_per_tile, int n_tiles, int chunk) {
    grid_dependency_wait(); // as in attention_decode_kernel
    allow_dependents();
    constexpr int kVecs = D / 32;      // 16-byte runs of a K row per thread (4 threads a row)
    constexpr int kVVecs = D / 64;     // 16-byte runs of a V row per thread group
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int g = lane / 4, t = lane % 4; // mma fragment coordinates
    const int kv_head = blockIdx.y / n_tiles, tile = blockIdx.y % n_tiles;
    const int group = p.n_heads / p.n_kv_heads;
    const int h0 = kv_head * group + tile * heads_per_tile;
    const int n_q = min(heads_per_tile, group - tile * heads_per_tile);

    uint32_t qa[D / 16][4];
    const float q_scale = p.scale * kAttentionLog2e;
    tile_load_q<D, T>(p.q, h0, n_q, q_scale, g, t, qa);

    float m = -CUDART_INF_F, l = 0.0f; // head g; l is this thread's share of the sum
    float o[D / 8][4];                 // [n-tile][rows g: cols 2t, 2t+1 | rows g + 8: same]
#pragma unroll
    for (int nt = 0; nt < D / 8; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;

    const long head_offset = static_cast<long>(kv_head) * p.kv_head_stride;
    const uint4* k = reinterpret_cast<const uint4*>(static_cast<const T*>(p.k) + head_offset);
    const uint4* v = reinterpret_cast<const uint4*>(static_cast<const T*>(p.v) + head_offset);
    const KeyRange range = key_range<SPARSE>(p, kv_head, chunk, kWarps * 16);
    const int begin = range.begin, end = range.end;
    const int* rows = SPARSE ? p.key_rows + kv_head * p.key_rows_stride : nullptr;

    // Sparse: the list's rows of a step are read a step ahead so their latency overlaps this step.
    int k_row[2], v_row[4];
    if constexpr (SPARSE) tile_list_rows(rows, begin + warp * 16, end, g, t, k_row, v_row);
    for (int base = begin + warp * 16; base < end; base += kWarps * 16) {
        uint4 kr[2][kVecs], vr[4][kVVecs];
        if constexpr (SPARSE) {
            tile_load_rows<D>(k, v, k_row, v_row, g, t, kr, vr);
            tile_list_rows(rows, base + kWarps * 16, end, g, t, k_row, v_row);
        } else {
            // Computing the rows in place (rather than as a row list) keeps this variant at 168
            // registers, 3 blocks per SM.
#pragma unroll
            for (int j = 0; j < 2; ++j) {
                const int key = base + 8 * j + g;
#pragma unroll
                for (int u = 0; u < kVecs; ++u)
                    kr[j][u] = key < end ? __ldg(k + static_cast<long>(key) * (D / 8) + t + 4 * u) : make_uint4(0, 0, 0, 0);
            }
#pragma unroll
            for (int r = 0; r < 4; ++r) {
                const int key = base + 8 * (r / 2) + 2 * t + r % 2;
#pragma unroll
                for (int w = 0; w < kVVecs; ++w)
                    vr[r][w] = key < end ? __ldg(v + static_cast<long>(key) * (D / 8) + g * kVVecs + w) : make_uint4(0, 0, 0, 0);
            }
        }
        tile_step<D, T>(qa, kr, vr, base, end, t, m, l, o);
    }

    __shared__ WarpStates<kWarps, kMaxGroup, D> st;
    tile_store_state(st, warp, g, t, n_q, m, l, o);
    __syncthreads();
    store_merged(st, n_q, h0, dst);
}

// One wave: as many slices as let every block of every slice be resident at once, so equal slices
// run side by side and finish together (rounding up would leave a second, nearly empty wave);
// fewer when the slices would get too short.
// short_slice_keys: when the slices of a full wave would hold fewer keys than this, an SM gets
// two blocks instead of all that fit (0: always all).
template <typename Kernel>
cudaError_t pick_splits(Kernel kernel, int short_slice_keys, int head_blocks, int n_kv, int* n_splits) {
    int dev = 0, n_sms = 0, per_sm = 0;
    cudaError_t err = cudaGetDevice(&dev);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&n_sms, cudaDevAttrMultiProcessorCount, dev);
    if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, 0);
    if (err != cudaSuccess) return err;
    if (per_sm > 2 && n_kv < static_cast<long>(short_slice_keys) * (n_sms * per_sm / head_blocks)) per_sm = 2;
    const int fill = n_sms * per_sm / head_blocks;
    const int longest = (n_kv + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
    *n_splits = max(1, min(fill, longest));
    return cudaSuccess;
}

// Slices the keys for `kernel`, which consumes k_step keys a block per loop step, runs it, and
// merges the slices.
template <int D, typename Kernel>
cudaError_t launch(Kernel kernel, int k_step, const AttentionDecodeParams& p, int heads_per_tile, int n_tiles,
                   cudaStream_t stream, int short_slice_keys = 0) {
    const int head_blocks = p.n_kv_heads * n_tiles;
    int n_splits = p.n_splits;
    if (n_splits <= 0) {
        const cudaError_t err = pick_splits(kernel, short_slice_keys, head_blocks, p.n_kv, &n_splits);
        if (err != cudaSuccess) return err;
    }
    n_splits = min(n_splits, kMaxSplits);
    // Whole steps per slice, so only a slice's last step runs past its end.
    int chunk = (p.n_kv + n_splits - 1) / n_splits;
    chunk = max(k_step, (chunk + k_step - 1) / k_step * k_step);
    n_splits = max(1, (p.n_kv + chunk - 1) / chunk);
    if (p.key_rows) n_splits = min(2 * n_splits, kMaxSplits); // see key_range

    const dim3 grid(n_splits, head_blocks);
    if (n_splits == 1)
        return launch_dependent(kernel, grid, dim3(kThreads), 0, stream, p, SplitOutput{p.out, p.lse, 0, 0}, heads_per_tile, n_tiles, chunk);
    const long o_stride = static_cast<long>(p.n_heads) * D;
    float* lse_part = p.workspace + static_cast<long>(n_splits) * o_stride; // [n_splits][n_heads]
    const cudaError_t err = launch_dependent(kernel, grid, dim3(kThreads), 0, stream, p,
                                             SplitOutput{p.workspace, lse_part, o_stride, p.n_heads}, heads_per_tile, n_tiles, chunk);
    if (err != cudaSuccess) return err;
    return lse_merge(LseMergeParams{p.workspace, lse_part, p.out, p.lse, n_splits, p.n_heads, D, o_stride, p.n_heads},
                     stream);
}

// Keys per step and prefetch of the CUDA-core kernel. Measured on an H200, bf16, 128K keys, d 128,
// auto splits (bench/results/gpu-attention-2026-11-26.json, "attention_sweep"; run1.json beside it
// has the first sweep): one head per KV head 4.55 TB/s at KPI 4 with prefetch, 4.46 at KPI 2 with
// prefetch, 4.31 at KPI 4 without; KPI 8 (91 registers, 5 blocks/SM instead of 8) fell to 3.11.
template <int D, int G, typename T>
cudaError_t dispatch_kpi(const AttentionDecodeParams& p, int heads_per_tile, int n_tiles, cudaStream_t stream) {
    const int kpi = p.keys_per_iter != 0 ? p.keys_per_iter : G <= 2 ? 4 : 2;
    const bool prefetch = p.prefetch >= 0;
    const int step = kThreads / (D / 8) * kpi;
    // Sparse lists run the default variants only (the sweep above chose them).
    if (p.key_rows) {
        constexpr int kDefault = G <= 2 ? 4 : 2;
        return launch<D>(attention_decode_kernel<D, G, kDefault, true, true, T>, kThreads / (D / 8) * kDefault, p,
                         heads_per_tile, n_tiles, stream);
    }
    if (kpi == 2 && prefetch) return launch<D>(attention_decode_kernel<D, G, 2, true, false, T>, step, p, heads_per_tile, n_tiles, stream);
    if (kpi == 2) return launch<D>(attention_decode_kernel<D, G, 2, false, false, T>, step, p, heads_per_tile, n_tiles, stream);
    if (kpi == 4 && prefetch) return launch<D>(attention_decode_kernel<D, G, 4, true, false, T>, step, p, heads_per_tile, n_tiles, stream);
    if (kpi == 4) return launch<D>(attention_decode_kernel<D, G, 4, false, false, T>, step, p, heads_per_tile, n_tiles, stream);
    return cudaErrorInvalidValue;
}

template <int D, typename T>
cudaError_t dispatch_group(const AttentionDecodeParams& p, cudaStream_t stream) {
    const int group = p.n_heads / p.n_kv_heads;
    const int n_tiles = (group + kMaxGroup - 1) / kMaxGroup;
    const int heads_per_tile = (group + n_tiles - 1) / n_tiles;
    // Tensor cores for GQA groups: on the H200 run above, Hkv 8 (groups of 4) reached 3.76 TB/s at
    // 128K keys and 4.30 at 512K with mma, against 3.44 / 3.84 for the best CUDA-core variant; with
    // one head per KV head the CUDA-core kernel with prefetch is ahead (4.55 vs 4.43 TB/s at 128K).
    // Groups of 2 were not measured: mma's cost does not grow with the group, the CUDA cores' does.
    const bool tensor_cores = p.tensor_cores != 0 ? p.tensor_cores > 0 : heads_per_tile >= 2;
    if (tensor_cores && p.key_rows)
        return launch<D>(attention_decode_mma_kernel<D, true, T>, kWarps * 16, p, heads_per_tile, n_tiles, stream);
    // Dense: two blocks an SM, not the three that fit, when the slices would be short (under 4096
    // keys). Hkv 8, bf16: on an H100, 33 slices a head against 49 ran at 2.27 vs 2.13 TB/s with 32K
    // keys and 2.84 vs 2.75 with 128K (bench/results/gpu-attention-2026-11-26-h100-ec88976.json,
    // attention_sweep); on an H200 two blocks an SM took 0.0476 ms at 32K and 0.536 ms at 512K
    // (gpu-attention-2026-11-26-h200-71b2aff.md) where three took 0.0515 and 0.498 (an earlier
    // run, gpu-attention-2026-11-26.md): long slices keep three.
    if (tensor_cores)
        return launch<D>(attention_decode_mma_kernel<D, false, T>, kWarps * 16, p, heads_per_tile, n_tiles, stream, 4096);
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
    if (p.key_rows && (!p.n_keys || p.key_rows_stride < 0)) return cudaErrorInvalidValue;
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
