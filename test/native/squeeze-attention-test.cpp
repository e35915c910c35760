// Squeezed attention online path: the cluster store, the hierarchical lookup against brute-force
// scoring, sparse attention against plain attention, and the exact log-sum-exp merge.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <set>
#include <vector>

#include "check.h"
#include "squeeze-fixtures.h"
#include "squeeze/cluster-index.h"
#include "squeeze/lookup.h"
#include "squeeze/sparse-attention.h"

using namespace sq::squeeze;
using namespace squeeze_fixtures;

namespace {

constexpr uint32_t kDim = 64;
const float kScale = 1.0f / std::sqrt(float(kDim));

HeadIndex build(const Synthetic& s, const ClusterParams& p = ClusterParams{}) {
    HeadIndex h;
    const sq::Status st = cluster_head_build(s.keys.data(), s.values.data(), s.n_tokens, s.head_dim, p, h);
    CHECK(st.is_ok());
    return h;
}

// Keys and values of the slots a selection reads, in slot order (for the reference).
void gather(const HeadIndex& h, const Synthetic& s, const Selection& sel, std::vector<float>& k, std::vector<float>& v) {
    std::vector<uint32_t> slots(h.n_always);
    std::iota(slots.begin(), slots.end(), 0u);
    const auto& first = h.levels.back().first;
    for (const uint32_t j : sel.clusters)
        for (uint32_t i = first[j]; i < first[j + 1]; ++i) slots.push_back(i);
    k.clear();
    v.clear();
    for (const uint32_t slot : slots) {
        const size_t t = h.token_of_slot[slot];
        k.insert(k.end(), s.keys.begin() + t * s.head_dim, s.keys.begin() + (t + 1) * s.head_dim);
        v.insert(v.end(), s.values.begin() + t * s.head_dim, s.values.begin() + (t + 1) * s.head_dim);
    }
}

void check_rows_match(const HeadIndex& h, const Synthetic& s, const Selection& sel, const std::vector<float>& q, uint32_t n_rows) {
    std::vector<float> out(size_t{n_rows} * kDim), scratch, k, v;
    std::vector<AttnPartial> parts(n_rows);
    sparse_attention(h, sel, q.data(), n_rows, kScale, scratch, out.data(), parts.data());
    gather(h, s, sel, k, v);
    CHECK_EQ(k.size() / kDim, size_t{sel.n_keys});
    for (uint32_t r = 0; r < n_rows; ++r) {
        const auto ref = reference_attention(q.data() + size_t{r} * kDim, k.data(), v.data(), sel.n_keys, kDim, kScale);
        for (uint32_t c = 0; c < kDim; ++c) CHECK_NEAR(out[size_t{r} * kDim + c], ref[c], 2e-5);
    }
}

} // namespace

TEST_CASE("lse_merge: hand-computed two-key case") {
    // q.k = {0, ln 3}: p = {1/4, 3/4}; values 1 and 5 give 4.
    const float q = 1.0f, k[2] = {0.0f, std::log(3.0f)}, v[2] = {1.0f, 5.0f};
    float out_a, out_b, scratch[2];
    AttnPartial a, b;
    attention_partial(&q, k, v, KvElem::F32, 1, 1, 1.0f, scratch, &out_a, a);
    attention_partial(&q, k + 1, v + 1, KvElem::F32, 1, 1, 1.0f, scratch, &out_b, b);
    lse_merge(&out_a, a, &out_b, b, 1);
    CHECK_NEAR(out_a, 4.0, 1e-6);
    CHECK_NEAR(a.max, std::log(3.0), 1e-6);
    CHECK_NEAR(a.sum, 4.0 / 3.0, 1e-6);
}

TEST_CASE("lse_merge of any split equals attention over the whole") {
    const Synthetic s = synthetic_head(37, kDim, 3, 11);
    const auto qs = synthetic_queries(s, 2, 12);
    for (const float boost : {1.0f, 40.0f}) { // 40: the parts' maxima are far apart
        std::vector<float> q(qs.begin(), qs.begin() + kDim);
        for (float& x : q) x *= boost;
        const auto ref = reference_attention(q.data(), s.keys.data(), s.values.data(), 37, kDim, kScale);
        for (const uint32_t split : {0u, 1u, 13u, 36u, 37u}) {
            std::vector<float> a(kDim), b(kDim), scratch(37);
            AttnPartial pa, pb;
            attention_partial(q.data(), s.keys.data(), s.values.data(), KvElem::F32, split, kDim, kScale, scratch.data(), a.data(), pa);
            attention_partial(q.data(), s.keys.data() + split * kDim, s.values.data() + split * kDim, KvElem::F32, 37 - split, kDim,
                              kScale, scratch.data(), b.data(), pb);
            // Either order gives the same result.
            std::vector<float> a2 = a, b2 = b;
            AttnPartial pa2 = pa, pb2 = pb;
            lse_merge(a.data(), pa, b.data(), pb, kDim);
            lse_merge(b2.data(), pb2, a2.data(), pa2, kDim);
            for (uint32_t c = 0; c < kDim; ++c) {
                CHECK_NEAR(a[c], ref[c], 1e-5);
                CHECK_NEAR(b2[c], ref[c], 1e-5);
            }
        }
    }
}

TEST_CASE("cluster store: permutation, contiguous clusters, tree invariants") {
    const Synthetic s = synthetic_head(1000, kDim, 12, 1);
    const HeadIndex h = build(s);
    CHECK_EQ(h.levels.size(), size_t{2});
    CHECK_EQ(h.n_always, 104u);
    CHECK_EQ(h.levels[0].n_clusters, 10u); // 1% of 1000
    CHECK_EQ(h.levels[1].n_clusters, 50u); // 5% of 1000
    std::vector<uint32_t> sorted = h.token_of_slot;
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t i = 0; i < 1000; ++i) CHECK_EQ(sorted[i], i);
    for (uint32_t i = 0; i < 4; ++i) CHECK_EQ(h.token_of_slot[i], i);
    for (uint32_t i = 0; i < 100; ++i) CHECK_EQ(h.token_of_slot[4 + i], 900 + i);
    for (uint32_t slot = 0; slot < 1000; ++slot)
        for (uint32_t c = 0; c < kDim; ++c) {
            const size_t t = h.token_of_slot[slot];
            CHECK_EQ(h.keys[size_t{slot} * kDim + c], sq::f32_to_f16(s.keys[t * kDim + c]));
            CHECK_EQ(h.values[size_t{slot} * kDim + c], sq::f32_to_f16(s.values[t * kDim + c]));
        }
    const ClusterLevel& top = h.levels[0];
    const ClusterLevel& fine = h.levels[1];
    CHECK_EQ(fine.first.front(), 104u);
    CHECK_EQ(fine.first.back(), 1000u);
    CHECK_EQ(top.first.back(), 50u);
    for (uint32_t j = 0; j < fine.n_clusters; ++j) {
        CHECK_EQ(fine.first[j + 1] - fine.first[j], fine.counts[j]);
        // The finest centroid is the mean of the raw keys stored in its slots.
        for (uint32_t c = 0; c < kDim; ++c) {
            double sum = 0.0;
            for (uint32_t i = fine.first[j]; i < fine.first[j + 1]; ++i) sum += s.keys[size_t{h.token_of_slot[i]} * kDim + c];
            CHECK_NEAR(fine.centroids[size_t{j} * kDim + c], sum / fine.counts[j], 1e-4);
        }
    }
    for (uint32_t p = 0; p < top.n_clusters; ++p) {
        uint32_t keys = 0;
        for (uint32_t j = top.first[p]; j < top.first[p + 1]; ++j) keys += fine.counts[j];
        CHECK(top.first[p + 1] > top.first[p]);
        CHECK_EQ(top.counts[p], keys);
    }
}

TEST_CASE("dense mode and all-zero thresholds reproduce plain attention") {
    const Synthetic s = synthetic_head(1000, kDim, 12, 2);
    const HeadIndex h = build(s);
    const auto q = synthetic_queries(s, 3, 3); // one GQA group of 3 heads
    LookupScratch sc;
    Selection dense, zero;
    SelectParams p;
    lookup_select(h, q.data(), 1, 3, kScale, p, sc, dense);
    CHECK_EQ(dense.n_keys, 1000u);
    CHECK_EQ(dense.clusters.size(), size_t{50});
    const float tau[2] = {0.0f, 0.0f};
    p.mode = SelectMode::Threshold;
    p.tau = tau;
    lookup_select(h, q.data(), 1, 3, kScale, p, sc, zero);
    CHECK(zero.clusters == dense.clusters);
    // Against attention over all keys in token order (not the store's order).
    std::vector<float> out(3 * kDim), scratch;
    AttnPartial parts[3];
    sparse_attention(h, dense, q.data(), 3, kScale, scratch, out.data(), parts);
    for (uint32_t r = 0; r < 3; ++r) {
        const auto ref = reference_attention(q.data() + r * kDim, s.keys.data(), s.values.data(), 1000, kDim, kScale);
        for (uint32_t c = 0; c < kDim; ++c) CHECK_NEAR(out[r * kDim + c], ref[c], 2e-5);
    }
}

TEST_CASE("estimated attention of the coarsest level sums to one") {
    const Synthetic s = synthetic_head(2000, kDim, 12, 4);
    const HeadIndex h = build(s);
    const auto q = synthetic_queries(s, 2, 5);
    std::vector<std::vector<float>> scores;
    lookup_score_all(h, q.data(), 1, 2, kScale, scores);
    for (uint32_t g = 0; g < 2; ++g) {
        double mass = 0.0;
        for (uint32_t j = 0; j < h.levels[0].n_clusters; ++j) mass += scores[0][g * h.levels[0].n_clusters + j] * h.levels[0].counts[j];
        CHECK_NEAR(mass, 1.0, 1e-4);
    }
}

TEST_CASE("hierarchical selection equals brute-force scoring of the whole tree") {
    const Synthetic s = synthetic_head(3000, kDim, 16, 6);
    const HeadIndex h = build(s);
    const uint32_t n_q = 3, group = 3; // a 3-token question, 3 query heads per KV head
    const auto q = synthetic_queries(s, n_q * group, 7);
    std::vector<std::vector<float>> all;
    lookup_score_all(h, q.data(), n_q, group, kScale, all);
    const ClusterLevel& top = h.levels[0];
    const ClusterLevel& fine = h.levels[1];
    std::vector<uint32_t> parent(fine.n_clusters);
    for (uint32_t p = 0; p < top.n_clusters; ++p)
        for (uint32_t j = top.first[p]; j < top.first[p + 1]; ++j) parent[j] = p;
    auto median = [](std::vector<float> v) { std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end()); return v[v.size() / 2]; };
    const float tau1 = median(all[0]), tau2 = median(all[1]);
    for (const float t1 : {0.0f, tau1}) {
        const float tau[2] = {t1, tau2};
        SelectParams p;
        p.mode = SelectMode::Threshold;
        p.tau = tau;
        p.rerank_shortlist = 0.0f; // the estimates' own selection, which the brute force repeats
        LookupScratch sc;
        Selection sel;
        lookup_select(h, q.data(), n_q, group, kScale, p, sc, sel);
        std::vector<uint32_t> brute;
        uint32_t keys = h.n_always;
        for (uint32_t j = 0; j < fine.n_clusters; ++j) {
            bool any = false;
            for (uint32_t g = 0; g < group; ++g)
                any |= all[0][g * top.n_clusters + parent[j]] >= t1 && all[1][g * fine.n_clusters + j] >= tau2;
            if (any) brute.push_back(j), keys += fine.counts[j];
        }
        CHECK(!brute.empty() && brute.size() < fine.n_clusters);
        CHECK(sel.clusters == brute);
        CHECK_EQ(sel.n_keys, keys);
        if (t1 > 0.0f) CHECK(sel.n_scored < top.n_clusters + fine.n_clusters); // pruning skipped centroids
        check_rows_match(h, s, sel, q, n_q * group);
    }
}

TEST_CASE("budget and mass modes") {
    const Synthetic s = synthetic_head(4000, kDim, 16, 8);
    const HeadIndex h = build(s);
    const auto q = synthetic_queries(s, 3, 9);
    LookupScratch sc;
    Selection sel;
    SelectParams p;
    p.mode = SelectMode::Budget;
    p.budget_keys = 800;
    lookup_select(h, q.data(), 1, 3, kScale, p, sc, sel);
    const auto& fine = h.levels[1];
    const uint32_t biggest = *std::max_element(fine.counts.begin(), fine.counts.end());
    CHECK(sel.n_keys >= 800);
    CHECK(sel.n_keys < 800 + biggest);
    check_rows_match(h, s, sel, q, 3);

    p.budget_keys = 50; // below the always-attended part: only that part
    lookup_select(h, q.data(), 1, 3, kScale, p, sc, sel);
    CHECK(sel.clusters.empty());
    CHECK_EQ(sel.n_keys, h.n_always);

    // Mass: the selected clusters hold the target share of the finest level's estimated attention
    // (less what the coarse level pruned), and a higher target reads more keys.
    std::vector<std::vector<float>> all;
    lookup_score_all(h, q.data(), 1, 3, kScale, all);
    auto share = [&](const Selection& s) {
        double in = 0.0, total = 0.0;
        for (uint32_t j = 0; j < fine.n_clusters; ++j) {
            double m = 0.0;
            for (uint32_t g = 0; g < 3; ++g) m += all[1][g * fine.n_clusters + j] * fine.counts[j];
            total += m;
            if (std::binary_search(s.clusters.begin(), s.clusters.end(), j)) in += m;
        }
        return in / total;
    };
    p.mode = SelectMode::Mass;
    uint32_t prev_keys = 0;
    for (const float target : {0.8f, 0.9f, 0.98f}) {
        p.mass_target = target;
        lookup_select(h, q.data(), 1, 3, kScale, p, sc, sel);
        CHECK(share(sel) >= target - 0.02);
        CHECK(sel.n_keys > prev_keys);
        CHECK(sel.n_keys < 4000);
        prev_keys = sel.n_keys;
    }
}

TEST_CASE("tiny and degenerate contexts") {
    // Everything always attended: no clusters, lookup keeps the fixed part whole.
    const Synthetic s = synthetic_head(50, kDim, 2, 10);
    const HeadIndex h = build(s);
    CHECK_EQ(h.n_always, 50u);
    CHECK_EQ(h.levels[0].n_clusters, 0u);
    const auto q = synthetic_queries(s, 1, 1);
    LookupScratch sc;
    Selection sel;
    const float tau[2] = {0.5f, 0.5f};
    SelectParams p;
    p.mode = SelectMode::Threshold;
    p.tau = tau;
    lookup_select(h, q.data(), 1, 1, kScale, p, sc, sel);
    CHECK_EQ(sel.n_keys, 50u);
    check_rows_match(h, s, sel, q, 1);

    // One clustered key: one cluster per level.
    const Synthetic one = synthetic_head(105, kDim, 2, 11);
    const HeadIndex h1 = build(one);
    CHECK_EQ(h1.levels[0].n_clusters, 1u);
    CHECK_EQ(h1.levels[1].n_clusters, 1u);
    p.mode = SelectMode::Dense;
    lookup_select(h1, q.data(), 1, 1, kScale, p, sc, sel);
    check_rows_match(h1, one, sel, q, 1);

    ClusterParams bad;
    bad.level_fractions = {0.05f, 0.01f};
    HeadIndex hb;
    CHECK(cluster_head_build(s.keys.data(), s.values.data(), 50, kDim, bad, hb).code == "SQUEEZE_BAD_PARAMS");
}

TEST_CASE("cluster_index_build over an engine-layout cache: progress, cancel, f32 and f16") {
    const uint32_t n_layers = 2, n_kv = 2, n_ctx = 700, n_tokens = 600;
    std::vector<float> k32(size_t{n_layers} * n_kv * n_ctx * kDim), v32(k32.size());
    for (uint32_t lh = 0; lh < n_layers * n_kv; ++lh) {
        const Synthetic s = synthetic_head(n_tokens, kDim, 8, 100 + lh);
        std::copy(s.keys.begin(), s.keys.end(), k32.begin() + size_t{lh} * n_ctx * kDim);
        std::copy(s.values.begin(), s.values.end(), v32.begin() + size_t{lh} * n_ctx * kDim);
    }
    std::vector<uint16_t> k16(k32.size()), v16(v32.size());
    for (size_t i = 0; i < k32.size(); ++i) k16[i] = sq::f32_to_f16(k32[i]), v16[i] = sq::f32_to_f16(v32[i]);

    for (const bool f16 : {false, true}) {
        KvView view{f16 ? static_cast<const void*>(k16.data()) : k32.data(), f16 ? static_cast<const void*>(v16.data()) : v32.data(),
                    f16 ? KvElem::F16 : KvElem::F32, n_layers, n_kv, kDim, n_ctx, n_tokens};
        ClusterParams p;
        p.n_threads = 2;
        std::vector<uint32_t> seen;
        BuildProgress progress;
        progress.on_progress = [&](uint32_t done, uint32_t total) { seen.push_back(done); CHECK_EQ(total, 4u); };
        ClusterIndex index;
        CHECK(cluster_index_build(view, p, progress, index).is_ok());
        CHECK((seen == std::vector<uint32_t>{1, 2, 3, 4}));
        CHECK_EQ(index.heads.size(), size_t{4});
        for (uint32_t l = 0; l < n_layers; ++l)
            for (uint32_t hh = 0; hh < n_kv; ++hh) {
                const HeadIndex& h = index.head(l, hh);
                const uint16_t* cache = k16.data() + (size_t{l} * n_kv + hh) * n_ctx * kDim;
                for (uint32_t slot = 0; slot < n_tokens; slot += 37)
                    CHECK_EQ(h.keys[size_t{slot} * kDim + 5], cache[size_t{h.token_of_slot[slot]} * kDim + 5]);
            }
        std::atomic<bool> cancel{true};
        progress.cancel = &cancel;
        CHECK(cluster_index_build(view, p, progress, index).code == "SQUEEZE_CANCELLED");
        view.n_tokens = n_ctx + 1;
        CHECK(cluster_index_build(view, p, BuildProgress{}, index).code == "SQUEEZE_BAD_PARAMS");
    }
}

int main() { return run_all_tests(); }
