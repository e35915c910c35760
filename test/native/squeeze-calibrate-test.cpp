// Calibration: thresholds for a ladder of sparsities that the lookup then achieves on the calibration
// queries (per layer and pooled), through the tree, within 2 points; per token (decode) and on scores
// averaged over a question-length window (prefill).
#include <algorithm>
#include <cmath>
#include <vector>

#include "check.h"
#include "squeeze-fixtures.h"
#include "squeeze/calibrate.h"
#include "squeeze/cluster-index.h"
#include "squeeze/lookup.h"

using namespace sq::squeeze;
using namespace squeeze_fixtures;

namespace {

constexpr uint32_t kDim = 64, kLayers = 3, kKvHeads = 2, kGroup = 3, kHeads = kKvHeads * kGroup, kTokens = 3000, kQ = 100;
const float kScale = 1.0f / std::sqrt(float(kDim));

struct Model {
    ClusterIndex index;
    std::vector<float> q; // [kLayers][kQ][kHeads][kDim]
};

// Layers differ in how peaked their attention is (query scale), so per-layer thresholds differ.
Model synthetic_model() {
    Model m;
    std::vector<float> k(size_t{kLayers} * kKvHeads * kTokens * kDim), v(k.size());
    m.q.resize(size_t{kLayers} * kQ * kHeads * kDim);
    for (uint32_t l = 0; l < kLayers; ++l)
        for (uint32_t h = 0; h < kKvHeads; ++h) {
            const Synthetic s = synthetic_head(kTokens, kDim, 20, 1000 + l * 10 + h);
            const size_t base = (size_t{l} * kKvHeads + h) * kTokens * kDim;
            std::copy(s.keys.begin(), s.keys.end(), k.begin() + base);
            std::copy(s.values.begin(), s.values.end(), v.begin() + base);
            const auto qs = synthetic_queries(s, kQ * kGroup, 2000 + l * 10 + h);
            for (uint32_t t = 0; t < kQ; ++t)
                for (uint32_t g = 0; g < kGroup; ++g)
                    for (uint32_t c = 0; c < kDim; ++c)
                        m.q[((size_t{l} * kQ + t) * kHeads + h * kGroup + g) * kDim + c] = (0.5f + 0.5f * l) * qs[(size_t{t} * kGroup + g) * kDim + c];
        }
    const KvView view{k.data(), v.data(), KvElem::F32, kLayers, kKvHeads, kDim, kTokens, kTokens};
    CHECK(cluster_index_build(view, ClusterParams{}, BuildProgress{}, m.index).is_ok());
    return m;
}

// Share of the fixed-context keys (always-attended included) left unread over one layer's KV heads
// when the lookup selects once per window of `chunk` calibration tokens (their scores averaged, as
// a question's prefill does; windows start every chunk / 2 tokens, chunk 1: per token as in decode).
double sparsity(const Model& m, uint32_t layer, const float* tau, uint32_t chunk = 1) {
    SelectParams p;
    p.mode = SelectMode::Threshold;
    p.tau = tau;
    LookupScratch sc;
    Selection sel;
    double keys = 0.0, dense = 0.0;
    for (uint32_t h = 0; h < kKvHeads; ++h)
        for (uint32_t t = 0; t + chunk <= kQ; t += std::max(1u, chunk / 2)) {
            // Rows [chunk][kGroup][kDim]: the group's heads are contiguous inside a token's kHeads rows.
            std::vector<float> rows(size_t{chunk} * kGroup * kDim);
            for (uint32_t i = 0; i < chunk; ++i)
                std::copy_n(m.q.data() + ((size_t{layer} * kQ + t + i) * kHeads + h * kGroup) * kDim, size_t{kGroup} * kDim,
                            rows.begin() + size_t{i} * kGroup * kDim);
            lookup_select(m.index.head(layer, h), rows.data(), chunk, kGroup, kScale, p, sc, sel);
            keys += sel.n_keys;
            dense += kTokens;
        }
    return 1.0 - keys / dense;
}

} // namespace

TEST_CASE("calibrated thresholds achieve the target sparsity within 2 points") {
    const Model m = synthetic_model();
    Thresholds th;
    CHECK(calibrate(m.index, m.q.data(), kQ, kHeads, kScale, CalibrationParams{}, th).is_ok());
    CHECK_EQ(th.targets.size(), size_t{5});
    for (size_t t = 0; t < th.targets.size(); ++t) {
        double global_sparsity = 0.0;
        for (uint32_t l = 0; l < kLayers; ++l) {
            CHECK_NEAR(sparsity(m, l, th.tau(t, l, true)), th.targets[t], 0.02);
            global_sparsity += sparsity(m, l, th.tau(t, l, false)) / kLayers;
        }
        CHECK_NEAR(global_sparsity, th.targets[t], 0.02);
        // A higher sparsity needs a higher finest threshold.
        if (t > 0) CHECK(th.tau(t, 0, true)[1] > th.tau(t - 1, 0, true)[1]);
    }
    // Layers with peakier attention get different thresholds than flatter ones.
    CHECK(th.tau(3, 0, true)[1] != th.tau(3, 2, true)[1]);
}

TEST_CASE("prefill thresholds achieve the target on scores averaged over a question's tokens") {
    const Model m = synthetic_model();
    Thresholds th;
    const CalibrationParams params;
    CHECK(calibrate(m.index, m.q.data(), kQ, kHeads, kScale, params, th).is_ok());
    const uint32_t chunk = params.prefill_chunk;
    size_t decode_ladder_misses = 0;
    for (size_t t = 0; t < th.targets.size(); ++t) {
        double global_sparsity = 0.0, decode_ladder_sparsity = 0.0;
        for (uint32_t l = 0; l < kLayers; ++l) {
            CHECK_NEAR(sparsity(m, l, th.tau(t, l, true, true), chunk), th.targets[t], 0.02);
            global_sparsity += sparsity(m, l, th.tau(t, l, false, true), chunk) / kLayers;
            decode_ladder_sparsity += sparsity(m, l, th.tau(t, l, false), chunk) / kLayers;
        }
        CHECK_NEAR(global_sparsity, th.targets[t], 0.02);
        decode_ladder_misses += std::fabs(decode_ladder_sparsity - th.targets[t]) > 0.05;
    }
    // The per-token ladder misreads averaged scores (here it reads 2-3% sparsity for 50-80%): it is
    // why the prefill ladder exists.
    CHECK(decode_ladder_misses >= 3);
    // A one-token window is the per-token ladder.
    CalibrationParams one = params;
    one.prefill_chunk = 1;
    CHECK(calibrate(m.index, m.q.data(), kQ, kHeads, kScale, one, th).is_ok());
    CHECK(th.prefill_global == th.global && th.prefill_per_layer == th.per_layer);
}

TEST_CASE("calibration rejects bad input") {
    const Model m = synthetic_model();
    Thresholds th;
    CHECK(calibrate(m.index, m.q.data(), 0, kHeads, kScale, CalibrationParams{}, th).code == "SQUEEZE_BAD_PARAMS");
    CHECK(calibrate(m.index, m.q.data(), kQ, 5, kScale, CalibrationParams{}, th).code == "SQUEEZE_BAD_PARAMS");
    CalibrationParams bad;
    bad.targets = {0.5f, 1.0f};
    CHECK(calibrate(m.index, m.q.data(), kQ, kHeads, kScale, bad, th).code == "SQUEEZE_BAD_PARAMS");
    CalibrationParams no_chunk;
    no_chunk.prefill_chunk = 0;
    CHECK(calibrate(m.index, m.q.data(), kQ, kHeads, kScale, no_chunk, th).code == "SQUEEZE_BAD_PARAMS");
}

int main() { return run_all_tests(); }
