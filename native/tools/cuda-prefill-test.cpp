// cuda-prefill-test: attention of a block of question tokens on the GPU (kernels/attention-prefill,
// kernels/squeeze-lookup-prefill, kernels/squeezed-prefill) against references on the CPU.
//   dense:     a fixed context of N keys then the question's own keys causally (offset N), and pure
//              causal self-attention; against a double-precision softmax over the same rounded
//              inputs (bf16/f16 queries, keys, values), with forced and automatic key slices;
//   lists:     random row lists before the causal part (the path the squeezed prefill takes);
//   kernels:   the default (on a compute-capability 9.0 GPU with an sm_90a build: the wgmma kernel of
//              attention-prefill-sm90a, marked [wgmma]) and the mma.sync variants (m_tiles 1, 2);
//   squeezed:  indexes built by the CPU K-means builder (squeeze::cluster_head_build); the GPU's
//              token-averaged finest scores vs squeeze::lookup_score_all, its slot lists equal to
//              squeeze::lookup_select's (threshold mode, the question's n_q rows) with thresholds
//              set in the widest gap near the target quantile so that rounding cannot flip a
//              cluster, and the output vs the double reference over exactly those slots plus the
//              question's keys; three-level trees (level 2 scored only under passing parents: the
//              scores of the others read 0), clusters larger than a key tile, questions of 9 and 1
//              tokens; at d 128 on a 9.0 GPU the lookup's products run on wgmma too, at d 64 on mma.sync.
// P is rounded to the cache type before P V (as FlashAttention-2 does), so outputs are held to
// 1.5e-2 (bf16) and 3e-3 (f16) relative to the reference norm; log-sum-exp to 1e-3 absolute.
// Outputs are poisoned with NaN before each launch.
//
//   cuda-prefill-test    exit 0 when all pass, or when there is no CUDA build / no GPU (it says so)
#include <cstdio>

#include "../../test/native/check.h"

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "common/half.h"
#include "cuda-squeeze-index.h"
#include "device.cuh"
#include "squeeze/lookup.h"
#include "squeezed-prefill.cuh"

using namespace sq;
using sq::tools::from_cache;
using sq::tools::GpuArray;
using sq::tools::to_cache;

namespace {

std::mt19937& rng() {
    static std::mt19937 gen(97531);
    return gen;
}
float normal(float sd) { return std::normal_distribution<float>(0.0f, sd)(rng()); }

// Values rounded to the cache type: the stored bits and the floats they stand for.
struct Rounded {
    std::vector<uint16_t> bits;
    std::vector<float> f;
};

Rounded rounded(const std::vector<float>& x, cuda::KvType type) {
    Rounded r{std::vector<uint16_t>(x.size()), std::vector<float>(x.size())};
    for (size_t i = 0; i < x.size(); ++i) {
        r.bits[i] = to_cache(type, x[i]);
        r.f[i] = from_cache(type, r.bits[i]);
    }
    return r;
}

// Attention of one query row over the given key rows of one KV head, in double.
void reference_row(const float* q, const float* k, const float* v, int d, const std::vector<int>& rows, float scale,
                   double* out, double& lse) {
    std::vector<double> s(rows.size());
    double mx = -std::numeric_limits<double>::infinity();
    for (size_t r = 0; r < rows.size(); ++r) {
        double dot = 0.0;
        for (int e = 0; e < d; ++e) dot += double(q[e]) * k[size_t(rows[r]) * d + e];
        s[r] = dot * scale;
        mx = std::max(mx, s[r]);
    }
    double sum = 0.0;
    for (double& x : s) sum += (x = std::exp(x - mx));
    for (int e = 0; e < d; ++e) out[e] = 0.0;
    for (size_t r = 0; r < rows.size(); ++r)
        for (int e = 0; e < d; ++e) out[e] += s[r] / sum * v[size_t(rows[r]) * d + e];
    lse = rows.empty() ? -std::numeric_limits<double>::infinity() : mx + std::log(sum);
}

struct Problem {
    int n_heads, n_kv_heads, d, n_q, n_rows; // n_rows: K/V rows per KV head
    cuda::KvType type;
    Rounded q, k, v;                         // q [n_heads][n_q][d]; k, v [n_kv_heads][n_rows][d]
};

Problem random_problem(int n_heads, int n_kv_heads, int d, int n_q, int n_rows, cuda::KvType type) {
    Problem p{n_heads, n_kv_heads, d, n_q, n_rows, type, {}, {}, {}};
    std::vector<float> q(size_t(n_heads) * n_q * d), k(size_t(n_kv_heads) * n_rows * d), v(k.size());
    for (float& x : q) x = normal(1.0f);
    for (float& x : k) x = normal(1.0f);
    for (float& x : v) x = normal(1.0f);
    p.q = rounded(q, type);
    p.k = rounded(k, type);
    p.v = rounded(v, type);
    return p;
}

// GPU output vs the reference where query i of head h attends rows_of(kv_head, i).
template <typename RowsOf>
void check_against_reference(const Problem& pb, const std::vector<float>& out, const std::vector<float>& lse, float scale,
                             RowsOf rows_of, const char* what) {
    const int group = pb.n_heads / pb.n_kv_heads, d = pb.d;
    double err2 = 0.0, ref2 = 0.0, lse_err = 0.0;
    bool finite = true;
    std::vector<double> ref(d);
    for (int h = 0; h < pb.n_heads; ++h) {
        const int kvh = h / group;
        const float* k = pb.k.f.data() + size_t(kvh) * pb.n_rows * d;
        const float* v = pb.v.f.data() + size_t(kvh) * pb.n_rows * d;
        for (int i = 0; i < pb.n_q; ++i) {
            const size_t row = size_t(h) * pb.n_q + i;
            double ref_lse = 0.0;
            reference_row(pb.q.f.data() + row * d, k, v, d, rows_of(kvh, i), scale, ref.data(), ref_lse);
            for (int e = 0; e < d; ++e) {
                const double got = out[row * d + e];
                finite = finite && std::isfinite(got);
                err2 += (got - ref[e]) * (got - ref[e]);
                ref2 += ref[e] * ref[e];
            }
            finite = finite && (std::isfinite(lse[row]) || std::isinf(ref_lse));
            if (std::isfinite(ref_lse)) lse_err = std::max(lse_err, std::fabs(lse[row] - ref_lse));
        }
    }
    const double rel = std::sqrt(err2 / std::max(ref2, 1e-30));
    const double tol = pb.type == cuda::KvType::BF16 ? 1.5e-2 : 3e-3;
    CHECK(finite);
    CHECK(rel < tol);
    CHECK(lse_err < 1e-3);
    std::printf("  %-60s out err %.1e (tol %.0e)  lse err %.1e\n", what, rel, tol, lse_err);
}

struct DenseCase {
    const char* what;
    int n_heads, n_kv_heads, d, n_fixed, n_q;
    cuda::KvType type;
    int n_splits;      // 0: automatic
    int n_list;        // > 0: random rows of the fixed part as a list, the question's keys causally after it
    int m_tiles = 0;
    int wgmma_variant = 0;
};

const char* const kWgmmaLabel[] = {" [wgmma]", " [wgmma, 64-key tiles]", " [wgmma, 64-key tiles, 1 warpgroup]"};

void run_dense(const DenseCase& c) {
    const Problem pb = random_problem(c.n_heads, c.n_kv_heads, c.d, c.n_q, c.n_fixed + c.n_q, c.type);
    const float scale = 1.0f / std::sqrt(float(c.d));
    GpuArray<uint16_t> q, k, v;
    q.upload(pb.q.bits);
    k.upload(pb.k.bits);
    v.upload(pb.v.bits);
    const size_t rows = size_t(c.n_heads) * c.n_q;
    GpuArray<float> out(rows * c.d), lse(rows);
    constexpr int kMaxSplits = 16;
    GpuArray<float> ws(cuda::attention_prefill_workspace_floats(c.n_heads, c.n_q, c.d, kMaxSplits));

    std::vector<std::vector<int>> lists(c.n_kv_heads);
    std::vector<int> flat(size_t(c.n_kv_heads) * std::max(1, c.n_fixed)), n_list(c.n_kv_heads, 0);
    for (int h = 0; h < c.n_kv_heads && c.n_list > 0; ++h) {
        std::vector<int> all(c.n_fixed);
        for (int i = 0; i < c.n_fixed; ++i) all[i] = i;
        std::shuffle(all.begin(), all.end(), rng());
        n_list[h] = std::max(0, c.n_list - 7 * h); // heads of different lengths
        lists[h].assign(all.begin(), all.begin() + n_list[h]);
        std::sort(lists[h].begin(), lists[h].end());
        std::copy(lists[h].begin(), lists[h].end(), flat.begin() + size_t(h) * c.n_fixed);
    }
    GpuArray<int> rows_d, n_list_d;
    rows_d.upload(flat);
    n_list_d.upload(n_list);
    CHECK(q.ok && k.ok && v.ok && out.ok && lse.ok && ws.ok && rows_d.ok && n_list_d.ok);

    cuda::AttentionPrefillParams p{};
    p.q = q.ptr;
    p.k = k.ptr;
    p.v = v.ptr;
    p.kv_type = c.type;
    p.out = out.ptr;
    p.lse = lse.ptr;
    p.n_heads = c.n_heads;
    p.n_kv_heads = c.n_kv_heads;
    p.head_dim = c.d;
    p.n_q = c.n_q;
    p.kv_head_stride = long(c.n_fixed + c.n_q) * c.d;
    p.scale = scale;
    p.causal = true;
    if (c.n_list > 0) {
        p.key_rows = rows_d.ptr;
        p.n_list = n_list_d.ptr;
        p.key_rows_stride = c.n_fixed;
        p.n_list_hint = c.n_list;
        p.dense_begin = c.n_fixed;
        p.dense_end = c.n_fixed + c.n_q;
        p.causal_offset = 0;
    } else {
        p.dense_begin = 0;
        p.dense_end = c.n_fixed + c.n_q;
        p.causal_offset = c.n_fixed;
    }
    p.n_splits = c.n_splits;
    p.m_tiles = c.m_tiles;
    p.wgmma_variant = c.wgmma_variant;
    p.workspace = ws.ptr;
    cudaMemset(out.ptr, 0xff, rows * c.d * sizeof(float));
    cudaMemset(lse.ptr, 0xff, rows * sizeof(float));
    CHECK(cuda::attention_prefill(p, kMaxSplits, nullptr) == cudaSuccess);
    CHECK(cudaDeviceSynchronize() == cudaSuccess);
    const auto rows_of = [&](int kvh, int i) {
        std::vector<int> r = c.n_list > 0 ? lists[kvh] : std::vector<int>{};
        const int visible = c.n_list > 0 ? i + 1 : c.n_fixed + i + 1;
        const int first = c.n_list > 0 ? c.n_fixed : 0;
        for (int j = 0; j < visible; ++j) r.push_back(first + j);
        return r;
    };
    char what[160];
    std::snprintf(what, sizeof what, "%s%s", c.what, !cuda::attention_prefill_uses_sm90a(p) ? "" : kWgmmaLabel[c.wgmma_variant]);
    check_against_reference(pb, out.download(), lse.download(), scale, rows_of, what);
}

using KT = cuda::KvType;

TEST_CASE("attention_prefill: fixed context + causal question, bf16, GQA 4") {
    run_dense({"dense bf16 H8/Hkv2 d128, 1000 fixed + 77 question, auto slices", 8, 2, 128, 1000, 77, KT::BF16, 0, 0});
}
TEST_CASE("attention_prefill: forced slices, f16, d 64") {
    run_dense({"dense f16 H3/Hkv3 d64, 333 fixed + 130 question, 5 slices", 3, 3, 64, 333, 130, KT::F16, 5, 0});
}
TEST_CASE("attention_prefill: pure causal self-attention, one slice") {
    run_dense({"causal only f16 H2/Hkv1 d128, 0 fixed + 200 question, 1 slice", 2, 1, 128, 0, 200, KT::F16, 1, 0});
}
TEST_CASE("attention_prefill: one question token") {
    run_dense({"one token bf16 H4/Hkv4 d128, 4097 fixed + 1 question", 4, 4, 128, 4097, 1, KT::BF16, 0, 0});
}
TEST_CASE("attention_prefill: row lists before the causal part") {
    run_dense({"lists bf16 H6/Hkv2 d128, lists of 301/294 of 900 + 65 causal, 3 slices", 6, 2, 128, 900, 65, KT::BF16, 3, 301});
    run_dense({"lists f16 H4/Hkv4 d64, lists of 70..49 of 500 + 64 causal, auto", 4, 4, 64, 500, 64, KT::F16, 0, 70});
}
TEST_CASE("attention_prefill: one m-tile a warp (Q in registers)") {
    run_dense({"dense bf16 H4/Hkv1 d128, 2000 fixed + 100 question, 1 m-tile", 4, 1, 128, 2000, 100, KT::BF16, 0, 0, 1});
    run_dense({"lists bf16 H2/Hkv2 d128, lists of 500/493 of 1500 + 70 causal, 1 m-tile", 2, 2, 128, 1500, 70, KT::BF16, 2, 500, 1});
}
TEST_CASE("attention_prefill: the default kernel (wgmma on a 9.0 GPU), d 128, partial tiles and slices") {
    run_dense({"dense bf16 H4/Hkv2 d128, 3000 fixed + 200 question, auto", 4, 2, 128, 3000, 200, KT::BF16, 0, 0});
    run_dense({"dense f16 H2/Hkv1 d128, 777 fixed + 9 question, 3 slices", 2, 1, 128, 777, 9, KT::F16, 3, 0});
    run_dense({"causal only bf16 H3/Hkv3 d128, 0 fixed + 300 question, 1 slice", 3, 3, 128, 0, 300, KT::BF16, 1, 0});
    run_dense({"lists f16 H8/Hkv2 d128, lists of 700/693 of 2000 + 129 causal, 4 slices", 8, 2, 128, 2000, 129, KT::F16, 4, 700});
    run_dense({"lists bf16 H2/Hkv2 d128, lists of 1/0 of 50 + 1 causal, 1 slice", 2, 2, 128, 50, 1, KT::BF16, 1, 1});
}
TEST_CASE("attention_prefill: the wgmma kernel's other variants") {
    for (const int variant : {1, 2}) {
        run_dense({"dense bf16 H4/Hkv2 d128, 3000 fixed + 200 question, auto", 4, 2, 128, 3000, 200, KT::BF16, 0, 0, 0, variant});
        run_dense({"lists f16 H8/Hkv2 d128, lists of 700/693 of 2000 + 129 causal, 4 slices", 8, 2, 128, 2000, 129, KT::F16, 4, 700, 0,
                   variant});
        run_dense({"dense f16 H2/Hkv1 d128, 777 fixed + 9 question, 3 slices", 2, 1, 128, 777, 9, KT::F16, 3, 0, 0, variant});
    }
}
TEST_CASE("attention_prefill: two m-tiles a warp, partial tiles") {
    run_dense({"dense bf16 H4/Hkv2 d128, 1500 fixed + 200 question, 2 m-tiles", 4, 2, 128, 1500, 200, KT::BF16, 0, 0, 2});
    run_dense({"dense f16 H3/Hkv1 d64, 0 fixed + 129 question, 1 slice, 2 m-tiles", 3, 1, 64, 0, 129, KT::F16, 1, 0, 2});
    run_dense({"lists bf16 H4/Hkv4 d128, lists of 400..379 of 1200 + 150 causal, 2 m-tiles", 4, 4, 128, 1200, 150, KT::BF16, 3, 400, 2});
}

// ---- squeezed prefill ------------------------------------------------------------------------

struct SqueezedCase {
    const char* what;
    int n_heads, n_kv_heads, d, n_fixed, n_q;
    cuda::KvType type;
    float quantile0, quantile1; // share of each level's pooled scores under its threshold (coarse levels, finest)
    int m_tiles = 0;
    std::vector<float> level_fractions = {}; // clusters per level / n_fixed; empty: ClusterParams' default
};

// The threshold at the widest log gap among the sorted scores within +-3% of the quantile's position.
float tau_near(std::vector<float> scores, float quantile) {
    std::sort(scores.begin(), scores.end());
    const int n = static_cast<int>(scores.size());
    const int at = std::clamp(static_cast<int>(quantile * n), 1, n - 1);
    const int reach = std::max(1, n * 3 / 100);
    int best = at;
    double best_gap = -1.0;
    for (int i = std::max(1, at - reach); i <= std::min(n - 1, at + reach); ++i) {
        const double gap = std::log(std::max(scores[i], 1e-30f)) - std::log(std::max(scores[i - 1], 1e-30f));
        if (gap > best_gap) {
            best_gap = gap;
            best = i;
        }
    }
    return static_cast<float>(std::sqrt(double(std::max(scores[best - 1], 1e-30f)) * std::max(scores[best], 1e-30f)));
}

void run_squeezed(const SqueezedCase& c) {
    const int group = c.n_heads / c.n_kv_heads, d = c.d, n_rows = c.n_fixed + c.n_q;
    const float scale = 1.0f / std::sqrt(float(d));
    squeeze::ClusterParams cp;
    if (!c.level_fractions.empty()) cp.level_fractions = c.level_fractions;
    std::vector<squeeze::HeadIndex> heads(c.n_kv_heads);
    std::vector<float> centres;
    for (int h = 0; h < c.n_kv_heads; ++h) {
        const int n_centres = std::max(1, c.n_fixed / 40);
        centres.assign(size_t(n_centres) * d, 0.0f);
        for (float& x : centres) x = normal(0.8f);
        std::vector<float> keys(size_t(c.n_fixed) * d), values(keys.size());
        for (int t = 0; t < c.n_fixed; ++t) {
            const int cc = std::uniform_int_distribution<int>(0, n_centres - 1)(rng());
            for (int e = 0; e < d; ++e) {
                keys[size_t(t) * d + e] = centres[size_t(cc) * d + e] + normal(0.3f);
                values[size_t(t) * d + e] = normal(1.0f);
            }
        }
        CHECK(squeeze::cluster_head_build(keys.data(), values.data(), c.n_fixed, d, cp, heads[h]).ok());
        tools::round_centroids(heads[h], c.type);
    }
    // Queries aimed at the last head's centres (every head's keys share the offset-free layout).
    std::vector<float> q(size_t(c.n_heads) * c.n_q * d);
    for (int h = 0; h < c.n_heads; ++h)
        for (int i = 0; i < c.n_q; ++i) {
            const int cc = std::uniform_int_distribution<int>(0, int(centres.size() / d) - 1)(rng());
            for (int e = 0; e < d; ++e) q[(size_t(h) * c.n_q + i) * d + e] = 2.0f * centres[size_t(cc) * d + e] + normal(0.5f);
        }
    Problem pb{c.n_heads, c.n_kv_heads, d, c.n_q, n_rows, c.type, rounded(q, c.type), {}, {}};
    // K/V: each head's fixed context in slot order (the index's f16 keys in the cache type), then the question's keys.
    std::vector<float> k(size_t(c.n_kv_heads) * n_rows * d), v(k.size());
    for (int h = 0; h < c.n_kv_heads; ++h)
        for (int r = 0; r < n_rows; ++r)
            for (int e = 0; e < d; ++e) {
                const size_t at = (size_t(h) * n_rows + r) * d + e;
                k[at] = r < c.n_fixed ? f16_to_f32(heads[h].keys[size_t(r) * d + e]) : normal(1.0f);
                v[at] = r < c.n_fixed ? f16_to_f32(heads[h].values[size_t(r) * d + e]) : normal(1.0f);
            }
    pb.k = rounded(k, c.type);
    pb.v = rounded(v, c.type);

    // CPU scores and selection per KV head; q rows of a group as [n_q][group][d].
    const size_t n_levels = heads[0].levels.size();
    std::vector<std::vector<float>> q_group(c.n_kv_heads, std::vector<float>(size_t(c.n_q) * group * d));
    for (int h = 0; h < c.n_heads; ++h)
        for (int i = 0; i < c.n_q; ++i)
            std::copy_n(pb.q.f.data() + (size_t(h) * c.n_q + i) * d, d, q_group[h / group].data() + (size_t(i) * group + h % group) * d);
    std::vector<std::vector<std::vector<float>>> scores(c.n_kv_heads);
    std::vector<std::vector<float>> pooled(n_levels);
    for (int h = 0; h < c.n_kv_heads; ++h) {
        squeeze::lookup_score_all(heads[h], q_group[h].data(), c.n_q, group, scale, scores[h]);
        for (size_t l = 0; l < n_levels; ++l) pooled[l].insert(pooled[l].end(), scores[h][l].begin(), scores[h][l].end());
    }
    std::vector<float> tau(n_levels);
    for (size_t l = 0; l < n_levels; ++l) tau[l] = tau_near(pooled[l], l + 1 == n_levels ? c.quantile1 : c.quantile0);
    squeeze::SelectParams sp;
    sp.mode = squeeze::SelectMode::Threshold;
    sp.tau = tau.data();
    sp.rerank_shortlist = 0.0f; // the GPU lookup keeps the thresholds' choice: it has no rerank by exact mass (yet)
    // The finest clusters the GPU scores: children of a cluster passing the level above for some head
    // of the group (CPU scores, the same thresholds; a tree of one level scores everything).
    std::vector<std::vector<uint8_t>> scored(c.n_kv_heads);
    long n_scored = 0;
    for (int h = 0; h < c.n_kv_heads; ++h) {
        std::vector<uint8_t> up; // [group][k of the level above] passes per head
        for (size_t l = 0; l < n_levels; ++l) {
            const uint32_t k = heads[h].levels[l].n_clusters;
            std::vector<uint32_t> parent(k, 0);
            if (l > 0) {
                const squeeze::ClusterLevel& above = heads[h].levels[l - 1];
                for (uint32_t pj = 0; pj < above.n_clusters; ++pj)
                    for (uint32_t j = above.first[pj]; j < above.first[pj + 1]; ++j) parent[j] = pj;
            }
            const uint32_t k_up = l > 0 ? heads[h].levels[l - 1].n_clusters : 0;
            std::vector<uint8_t> cur(size_t(group) * k);
            if (l + 1 == n_levels) scored[h].assign(k, l == 0 ? 1 : 0);
            for (uint32_t j = 0; j < k; ++j)
                for (int g = 0; g < group; ++g) {
                    const bool under = l == 0 || up[size_t(g) * k_up + parent[j]];
                    if (l + 1 == n_levels && under) scored[h][j] = 1;
                    cur[size_t(g) * k + j] = under && scores[h][l][size_t(g) * k + j] >= tau[l];
                }
            up.swap(cur);
        }
        n_scored += std::count(scored[h].begin(), scored[h].end(), uint8_t{1});
    }
    std::vector<std::vector<int>> expected(c.n_kv_heads);
    for (int h = 0; h < c.n_kv_heads; ++h) {
        squeeze::LookupScratch scratch;
        squeeze::Selection sel;
        squeeze::lookup_select(heads[h], q_group[h].data(), c.n_q, group, scale, sp, scratch, sel);
        for (uint32_t s = 0; s < heads[h].n_always; ++s) expected[h].push_back(static_cast<int>(s));
        const std::vector<uint32_t>& first = heads[h].levels.back().first;
        for (const uint32_t cl : sel.clusters)
            for (uint32_t s = first[cl]; s < first[cl + 1]; ++s) expected[h].push_back(static_cast<int>(s));
        CHECK_EQ(expected[h].size(), size_t(sel.n_keys));
    }

    std::vector<const squeeze::HeadIndex*> ptrs;
    for (const auto& h : heads) ptrs.push_back(&h);
    tools::GpuSqueezeIndex gidx;
    CHECK(tools::upload_index(ptrs, c.type, gidx));
    GpuArray<uint16_t> qd, kd, vd;
    qd.upload(pb.q.bits);
    kd.upload(pb.k.bits);
    vd.upload(pb.v.bits);
    const size_t rows = size_t(c.n_heads) * c.n_q;
    const int k_fin = gidx.n_clusters[gidx.n_levels - 1];
    GpuArray<float> out(rows * d), lse(rows), scores_d(size_t(c.n_heads) * k_fin);
    GpuArray<int> slots(size_t(c.n_kv_heads) * c.n_fixed), n_keys(c.n_kv_heads);

    cuda::SqueezedPrefillParams p{};
    cuda::SqueezeLookupPrefillParams& l = p.lookup;
    l.q = qd.ptr;
    l.n_q = c.n_q;
    l.centroid_type = c.type;
    l.n_levels = gidx.n_levels;
    for (int lv = 0; lv < gidx.n_levels; ++lv)
        l.levels[lv] = {gidx.centroids[lv].ptr, lv > 0 ? gidx.parent[lv].ptr : nullptr, gidx.n_clusters[lv], tau[lv]};
    l.log_counts = gidx.log_counts.ptr;
    l.first = gidx.first.ptr;
    l.n_always = gidx.n_always;
    l.n_heads = c.n_heads;
    l.n_kv_heads = c.n_kv_heads;
    l.head_dim = d;
    l.scale = scale;
    l.slots = slots.ptr;
    l.n_keys = n_keys.ptr;
    l.slot_stride = c.n_fixed;
    l.scores_out = scores_d.ptr;
    p.k = kd.ptr;
    p.v = vd.ptr;
    p.kv_head_stride = long(n_rows) * d;
    p.n_fixed = c.n_fixed;
    p.out = out.ptr;
    p.lse = lse.ptr;
    p.max_splits = 8;
    p.m_tiles = c.m_tiles;
    GpuArray<char> ws(cuda::squeezed_prefill_workspace_bytes(p));
    p.workspace = ws.ptr;
    CHECK(qd.ok && kd.ok && vd.ok && out.ok && lse.ok && scores_d.ok && slots.ok && n_keys.ok && ws.ok);
    cudaMemset(out.ptr, 0xff, rows * d * sizeof(float));
    cudaMemset(slots.ptr, 0xff, slots.n * sizeof(int));
    CHECK(cuda::squeezed_prefill(p, nullptr) == cudaSuccess);
    CHECK(cudaDeviceSynchronize() == cudaSuccess);

    // Finest scores: GPU [n_heads][K] vs CPU per KV head [g * K + j], 0 where the tree did not score.
    const std::vector<float> gs = scores_d.download();
    double s_err2 = 0.0, s_ref2 = 0.0;
    for (int h = 0; h < c.n_heads; ++h)
        for (int j = 0; j < k_fin; ++j) {
            const double ref = scored[h / group][j] ? scores[h / group][n_levels - 1][size_t(h % group) * k_fin + j] : 0.0;
            s_err2 += (gs[size_t(h) * k_fin + j] - ref) * (gs[size_t(h) * k_fin + j] - ref);
            s_ref2 += ref * ref;
        }
    const double score_err = std::sqrt(s_err2 / std::max(s_ref2, 1e-30));
    CHECK(score_err < 1e-4);

    const std::vector<int> got_slots = slots.download(), got_n = n_keys.download();
    int same = 0;
    long n_read = 0;
    for (int h = 0; h < c.n_kv_heads; ++h) {
        const std::vector<int> got(got_slots.begin() + size_t(h) * c.n_fixed, got_slots.begin() + size_t(h) * c.n_fixed + std::max(0, got_n[h]));
        same += got == expected[h];
        n_read += got_n[h];
    }
    CHECK_EQ(same, c.n_kv_heads);
    const auto rows_of = [&](int kvh, int i) {
        std::vector<int> r(got_slots.begin() + size_t(kvh) * c.n_fixed, got_slots.begin() + size_t(kvh) * c.n_fixed + got_n[kvh]);
        for (int j = 0; j <= i; ++j) r.push_back(c.n_fixed + j);
        return r;
    };
    cuda::AttentionPrefillParams kernel_of{};
    kernel_of.head_dim = d;
    kernel_of.m_tiles = c.m_tiles;
    char what[240];
    std::snprintf(what, sizeof what, "%s%s: %ld of %d fixed keys read, %ld of %d finest clusters scored, selection %s, scores err %.1e",
                  c.what, cuda::attention_prefill_uses_sm90a(kernel_of) ? " [wgmma]" : "", n_read, c.n_kv_heads * c.n_fixed, n_scored,
                  c.n_kv_heads * k_fin, same == c.n_kv_heads ? "same" : "DIFFERENT", score_err);
    check_against_reference(pb, out.download(), lse.download(), scale, rows_of, what);
}

TEST_CASE("squeezed_prefill: K-means index, bf16, GQA 3, 90%") {
    run_squeezed({"squeezed bf16 H6/Hkv2 d128, 6000 fixed, 100 q, ~90%", 6, 2, 128, 6000, 100, KT::BF16, 0.5f, 0.9f});
    run_squeezed({"squeezed bf16 H4/Hkv4 d128, 5000 fixed, 300 q, ~80%, 2 m-tiles", 4, 4, 128, 5000, 300, KT::BF16, 0.4f, 0.8f, 2});
}
TEST_CASE("squeezed_prefill: K-means index, f16, no GQA, d 64, 70%") {
    run_squeezed({"squeezed f16 H3/Hkv3 d64, 3001 fixed, 67 q, ~70%, 1 m-tile", 3, 3, 64, 3001, 67, KT::F16, 0.3f, 0.7f, 1});
}
TEST_CASE("squeezed_prefill: level-1 pruning, three levels, GQA 8") {
    run_squeezed({"squeezed bf16 H8/Hkv1 d128, 7000 fixed, 130 q, 3 levels, ~85%, parents at 70%", 8, 1, 128, 7000, 130, KT::BF16,
                  0.7f, 0.85f, 0, {0.004f, 0.02f, 0.08f}});
}
TEST_CASE("squeezed_prefill: clusters larger than a key tile") {
    run_squeezed({"squeezed bf16 H4/Hkv2 d128, 9000 fixed, 80 q, ~200-key clusters, ~90%", 4, 2, 128, 9000, 80, KT::BF16, 0.5f, 0.9f, 0,
                  {0.001f, 0.005f}});
}
TEST_CASE("squeezed_prefill: a question shorter than a tile") {
    run_squeezed({"squeezed f16 H4/Hkv4 d128, 2500 fixed, 9 q, ~80%", 4, 4, 128, 2500, 9, KT::F16, 0.6f, 0.8f});
    run_squeezed({"squeezed bf16 H2/Hkv1 d64, 1800 fixed, 1 q, ~75%, 1 m-tile", 2, 1, 64, 1800, 1, KT::BF16, 0.5f, 0.75f, 1});
}

} // namespace

int main() {
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-prefill-test: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("cuda-prefill-test on %s (sm_%d%d)\n", probe.name, probe.compute_major, probe.compute_minor);
    return run_all_tests();
}

#else

int main() {
    std::printf("cuda-prefill-test: skipped, built without CUDA\n");
    return 0;
}

#endif
