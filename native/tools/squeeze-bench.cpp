// squeeze-bench: the squeeze pipeline on a synthetic KV cache of a given shape (default: SmolLM2 at
// 8K, 30 layers x 3 KV heads x 64 dims, 9 query heads): clustering time (the pack's offline cost),
// calibration time, then one decode token's fixed-context attention over all layers, dense vs
// squeezed at calibrated sparsities, with achieved sparsity on fresh queries and bytes read.
// Keys are drawn around topic directions plus a shared offset (real post-RoPE keys look like that);
// the timings depend on the shape, not on the values, except K-means' iteration count.
//
//   squeeze-bench [--tokens 8192] [--layers 30] [--kv-heads 3] [--group 3] [--dim 64] [--threads 0]
//                 [--reps 20] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/thread-pool.h"
#include "common/half.h"
#include "squeeze/calibrate.h"
#include "squeeze/cluster-index.h"
#include "squeeze/layer-attention.h"

using namespace sq;
using namespace sq::squeeze;

namespace {

struct Options {
    uint32_t tokens = 8192, layers = 30, kv_heads = 3, group = 3, dim = 64, threads = 0, reps = 20;
    const char* json_path = nullptr;
};

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

std::string first_line_of(const char* cmd) {
    FILE* p = popen(cmd, "r");
    if (!p) return "unknown";
    char buf[256] = {0};
    const bool ok = std::fgets(buf, sizeof buf, p) != nullptr;
    pclose(p);
    std::string s = ok ? buf : "unknown";
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
}

bool parse_args(int argc, char** argv, Options* o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return false;
        const char* v = argv[++i];
        if (a == "--json") { o->json_path = v; continue; }
        const long n = std::strtol(v, nullptr, 10);
        if (n < 0 || n > (1L << 24)) return false;
        const uint32_t u = static_cast<uint32_t>(n);
        if (a == "--tokens") o->tokens = u;
        else if (a == "--layers") o->layers = u;
        else if (a == "--kv-heads") o->kv_heads = u;
        else if (a == "--group") o->group = u;
        else if (a == "--dim") o->dim = u;
        else if (a == "--threads") o->threads = u;
        else if (a == "--reps") o->reps = u;
        else return false;
    }
    return o->tokens > 0 && o->layers > 0 && o->kv_heads > 0 && o->group > 0 && o->dim > 0 && o->reps > 0;
}

// Cache [layers][kv_heads][n_ctx][dim] f16 and, per (layer, KV head), the topics its keys use.
struct Synthetic {
    uint32_t n_ctx = 0;
    std::vector<uint16_t> k, v;
    std::vector<float> topics; // [layers][kv_heads][n_topics][dim]
    uint32_t n_topics = 64;
};

Synthetic make_cache(const Options& o) {
    Synthetic s;
    s.n_ctx = o.tokens + 1; // one decode row after the fixed context
    const size_t per_head = size_t{s.n_ctx} * o.dim;
    s.k.resize(per_head * o.layers * o.kv_heads);
    s.v.resize(s.k.size());
    s.topics.resize(size_t{o.layers} * o.kv_heads * s.n_topics * o.dim);
    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& t : s.topics) t = normal(rng);
    std::vector<float> offset(o.dim);
    for (uint32_t lh = 0; lh < o.layers * o.kv_heads; ++lh) {
        for (float& x : offset) x = 0.7f * normal(rng);
        const float* topics = s.topics.data() + size_t{lh} * s.n_topics * o.dim;
        for (uint32_t t = 0; t < s.n_ctx; ++t) {
            const uint32_t topic = static_cast<uint32_t>(rng() % s.n_topics);
            for (uint32_t d = 0; d < o.dim; ++d) {
                const size_t at = lh * per_head + size_t{t} * o.dim + d;
                s.k[at] = f32_to_f16(offset[d] + topics[size_t{topic} * o.dim + d] + 0.5f * normal(rng));
                s.v[at] = f32_to_f16(normal(rng));
            }
        }
    }
    return s;
}

// [layers][n][kv_heads * group][dim]: each row points at one topic of its KV head.
std::vector<float> make_queries(const Options& o, const Synthetic& s, uint32_t n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const uint32_t n_heads = o.kv_heads * o.group;
    std::vector<float> q(size_t{o.layers} * n * n_heads * o.dim);
    for (uint32_t l = 0; l < o.layers; ++l)
        for (uint32_t t = 0; t < n; ++t)
            for (uint32_t h = 0; h < n_heads; ++h) {
                const float* topics = s.topics.data() + (size_t{l} * o.kv_heads + h / o.group) * s.n_topics * o.dim;
                const uint32_t topic = static_cast<uint32_t>(rng() % s.n_topics);
                float* row = q.data() + ((size_t{l} * n + t) * n_heads + h) * o.dim;
                for (uint32_t d = 0; d < o.dim; ++d) row[d] = 1.5f * topics[size_t{topic} * o.dim + d] + 0.5f * normal(rng);
            }
    return q;
}

struct DecodeResult {
    std::string mode;
    double ms_per_token = 0.0; // all layers, fixed + dynamic attention, median over reps
    double sparsity = 0.0;
    double bytes_ratio = 1.0;  // bytes read / dense bytes
    double lookup_share = 0.0;
};

} // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse_args(argc, argv, &o)) {
        std::fprintf(stderr, "usage: squeeze-bench [--tokens N] [--layers L] [--kv-heads H] [--group G] [--dim D] [--threads T] [--reps R] [--json FILE]\n");
        return 2;
    }
    const uint32_t n_heads = o.kv_heads * o.group;
    const float scale = 1.0f / std::sqrt(static_cast<float>(o.dim));
    cpu::ThreadPool pool(o.threads);
    const Synthetic syn = make_cache(o);

    // Offline: clustering, then calibration on the last 100 fixed-context tokens' queries.
    const KvView view{syn.k.data(), syn.v.data(), KvElem::F16, o.layers, o.kv_heads, o.dim, syn.n_ctx, o.tokens};
    ClusterParams cp;
    cp.n_threads = pool.n_threads();
    ClusterIndex index;
    double t0 = now_s();
    Status st = cluster_index_build(view, cp, BuildProgress{}, index);
    const double cluster_s = now_s() - t0;
    if (!st) {
        std::fprintf(stderr, "%s: %s\n", st.code.c_str(), st.message.c_str());
        return 1;
    }
    const uint32_t n_cal = std::min(100u, o.tokens);
    const std::vector<float> q_cal = make_queries(o, syn, n_cal, 2);
    Thresholds th;
    t0 = now_s();
    st = calibrate(index, q_cal.data(), n_cal, n_heads, scale, CalibrationParams{}, th);
    const double calibrate_s = now_s() - t0;
    if (!st) {
        std::fprintf(stderr, "%s: %s\n", st.code.c_str(), st.message.c_str());
        return 1;
    }

    // Online: one decode token (fresh queries) through every layer.
    const std::vector<float> q_dec = make_queries(o, syn, o.reps, 3);
    std::vector<float> out(size_t{n_heads} * o.dim);
    LayerScratch scratch;
    std::vector<DecodeResult> results;
    auto run_mode = [&](const std::string& name, SelectMode mode, int target) {
        SqueezeStats stats;
        stats.reset(index);
        std::vector<double> times;
        for (uint32_t r = 0; r < o.reps; ++r) {
            const double start = now_s();
            for (uint32_t l = 0; l < o.layers; ++l) {
                LayerAttention a;
                a.index = &index;
                a.layer = l;
                a.n_heads = n_heads;
                a.n_tokens = 1;
                a.q = q_dec.data() + (size_t{l} * o.reps + r) * n_heads * o.dim;
                a.k_dyn = syn.k.data() + size_t{l} * o.kv_heads * syn.n_ctx * o.dim + size_t{o.tokens} * o.dim;
                a.v_dyn = syn.v.data() + size_t{l} * o.kv_heads * syn.n_ctx * o.dim + size_t{o.tokens} * o.dim;
                a.elem = KvElem::F16;
                a.dyn_head_stride = size_t{syn.n_ctx} * o.dim;
                a.scale = scale;
                a.select.mode = mode;
                if (target >= 0) a.select.tau = th.tau(static_cast<size_t>(target), l, true);
                a.out = out.data();
                squeeze_attend_layer(a, pool, scratch, &stats);
            }
            times.push_back(now_s() - start);
        }
        std::sort(times.begin(), times.end());
        DecodeResult res;
        res.mode = name;
        res.ms_per_token = times[times.size() / 2] * 1e3;
        res.sparsity = stats.sparsity();
        res.bytes_ratio = double(stats.bytes_read) / double(stats.bytes_dense);
        res.lookup_share = stats.lookup_seconds / (stats.lookup_seconds + stats.attention_seconds);
        results.push_back(res);
    };
    run_mode("dense", SelectMode::Dense, -1);
    for (size_t t = 0; t < th.targets.size(); ++t) {
        char name[32];
        std::snprintf(name, sizeof name, "sparsity %.0f%%", th.targets[t] * 100.0f);
        run_mode(name, SelectMode::Threshold, static_cast<int>(t));
    }

    const uint32_t n_tasks = o.layers * o.kv_heads;
    std::printf("shape: %u tokens x %u layers x %u KV heads (group %u) x %u dims, %u threads\n", o.tokens, o.layers, o.kv_heads,
                o.group, o.dim, pool.n_threads());
    std::printf("clusters per head: level 1 %u, level 2 %u\n", index.heads[0].levels[0].n_clusters, index.heads[0].levels[1].n_clusters);
    std::printf("clustering: %.2f s (%.1f ms per (layer, KV head))   calibration (%u queries, 5 targets): %.2f s\n\n", cluster_s,
                cluster_s * 1e3 / n_tasks * pool.n_threads(), n_cal, calibrate_s);
    std::printf("%-14s %14s %10s %12s %14s %10s\n", "mode", "ms/token", "speedup", "sparsity", "bytes vs dense", "lookup");
    for (const auto& r : results)
        std::printf("%-14s %14.3f %9.2fx %11.1f%% %13.1f%% %9.1f%%\n", r.mode.c_str(), r.ms_per_token,
                    results[0].ms_per_token / r.ms_per_token, r.sparsity * 100.0, r.bytes_ratio * 100.0, r.lookup_share * 100.0);

    if (o.json_path) {
        FILE* f = std::fopen(o.json_path, "w");
        if (!f) {
            std::fprintf(stderr, "cannot write %s\n", o.json_path);
            return 1;
        }
        std::string command;
        for (int i = 0; i < argc; ++i) command += (i ? " " : "") + std::string(argv[i]);
        std::fprintf(f, "{\"tool\":\"squeeze-bench\",\"machine\":\"%s\",\"commit\":\"%s\",\"command\":\"%s\",", 
                     first_line_of("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'").c_str(),
                     first_line_of("git rev-parse --short HEAD 2>/dev/null").c_str(), command.c_str());
        std::fprintf(f, "\"tokens\":%u,\"layers\":%u,\"kv_heads\":%u,\"group\":%u,\"dim\":%u,\"threads\":%u,", o.tokens, o.layers,
                     o.kv_heads, o.group, o.dim, pool.n_threads());
        std::fprintf(f, "\"cluster_seconds\":%.4f,\"calibrate_seconds\":%.4f,\"decode\":[", cluster_s, calibrate_s);
        for (size_t i = 0; i < results.size(); ++i)
            std::fprintf(f, "%s{\"mode\":\"%s\",\"ms_per_token\":%.4f,\"sparsity\":%.4f,\"bytes_ratio\":%.4f,\"lookup_share\":%.4f}",
                         i ? "," : "", results[i].mode.c_str(), results[i].ms_per_token, results[i].sparsity, results[i].bytes_ratio,
                         results[i].lookup_share);
        std::fprintf(f, "]}\n");
        std::fclose(f);
    }
    return 0;
}
