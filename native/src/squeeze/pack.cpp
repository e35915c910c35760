#include "pack.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>

#include "../common/half.h"
#include "../common/sha256.h"
#include "index-io.h"

namespace sq::squeeze {

namespace {

constexpr char kMagic[8] = {'S', 'Q', 'Z', 'P', 'A', 'C', 'K', '\0'};
constexpr uint32_t kMaxString = 64u << 20; // source maps of large folders stay far below this
constexpr uint32_t kFingerprintSample = 4096;

// A fast streaming checksum (four 64-bit multiply-rotate lanes over 32-byte blocks): it guards
// against truncation and damage, not against an adversary, so it need not cost a SHA-256 of the
// whole pack on every load.
class Checksum {
public:
    void update(const void* data, size_t size) {
        const uint8_t* p = static_cast<const uint8_t*>(data);
        total_ += size;
        if (buf_len_ > 0) {
            const size_t n = std::min(size, sizeof buf_ - buf_len_);
            std::memcpy(buf_ + buf_len_, p, n);
            buf_len_ += n, p += n, size -= n;
            if (buf_len_ < sizeof buf_) return;
            block(buf_);
            buf_len_ = 0;
        }
        for (; size >= sizeof buf_; p += sizeof buf_, size -= sizeof buf_) block(p);
        std::memcpy(buf_, p, size);
        buf_len_ = size;
    }
    uint64_t finish() {
        std::memset(buf_ + buf_len_, 0, sizeof buf_ - buf_len_);
        block(buf_);
        uint64_t h = total_ * kPrime;
        for (const uint64_t lane : lanes_) h = rotl(h ^ lane, 29) * kPrime;
        return h ^ (h >> 32);
    }

private:
    static constexpr uint64_t kPrime = 0x9e3779b97f4a7c15ULL;
    static uint64_t rotl(uint64_t x, int n) { return (x << n) | (x >> (64 - n)); }
    void block(const uint8_t* p) {
        for (int i = 0; i < 4; ++i) {
            uint64_t w;
            std::memcpy(&w, p + 8 * i, 8);
            lanes_[i] = rotl((lanes_[i] ^ w) * kPrime, 31);
        }
    }
    uint64_t lanes_[4] = {1, 2, 3, 4};
    uint8_t buf_[32];
    size_t buf_len_ = 0;
    uint64_t total_ = 0;
};

struct FileCloser {
    void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

class PackWriter {
public:
    explicit PackWriter(FILE* f) : f_(f) {}
    bool bytes(const void* p, size_t n) {
        if (ok_ && n > 0) {
            ok_ = std::fwrite(p, 1, n, f_) == n;
            sum_.update(p, n);
            written_ += n;
        }
        return ok_;
    }
    void u32(uint32_t v) { bytes(&v, 4); }
    void u64(uint64_t v) { bytes(&v, 8); }
    void str(const std::string& s) {
        u32(static_cast<uint32_t>(s.size()));
        bytes(s.data(), s.size());
    }
    void checksum() {
        const uint64_t c = sum_.finish();
        bytes(&c, 8);
    }
    bool ok() const { return ok_; }
    uint64_t written() const { return written_; }

private:
    FILE* f_;
    Checksum sum_;
    bool ok_ = true;
    uint64_t written_ = 0;
};

class PackReader {
public:
    PackReader(FILE* f, uint64_t size, std::string path) : f_(f), left_(size), path_(std::move(path)) {}
    Status bytes(void* p, uint64_t n, const char* what) {
        if (n > left_) return Status::error("PACK_TRUNCATED", "document pack " + path_ + " ends inside its " + what);
        if (n > 0 && std::fread(p, 1, n, f_) != n) return Status::error("PACK_READ", "cannot read document pack " + path_);
        sum_.update(p, n);
        left_ -= n;
        return Status::ok();
    }
    Status u32(uint32_t& v, const char* what) { return bytes(&v, 4, what); }
    Status u64(uint64_t& v, const char* what) { return bytes(&v, 8, what); }
    Status str(std::string& s, const char* what) {
        uint32_t n = 0;
        SQ_TRY(u32(n, what));
        if (n > kMaxString || n > left_) return Status::error("PACK_TRUNCATED", "document pack " + path_ + " ends inside its " + what);
        s.resize(n);
        return bytes(s.data(), n, what);
    }
    uint64_t left() const { return left_; }
    uint64_t checksum() { return sum_.finish(); }

private:
    FILE* f_;
    uint64_t left_;
    std::string path_;
    Checksum sum_;
};

Status stale(const std::string& path, const std::string& what) {
    return Status::error("PACK_STALE", "document pack " + path + " was built for " + what);
}

} // namespace

std::string model_fingerprint(const Model& model) {
    Sha256 h;
    const Hparams& hp = model.hparams();
    std::ostringstream text;
    text << hp.arch << ' ' << hp.n_vocab << ' ' << hp.n_embd << ' ' << hp.n_layers << ' ' << hp.n_ff << ' ' << hp.n_heads << ' '
         << hp.n_kv_heads << ' ' << hp.head_dim << ' ' << hp.n_rot << ' ' << hp.rms_eps << ' ' << hp.rope_freq_base << ' '
         << hp.rope_freq_scale << ' ' << static_cast<int>(hp.rope_order) << ' ' << model.gguf().file_size();
    const std::string s = text.str();
    h.update(s.data(), s.size());
    for (const float f : model.rope_freq_factors()) h.update(&f, sizeof f);
    for (const GgufTensor& t : model.gguf().tensors()) {
        h.update(t.name.data(), t.name.size());
        const uint32_t type = static_cast<uint32_t>(t.type);
        h.update(&type, 4);
        h.update(t.ne, sizeof t.ne);
        h.update(&t.offset, 8);
        h.update(t.data, std::min<uint64_t>(t.n_bytes, kFingerprintSample));
    }
    return h.hex();
}

std::string pack_settings(const ClusterParams& cluster, const CalibrationParams& calibration) {
    std::ostringstream s;
    s << "levels=";
    for (const float f : cluster.level_fractions) s << f << ',';
    s << ";sink=" << cluster.n_sink << ";window=" << cluster.n_window << ";iters=" << cluster.max_iters << ";seed=" << cluster.seed
      << ";metric=" << (cluster.query_metric ? "window-first-half" : "keys")
      << ";targets=";
    for (const float f : calibration.targets) s << f << ',';
    s << ";parent_keep=" << calibration.parent_keep << ";prefill_chunk=" << calibration.prefill_chunk << ";index=" << kIndexFormatVersion;
    return s.str();
}

Status pack_write(const std::string& path, const Pack& pack, uint64_t* bytes_written) {
    const std::string tmp = path + ".tmp";
    File f(std::fopen(tmp.c_str(), "wb"));
    if (!f) return Status::error("PACK_WRITE", "cannot create " + tmp + ": " + std::strerror(errno));
    PackWriter w(f.get());
    w.bytes(kMagic, sizeof kMagic);
    w.u32(kPackFormatVersion);
    w.str(pack.meta.model_hash);
    w.str(pack.meta.doc_hash);
    w.str(pack.meta.settings);
    w.u32(static_cast<uint32_t>(pack.meta.fixed_tokens.size()));
    w.bytes(pack.meta.fixed_tokens.data(), pack.meta.fixed_tokens.size() * sizeof(int32_t));
    w.str(pack.meta.source_map);
    // The section's length comes first; count it with a dry run rather than buffer the section.
    uint64_t section = 0;
    SQ_TRY(index_write(pack.index, pack.thresholds, [&](const void*, size_t n) { section += n; return true; }));
    w.u64(section);
    Status st = index_write(pack.index, pack.thresholds, [&](const void* p, size_t n) { return w.bytes(p, n); });
    w.checksum();
    const bool flushed = w.ok() && std::fflush(f.get()) == 0;
    f.reset();
    if (!st || !flushed || std::rename(tmp.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(tmp.c_str());
        return Status::error("PACK_WRITE", "cannot write document pack " + path + ": " + (st ? reason : st.message));
    }
    if (bytes_written) *bytes_written = w.written();
    return Status::ok();
}

Status pack_read(const std::string& path, const PackMeta& expect, Pack& out) {
    File f(std::fopen(path.c_str(), "rb"));
    if (!f) {
        if (errno == ENOENT) return Status::error("PACK_MISSING", "no document pack at " + path);
        return Status::error("PACK_READ", "cannot open document pack " + path + ": " + std::strerror(errno));
    }
    if (std::fseek(f.get(), 0, SEEK_END) != 0) return Status::error("PACK_READ", "cannot read document pack " + path);
    const long size = std::ftell(f.get());
    std::rewind(f.get());
    if (size < 0) return Status::error("PACK_READ", "cannot read document pack " + path);
    PackReader r(f.get(), static_cast<uint64_t>(size), path);

    char magic[sizeof kMagic];
    SQ_TRY(r.bytes(magic, sizeof magic, "magic"));
    if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) return Status::error("PACK_BAD", path + " is not a squeeze document pack");
    uint32_t version = 0;
    SQ_TRY(r.u32(version, "version"));
    if (version != kPackFormatVersion) {
        return Status::error("PACK_BAD", "document pack " + path + " has format version " + std::to_string(version) +
                                             ", this engine reads " + std::to_string(kPackFormatVersion));
    }
    PackMeta& m = out.meta;
    SQ_TRY(r.str(m.model_hash, "model hash"));
    if (m.model_hash != expect.model_hash) return stale(path, "another model (" + m.model_hash.substr(0, 16) + "...)");
    SQ_TRY(r.str(m.doc_hash, "document hash"));
    if (m.doc_hash != expect.doc_hash) return stale(path, "other documents (" + m.doc_hash.substr(0, 16) + "...)");
    SQ_TRY(r.str(m.settings, "settings"));
    if (m.settings != expect.settings) return stale(path, "other settings (" + m.settings + ")");
    uint32_t n_fixed = 0;
    SQ_TRY(r.u32(n_fixed, "token count"));
    if (n_fixed != expect.fixed_tokens.size()) return stale(path, std::to_string(n_fixed) + " fixed-context tokens");
    m.fixed_tokens.resize(n_fixed);
    SQ_TRY(r.bytes(m.fixed_tokens.data(), uint64_t{n_fixed} * sizeof(int32_t), "token ids"));
    if (m.fixed_tokens != expect.fixed_tokens) return stale(path, "a different fixed context (token ids differ)");
    SQ_TRY(r.str(m.source_map, "source map"));

    uint64_t section = 0;
    SQ_TRY(r.u64(section, "index length"));
    if (section > r.left() || r.left() - section != 8) {
        return Status::error("PACK_TRUNCATED", "document pack " + path + " holds " + std::to_string(r.left()) +
                                                   " bytes after its header, its index needs " + std::to_string(section) + " + 8");
    }
    std::vector<uint8_t> bytes;
    try {
        bytes.resize(section);
    } catch (const std::bad_alloc&) {
        return Status::error("PACK_READ", "no memory to read document pack " + path);
    }
    SQ_TRY(r.bytes(bytes.data(), section, "index"));
    const uint64_t computed = r.checksum();
    uint64_t stored = 0;
    SQ_TRY(r.u64(stored, "checksum"));
    if (stored != computed) return Status::error("PACK_BAD", "document pack " + path + " is damaged (checksum mismatch)");
    Status st = index_read(bytes.data(), bytes.size(), out.index, out.thresholds);
    if (!st) return Status::error(st.code == "SQUEEZE_PACK_TRUNCATED" ? "PACK_TRUNCATED" : "PACK_BAD", path + ": " + st.message);
    if (out.index.n_tokens != n_fixed) {
        return Status::error("PACK_BAD", "document pack " + path + " indexes " + std::to_string(out.index.n_tokens) +
                                             " tokens for a fixed context of " + std::to_string(n_fixed));
    }
    return Status::ok();
}

Status pack_restore_kv(const Pack& pack, Context& ctx) {
    const Hparams& hp = ctx.model().hparams();
    const ClusterIndex& ix = pack.index;
    const KvCacheRef cache = ctx.kv_cache();
    if (ix.n_layers != hp.n_layers || ix.n_kv_heads != hp.n_kv_heads || ix.head_dim != hp.head_dim) {
        return Status::error("PACK_MISMATCH", "the document pack's shape (" + std::to_string(ix.n_layers) + " layers, " +
                                                  std::to_string(ix.n_kv_heads) + " KV heads of " + std::to_string(ix.head_dim) +
                                                  ") is not the model's");
    }
    if (ix.n_tokens >= cache.n_ctx) {
        return Status::error("PACK_MISMATCH", "the fixed context of " + std::to_string(ix.n_tokens) +
                                                  " tokens leaves no room in a context of " + std::to_string(cache.n_ctx));
    }
    const size_t elem = cache.type == KvType::F16 ? 2 : 4;
    const size_t row_bytes = size_t{ix.head_dim} * elem;
    for (uint32_t l = 0; l < ix.n_layers; ++l) {
        for (uint32_t h = 0; h < ix.n_kv_heads; ++h) {
            const HeadIndex& head = ix.head(l, h);
            const size_t base = (size_t{l} * ix.n_kv_heads + h) * cache.n_ctx;
            for (uint32_t s = 0; s < head.n_tokens; ++s) {
                const size_t row = base + head.token_of_slot[s];
                const uint16_t* ks = head.keys.data() + size_t{s} * ix.head_dim;
                const uint16_t* vs = head.values.data() + size_t{s} * ix.head_dim;
                if (cache.type == KvType::F16) {
                    std::memcpy(cache.k + row * row_bytes, ks, row_bytes);
                    std::memcpy(cache.v + row * row_bytes, vs, row_bytes);
                    continue;
                }
                float* kd = reinterpret_cast<float*>(cache.k + row * row_bytes);
                float* vd = reinterpret_cast<float*>(cache.v + row * row_bytes);
                for (uint32_t i = 0; i < ix.head_dim; ++i) kd[i] = f16_to_f32(ks[i]), vd[i] = f16_to_f32(vs[i]);
            }
        }
    }
    ctx.set_n_past(ix.n_tokens);
    return Status::ok();
}

} // namespace sq::squeeze
