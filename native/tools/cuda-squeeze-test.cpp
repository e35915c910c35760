// cuda-squeeze-test: squeezed decode on the GPU (kernels/squeeze-lookup, kernels/squeezed-decode)
// against the CPU squeeze core. The selection must equal squeeze::lookup_select's (threshold mode,
// one token) slot for slot; the output must match a double-precision attention over exactly those
// slots plus the dynamic rows, and, for f16 caches, the engine's own CPU path (sparse_attention,
// attention_partial, lse_merge), through both fixed parts (equal chunks across all heads, and each
// head's list split on its own). Indexes are built by the real K-means builder and by hand (uneven
// and empty clusters, one to three levels, groups of 1 to 32 heads, 1 key to 128K keys).
// Thresholds sit halfway (in log) between two neighbouring scores, so float rounding cannot flip a
// cluster. Outputs are poisoned with NaN before each launch.
//
//   cuda-squeeze-test    exit 0 when all pass, or when there is no CUDA build / no GPU (it says so)
#include <cstdio>

#include "../../test/native/check.h"

#ifdef SQUEEZE_WITH_CUDA

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cuda-squeeze-index.h"
#include "device.cuh"
#include "squeeze/lookup.h"
#include "squeeze/sparse-attention.h"
#include "squeezed-decode.cuh"

using namespace sq;
using sq::tools::GpuArray;

namespace {

std::mt19937& rng() {
    static std::mt19937 gen(4321);
    return gen;
}
float normal(float sd) { return std::normal_distribution<float>(0.0f, sd)(rng()); }

// n cut points of [0, total] as a first[] array: first[0] = 0, first[n] = total, ascending; with
// `empties` equal neighbours (empty ranges) are allowed, otherwise every range holds >= 1.
std::vector<uint32_t> random_ranges(uint32_t n, uint32_t total, bool empties) {
    std::vector<uint32_t> first(n + 1, 0);
    first[n] = total;
    if (!empties && total >= n) {
        std::vector<uint32_t> cuts(total - 1);
        for (uint32_t i = 0; i < cuts.size(); ++i) cuts[i] = i + 1;
        std::shuffle(cuts.begin(), cuts.end(), rng());
        std::sort(cuts.begin(), cuts.begin() + (n - 1));
        for (uint32_t i = 1; i < n; ++i) first[i] = cuts[i - 1];
        return first;
    }
    for (uint32_t i = 1; i < n; ++i) first[i] = std::uniform_int_distribution<uint32_t>(0, total)(rng());
    std::sort(first.begin() + 1, first.end() - 1);
    return first;
}

// A hand-built index: k[l] clusters per level (coarsest first) over n_tokens - n_always clustered
// slots, uneven (and with `empties`, some empty) at every level. Keys follow the tree (a child's
// centre is its parent's plus noise) so that the levels' estimates agree as in real key clusters.
// centres receives the finest clusters' centres (to aim queries at).
squeeze::HeadIndex make_tree(uint32_t n_tokens, uint32_t d, uint32_t n_always, const std::vector<uint32_t>& k, bool empties,
                             std::vector<float>& centres) {
    squeeze::HeadIndex h;
    h.n_tokens = n_tokens;
    h.head_dim = d;
    h.n_always = n_always;
    const size_t n_levels = k.size();
    h.levels.resize(n_levels);
    for (size_t l = 0; l < n_levels; ++l) {
        h.levels[l].n_clusters = k[l];
        const uint32_t below = l + 1 < n_levels ? k[l + 1] : n_tokens - n_always;
        h.levels[l].first = random_ranges(k[l], below, empties);
        if (l + 1 == n_levels)
            for (uint32_t& f : h.levels[l].first) f += n_always;
    }
    // Centres top-down.
    std::vector<std::vector<float>> centre(n_levels);
    for (size_t l = 0; l < n_levels; ++l) {
        centre[l].resize(size_t{k[l]} * d);
        for (uint32_t j = 0; j < k[l]; ++j)
            for (uint32_t e = 0; e < d; ++e) centre[l][size_t{j} * d + e] = normal(0.7f);
        if (l == 0) continue;
        const squeeze::ClusterLevel& up = h.levels[l - 1];
        for (uint32_t p = 0; p < up.n_clusters; ++p)
            for (uint32_t c = up.first[p]; c < up.first[p + 1]; ++c)
                for (uint32_t e = 0; e < d; ++e) centre[l][size_t{c} * d + e] = centre[l - 1][size_t{p} * d + e] + normal(0.5f);
    }
    std::vector<float> keys(size_t{n_tokens} * d);
    for (uint32_t s = 0; s < n_always; ++s)
        for (uint32_t e = 0; e < d; ++e) keys[size_t{s} * d + e] = normal(0.7f);
    // Finest centroids: mean of the members (the rounded keys); counts bottom-up.
    for (size_t l = n_levels; l-- > 0;) {
        squeeze::ClusterLevel& lv = h.levels[l];
        lv.centroids.assign(size_t{k[l]} * d, 0.0f);
        lv.counts.assign(k[l], 0);
        for (uint32_t j = 0; j < k[l]; ++j) {
            float* c = lv.centroids.data() + size_t{j} * d;
            for (uint32_t m = lv.first[j]; m < lv.first[j + 1]; ++m) {
                const uint32_t w = l + 1 == n_levels ? 1 : h.levels[l + 1].counts[m];
                lv.counts[j] += w;
                for (uint32_t e = 0; e < d; ++e) {
                    float x;
                    if (l + 1 == n_levels) {
                        x = f16_to_f32(f32_to_f16(centre[l][size_t{j} * d + e] + normal(0.3f)));
                        keys[size_t{m} * d + e] = x;
                    } else {
                        x = h.levels[l + 1].centroids[size_t{m} * d + e];
                    }
                    c[e] += w * x;
                }
            }
            for (uint32_t e = 0; e < d; ++e) c[e] = lv.counts[j] ? c[e] / lv.counts[j] : centre[l][size_t{j} * d + e];
        }
        squeeze::cluster_level_derive(lv, d);
    }
    h.token_of_slot.resize(n_tokens);
    h.keys.resize(size_t{n_tokens} * d);
    h.values.resize(size_t{n_tokens} * d);
    for (uint32_t s = 0; s < n_tokens; ++s) h.token_of_slot[s] = s;
    for (size_t i = 0; i < keys.size(); ++i) {
        h.keys[i] = f32_to_f16(keys[i]);
        h.values[i] = f32_to_f16(normal(1.0f));
    }
    centres = centre.empty() ? std::vector<float>{} : centre.back();
    return h;
}

// The real builder (K-means) over clustered random keys.
squeeze::HeadIndex make_kmeans(uint32_t n_tokens, uint32_t d, const squeeze::ClusterParams& params, std::vector<float>& centres) {
    const uint32_t n_centres = std::max(1u, n_tokens / 40);
    centres.resize(size_t{n_centres} * d);
    for (float& c : centres) c = normal(0.8f);
    std::vector<float> keys(size_t{n_tokens} * d), values(size_t{n_tokens} * d);
    for (uint32_t t = 0; t < n_tokens; ++t) {
        const uint32_t c = std::uniform_int_distribution<uint32_t>(0, n_centres - 1)(rng());
        for (uint32_t e = 0; e < d; ++e) {
            keys[size_t{t} * d + e] = centres[size_t{c} * d + e] + normal(0.3f);
            values[size_t{t} * d + e] = normal(1.0f);
        }
    }
    squeeze::HeadIndex h;
    const Status st = squeeze::cluster_head_build(keys.data(), values.data(), n_tokens, d, params, h);
    CHECK(st.ok());
    return h;
}

// Lopsided: KV head 0 selects every key and the other heads none beyond the always-attended ones
// (see make_lopsided), so the attention's equal chunks all fall on one head.
enum class TauMode { Dense, Quantile, None, Lopsided };

struct Case {
    const char* what;
    int n_heads, n_kv_heads, head_dim, n_tokens;
    cuda::KvType type;
    bool kmeans;                // else hand-built
    std::vector<uint32_t> k;    // clusters per level (hand-built)
    int n_always;               // hand-built
    bool empties;
    TauMode tau_mode;
    float quantile;             // share of the pooled scores under tau, per level
    int n_dyn;
};

// tau per level: the `quantile` of the scores of every (KV head, query head) row, moved to the
// geometric middle of the gap to the next score so rounding cannot move a cluster across it.
std::vector<float> pick_tau(const Case& c, const std::vector<squeeze::HeadIndex>& heads, const std::vector<float>& q, float scale) {
    const size_t n_levels = heads[0].levels.size();
    std::vector<float> tau(n_levels, 0.0f);
    if (c.tau_mode == TauMode::Dense) return tau;
    if (c.tau_mode == TauMode::Lopsided) {
        // Half of what every cluster scores under a zero query (1 / clustered keys, at every level).
        tau.assign(n_levels, 0.5f / static_cast<float>(heads[0].n_tokens - heads[0].n_always));
        return tau;
    }
    if (c.tau_mode == TauMode::None) {
        if (n_levels) tau[0] = 2.0f; // s_j <= 1/n_j <= 1: nothing passes
        return tau;
    }
    const int group = c.n_heads / c.n_kv_heads, d = c.head_dim;
    for (size_t l = 0; l < n_levels; ++l) {
        std::vector<float> all;
        for (int kv = 0; kv < c.n_kv_heads; ++kv) {
            std::vector<std::vector<float>> scores;
            squeeze::lookup_score_rows(heads[kv], q.data() + size_t(kv) * group * d, group, scale, scores);
            all.insert(all.end(), scores[l].begin(), scores[l].end());
        }
        if (all.size() < 2) continue; // no clusters at this level (every token always attended)
        std::sort(all.begin(), all.end());
        const size_t i = std::min(all.size() - 2, static_cast<size_t>(c.quantile * (all.size() - 1)));
        // Coarser levels keep more (a tenth of the quantile) so finer levels have children to judge.
        const size_t at = l + 1 < n_levels ? i / 10 : i;
        tau[l] = static_cast<float>(std::sqrt(double(all[at]) * double(all[at + 1])));
    }
    return tau;
}

struct Reference {
    std::vector<int> slots;           // [n_kv_heads] lists, concatenated
    std::vector<int> n_keys;          // [n_kv_heads]
    std::vector<double> out, lse;     // double attention over the slots and the dynamic rows
    std::vector<float> cpu_out;       // the engine's CPU op (f16 caches only)
};

Reference reference(const Case& c, const std::vector<squeeze::HeadIndex>& heads, const std::vector<float>& q, float scale,
                    const std::vector<float>& tau, const std::vector<uint16_t>& kd, const std::vector<uint16_t>& vd,
                    const tools::GpuSqueezeIndex& gi, const std::vector<uint16_t>& store_k, const std::vector<uint16_t>& store_v) {
    const int group = c.n_heads / c.n_kv_heads, d = c.head_dim;
    Reference r;
    r.out.assign(size_t(c.n_heads) * d, 0.0);
    r.lse.assign(c.n_heads, -INFINITY);
    r.cpu_out.assign(size_t(c.n_heads) * d, 0.0f);
    for (int kv = 0; kv < c.n_kv_heads; ++kv) {
        squeeze::SelectParams sp;
        sp.mode = squeeze::SelectMode::Threshold;
        sp.tau = tau.data();
        squeeze::LookupScratch scratch;
        squeeze::Selection sel;
        const float* qg = q.data() + size_t(kv) * group * d;
        squeeze::lookup_select(heads[kv], qg, 1, group, scale, sp, scratch, sel);
        const size_t before = r.slots.size();
        for (const auto& [b, e] : squeeze::selection_ranges(heads[kv], sel))
            for (uint32_t s = b; s < e; ++s) r.slots.push_back(static_cast<int>(s));
        r.n_keys.push_back(static_cast<int>(r.slots.size() - before));

        for (int g = 0; g < group; ++g) {
            const int h = kv * group + g;
            // (row of k, row of v) pairs: selected slots of the store, then the dynamic rows.
            std::vector<std::pair<const uint16_t*, const uint16_t*>> rows;
            for (size_t i = before; i < r.slots.size(); ++i) {
                const size_t off = (size_t(kv) * gi.n_tokens + r.slots[i]) * d;
                rows.push_back({store_k.data() + off, store_v.data() + off});
            }
            for (int t = 0; t < c.n_dyn; ++t) {
                const size_t off = (size_t(kv) * c.n_dyn + t) * d;
                rows.push_back({kd.data() + off, vd.data() + off});
            }
            std::vector<double> s(rows.size());
            double mx = -INFINITY;
            for (size_t i = 0; i < rows.size(); ++i) {
                double dot = 0.0;
                for (int e = 0; e < d; ++e) dot += double(qg[g * d + e]) * tools::from_cache(c.type, rows[i].first[e]);
                s[i] = dot * scale;
                mx = std::max(mx, s[i]);
            }
            if (rows.empty()) continue;
            double sum = 0.0;
            for (size_t i = 0; i < rows.size(); ++i) {
                const double w = std::exp(s[i] - mx);
                sum += w;
                for (int e = 0; e < d; ++e) r.out[size_t(h) * d + e] += w * tools::from_cache(c.type, rows[i].second[e]);
            }
            for (int e = 0; e < d; ++e) r.out[size_t(h) * d + e] /= sum;
            r.lse[h] = mx + std::log(sum);
        }

        if (c.type != cuda::KvType::F16) continue;
        // The engine's CPU path for the same token: fixed part, dynamic part, merge.
        std::vector<float> fixed(size_t(group) * d), scratch_f, dyn(d), dyn_scratch(std::max(1, c.n_dyn));
        std::vector<squeeze::AttnPartial> parts(group);
        squeeze::sparse_attention(heads[kv], sel, qg, group, scale, scratch_f, fixed.data(), parts.data());
        for (int g = 0; g < group; ++g) {
            squeeze::AttnPartial dp;
            squeeze::attention_partial(qg + g * d, kd.data() + size_t(kv) * c.n_dyn * d, vd.data() + size_t(kv) * c.n_dyn * d,
                                       squeeze::KvElem::F16, c.n_dyn, d, scale, dyn_scratch.data(), dyn.data(), dp);
            squeeze::lse_merge(fixed.data() + g * d, parts[g], dyn.data(), dp, d);
            std::copy_n(fixed.data() + g * d, d, r.cpu_out.data() + size_t(kv * group + g) * d);
        }
    }
    return r;
}

template <typename A, typename B>
double rel_error(const std::vector<A>& a, const std::vector<B>& b) {
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        const double e = double(a[i]) - double(b[i]);
        num += e * e;
        den += double(b[i]) * double(b[i]);
    }
    return den > 0.0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Heads >= 1 of a two-level tree: parents at +u, children at -u, and their query at 4u. Every
// parent then scores the same, 1 / clustered keys (D is over the parents), and every child
// exp(-8 scale |u|^2) times less: none passes. Head 0 keeps its tree and gets a zero query, so
// every cluster of every level scores 1 / clustered keys and passes.
void make_lopsided(std::vector<squeeze::HeadIndex>& heads, std::vector<float>& q, int group) {
    const uint32_t d = heads[0].head_dim;
    std::vector<float> u(d);
    for (float& x : u) x = normal(0.7f);
    for (size_t kv = 0; kv < heads.size(); ++kv) {
        for (int g = 0; g < group; ++g)
            for (uint32_t e = 0; e < d; ++e) q[(kv * group + g) * d + e] = kv == 0 ? 0.0f : 4.0f * u[e];
        if (kv == 0) continue;
        for (size_t l = 0; l < heads[kv].levels.size(); ++l) {
            std::vector<float>& cent = heads[kv].levels[l].centroids;
            for (size_t i = 0; i < cent.size(); ++i) cent[i] = l == 0 ? u[i % d] : -u[i % d];
        }
    }
}

void run_case(const Case& c) {
    const int group = c.n_heads / c.n_kv_heads, d = c.head_dim;
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    std::vector<squeeze::HeadIndex> heads(c.n_kv_heads);
    std::vector<float> q(size_t(c.n_heads) * d);
    for (int kv = 0; kv < c.n_kv_heads; ++kv) {
        std::vector<float> centres;
        if (c.kmeans) {
            squeeze::ClusterParams cp;
            cp.n_threads = 1;
            heads[kv] = make_kmeans(c.n_tokens, d, cp, centres);
        } else {
            heads[kv] = make_tree(c.n_tokens, d, c.n_always, c.k, c.empties, centres);
        }
        // Each query head looks towards one cluster, so heads of a group select different clusters.
        const uint32_t n_centres = static_cast<uint32_t>(centres.size() / d);
        for (int g = 0; g < group; ++g) {
            const uint32_t pick = n_centres ? std::uniform_int_distribution<uint32_t>(0, n_centres - 1)(rng()) : 0;
            for (int e = 0; e < d; ++e)
                q[(size_t(kv) * group + g) * d + e] = (n_centres ? 0.4f * centres[size_t(pick) * d + e] : 0.0f) + normal(0.5f);
        }
    }
    if (c.tau_mode == TauMode::Lopsided) make_lopsided(heads, q, group);
    for (auto& h : heads) tools::round_centroids(h, c.type);
    std::vector<const squeeze::HeadIndex*> ptrs;
    for (const auto& h : heads) ptrs.push_back(&h);
    tools::GpuSqueezeIndex gi;
    CHECK(tools::upload_index(ptrs, c.type, gi));
    const std::vector<float> tau = pick_tau(c, heads, q, scale);

    std::vector<uint16_t> kd(size_t(c.n_kv_heads) * c.n_dyn * d), vd(kd.size());
    for (size_t i = 0; i < kd.size(); ++i) {
        kd[i] = tools::to_cache(c.type, normal(1.0f));
        vd[i] = tools::to_cache(c.type, normal(1.0f));
    }
    const std::vector<uint16_t> store_k = gi.k.download(), store_v = gi.v.download();
    const Reference ref = reference(c, heads, q, scale, tau, kd, vd, gi, store_k, store_v);

    GpuArray<float> q_d, out(size_t(c.n_heads) * d), lse(c.n_heads);
    q_d.upload(q);
    GpuArray<uint16_t> kd_d, vd_d;
    kd_d.upload(kd);
    vd_d.upload(vd);
    GpuArray<int> slots(size_t(c.n_kv_heads) * c.n_tokens), n_keys(c.n_kv_heads);
    cuda::SqueezedDecodeParams p{};
    p.lookup = gi.lookup(c.type, tau.data());
    p.lookup.q = q_d.ptr;
    p.lookup.n_heads = c.n_heads;
    p.lookup.scale = scale;
    p.lookup.slots = slots.ptr;
    p.lookup.n_keys = n_keys.ptr;
    p.k = gi.k.ptr;
    p.v = gi.v.ptr;
    p.kv_head_stride = long(c.n_tokens) * d;
    p.kv_type = c.type;
    p.n_fixed = c.n_tokens;
    p.n_keys_hint = c.n_tokens / 4;
    p.k_dyn = kd_d.ptr;
    p.v_dyn = vd_d.ptr;
    p.dyn_head_stride = long(c.n_dyn) * d;
    p.n_dyn = c.n_dyn;
    p.out = out.ptr;
    p.lse = lse.ptr;
    GpuArray<char> ws(cuda::squeezed_decode_workspace_bytes(p));
    p.workspace = ws.ptr;
    // Both fixed parts: equal chunks across all heads and each head's list split on its own. Every
    // output (the slot lists too) is poisoned before each run.
    for (const int split : {-1, 1}) {
        p.per_head_split = split;
        p.lookup.blocks_per_sm = split < 0 ? 0 : 3; // the lookup's two register caps, too
        CHECK(cudaMemset(slots.ptr, 0xff, slots.n * sizeof(int)) == cudaSuccess);
        CHECK(cudaMemset(n_keys.ptr, 0xff, n_keys.n * sizeof(int)) == cudaSuccess);
        CHECK(cudaMemset(out.ptr, 0xff, out.n * sizeof(float)) == cudaSuccess);
        CHECK(cudaMemset(lse.ptr, 0xff, lse.n * sizeof(float)) == cudaSuccess);
        const cudaError_t err = cuda::squeezed_decode(p, nullptr);
        CHECK(err == cudaSuccess);
        CHECK(cudaDeviceSynchronize() == cudaSuccess);

        // Selection: slot for slot.
        const std::vector<int> got_n = n_keys.download(), got_slots = slots.download();
        bool same = got_n == ref.n_keys;
        size_t at = 0;
        for (int kv = 0; same && kv < c.n_kv_heads; ++kv) {
            same = std::equal(ref.slots.begin() + at, ref.slots.begin() + at + ref.n_keys[kv], got_slots.begin() + size_t(kv) * c.n_tokens);
            at += ref.n_keys[kv];
        }
        size_t n_ref = ref.slots.size();
        std::printf("  %-44s %-8s keys %7zu of %8zu (%5.1f%%)  selection %s", c.what, split < 0 ? "chunks" : "per-head", n_ref,
                    size_t(c.n_kv_heads) * c.n_tokens, 100.0 * n_ref / (double(c.n_kv_heads) * c.n_tokens), same ? "same" : "DIFFERS");
        if (!same) check::fail(__FILE__, __LINE__, std::string(c.what) + ": selection differs from lookup_select");
        if (c.tau_mode == TauMode::Dense) CHECK(n_ref == size_t(c.n_kv_heads) * c.n_tokens);
        if (c.tau_mode == TauMode::None) CHECK(n_ref == size_t(c.n_kv_heads) * heads[0].n_always);
        if (c.tau_mode == TauMode::Lopsided) {
            CHECK(got_n[0] == c.n_tokens);
            for (int kv = 1; kv < c.n_kv_heads; ++kv) CHECK(got_n[kv] == int(heads[0].n_always));
        }

        const std::vector<float> got = out.download(), got_lse = lse.download();
        const double err_out = rel_error(got, ref.out);
        double err_lse = 0.0;
        for (int h = 0; h < c.n_heads; ++h) {
            const double e = std::isinf(ref.lse[h]) ? (std::isinf(got_lse[h]) && got_lse[h] < 0 ? 0.0 : INFINITY)
                                                    : std::fabs(got_lse[h] - ref.lse[h]);
            err_lse = std::isnan(e) ? INFINITY : std::max(err_lse, e);
        }
        std::printf("  out err %.2e  lse err %.2e", err_out, err_lse);
        if (!(err_out <= 2e-5)) check::fail(__FILE__, __LINE__, std::string(c.what) + ": output over tolerance");
        if (!(err_lse <= 1e-4)) check::fail(__FILE__, __LINE__, std::string(c.what) + ": lse over tolerance");
        if (c.type == cuda::KvType::F16) {
            const double err_cpu = rel_error(got, ref.cpu_out);
            std::printf("  vs CPU op %.2e", err_cpu);
            if (!(err_cpu <= 2e-5)) check::fail(__FILE__, __LINE__, std::string(c.what) + ": differs from the CPU op");
        }
        std::printf("\n");
    }
}

using cuda::KvType;

TEST_CASE("squeezed_decode: selection equals lookup_select, output equals the reference") {
    const Case cases[] = {
        {"one key (all always attended, no tree)", 1, 1, 64, 1, KvType::F16, true, {}, 0, false, TauMode::Quantile, 0.5f, 0},
        {"K-means index, SmolLM2 heads, 70%", 9, 3, 64, 3001, KvType::F16, true, {}, 0, false, TauMode::Quantile, 0.7f, 37},
        {"K-means index, 90%, bf16", 9, 3, 64, 3001, KvType::BF16, true, {}, 0, false, TauMode::Quantile, 0.9f, 5},
        {"empty clusters, groups of 4, 80%", 32, 8, 128, 5000, KvType::BF16, false, {17, 250}, 50, true, TauMode::Quantile, 0.8f, 0},
        {"empty clusters, f16, 50%, dynamic rows", 32, 8, 128, 5000, KvType::F16, false, {17, 250}, 50, true, TauMode::Quantile, 0.5f, 64},
        {"all selected = dense", 32, 8, 128, 5000, KvType::BF16, false, {17, 250}, 50, true, TauMode::Dense, 0.0f, 0},
        {"all selected = dense, f16, dynamic rows", 8, 8, 128, 777, KvType::F16, false, {5, 39}, 3, false, TauMode::Dense, 0.0f, 9},
        {"none selected: sinks and window only", 32, 8, 128, 5000, KvType::BF16, false, {17, 250}, 50, true, TauMode::None, 0.0f, 0},
        {"none selected, no always-attended keys", 4, 2, 64, 300, KvType::F16, false, {3, 20}, 0, false, TauMode::None, 0.0f, 7},
        {"one level, no GQA, 90%", 16, 16, 128, 4097, KvType::F16, false, {100}, 10, false, TauMode::Quantile, 0.9f, 5},
        {"three levels, groups of 7, 80%", 28, 4, 128, 20000, KvType::BF16, false, {8, 40, 300}, 104, true, TauMode::Quantile, 0.8f, 0},
        {"group of 32, 99%", 32, 1, 64, 6000, KvType::F16, false, {30, 300}, 104, false, TauMode::Quantile, 0.99f, 3},
        {"128K keys, 90%", 8, 2, 128, 131072, KvType::BF16, false, {1310, 6553}, 104, false, TauMode::Quantile, 0.9f, 100},
        // The attention's equal chunks (>= 64 keys, sized from all heads' keys): every chunk on one
        // head, the others' lists the always-attended slots alone; clusters of thousands of keys
        // that span many chunks; and a 512K-key lookup (many segments: a long look-back).
        {"one head all keys, 7 heads none, dynamic rows", 32, 8, 128, 20000, KvType::BF16, false, {40, 200}, 104, false,
         TauMode::Lopsided, 0.0f, 17},
        {"one head all keys, groups of 1, f16", 16, 16, 64, 3000, KvType::F16, false, {10, 60}, 0, false, TauMode::Lopsided, 0.0f, 0},
        {"clusters larger than a chunk, 50%", 8, 2, 128, 40000, KvType::BF16, false, {2, 6}, 104, false, TauMode::Quantile, 0.5f, 3},
        {"512K keys, 95%, groups of 4", 4, 1, 128, 524288, KvType::BF16, false, {5243, 26214}, 104, false, TauMode::Quantile, 0.95f, 0},
        // The bench's shape at 32K keys: 32 KV heads of 52 warp segments each, one query head per
        // KV head (the attention's ring over many short lists).
        {"32 KV heads, 32K keys, 90%", 32, 32, 128, 32768, KvType::BF16, false, {327, 1638}, 104, false, TauMode::Quantile, 0.9f, 0},
    };
    for (const Case& c : cases) run_case(c);
}

TEST_CASE("squeeze_lookup: rejects what it cannot run") {
    cuda::SqueezeLookupParams p{};
    int slots = 0, n_keys = 0;
    float q = 0.0f;
    p.q = &q;
    p.slots = &slots;
    p.n_keys = &n_keys;
    p.n_heads = 64;
    p.n_kv_heads = 1; // group of 64: over the 32-bit pass masks
    p.head_dim = 128;
    CHECK(cuda::squeeze_lookup(p, nullptr) == cudaErrorInvalidValue);
    p.n_heads = 8;
    p.head_dim = 96;
    CHECK(cuda::squeeze_lookup(p, nullptr) == cudaErrorInvalidValue);
    p.head_dim = 128;
    p.n_levels = 1; // level without centroids
    CHECK(cuda::squeeze_lookup(p, nullptr) == cudaErrorInvalidValue);
    cudaGetLastError();
}

} // namespace

int main() {
    const cuda::DeviceProbe probe = cuda::probe_devices();
    if (probe.n_devices == 0) {
        std::printf("cuda-squeeze-test: skipped, no usable GPU (%s)\n", probe.name);
        return 0;
    }
    std::printf("cuda-squeeze-test on %s (sm_%d%d)\n", probe.name, probe.compute_major, probe.compute_minor);
    return run_all_tests();
}

#else

int main() {
    std::printf("cuda-squeeze-test: skipped, built without CUDA\n");
    return 0;
}

#endif
