// The squeeze section of a document pack: bit-exact round trip, and damaged bytes (truncation,
// wrong version or magic, inconsistent tree, non-finite values) rejected with a code, never a crash.
#include <cmath>
#include <cstring>
#include <vector>

#include "check.h"
#include "squeeze-fixtures.h"
#include "squeeze/calibrate.h"
#include "squeeze/index-io.h"

using namespace sq::squeeze;
using namespace squeeze_fixtures;

namespace {

constexpr uint32_t kDim = 32, kLayers = 2, kKv = 2, kTokens = 700, kQ = 20, kHeads = 4;

struct Pack {
    ClusterIndex index;
    Thresholds th;
    std::vector<uint8_t> bytes;
};

std::vector<uint8_t> serialize(const ClusterIndex& index, const Thresholds& th) {
    std::vector<uint8_t> out;
    const sq::Status st = index_write(index, th, [&](const void* p, size_t n) {
        out.insert(out.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
        return true;
    });
    CHECK(st.is_ok());
    return out;
}

Pack make_pack() {
    Pack p;
    std::vector<float> k(size_t{kLayers} * kKv * kTokens * kDim), v(k.size()), q(size_t{kLayers} * kQ * kHeads * kDim);
    for (uint32_t lh = 0; lh < kLayers * kKv; ++lh) {
        const Synthetic s = synthetic_head(kTokens, kDim, 6, 300 + lh);
        std::copy(s.keys.begin(), s.keys.end(), k.begin() + size_t{lh} * kTokens * kDim);
        std::copy(s.values.begin(), s.values.end(), v.begin() + size_t{lh} * kTokens * kDim);
        const auto qs = synthetic_queries(s, kQ, 400 + lh);
        const uint32_t l = lh / kKv, h = lh % kKv;
        for (uint32_t t = 0; t < kQ; ++t)
            for (uint32_t g = 0; g < kHeads / kKv; ++g)
                std::copy_n(qs.begin() + size_t{t} * kDim, kDim, q.begin() + ((size_t{l} * kQ + t) * kHeads + h * 2 + g) * kDim);
    }
    const KvView view{k.data(), v.data(), KvElem::F32, kLayers, kKv, kDim, kTokens, kTokens};
    CHECK(cluster_index_build(view, ClusterParams{}, BuildProgress{}, p.index).is_ok());
    CHECK(calibrate(p.index, q.data(), kQ, kHeads, 1.0f / std::sqrt(float(kDim)), CalibrationParams{}, p.th).is_ok());
    p.bytes = serialize(p.index, p.th);
    return p;
}

template <typename T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

std::string read_code(const std::vector<uint8_t>& bytes, size_t size) {
    ClusterIndex index;
    Thresholds th;
    return index_read(bytes.data(), size, index, th).code;
}

// Offset of the first head's first level n_clusters: magic + 6 header words + n_always.
constexpr size_t kFirstLevelAt = 4 + 6 * 4 + 4;

} // namespace

TEST_CASE("round trip is bit-exact") {
    const Pack p = make_pack();
    ClusterIndex index;
    Thresholds th;
    CHECK(index_read(p.bytes.data(), p.bytes.size(), index, th).is_ok());
    CHECK_EQ(index.n_layers, kLayers);
    CHECK_EQ(index.heads.size(), p.index.heads.size());
    for (size_t i = 0; i < index.heads.size() && i < p.index.heads.size(); ++i) {
        const HeadIndex &a = index.heads[i], &b = p.index.heads[i];
        CHECK_EQ(a.n_always, b.n_always);
        CHECK(same_bits(a.keys, b.keys) && same_bits(a.values, b.values) && same_bits(a.token_of_slot, b.token_of_slot));
        CHECK_EQ(a.levels.size(), b.levels.size());
        for (size_t l = 0; l < a.levels.size(); ++l) {
            CHECK(same_bits(a.levels[l].centroids, b.levels[l].centroids));
            CHECK(same_bits(a.levels[l].centroids_t, b.levels[l].centroids_t)); // derived on load
            CHECK(same_bits(a.levels[l].log_counts, b.levels[l].log_counts));
            CHECK(same_bits(a.levels[l].counts, b.levels[l].counts));
            CHECK(same_bits(a.levels[l].first, b.levels[l].first));
        }
    }
    CHECK(same_bits(th.targets, p.th.targets) && same_bits(th.global, p.th.global) && same_bits(th.per_layer, p.th.per_layer));
    CHECK(same_bits(th.prefill_global, p.th.prefill_global) && same_bits(th.prefill_per_layer, p.th.prefill_per_layer));
    CHECK(serialize(index, th) == p.bytes);
}

TEST_CASE("truncated, foreign or damaged sections are rejected") {
    const Pack p = make_pack();
    for (size_t size = 0; size < p.bytes.size(); size += 1 + size / 3) {
        const std::string code = read_code(p.bytes, size);
        CHECK(code == "SQUEEZE_PACK_TRUNCATED" || code == "SQUEEZE_PACK_BAD");
    }
    CHECK(read_code(p.bytes, p.bytes.size() - 1) == "SQUEEZE_PACK_TRUNCATED");

    std::vector<uint8_t> b = p.bytes;
    b[0] = 'X';
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_BAD");
    b = p.bytes;
    b[4] = kIndexFormatVersion + 1; // version
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_VERSION");
    b = p.bytes;
    b.push_back(0);
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_BAD");

    // A huge head count must be refused before allocating.
    b = p.bytes;
    const uint32_t huge = 0x7fffffff;
    std::memcpy(b.data() + 8, &huge, 4);
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_BAD");

    // Tree damage: a cluster count, a child range, a duplicated slot, a NaN centroid.
    const uint32_t k0 = p.index.heads[0].levels[0].n_clusters;
    const size_t centroids_at = kFirstLevelAt + 4, counts_at = centroids_at + size_t{k0} * kDim * 4, first_at = counts_at + size_t{k0} * 4;
    b = p.bytes;
    b[counts_at] ^= 1;
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_BAD");
    b = p.bytes;
    b[first_at + 4] ^= 1;
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_BAD");
    b = p.bytes;
    const float nan = NAN;
    std::memcpy(b.data() + centroids_at, &nan, 4);
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_BAD");
    b = p.bytes;
    const HeadIndex& h0 = p.index.heads[0];
    size_t slots_at = kFirstLevelAt;
    for (const ClusterLevel& lv : h0.levels) slots_at += 4 + lv.centroids.size() * 4 + lv.counts.size() * 4 + lv.first.size() * 4;
    std::memcpy(b.data() + slots_at + 4, b.data() + slots_at, 4); // slot 1 repeats slot 0's token
    CHECK(read_code(b, b.size()) == "SQUEEZE_PACK_BAD");
}

TEST_CASE("a failing sink is reported") {
    const Pack p = make_pack();
    const sq::Status st = index_write(p.index, p.th, [](const void*, size_t) { return false; });
    CHECK(st.code == "SQUEEZE_PACK_WRITE");
}

int main() { return run_all_tests(); }
