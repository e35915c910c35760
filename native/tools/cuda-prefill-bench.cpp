// cuda-prefill-bench: a 1K-token question's attention on the GPU, dense (kernels/attention-prefill)
// and squeezed with its lookup (kernels/squeezed-prefill), beside PyTorch SDPA measured by
// bench/gpu/sdpa_prefill_bench.py in the same device run (bench/gpu/report_prefill.py joins them).
//
// bf16, H = 32, d = 128, KV heads 32 and 8, N = 32K..512K fixed-context keys followed by the
// question's M = 1024 keys (row N + j = question token j), causal over the question.
// Dense: every query attends all N keys and its own causal prefix. Squeezed: a synthetic two-level
// index per KV head (K1 = 1% and K2 = 5% of N clusters of uneven sizes, a child = its parent + noise,
// 104 always-attended slots); tau2 is set like calibration on this question's own token-averaged
// scores: clusters by descending group-max score until 1 - sparsity of the keys; tau1 as the prefill
// ladder sets it (calibrate.cpp, parent_keep 0.99): the group-max level-1 score of the selected
// clusters' parents under which at most 1% of their keys lie. The lookup scores level 2 only under
// parents passing tau1 ("scored": that share of level 2); "flat lookup" times the same lookup with
// tau1 = 0 (every level-2 centroid scored), "lookup mma.sync" the pruned one on the mma.sync products
// instead of wgmma. The achieved sparsity is the GPU's own key count. FLOP = 4 d x (query, key) pairs
// attended (causal pairs counted once); TB/s = K and V bytes of the keys attended once / time.
// Times: median over 7 batches of --reps back-to-back calls (CUDA events); "lookup" is
// squeeze_lookup_prefill timed alone. Ours runs the default kernel (wgmma on a 9.0 GPU with an sm_90a
// build: 128-key tiles, two warpgroups a block), "wgmma 64" the same kernel on 64-key tiles, "64/1wg"
// on 64-key tiles with one warpgroup a block, "mma.sync" the two-m-tile mma.sync kernel.
//
//   cuda-prefill-bench [--reps 3] [--json FILE] [--max-keys 524288]
#include <cstdio>
#include <cstdlib>
#include <cstring>

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/half.h"
#include "cuda-bench-util.h"
#include "cuda-squeeze-index.h"
#include "device.cuh"
#include "squeezed-prefill.cuh"

using namespace sq;
using namespace sq::tools;

namespace {

constexpr int kHeads = 32, kDim = 128, kQuestion = 1024, kAlways = 104, kMaxSplits = 16;
constexpr cuda::KvType kType = cuda::KvType::BF16;
const float kSparsities[] = {0.7f, 0.8f, 0.9f, 0.95f};

struct Options {
    int reps = 3;
    long max_keys = 512 * 1024;
    const char* json_path = nullptr;
};

struct Lcg {
    uint64_t s;
    float next() { // uniform in [-1, 1)
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<float>(s >> 40) * (2.0f / 16777216.0f) - 1.0f;
    }
};

// first[] of n ranges over total items, uniform random cuts (uneven sizes, some empty).
std::vector<int> cuts(int n, int total, std::mt19937& gen) {
    std::vector<int> first(n + 1, 0);
    first[n] = total;
    std::uniform_int_distribution<int> dist(0, total);
    for (int i = 1; i < n; ++i) first[i] = dist(gen);
    std::sort(first.begin() + 1, first.end() - 1);
    return first;
}

// The synthetic two-level index of every KV head, on the device.
struct Index {
    int k1 = 0, k2 = 0;
    GpuArray<uint16_t> c1, c2;  // [Hkv][K][d] bf16
    GpuArray<int> parent;       // [Hkv][K2]
    GpuArray<float> log_counts; // [Hkv][K1]
    GpuArray<int> first;        // [Hkv][K2 + 1]
    std::vector<int> sizes;     // [Hkv][K2] keys per finest cluster (host)
    std::vector<int> parents;   // [Hkv][K2] (host)
};

void build_index(int hkv, int n, Index& ix) {
    std::mt19937 gen(11);
    Lcg rng{777};
    ix.k1 = std::max(1, static_cast<int>(std::lround(0.01 * n)));
    ix.k2 = std::max(ix.k1, static_cast<int>(std::lround(0.05 * n)));
    std::vector<uint16_t> c1, c2;
    std::vector<int> parent, first;
    std::vector<float> log_counts;
    ix.sizes.clear();
    for (int h = 0; h < hkv; ++h) {
        const std::vector<int> children = cuts(ix.k1, ix.k2, gen); // children of each parent
        const std::vector<int> slots = cuts(ix.k2, n - kAlways, gen);
        std::vector<float> centre(static_cast<size_t>(ix.k1) * kDim);
        for (float& x : centre) x = 1.5f * rng.next();
        for (float x : centre) c1.push_back(f32_to_bf16(x));
        for (int p = 0; p < ix.k1; ++p) {
            long count = 0;
            for (int c = children[p]; c < children[p + 1]; ++c) {
                parent.push_back(p);
                for (int e = 0; e < kDim; ++e) c2.push_back(f32_to_bf16(centre[static_cast<size_t>(p) * kDim + e] + 0.7f * rng.next()));
                count += slots[c + 1] - slots[c];
            }
            log_counts.push_back(std::log(static_cast<float>(std::max(1L, count))));
        }
        for (int c = 0; c < ix.k2; ++c) ix.sizes.push_back(slots[c + 1] - slots[c]);
        for (int c = 0; c <= ix.k2; ++c) first.push_back(slots[c] + kAlways);
    }
    ix.c1.upload(c1);
    ix.c2.upload(c2);
    ix.parent.upload(parent);
    ix.parents = parent;
    ix.log_counts.upload(log_counts);
    ix.first.upload(first);
}

// tau2 for a target sparsity: clusters by descending group-max score (pooled over KV heads, as one
// calibrated threshold would be) until they hold 1 - sparsity of the clustered keys.
float pick_tau2(const std::vector<float>& scores, const Index& ix, int hkv, int n, float sparsity) {
    const int group = kHeads / hkv;
    std::vector<std::pair<float, int>> cl; // (group-max score, keys)
    for (int h = 0; h < hkv; ++h)
        for (int j = 0; j < ix.k2; ++j) {
            float mx = 0.0f;
            for (int g = 0; g < group; ++g) mx = std::max(mx, scores[static_cast<size_t>(h * group + g) * ix.k2 + j]);
            cl.push_back({mx, ix.sizes[static_cast<size_t>(h) * ix.k2 + j]});
        }
    std::sort(cl.begin(), cl.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    const double want = (1.0 - sparsity) * static_cast<double>(n - kAlways) * hkv;
    double have = 0.0;
    for (const auto& [score, keys] : cl) {
        have += keys;
        if (have >= want) return score;
    }
    return 0.0f;
}

// Group-max score of each (KV head, cluster): scores [n_heads][k] -> [hkv][k].
std::vector<float> group_max(const std::vector<float>& scores, int hkv, int k) {
    const int group = kHeads / hkv;
    std::vector<float> mx(static_cast<size_t>(hkv) * k, 0.0f);
    for (int h = 0; h < kHeads; ++h)
        for (int j = 0; j < k; ++j) {
            float& m = mx[static_cast<size_t>(h / group) * k + j];
            m = std::max(m, scores[static_cast<size_t>(h) * k + j]);
        }
    return mx;
}

struct Tau1 {
    float tau;
    double scored; // share of level-2 clusters under a parent passing tau1 for some head
};

// tau1 as calibrate.cpp's thresholds_from sets a coarse level: among the clusters tau2 keeps (group
// max), their parents' group-max scores, key-weighted; tau1 is the score under which at most
// 1 - parent_keep of the kept keys lie.
Tau1 pick_tau1(const std::vector<float>& max1, const std::vector<float>& max2, const std::vector<int>& parent, const Index& ix, int hkv,
               float tau2) {
    constexpr double kParentKeep = 0.99;
    std::vector<std::pair<float, int>> sel; // (parent's score, keys)
    double kept = 0.0;
    for (int h = 0; h < hkv; ++h)
        for (int j = 0; j < ix.k2; ++j) {
            const size_t i = static_cast<size_t>(h) * ix.k2 + j;
            if (max2[i] < tau2) continue;
            sel.push_back({max1[static_cast<size_t>(h) * ix.k1 + parent[i]], ix.sizes[i]});
            kept += ix.sizes[i];
        }
    std::sort(sel.begin(), sel.end());
    double lost = 0.0;
    size_t i = 0;
    while (i < sel.size() && lost + sel[i].second <= (1.0 - kParentKeep) * kept) lost += sel[i++].second;
    const float tau1 = i < sel.size() ? sel[i].first : 0.0f;
    long scored = 0;
    for (int h = 0; h < hkv; ++h)
        for (int j = 0; j < ix.k2; ++j) scored += max1[static_cast<size_t>(h) * ix.k1 + parent[static_cast<size_t>(h) * ix.k2 + j]] >= tau1;
    return {tau1, static_cast<double>(scored) / (static_cast<double>(hkv) * ix.k2)};
}

double flop_of(long pairs) { return 4.0 * kDim * static_cast<double>(pairs); }

void bench_shape(const Options& opt, int hkv, int n, Json& rows) {
    const long n_rows = static_cast<long>(n) + kQuestion;
    GpuArray<uint16_t> q(static_cast<size_t>(kHeads) * kQuestion * kDim), k(static_cast<size_t>(hkv) * n_rows * kDim),
        v(static_cast<size_t>(hkv) * n_rows * kDim);
    GpuArray<float> out(static_cast<size_t>(kHeads) * kQuestion * kDim), lse(static_cast<size_t>(kHeads) * kQuestion);
    GpuArray<float> ws(cuda::attention_prefill_workspace_floats(kHeads, kQuestion, kDim, kMaxSplits));
    if (!q.ok || !k.ok || !v.ok || !out.ok || !lse.ok || !ws.ok) {
        std::printf("%4d %8d  out of device memory\n", hkv, n);
        return;
    }
    const auto bf16 = [](float f) { return f32_to_bf16(f); };
    if (!fill_u16(q.ptr, q.n * 2, bf16) || !fill_u16(k.ptr, k.n * 2, bf16) || !fill_u16(v.ptr, v.n * 2, bf16)) return;

    cuda::AttentionPrefillParams dense{};
    dense.q = q.ptr;
    dense.k = k.ptr;
    dense.v = v.ptr;
    dense.kv_type = kType;
    dense.out = out.ptr;
    dense.lse = lse.ptr;
    dense.n_heads = kHeads;
    dense.n_kv_heads = hkv;
    dense.head_dim = kDim;
    dense.n_q = kQuestion;
    dense.kv_head_stride = n_rows * kDim;
    dense.scale = 1.0f / std::sqrt(static_cast<float>(kDim));
    dense.dense_begin = 0;
    dense.dense_end = static_cast<int>(n_rows);
    dense.causal = true;
    dense.causal_offset = n;
    dense.workspace = ws.ptr;
    const double dense_ms = median_ms([&] { return cuda::attention_prefill(dense, kMaxSplits, nullptr); }, opt.reps);
    cuda::AttentionPrefillParams mma_sync = dense;
    mma_sync.m_tiles = 2;
    const double mma_sync_ms = median_ms([&] { return cuda::attention_prefill(mma_sync, kMaxSplits, nullptr); }, opt.reps);
    double variant_ms[3] = {0.0, 0.0, 0.0}; // wgmma variants 1 and 2 (AttentionPrefillParams::wgmma_variant)
    for (const int variant : {1, 2}) {
        cuda::AttentionPrefillParams other = dense;
        other.wgmma_variant = variant;
        variant_ms[variant] = median_ms([&] { return cuda::attention_prefill(other, kMaxSplits, nullptr); }, opt.reps);
    }
    const char* kernel = cuda::attention_prefill_uses_sm90a(dense) ? "wgmma" : "mma.sync";
    const long causal_pairs = static_cast<long>(kQuestion) * (kQuestion + 1) / 2;
    const long dense_pairs = kHeads * (static_cast<long>(kQuestion) * n + causal_pairs);
    const double dense_tflops = flop_of(dense_pairs) / (dense_ms * 1e-3) / 1e12;
    const double kv_bytes = 2.0 * hkv * n_rows * kDim * 2;
    std::printf("%4d %8d  dense (%s) %9.3f ms  %6.1f TFLOP/s  %5.2f TB/s   mma.sync: %.3f ms  wgmma 64: %.3f ms  64/1wg: %.3f ms\n", hkv, n,
                kernel, dense_ms, dense_tflops, kv_bytes / (dense_ms * 1e-3) / 1e12, mma_sync_ms, variant_ms[1], variant_ms[2]);
    char row[768];
    std::snprintf(row, sizeof row,
                  "{\"kind\": \"dense\", \"kernel\": \"%s\", \"Hkv\": %d, \"keys\": %d, \"question\": %d, \"ms\": %.5f, \"tflops\": %.2f, "
                  "\"tbps\": %.3f, \"ms_mma_sync\": %.5f, \"ms_wgmma_64\": %.5f, \"ms_wgmma_64_1wg\": %.5f}",
                  kernel, hkv, n, kQuestion, dense_ms, dense_tflops, kv_bytes / (dense_ms * 1e-3) / 1e12, mma_sync_ms, variant_ms[1],
                  variant_ms[2]);
    rows.add(row);

    Index ix;
    build_index(hkv, n, ix);
    GpuArray<int> slots(static_cast<size_t>(hkv) * n), n_keys(hkv);
    GpuArray<float> scores(static_cast<size_t>(kHeads) * ix.k2), scores1(static_cast<size_t>(kHeads) * ix.k1);
    cuda::SqueezedPrefillParams sp{};
    cuda::SqueezeLookupPrefillParams& l = sp.lookup;
    l.q = q.ptr;
    l.n_q = kQuestion;
    l.centroid_type = kType;
    l.n_levels = 2;
    l.levels[0] = {ix.c1.ptr, nullptr, ix.k1, 0.0f};
    l.levels[1] = {ix.c2.ptr, ix.parent.ptr, ix.k2, 0.0f};
    l.log_counts = ix.log_counts.ptr;
    l.first = ix.first.ptr;
    l.n_always = kAlways;
    l.n_heads = kHeads;
    l.n_kv_heads = hkv;
    l.head_dim = kDim;
    l.scale = dense.scale;
    l.slots = slots.ptr;
    l.n_keys = n_keys.ptr;
    l.slot_stride = n;
    sp.k = k.ptr;
    sp.v = v.ptr;
    sp.kv_head_stride = n_rows * kDim;
    sp.n_fixed = n;
    sp.out = out.ptr;
    sp.lse = lse.ptr;
    sp.max_splits = kMaxSplits;
    GpuArray<char> sws(cuda::squeezed_prefill_workspace_bytes(sp));
    GpuArray<char> lws(cuda::squeeze_lookup_prefill_workspace_bytes(l));
    if (!ix.c1.ok || !ix.c2.ok || !slots.ok || !n_keys.ok || !scores.ok || !sws.ok || !lws.ok) {
        std::printf("%4d %8d  out of device memory (index)\n", hkv, n);
        return;
    }
    sp.workspace = sws.ptr;
    cuda::SqueezeLookupPrefillParams lookup = l;
    lookup.workspace = lws.ptr;
    lookup.scores_out = scores.ptr;
    if (!ok(cuda::squeeze_lookup_prefill(lookup, nullptr), "lookup") || !ok(cudaDeviceSynchronize(), "lookup sync")) return;
    const std::vector<float> host_scores = scores.download();
    cuda::SqueezeLookupPrefillParams level1 = lookup; // level 1 alone: its scores
    level1.n_levels = 1;
    level1.scores_out = scores1.ptr;
    if (!ok(cuda::squeeze_lookup_prefill(level1, nullptr), "lookup") || !ok(cudaDeviceSynchronize(), "lookup sync")) return;
    const std::vector<float> max1 = group_max(scores1.download(), hkv, ix.k1), max2 = group_max(host_scores, hkv, ix.k2);
    lookup.scores_out = nullptr;

    for (const float sparsity : kSparsities) {
        const float tau2 = pick_tau2(host_scores, ix, hkv, n, sparsity);
        const Tau1 tau1 = pick_tau1(max1, max2, ix.parents, ix, hkv, tau2);
        cuda::SqueezeLookupPrefillParams flat = lookup;
        flat.levels[0].tau = 0.0f;
        flat.levels[1].tau = tau2;
        const double flat_lookup_ms = median_ms([&] { return cuda::squeeze_lookup_prefill(flat, nullptr); }, opt.reps);
        sp.lookup.levels[0].tau = lookup.levels[0].tau = tau1.tau;
        sp.lookup.levels[1].tau = lookup.levels[1].tau = tau2;
        if (!ok(cuda::squeeze_lookup_prefill(lookup, nullptr), "lookup") || !ok(cudaDeviceSynchronize(), "lookup sync")) return;
        long selected = 0;
        for (const int c : n_keys.download()) selected += c;
        sp.n_keys_hint = static_cast<int>(selected / hkv);
        const double achieved = 1.0 - static_cast<double>(selected) / (static_cast<double>(n) * hkv);
        const double lookup_ms = median_ms([&] { return cuda::squeeze_lookup_prefill(lookup, nullptr); }, opt.reps);
        cuda::SqueezeLookupPrefillParams lookup_mma = lookup;
        lookup_mma.mma_sync = true;
        const double lookup_mma_ms = median_ms([&] { return cuda::squeeze_lookup_prefill(lookup_mma, nullptr); }, opt.reps);
        const double ms = median_ms([&] { return cuda::squeezed_prefill(sp, nullptr); }, opt.reps);
        cuda::SqueezedPrefillParams sp_mma = sp;
        sp_mma.m_tiles = 2;
        const double ms_mma = median_ms([&] { return cuda::squeezed_prefill(sp_mma, nullptr); }, opt.reps);
        double sq_variant_ms[3] = {0.0, 0.0, 0.0};
        for (const int variant : {1, 2}) {
            cuda::SqueezedPrefillParams other = sp;
            other.wgmma_variant = variant;
            sq_variant_ms[variant] = median_ms([&] { return cuda::squeezed_prefill(other, nullptr); }, opt.reps);
        }
        const long pairs = kHeads * (static_cast<long>(kQuestion) * (selected / hkv) + causal_pairs);
        const double tflops = flop_of(pairs) / ((ms - lookup_ms) * 1e-3) / 1e12;
        const double tbps = 2.0 * (selected + static_cast<double>(hkv) * kQuestion) * kDim * 2 / (ms * 1e-3) / 1e12;
        std::printf("%4d %8d  squeezed %.2f  %9.3f ms  lookup %.3f ms (%2.0f%%, scored %.2f, flat %.3f, mma.sync %.3f)  achieved %.3f  attention %6.1f TFLOP/s  "
                    "vs our dense %.2fx  mma.sync: %.3f ms  wgmma 64: %.3f ms  64/1wg: %.3f ms\n",
                    hkv, n, sparsity, ms, lookup_ms, 100.0 * lookup_ms / ms, tau1.scored, flat_lookup_ms, lookup_mma_ms, achieved, tflops, dense_ms / ms, ms_mma,
                    sq_variant_ms[1], sq_variant_ms[2]);
        std::snprintf(row, sizeof row,
                      "{\"kind\": \"squeezed\", \"Hkv\": %d, \"keys\": %d, \"question\": %d, \"target\": %.2f, \"achieved\": %.4f, "
                      "\"ms\": %.5f, \"lookup_ms\": %.5f, \"flat_lookup_ms\": %.5f, \"lookup_mma_sync_ms\": %.5f, \"level2_scored\": %.4f, "
                      "\"attention_tflops\": %.2f, "
                      "\"tbps\": %.3f, \"dense_ours_ms\": %.5f, \"tau1\": %.6g, \"tau2\": %.6g, \"ms_mma_sync\": %.5f, "
                      "\"ms_wgmma_64\": %.5f, \"ms_wgmma_64_1wg\": %.5f}",
                      hkv, n, kQuestion, sparsity, achieved, ms, lookup_ms, flat_lookup_ms, lookup_mma_ms, tau1.scored, tflops, tbps, dense_ms,
                      tau1.tau, tau2, ms_mma, sq_variant_ms[1], sq_variant_ms[2]);
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
        else {
            std::fprintf(stderr, "usage: cuda-prefill-bench [--reps N] [--json FILE] [--max-keys N]\n");
            return 2;
        }
    }
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-prefill-bench: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("cuda-prefill-bench on %s: H %d, d %d, question %d tokens, bf16\n", probe.name, kHeads, kDim, kQuestion);
    Json rows;
    for (const int hkv : {32, 8})
        for (const int n : {32768, 131072, 262144, 524288})
            if (n <= opt.max_keys) bench_shape(opt, hkv, n, rows);
    char fields[320];
    std::snprintf(fields, sizeof fields, "\"card\": \"%s\",\n  \"reps\": %d", probe.name, opt.reps);
    if (opt.json_path && !write_bench_json(opt.json_path, "cuda-prefill-bench", fields, {{"prefill", &rows}})) return 1;
    return 0;
}

#else

int main() {
    std::printf("cuda-prefill-bench: skipped, built without CUDA\n");
    return 0;
}

#endif
