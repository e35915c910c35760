#include "attention-prefill.cuh"

#include <cstdint>
#include <math_constants.h>

#include "attention-tile.cuh"
#include "lse-merge.cuh"
#include "mma.cuh"
#ifdef SQUEEZE_WITH_SM90A
#include "attention-prefill-sm90a.cuh"
#include "sm90a.cuh"
#endif

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;       // 4 warps, 16 query rows each
constexpr int kTileQ = 64;
constexpr int kTileK = 64;          // keys per shared-memory stage
constexpr int kMinKeysPerSplit = 1024;
constexpr int kWavesTarget = 4;     // slices so the grid is ~4 waves: the last, partial wave costs little

// Shared memory: K and V tiles, two stages, rows padded by 16 bytes (ldmatrix's 8 rows then hit
// distinct banks); with two m-tiles a warp, the block's Q tile too.
template <int D, int MT>
constexpr size_t smem_bytes() { return (size_t{2} * 2 * kTileK + (MT > 1 ? kTileQ * MT : 0)) * (D + 8) * 2; }

// One block = 64 * MT queries of one head over one slice of its key sequence; each warp owns MT
// 16-row m-tiles. MT = 1: Q stays in registers as A fragments. MT = 2: Q sits in shared memory and
// its fragments are read per k-step (ldmatrix), so every K and V fragment read from shared memory
// feeds two m-tiles: half the shared-memory traffic per product, the limit with one m-tile.
// K and V tiles of 64 keys stream through two cp.async stages. S = Q K^T with K fragments by
// ldmatrix, online softmax in log2 units, P packed to T in registers as the A operand of O = P V,
// whose B fragments come transposed from the row-major V tile (ldmatrix.trans).
template <int D, typename T, bool LIST, int MT>
static __global__ void __launch_bounds__(kThreads) attention_prefill_kernel(AttentionPrefillParams p, SplitOutput dst) {
    constexpr int kRow = D + 8;
    constexpr int kSteps = D / 16;
    constexpr int kPieces = D / 8;
    constexpr int kDimTiles = D / 8;
    constexpr int kBlockQ = kTileQ * MT;
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T* k_tiles = reinterpret_cast<T*>(smem_raw); // [2][kTileK][kRow]
    T* v_tiles = k_tiles + 2 * kTileK * kRow;    // [2][kTileK][kRow]
    T* q_tile = v_tiles + 2 * kTileK * kRow;     // [kBlockQ][kRow] when MT > 1

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int head = blockIdx.y, kv_head = head / (p.n_heads / p.n_kv_heads);
    const int q0 = blockIdx.x * kBlockQ;
    const int q_last = min(p.n_q, q0 + kBlockQ) - 1;

    const int n_list = LIST ? p.n_list[kv_head] : 0;
    const int* rows = LIST ? p.key_rows + kv_head * p.key_rows_stride : nullptr;
    int total = n_list + (p.dense_end - p.dense_begin);
    if (p.causal) total = min(total, n_list + max(0, q_last + p.causal_offset + 1)); // no query here sees past this
    const int splits = gridDim.z;
    const int chunk = ((total + splits - 1) / splits + kTileK - 1) / kTileK * kTileK;
    const int begin = blockIdx.z * chunk, end = min(total, begin + chunk);

    const long head_offset = static_cast<long>(kv_head) * p.kv_head_stride;
    const T* k = static_cast<const T*>(p.k) + head_offset;
    const T* v = static_cast<const T*>(p.v) + head_offset;
    // A thread copies pieces i = threadIdx.x + j * kThreads of a tile: always the same piece of rows
    // kRowStep apart. Their list entries are read one tile ahead (next_rows), so the copies never wait
    // on the list: reading it just before each copy left the tile loads latency-bound (attention over
    // lists ran at half the dense rate on an H200).
    constexpr int kCopies = kTileK * kPieces / kThreads, kRowStep = kThreads / kPieces;
    static_assert(kTileK * kPieces % kThreads == 0 && kThreads % kPieces == 0);
    const int piece = threadIdx.x % kPieces, row0 = threadIdx.x / kPieces;
    int next_rows[kCopies]; // -1: past the slice
    const auto fetch_rows = [&](int pos0) {
#pragma unroll
        for (int j = 0; j < kCopies; ++j) {
            const int pos = pos0 + row0 + j * kRowStep;
            next_rows[j] = pos >= end ? -1 : LIST && pos < n_list ? __ldg(rows + pos) : p.dense_begin + (pos - n_list);
        }
    };
    const auto load_tile = [&](int buf) {
        T* kd = k_tiles + buf * kTileK * kRow + piece * 8;
        T* vd = v_tiles + buf * kTileK * kRow + piece * 8;
#pragma unroll
        for (int j = 0; j < kCopies; ++j) {
            const int r = row0 + j * kRowStep;
            if (next_rows[j] >= 0) {
                cp_async16(kd + r * kRow, k + static_cast<long>(next_rows[j]) * D + piece * 8);
                cp_async16(vd + r * kRow, v + static_cast<long>(next_rows[j]) * D + piece * 8);
            } else { // zeros, not stale rows: P is 0 there, and 0 * NaN would poison O
                *reinterpret_cast<uint4*>(kd + r * kRow) = make_uint4(0, 0, 0, 0);
                *reinterpret_cast<uint4*>(vd + r * kRow) = make_uint4(0, 0, 0, 0);
            }
        }
        cp_async_commit();
    };

    const T* qh = static_cast<const T*>(p.q) + static_cast<long>(head) * p.n_q * D;
    if constexpr (MT > 1) { // the Q tile, zero rows past the question; complete before the first barrier below
        for (int i = threadIdx.x; i < kBlockQ * kPieces; i += kThreads) {
            const int r = i / kPieces, pc = i % kPieces;
            T* dst_q = q_tile + r * kRow + pc * 8;
            if (q0 + r < p.n_q) *reinterpret_cast<uint4*>(dst_q) = *reinterpret_cast<const uint4*>(qh + static_cast<long>(q0 + r) * D + pc * 8);
            else *reinterpret_cast<uint4*>(dst_q) = make_uint4(0, 0, 0, 0);
        }
    }

    const int n_tiles = end > begin ? (end - begin + kTileK - 1) / kTileK : 0;
    if (n_tiles > 0) {
        fetch_rows(begin);
        load_tile(0);
        fetch_rows(begin + kTileK);
    }

    int qi[MT][2]; // query rows of this thread: per m-tile, rows g and g + 8
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
        qi[mt][0] = q0 + (warp * MT + mt) * 16 + g;
        qi[mt][1] = qi[mt][0] + 8;
    }
    uint32_t qa[MT == 1 ? kSteps : 1][4]; // MT = 1: Q's A fragments for the whole run
    if constexpr (MT == 1) {
        const uint32_t* r0 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(qi[0][0]) * D);
        const uint32_t* r1 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(qi[0][1]) * D);
        const bool v0 = qi[0][0] < p.n_q, v1 = qi[0][1] < p.n_q;
        load_a_rows(qa, r0, r1, v0, v1, t);
    }

    float m[MT][2], l[MT][2];
    float o[MT][kDimTiles][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt) {
        m[mt][0] = m[mt][1] = -CUDART_INF_F;
        l[mt][0] = l[mt][1] = 0.0f;
#pragma unroll
        for (int nt = 0; nt < kDimTiles; ++nt) o[mt][nt][0] = o[mt][nt][1] = o[mt][nt][2] = o[mt][nt][3] = 0.0f;
    }
    const float score_scale = p.scale * kAttentionLog2e;
    const int mi = lane / 8, mr = lane % 8; // ldmatrix: this lane addresses row mr of matrix mi

    for (int it = 0; it < n_tiles; ++it) {
        const int buf = it & 1, pos0 = begin + it * kTileK;
        if (it + 1 < n_tiles) {
            load_tile(buf ^ 1);
            fetch_rows(pos0 + 2 * kTileK);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        const T* kt = k_tiles + buf * kTileK * kRow;
        const T* vt = v_tiles + buf * kTileK * kRow;

        float s[MT][8][4]; // [m-tile][key n-tile][rows g: keys 2t, 2t+1 | rows g + 8: same]
#pragma unroll
        for (int mt = 0; mt < MT; ++mt)
#pragma unroll
            for (int nt = 0; nt < 8; ++nt) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;
#pragma unroll
        for (int st = 0; st < kSteps; ++st) {
            uint32_t b[4][4]; // K fragments of the 8 key n-tiles, by pairs
#pragma unroll
            for (int np = 0; np < 4; ++np) ldmatrix_x4(b[np], kt + ((2 * np + mi / 2) * 8 + mr) * kRow + 16 * st + (mi % 2) * 8);
#pragma unroll
            for (int mt = 0; mt < MT; ++mt) {
                uint32_t a[4];
                if constexpr (MT == 1) {
#pragma unroll
                    for (int i = 0; i < 4; ++i) a[i] = qa[st][i];
                } else {
                    ldmatrix_x4(a, q_tile + ((warp * MT + mt) * 16 + (mi % 2) * 8 + mr) * kRow + 16 * st + (mi / 2) * 8);
                }
#pragma unroll
                for (int np = 0; np < 4; ++np) {
                    mma_16816<T>(s[mt][2 * np], a, b[np][0], b[np][1]);
                    mma_16816<T>(s[mt][2 * np + 1], a, b[np][2], b[np][3]);
                }
            }
        }

        // Masks only on tiles that need them: past the slice, or causal keys later than the block's first query.
        const bool whole = pos0 + kTileK <= end && (!p.causal || pos0 + kTileK - 1 - n_list <= q0 + p.causal_offset);
        uint32_t pa[MT][4][4]; // A fragments of P per 16-key step: (row g, n-tile 2kk), (g + 8, 2kk), (g, 2kk + 1), (g + 8, 2kk + 1)
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
            float mx[2] = {m[mt][0], m[mt][1]};
#pragma unroll
            for (int nt = 0; nt < 8; ++nt)
#pragma unroll
                for (int h = 0; h < 2; ++h)
#pragma unroll
                    for (int e = 0; e < 2; ++e) {
                        float x = s[mt][nt][2 * h + e] * score_scale;
                        if (!whole) {
                            const int pos = pos0 + nt * 8 + 2 * t + e;
                            const bool seen = pos < end && (pos < n_list || !p.causal || pos - n_list <= qi[mt][h] + p.causal_offset);
                            if (!seen) x = -CUDART_INF_F;
                        }
                        s[mt][nt][2 * h + e] = x;
                        mx[h] = fmaxf(mx[h], x);
                    }
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
                mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
                if (mx[h] > m[mt][h]) {
                    const float c = exp2f(m[mt][h] - mx[h]); // 0 while nothing was accumulated
                    m[mt][h] = mx[h];
                    l[mt][h] *= c;
#pragma unroll
                    for (int nt = 0; nt < kDimTiles; ++nt) {
                        o[mt][nt][2 * h] *= c;
                        o[mt][nt][2 * h + 1] *= c;
                    }
                }
            }
            const float base[2] = {finite_base(m[mt][0]), finite_base(m[mt][1])};
#pragma unroll
            for (int kk = 0; kk < 4; ++kk)
#pragma unroll
                for (int j = 0; j < 2; ++j) {
                    const float* sn = s[mt][2 * kk + j];
                    const float p00 = exp2f(sn[0] - base[0]), p01 = exp2f(sn[1] - base[0]);
                    const float p10 = exp2f(sn[2] - base[1]), p11 = exp2f(sn[3] - base[1]);
                    l[mt][0] += p00 + p01;
                    l[mt][1] += p10 + p11;
                    pa[mt][kk][2 * j] = pack2<T>(p00, p01);
                    pa[mt][kk][2 * j + 1] = pack2<T>(p10, p11);
                }
        }
#pragma unroll
        for (int kk = 0; kk < 4; ++kk)
#pragma unroll
            for (int dp = 0; dp < D / 16; ++dp) {
                uint32_t b[4];
                ldmatrix_x4_trans(b, vt + (16 * kk + (mi % 2) * 8 + mr) * kRow + 16 * dp + (mi / 2) * 8);
#pragma unroll
                for (int mt = 0; mt < MT; ++mt) {
                    mma_16816<T>(o[mt][2 * dp], pa[mt][kk], b[0], b[1]);
                    mma_16816<T>(o[mt][2 * dp + 1], pa[mt][kk], b[2], b[3]);
                }
            }
        __syncthreads(); // the next iteration refills this stage
    }

#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            l[mt][h] += __shfl_xor_sync(0xffffffffu, l[mt][h], 1);
            l[mt][h] += __shfl_xor_sync(0xffffffffu, l[mt][h], 2);
            if (qi[mt][h] >= p.n_q) continue;
            const long row = static_cast<long>(head) * p.n_q + qi[mt][h];
            const float inv = l[mt][h] > 0.0f ? 1.0f / l[mt][h] : 0.0f;
            float* out = dst.o + blockIdx.z * dst.o_split_stride + row * D;
#pragma unroll
            for (int nt = 0; nt < kDimTiles; ++nt)
                *reinterpret_cast<float2*>(out + nt * 8 + 2 * t) = make_float2(o[mt][nt][2 * h] * inv, o[mt][nt][2 * h + 1] * inv);
            if (t == 0 && dst.lse)
                dst.lse[blockIdx.z * dst.lse_split_stride + row] = l[mt][h] > 0.0f ? (m[mt][h] + log2f(l[mt][h])) * kAttentionLn2 : -CUDART_INF_F;
        }
}

// Key slices for a grid of base (query tiles x heads) blocks: enough for ~kWavesTarget waves of the
// GPU, at least kMinKeysPerSplit keys each, at most max_splits.
cudaError_t pick_splits(const AttentionPrefillParams& p, int max_splits, long base, int per_sm, int* splits) {
    *splits = p.n_splits;
    if (*splits <= 0) {
        int dev = 0, n_sms = 0;
        cudaError_t err = cudaGetDevice(&dev);
        if (err == cudaSuccess) err = cudaDeviceGetAttribute(&n_sms, cudaDevAttrMultiProcessorCount, dev);
        if (err != cudaSuccess) return err;
        const long keys = (p.key_rows ? p.n_list_hint : 0) + (p.dense_end - p.dense_begin);
        *splits = static_cast<int>(min((kWavesTarget * static_cast<long>(n_sms) * per_sm + base - 1) / base, max(1L, keys / kMinKeysPerSplit)));
    }
    *splits = max(1, min(*splits, max_splits));
    return cudaSuccess;
}

// launch_into(dst) writes every slice into dst; more than one slice go through the workspace and lse_merge.
template <typename Launch>
cudaError_t run_slices(const AttentionPrefillParams& p, int splits, Launch launch_into, cudaStream_t stream) {
    if (splits == 1) return launch_into(SplitOutput{p.out, p.lse, 0, 0});
    const long rows = static_cast<long>(p.n_heads) * p.n_q;
    const int d = p.head_dim;
    float* lse_part = p.workspace + splits * rows * d; // [splits][rows]
    const cudaError_t err = launch_into(SplitOutput{p.workspace, lse_part, rows * d, rows});
    if (err != cudaSuccess) return err;
    return lse_merge(LseMergeParams{p.workspace, lse_part, p.out, p.lse, splits, static_cast<int>(rows), d, rows * d, rows}, stream);
}

template <int D, typename T, bool LIST, int MT>
cudaError_t launch(const AttentionPrefillParams& p, int max_splits, cudaStream_t stream) {
    const auto kernel = attention_prefill_kernel<D, T, LIST, MT>;
    constexpr size_t smem = smem_bytes<D, MT>();
    cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
    const int q_tiles = (p.n_q + kTileQ * MT - 1) / (kTileQ * MT);
    int per_sm = 0, splits = 0;
    if (err == cudaSuccess) err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem);
    if (err == cudaSuccess) err = pick_splits(p, max_splits, static_cast<long>(q_tiles) * p.n_heads, per_sm, &splits);
    if (err != cudaSuccess) return err;
    return run_slices(p, splits, [&](const SplitOutput& dst) {
        kernel<<<dim3(q_tiles, p.n_heads, splits), kThreads, smem, stream>>>(p, dst);
        return cudaGetLastError();
    }, stream);
}

#ifdef SQUEEZE_WITH_SM90A
cudaError_t launch_sm90a(const AttentionPrefillParams& p, int max_splits, cudaStream_t stream) {
    const int rows = attention_prefill_sm90a_rows(p);
    const int q_tiles = (p.n_q + rows - 1) / rows;
    int per_sm = 0, splits = 0;
    cudaError_t err = attention_prefill_sm90a_occupancy(p, &per_sm);
    if (err == cudaSuccess) err = pick_splits(p, max_splits, static_cast<long>(q_tiles) * p.n_heads, per_sm, &splits);
    if (err != cudaSuccess) return err;
    return run_slices(p, splits, [&](const SplitOutput& dst) { return attention_prefill_sm90a_launch(p, splits, dst, stream); }, stream);
}
#endif

// M-tiles a warp. Measured on an H200 (bench/results/gpu-prefill-2026-11-26.md, bf16, d 128, H 32):
// two (255 registers with 48-80 bytes spilled, Q in shared memory, 2 blocks an SM) ran dense
// prefill 15% faster than one (209 registers, 2 blocks an SM): 7.79 against 9.18 ms at 128K keys,
// and squeezed prefill at 90% 1.45 against 1.66 ms; capping one m-tile at 168 registers for 3 blocks
// an SM ran between 1% faster and 6% slower than one m-tile, and slower than two everywhere.
template <int D, typename T, bool LIST>
cudaError_t dispatch_m_tiles(const AttentionPrefillParams& p, int max_splits, cudaStream_t stream) {
    return p.m_tiles == 1 ? launch<D, T, LIST, 1>(p, max_splits, stream) : launch<D, T, LIST, 2>(p, max_splits, stream);
}

template <int D, typename T>
cudaError_t dispatch_list(const AttentionPrefillParams& p, int max_splits, cudaStream_t stream) {
    return p.key_rows ? dispatch_m_tiles<D, T, true>(p, max_splits, stream) : dispatch_m_tiles<D, T, false>(p, max_splits, stream);
}

template <int D>
cudaError_t dispatch_type(const AttentionPrefillParams& p, int max_splits, cudaStream_t stream) {
    return p.kv_type == KvType::F16 ? dispatch_list<D, __half>(p, max_splits, stream)
                                    : dispatch_list<D, __nv_bfloat16>(p, max_splits, stream);
}

} // namespace

bool attention_prefill_uses_sm90a(const AttentionPrefillParams& p) {
#ifdef SQUEEZE_WITH_SM90A
    return p.m_tiles == 0 && p.head_dim == 128 && sm90a_device();
#else
    (void)p;
    return false;
#endif
}

size_t attention_prefill_workspace_floats(int n_heads, int n_q, int head_dim, int max_splits) {
    return static_cast<size_t>(max_splits) * n_heads * n_q * (head_dim + 1);
}

cudaError_t attention_prefill(const AttentionPrefillParams& p, int max_splits, cudaStream_t stream) {
    if (p.n_heads <= 0 || p.n_q <= 0) return cudaSuccess;
    if (p.n_kv_heads <= 0 || p.n_heads % p.n_kv_heads != 0 || !p.q || !p.k || !p.v || !p.out || max_splits < 1)
        return cudaErrorInvalidValue;
    if (p.dense_begin < 0 || p.dense_end < p.dense_begin || p.causal_offset < 0) return cudaErrorInvalidValue;
    if (p.key_rows && (!p.n_list || p.key_rows_stride < 0)) return cudaErrorInvalidValue;
    if (p.kv_head_stride % 8 != 0 || reinterpret_cast<uintptr_t>(p.k) % 16 != 0 || reinterpret_cast<uintptr_t>(p.v) % 16 != 0 ||
        reinterpret_cast<uintptr_t>(p.q) % 16 != 0)
        return cudaErrorInvalidValue;
    if (max_splits > 1 && !p.workspace) return cudaErrorInvalidValue;
#ifdef SQUEEZE_WITH_SM90A
    if (attention_prefill_uses_sm90a(p)) return launch_sm90a(p, max_splits, stream);
#endif
    switch (p.head_dim) {
    case 64: return dispatch_type<64>(p, max_splits, stream);
    case 128: return dispatch_type<128>(p, max_splits, stream);
    default: return cudaErrorInvalidValue;
    }
}

} // namespace sq::cuda
