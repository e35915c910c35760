// The question's prefill lookup reranks a shortlist by exact attention mass (SelectParams::rerank_shortlist).
// A key far from its cluster's centroid along a direction only a question reads can hold most of a
// row's attention while the centroid's estimate of its cluster looks unimportant (SmolLM2 layer 7,
// query head 7: one key with 85% of a question token's mass, in a cluster the estimate ranked 16th
// of 147 for that token and left out of the question's selection). The rerank keeps the key count the
// thresholds set and finds that cluster; decode lookups (one token) are untouched.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "squeeze-fixtures.h"
#include "squeeze/cluster-index.h"
#include "squeeze/lookup.h"
#include "squeeze/recall.h"

using namespace sq::squeeze;
using namespace squeeze_fixtures;

namespace {

constexpr uint32_t kTokens = 2000, kDim = 64, kTopics = 8, kNeedle = 1234, kQuestion = 6;
const float kScale = 1.0f / std::sqrt(float(kDim));

// Topic keys plus one needle: a key with a long component along a direction u no other key has.
// Question: kQuestion topic queries, the last of which looks along u.
struct Needle {
    Synthetic s = synthetic_head(kTokens, kDim, kTopics, 11);
    std::vector<float> question; // [kQuestion][kDim]
    HeadIndex head;
    Needle() {
        std::mt19937_64 rng(5);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::vector<float> u(kDim);
        double norm = 0.0;
        for (float& x : u) x = normal(rng), norm += double(x) * x;
        for (float& x : u) x = static_cast<float>(x / std::sqrt(norm));
        question = synthetic_queries(s, kQuestion, 9);
        for (uint32_t d = 0; d < kDim; ++d) {
            float& k = s.keys[size_t{kNeedle} * kDim + d];
            k = round_f16(k + 12.0f * u[d]);
            question[size_t{kQuestion - 1} * kDim + d] = 8.0f * u[d];
        }
        CHECK(cluster_head_build(s.keys.data(), s.values.data(), kTokens, kDim, ClusterParams{}, head).is_ok());
    }
    uint32_t needle_cluster() const {
        const ClusterLevel& fine = head.levels.back();
        const uint32_t slot = static_cast<uint32_t>(std::find(head.token_of_slot.begin(), head.token_of_slot.end(), kNeedle) - head.token_of_slot.begin());
        return static_cast<uint32_t>(std::upper_bound(fine.first.begin(), fine.first.end(), slot) - fine.first.begin()) - 1;
    }
};

// Thresholds that keep about a quarter of the finest clusters' scores and half the coarse ones.
SelectParams quarter_thresholds(const HeadIndex& h, const std::vector<float>& q, uint32_t n_q, float (&tau)[2]) {
    std::vector<std::vector<float>> all;
    lookup_score_all(h, q.data(), n_q, 1, kScale, all);
    auto quantile = [](std::vector<float> v, double share) {
        const size_t i = static_cast<size_t>(share * (v.size() - 1));
        std::nth_element(v.begin(), v.begin() + i, v.end());
        return v[i];
    };
    tau[0] = quantile(all[0], 0.5);
    tau[1] = quantile(all[1], 0.75);
    SelectParams p;
    p.mode = SelectMode::Threshold;
    p.tau = tau;
    return p;
}

bool has(const Selection& sel, uint32_t cluster) { return std::binary_search(sel.clusters.begin(), sel.clusters.end(), cluster); }

} // namespace

TEST_CASE("a question's lookup keeps its key count and finds the cluster whose centroid hides a needle") {
    const Needle n;
    float tau[2];
    SelectParams estimate = quarter_thresholds(n.head, n.question, kQuestion, tau);
    estimate.rerank_shortlist = 0.0f;
    SelectParams rerank = estimate;
    rerank.rerank_shortlist = 2.0f;
    LookupScratch sc;
    Selection by_estimate, by_mass;
    lookup_select(n.head, n.question.data(), kQuestion, 1, kScale, estimate, sc, by_estimate);
    lookup_select(n.head, n.question.data(), kQuestion, 1, kScale, rerank, sc, by_mass);

    CHECK(!has(by_estimate, n.needle_cluster()));
    CHECK(has(by_mass, n.needle_cluster()));
    // The key count is the thresholds' (up to the last cluster taken).
    const std::vector<uint32_t>& counts = n.head.levels.back().counts;
    CHECK(by_mass.n_keys >= by_estimate.n_keys);
    CHECK(by_mass.n_keys < by_estimate.n_keys + *std::max_element(counts.begin(), counts.end()));
    CHECK(std::is_sorted(by_mass.clusters.begin(), by_mass.clusters.end()));
    // The keys it scored exactly are reported (stats count their bytes): more than it keeps.
    CHECK_EQ(by_estimate.n_ranked, 0u);
    CHECK(by_mass.n_ranked > by_mass.n_keys);

    std::vector<float> buf;
    const float* needle_row = n.question.data() + size_t{kQuestion - 1} * kDim;
    CHECK(selection_recall(n.head, by_estimate, needle_row, kScale, buf) < 0.5);
    CHECK(selection_recall(n.head, by_mass, needle_row, kScale, buf) > 0.9);
    double estimate_recall = 0.0, mass_recall = 0.0;
    for (uint32_t t = 0; t < kQuestion; ++t) {
        estimate_recall += selection_recall(n.head, by_estimate, n.question.data() + size_t{t} * kDim, kScale, buf) / kQuestion;
        mass_recall += selection_recall(n.head, by_mass, n.question.data() + size_t{t} * kDim, kScale, buf) / kQuestion;
    }
    CHECK(mass_recall > estimate_recall);
}

TEST_CASE("decode lookups (one token) do not rerank") {
    const Needle n;
    const std::vector<float> row(n.question.end() - kDim, n.question.end());
    float tau[2];
    SelectParams off = quarter_thresholds(n.head, row, 1, tau);
    off.rerank_shortlist = 0.0f;
    SelectParams on = off;
    on.rerank_shortlist = 2.0f;
    LookupScratch sc;
    Selection a, b;
    lookup_select(n.head, row.data(), 1, 1, kScale, off, sc, a);
    lookup_select(n.head, row.data(), 1, 1, kScale, on, sc, b);
    CHECK(a.clusters == b.clusters);
    CHECK_EQ(a.n_keys, b.n_keys);
    CHECK_EQ(b.n_ranked, 0u);
}

int main() { return run_all_tests(); }
