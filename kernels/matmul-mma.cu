#include "matmul-mma.cuh"

#include <cstdint>
#include <cuda_fp16.h>

#include "mma.cuh"

namespace sq::cuda {

namespace {

// A thread block computes kTileRows weight rows x kTileTokens tokens; its 4 warps (2 x 2) each a
// 32 x 32 tile, i.e. 2 x 4 mma tiles of 16 rows x 8 tokens. A pipeline stage covers kStageBlocks
// 32-element blocks: while the tensor cores work on one stage, cp.async brings the next one's raw
// weight bytes and int8 activations into the other half of shared memory.
constexpr int kTileRows = 64;
constexpr int kTileTokens = 64;
constexpr int kStageBlocks = 4;  // even, so that every stage starts 4-byte aligned in a Q8_0/Q4_0 row
constexpr int kThreads = 128;
constexpr int kTileStride = kStageBlocks * 32 + 16; // bytes per row of an int8 tile: ldmatrix's 8 rows in distinct banks
constexpr int kMinBlocksPerSm = 3; // 12 warps an SM hide the stages' barriers; registers capped at 170

__device__ __forceinline__ void cp_async4(void* smem, const void* gmem) {
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(dst), "l"(gmem));
}

// `bytes` (4 or 16) from gmem, or zeros when !valid (a source size of 0 reads nothing).
template <int kBytes>
__device__ __forceinline__ void cp_async_zfill(void* smem, const void* gmem, bool valid) {
    const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
    if constexpr (kBytes == 16) {
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(dst), "l"(gmem), "r"(valid ? 16 : 0));
    } else {
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;" ::"r"(dst), "l"(gmem), "r"(valid ? 4 : 0));
    }
}

// m16n8k32, s8 x s8 -> s32 from zero. Fragments (g = lane / 4, t = lane % 4), four int8 a register:
//   A (16 x 32): a0 = (row g, k 4t..4t+3), a1 = (row g+8, same k), a2 = (row g, k 16+4t..), a3 = (row g+8, k 16+4t..)
//   B (32 x 8):  b0 = (k 4t..4t+3, col g), b1 = (k 16+4t.., col g)
//   C (16 x 8):  c0, c1 = (row g, cols 2t, 2t+1), c2, c3 = (row g+8, cols 2t, 2t+1)
// ldmatrix_x4 of 16-bit pairs gives exactly these A and B registers from int8 rows.
__device__ __forceinline__ void mma_s8(int (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%10,%10,%10,%10};"
                 : "=r"(c[0]), "=r"(c[1]), "=r"(c[2]), "=r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(0));
}

// A block's integer sum (|v| <= 32 * 128 * 127 < 2^22) as a float, exactly: v + 1.5 * 2^23 has v
// in its low mantissa bits. An integer add and a float add instead of the conversion unit's I2F,
// which has a quarter of their throughput and sat on the GEMM's critical path.
__device__ __forceinline__ float exact_float(int v) { return __int_as_float(v + 0x4B400000) - 12582912.0f; }

__device__ __forceinline__ float half_bits(unsigned short h) { return __half2float(__ushort_as_half(h)); }
// Four bytes at a 2-byte aligned address.
__device__ __forceinline__ uint32_t word_a2(const unsigned short* h) {
    return static_cast<uint32_t>(h[0]) | (static_cast<uint32_t>(h[1]) << 16);
}
constexpr uint32_t kLowNibbles = 0x0F0F0F0Fu;

// Each weight type: bytes of a block and how a block (in shared memory, as stored) becomes 32 int8
// values, its scale d and (Q4_1) its offset m, so that element = d * q (+ m).
struct MmaQ8_0 {
    static constexpr int kBytes = 34;
    static constexpr bool kHasMin = false;
    static __device__ __forceinline__ void unpack(const uint8_t* raw, uint32_t (&q)[8], float& d, float&) {
        const unsigned short* h = reinterpret_cast<const unsigned short*>(raw);
        d = half_bits(h[0]);
#pragma unroll
        for (int i = 0; i < 8; ++i) q[i] = word_a2(h + 1 + 2 * i);
    }
};

struct MmaQ4_0 { // element = d * (nibble - 8); low nibbles are elements 0..15, high ones 16..31
    static constexpr int kBytes = 18;
    static constexpr bool kHasMin = false;
    static __device__ __forceinline__ void unpack(const uint8_t* raw, uint32_t (&q)[8], float& d, float&) {
        const unsigned short* h = reinterpret_cast<const unsigned short*>(raw);
        d = half_bits(h[0]);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const uint32_t w = word_a2(h + 1 + 2 * i);
            q[i] = __vsub4(w & kLowNibbles, 0x08080808u);
            q[4 + i] = __vsub4((w >> 4) & kLowNibbles, 0x08080808u);
        }
    }
};

struct MmaQ4_1 { // element = d * nibble + m
    static constexpr int kBytes = 20;
    static constexpr bool kHasMin = true;
    static __device__ __forceinline__ void unpack(const uint8_t* raw, uint32_t (&q)[8], float& d, float& m) {
        const uint32_t* w = reinterpret_cast<const uint32_t*>(raw);
        const uint32_t dm = w[0];
        d = half_bits(static_cast<unsigned short>(dm & 0xffffu));
        m = half_bits(static_cast<unsigned short>(dm >> 16));
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            q[i] = w[1 + i] & kLowNibbles;
            q[4 + i] = (w[1 + i] >> 4) & kLowNibbles;
        }
    }
};

// Workspace: the activations as int8 rows and float scales (Q8_1: and sums), 16-byte aligned parts.
struct ActWorkspace {
    int8_t* q; // [n_tokens][n_cols]
    float* d;  // [n_tokens][n_cols / 32]
    float* s;  // [n_tokens][n_cols / 32] Q8_1's d * sum(q)
};

size_t round16(size_t v) { return (v + 15) / 16 * 16; }

ActWorkspace act_workspace(void* base, int n_tokens, int n_cols) {
    uint8_t* p = static_cast<uint8_t*>(base);
    const size_t q_bytes = round16(size_t(n_tokens) * n_cols), s_bytes = round16(size_t(n_tokens) * (n_cols / 32) * 4);
    return {reinterpret_cast<int8_t*>(p), reinterpret_cast<float*>(p + q_bytes),
            reinterpret_cast<float*>(p + q_bytes + s_bytes)};
}

// Q8_0 (34-byte) or Q8_1 (36-byte) activation blocks into the workspace's plain arrays, so the GEMM
// reads them with 16-byte copies. One thread per (token, block).
template <bool kQ8_1>
static __global__ void unpack_act_kernel(const uint8_t* a, long a_row_bytes, int n_tokens, int n_blocks, ActWorkspace ws) {
    const long i = long{blockIdx.x} * blockDim.x + threadIdx.x;
    if (i >= long{n_tokens} * n_blocks) return;
    const long t = i / n_blocks, b = i % n_blocks;
    const unsigned short* h = reinterpret_cast<const unsigned short*>(a + t * a_row_bytes + b * (kQ8_1 ? 36 : 34));
    ws.d[i] = half_bits(h[0]);
    if (kQ8_1) ws.s[i] = half_bits(h[1]);
    const unsigned short* q = h + (kQ8_1 ? 2 : 1);
    uint4* dst = reinterpret_cast<uint4*>(ws.q + i * 32);
    dst[0] = make_uint4(word_a2(q), word_a2(q + 2), word_a2(q + 4), word_a2(q + 6));
    dst[1] = make_uint4(word_a2(q + 8), word_a2(q + 10), word_a2(q + 12), word_a2(q + 14));
}


template <typename W>
constexpr size_t smem_bytes() {
    return 2 * kTileRows * kStageBlocks * W::kBytes + kTileRows * kTileStride + 2 * kTileTokens * kTileStride +
           sizeof(float) * (2 * kTileRows * kStageBlocks + 4 * kTileTokens * kStageBlocks);
}

template <typename W>
static __global__ void __launch_bounds__(kThreads, kMinBlocksPerSm) matmul_mma_kernel(MatmulMmaParams p, ActWorkspace act) {
    constexpr int kRaw = kStageBlocks * W::kBytes; // a multiple of 4
    extern __shared__ __align__(16) uint8_t smem[];
    uint8_t* raw = smem;                                                         // [2][kTileRows][kRaw] weight bytes as stored
    int8_t* wq = reinterpret_cast<int8_t*>(raw + 2 * kTileRows * kRaw);           // [kTileRows][kTileStride] weights as int8
    int8_t* aq = wq + kTileRows * kTileStride;                                    // [2][kTileTokens][kTileStride] activations
    float* wd = reinterpret_cast<float*>(aq + 2 * kTileTokens * kTileStride);     // [kStageBlocks][kTileRows] weight d
    float* wm = wd + kTileRows * kStageBlocks;                                    // [kStageBlocks][kTileRows] weight m (Q4_1)
    float* ad = wm + kTileRows * kStageBlocks;                                    // [2][kStageBlocks][kTileTokens] activation d
    float* as = ad + 2 * kTileTokens * kStageBlocks;                              // [2][kStageBlocks][kTileTokens] activation s

    const int row0 = blockIdx.x * kTileRows, tok0 = blockIdx.y * kTileTokens;
    const int n_blocks = p.n_cols / 32;
    const int n_stages = (n_blocks + kStageBlocks - 1) / kStageBlocks;
    const uint8_t* w = static_cast<const uint8_t*>(p.w);

    const auto load_stage = [&](int stage, int buf) {
        const int b0 = stage * kStageBlocks;
        // Whole words of the stage's bytes; a row's last word may pass its last block by 2 bytes,
        // still inside the row (rows are a multiple of 4 bytes long).
        const int words = (min(kStageBlocks, n_blocks - b0) * W::kBytes + 3) / 4;
        for (int i = threadIdx.x; i < kTileRows * (kRaw / 4); i += kThreads) {
            const int r = i / (kRaw / 4), wi = i % (kRaw / 4);
            if (row0 + r < p.n_rows && wi < words)
                cp_async4(raw + (buf * kTileRows + r) * kRaw + 4 * wi,
                          w + long{row0 + r} * p.w_row_bytes + long{b0} * W::kBytes + 4 * wi);
        }
        for (int i = threadIdx.x; i < kTileTokens * kStageBlocks * 2; i += kThreads) {
            const int t = i / (kStageBlocks * 2), c = i % (kStageBlocks * 2); // c: 16-byte chunk
            const bool ok = tok0 + t < p.n_tokens && b0 + c / 2 < n_blocks;
            const int8_t* src = ok ? act.q + long{tok0 + t} * p.n_cols + b0 * 32 + 16 * c : act.q;
            cp_async_zfill<16>(aq + (buf * kTileTokens + t) * kTileStride + 16 * c, src, ok);
        }
        for (int i = threadIdx.x; i < kTileTokens * kStageBlocks; i += kThreads) {
            const int t = i / kStageBlocks, b = i % kStageBlocks;
            const bool ok = tok0 + t < p.n_tokens && b0 + b < n_blocks;
            const long src = ok ? long{tok0 + t} * n_blocks + b0 + b : 0;
            const int dst = (buf * kStageBlocks + b) * kTileTokens + t;
            cp_async_zfill<4>(ad + dst, act.d + src, ok);
            if (W::kHasMin) cp_async_zfill<4>(as + dst, act.s + src, ok);
        }
        cp_async_commit();
    };

    // Rows past the matrix and blocks past the row become zeros with zero scales.
    const auto unpack_stage = [&](int stage, int buf) {
        const int b0 = stage * kStageBlocks;
        for (int i = threadIdx.x; i < kTileRows * kStageBlocks; i += kThreads) {
            const int r = i / kStageBlocks, b = i % kStageBlocks;
            uint32_t q[8] = {};
            float d = 0.0f, m = 0.0f;
            if (row0 + r < p.n_rows && b0 + b < n_blocks) W::unpack(raw + (buf * kTileRows + r) * kRaw + b * W::kBytes, q, d, m);
            uint4* dst = reinterpret_cast<uint4*>(wq + r * kTileStride + b * 32);
            dst[0] = make_uint4(q[0], q[1], q[2], q[3]);
            dst[1] = make_uint4(q[4], q[5], q[6], q[7]);
            wd[b * kTileRows + r] = d;
            if (W::kHasMin) wm[b * kTileRows + r] = m;
        }
    };

    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, tq = lane % 4;
    const int wr = (warp % 2) * 32, wc = (warp / 2) * 32; // the warp's first row and token in the tile
    float acc[2][4][4] = {}; // [row tile][token tile][C register]

    load_stage(0, 0);
    for (int stage = 0; stage < n_stages; ++stage) {
        const int buf = stage & 1;
        cp_async_wait<0>();
        __syncthreads(); // this stage has landed, and every warp is done with the previous one's buffers
        if (stage + 1 < n_stages) load_stage(stage + 1, buf ^ 1);
        unpack_stage(stage, buf);
        __syncthreads();
        const int8_t* at = aq + buf * kTileTokens * kTileStride;
        const float* atd = ad + buf * kStageBlocks * kTileTokens;
        const float* ats = as + buf * kStageBlocks * kTileTokens;
        const int nb = min(kStageBlocks, n_blocks - stage * kStageBlocks);
#pragma unroll
        for (int b = 0; b < kStageBlocks; ++b) { // one block at a time: each output adds its blocks in order
            if (b >= nb) break;
            uint32_t af[2][4], bf[4][2];
#pragma unroll
            for (int i = 0; i < 2; ++i) ldmatrix_x4(af[i], wq + (wr + 16 * i + lane % 16) * kTileStride + b * 32 + 16 * (lane / 16));
#pragma unroll
            for (int jj = 0; jj < 2; ++jj) {
                uint32_t r[4];
                ldmatrix_x4(r, at + (wc + 16 * jj + lane % 8 + 8 * (lane / 16)) * kTileStride + b * 32 + 16 * ((lane / 8) % 2));
                bf[2 * jj][0] = r[0];
                bf[2 * jj][1] = r[1];
                bf[2 * jj + 1][0] = r[2];
                bf[2 * jj + 1][1] = r[3];
            }
            float dw[2][2], mw[2][2]; // scales of this thread's C rows
            float2 da[4], sa[4];      // and of its two tokens in each token tile
#pragma unroll
            for (int i = 0; i < 2; ++i) {
#pragma unroll
                for (int h = 0; h < 2; ++h) {
                    dw[i][h] = wd[b * kTileRows + wr + 16 * i + g + 8 * h];
                    if (W::kHasMin) mw[i][h] = wm[b * kTileRows + wr + 16 * i + g + 8 * h];
                }
            }
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                da[j] = *reinterpret_cast<const float2*>(atd + b * kTileTokens + wc + 8 * j + 2 * tq);
                if (W::kHasMin) sa[j] = *reinterpret_cast<const float2*>(ats + b * kTileTokens + wc + 8 * j + 2 * tq);
            }
#pragma unroll
            for (int i = 0; i < 2; ++i) {
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                    int c[4];
                    mma_s8(c, af[i], bf[j][0], bf[j][1]);
#pragma unroll
                    for (int k = 0; k < 4; ++k) {
                        const int h = k / 2;
                        const float d_a = k % 2 ? da[j].y : da[j].x;
                        acc[i][j][k] = fmaf(dw[i][h] * d_a, exact_float(c[k]), acc[i][j][k]);
                        if (W::kHasMin) acc[i][j][k] = fmaf(mw[i][h], k % 2 ? sa[j].y : sa[j].x, acc[i][j][k]);
                    }
                }
            }
        }
    }
#pragma unroll
    for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int j = 0; j < 4; ++j) {
#pragma unroll
            for (int k = 0; k < 4; ++k) {
                const int row = row0 + wr + 16 * i + g + 8 * (k / 2), tok = tok0 + wc + 8 * j + 2 * tq + k % 2;
                if (row < p.n_rows && tok < p.n_tokens)
                    p.y[long{tok} * p.y_stride + row] = acc[i][j][k];
            }
        }
    }
}

int weight_block_bytes(WeightType type) {
    switch (type) {
    case WeightType::Q8_0: return MmaQ8_0::kBytes;
    case WeightType::Q4_0: return MmaQ4_0::kBytes;
    case WeightType::Q4_1: return MmaQ4_1::kBytes;
    default: return 0;
    }
}

template <typename W>
cudaError_t launch(const MatmulMmaParams& p, const ActWorkspace& ws, cudaStream_t stream) {
    constexpr size_t smem = smem_bytes<W>();
    const cudaError_t attr = cudaFuncSetAttribute(matmul_mma_kernel<W>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                  static_cast<int>(smem));
    if (attr != cudaSuccess) return attr;
    const dim3 grid((p.n_rows + kTileRows - 1) / kTileRows, (p.n_tokens + kTileTokens - 1) / kTileTokens);
    matmul_mma_kernel<W><<<grid, kThreads, smem, stream>>>(p, ws);
    return cudaGetLastError();
}

} // namespace

bool matmul_mma_supports(WeightType type, int n_cols, long w_row_bytes) {
    const int bytes = weight_block_bytes(type);
    return bytes > 0 && n_cols > 0 && n_cols % 32 == 0 && w_row_bytes % 4 == 0 &&
           w_row_bytes >= long{n_cols / 32} * bytes;
}

size_t matmul_mma_workspace_bytes(int n_tokens, int n_cols) {
    return round16(size_t(n_tokens) * n_cols) + 2 * round16(size_t(n_tokens) * (n_cols / 32) * 4);
}

cudaError_t matmul_mma(const MatmulMmaParams& p, cudaStream_t stream) {
    if (p.n_rows <= 0 || p.n_tokens <= 0) return cudaSuccess;
    if (!p.w || !p.a || !p.y || !p.workspace || !matmul_mma_supports(p.type, p.n_cols, p.w_row_bytes) ||
        reinterpret_cast<uintptr_t>(p.w) % 4 != 0 || reinterpret_cast<uintptr_t>(p.workspace) % 16 != 0 ||
        (reinterpret_cast<uintptr_t>(p.a) | static_cast<uintptr_t>(p.a_row_bytes)) % 2 != 0 ||
        (p.n_tokens + kTileTokens - 1) / kTileTokens > 65535)
        return cudaErrorInvalidValue;
    const bool q8_1 = p.type == WeightType::Q4_1;
    const int n_blocks = p.n_cols / 32;
    if (p.a_row_bytes < long{n_blocks} * (q8_1 ? 36 : 34)) return cudaErrorInvalidValue;
    const ActWorkspace ws = act_workspace(p.workspace, p.n_tokens, p.n_cols);
    const long items = long{p.n_tokens} * n_blocks;
    const unsigned grid = static_cast<unsigned>((items + 255) / 256);
    if (q8_1) unpack_act_kernel<true><<<grid, 256, 0, stream>>>(static_cast<const uint8_t*>(p.a), p.a_row_bytes, p.n_tokens, n_blocks, ws);
    else unpack_act_kernel<false><<<grid, 256, 0, stream>>>(static_cast<const uint8_t*>(p.a), p.a_row_bytes, p.n_tokens, n_blocks, ws);
    const cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    switch (p.type) {
    case WeightType::Q8_0: return launch<MmaQ8_0>(p, ws, stream);
    case WeightType::Q4_0: return launch<MmaQ4_0>(p, ws, stream);
    case WeightType::Q4_1: return launch<MmaQ4_1>(p, ws, stream);
    default: return cudaErrorInvalidValue;
    }
}

} // namespace sq::cuda
