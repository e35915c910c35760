// A minimal GGUF v3 writer for generated models (C++ tests and GPU tools, which have no Node and so
// cannot use test/support/gguf-writer.ts): u32/f32/string metadata and tensors of any type given as
// raw bytes, data aligned to 32 bytes. Not used by the engine itself.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../common/tensor-type.h"

namespace sq {

class GgufWriter {
public:
    void kv_u32(const std::string& key, uint32_t v) { key_header(key, 4); put(v, kvs_); ++n_kv_; }
    void kv_f32(const std::string& key, float v) { key_header(key, 6); put(v, kvs_); ++n_kv_; }
    void kv_str(const std::string& key, const std::string& v) { key_header(key, 8); put_str(v, kvs_); ++n_kv_; }

    // A tensor of shape ne (ne[0] = row length) whose data is `bytes` in `type`'s layout.
    void tensor(const std::string& name, std::vector<uint64_t> ne, TensorType type, const std::vector<uint8_t>& bytes) {
        put_str(name, infos_);
        put(static_cast<uint32_t>(ne.size()), infos_);
        for (uint64_t d : ne) put(d, infos_);
        put(static_cast<uint32_t>(type), infos_);
        put(static_cast<uint64_t>(data_.size()), infos_);
        data_.insert(data_.end(), bytes.begin(), bytes.end());
        data_.resize((data_.size() + kAlignment - 1) / kAlignment * kAlignment, 0);
        ++n_tensors_;
    }
    void tensor_f32(const std::string& name, std::vector<uint64_t> ne, const std::vector<float>& data) {
        std::vector<uint8_t> bytes(data.size() * sizeof(float));
        std::memcpy(bytes.data(), data.data(), bytes.size());
        tensor(name, std::move(ne), TensorType::F32, bytes);
    }

    // false when the file cannot be written.
    bool write(const std::string& path) const {
        std::vector<uint8_t> out;
        put(0x46554747u, out); // "GGUF"
        put(3u, out);
        put(n_tensors_, out);
        put(n_kv_, out);
        out.insert(out.end(), kvs_.begin(), kvs_.end());
        out.insert(out.end(), infos_.begin(), infos_.end());
        out.resize((out.size() + kAlignment - 1) / kAlignment * kAlignment, 0);
        out.insert(out.end(), data_.begin(), data_.end());
        std::FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) return false;
        const bool ok = std::fwrite(out.data(), 1, out.size(), f) == out.size();
        return std::fclose(f) == 0 && ok;
    }

private:
    static constexpr uint64_t kAlignment = 32;

    template <typename T> static void put(T v, std::vector<uint8_t>& b) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + sizeof v);
    }
    static void put_str(const std::string& s, std::vector<uint8_t>& b) {
        put(static_cast<uint64_t>(s.size()), b);
        b.insert(b.end(), s.begin(), s.end());
    }
    void key_header(const std::string& key, uint32_t type) { put_str(key, kvs_); put(type, kvs_); }

    uint64_t n_kv_ = 0, n_tensors_ = 0;
    std::vector<uint8_t> kvs_, infos_, data_; // [metadata] [tensor infos] [tensor data]
};

} // namespace sq
