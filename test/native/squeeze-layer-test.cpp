// squeeze_attend_layer against plain causal attention over the fixed context plus the dynamic rows of
// an engine-layout KV cache: dense mode matches attention over everything; threshold mode matches
// attention over exactly the selected keys; stats add up.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/thread-pool.h"
#include "check.h"
#include "squeeze-fixtures.h"
#include "squeeze/layer-attention.h"

using namespace sq::squeeze;
using namespace squeeze_fixtures;

namespace {

constexpr uint32_t kDim = 64, kLayers = 2, kKv = 2, kGroup = 3, kHeads = kKv * kGroup;
constexpr uint32_t kFixed = 900, kDynBefore = 5, kBatch = 3, kCtx = 1000;
const float kScale = 1.0f / std::sqrt(float(kDim));

struct Setup {
    std::vector<uint16_t> k, v;  // [kLayers][kKv][kCtx][kDim] f16, the engine's layout
    std::vector<float> k32, v32; // the same values as f32
    std::vector<float> q;        // [kBatch][kHeads][kDim]
    ClusterIndex index;
};

Setup make_setup() {
    Setup s;
    s.k.assign(size_t{kLayers} * kKv * kCtx * kDim, 0);
    s.v.assign(s.k.size(), 0);
    s.k32.assign(s.k.size(), 0.0f);
    s.v32.assign(s.k.size(), 0.0f);
    const uint32_t n_used = kFixed + kDynBefore + kBatch;
    for (uint32_t lh = 0; lh < kLayers * kKv; ++lh) {
        const Synthetic syn = synthetic_head(n_used, kDim, 10, 40 + lh);
        for (size_t i = 0; i < syn.keys.size(); ++i) {
            const size_t at = size_t{lh} * kCtx * kDim + i;
            s.k32[at] = syn.keys[i];
            s.v32[at] = syn.values[i];
            s.k[at] = sq::f32_to_f16(syn.keys[i]);
            s.v[at] = sq::f32_to_f16(syn.values[i]);
        }
        if (lh == 1) s.q = synthetic_queries(syn, kBatch * kHeads, 77); // layer 0 queries
    }
    const KvView view{s.k.data(), s.v.data(), KvElem::F16, kLayers, kKv, kDim, kCtx, kFixed};
    CHECK(cluster_index_build(view, ClusterParams{}, BuildProgress{}, s.index).is_ok());
    return s;
}

LayerAttention layer_args(const Setup& s, uint32_t layer, float* out) {
    LayerAttention a;
    a.index = &s.index;
    a.layer = layer;
    a.n_heads = kHeads;
    a.n_tokens = kBatch;
    a.q = s.q.data();
    a.k_dyn = s.k.data() + (size_t{layer} * kKv * kCtx + kFixed) * kDim;
    a.v_dyn = s.v.data() + (size_t{layer} * kKv * kCtx + kFixed) * kDim;
    a.elem = KvElem::F16;
    a.dyn_head_stride = size_t{kCtx} * kDim;
    a.n_dyn_before = kDynBefore;
    a.scale = kScale;
    a.out = out;
    return a;
}

// Reference for (token t, head h): attention over the given fixed tokens plus dynamic rows [0, kDynBefore + t + 1).
std::vector<double> reference(const Setup& s, uint32_t layer, uint32_t t, uint32_t h, const std::vector<uint32_t>& fixed_tokens) {
    const uint32_t kvh = h / kGroup;
    const size_t base = (size_t{layer} * kKv + kvh) * kCtx * kDim;
    std::vector<float> k, v;
    auto take = [&](uint32_t pos) {
        k.insert(k.end(), s.k32.begin() + base + size_t{pos} * kDim, s.k32.begin() + base + size_t{pos + 1} * kDim);
        v.insert(v.end(), s.v32.begin() + base + size_t{pos} * kDim, s.v32.begin() + base + size_t{pos + 1} * kDim);
    };
    for (const uint32_t pos : fixed_tokens) take(pos);
    for (uint32_t i = 0; i < kDynBefore + t + 1; ++i) take(kFixed + i);
    const float* q = s.q.data() + (size_t{t} * kHeads + h) * kDim;
    return reference_attention(q, k.data(), v.data(), static_cast<uint32_t>(k.size() / kDim), kDim, kScale);
}

} // namespace

TEST_CASE("dense mode equals causal attention over fixed + dynamic tokens") {
    const Setup s = make_setup();
    sq::cpu::ThreadPool pool(2);
    LayerScratch scratch;
    SqueezeStats stats;
    stats.reset(s.index);
    std::vector<float> out(size_t{kBatch} * kHeads * kDim);
    std::vector<uint32_t> all(kFixed);
    for (uint32_t i = 0; i < kFixed; ++i) all[i] = i;
    for (uint32_t layer = 0; layer < kLayers; ++layer) {
        CHECK(squeeze_attend_layer(layer_args(s, layer, out.data()), pool, scratch, &stats).is_ok());
        for (uint32_t t = 0; t < kBatch; ++t)
            for (uint32_t h = 0; h < kHeads; ++h) {
                const auto ref = reference(s, layer, t, h, all);
                for (uint32_t c = 0; c < kDim; ++c) CHECK_NEAR(out[(size_t{t} * kHeads + h) * kDim + c], ref[c], 3e-5);
            }
    }
    CHECK_NEAR(stats.sparsity(), 0.0, 1e-12);
    CHECK_EQ(stats.keys_fixed, uint64_t{kLayers} * kKv * kFixed);
    CHECK_EQ(stats.bytes_dense, stats.keys_fixed * kDim * 4);
    CHECK_NEAR(stats.mean_keys(1, 1), kFixed, 1e-9);
    CHECK_EQ(stats.clusters_per_level.size(), size_t{2});
}

TEST_CASE("threshold mode equals attention over the selected keys, and reads less") {
    const Setup s = make_setup();
    sq::cpu::ThreadPool pool(2);
    LayerScratch scratch;
    SqueezeStats stats;
    stats.reset(s.index);
    std::vector<float> out(size_t{kBatch} * kHeads * kDim);
    // Finest threshold at the median score of KV head 0's clusters for this batch: about half is read.
    std::vector<float> rows;
    for (uint32_t t = 0; t < kBatch; ++t) rows.insert(rows.end(), s.q.begin() + t * kHeads * kDim, s.q.begin() + (t * kHeads + kGroup) * kDim);
    std::vector<std::vector<float>> scores;
    lookup_score_all(s.index.head(0, 0), rows.data(), kBatch, kGroup, kScale, scores);
    std::nth_element(scores[1].begin(), scores[1].begin() + scores[1].size() / 2, scores[1].end());
    const float tau[2] = {0.0f, scores[1][scores[1].size() / 2]};
    LayerAttention a = layer_args(s, 0, out.data());
    a.select.mode = SelectMode::Threshold;
    a.select.tau = tau;
    // The estimate's own selection: at this 50% threshold the prefill rerank would read more K rows
    // than it saves (its reads are squeeze-rerank-test's).
    a.select.rerank_shortlist = 0.0f;
    CHECK(squeeze_attend_layer(a, pool, scratch, &stats).is_ok());
    for (uint32_t kvh = 0; kvh < kKv; ++kvh) {
        const HeadIndex& head = s.index.head(0, kvh);
        const Selection& sel = scratch.selections[kvh];
        CHECK(sel.n_keys < kFixed);
        std::vector<uint32_t> tokens(head.token_of_slot.begin(), head.token_of_slot.begin() + head.n_always);
        for (const uint32_t j : sel.clusters)
            for (uint32_t slot = head.levels[1].first[j]; slot < head.levels[1].first[j + 1]; ++slot) tokens.push_back(head.token_of_slot[slot]);
        for (uint32_t t = 0; t < kBatch; ++t)
            for (uint32_t g = 0; g < kGroup; ++g) {
                const uint32_t h = kvh * kGroup + g;
                const auto ref = reference(s, 0, t, h, tokens);
                for (uint32_t c = 0; c < kDim; ++c) CHECK_NEAR(out[(size_t{t} * kHeads + h) * kDim + c], ref[c], 3e-5);
            }
    }
    CHECK(stats.sparsity() > 0.0);
    CHECK(stats.bytes_read < stats.bytes_dense);
    CHECK(stats.lookup_seconds > 0.0);

    a.layer = kLayers; // out of range
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).code == "SQUEEZE_BAD_PARAMS");
}

TEST_CASE("token mass: each fixed token's attention probability summed over tokens and heads") {
    const Setup s = make_setup();
    sq::cpu::ThreadPool pool(2);
    LayerScratch scratch;
    std::vector<float> out(size_t{kBatch} * kHeads * kDim), mass(kFixed, 0.0f);
    LayerAttention a = layer_args(s, 1, out.data());
    a.token_mass = mass.data();
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).is_ok());
    std::vector<double> want(kFixed, 0.0);
    for (uint32_t t = 0; t < kBatch; ++t)
        for (uint32_t h = 0; h < kHeads; ++h) {
            const size_t base = (size_t{1} * kKv + h / kGroup) * kCtx * kDim;
            const float* q = s.q.data() + (size_t{t} * kHeads + h) * kDim;
            const uint32_t n = kFixed + kDynBefore + t + 1;
            std::vector<double> logit(n);
            double m = -1e300, z = 0.0;
            for (uint32_t i = 0; i < n; ++i) {
                double dot = 0.0;
                for (uint32_t c = 0; c < kDim; ++c) dot += double(q[c]) * s.k32[base + size_t{i} * kDim + c];
                logit[i] = dot * kScale;
                m = std::max(m, logit[i]);
            }
            for (uint32_t i = 0; i < n; ++i) z += std::exp(logit[i] - m);
            for (uint32_t i = 0; i < kFixed; ++i) want[i] += std::exp(logit[i] - m) / z;
        }
    double total = 0.0, total_want = 0.0;
    for (uint32_t i = 0; i < kFixed; ++i) {
        CHECK_NEAR(mass[i], want[i], 1e-5);
        total += mass[i];
        total_want += want[i];
    }
    CHECK_NEAR(total, total_want, 1e-4);
    CHECK(total > 1.0 && total < kBatch * kHeads); // the dynamic rows take some of the mass
}

// Largest difference between squeeze_attend_layer with every cluster selected and the engine's dense
// F16-cache kernel (cpu::attention_f16) over the same cache, for a batch of n_tokens tokens.
double max_difference_from_dense(const Setup& s, uint32_t n_tokens, bool round_as_dense) {
    sq::cpu::ThreadPool pool(2);
    LayerScratch scratch;
    std::vector<float> out(size_t{n_tokens} * kHeads * kDim);
    LayerAttention a = layer_args(s, 1, out.data());
    a.n_tokens = n_tokens;
    a.n_dyn_before = kDynBefore + kBatch - n_tokens;
    a.q = s.q.data() + size_t{kBatch - n_tokens} * kHeads * kDim;
    a.round_as_dense = round_as_dense;
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).is_ok());
    std::vector<float> scores(kCtx + 16), want(kDim);
    std::vector<uint16_t> q16(kDim), p16(kCtx + 16);
    double worst = 0.0;
    for (uint32_t t = 0; t < n_tokens; ++t)
        for (uint32_t h = 0; h < kHeads; ++h) {
            const size_t base = (size_t{1} * kKv + h / kGroup) * kCtx * kDim;
            const uint32_t n_kv = kFixed + a.n_dyn_before + t + 1;
            sq::cpu::attention_f16(a.q + (size_t{t} * kHeads + h) * kDim, s.k.data() + base, s.v.data() + base, n_kv, kDim, kScale,
                                   n_tokens == 1, scores.data(), q16.data(), p16.data(), want.data());
            for (uint32_t c = 0; c < kDim; ++c)
                worst = std::max(worst, double(std::fabs(out[(size_t{t} * kHeads + h) * kDim + c] - want[c])));
        }
    return worst;
}

TEST_CASE("round_as_dense: every cluster selected agrees with the engine's dense F16 attention") {
    const Setup s = make_setup();
    for (const uint32_t n_tokens : {1u, kBatch}) {
        const double rounded = max_difference_from_dense(s, n_tokens, true), plain = max_difference_from_dense(s, n_tokens, false);
        CHECK(rounded < 1e-5);
        CHECK(rounded < plain / 10);
    }
    LayerScratch scratch;
    std::vector<float> out(size_t{kBatch} * kHeads * kDim);
    sq::cpu::ThreadPool pool(1);
    LayerAttention a = layer_args(s, 0, out.data());
    a.round_as_dense = true;
    a.elem = KvElem::F32; // the rounding mirrors the F16 kernel only
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).code == "SQUEEZE_BAD_PARAMS");
}

TEST_CASE("recall: share of the dense attention over the fixed context that falls on the selected keys") {
    const Setup s = make_setup();
    sq::cpu::ThreadPool pool(2);
    LayerScratch scratch;
    SqueezeStats stats;
    stats.reset(s.index);
    std::vector<float> out(size_t{kBatch} * kHeads * kDim);
    LayerAttention a = layer_args(s, 1, out.data());
    a.recall = true;
    CHECK(squeeze_attend_layer(a, pool, scratch, &stats).is_ok()); // every cluster
    CHECK_NEAR(stats.mean_recall(1), 1.0, 1e-6);
    CHECK_EQ(stats.recall_rows[1], uint64_t{kBatch} * kHeads);
    CHECK_EQ(stats.mean_recall(0), -1.0); // not measured

    // Threshold at the median score: the recall is the reference share over exactly the selected tokens.
    std::vector<float> rows;
    for (uint32_t t = 0; t < kBatch; ++t) rows.insert(rows.end(), s.q.begin() + t * kHeads * kDim, s.q.begin() + (t * kHeads + kGroup) * kDim);
    std::vector<std::vector<float>> scores;
    lookup_score_all(s.index.head(1, 0), rows.data(), kBatch, kGroup, kScale, scores);
    std::nth_element(scores[1].begin(), scores[1].begin() + scores[1].size() / 2, scores[1].end());
    const float tau[2] = {0.0f, scores[1][scores[1].size() / 2]};
    a.select.mode = SelectMode::Threshold;
    a.select.tau = tau;
    stats.reset(s.index);
    CHECK(squeeze_attend_layer(a, pool, scratch, &stats).is_ok());
    double want = 0.0;
    for (uint32_t kvh = 0; kvh < kKv; ++kvh) {
        const HeadIndex& head = s.index.head(1, kvh);
        std::vector<bool> selected(kFixed, false);
        for (uint32_t slot = 0; slot < head.n_always; ++slot) selected[head.token_of_slot[slot]] = true;
        for (const uint32_t j : scratch.selections[kvh].clusters)
            for (uint32_t slot = head.levels[1].first[j]; slot < head.levels[1].first[j + 1]; ++slot) selected[head.token_of_slot[slot]] = true;
        for (uint32_t t = 0; t < kBatch; ++t)
            for (uint32_t g = 0; g < kGroup; ++g) {
                const float* q = s.q.data() + (size_t{t} * kHeads + kvh * kGroup + g) * kDim;
                const size_t base = (size_t{1} * kKv + kvh) * kCtx * kDim;
                std::vector<double> logit(kFixed);
                double m = -1e300, z = 0.0, on = 0.0;
                for (uint32_t i = 0; i < kFixed; ++i) {
                    double dot = 0.0;
                    for (uint32_t c = 0; c < kDim; ++c) dot += double(q[c]) * s.k32[base + size_t{i} * kDim + c];
                    m = std::max(m, logit[i] = dot * kScale);
                }
                for (uint32_t i = 0; i < kFixed; ++i) {
                    z += std::exp(logit[i] - m);
                    if (selected[i]) on += std::exp(logit[i] - m);
                }
                want += on / z;
            }
    }
    want /= kBatch * kHeads;
    CHECK_NEAR(stats.mean_recall(1), want, 1e-5);
    CHECK(want < 0.999 && want > 0.0);

    a.recall = true;
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).code == "SQUEEZE_BAD_PARAMS"); // recall needs stats
}

TEST_CASE("stats: attention time splits into the fixed part, the dynamic part and the merge, adding up to the whole") {
    // The threads' part times are scaled to the tasks' wall time; the serial remainder is fixed-part time.
    SqueezeStats by_hand;
    by_hand.add_attention(2.5, 2.0, {AttnTimes{1.0, 0.5, 0.5}, AttnTimes{1.0, 1.5, 0.5}});
    CHECK_NEAR(by_hand.attention_seconds, 2.5, 1e-12);
    // Thread time 5 s over 2 s of tasks: each part counts 0.4 of its thread time.
    CHECK_NEAR(by_hand.fixed_seconds, 2.0 * 0.4 + 0.5, 1e-12);
    CHECK_NEAR(by_hand.dynamic_seconds, 2.0 * 0.4, 1e-12);
    CHECK_NEAR(by_hand.merge_seconds, 1.0 * 0.4, 1e-12);

    const Setup s = make_setup();
    sq::cpu::ThreadPool pool(2);
    LayerScratch scratch;
    std::vector<float> out(size_t{kBatch} * kHeads * kDim), mass(kFixed, 0.0f);
    for (const bool rounded : {false, true}) {
        SqueezeStats stats;
        stats.reset(s.index);
        LayerAttention a = layer_args(s, 1, out.data());
        a.round_as_dense = rounded;
        a.token_mass = mass.data();
        for (int repeat = 0; repeat < 3; ++repeat) CHECK(squeeze_attend_layer(a, pool, scratch, &stats).is_ok());
        CHECK(stats.fixed_seconds > 0.0 && stats.dynamic_seconds > 0.0 && stats.merge_seconds > 0.0);
        CHECK_NEAR(stats.fixed_seconds + stats.dynamic_seconds + stats.merge_seconds, stats.attention_seconds, 1e-9);
        // Every fixed-context key against a few dynamic rows: the fixed part dominates.
        CHECK(stats.fixed_seconds > stats.dynamic_seconds);
    }
}

int main() { return run_all_tests(); }
