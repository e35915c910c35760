// cuda-e2e-bench: decode speed of a Llama-3.1-8B-shaped model on the GPU at long context, dense
// attention vs Squeezed Attention at 90% sparsity, each phase of a step timed on its own.
//
// Model: 32 layers, n_embd 4096, 32 heads / 8 KV heads, head_dim 128, n_ff 14336, vocab 128256,
// every matrix Q8_0 (7.43 GiB read per token). A decode step runs the CUDA forward pass's kernels in
// its order (rms_norm, quantize_rows, the GEMV, rope, kv_store, attention, swiglu, add; the head),
// the GEMV being matmul_vec as in the forward pass, or the CPU-order matmul_q with SQUEEZE_CUDA_GEMM=0,
// queued by this tool rather than by CudaForward; norms fused into the conversion as there, and is replayed from a CUDA graph.
// Attention per layer: dense = attention_decode over the whole F16 cache (fixed context + dynamic
// tokens); squeezed = squeezed_decode (the two-level lookup, split-K attention over the selected
// slots read in place, dense attention over the dynamic tokens, the LSE merge).
//
// Synthetic, plainly: weights are random Q8_0 bytes generated in GPU memory (no GGUF file, no
// tokenizer); the KV cache of the fixed context (32K / 128K tokens) is random F16 taken as already
// stored in cluster order (no prefill: 128K tokens of an 8B model would take the bench's whole
// budget), with the synthetic cluster tree of cuda-e2e-index.h over it; the squeezed lookup and
// attention use a synthetic query that leans towards a few clusters (the projected query of random
// weights carries no such structure), with thresholds set for 90% sparsity on that query. The
// achieved sparsity is the GPU's own key count. The bytes read and the work are a real model's.
//
//   cuda-e2e-bench [--contexts 32768,131072] [--dyn 64] [--reps 10] [--json PATH]
#include <cstdio>

#ifdef SQUEEZE_WITH_CUDA

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <cuda_fp16.h>

#include "add.cuh"
#include "attention-decode.cuh"
#include "cuda-bench-util.h"
#include "cuda-e2e-index.h"
#include "device.cuh"
#include "kv-store.cuh"
#include "matmul-q.cuh"
#include "matmul-vec.cuh"
#include "quantize-rows.cuh"
#include "rope.cuh"
#include "squeezed-decode.cuh"
#include "swiglu.cuh"

using namespace sq;
using namespace sq::tools;

namespace {

constexpr int kLayers = 32, kEmbd = 4096, kHeads = 32, kKvHeads = 8, kDim = 128, kFf = 14336, kVocab = 128256;
constexpr int kQDim = kHeads * kDim, kKvDim = kKvHeads * kDim, kAlways = 104;
constexpr float kSparsity = 0.9f;
constexpr cuda::KvType kKv = cuda::KvType::F16;

long q8_row_bytes(int cols) { return long(cols / 32) * 34; }

// The GEMV a step runs, as the forward pass picks it: matmul_vec unless SQUEEZE_CUDA_GEMM=0.
bool fast_gemv() {
    const char* gemm = std::getenv("SQUEEZE_CUDA_GEMM");
    return !(gemm && std::strcmp(gemm, "0") == 0);
}
cuda::ActType act_type() { return fast_gemv() ? cuda::ActType::Q8_0_PLANAR : cuda::ActType::Q8_0; }
long act_row_bytes(int cols) { return (cuda::quantized_row_bytes(act_type(), cols) + 15) / 16 * 16; }

struct Matrix {
    const void* w;
    int rows, cols;
};

struct Layer {
    Matrix wq, wk, wv, wo, gate, up, down;
};

// Everything a step reads and writes on the device.
struct Model {
    GpuArray<uint8_t> weights;     // all matrices, Q8_0
    std::vector<Layer> layers;
    Matrix head{};
    GpuArray<float> norm_w;        // [kEmbd] shared by every norm (values do not matter to speed)
    GpuArray<float> x, q, k, v, attn, proj, gate, up, logits; // activations of one token
    GpuArray<uint8_t> act;         // [act_row_bytes(kFf)] matmul input
    GpuArray<int> pos;             // [1]
    GpuArray<float> attn_ws;       // dense split-K workspace
};

bool make_model(Model& m) {
    struct Shape {
        int rows, cols;
    };
    const Shape per_layer[7] = {{kQDim, kEmbd}, {kKvDim, kEmbd}, {kKvDim, kEmbd}, {kEmbd, kQDim},
                                {kFf, kEmbd},   {kFf, kEmbd},    {kEmbd, kFf}};
    size_t bytes = size_t(kVocab) * q8_row_bytes(kEmbd);
    for (const Shape& s : per_layer) bytes += size_t(kLayers) * s.rows * q8_row_bytes(s.cols);
    m.weights.alloc(bytes);
    // Small F16 values: Q8_0 scales ~1e-4 keep the residual stream finite over 32 layers.
    if (!m.weights.ok || !fill_u16(m.weights.ptr, bytes, [](float f) { return f32_to_f16(1e-4f * f); })) return false;
    size_t off = 0;
    const auto take = [&](Shape s) {
        Matrix mx{m.weights.ptr + off, s.rows, s.cols};
        off += size_t(s.rows) * q8_row_bytes(s.cols);
        return mx;
    };
    for (int il = 0; il < kLayers; ++il) {
        Layer l;
        Matrix* slots[7] = {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down};
        for (int i = 0; i < 7; ++i) *slots[i] = take(per_layer[i]);
        m.layers.push_back(l);
    }
    m.head = take({kVocab, kEmbd});
    std::vector<float> ones(kEmbd, 1.0f), x0(kEmbd);
    for (int i = 0; i < kEmbd; ++i) x0[i] = std::sin(0.37f * i);
    m.norm_w.upload(ones);
    m.x.upload(x0);
    m.proj.alloc(kEmbd);
    for (GpuArray<float>* a : {&m.q, &m.attn}) a->alloc(kQDim);
    for (GpuArray<float>* a : {&m.k, &m.v}) a->alloc(kKvDim);
    for (GpuArray<float>* a : {&m.gate, &m.up}) a->alloc(kFf);
    m.logits.alloc(kVocab);
    m.act.alloc(act_row_bytes(kFf));
    m.pos.alloc(1);
    m.attn_ws.alloc(cuda::attention_decode_workspace_floats(kHeads, kDim));
    return m.weights.ok && m.logits.ok && m.act.ok && m.attn_ws.ok;
}

// The KV cache and squeeze indexes of one context length.
struct Context {
    int n_fixed = 0, n_dyn = 0, n_ctx = 0;     // n_ctx = n_fixed + n_dyn + 1 (this step's token)
    GpuArray<__half> k, v;                      // [kLayers][kKvHeads][n_ctx][kDim]
    std::vector<std::unique_ptr<GpuSqueezeIndex>> index; // [kLayers], same tree, own memory
    GpuArray<float> sq_q;                       // [kHeads][kDim] synthetic query of the lookup
    float tau[2] = {};
    GpuArray<int> slots, n_keys;                // [kKvHeads][n_fixed], [kKvHeads]
    GpuArray<float> sq_out_lse;                 // [kHeads]
    GpuArray<char> sq_ws;
};

bool make_context(int n_fixed, int n_dyn, Context& c) {
    c.n_fixed = n_fixed;
    c.n_dyn = n_dyn;
    c.n_ctx = n_fixed + n_dyn + 1;
    const size_t elems = size_t(kLayers) * kKvHeads * c.n_ctx * kDim;
    c.k.alloc(elems);
    c.v.alloc(elems);
    if (!c.k.ok || !c.v.ok) return false;
    if (!fill_u16(c.k.ptr, elems * 2, [](float f) { return f32_to_f16(f); }) ||
        !fill_u16(c.v.ptr, elems * 2, [](float f) { return f32_to_f16(f); }))
        return false;
    std::mt19937 gen(11 + n_fixed);
    Noise noise{0x9e3779b97f4a7c15ULL ^ uint64_t(n_fixed) * 31};
    std::vector<squeeze::HeadIndex> heads;
    std::vector<float> q(size_t(kHeads) * kDim);
    const int group = kHeads / kKvHeads;
    for (int kv = 0; kv < kKvHeads; ++kv) {
        heads.push_back(e2e::make_head(n_fixed, kAlways, kDim, gen, noise));
        const squeeze::ClusterLevel& top = heads.back().levels[0];
        for (int g = 0; g < group; ++g) {
            const uint32_t p = std::uniform_int_distribution<uint32_t>(0, top.n_clusters - 1)(gen);
            for (int e = 0; e < kDim; ++e)
                q[(size_t(kv) * group + g) * kDim + e] = 2.0f * top.centroids[size_t{p} * kDim + e] + noise.next();
        }
    }
    const float scale = 1.0f / std::sqrt(float(kDim));
    const auto [tau1, tau2] = e2e::thresholds(heads, q, group, scale, kKv, kSparsity);
    c.tau[0] = tau1;
    c.tau[1] = tau2;
    std::vector<const squeeze::HeadIndex*> ptrs;
    for (const auto& h : heads) ptrs.push_back(&h);
    for (int il = 0; il < kLayers; ++il) {
        c.index.push_back(std::make_unique<GpuSqueezeIndex>());
        if (!upload_index(ptrs, kKv, *c.index.back())) return false;
    }
    c.sq_q.upload(q);
    c.slots.alloc(size_t(kKvHeads) * n_fixed);
    c.n_keys.alloc(kKvHeads);
    c.sq_out_lse.alloc(kHeads);
    return c.sq_q.ok && c.slots.ok && c.n_keys.ok;
}

enum class Attn { None, Dense, Squeezed, LookupOnly };

class Step {
public:
    Step(Model& m, Context& c) : m_(m), c_(c) {}

    // norm_w: x is RMS-normalised inside the conversion, as the forward pass does after a norm.
    cudaError_t matmul(const Matrix& w, const float* x, float* y, const float* norm_w = nullptr) {
        const cuda::QuantizeRowsParams qp{x, m_.act.ptr, act_type(), 1, w.cols, w.cols, act_row_bytes(w.cols), norm_w, 1e-5f};
        cudaError_t e = cuda::quantize_rows(qp, s_);
        if (e != cudaSuccess) return e;
        return gemv(w, y);
    }
    // The matmul alone, its input already quantized (for the GEMV bandwidth).
    cudaError_t gemv(const Matrix& w, float* y) {
        const cuda::MatmulQParams mp{w.w, cuda::WeightType::Q8_0, w.rows, w.cols, q8_row_bytes(w.cols), m_.act.ptr,
                                     act_row_bytes(w.cols), 1, y, w.rows};
        return fast_ ? cuda::matmul_vec(mp, s_) : cuda::matmul_q(mp, s_);
    }
    cuda::SqueezedDecodeParams squeezed_params(int il) {
        const size_t layer = size_t(il) * kKvHeads * c_.n_ctx * kDim;
        cuda::SqueezedDecodeParams p{};
        p.lookup = c_.index[il]->lookup(kKv, c_.tau);
        p.lookup.q = c_.sq_q.ptr;
        p.lookup.n_heads = kHeads;
        p.lookup.scale = 1.0f / std::sqrt(float(kDim));
        p.lookup.slots = c_.slots.ptr;
        p.lookup.n_keys = c_.n_keys.ptr;
        p.k = c_.k.ptr + layer;
        p.v = c_.v.ptr + layer;
        p.kv_head_stride = long(c_.n_ctx) * kDim;
        p.kv_type = kKv;
        p.n_fixed = c_.n_fixed;
        p.n_keys_hint = static_cast<int>((1.0f - kSparsity) * c_.n_fixed);
        p.k_dyn = c_.k.ptr + layer + size_t(c_.n_fixed) * kDim;
        p.v_dyn = c_.v.ptr + layer + size_t(c_.n_fixed) * kDim;
        p.dyn_head_stride = long(c_.n_ctx) * kDim;
        p.n_dyn = c_.n_dyn + 1;
        p.out = m_.attn.ptr;
        p.lse = c_.sq_out_lse.ptr;
        p.workspace = c_.sq_ws.ptr;
        return p;
    }

    cudaError_t attention(int il, Attn mode) {
        const size_t layer = size_t(il) * kKvHeads * c_.n_ctx * kDim;
        if (mode == Attn::Dense) {
            cuda::AttentionDecodeParams a{};
            a.q = m_.q.ptr;
            a.k = c_.k.ptr + layer;
            a.v = c_.v.ptr + layer;
            a.out = m_.attn.ptr;
            a.workspace = m_.attn_ws.ptr;
            a.kv_type = kKv;
            a.n_heads = kHeads;
            a.n_kv_heads = kKvHeads;
            a.head_dim = kDim;
            a.n_kv = c_.n_ctx;
            a.kv_head_stride = long(c_.n_ctx) * kDim;
            a.scale = 1.0f / std::sqrt(float(kDim));
            return cuda::attention_decode(a, s_);
        }
        cuda::SqueezedDecodeParams p = squeezed_params(il);
        if (mode == Attn::LookupOnly) {
            p.lookup.workspace = c_.sq_ws.ptr;
            return cuda::squeeze_lookup(p.lookup, s_);
        }
        return cuda::squeezed_decode(p, s_);
    }

    // One decode step: the forward pass's kernels in its order; attention as `mode`.
    cudaError_t run(Attn mode) {
#define SQ_E2E(expr) do { const cudaError_t e_ = (expr); if (e_ != cudaSuccess) return e_; } while (0)
        for (int il = 0; il < kLayers; ++il) {
            const Layer& l = m_.layers[il];
            SQ_E2E(matmul(l.wq, m_.x.ptr, m_.q.ptr, m_.norm_w.ptr));
            SQ_E2E(gemv(l.wk, m_.k.ptr)); // same quantized input
            SQ_E2E(gemv(l.wv, m_.v.ptr));
            for (const auto& [x, heads] : {std::pair{m_.q.ptr, kHeads}, std::pair{m_.k.ptr, kKvHeads}}) {
                const cuda::RopeParams rp{x, m_.pos.ptr, nullptr, 1, heads, kDim, kDim, long(heads) * kDim, 500000.0f, 1.0f, false};
                SQ_E2E(cuda::rope(rp, s_));
            }
            const size_t layer = size_t(il) * kKvHeads * c_.n_ctx * kDim;
            for (const auto& [src, cache] : {std::pair{m_.k.ptr, c_.k.ptr}, std::pair{m_.v.ptr, c_.v.ptr}}) {
                const cuda::KvStoreParams kp{src, cache + layer, 1, kKvHeads, kDim, c_.n_ctx, c_.n_ctx - 1, kKvDim};
                SQ_E2E(cuda::kv_store(kp, s_));
            }
            if (mode != Attn::None) SQ_E2E(attention(il, mode));
            SQ_E2E(matmul(l.wo, m_.attn.ptr, m_.proj.ptr));
            SQ_E2E(cuda::add({m_.x.ptr, m_.proj.ptr, kEmbd, kEmbd}, s_));
            SQ_E2E(matmul(l.gate, m_.x.ptr, m_.gate.ptr, m_.norm_w.ptr));
            SQ_E2E(gemv(l.up, m_.up.ptr));
            SQ_E2E(cuda::swiglu({m_.gate.ptr, m_.up.ptr, m_.gate.ptr, kFf}, s_));
            SQ_E2E(matmul(l.down, m_.gate.ptr, m_.proj.ptr));
            SQ_E2E(cuda::add({m_.x.ptr, m_.proj.ptr, kEmbd, kEmbd}, s_));
        }
        SQ_E2E(matmul(m_.head, m_.x.ptr, m_.logits.ptr, m_.norm_w.ptr));
        return cudaSuccess;
#undef SQ_E2E
    }

    // Milliseconds per replay of fn captured as one CUDA graph. Captured on capture_stream (the
    // legacy stream cannot capture), replayed on the legacy stream, where median_ms's events are.
    double graph_ms(const std::function<cudaError_t()>& fn, int reps) {
        cudaGraph_t g = nullptr;
        cudaGraphExec_t exec = nullptr;
        if (!ok(cudaStreamBeginCapture(capture_, cudaStreamCaptureModeThreadLocal), "capture")) return -1.0;
        s_ = capture_;
        const cudaError_t queued = fn();
        s_ = nullptr;
        if (!ok(cudaStreamEndCapture(capture_, &g), "capture") || !ok(queued, "capture") ||
            !ok(cudaGraphInstantiate(&exec, g, 0), "instantiate"))
            return -1.0;
        cudaGraphDestroy(g);
        const double ms = median_ms([&] { return cudaGraphLaunch(exec, nullptr); }, reps);
        cudaGraphExecDestroy(exec);
        return ok(cudaDeviceSynchronize(), "graph replays") ? ms : -1.0;
    }

    void set_capture_stream(cudaStream_t s) { capture_ = s; }

private:
    Model& m_;
    Context& c_;
    const bool fast_ = fast_gemv();
    cudaStream_t s_ = nullptr;       // where kernels are queued: the legacy stream, as median_ms times it
    cudaStream_t capture_ = nullptr; // non-blocking, for graph captures
};

size_t weight_bytes(const Matrix& w) { return size_t(w.rows) * q8_row_bytes(w.cols); }

} // namespace

int main(int argc, char** argv) {
    std::vector<int> contexts = {32768, 131072};
    int n_dyn = 64, reps = 10;
    const char* json = nullptr;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--contexts") {
            contexts.clear();
            for (const char* s = argv[i + 1]; *s;) {
                char* end = nullptr;
                contexts.push_back(static_cast<int>(std::strtol(s, &end, 10)));
                s = *end == ',' ? end + 1 : end;
                if (end == s && *s) break;
            }
        } else if (flag == "--dyn") n_dyn = std::atoi(argv[i + 1]);
        else if (flag == "--reps") reps = std::atoi(argv[i + 1]);
        else if (flag == "--json") json = argv[i + 1];
        else {
            std::fprintf(stderr, "usage: cuda-e2e-bench [--contexts 32768,131072] [--dyn 64] [--reps 10] [--json PATH]\n");
            return 2;
        }
    }
    for (const int n : contexts)
        if (n < 4 * kAlways || n_dyn < 0 || reps < 1) {
            std::fprintf(stderr, "contexts must be >= %d tokens, --dyn >= 0, --reps >= 1\n", 4 * kAlways);
            return 2;
        }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-e2e-bench: no GPU (%s)\n", probe.name);
        return 0;
    }
    Model m;
    if (!make_model(m)) {
        std::fprintf(stderr, "cannot allocate or fill the model\n");
        return 1;
    }
    cudaStream_t stream = nullptr;
    if (!ok(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "stream")) return 1;
    std::printf("card: %s; Llama-3.1-8B shape, Q8_0, %.2f GiB of weights; F16 KV; dynamic tokens %d; GEMV %s\n", probe.name,
                m.weights.n / double(1 << 30), n_dyn, fast_gemv() ? "matmul_vec" : "matmul_q (CPU order)");

    Json rows;
    std::string gemv_rows;
    bool gemv_done = false;
    for (const int n_fixed : contexts) {
        Context c;
        if (!make_context(n_fixed, n_dyn, c)) {
            std::fprintf(stderr, "cannot build the %d-token context (GPU memory?)\n", n_fixed);
            return 1;
        }
        Step step(m, c);
        step.set_capture_stream(stream);
        {
            cuda::SqueezedDecodeParams p = step.squeezed_params(0);
            c.sq_ws.alloc(std::max(cuda::squeezed_decode_workspace_bytes(p), cuda::squeeze_lookup_workspace_bytes(p.lookup)));
            if (!c.sq_ws.ok) return 1;
        }
        if (!gemv_done) {
            // One eager GEMV first: kernel attributes are set outside captures.
            if (!ok(step.gemv(m.head, m.logits.ptr), "eager GEMV") || !ok(cudaDeviceSynchronize(), "eager GEMV")) return 1;
            // Each matrix kind over the 32 layers' copies (no layer finds the last one's rows in L2),
            // one graph replay, so launch gaps do not count.
            std::printf("\n%-10s %7s %7s %10s %9s\n", "GEMV Q8_0", "rows", "cols", "us", "GB/s");
            const char* names[7] = {"attn_q", "attn_k", "attn_v", "attn_out", "ffn_gate", "ffn_up", "ffn_down"};
            for (int i = 0; i < 8; ++i) {
                const auto pick = [&](int il) -> const Matrix& {
                    const Layer& l = m.layers[il];
                    const Matrix* ms[7] = {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down};
                    return i == 7 ? m.head : *ms[i];
                };
                const int n = i == 7 ? 1 : kLayers;
                float* y = i == 7 ? m.logits.ptr : m.gate.ptr;
                const double ms = step.graph_ms([&] {
                    cudaError_t e = cudaSuccess;
                    for (int il = 0; il < n && e == cudaSuccess; ++il) e = step.gemv(pick(il), y);
                    return e;
                }, reps) / n;
                const double gbs = weight_bytes(pick(0)) / (ms * 1e-3) / 1e9;
                std::printf("%-10s %7d %7d %10.2f %9.0f\n", i == 7 ? "output" : names[i], pick(0).rows, pick(0).cols,
                            ms * 1e3, gbs);
                char buf[200];
                std::snprintf(buf, sizeof buf, "%s{\"matrix\": \"%s\", \"rows\": %d, \"cols\": %d, \"us\": %.3f, \"gb_s\": %.1f}",
                              gemv_rows.empty() ? "" : ", ", i == 7 ? "output" : names[i], pick(0).rows, pick(0).cols,
                              ms * 1e3, gbs);
                gemv_rows += buf;
            }
            gemv_done = true;
        }

        // Phases over all 32 layers, each as one graph replay.
        const double step_no_attn = step.graph_ms([&] { return step.run(Attn::None); }, reps);
        const double gemv_all = step.graph_ms([&] {
            cudaError_t e = cudaSuccess;
            for (int il = 0; il < kLayers && e == cudaSuccess; ++il) {
                const Layer& l = m.layers[il];
                for (const Matrix* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down})
                    if (e == cudaSuccess) e = step.gemv(*w, w->rows == kFf ? m.gate.ptr : m.proj.ptr);
            }
            return e == cudaSuccess ? step.gemv(m.head, m.logits.ptr) : e;
        }, reps);
        const auto layers_of = [&](Attn mode) {
            return step.graph_ms([&] {
                cudaError_t e = cudaSuccess;
                for (int il = 0; il < kLayers && e == cudaSuccess; ++il) e = step.attention(il, mode);
                return e;
            }, reps);
        };
        const double dense_attn = layers_of(Attn::Dense);
        const double squeezed_attn = layers_of(Attn::Squeezed);
        const double lookup = layers_of(Attn::LookupOnly);
        const double dense_step = step.graph_ms([&] { return step.run(Attn::Dense); }, reps);
        const double squeezed_step = step.graph_ms([&] { return step.run(Attn::Squeezed); }, reps);
        if (dense_step < 0 || squeezed_step < 0 || lookup < 0 || gemv_all < 0) return 1;

        if (!ok(cudaDeviceSynchronize(), "decode steps")) return 1;
        const std::vector<int> keys = c.n_keys.download();
        double selected = 0.0;
        for (const int k : keys) selected += k;
        const double achieved = 1.0 - selected / (double(kKvHeads) * n_fixed);
        const double kv_dense_gb = 2.0 * kLayers * kKvHeads * double(c.n_ctx) * kDim * 2 / 1e9;
        std::printf("\ncontext %d fixed + %d dynamic tokens; squeezed: tau1 %.3g tau2 %.3g, achieved sparsity %.3f "
                    "(layer 31's key count)\n", n_fixed, n_dyn + 1, c.tau[0], c.tau[1], achieved);
        std::printf("  %-42s %9.3f ms  (%.0f GB/s of weights)\n", "GEMVs alone (224 + head)", gemv_all,
                    m.weights.n / (gemv_all * 1e-3) / 1e9);
        std::printf("  %-42s %9.3f ms\n", "step without attention", step_no_attn);
        std::printf("  %-42s %9.3f ms  (%.0f GB/s of K/V)\n", "dense attention, 32 layers", dense_attn,
                    kv_dense_gb / (dense_attn * 1e-3));
        std::printf("  %-42s %9.3f ms  (lookup alone %.3f ms, %.0f%%)\n", "squeezed attention 90%, 32 layers",
                    squeezed_attn, lookup, 100.0 * lookup / squeezed_attn);
        std::printf("  %-42s %9.3f ms  %8.1f tok/s\n", "decode step, dense", dense_step, 1e3 / dense_step);
        std::printf("  %-42s %9.3f ms  %8.1f tok/s  (%.2fx dense)\n", "decode step, squeezed 90%", squeezed_step,
                    1e3 / squeezed_step, dense_step / squeezed_step);
        char buf[1024];
        std::snprintf(buf, sizeof buf,
                      "\"n_fixed\": %d, \"n_dyn\": %d, \"tau1\": %.6g, \"tau2\": %.6g, \"achieved_sparsity\": %.4f, "
                      "\"gemv_ms\": %.4f, \"gemv_weights_gb_s\": %.1f, \"step_no_attention_ms\": %.4f, "
                      "\"dense_attention_ms\": %.4f, \"dense_kv_gb_s\": %.1f, \"squeezed_attention_ms\": %.4f, "
                      "\"lookup_ms\": %.4f, \"dense_step_ms\": %.4f, \"squeezed_step_ms\": %.4f, "
                      "\"dense_tok_s\": %.2f, \"squeezed_tok_s\": %.2f",
                      n_fixed, n_dyn + 1, c.tau[0], c.tau[1], achieved, gemv_all, m.weights.n / (gemv_all * 1e-3) / 1e9,
                      step_no_attn, dense_attn, kv_dense_gb / (dense_attn * 1e-3), squeezed_attn, lookup, dense_step,
                      squeezed_step, 1e3 / dense_step, 1e3 / squeezed_step);
        rows.add(std::string("{") + buf + "}");
    }
    if (json) {
        const char* commit = std::getenv("COMMIT");
        const std::string fields = std::string("\"card\": \"") + probe.name + "\", \"commit\": \"" +
                                   (commit ? commit : "unknown") +
                                   "\", \"model\": \"Llama-3.1-8B shape, Q8_0, random weights\", \"kv\": \"f16\", \"gemv_kernel\": \"" +
                                   (fast_gemv() ? "matmul_vec" : "matmul_q") + "\", "
                                   "\"sparsity_target\": 0.9, \"reps\": " + std::to_string(reps) +
                                   ", \"gemv\": [" + gemv_rows + "]";
        if (!write_bench_json(json, "cuda-e2e-bench", fields, {{"contexts", &rows}})) return 1;
    }
    cudaStreamDestroy(stream);
    return 0;
}

#else

int main() {
    std::printf("cuda-e2e-bench: built without CUDA\n");
    return 0;
}

#endif
