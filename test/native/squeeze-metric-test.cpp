// Query-aware clustering (cluster_query_metric): keys are clustered in the metric of their queries'
// second moment, so that a cluster's members share q.k for the queries that come rather than a
// direction over dimensions no query reads. On keys whose largest variation is in dimensions the
// queries ignore, plain cosine clusters mix what the queries tell apart and the lookup at a small
// key budget loses most of the attention; clustered in the query metric it keeps nearly all of it.
#include <cmath>
#include <random>
#include <vector>

#include "check.h"
#include "squeeze/cluster-index.h"
#include "squeeze/lookup.h"
#include "squeeze/recall.h"

using namespace sq::squeeze;

namespace {

constexpr uint32_t kDim = 64, kRead = 16, kTopics = 8, kTokens = 2000, kGroup = 3;
const float kScale = 1.0f / std::sqrt(float(kDim));

struct Data {
    std::vector<float> keys, values; // [kTokens][kDim]
    std::vector<float> topics;       // [kTopics][kRead] directions in the dimensions the queries read
    std::vector<float> queries;      // [n][kGroup][kDim]
};

// Keys: a large random part in dimensions [kRead, kDim) that no query reads, and one of kTopics
// small directions in [0, kRead) that the queries look for.
Data make_data(uint32_t n_queries) {
    std::mt19937_64 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    Data d;
    d.topics.resize(size_t{kTopics} * kRead);
    for (float& t : d.topics) t = normal(rng);
    d.keys.resize(size_t{kTokens} * kDim);
    d.values.resize(d.keys.size());
    for (uint32_t i = 0; i < kTokens; ++i) {
        const uint32_t topic = static_cast<uint32_t>(rng() % kTopics);
        for (uint32_t c = 0; c < kDim; ++c) {
            d.keys[size_t{i} * kDim + c] = c < kRead ? 0.6f * d.topics[size_t{topic} * kRead + c] + 0.1f * normal(rng) : 4.0f * normal(rng);
            d.values[size_t{i} * kDim + c] = normal(rng);
        }
    }
    d.queries.assign(size_t{n_queries} * kGroup * kDim, 0.0f);
    for (uint32_t t = 0; t < n_queries; ++t) {
        const uint32_t topic = static_cast<uint32_t>(rng() % kTopics); // the group's heads look for the same topic
        for (uint32_t r = t * kGroup; r < (t + 1) * kGroup; ++r)
            for (uint32_t c = 0; c < kRead; ++c) d.queries[size_t{r} * kDim + c] = 6.0f * d.topics[size_t{topic} * kRead + c] + 0.3f * normal(rng);
    }
    return d;
}

// Mean attention-mass recall over the rows of n_q single-token lookups at a budget of a quarter of the
// keys (a topic holds an eighth).
double budget_recall(const HeadIndex& head, const Data& d, uint32_t first_q, uint32_t n_q) {
    SelectParams p;
    p.mode = SelectMode::Budget;
    p.budget_keys = kTokens / 4;
    LookupScratch scratch;
    Selection sel;
    std::vector<float> buf;
    double sum = 0.0;
    for (uint32_t t = first_q; t < first_q + n_q; ++t) {
        const float* q = d.queries.data() + size_t{t} * kGroup * kDim;
        lookup_select(head, q, 1, kGroup, kScale, p, scratch, sel);
        for (uint32_t g = 0; g < kGroup; ++g) sum += selection_recall(head, sel, q + size_t{g} * kDim, kScale, buf);
    }
    return sum / (n_q * kGroup);
}

} // namespace

TEST_CASE("the metric's norm is the queries' second moment (plus a small ridge)") {
    const Data d = make_data(40);
    const uint32_t n_rows = 40 * kGroup;
    std::vector<float> metric;
    cluster_query_metric(d.queries.data(), n_rows, kDim, metric);
    CHECK_EQ(metric.size(), size_t{kDim} * kDim);
    for (uint32_t i = 0; i < 5; ++i) {
        const float* k = d.keys.data() + size_t{i} * kDim;
        double moment = 0.0, mapped = 0.0, norm_sq = 0.0;
        for (uint32_t r = 0; r < n_rows; ++r) {
            double dot = 0.0;
            for (uint32_t c = 0; c < kDim; ++c) dot += double(d.queries[size_t{r} * kDim + c]) * k[c];
            moment += dot * dot / n_rows;
        }
        for (uint32_t r = 0; r < kDim; ++r) {
            double y = 0.0;
            for (uint32_t c = 0; c < kDim; ++c) y += double(metric[size_t{r} * kDim + c]) * k[c];
            mapped += y * y;
        }
        for (uint32_t c = 0; c < kDim; ++c) norm_sq += double(k[c]) * k[c];
        double trace = 0.0;
        for (size_t x = 0; x < size_t{n_rows} * kDim; ++x) trace += double(d.queries[x]) * d.queries[x] / n_rows;
        CHECK_NEAR(mapped, moment + 1e-3 * trace / kDim * norm_sq, 1e-3 * mapped);
    }
}

TEST_CASE("clustered in the query metric, the lookup keeps the attention that plain cosine clusters lose") {
    const uint32_t n_calib = 100, n_test = 30;
    const Data d = make_data(n_calib + n_test);
    std::vector<float> metric;
    cluster_query_metric(d.queries.data(), n_calib * kGroup, kDim, metric);
    HeadIndex plain, aware;
    CHECK(cluster_head_build(d.keys.data(), d.values.data(), kTokens, kDim, ClusterParams{}, plain).is_ok());
    CHECK(cluster_head_build(d.keys.data(), d.values.data(), kTokens, kDim, ClusterParams{}, aware, metric.data()).is_ok());
    // Queries the metric was not built from.
    const double plain_recall = budget_recall(plain, d, n_calib, n_test), aware_recall = budget_recall(aware, d, n_calib, n_test);
    CHECK(aware_recall > 0.9); // measured 0.96
    CHECK(plain_recall < 0.6); // measured 0.39
}

TEST_CASE("cluster_index_build clusters in the metric when given queries, unless switched off; refuses a head count that does not divide") {
    const Data d = make_data(20);
    // One layer, one KV head: the view's cache rows are the keys and values as f32.
    const KvView view{d.keys.data(), d.values.data(), KvElem::F32, 1, 1, kDim, kTokens, kTokens};
    ClusterIndex with, without;
    CHECK(cluster_index_build(view, ClusterParams{}, BuildProgress{}, with, QueryRows{d.queries.data(), 20, kGroup}).is_ok());
    CHECK(cluster_index_build(view, ClusterParams{}, BuildProgress{}, without).is_ok());
    CHECK(with.heads[0].token_of_slot != without.heads[0].token_of_slot);
    ClusterParams off;
    off.query_metric = false;
    ClusterIndex ignored;
    CHECK(cluster_index_build(view, off, BuildProgress{}, ignored, QueryRows{d.queries.data(), 20, kGroup}).is_ok());
    CHECK(ignored.heads[0].token_of_slot == without.heads[0].token_of_slot);
    const KvView two_kv{d.keys.data(), d.values.data(), KvElem::F32, 1, 2, kDim, kTokens / 2, kTokens / 2};
    CHECK(cluster_index_build(two_kv, ClusterParams{}, BuildProgress{}, ignored, QueryRows{d.queries.data(), 20, kGroup}).code ==
          "SQUEEZE_BAD_PARAMS");
}

int main() { return run_all_tests(); }
