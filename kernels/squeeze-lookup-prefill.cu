#include "squeeze-lookup-prefill.cuh"

#include <cstdint>
#include <math_constants.h>

#include "mma.cuh"

namespace sq::cuda {

namespace {

constexpr int kThreads = 128;  // 4 warps x 16 question tokens
constexpr int kTileQ = 64;
constexpr int kChunk = 64;     // centroids per shared-memory stage
constexpr int kSelectThreads = 512;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// Workspace: log_d [n_heads][n_q] f32, then per level scores [n_heads][K_l] f32 and pass masks
// [n_kv_heads][K_l] u32 (bit g: passes for query head g of the group).
struct Layout {
    size_t log_d, scores[kMaxSqueezeLevels], masks[kMaxSqueezeLevels], bytes;
};

Layout layout_of(const SqueezeLookupPrefillParams& p) {
    Layout l{};
    size_t at = align256(static_cast<size_t>(p.n_heads) * p.n_q * sizeof(float));
    for (int lv = 0; lv < p.n_levels; ++lv) {
        const size_t k = static_cast<size_t>(p.levels[lv].n_clusters);
        l.scores[lv] = at;
        at += align256(static_cast<size_t>(p.n_heads) * k * sizeof(float));
        l.masks[lv] = at;
        at += align256(static_cast<size_t>(p.n_kv_heads) * k * sizeof(uint32_t));
    }
    l.bytes = at;
    return l;
}

struct ScoreArgs {
    const void* q;             // [n_heads][n_q][D]
    const void* centroids;     // [n_kv_heads][n_clusters][D]
    const float* log_counts;   // [n_kv_heads][n_clusters] (log-sum-exp pass)
    float* log_d;              // [n_heads][n_q]: written by the log-sum-exp pass, read by the mean pass
    float* scores;             // [n_heads][n_clusters] += token-averaged scores (mean pass), zeroed before
    int n_q, n_heads, group, n_clusters;
    float scale;
};

// One block = 64 tokens of one query head against all the level's centroids, streamed through two
// cp.async stages; S = Q C^T on tensor cores as in attention_prefill. MEAN = false: each token's
// log-sum-exp of scale q.c_j + log n_j (log D). MEAN = true: each centroid's exp(scale q.c_j - log D)
// summed over the block's tokens (shuffles down each warp's 16 rows, then across the 4 warps in
// shared memory) and added to its score divided by n_q.
template <int D, typename T, bool MEAN>
static __global__ void __launch_bounds__(kThreads) centroid_scores_kernel(ScoreArgs a) {
    constexpr int kRow = D + 8;
    constexpr int kSteps = D / 16;
    constexpr int kPieces = D / 8;
    __shared__ __align__(16) T tiles[2][kChunk][kRow];
    __shared__ float col_sums[kThreads / 32][kChunk];

    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, t = lane % 4;
    const int head = blockIdx.y, kv_head = head / a.group;
    const int q0 = blockIdx.x * kTileQ;
    const T* cents = static_cast<const T*>(a.centroids) + static_cast<long>(kv_head) * a.n_clusters * D;
    const float* log_counts = a.log_counts + static_cast<long>(kv_head) * a.n_clusters;

    const auto load_chunk = [&](int first, int buf) {
        for (int i = threadIdx.x; i < kChunk * kPieces; i += kThreads) {
            const int r = i / kPieces, piece = i % kPieces;
            T* dst = &tiles[buf][r][piece * 8];
            if (first + r < a.n_clusters) cp_async16(dst, cents + static_cast<long>(first + r) * D + piece * 8);
            else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
        }
        cp_async_commit();
    };
    const int n_chunks = (a.n_clusters + kChunk - 1) / kChunk;
    load_chunk(0, 0);

    const int qi[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
    uint32_t qa[kSteps][4];
    {
        const T* qh = static_cast<const T*>(a.q) + static_cast<long>(head) * a.n_q * D;
        const uint32_t* r0 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(qi[0]) * D);
        const uint32_t* r1 = reinterpret_cast<const uint32_t*>(qh + static_cast<long>(qi[1]) * D);
        const bool v0 = qi[0] < a.n_q, v1 = qi[1] < a.n_q;
        load_a_rows(qa, r0, r1, v0, v1, t);
    }
    const float score_scale = a.scale * kLog2e;
    float m[2] = {-CUDART_INF_F, -CUDART_INF_F}, l[2] = {0.0f, 0.0f};
    float log2_d[2]; // MEAN: rows past the question weigh nothing
#pragma unroll
    for (int h = 0; h < 2; ++h)
        log2_d[h] = MEAN && qi[h] < a.n_q ? a.log_d[static_cast<long>(head) * a.n_q + qi[h]] * kLog2e : CUDART_INF_F;
    const int mi = lane / 8, mr = lane % 8;

    for (int c = 0; c < n_chunks; ++c) {
        const int buf = c & 1, first = c * kChunk;
        if (c + 1 < n_chunks) {
            load_chunk(first + kChunk, buf ^ 1);
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        float s[8][4];
#pragma unroll
        for (int nt = 0; nt < 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int st = 0; st < kSteps; ++st)
#pragma unroll
            for (int np = 0; np < 4; ++np) {
                uint32_t b[4];
                ldmatrix_x4(b, &tiles[buf][(2 * np + mi / 2) * 8 + mr][16 * st + (mi % 2) * 8]);
                mma_16816<T>(s[2 * np], qa[st], b[0], b[1]);
                mma_16816<T>(s[2 * np + 1], qa[st], b[2], b[3]);
            }
        if constexpr (!MEAN) {
            float mx[2] = {m[0], m[1]};
#pragma unroll
            for (int nt = 0; nt < 8; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int col = first + nt * 8 + 2 * t + e;
                    const float lc = col < a.n_clusters ? log_counts[col] * kLog2e : -CUDART_INF_F;
#pragma unroll
                    for (int h = 0; h < 2; ++h) {
                        s[nt][2 * h + e] = s[nt][2 * h + e] * score_scale + lc;
                        mx[h] = fmaxf(mx[h], s[nt][2 * h + e]);
                    }
                }
#pragma unroll
            for (int h = 0; h < 2; ++h) {
                mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 1));
                mx[h] = fmaxf(mx[h], __shfl_xor_sync(0xffffffffu, mx[h], 2));
                if (mx[h] > m[h]) {
                    l[h] *= exp2f(m[h] - mx[h]);
                    m[h] = mx[h];
                }
                const float base = m[h] == -CUDART_INF_F ? 0.0f : m[h];
#pragma unroll
                for (int nt = 0; nt < 8; ++nt) l[h] += exp2f(s[nt][2 * h] - base) + exp2f(s[nt][2 * h + 1] - base);
            }
        } else {
            float col[8][2]; // this thread's two rows summed, per column
#pragma unroll
            for (int nt = 0; nt < 8; ++nt)
#pragma unroll
                for (int e = 0; e < 2; ++e) {
                    float v = exp2f(s[nt][e] * score_scale - log2_d[0]) + exp2f(s[nt][2 + e] * score_scale - log2_d[1]);
#pragma unroll
                    for (int off = 4; off < 32; off *= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
                    col[nt][e] = v;
                }
            if (g == 0)
#pragma unroll
                for (int nt = 0; nt < 8; ++nt)
#pragma unroll
                    for (int e = 0; e < 2; ++e) col_sums[warp][nt * 8 + 2 * t + e] = col[nt][e];
            __syncthreads();
            if (threadIdx.x < kChunk && first + threadIdx.x < a.n_clusters) {
                float sum = 0.0f;
#pragma unroll
                for (int w = 0; w < kThreads / 32; ++w) sum += col_sums[w][threadIdx.x];
                atomicAdd(a.scores + static_cast<long>(head) * a.n_clusters + first + threadIdx.x, sum / static_cast<float>(a.n_q));
            }
        }
        __syncthreads(); // the next iteration refills this stage (and col_sums)
    }
    if constexpr (!MEAN) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            l[h] += __shfl_xor_sync(0xffffffffu, l[h], 1);
            l[h] += __shfl_xor_sync(0xffffffffu, l[h], 2);
            if (t == 0 && qi[h] < a.n_q)
                a.log_d[static_cast<long>(head) * a.n_q + qi[h]] = l[h] > 0.0f ? (m[h] + log2f(l[h])) * kLn2 : -CUDART_INF_F;
        }
    }
}

struct SelectArgs {
    const float* scores[kMaxSqueezeLevels]; // [n_heads][K_l]
    uint32_t* masks[kMaxSqueezeLevels];     // [n_kv_heads][K_l]
    const int* parent[kMaxSqueezeLevels];   // [n_kv_heads][K_l], levels >= 1
    int n_clusters[kMaxSqueezeLevels];
    float tau[kMaxSqueezeLevels];
    int n_levels;
    const int* first;                       // [n_kv_heads][K_finest + 1]
    int n_always, group;
    int* slots;
    int* n_keys;
    long slot_stride;
};

// One block per KV head: pass masks level by level (a level reads its parents' masks, written by
// this block before the barrier), then the finest passing clusters' slot runs at offsets from a
// block-wide scan of their sizes, in cluster order (= slot order).
static __global__ void __launch_bounds__(kSelectThreads) select_compact_kernel(SelectArgs a) {
    __shared__ int warp_totals[kSelectThreads / 32];
    const int kv_head = blockIdx.x, h0 = kv_head * a.group;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    int* slots = a.slots + kv_head * a.slot_stride;
    for (int s = threadIdx.x; s < a.n_always; s += kSelectThreads) slots[s] = s;

    for (int lv = 0; lv < a.n_levels; ++lv) {
        const int k = a.n_clusters[lv];
        uint32_t* masks = a.masks[lv] + static_cast<long>(kv_head) * k;
        for (int j = threadIdx.x; j < k; j += kSelectThreads) {
            const uint32_t allowed = lv == 0 ? 0xffffffffu
                                             : a.masks[lv - 1][static_cast<long>(kv_head) * a.n_clusters[lv - 1] +
                                                               a.parent[lv][static_cast<long>(kv_head) * k + j]];
            uint32_t bits = 0;
            for (int gi = 0; gi < a.group; ++gi)
                if ((allowed >> gi & 1u) && a.scores[lv][static_cast<long>(h0 + gi) * k + j] >= a.tau[lv]) bits |= 1u << gi;
            masks[j] = bits;
        }
        __syncthreads();
    }

    int carry = 0;
    if (a.n_levels > 0) {
        const int k = a.n_clusters[a.n_levels - 1];
        const uint32_t* masks = a.masks[a.n_levels - 1] + static_cast<long>(kv_head) * k;
        const int* first = a.first + static_cast<long>(kv_head) * (k + 1);
        for (int base = 0; base < k; base += kSelectThreads) {
            const int j = base + threadIdx.x;
            const int size = j < k && masks[j] ? first[j + 1] - first[j] : 0;
            int incl = size;
#pragma unroll
            for (int off = 1; off < 32; off *= 2) {
                const int o = __shfl_up_sync(0xffffffffu, incl, off);
                if (lane >= off) incl += o;
            }
            if (lane == 31) warp_totals[warp] = incl;
            __syncthreads();
            if (warp == 0) {
                constexpr int kWarps = kSelectThreads / 32;
                int w = lane < kWarps ? warp_totals[lane] : 0;
#pragma unroll
                for (int off = 1; off < 32; off *= 2) {
                    const int o = __shfl_up_sync(0xffffffffu, w, off);
                    if (lane >= off) w += o;
                }
                if (lane < kWarps) warp_totals[lane] = w;
            }
            __syncthreads();
            const int offset = a.n_always + carry + (warp > 0 ? warp_totals[warp - 1] : 0) + incl - size;
            for (int i = 0; i < size; ++i) slots[offset + i] = first[j] + i;
            carry += warp_totals[kSelectThreads / 32 - 1];
            __syncthreads();
        }
    }
    if (threadIdx.x == 0) a.n_keys[kv_head] = a.n_always + carry;
}

template <int D, typename T>
cudaError_t score_levels(const SqueezeLookupPrefillParams& p, const Layout& lay, char* ws, cudaStream_t stream) {
    const dim3 grid((p.n_q + kTileQ - 1) / kTileQ, p.n_heads);
    const int group = p.n_heads / p.n_kv_heads;
    float* log_d = reinterpret_cast<float*>(ws + lay.log_d);
    ScoreArgs a{p.q, p.levels[0].centroids, p.log_counts, log_d, nullptr, p.n_q, p.n_heads, group, p.levels[0].n_clusters, p.scale};
    centroid_scores_kernel<D, T, false><<<grid, kThreads, 0, stream>>>(a);
    cudaError_t err = cudaGetLastError();
    for (int lv = 0; lv < p.n_levels && err == cudaSuccess; ++lv) {
        a.centroids = p.levels[lv].centroids;
        a.n_clusters = p.levels[lv].n_clusters;
        a.scores = reinterpret_cast<float*>(ws + lay.scores[lv]);
        err = cudaMemsetAsync(a.scores, 0, static_cast<size_t>(p.n_heads) * a.n_clusters * sizeof(float), stream);
        if (err != cudaSuccess) break;
        centroid_scores_kernel<D, T, true><<<grid, kThreads, 0, stream>>>(a);
        err = cudaGetLastError();
    }
    return err;
}

} // namespace

size_t squeeze_lookup_prefill_workspace_bytes(const SqueezeLookupPrefillParams& p) { return layout_of(p).bytes; }

cudaError_t squeeze_lookup_prefill(const SqueezeLookupPrefillParams& p, cudaStream_t stream) {
    if (p.n_kv_heads <= 0) return cudaSuccess;
    if (p.n_heads % p.n_kv_heads != 0 || p.n_heads / p.n_kv_heads > 32 || p.n_levels < 0 || p.n_levels > kMaxSqueezeLevels ||
        !p.slots || !p.n_keys || !p.workspace || p.n_always < 0 || p.slot_stride < p.n_always)
        return cudaErrorInvalidValue;
    if (p.n_levels > 0 && (!p.q || p.n_q <= 0 || !p.log_counts || !p.first)) return cudaErrorInvalidValue;
    for (int lv = 0; lv < p.n_levels; ++lv)
        if (!p.levels[lv].centroids || p.levels[lv].n_clusters <= 0 || (lv > 0 && !p.levels[lv].parent)) return cudaErrorInvalidValue;
    const Layout lay = layout_of(p);
    char* ws = static_cast<char*>(p.workspace);
    cudaError_t err = cudaSuccess;
    if (p.n_levels > 0) {
        const bool f16 = p.centroid_type == KvType::F16;
        switch (p.head_dim) {
        case 64: err = f16 ? score_levels<64, __half>(p, lay, ws, stream) : score_levels<64, __nv_bfloat16>(p, lay, ws, stream); break;
        case 128: err = f16 ? score_levels<128, __half>(p, lay, ws, stream) : score_levels<128, __nv_bfloat16>(p, lay, ws, stream); break;
        default: return cudaErrorInvalidValue;
        }
        if (err != cudaSuccess) return err;
    }
    SelectArgs a{};
    for (int lv = 0; lv < p.n_levels; ++lv) {
        a.scores[lv] = reinterpret_cast<const float*>(ws + lay.scores[lv]);
        a.masks[lv] = reinterpret_cast<uint32_t*>(ws + lay.masks[lv]);
        a.parent[lv] = p.levels[lv].parent;
        a.n_clusters[lv] = p.levels[lv].n_clusters;
        a.tau[lv] = p.levels[lv].tau;
    }
    a.n_levels = p.n_levels;
    a.first = p.first;
    a.n_always = p.n_always;
    a.group = p.n_heads / p.n_kv_heads;
    a.slots = p.slots;
    a.n_keys = p.n_keys;
    a.slot_stride = p.slot_stride;
    select_compact_kernel<<<p.n_kv_heads, kSelectThreads, 0, stream>>>(a);
    err = cudaGetLastError();
    if (err == cudaSuccess && p.scores_out && p.n_levels > 0) {
        const int lv = p.n_levels - 1;
        err = cudaMemcpyAsync(p.scores_out, ws + lay.scores[lv], static_cast<size_t>(p.n_heads) * p.levels[lv].n_clusters * sizeof(float),
                              cudaMemcpyDeviceToDevice, stream);
    }
    return err;
}

} // namespace sq::cuda
