// One token's squeezed attention split into chunks of keys (so that decode uses every thread) against
// the same attention in one piece: the SIMD exp, sum and rounding against the scalar bits, any cut of
// the keys against no cut (empty chunks, one-key chunks, a cluster cut in two, a head with no selected
// keys), the chunk plan, and squeeze_attend_layer on 2 to 16 threads against 1 thread (a cluster larger
// than a chunk, more threads than keys).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/thread-pool.h"
#include "check.h"
#include "squeeze-fixtures.h"
#include "squeeze/kernels.h"
#include "squeeze/layer-attention.h"

using namespace sq::squeeze;
using namespace squeeze_fixtures;

namespace {

constexpr uint32_t kDim = 64;
const float kScale = 1.0f / std::sqrt(float(kDim));

uint32_t bits(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
}

// The three steps over the given cuts of [0, n_keys) (boundaries ascending from 0 to n_keys), the
// chunks' outputs added in order, as squeeze_attend_layer runs them.
void run_cut(ChunkedAttention c, const std::vector<uint32_t>& cuts, std::vector<float>& probs, std::vector<float>& out,
             std::vector<float>& mass) {
    const uint32_t n = c.n_keys(), rows = c.n_rows, n_chunks = static_cast<uint32_t>(cuts.size() - 1);
    probs.assign(size_t{rows} * n, 0.0f);
    c.probs = probs.data();
    std::vector<float> chunk_max(size_t{n_chunks} * rows), max(rows, -INFINITY), inv(rows), part(size_t{rows} * kDim);
    std::vector<double> sum(rows);
    AttnTimes times;
    for (uint32_t i = 0; i < n_chunks; ++i) chunk_logits(c, cuts[i], cuts[i + 1], chunk_max.data() + size_t{i} * rows, times);
    for (uint32_t i = 0; i < n_chunks; ++i)
        for (uint32_t r = 0; r < rows; ++r) max[r] = std::max(max[r], chunk_max[size_t{i} * rows + r]);
    chunk_exp(c, 0, n, max.data(), sum.data(), times);
    for (uint32_t r = 0; r < rows; ++r) inv[r] = sum[r] > 0.0 ? static_cast<float>(1.0 / sum[r]) : 0.0f;
    out.assign(size_t{rows} * kDim, 0.0f);
    mass.assign(c.head->n_tokens, 0.0f);
    for (uint32_t i = 0; i < n_chunks; ++i) {
        chunk_values(c, cuts[i], cuts[i + 1], inv.data(), part.data(), mass.data(), times);
        for (size_t j = 0; j < out.size(); ++j) out[j] += part[j];
    }
}

double max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
    CHECK_EQ(a.size(), b.size());
    double worst = 0.0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) worst = std::max(worst, double(std::fabs(a[i] - b[i])));
    return worst;
}

struct Head {
    Synthetic syn;
    HeadIndex index;
    std::vector<uint16_t> k_dyn, v_dyn; // [n_dyn][kDim] f16
    std::vector<float> q;               // [3][kDim] one GQA group of one token
};

Head make_head(uint32_t n_fixed, uint32_t n_dyn, const ClusterParams& p, uint64_t seed) {
    Head h;
    h.syn = synthetic_head(n_fixed + n_dyn, kDim, 8, seed);
    CHECK(cluster_head_build(h.syn.keys.data(), h.syn.values.data(), n_fixed, kDim, p, h.index).is_ok());
    for (size_t i = size_t{n_fixed} * kDim; i < h.syn.keys.size(); ++i) {
        h.k_dyn.push_back(sq::f32_to_f16(h.syn.keys[i]));
        h.v_dyn.push_back(sq::f32_to_f16(h.syn.values[i]));
    }
    h.q = synthetic_queries(h.syn, 3, seed + 1);
    for (float& x : h.q) x = round_f16(x);
    return h;
}

ChunkedAttention attention_of(const Head& h, const KeyList& keys, bool round_f16) {
    ChunkedAttention c;
    c.head = &h.index;
    c.keys = &keys;
    c.k_dyn = h.k_dyn.data();
    c.v_dyn = h.v_dyn.data();
    c.n_dyn = static_cast<uint32_t>(h.k_dyn.size() / kDim);
    c.q = h.q.data();
    c.n_rows = 3;
    c.scale = kScale;
    c.round_f16 = round_f16;
    return c;
}

} // namespace

TEST_CASE("the SIMD exp, sum and f16 rounding give the scalar path's bits") {
    const Kernels& scalar = kernels_scalar();
    CHECK(kernels_available().front() == &scalar);
    for (const Kernels* set : kernels_available()) {
        const Kernels& simd = *set;
        std::mt19937 rng(5);
        std::uniform_real_distribution<float> logit(-100.0f, 0.0f);
        for (const uint32_t n : {0u, 1u, 3u, 7u, 8u, 9u, 31u, 100u, 1001u}) {
            std::vector<float> a(n);
            for (float& x : a) x = logit(rng);
            if (n > 2) a[2] = -INFINITY;
            std::vector<float> b = a;
            const double sa = simd.exp_sum(a.data(), n, 0.5f), sb = scalar.exp_sum(b.data(), n, 0.5f);
            CHECK_EQ(bits(float(sa)), bits(float(sb)));
            CHECK(sa == sb);
            for (uint32_t i = 0; i < n; ++i) CHECK_EQ(bits(a[i]), bits(b[i]));
            for (const bool round : {false, true}) {
                std::vector<float> ra = a, rb = a;
                simd.scale_rows(ra.data(), n, 1.0f / 3.0f, round);
                scalar.scale_rows(rb.data(), n, 1.0f / 3.0f, round);
                for (uint32_t i = 0; i < n; ++i) CHECK_EQ(bits(ra[i]), bits(rb[i]));
            }
        }
        // The exp itself: ggml's polynomial, within 2 float ulps of the true value; 0 far below.
        for (float x = -87.0f; x <= 0.0f; x += 0.01171875f) {
            float e = x;
            simd.exp_sum(&e, 1, 0.0f);
            CHECK_NEAR(e / std::exp(double(x)), 1.0, 2.5e-7);
        }
        std::vector<float> all_masked = {-INFINITY, -INFINITY};
        CHECK_EQ(simd.exp_sum(all_masked.data(), 2, -INFINITY), 0.0);
        CHECK_EQ(all_masked[0], 0.0f);
        float far[1] = {-200.0f};
        simd.exp_sum(far, 1, 0.0f);
        CHECK_EQ(far[0], 0.0f);
    }
}

TEST_CASE("the row kernels of every SIMD set agree with the portable per-row dot products and axpys") {
    const Kernels& scalar = kernels_scalar();
    for (const Kernels* set : kernels_available()) {
        const Kernels& simd = *set;
        std::mt19937 rng(9);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        for (const uint32_t d : {64u, 40u, 128u})
            for (const uint32_t rows : {1u, 3u, 4u, 7u}) {
                const uint32_t n_keys = 13;
                std::vector<float> q(size_t{rows} * d), p(size_t{rows} * 20);
                std::vector<uint16_t> k(size_t{n_keys} * d);
                for (float& x : q) x = normal(rng);
                for (float& x : p) x = std::fabs(normal(rng));
                for (uint16_t& x : k) x = sq::f32_to_f16(normal(rng));
                std::vector<float> la(size_t{rows} * 16, 7.0f), lb = la, oa(size_t{rows} * d, 1.0f), ob = oa;
                simd.dot_rows_f16(q.data(), rows, k.data(), n_keys, d, 0.125f, la.data(), 16);
                scalar.dot_rows_f16(q.data(), rows, k.data(), n_keys, d, 0.125f, lb.data(), 16);
                simd.axpy_rows_f16(oa.data(), rows, p.data(), 20, k.data(), n_keys, d);
                scalar.axpy_rows_f16(ob.data(), rows, p.data(), 20, k.data(), n_keys, d);
                for (uint32_t r = 0; r < rows; ++r) {
                    for (uint32_t i = 0; i < 16; ++i) CHECK_NEAR(la[size_t{r} * 16 + i], lb[size_t{r} * 16 + i], 1e-5 * d);
                    CHECK_EQ(la[size_t{r} * 16 + 13], 7.0f); // past n_keys: untouched
                }
                CHECK(max_abs_difference(oa, ob) < 1e-4);
            }
    }
}

TEST_CASE("any cut of one token's keys gives the uncut attention and token mass") {
    ClusterParams p;
    p.level_fractions = {0.01f, 0.03f};
    const Head h = make_head(600, 9, p, 21);
    Selection every, some;
    for (uint32_t j = 0; j < h.index.levels.back().n_clusters; ++j) {
        every.clusters.push_back(j);
        if (j % 3 == 1) some.clusters.push_back(j);
    }
    KeyList all_keys, some_keys, no_keys;
    key_list_build(h.index, every, all_keys);
    key_list_build(h.index, some, some_keys);
    CHECK_EQ(all_keys.n_fixed(), 600u);
    CHECK(some_keys.ranges.size() > 2 && some_keys.n_fixed() < 600u);
    // A head with nothing selected and no always-attended keys: only the dynamic rows.
    HeadIndex empty = h.index;
    empty.n_always = 0;
    key_list_build(empty, Selection{}, no_keys);
    CHECK_EQ(no_keys.n_fixed(), 0u);

    for (const bool round : {false, true})
        for (const KeyList* keys : {&all_keys, &some_keys, &no_keys}) {
            ChunkedAttention c = attention_of(h, *keys, round);
            if (keys == &no_keys) c.head = &empty;
            const uint32_t n = c.n_keys(), cut_cluster = keys->n_fixed() > 0 ? keys->offset[1] + 1 : 0;
            std::vector<float> probs, out, mass, probs_cut, out_cut, mass_cut;
            run_cut(c, {0, n}, probs, out, mass);
            // Empty chunks, one-key chunks, a cut inside the second range, one at the fixed/dynamic seam.
            std::vector<uint32_t> cuts = {0, 0, 1, 2, cut_cluster, keys->n_fixed(), keys->n_fixed(), n - 1, n};
            std::sort(cuts.begin(), cuts.end());
            run_cut(c, cuts, probs_cut, out_cut, mass_cut);
            // The probabilities are the same bits; only the order of the output's additions differs.
            CHECK_EQ(max_abs_difference(probs, probs_cut), 0.0);
            CHECK(max_abs_difference(out, out_cut) < 1e-6);
            CHECK(max_abs_difference(mass, mass_cut) < 1e-6);
            // Every key its own chunk.
            std::vector<uint32_t> each(n + 1);
            for (uint32_t i = 0; i <= n; ++i) each[i] = i;
            run_cut(c, each, probs_cut, out_cut, mass_cut);
            CHECK_EQ(max_abs_difference(probs, probs_cut), 0.0);
            CHECK(max_abs_difference(out, out_cut) < 1e-6);

            // Against plain attention over the same keys (the dynamic rows last).
            std::vector<float> k, v;
            for (const auto& [b, e] : keys->ranges)
                for (uint32_t s = b; s < e; ++s) {
                    const size_t t = h.index.token_of_slot[s];
                    k.insert(k.end(), h.syn.keys.begin() + t * kDim, h.syn.keys.begin() + (t + 1) * kDim);
                    v.insert(v.end(), h.syn.values.begin() + t * kDim, h.syn.values.begin() + (t + 1) * kDim);
                }
            k.insert(k.end(), h.syn.keys.begin() + 600 * kDim, h.syn.keys.end());
            v.insert(v.end(), h.syn.values.begin() + 600 * kDim, h.syn.values.end());
            for (uint32_t r = 0; r < 3; ++r) {
                const auto ref = reference_attention(h.q.data() + size_t{r} * kDim, k.data(), v.data(), n, kDim, kScale);
                // f16-rounded probabilities move the output by up to ~1e-3 of a value's size.
                for (uint32_t c2 = 0; c2 < kDim; ++c2) CHECK_NEAR(out_cut[size_t{r} * kDim + c2], ref[c2], round ? 2e-3 : 2e-5);
            }
        }
}

TEST_CASE("chunk plan: one chunk per job on one thread or with many jobs, else a few per thread covering every key") {
    std::vector<ChunkTask> chunks;
    plan_chunks({8000, 7000, 9000}, 1, chunks);
    CHECK_EQ(chunks.size(), size_t{3});
    std::vector<uint32_t> many(64, 5000);
    plan_chunks(many, 4, chunks);
    CHECK_EQ(chunks.size(), size_t{64});
    for (const uint32_t threads : {2u, 3u, 16u}) {
        const std::vector<uint32_t> jobs = {8000, 0, 700, 130};
        plan_chunks(jobs, threads, chunks);
        CHECK(chunks.size() >= 4 * threads - 1 || threads == 16);
        uint32_t job = 0, at = 0;
        for (const ChunkTask& c : chunks) {
            if (c.job != job) {
                CHECK_EQ(at, jobs[job]);
                job = c.job;
                at = 0;
            }
            CHECK_EQ(c.begin, at);
            CHECK(c.end > c.begin || jobs[job] == 0);
            at = c.end;
        }
        CHECK_EQ(job, 3u);
        CHECK_EQ(at, jobs[3]);
    }
}

namespace {

constexpr uint32_t kKv = 3, kGroup = 3, kHeads = kKv * kGroup;

struct Layer {
    std::vector<uint16_t> k, v; // [kKv][n_ctx][kDim] f16, one layer of the engine's layout
    std::vector<float> q;       // [kHeads][kDim]
    ClusterIndex index;
    uint32_t n_fixed, n_ctx;
};

Layer make_layer(uint32_t n_fixed, uint32_t n_dyn, const ClusterParams& p) {
    Layer s;
    s.n_fixed = n_fixed;
    s.n_ctx = n_fixed + n_dyn;
    s.k.resize(size_t{kKv} * s.n_ctx * kDim);
    s.v.resize(s.k.size());
    for (uint32_t h = 0; h < kKv; ++h) {
        const Synthetic syn = synthetic_head(s.n_ctx, kDim, 6, 300 + h);
        for (size_t i = 0; i < syn.keys.size(); ++i) {
            s.k[size_t{h} * s.n_ctx * kDim + i] = sq::f32_to_f16(syn.keys[i]);
            s.v[size_t{h} * s.n_ctx * kDim + i] = sq::f32_to_f16(syn.values[i]);
        }
        const std::vector<float> q = synthetic_queries(syn, kGroup, 400 + h);
        s.q.insert(s.q.end(), q.begin(), q.end());
    }
    const KvView view{s.k.data(), s.v.data(), KvElem::F16, 1, kKv, kDim, s.n_ctx, n_fixed};
    CHECK(cluster_index_build(view, p, BuildProgress{}, s.index).is_ok());
    return s;
}

// One decode step's attention on n_threads threads: the output [kHeads][kDim] and token mass.
void decode(const Layer& s, uint32_t n_threads, bool round, const float* tau, std::vector<float>& out, std::vector<float>& mass,
            size_t* n_chunks = nullptr) {
    sq::cpu::ThreadPool pool(n_threads);
    LayerScratch scratch;
    out.assign(size_t{kHeads} * kDim, 0.0f);
    mass.assign(s.n_fixed, 0.0f);
    LayerAttention a;
    a.index = &s.index;
    a.n_heads = kHeads;
    a.n_tokens = 1;
    a.q = s.q.data();
    a.k_dyn = s.k.data() + size_t{s.n_fixed} * kDim;
    a.v_dyn = s.v.data() + size_t{s.n_fixed} * kDim;
    a.dyn_head_stride = size_t{s.n_ctx} * kDim;
    a.n_dyn_before = s.n_ctx - s.n_fixed - 1;
    a.scale = kScale;
    a.out = out.data();
    a.token_mass = mass.data();
    a.round_as_dense = round;
    if (tau) {
        a.select.mode = SelectMode::Threshold;
        a.select.tau = tau;
    }
    CHECK(squeeze_attend_layer(a, pool, scratch, nullptr).is_ok());
    if (n_chunks) *n_chunks = scratch.chunks.size();
}

} // namespace

TEST_CASE("decode on 2 to 16 threads splits each KV head's keys and gives the one-thread result") {
    // Few large clusters (each larger than a chunk), and a tiny context with fewer keys than threads.
    ClusterParams big;
    big.level_fractions = {0.001f, 0.002f};
    ClusterParams tiny;
    tiny.n_sink = 2;
    tiny.n_window = 3;
    const Layer large = make_layer(3000, 40, big), small = make_layer(12, 2, tiny);
    CHECK(large.index.head(0, 0).levels.back().n_clusters <= 8u);
    const float select_none[2] = {INFINITY, INFINITY}; // only the sinks and the window
    for (const Layer* s : {&large, &small})
        for (const bool round : {false, true})
            for (const float* tau : {static_cast<const float*>(nullptr), select_none}) {
                std::vector<float> want, want_mass, out, mass;
                size_t n_chunks = 0;
                decode(*s, 1, round, tau, want, want_mass, &n_chunks);
                CHECK_EQ(n_chunks, size_t{kKv});
                for (const uint32_t threads : {2u, 3u, 16u}) {
                    decode(*s, threads, round, tau, out, mass, &n_chunks);
                    if (s == &large && !tau) CHECK(n_chunks >= 4 * threads - 1);
                    CHECK(max_abs_difference(out, want) < 1e-6);
                    CHECK(max_abs_difference(mass, want_mass) < 1e-6);
                }
            }
}

int main() { return run_all_tests(); }
