#include "index-io.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace sq::squeeze {

namespace {

constexpr char kMagic[4] = {'S', 'Q', 'Z', 'I'};
constexpr uint32_t kMaxLevels = 16;
constexpr uint32_t kMaxHeadDim = 1024;

class Writer {
public:
    explicit Writer(const std::function<bool(const void*, size_t)>& sink) : sink_(sink) {}
    void bytes(const void* p, size_t n) {
        if (ok_ && n > 0) ok_ = sink_(p, n);
    }
    void u32(uint32_t v) { bytes(&v, 4); }
    template <typename T>
    void array(const std::vector<T>& v) { bytes(v.data(), v.size() * sizeof(T)); }
    bool ok() const { return ok_; }

private:
    const std::function<bool(const void*, size_t)>& sink_;
    bool ok_ = true;
};

class Reader {
public:
    Reader(const uint8_t* p, size_t n) : p_(p), left_(n) {}
    Status u32(uint32_t& v, const char* what) {
        if (left_ < 4) return truncated(what);
        std::memcpy(&v, p_, 4);
        p_ += 4, left_ -= 4;
        return Status::ok();
    }
    // Checks the size against the bytes left before allocating.
    template <typename T>
    Status array(std::vector<T>& v, uint64_t count, const char* what) {
        if (count > left_ / sizeof(T)) return truncated(what);
        v.resize(count);
        std::memcpy(v.data(), p_, count * sizeof(T));
        p_ += count * sizeof(T), left_ -= count * sizeof(T);
        return Status::ok();
    }
    size_t left() const { return left_; }

private:
    static Status truncated(const char* what) {
        return Status::error("SQUEEZE_PACK_TRUNCATED", std::string("squeeze index ends inside ") + what);
    }
    const uint8_t* p_;
    size_t left_;
};

Status bad(const std::string& what, uint64_t value) {
    return Status::error("SQUEEZE_PACK_BAD", "squeeze index: bad " + what + " (" + std::to_string(value) + ")");
}

Status check_finite(const std::vector<float>& v, const char* what) {
    for (const float x : v)
        if (!std::isfinite(x)) return Status::error("SQUEEZE_PACK_BAD", std::string("squeeze index: non-finite value in ") + what);
    return Status::ok();
}

Status check_finite(const std::vector<uint16_t>& v, const char* what) { // IEEE half: exponent all ones is inf/NaN
    for (const uint16_t x : v)
        if ((x & 0x7c00) == 0x7c00) return Status::error("SQUEEZE_PACK_BAD", std::string("squeeze index: non-finite value in ") + what);
    return Status::ok();
}

// The tree of one head: each level's child ranges are contiguous and cover the next level (the
// finest one covers slots [n_always, n_tokens)), counts add up, slots are a permutation.
Status check_head(const HeadIndex& h) {
    for (size_t l = 0; l < h.levels.size(); ++l) {
        const ClusterLevel& lv = h.levels[l];
        const bool finest = l + 1 == h.levels.size();
        const uint32_t begin = finest ? h.n_always : 0;
        const uint32_t end = finest ? h.n_tokens : h.levels[l + 1].n_clusters;
        if (lv.first.front() != begin || lv.first.back() != end) return bad("child range of level " + std::to_string(l), lv.first.back());
        for (uint32_t j = 0; j < lv.n_clusters; ++j) {
            if (lv.first[j + 1] <= lv.first[j]) return bad("empty cluster at level " + std::to_string(l), j);
            uint64_t keys = 0;
            if (finest) keys = lv.first[j + 1] - lv.first[j];
            else
                for (uint32_t c = lv.first[j]; c < lv.first[j + 1]; ++c) keys += h.levels[l + 1].counts[c];
            if (keys != lv.counts[j]) return bad("count of cluster " + std::to_string(j) + " at level " + std::to_string(l), lv.counts[j]);
        }
    }
    std::vector<uint8_t> seen(h.n_tokens, 0);
    for (const uint32_t t : h.token_of_slot) {
        if (t >= h.n_tokens || seen[t]) return bad("token of slot", t);
        seen[t] = 1;
    }
    return Status::ok();
}

Status read_head(Reader& r, uint32_t n_levels, uint32_t n_tokens, uint32_t head_dim, HeadIndex& h) {
    h.n_tokens = n_tokens;
    h.head_dim = head_dim;
    SQ_TRY(r.u32(h.n_always, "n_always"));
    if (h.n_always > n_tokens) return bad("n_always", h.n_always);
    h.levels.resize(n_levels);
    for (ClusterLevel& lv : h.levels) {
        SQ_TRY(r.u32(lv.n_clusters, "n_clusters"));
        if (lv.n_clusters > n_tokens) return bad("n_clusters", lv.n_clusters);
        SQ_TRY(r.array(lv.centroids, uint64_t{lv.n_clusters} * head_dim, "centroids"));
        SQ_TRY(check_finite(lv.centroids, "centroids"));
        SQ_TRY(r.array(lv.counts, lv.n_clusters, "counts"));
        SQ_TRY(r.array(lv.first, uint64_t{lv.n_clusters} + 1, "first"));
        cluster_level_derive(lv, head_dim);
    }
    SQ_TRY(r.array(h.token_of_slot, n_tokens, "token_of_slot"));
    SQ_TRY(r.array(h.keys, uint64_t{n_tokens} * head_dim, "keys"));
    SQ_TRY(r.array(h.values, uint64_t{n_tokens} * head_dim, "values"));
    SQ_TRY(check_finite(h.keys, "keys"));
    SQ_TRY(check_finite(h.values, "values"));
    return check_head(h);
}

} // namespace

Status index_write(const ClusterIndex& index, const Thresholds& th, const std::function<bool(const void*, size_t)>& sink) {
    Writer w(sink);
    w.bytes(kMagic, 4);
    for (const uint32_t v : {kIndexFormatVersion, index.n_layers, index.n_kv_heads, index.head_dim, index.n_tokens, index.n_levels}) w.u32(v);
    for (const HeadIndex& h : index.heads) {
        w.u32(h.n_always);
        for (const ClusterLevel& lv : h.levels) {
            w.u32(lv.n_clusters);
            w.array(lv.centroids);
            w.array(lv.counts);
            w.array(lv.first);
        }
        w.array(h.token_of_slot);
        w.array(h.keys);
        w.array(h.values);
    }
    w.u32(static_cast<uint32_t>(th.targets.size()));
    w.array(th.targets);
    w.array(th.global);
    w.array(th.per_layer);
    w.array(th.prefill_global);
    w.array(th.prefill_per_layer);
    return w.ok() ? Status::ok() : Status::error("SQUEEZE_PACK_WRITE", "could not write the squeeze index");
}

Status index_read(const uint8_t* data, size_t size, ClusterIndex& index, Thresholds& th) {
    if (size < 4 || std::memcmp(data, kMagic, 4) != 0) return Status::error("SQUEEZE_PACK_BAD", "not a squeeze index (bad magic)");
    Reader body(data + 4, size - 4);
    uint32_t version = 0;
    SQ_TRY(body.u32(version, "header"));
    if (version != kIndexFormatVersion)
        return Status::error("SQUEEZE_PACK_VERSION", "squeeze index version " + std::to_string(version) + ", expected " + std::to_string(kIndexFormatVersion));
    ClusterIndex idx;
    SQ_TRY(body.u32(idx.n_layers, "header"));
    SQ_TRY(body.u32(idx.n_kv_heads, "header"));
    SQ_TRY(body.u32(idx.head_dim, "header"));
    SQ_TRY(body.u32(idx.n_tokens, "header"));
    SQ_TRY(body.u32(idx.n_levels, "header"));
    if (idx.head_dim == 0 || idx.head_dim > kMaxHeadDim) return bad("head_dim", idx.head_dim);
    if (idx.n_levels == 0 || idx.n_levels > kMaxLevels) return bad("n_levels", idx.n_levels);
    if (idx.n_tokens == 0) return bad("n_tokens", idx.n_tokens);
    // Every head stores at least its keys and values: bound the head count by the bytes present.
    const uint64_t n_heads = uint64_t{idx.n_layers} * idx.n_kv_heads;
    const uint64_t head_bytes = uint64_t{idx.n_tokens} * idx.head_dim * 4;
    if (n_heads == 0 || n_heads > body.left() / head_bytes) return bad("layer x KV head count", n_heads);
    idx.heads.resize(n_heads);
    for (HeadIndex& h : idx.heads) SQ_TRY(read_head(body, idx.n_levels, idx.n_tokens, idx.head_dim, h));

    Thresholds t;
    t.n_layers = idx.n_layers;
    t.n_levels = idx.n_levels;
    uint32_t n_targets = 0;
    SQ_TRY(body.u32(n_targets, "thresholds"));
    SQ_TRY(body.array(t.targets, n_targets, "targets"));
    SQ_TRY(body.array(t.global, uint64_t{n_targets} * idx.n_levels, "global thresholds"));
    SQ_TRY(body.array(t.per_layer, uint64_t{n_targets} * idx.n_layers * idx.n_levels, "per-layer thresholds"));
    SQ_TRY(body.array(t.prefill_global, uint64_t{n_targets} * idx.n_levels, "global prefill thresholds"));
    SQ_TRY(body.array(t.prefill_per_layer, uint64_t{n_targets} * idx.n_layers * idx.n_levels, "per-layer prefill thresholds"));
    SQ_TRY(check_finite(t.targets, "targets"));
    SQ_TRY(check_finite(t.global, "thresholds"));
    SQ_TRY(check_finite(t.per_layer, "thresholds"));
    SQ_TRY(check_finite(t.prefill_global, "prefill thresholds"));
    SQ_TRY(check_finite(t.prefill_per_layer, "prefill thresholds"));
    if (body.left() != 0) return bad("trailing bytes", body.left());
    index = std::move(idx);
    th = std::move(t);
    return Status::ok();
}

} // namespace sq::squeeze
