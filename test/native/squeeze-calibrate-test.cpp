// Calibration: thresholds for a ladder of sparsities that the lookup then achieves on the calibration
// queries (per layer and pooled), through the tree, within 2 points.
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

// Keys read (always-attended included) over all calibration tokens and KV heads of one layer.
double keys_read(const Model& m, uint32_t layer, const float* tau) {
    SelectParams p;
    p.mode = SelectMode::Threshold;
    p.tau = tau;
    LookupScratch sc;
    Selection sel;
    double keys = 0.0;
    for (uint32_t h = 0; h < kKvHeads; ++h)
        for (uint32_t t = 0; t < kQ; ++t) {
            const float* q = m.q.data() + ((size_t{layer} * kQ + t) * kHeads + h * kGroup) * kDim;
            lookup_select(m.index.head(layer, h), q, 1, kGroup, kScale, p, sc, sel);
            keys += sel.n_keys;
        }
    return keys;
}

} // namespace

TEST_CASE("calibrated thresholds achieve the target sparsity within 2 points") {
    const Model m = synthetic_model();
    Thresholds th;
    CHECK(calibrate(m.index, m.q.data(), kQ, kHeads, kScale, CalibrationParams{}, th).is_ok());
    CHECK_EQ(th.targets.size(), size_t{5});
    const double per_layer_dense = double(kKvHeads) * kQ * kTokens;
    for (size_t t = 0; t < th.targets.size(); ++t) {
        double global_keys = 0.0;
        for (uint32_t l = 0; l < kLayers; ++l) {
            const double achieved = 1.0 - keys_read(m, l, th.tau(t, l, true)) / per_layer_dense;
            CHECK_NEAR(achieved, th.targets[t], 0.02);
            global_keys += keys_read(m, l, th.tau(t, l, false));
        }
        CHECK_NEAR(1.0 - global_keys / (per_layer_dense * kLayers), th.targets[t], 0.02);
        // A higher sparsity needs a higher finest threshold.
        if (t > 0) CHECK(th.tau(t, 0, true)[1] > th.tau(t - 1, 0, true)[1]);
    }
    // Layers with peakier attention get different thresholds than flatter ones.
    CHECK(th.tau(3, 0, true)[1] != th.tau(3, 2, true)[1]);
}

TEST_CASE("calibration rejects bad input") {
    const Model m = synthetic_model();
    Thresholds th;
    CHECK(calibrate(m.index, m.q.data(), 0, kHeads, kScale, CalibrationParams{}, th).code == "SQUEEZE_BAD_PARAMS");
    CHECK(calibrate(m.index, m.q.data(), kQ, 5, kScale, CalibrationParams{}, th).code == "SQUEEZE_BAD_PARAMS");
    CalibrationParams bad;
    bad.targets = {0.5f, 1.0f};
    CHECK(calibrate(m.index, m.q.data(), kQ, kHeads, kScale, bad, th).code == "SQUEEZE_BAD_PARAMS");
}

int main() { return run_all_tests(); }
