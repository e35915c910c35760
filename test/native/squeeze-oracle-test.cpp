// The evaluation oracles (recall.h, oracle_select) and per-token selection of a batch
// (LayerAttention::per_token): the oracle selections are the heaviest clusters / keys of the true
// attention at the lookup's key count, the attention reads exactly them (single slots included), and a
// per-token batch selects for each token what a decode step of that token alone would.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/thread-pool.h"
#include "check.h"
#include "squeeze-fixtures.h"
#include "squeeze/layer-attention.h"
#include "squeeze/recall.h"
#include "squeeze/sparse-attention.h"

using namespace sq::squeeze;
using namespace squeeze_fixtures;

namespace {

constexpr uint32_t kDim = 64, kGroup = 3, kTokens = 1200, kRows = 4 * kGroup;
const float kScale = 1.0f / std::sqrt(float(kDim));

struct Head {
    Synthetic syn = synthetic_head(kTokens, kDim, 12, 91);
    std::vector<float> q = synthetic_queries(syn, kRows, 5); // [4 tokens][kGroup][kDim]
    HeadIndex index;
    Head() { CHECK(cluster_head_build(syn.keys.data(), syn.values.data(), kTokens, kDim, ClusterParams{}, index).is_ok()); }
};

// True attention mass per slot, summed over the rows (each row's softmax over the whole fixed context).
std::vector<double> slot_mass(const Head& h, const float* q, uint32_t n_rows) {
    std::vector<double> mass(kTokens, 0.0), logit(kTokens);
    for (uint32_t r = 0; r < n_rows; ++r) {
        double m = -1e300, z = 0.0;
        for (uint32_t s = 0; s < kTokens; ++s) {
            double dot = 0.0;
            for (uint32_t c = 0; c < kDim; ++c) dot += double(q[size_t{r} * kDim + c]) * h.syn.keys[size_t{h.index.token_of_slot[s]} * kDim + c];
            m = std::max(m, logit[s] = dot * kScale);
        }
        for (uint32_t s = 0; s < kTokens; ++s) z += std::exp(logit[s] - m);
        for (uint32_t s = 0; s < kTokens; ++s) mass[s] += std::exp(logit[s] - m) / z;
    }
    return mass;
}

double selected_mass(const HeadIndex& head, const Selection& sel, const std::vector<double>& mass) {
    double on = 0.0;
    for (const auto& [b, e] : selection_ranges(head, sel))
        for (uint32_t s = b; s < e; ++s) on += mass[s];
    return on;
}

// Finest threshold at the 90th percentile of the group's averaged cluster scores (the union over the
// group's heads then reads a good part of the keys, not all).
Selection threshold_selection(const Head& h) {
    std::vector<std::vector<float>> scores;
    lookup_score_all(h.index, h.q.data(), kRows / kGroup, kGroup, kScale, scores);
    const size_t at = scores[1].size() * 9 / 10;
    std::nth_element(scores[1].begin(), scores[1].begin() + at, scores[1].end());
    const float tau[2] = {0.0f, scores[1][at]};
    SelectParams p;
    p.mode = SelectMode::Threshold;
    p.tau = tau;
    p.rerank_shortlist = 0.0f; // the centroid estimate's own selection
    LookupScratch scratch;
    Selection sel;
    lookup_select(h.index, h.q.data(), kRows / kGroup, kGroup, kScale, p, scratch, sel);
    return sel;
}

} // namespace

TEST_CASE("oracle keys: the n_keys heaviest keys, read as single slots; oracle clusters: the heaviest clusters") {
    const Head h;
    const std::vector<double> mass = slot_mass(h, h.q.data(), kRows);
    const Selection lookup = threshold_selection(h);
    CHECK(lookup.n_keys > h.index.n_always && lookup.n_keys < kTokens);
    std::vector<float> scratch;

    Selection keys;
    oracle_select(h.index, h.q.data(), kRows, kScale, Oracle::Keys, lookup.n_keys, scratch, keys);
    CHECK_EQ(keys.n_keys, lookup.n_keys);
    CHECK(keys.clusters.empty());
    CHECK(std::is_sorted(keys.slots.begin(), keys.slots.end()));
    uint32_t read = 0;
    for (const auto& [b, e] : selection_ranges(h.index, keys)) read += e - b;
    CHECK_EQ(read, keys.n_keys);
    // No clustered key left out is heavier than one taken.
    double lightest_taken = 1e300, heaviest_left = 0.0;
    std::vector<bool> taken(kTokens, false);
    for (const uint32_t s : keys.slots) taken[s] = true;
    for (uint32_t s = h.index.n_always; s < kTokens; ++s)
        if (taken[s]) lightest_taken = std::min(lightest_taken, mass[s]);
        else heaviest_left = std::max(heaviest_left, mass[s]);
    CHECK(lightest_taken >= heaviest_left - 1e-6);

    Selection clusters;
    oracle_select(h.index, h.q.data(), kRows, kScale, Oracle::Clusters, lookup.n_keys, scratch, clusters);
    CHECK(clusters.slots.empty());
    CHECK(clusters.n_keys >= lookup.n_keys);
    CHECK(std::is_sorted(clusters.clusters.begin(), clusters.clusters.end()));
    // The true mass bounds what the centroid estimate's lookup of that size reaches.
    CHECK(selected_mass(h.index, clusters, mass) >= selected_mass(h.index, lookup, mass) - 1e-6);
    Selection keys_as_many;
    oracle_select(h.index, h.q.data(), kRows, kScale, Oracle::Keys, clusters.n_keys, scratch, keys_as_many);
    CHECK(selected_mass(h.index, keys_as_many, mass) >= selected_mass(h.index, clusters, mass) - 1e-6);
}

TEST_CASE("per-token batch: each token gets the selection its own decode step would, and attention over exactly it") {
    const Head h;
    ClusterIndex index;
    index.n_layers = 1;
    index.n_kv_heads = 1;
    index.head_dim = kDim;
    index.n_tokens = kTokens;
    index.n_levels = 2;
    index.heads = {h.index};
    const uint32_t n_tokens = kRows / kGroup;
    std::vector<uint16_t> k_dyn(size_t{n_tokens} * kDim), v_dyn(k_dyn.size()); // the batch's own rows
    std::vector<float> k32(k_dyn.size()), v32(k_dyn.size());
    for (size_t i = 0; i < k_dyn.size(); ++i) {
        k32[i] = h.syn.keys[i + kDim];
        v32[i] = h.syn.values[i + kDim];
        k_dyn[i] = sq::f32_to_f16(k32[i]);
        v_dyn[i] = sq::f32_to_f16(v32[i]);
    }
    const float tau[2] = {0.0f, 2.0f / kTokens};
    std::vector<float> out(size_t{kRows} * kDim);
    LayerAttention a;
    a.index = &index;
    a.n_heads = kGroup;
    a.n_tokens = n_tokens;
    a.q = h.q.data();
    a.k_dyn = k_dyn.data();
    a.v_dyn = v_dyn.data();
    a.dyn_head_stride = 0;
    a.scale = kScale;
    a.select.mode = SelectMode::Threshold;
    a.select.tau = tau;
    a.out = out.data();
    a.per_token = true;
    sq::cpu::ThreadPool pool(2);
    LayerScratch scratch;
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).is_ok());
    CHECK_EQ(scratch.selections.size(), size_t{n_tokens});
    SelectParams p = a.select;
    LookupScratch lookup_scratch;
    bool differ = false;
    for (uint32_t t = 0; t < n_tokens; ++t) {
        Selection alone;
        lookup_select(h.index, h.q.data() + size_t{t} * kGroup * kDim, 1, kGroup, kScale, p, lookup_scratch, alone);
        CHECK(scratch.selections[t].clusters == alone.clusters);
        differ = differ || alone.clusters != scratch.selections[0].clusters;
        std::vector<float> k, v;
        for (const auto& [b, e] : selection_ranges(h.index, alone))
            for (uint32_t s = b; s < e; ++s) {
                const size_t at = size_t{h.index.token_of_slot[s]} * kDim;
                k.insert(k.end(), h.syn.keys.begin() + at, h.syn.keys.begin() + at + kDim);
                v.insert(v.end(), h.syn.values.begin() + at, h.syn.values.begin() + at + kDim);
            }
        k.insert(k.end(), k32.begin(), k32.begin() + size_t{t + 1} * kDim);
        v.insert(v.end(), v32.begin(), v32.begin() + size_t{t + 1} * kDim);
        for (uint32_t g = 0; g < kGroup; ++g) {
            const size_t row = (size_t{t} * kGroup + g) * kDim;
            const auto ref = reference_attention(h.q.data() + row, k.data(), v.data(), static_cast<uint32_t>(k.size() / kDim), kDim, kScale);
            for (uint32_t c = 0; c < kDim; ++c) CHECK_NEAR(out[row + c], ref[c], 3e-5);
        }
    }
    CHECK(differ); // the tokens point at different topics, so one shared selection could not serve them all

    // Oracle keys through the layer: attention over exactly the chosen single slots.
    a.per_token = false;
    a.oracle = Oracle::Keys;
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).is_ok());
    const Selection& sel = scratch.selections[0];
    CHECK(!sel.slots.empty());
    std::vector<float> k, v;
    for (const auto& [b, e] : selection_ranges(h.index, sel))
        for (uint32_t s = b; s < e; ++s) {
            const size_t at = size_t{h.index.token_of_slot[s]} * kDim;
            k.insert(k.end(), h.syn.keys.begin() + at, h.syn.keys.begin() + at + kDim);
            v.insert(v.end(), h.syn.values.begin() + at, h.syn.values.begin() + at + kDim);
        }
    const size_t n_fixed_read = k.size();
    for (uint32_t t = 0; t < n_tokens; ++t) {
        k.resize(n_fixed_read);
        v.resize(n_fixed_read);
        k.insert(k.end(), k32.begin(), k32.begin() + size_t{t + 1} * kDim);
        v.insert(v.end(), v32.begin(), v32.begin() + size_t{t + 1} * kDim);
        for (uint32_t g = 0; g < kGroup; ++g) {
            const size_t row = (size_t{t} * kGroup + g) * kDim;
            const auto ref = reference_attention(h.q.data() + row, k.data(), v.data(), static_cast<uint32_t>(k.size() / kDim), kDim, kScale);
            for (uint32_t c = 0; c < kDim; ++c) CHECK_NEAR(out[row + c], ref[c], 3e-5);
        }
    }
}

int main() { return run_all_tests(); }
