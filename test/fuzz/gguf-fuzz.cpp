// libFuzzer target for the GGUF reader: any byte string must load or fail with a code, and a loaded
// file must keep its promises (every getter safe on every key, every tensor's data readable).
// Build and run: scripts/fuzz-gguf.sh [seconds]
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gguf/gguf.h"

namespace {

// Returned so the compiler cannot drop the reads that let ASan check the bounds.
uint64_t walk_value(const sq::GgufValue& v) {
    uint64_t sum = v.u64 + v.str.size();
    if (v.type != sq::GgufValueType::ARRAY) return sum;
    std::vector<sq::GgufValue> items;
    if (!sq::GgufFile::array_items(v, items)) std::abort(); // validated arrays must decode
    for (const auto& item : items) sum += walk_value(item);
    return sum;
}

uint64_t walk_getters(const sq::GgufFile& f, const std::string& key) {
    std::optional<uint64_t> u;
    std::optional<double> d;
    std::optional<bool> b;
    std::optional<std::string> s;
    std::optional<std::vector<std::string>> strs;
    std::optional<std::vector<float>> floats;
    std::optional<std::vector<int32_t>> ints;
    uint64_t sum = 0;
    if (f.get_u64(key, u) && u) sum += *u;
    if (f.get_f64(key, d) && d) sum += static_cast<uint64_t>(*d != 0);
    if (f.get_bool(key, b) && b) sum += *b;
    if (f.get_string(key, s) && s) sum += s->size();
    if (f.get_string_array(key, strs) && strs) sum += strs->size();
    if (f.get_f32_array(key, floats) && floats) sum += floats->size();
    if (f.get_i32_array(key, ints) && ints) sum += ints->size();
    return sum;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::unique_ptr<sq::GgufFile> f;
    const sq::Status status = sq::GgufFile::open_buffer(data, size, f);
    if (!status) {
        if (f || status.message.empty()) std::abort();
        return 0;
    }
    volatile uint64_t sink = 0;
    for (const auto& kv : f->kvs()) {
        if (f->find(kv.key) != &kv.value) std::abort();
        sink = sink + walk_value(kv.value) + walk_getters(*f, kv.key);
    }
    for (const auto& t : f->tensors()) {
        if (f->find_tensor(t.name) != &t || t.n_bytes == 0) std::abort();
        sink = sink + t.data[0] + t.data[t.n_bytes - 1];
    }
    return 0;
}
