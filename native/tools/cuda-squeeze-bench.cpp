// cuda-squeeze-bench: squeezed decode attention on the GPU, lookup included, against our dense
// split-K decode over the same cache (PyTorch SDPA, cuDNN and flash, runs beside it in
// bench/gpu/sdpa_bench.py; bench/gpu/report.py joins the two).
//
// One query token, bf16, H = 32, d = 128, KV heads 32 and 8, N = 32K..512K fixed-context keys.
// Synthetic clustered index per KV head: K2 = 5% of N finest clusters of uneven sizes (uniform
// random cuts: roughly exponential sizes, a few empty), K1 = 1% of N parents of uneven child counts,
// 104 always-attended slots (4 sinks + a 100-token window); children's centroids are their parent's
// plus noise, so the levels agree as with real keys. Thresholds per target sparsity are set like
// calibration on this token's own scores: tau2 keeps the clusters of highest group-max score until
// 1 - sparsity of the keys; tau1 lets the parents of 99% of those keys survive (calibration's
// parent_keep), so the tree loses ~1% of them. The achieved sparsity is the GPU's own key count.
// Bytes: "kv" = K and V rows read (selected keys); "lookup" = centroids read (all of level 1, the
// children of passing parents at level 2). Copies of the whole index are rotated so that no call
// finds the previous call's rows in L2 (as in a real decode, where the other layers evict them).
// Times: median over 7 batches of --reps back-to-back calls (CUDA events).
//
// "graph": the same calls replayed from CUDA graphs. "alt": the same lookup, then the fixed part the
// default does not pick for this group ("per-head": attention_decode splitting each head's list on
// its own; "equal chunks": squeezed_attention across all heads).
//
//   cuda-squeeze-bench [--reps 20] [--json FILE] [--min-keys 0] [--max-keys 524288]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "attention-decode.cuh"
#include "cuda-bench-util.h"
#include "cuda-squeeze-index.h"
#include "cuda-synthetic-index.h"
#include "device.cuh"
#include "squeezed-decode.cuh"

using namespace sq;
using namespace sq::tools;

namespace {

constexpr int kHeads = 32, kDim = 128, kAlways = 104;
constexpr cuda::KvType kType = cuda::KvType::BF16;
const float kSparsities[] = {0.7f, 0.8f, 0.9f, 0.95f};

struct Options {
    int reps = 20;
    long min_keys = 0;
    long max_keys = 512 * 1024;
    const char* json_path = nullptr;
};

// log s of every cluster for every head of the group (before any pruning): [level][g][j].
void log_scores(const squeeze::HeadIndex& h, const float* q, int group, float scale, std::vector<std::vector<double>>& out) {
    out.assign(2, {});
    std::vector<double> log_d_g(group);
    for (int l = 0; l < 2; ++l) {
        const squeeze::ClusterLevel& lv = h.levels[l];
        out[l].resize(size_t(group) * lv.n_clusters);
        for (int g = 0; g < group; ++g) {
            for (uint32_t j = 0; j < lv.n_clusters; ++j) {
                double dot = 0.0;
                for (int e = 0; e < kDim; ++e)
                    dot += double(q[g * kDim + e]) * from_cache(kType, to_cache(kType, lv.centroids[size_t{j} * kDim + e]));
                out[l][size_t(g) * lv.n_clusters + j] = scale * dot;
            }
            if (l == 0) {
                double m = -INFINITY, s = 0.0;
                for (uint32_t j = 0; j < lv.n_clusters; ++j)
                    if (lv.counts[j]) m = std::max(m, out[0][size_t(g) * lv.n_clusters + j] + std::log(double(lv.counts[j])));
                for (uint32_t j = 0; j < lv.n_clusters; ++j)
                    if (lv.counts[j]) s += std::exp(out[0][size_t(g) * lv.n_clusters + j] + std::log(double(lv.counts[j])) - m);
                log_d_g[g] = m + std::log(s);
            }
        }
        for (int g = 0; g < group; ++g)
            for (uint32_t j = 0; j < lv.n_clusters; ++j) out[l][size_t(g) * lv.n_clusters + j] -= log_d_g[g];
    }
}

struct Shape {
    int n_kv_heads, n_tokens;
};

struct Setup {
    std::vector<squeeze::HeadIndex> heads;
    std::vector<float> q; // [kHeads][kDim]
    std::vector<std::vector<std::vector<double>>> scores; // [kv][level][g][j] log s
    std::vector<std::vector<uint32_t>> parent;            // [kv][j] level-1 parent of finest cluster j
};

// (tau1, tau2) so that the finest clusters of highest group-max score hold 1 - sparsity of the keys.
std::pair<float, float> thresholds(const Setup& s, int n_kv_heads, int n_tokens, float sparsity) {
    const int group = kHeads / n_kv_heads;
    struct Cand {
        double log_s;
        int kv;
        uint32_t j;
    };
    std::vector<Cand> cands;
    for (int kv = 0; kv < n_kv_heads; ++kv) {
        const squeeze::ClusterLevel& fine = s.heads[kv].levels[1];
        for (uint32_t j = 0; j < fine.n_clusters; ++j) {
            double m = -INFINITY;
            for (int g = 0; g < group; ++g) m = std::max(m, s.scores[kv][1][size_t(g) * fine.n_clusters + j]);
            cands.push_back({m, kv, j});
        }
    }
    std::sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) { return a.log_s > b.log_s; });
    const double goal = (1.0 - sparsity) * double(n_tokens) * n_kv_heads - double(kAlways) * n_kv_heads;
    double keys = 0.0;
    size_t n = 0;
    while (n < cands.size() && keys < goal) keys += s.heads[cands[n].kv].levels[1].counts[cands[n].j], ++n;
    if (n == 0) return {1.0f, 1.0f};
    const double log_tau2 = n < cands.size() ? 0.5 * (cands[n - 1].log_s + cands[n].log_s) : cands.back().log_s - 1.0;
    // tau1 as calibration sets it (parent_keep 0.99): the parents of 99% of the kept keys, counted
    // per (cluster, head) that passed, survive.
    std::vector<std::pair<double, double>> parent_keys; // (log s of the parent for that head, keys)
    double kept = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const squeeze::HeadIndex& h = s.heads[cands[i].kv];
        const uint32_t k1 = h.levels[0].n_clusters, k2 = h.levels[1].n_clusters;
        const uint32_t parent = s.parent[cands[i].kv][cands[i].j];
        const double count = h.levels[1].counts[cands[i].j];
        for (int g = 0; g < group; ++g)
            if (s.scores[cands[i].kv][1][size_t(g) * k2 + cands[i].j] >= log_tau2) {
                parent_keys.push_back({s.scores[cands[i].kv][0][size_t(g) * k1 + parent], count});
                kept += count;
            }
    }
    std::sort(parent_keys.begin(), parent_keys.end());
    double dropped = 0.0, log_tau1 = parent_keys.empty() ? 0.0 : parent_keys[0].first;
    for (const auto& [log_s, count] : parent_keys) {
        if (dropped + count > 0.01 * kept) {
            log_tau1 = log_s;
            break;
        }
        dropped += count;
    }
    log_tau1 -= 1e-4;
    return {static_cast<float>(std::exp(log_tau1)), static_cast<float>(std::exp(log_tau2))};
}

void bench_shape(const Options& opt, Shape shape, Json& rows) {
    const int hkv = shape.n_kv_heads, n = shape.n_tokens, group = kHeads / hkv;
    const float scale = 1.0f / std::sqrt(float(kDim));
    const uint32_t k1 = std::max(1, n / 100), k2 = std::max(1, n / 20);
    std::mt19937 gen(11 + n + hkv);
    Noise noise{0x9e3779b97f4a7c15ULL ^ uint64_t(n) * 31 ^ uint64_t(hkv)};
    Setup s;
    s.heads.reserve(hkv);
    s.q.resize(size_t(kHeads) * kDim);
    s.scores.resize(hkv);
    for (int kv = 0; kv < hkv; ++kv) {
        s.heads.push_back(make_synthetic_head(n, k1, k2, kAlways, kDim, gen, noise));
        // Each query head leans towards one parent's direction, as real queries favour a few clusters.
        for (int g = 0; g < group; ++g) {
            const uint32_t p = std::uniform_int_distribution<uint32_t>(0, k1 - 1)(gen);
            for (int e = 0; e < kDim; ++e)
                s.q[(size_t(kv) * group + g) * kDim + e] = 2.0f * s.heads[kv].levels[0].centroids[size_t{p} * kDim + e] + noise.next();
        }
        log_scores(s.heads[kv], s.q.data() + size_t(kv) * group * kDim, group, scale, s.scores[kv]);
        const squeeze::ClusterLevel& top = s.heads[kv].levels[0];
        s.parent.emplace_back(k2);
        for (uint32_t p = 0; p < k1; ++p)
            for (uint32_t c = top.first[p]; c < top.first[p + 1]; ++c) s.parent.back()[c] = p;
    }

    const size_t kv_bytes = size_t(hkv) * n * kDim * 2;           // one of K, V
    const size_t dense_bytes = 2 * kv_bytes;
    const int copies = static_cast<int>(std::clamp<size_t>((size_t(256) << 20) / std::max<size_t>(1, dense_bytes / 20) + 1, 1, 16));
    std::vector<std::unique_ptr<GpuSqueezeIndex>> idx;
    std::vector<const squeeze::HeadIndex*> ptrs;
    for (const auto& h : s.heads) ptrs.push_back(&h);
    GpuArray<uint16_t> k(kv_bytes / 2 * copies), v(kv_bytes / 2 * copies);
    if (!k.ok || !v.ok) return;
    fill_u16(k.ptr, kv_bytes * copies, [](float f) { return f32_to_bf16(f); });
    fill_u16(v.ptr, kv_bytes * copies, [](float f) { return f32_to_bf16(f); });
    for (int c = 0; c < copies; ++c) {
        idx.push_back(std::make_unique<GpuSqueezeIndex>());
        if (!upload_index(ptrs, kType, *idx.back())) return;
    }
    GpuArray<float> q(s.q.size()), out(size_t(kHeads) * kDim), lse(kHeads);
    q.upload(s.q);
    GpuArray<int> slots(size_t(hkv) * n), n_keys(hkv);
    GpuArray<float> dense_ws(cuda::attention_decode_workspace_floats(kHeads, kDim));

    // Our dense decode over the same store (every slot), same rotation.
    int turn = 0;
    const double dense_ms = median_ms([&] {
        cuda::AttentionDecodeParams a{};
        const size_t off = size_t(turn++ % copies) * kv_bytes / 2;
        a.q = q.ptr;
        a.k = k.ptr + off;
        a.v = v.ptr + off;
        a.out = out.ptr;
        a.lse = lse.ptr;
        a.workspace = dense_ws.ptr;
        a.kv_type = kType;
        a.n_heads = kHeads;
        a.n_kv_heads = hkv;
        a.head_dim = kDim;
        a.n_kv = n;
        a.kv_head_stride = long(n) * kDim;
        a.scale = scale;
        return cuda::attention_decode(a, nullptr);
    }, opt.reps);
    std::printf("%4d %7d  dense (ours)        %9.4f ms %6.2f TB/s\n", hkv, n, dense_ms, dense_bytes / (dense_ms * 1e-3) / 1e12);

    for (const float sparsity : kSparsities) {
        const auto [tau1, tau2] = thresholds(s, hkv, n, sparsity);
        const float tau[2] = {tau1, tau2};
        const auto params = [&](int c) {
            cuda::SqueezedDecodeParams p{};
            p.lookup = idx[c]->lookup(kType, tau);
            p.lookup.q = q.ptr;
            p.lookup.n_heads = kHeads;
            p.lookup.scale = scale;
            p.lookup.slots = slots.ptr;
            p.lookup.n_keys = n_keys.ptr;
            p.k = k.ptr + size_t(c) * kv_bytes / 2;
            p.v = v.ptr + size_t(c) * kv_bytes / 2;
            p.kv_head_stride = long(n) * kDim;
            p.kv_type = kType;
            p.n_fixed = n;
            p.n_keys_hint = static_cast<int>((1.0f - sparsity) * n);
            p.out = out.ptr;
            p.lse = lse.ptr;
            return p;
        };
        cuda::SqueezedDecodeParams p0 = params(0);
        GpuArray<char> ws(cuda::squeezed_decode_workspace_bytes(p0));
        p0.workspace = ws.ptr;
        if (!ok(cuda::squeezed_decode(p0, nullptr), "squeezed_decode") || !ok(cudaDeviceSynchronize(), "sync")) return;
        const std::vector<int> keys = n_keys.download();
        double selected = 0.0;
        int most = 0;
        for (int x : keys) selected += x, most = std::max(most, x);
        const double head_spread = selected > 0 ? most / (selected / hkv) : 0.0; // largest head's keys / mean
        const double achieved = 1.0 - selected / (double(hkv) * n);

        // The default and, as "alt", the same lookup with the other fixed part (squeezed-decode.cuh):
        // attention_decode splitting each head's list on its own, or equal chunks across all heads.
        const auto timed = [&](int per_head_split) {
            turn = 0;
            return median_ms([&] {
                cuda::SqueezedDecodeParams p = params(turn++ % copies);
                p.workspace = ws.ptr;
                p.per_head_split = per_head_split;
                return cuda::squeezed_decode(p, nullptr);
            }, opt.reps);
        };
        const double total_ms = timed(0);
        // The same calls replayed from CUDA graphs (one per index copy): the host's launches (a memset
        // and three kernels a call) leave the timing, what remains are the kernels and their boundaries.
        double graph_ms = -1.0;
        {
            cudaStream_t stream = nullptr;
            std::vector<cudaGraphExec_t> graphs;
            bool graph_ok = ok(cudaStreamCreate(&stream), "stream");
            for (int c = 0; c < copies && graph_ok; ++c) {
                cuda::SqueezedDecodeParams p = params(c);
                p.workspace = ws.ptr;
                cudaGraph_t graph = nullptr;
                cudaGraphExec_t exec = nullptr;
                graph_ok = ok(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capture");
                const cudaError_t launched = graph_ok ? cuda::squeezed_decode(p, stream) : cudaSuccess;
                if (graph_ok) graph_ok = ok(cudaStreamEndCapture(stream, &graph), "end capture") && ok(launched, "captured launch");
                if (graph_ok) graph_ok = ok(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
                if (graph) cudaGraphDestroy(graph);
                if (exec) graphs.push_back(exec);
            }
            if (graph_ok) {
                turn = 0;
                graph_ms = median_ms([&] { return cudaGraphLaunch(graphs[turn++ % copies], stream); }, opt.reps);
            }
            for (cudaGraphExec_t g : graphs) cudaGraphExecDestroy(g);
            if (stream) cudaStreamDestroy(stream);
        }
        const double alt_ms = timed(group == 1 ? -1 : 1);
        const char* alt_kernel = group == 1 ? "equal chunks" : "per-head";
        turn = 0;
        // The lookup alone, at its default register cap and at 3 blocks an SM (80 registers).
        const auto lookup_timed = [&](int blocks_per_sm) {
            turn = 0;
            return median_ms([&] {
                cuda::SqueezedDecodeParams p = params(turn++ % copies);
                p.lookup.workspace = ws.ptr;
                p.lookup.blocks_per_sm = blocks_per_sm;
                return cuda::squeeze_lookup(p.lookup, nullptr);
            }, opt.reps);
        };
        const double lookup_ms = lookup_timed(0), lookup3_ms = lookup_timed(3);
        // Centroid bytes: all of level 1, level-2 children of parents that pass for some head (host count).
        double scored2 = 0.0;
        for (int kv = 0; kv < hkv; ++kv) {
            const squeeze::ClusterLevel& top = s.heads[kv].levels[0];
            for (uint32_t p = 0; p < k1; ++p) {
                bool pass = false;
                for (int g = 0; g < group && !pass; ++g) pass = s.scores[kv][0][size_t(g) * k1 + p] >= std::log(double(tau1));
                if (pass) scored2 += top.first[p + 1] - top.first[p];
            }
        }
        const double lookup_bytes = (double(hkv) * k1 + scored2) * kDim * 2;
        const double read_bytes = selected * kDim * 2 * 2 + lookup_bytes;
        const double tbps = read_bytes / (total_ms * 1e-3) / 1e12;
        std::printf("%4d %7d  sparsity %.2f (%.3f) %9.4f ms %6.2f TB/s  lookup %.4f ms (%4.1f%%)  %5.2fx ours dense  %s %.4f ms"
                    "  heads max/mean %.2f  graph %.4f ms  lookup at 3 blocks/SM %.4f ms\n", hkv, n, sparsity, achieved, total_ms, tbps,
                    lookup_ms, 100.0 * lookup_ms / total_ms, dense_ms / total_ms, alt_kernel, alt_ms, head_spread, graph_ms, lookup3_ms);
        char row[768];
        std::snprintf(row, sizeof row,
                      "{\"kv\": \"bf16\", \"H\": %d, \"Hkv\": %d, \"d\": %d, \"keys\": %d, \"k1\": %u, \"k2\": %u, "
                      "\"target_sparsity\": %.2f, \"achieved_sparsity\": %.4f, \"ms\": %.5f, \"lookup_ms\": %.5f, "
                      "\"lookup_share\": %.4f, \"dense_ours_ms\": %.5f, \"kv_bytes\": %.0f, \"lookup_bytes\": %.0f, "
                      "\"tbps\": %.4f, \"copies\": %d, \"alt_kernel\": \"%s\", \"alt_ms\": %.5f, \"head_keys_max_over_mean\": %.3f, "
                      "\"graph_ms\": %.5f, \"lookup_3_blocks_ms\": %.5f}",
                      kHeads, hkv, kDim, n, k1, k2, sparsity, achieved, total_ms, lookup_ms, lookup_ms / total_ms, dense_ms,
                      selected * kDim * 4, lookup_bytes, tbps, copies, alt_kernel, alt_ms, head_spread, graph_ms, lookup3_ms);
        rows.add(row);
    }
}

} // namespace

int main(int argc, char** argv) {
    Options opt;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (!std::strcmp(argv[i], "--reps") && has_value) opt.reps = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--json") && has_value) opt.json_path = argv[++i];
        else if (!std::strcmp(argv[i], "--max-keys") && has_value) opt.max_keys = std::max(1L, std::atol(argv[++i]));
        else if (!std::strcmp(argv[i], "--min-keys") && has_value) opt.min_keys = std::atol(argv[++i]);
        else {
            std::fprintf(stderr, "usage: cuda-squeeze-bench [--reps N] [--json FILE] [--min-keys N] [--max-keys N]\n");
            return 2;
        }
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-squeeze-bench: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("cuda-squeeze-bench on %s\n", probe.name);
    std::printf(" Hkv    keys  what                       time       bandwidth\n");
    Json rows;
    for (const int hkv : {32, 8})
        for (const int n : {32768, 131072, 262144, 524288})
            if (n >= opt.min_keys && n <= opt.max_keys) bench_shape(opt, Shape{hkv, n}, rows);
    char fields[320];
    std::snprintf(fields, sizeof fields, "\"card\": \"%s\",\n  \"reps\": %d", probe.name, opt.reps);
    if (opt.json_path && !write_bench_json(opt.json_path, "cuda-squeeze-bench", fields, {{"squeezed", &rows}})) return 1;
    return 0;
}

#else

int main() {
    std::printf("cuda-squeeze-bench: skipped, built without CUDA\n");
    return 0;
}

#endif
