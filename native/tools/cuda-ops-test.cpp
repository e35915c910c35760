// cuda-ops-test: every CUDA op (kernels/) against its CPU reference on awkward sizes: one key, odd
// lengths, GQA groups that need several tiles, forced split counts, 128K keys. Errors are
// ||gpu - ref|| / ||ref|| against a double-precision reference over the same rounded inputs, and,
// where the engine has the op (backend/cpu/ops.h), against the engine's CPU op too.
// Outputs are poisoned with NaN before each launch, so an unwritten element fails.
//
//   cuda-ops-test        exit 0 when all pass, or when there is no CUDA build / no GPU (it says so)
#include <cstdio>

#include "../../test/native/check.h"

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <cuda_runtime.h>

#include "attention-decode.cuh"
#include "backend/cpu/ops.h"
#include "backend/cpu/quants-blocks.h"
#include "backend/cpu/quants.h"
#include "common/half.h"
#include "device.cuh"
#include "lse-merge.cuh"
#include "matmul-mma.cuh"
#include "matmul-vec.cuh"
#include "quantize-rows.cuh"
#include "rms-norm.cuh"
#include "rope.cuh"
#include "swiglu.cuh"

using namespace sq;

namespace {

// Device memory for n elements of T, freed on scope exit; allocation errors fail the test.
template <typename T>
struct DeviceBuffer {
    T* ptr = nullptr;
    size_t n = 0;
    explicit DeviceBuffer(size_t count) : n(count) {
        if (cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T)) != cudaSuccess) {
            ptr = nullptr;
            check::fail(__FILE__, __LINE__, "cudaMalloc failed");
        }
    }
    DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
    ~DeviceBuffer() { cudaFree(ptr); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    void upload(const std::vector<T>& host) {
        if (ptr && n) CHECK(cudaMemcpy(ptr, host.data(), n * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
    }
    void poison() { // all-ones bytes: NaN as f32
        if (ptr) CHECK(cudaMemset(ptr, 0xff, std::max<size_t>(1, n) * sizeof(T)) == cudaSuccess);
    }
    std::vector<T> download() const {
        std::vector<T> host(n);
        if (ptr && n) CHECK(cudaMemcpy(host.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
        return host;
    }
};

#define CHECK_CUDA(expr)                                                                                  \
    do {                                                                                                  \
        const cudaError_t err_ = (expr);                                                                  \
        if (err_ != cudaSuccess) check::fail(__FILE__, __LINE__, std::string(#expr ": ") + cudaGetErrorString(err_)); \
    } while (0)

std::mt19937& rng() {
    static std::mt19937 gen(1234);
    return gen;
}
float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng()); }

// ||a - b|| / ||b||; NaN anywhere in a gives NaN, which no tolerance accepts.
template <typename A, typename B>
double rel_error(const std::vector<A>& a, const std::vector<B>& b) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
        num += d * d;
        den += static_cast<double>(b[i]) * static_cast<double>(b[i]);
    }
    return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

void report(const char* op, const std::string& what, double err, double tol) {
    std::printf("  %-14s %-52s err %.3e (tol %.0e)\n", op, what.c_str(), err, tol);
    if (!(err <= tol)) check::fail(__FILE__, __LINE__, std::string(op) + " " + what + " over tolerance");
}

// ---- attention decode ---------------------------------------------------------------------------

struct AttentionCase {
    int n_heads, n_kv_heads, head_dim, n_kv;
    cuda::KvType type;
    int n_splits, keys_per_iter, prefetch;
};

uint16_t to_cache(cuda::KvType t, float f) { return t == cuda::KvType::F16 ? f32_to_f16(f) : f32_to_bf16(f); }
float from_cache(cuda::KvType t, uint16_t h) { return t == cuda::KvType::F16 ? f16_to_f32(h) : bf16_to_f32(h); }

struct AttentionInputs {
    int n_ctx;
    std::vector<float> q;      // [n_heads][head_dim]
    std::vector<uint16_t> k;   // [n_kv_heads][n_ctx][head_dim]
    std::vector<uint16_t> v;   // [n_kv_heads][n_ctx][head_dim]
};

AttentionInputs make_attention_inputs(const AttentionCase& c) {
    AttentionInputs in;
    in.n_ctx = c.n_kv + 3; // capacity past n_kv: the head stride is not the key count
    in.q.resize(static_cast<size_t>(c.n_heads) * c.head_dim);
    for (float& x : in.q) x = uniform(-2.0f, 2.0f);
    const size_t n = static_cast<size_t>(c.n_kv_heads) * in.n_ctx * c.head_dim;
    in.k.resize(n);
    in.v.resize(n);
    for (size_t i = 0; i < n; ++i) {
        in.k[i] = to_cache(c.type, uniform(-1.0f, 1.0f));
        in.v[i] = to_cache(c.type, uniform(-1.0f, 1.0f));
    }
    return in;
}

// Exact attention in double over the cache's rounded values: out [n_heads][head_dim], lse [n_heads].
void attention_reference(const AttentionCase& c, const AttentionInputs& in, float scale, std::vector<double>& out,
                         std::vector<double>& lse) {
    const int d = c.head_dim, group = c.n_heads / c.n_kv_heads;
    out.assign(static_cast<size_t>(c.n_heads) * d, 0.0);
    lse.assign(c.n_heads, -std::numeric_limits<double>::infinity());
    std::vector<double> s(c.n_kv);
    for (int h = 0; h < c.n_heads; ++h) {
        const size_t head = static_cast<size_t>(h / group) * in.n_ctx * d;
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j < c.n_kv; ++j) {
            double dot = 0.0;
            for (int e = 0; e < d; ++e) dot += static_cast<double>(in.q[h * d + e]) * from_cache(c.type, in.k[head + j * d + e]);
            s[j] = dot * scale;
            mx = std::max(mx, s[j]);
        }
        if (c.n_kv == 0) continue;
        double sum = 0.0;
        for (int j = 0; j < c.n_kv; ++j) {
            const double w = std::exp(s[j] - mx);
            sum += w;
            for (int e = 0; e < d; ++e) out[h * d + e] += w * from_cache(c.type, in.v[head + j * d + e]);
        }
        for (int e = 0; e < d; ++e) out[h * d + e] /= sum;
        lse[h] = mx + std::log(sum);
    }
}

struct AttentionRun {
    std::vector<float> out, lse;
    cudaError_t err;
};

// Runs the op over keys [first, first + n_kv) of every KV head.
AttentionRun run_attention(const AttentionCase& c, const AttentionInputs& in, int first, int n_kv, float scale,
                           int tensor_cores = 0) {
    DeviceBuffer<float> q(in.q), out(in.q.size()), lse(c.n_heads);
    DeviceBuffer<uint16_t> k(in.k), v(in.v);
    DeviceBuffer<float> ws(cuda::attention_decode_workspace_floats(c.n_heads, c.head_dim));
    out.poison();
    lse.poison();
    const size_t offset = static_cast<size_t>(first) * c.head_dim;
    cuda::AttentionDecodeParams p{};
    p.q = q.ptr;
    p.k = k.ptr + offset;
    p.v = v.ptr + offset;
    p.out = out.ptr;
    p.lse = lse.ptr;
    p.workspace = ws.ptr;
    p.kv_type = c.type;
    p.n_heads = c.n_heads;
    p.n_kv_heads = c.n_kv_heads;
    p.head_dim = c.head_dim;
    p.n_kv = n_kv;
    p.kv_head_stride = static_cast<long>(in.n_ctx) * c.head_dim;
    p.scale = scale;
    p.n_splits = c.n_splits;
    p.keys_per_iter = c.keys_per_iter;
    p.prefetch = c.prefetch;
    p.tensor_cores = tensor_cores;
    AttentionRun run;
    run.err = cuda::attention_decode(p, nullptr);
    if (run.err == cudaSuccess) run.err = cudaDeviceSynchronize();
    run.out = out.download();
    run.lse = lse.download();
    return run;
}

std::string describe(const AttentionCase& c) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s H%d Hkv%d d%d keys %d splits %d kpi %d pf %d",
                  c.type == cuda::KvType::F16 ? "f16" : "bf16", c.n_heads, c.n_kv_heads, c.head_dim, c.n_kv,
                  c.n_splits, c.keys_per_iter, c.prefetch);
    return buf;
}

double lse_error(const std::vector<float>& got, const std::vector<double>& ref) {
    double worst = 0.0;
    for (size_t i = 0; i < ref.size(); ++i) {
        if (std::isinf(ref[i])) {
            if (!(std::isinf(got[i]) && got[i] < 0)) return INFINITY;
            continue;
        }
        const double e = std::fabs(got[i] - ref[i]);
        worst = std::isnan(e) ? INFINITY : std::max(worst, e);
    }
    return worst;
}

const AttentionCase kAttentionCases[] = {
    {1, 1, 64, 1, cuda::KvType::F16, 0, 0, 0},          // one key
    {9, 3, 64, 37, cuda::KvType::F16, 0, 0, 0},         // SmolLM2's heads, odd length
    {9, 3, 64, 37, cuda::KvType::BF16, 1, 0, -1},       // one slice: no merge
    {32, 8, 128, 1000, cuda::KvType::BF16, 0, 0, 0},    // Llama-3-8B heads
    {32, 8, 128, 1000, cuda::KvType::BF16, 7, 2, 1},
    {32, 8, 128, 1000, cuda::KvType::F16, 3, 4, -1},
    {32, 8, 128, 1000, cuda::KvType::F16, 3, 4, 1},
    {28, 4, 128, 333, cuda::KvType::BF16, 0, 0, 0},     // group of 7
    {12, 1, 64, 5000, cuda::KvType::F16, 0, 4, 1},      // group of 12: two tiles of 6
    {16, 16, 128, 4097, cuda::KvType::F16, 0, 0, 0},    // no GQA
    {16, 16, 128, 4097, cuda::KvType::BF16, 5, 2, -1},
    {8, 2, 128, 131072, cuda::KvType::BF16, 0, 0, 0},   // 128K keys
    {2, 1, 128, 0, cuda::KvType::F16, 0, 0, 0},         // no keys: zeros, lse -inf
};

TEST_CASE("attention_decode: double reference and the CPU op, awkward shapes") {
    for (const AttentionCase& c : kAttentionCases) {
        const AttentionInputs in = make_attention_inputs(c);
        const float scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
        std::vector<double> ref, ref_lse;
        attention_reference(c, in, scale, ref, ref_lse);
        // The tensor-core kernel splits q and p into hi + lo halves, so it meets the same tolerance.
        AttentionRun run;
        for (int tensor_cores : {-1, 1}) {
            run = run_attention(c, in, 0, c.n_kv, scale, tensor_cores);
            CHECK_CUDA(run.err);
            const std::string what = describe(c) + (tensor_cores > 0 ? " mma" : "");
            report("attention", what, rel_error(run.out, ref), 2e-5);
            report("attention", what + " lse", lse_error(run.lse, ref_lse), 1e-4);
        }

        // The engine's CPU op rounds q and the probabilities to f16 (as ggml does): looser.
        if (c.type != cuda::KvType::F16 || c.n_kv == 0) continue;
        const int d = c.head_dim, group = c.n_heads / c.n_kv_heads;
        std::vector<float> cpu(in.q.size()), scores(c.n_kv + 16);
        std::vector<uint16_t> q16(d), p16(c.n_kv + 16);
        for (int h = 0; h < c.n_heads; ++h) {
            const size_t head = static_cast<size_t>(h / group) * in.n_ctx * d;
            cpu::attention_f16(&in.q[h * d], &in.k[head], &in.v[head], c.n_kv, d, scale, true, scores.data(),
                               q16.data(), p16.data(), &cpu[h * d]);
        }
        report("attention", describe(c) + " vs cpu", rel_error(run.out, cpu), 5e-3);
    }
}

TEST_CASE("attention_decode: rejects shapes it cannot run") {
    AttentionCase c{4, 2, 96, 10, cuda::KvType::F16, 0, 0, 0};
    const AttentionInputs in = make_attention_inputs(c);
    CHECK_EQ(static_cast<int>(run_attention(c, in, 0, c.n_kv, 0.1f).err), static_cast<int>(cudaErrorInvalidValue));
    c = {6, 4, 64, 10, cuda::KvType::F16, 0, 0, 0}; // 4 KV heads do not divide 6 query heads
    const AttentionInputs in2 = make_attention_inputs(c);
    CHECK_EQ(static_cast<int>(run_attention(c, in2, 0, c.n_kv, 0.1f).err), static_cast<int>(cudaErrorInvalidValue));
}

// The squeezed path's use: attention over two disjoint key sets, merged, equals attention over both.
TEST_CASE("lse_merge: two partial attentions merge into the whole") {
    const AttentionCase whole{32, 8, 128, 3001, cuda::KvType::BF16, 0, 0, 0};
    const AttentionInputs in = make_attention_inputs(whole);
    const float scale = 1.0f / std::sqrt(128.0f);
    std::vector<double> ref, ref_lse;
    attention_reference(whole, in, scale, ref, ref_lse);
    for (int cut : {0, 1, 1500, 3001}) {
        const AttentionRun a = run_attention(whole, in, 0, cut, scale);
        const AttentionRun b = run_attention(whole, in, cut, whole.n_kv - cut, scale, 1);
        CHECK_CUDA(a.err);
        CHECK_CUDA(b.err);
        std::vector<float> o(a.out), lse(a.lse); // [2][n_heads][head_dim], [2][n_heads]
        o.insert(o.end(), b.out.begin(), b.out.end());
        lse.insert(lse.end(), b.lse.begin(), b.lse.end());
        DeviceBuffer<float> d_o(o), d_lse(lse), out(a.out.size()), lse_out(whole.n_heads);
        out.poison();
        lse_out.poison();
        const long o_stride = static_cast<long>(whole.n_heads) * whole.head_dim;
        CHECK_CUDA(cuda::lse_merge({d_o.ptr, d_lse.ptr, out.ptr, lse_out.ptr, 2, whole.n_heads, whole.head_dim, o_stride,
                                    whole.n_heads}, nullptr));
        CHECK_CUDA(cudaDeviceSynchronize());
        const std::string what = "keys [0," + std::to_string(cut) + ") + [" + std::to_string(cut) + ",3001)";
        report("lse_merge", what, rel_error(out.download(), ref), 2e-5);
        report("lse_merge", what + " lse", lse_error(lse_out.download(), ref_lse), 1e-4);
    }
}

// ---- norms, RoPE, SwiGLU -------------------------------------------------------------------------

TEST_CASE("rms_norm: CPU op, strided rows") {
    for (int n_cols : {1, 577, 4096}) {
        const int n_rows = 3;
        const long stride = n_cols + 5;
        std::vector<float> x(n_rows * stride), w(n_cols), ref(n_rows * stride, 0.0f);
        for (float& v : x) v = uniform(-3.0f, 3.0f);
        for (float& v : w) v = uniform(0.5f, 1.5f);
        for (int r = 0; r < n_rows; ++r) cpu::rms_norm(&x[r * stride], w.data(), &ref[r * stride], n_cols, 1e-5f);
        DeviceBuffer<float> dx(x), dw(w), dy(ref.size());
        dy.upload(ref); // the gaps between rows keep the reference's zeros; only row data is poisoned below
        for (int r = 0; r < n_rows; ++r) CHECK_CUDA(cudaMemset(dy.ptr + r * stride, 0xff, n_cols * sizeof(float)));
        CHECK_CUDA(cuda::rms_norm({dx.ptr, dw.ptr, dy.ptr, n_rows, n_cols, stride, stride, 1e-5f}, nullptr));
        CHECK_CUDA(cudaDeviceSynchronize());
        report("rms_norm", std::to_string(n_rows) + " x " + std::to_string(n_cols), rel_error(dy.download(), ref), 1e-6);
    }
}

TEST_CASE("rope: CPU op, normal and NeoX, partial rotation, freq factors, far positions") {
    const int n_heads = 3, head_dim = 64;
    const std::vector<int> positions = {0, 1, 17, 4095, 100000};
    const int n_tokens = static_cast<int>(positions.size());
    const long stride = n_heads * head_dim + 8;
    for (int n_rot : {64, 32}) {
        for (bool neox : {false, true}) {
            for (bool factors : {false, true}) {
                std::vector<float> ff(n_rot / 2);
                for (float& f : ff) f = uniform(1.0f, 8.0f);
                cpu::RopeParams cp;
                cp.n_rot = n_rot;
                cp.freq_base = factors ? 500000.0f : 10000.0f;
                cp.freq_scale = factors ? 0.25f : 1.0f;
                cp.freq_factors = factors ? ff.data() : nullptr;
                cp.neox = neox;
                std::vector<float> x(n_tokens * stride);
                for (float& v : x) v = uniform(-2.0f, 2.0f);
                std::vector<float> ref(x), cache(n_rot);
                for (int t = 0; t < n_tokens; ++t) {
                    cpu::rope_cache(cp, positions[t], cache.data());
                    cpu::rope_apply(cp, cache.data(), &ref[t * stride], n_heads, head_dim);
                }
                DeviceBuffer<float> dx(x), dff(ff);
                DeviceBuffer<int> dpos(positions);
                cuda::RopeParams gp{dx.ptr, dpos.ptr, factors ? dff.ptr : nullptr, n_tokens, n_heads, head_dim, n_rot,
                                    stride, cp.freq_base, cp.freq_scale, neox};
                CHECK_CUDA(cuda::rope(gp, nullptr));
                CHECK_CUDA(cudaDeviceSynchronize());
                const std::vector<float> got = dx.download();
                // Unrotated dims and the gaps must come back untouched, bit for bit.
                bool untouched = true;
                for (int t = 0; t < n_tokens; ++t)
                    for (long i = 0; i < stride; ++i)
                        if (i >= n_heads * head_dim || i % head_dim >= n_rot)
                            untouched = untouched && got[t * stride + i] == x[t * stride + i];
                CHECK(untouched);
                char what[96];
                std::snprintf(what, sizeof what, "n_rot %d %s%s", n_rot, neox ? "neox" : "normal",
                              factors ? " freq_factors scale 0.25" : "");
                report("rope", what, rel_error(got, ref), 1e-6);
            }
        }
    }
}

TEST_CASE("swiglu: CPU op") {
    for (long n : {1L, 1535L, 14336L}) {
        std::vector<float> g(n), u(n), ref(n);
        for (float& v : g) v = uniform(-20.0f, 20.0f);
        for (float& v : u) v = uniform(-2.0f, 2.0f);
        cpu::swiglu(g.data(), u.data(), ref.data(), n);
        DeviceBuffer<float> dg(g), du(u), dy(n);
        dy.poison();
        CHECK_CUDA(cuda::swiglu({dg.ptr, du.ptr, dy.ptr, n}, nullptr));
        CHECK_CUDA(cudaDeviceSynchronize());
        report("swiglu", "n " + std::to_string(n), rel_error(dy.download(), ref), 1e-6);
    }
}

// ---- decode GEMV on quantized activations (matmul_vec) -----------------------------------------

// Random but valid rows of any weight type: every quant bit pattern, small f16 scales where the
// block keeps them; rows padded to 16 bytes as matmul_vec needs.
std::vector<uint8_t> random_weight_rows(TensorType type, int n_rows, int n_cols, long row_bytes) {
    std::vector<uint8_t> w(static_cast<size_t>(n_rows) * row_bytes);
    for (uint8_t& b : w) b = static_cast<uint8_t>(rng()());
    const TensorTypeTraits t = tensor_type_traits(static_cast<uint32_t>(type));
    for (int r = 0; r < n_rows; ++r) {
        for (int b = 0; b < n_cols / static_cast<int>(t.block_size); ++b) {
            uint8_t* blk = &w[r * row_bytes + b * t.block_bytes];
            const uint16_t d = f32_to_f16(uniform(0.001f, 0.02f)), m = f32_to_f16(uniform(-0.02f, 0.02f));
            if (type == TensorType::Q6_K) {
                std::memcpy(blk + 208, &d, 2);
                continue;
            }
            std::memcpy(blk, &d, 2);
            if (type == TensorType::Q4_1 || type == TensorType::Q4_K) std::memcpy(blk + 2, &m, 2);
        }
    }
    return w;
}

TEST_CASE("matmul_vec: Q8_0, Q4_0, Q4_1, Q4_K, Q6_K against the CPU vec_dot on awkward sizes") {
    // The activation is quantized on the GPU into the planar encoding (its values and scales must
    // be the CPU's quantization of the same floats) and on the CPU into the block layout; the
    // outputs differ from the CPU's vec_dot only in the order of float additions, so each is
    // compared relative to sum |w x|, which cancellation cannot shrink.
    struct Case { int n_rows, n_tokens, blocks; };
    // Rows: one; odd counts (a warp's second row missing). Blocks per row: one; odd counts (slices end inside a 16-byte chunk); 8B shapes (4096 and
    // 14336 columns); longer than 8 warps' slices together (each warp takes several).
    const Case small[] = {{1, 1, 1}, {67, 3, 3}, {129, 8, 48}, {1030, 1, 128}, {300, 13, 448}, {5, 1, 1290}, {4099, 1, 16}};
    const Case k_quants[] = {{1, 1, 1}, {67, 3, 3}, {129, 8, 6}, {1030, 1, 16}, {300, 13, 56}, {5, 1, 230}, {4099, 1, 2}};
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1, TensorType::Q4_K, TensorType::Q6_K}) {
        const cpu::TypeKernels* tk = cpu::type_kernels(type);
        CHECK(tk != nullptr);
        if (!tk) continue;
        const cpu::TypeKernels* ak = cpu::type_kernels(tk->vec_dot_type);
        const TensorTypeTraits tt = tensor_type_traits(static_cast<uint32_t>(type));
        const TensorTypeTraits at = tensor_type_traits(static_cast<uint32_t>(tk->vec_dot_type));
        const cuda::WeightType wt = static_cast<cuda::WeightType>(type);
        const cuda::ActType planar = cuda::matmul_vec_act_type(wt);
        const bool k_quant = tt.block_size == 256;
        for (const Case& c : k_quant ? k_quants : small) {
            const int n_cols = c.blocks * static_cast<int>(tt.block_size);
            const long row_bytes = (long{c.blocks} * tt.block_bytes + 15) / 16 * 16;
            const long a_bytes = long{c.blocks} * at.block_bytes;                      // CPU block layout
            const long p_bytes = (cuda::quantized_row_bytes(planar, n_cols) + 15) / 16 * 16; // GPU planar
            const long y_stride = c.n_rows + 3;
            const std::vector<uint8_t> w = random_weight_rows(type, c.n_rows, n_cols, row_bytes);
            std::vector<float> x(static_cast<size_t>(c.n_tokens) * n_cols);
            for (float& v : x) v = uniform(-1.0f, 1.0f);
            std::vector<uint8_t> a(static_cast<size_t>(c.n_tokens) * a_bytes);
            for (int t = 0; t < c.n_tokens; ++t) ak->from_float(&x[size_t(t) * n_cols], &a[t * a_bytes], n_cols);

            DeviceBuffer<uint8_t> dw(w), dp(static_cast<size_t>(c.n_tokens) * p_bytes);
            DeviceBuffer<float> dx(x), dy(static_cast<size_t>(c.n_tokens) * y_stride);
            dy.poison();
            CHECK(cuda::matmul_vec_supports(wt, n_cols, row_bytes, dw.ptr));
            const cuda::QuantizeRowsParams qp{dx.ptr, dp.ptr, planar, c.n_tokens, n_cols, n_cols, p_bytes};
            CHECK_CUDA(cuda::quantize_rows(qp, nullptr));
            CHECK_CUDA(cudaDeviceSynchronize());
            const std::vector<uint8_t> planes = dp.download();

            // The planar values are the CPU's: qs byte for byte, each block's scale as a float.
            int bad_qs = 0;
            for (int t = 0; t < c.n_tokens; ++t) {
                for (int b = 0; b < c.blocks * static_cast<int>(tt.block_size / at.block_size); ++b) {
                    const uint8_t* cpu_block = &a[t * a_bytes + b * at.block_bytes];
                    const uint8_t* gpu_qs = &planes[t * p_bytes + b * at.block_size];
                    const int qs_offset = at.block_size == 256 ? 4 : tk->vec_dot_type == TensorType::Q8_1 ? 4 : 2;
                    bad_qs += std::memcmp(cpu_block + qs_offset, gpu_qs, at.block_size) != 0;
                }
            }
            CHECK(bad_qs == 0);

            std::vector<float> wrow(n_cols), ref(static_cast<size_t>(c.n_rows) * c.n_tokens);
            std::vector<double> mag(ref.size());
            for (int r = 0; r < c.n_rows; ++r) {
                tk->to_float(&w[r * row_bytes], wrow.data(), n_cols);
                for (int t = 0; t < c.n_tokens; ++t) {
                    tk->vec_dot(n_cols, &ref[size_t(r) * c.n_tokens + t], &w[r * row_bytes], &a[t * a_bytes]);
                    for (int k = 0; k < n_cols; ++k)
                        mag[size_t(r) * c.n_tokens + t] += std::fabs(double(wrow[k]) * x[size_t(t) * n_cols + k]);
                }
            }
            // One and two weight rows a warp at a time (decode's two variants).
            for (int together : {1, 2}) {
                dy.poison();
                const cuda::MatmulQParams p{dw.ptr, wt, c.n_rows, n_cols, row_bytes, dp.ptr, p_bytes, c.n_tokens, dy.ptr, y_stride};
                CHECK_CUDA(cuda::matmul_vec(p, nullptr, together));
                CHECK_CUDA(cudaDeviceSynchronize());
                const std::vector<float> y = dy.download();
                double worst = 0.0;
                for (int r = 0; r < c.n_rows; ++r) {
                    for (int t = 0; t < c.n_tokens; ++t) {
                        const size_t i = size_t(r) * c.n_tokens + t;
                        const double e = std::fabs(double(y[t * y_stride + r]) - ref[i]) / std::max(mag[i], 1e-30);
                        worst = std::isnan(e) ? INFINITY : std::max(worst, e);
                    }
                }
                char what[96];
                std::snprintf(what, sizeof what, "%s %d rows x %d tokens x %d cols, %d row(s) a warp", tt.name, c.n_rows,
                              c.n_tokens, n_cols, together);
                report("matmul_vec", what, worst, 1e-5);
            }
        }
    }
    DeviceBuffer<uint8_t> buf(4096);
    CHECK(!cuda::matmul_vec_supports(cuda::WeightType::Q8_0, 32, 34, buf.ptr));      // rows not 16-byte aligned
    CHECK(!cuda::matmul_vec_supports(cuda::WeightType::Q8_0, 48, 48, buf.ptr));      // not whole blocks
    CHECK(!cuda::matmul_vec_supports(cuda::WeightType::F16, 32, 64, buf.ptr));       // no planar activation
    const cuda::MatmulQParams bad{buf.ptr, cuda::WeightType::Q8_0, 1, 32, 48, buf.ptr + 8, 48, 1,
                                  reinterpret_cast<float*>(buf.ptr + 1024), 1};
    CHECK(cuda::matmul_vec(bad, nullptr) == cudaErrorInvalidValue);                  // activation not 16-byte aligned
    const cuda::MatmulQParams three_rows{buf.ptr, cuda::WeightType::Q8_0, 1, 32, 48, buf.ptr + 1024, 48, 1,
                                         reinterpret_cast<float*>(buf.ptr + 2048), 1};
    CHECK(cuda::matmul_vec(three_rows, nullptr, 3) == cudaErrorInvalidValue);         // 1 or 2 rows a warp
}

// ---- tensor-core GEMM (prefill) -----------------------------------------------------------------

// Random but valid weight blocks of a 32-element type: every quant bit pattern, small scales.
std::vector<uint8_t> random_q32_rows(TensorType type, int n_rows, int n_cols, long row_bytes) {
    const int block = type == TensorType::Q8_0 ? 34 : type == TensorType::Q4_0 ? 18 : 20;
    std::vector<uint8_t> w(static_cast<size_t>(n_rows) * row_bytes);
    for (uint8_t& b : w) b = static_cast<uint8_t>(rng()());
    for (int r = 0; r < n_rows; ++r) {
        for (int b = 0; b < n_cols / 32; ++b) {
            uint8_t* blk = &w[r * row_bytes + b * block];
            const uint16_t d = f32_to_f16(uniform(0.001f, 0.02f)), m = f32_to_f16(uniform(-0.1f, 0.0f));
            std::memcpy(blk, &d, 2);
            if (type == TensorType::Q4_1) std::memcpy(blk + 2, &m, 2);
        }
    }
    return w;
}

TEST_CASE("matmul_mma: Q8_0, Q4_0, Q4_1 against the CPU vec_dot on awkward sizes") {
    // Same quantized inputs as the CPU op; only the order of the float additions differs (whole
    // blocks here, 8 lanes of 4 elements there), so each output is compared relative to
    // sum |w x|, which cancellation cannot shrink.
    struct Case { int n_rows, n_tokens, n_cols; };
    const Case cases[] = {{1, 1, 32}, {67, 33, 96}, {200, 65, 576}, {129, 513, 1536}, {64, 64, 4096}, {576, 130, 160}};
    for (TensorType type : {TensorType::Q8_0, TensorType::Q4_0, TensorType::Q4_1}) {
        const cpu::TypeKernels* tk = cpu::type_kernels(type);
        CHECK(tk != nullptr);
        if (!tk) continue;
        const cpu::TypeKernels* ak = cpu::type_kernels(tk->vec_dot_type);
        const int block = type == TensorType::Q8_0 ? 34 : type == TensorType::Q4_0 ? 18 : 20;
        const int act_block = tk->vec_dot_type == TensorType::Q8_1 ? 36 : 34;
        for (const Case& c : cases) {
            // Rows padded to 4 bytes where the blocks leave them short (an odd block count).
            const long row_bytes = (long{c.n_cols / 32} * block + 3) / 4 * 4;
            const long a_row_bytes = (long{c.n_cols / 32} * act_block + 15) / 16 * 16;
            const long y_stride = c.n_rows + 3;
            const std::vector<uint8_t> w = random_q32_rows(type, c.n_rows, c.n_cols, row_bytes);
            std::vector<float> x(static_cast<size_t>(c.n_tokens) * c.n_cols);
            for (float& v : x) v = uniform(-1.0f, 1.0f);
            std::vector<uint8_t> a(static_cast<size_t>(c.n_tokens) * a_row_bytes);
            for (int t = 0; t < c.n_tokens; ++t) ak->from_float(&x[size_t(t) * c.n_cols], &a[t * a_row_bytes], c.n_cols);

            DeviceBuffer<uint8_t> dw(w), da(a), ws(cuda::matmul_mma_workspace_bytes(c.n_tokens, c.n_cols));
            DeviceBuffer<float> dy(static_cast<size_t>(c.n_tokens) * y_stride);
            dy.poison();
            const cuda::WeightType wt = static_cast<cuda::WeightType>(type);
            CHECK(cuda::matmul_mma_supports(wt, c.n_cols, row_bytes));
            const cuda::MatmulMmaParams p{dw.ptr, wt, c.n_rows, c.n_cols, row_bytes, da.ptr, a_row_bytes, c.n_tokens,
                                          ws.ptr, dy.ptr, y_stride};
            CHECK_CUDA(cuda::matmul_mma(p, nullptr));
            CHECK_CUDA(cudaDeviceSynchronize());
            const std::vector<float> y = dy.download();

            std::vector<float> wrow(c.n_cols);
            double worst = 0.0;
            for (int r = 0; r < c.n_rows; ++r) {
                tk->to_float(&w[r * row_bytes], wrow.data(), c.n_cols);
                for (int t = 0; t < c.n_tokens; ++t) {
                    float ref = 0.0f;
                    tk->vec_dot(c.n_cols, &ref, &w[r * row_bytes], &a[t * a_row_bytes]);
                    double mag = 0.0;
                    for (int k = 0; k < c.n_cols; ++k) mag += std::fabs(double(wrow[k]) * x[size_t(t) * c.n_cols + k]);
                    const double e = std::fabs(double(y[t * y_stride + r]) - ref) / std::max(mag, 1e-30);
                    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
                }
            }
            char what[80];
            std::snprintf(what, sizeof what, "%s %d rows x %d tokens x %d cols", tensor_type_traits(uint32_t(type)).name,
                          c.n_rows, c.n_tokens, c.n_cols);
            report("matmul_mma", what, worst, 1e-5);
        }
    }
    DeviceBuffer<float> dy(1);
    const cuda::MatmulMmaParams bad{dy.ptr, cuda::WeightType::Q8_0, 1, 48, 68, dy.ptr, 64, 1, dy.ptr, dy.ptr, 1};
    CHECK(cuda::matmul_mma(bad, nullptr) == cudaErrorInvalidValue); // 48 columns: not whole blocks
}

} // namespace

int main() {
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-ops-test: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("cuda-ops-test on %s (sm_%d%d)\n", probe.name, probe.compute_major, probe.compute_minor);
    return run_all_tests();
}

#else

int main() {
    std::printf("cuda-ops-test: skipped, built without CUDA\n");
    return 0;
}

#endif
