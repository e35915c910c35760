// GGUF reader: a memory-mapped model file, treated as untrusted input.
//
// Byte layout (little-endian), versions 2 and 3:
//   u32 magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 value_type | value }
//       string = u64 length + bytes (no terminator)
//       array  = u32 element_type + u64 count + elements (arrays of arrays allowed)
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32)
//   tensor data; each tensor at data_start + offset, offset a multiple of the alignment
//
// Every count, length, offset and shape is checked against the file size and for overflow
// before use. Failures are Status codes: GGUF_OPEN, GGUF_MAGIC, GGUF_VERSION, GGUF_TRUNCATED,
// GGUF_BAD_VALUE, GGUF_BAD_TENSOR, GGUF_UNSUPPORTED_TYPE.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../common/status.h"

namespace sq {

enum class GgufValueType : uint32_t {
    UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
    BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// One metadata value. Scalars are decoded; arrays keep a view into the mapping and are
// decoded on demand, because a vocabulary array can hold 150K strings.
struct GgufValue {
    GgufValueType type;
    GgufValueType array_type = GgufValueType::UINT8; // element type when type == ARRAY
    uint64_t array_count = 0;
    uint64_t array_n_bytes = 0; // encoded size of the elements, from array_data
    // Scalar payloads (the one matching `type` is set; integers also fill the other two, u64 and
    // i64 holding the same bits, so range checks belong to the getters; BOOL sets u64 to 0 or 1).
    uint64_t u64 = 0;
    int64_t i64 = 0;
    double f64 = 0;
    std::string_view str;              // STRING
    const uint8_t* array_data = nullptr; // first element of an ARRAY, inside the mapping
};

struct GgufKv {
    std::string key;
    GgufValue value;
};

struct GgufTensor {
    std::string name;
    uint32_t type;        // raw ggml type id (see common/tensor-type.h)
    uint32_t n_dims;
    uint64_t ne[4];       // ne[0] is the contiguous (row) dimension; unused dims are 1
    uint64_t offset;      // relative to the data section
    uint64_t n_bytes;
    const uint8_t* data;  // inside the mapping
};

class GgufFile {
public:
    ~GgufFile();
    GgufFile(const GgufFile&) = delete;
    GgufFile& operator=(const GgufFile&) = delete;

    // Maps and validates `path`. Tensors of types the engine does not know give
    // GGUF_UNSUPPORTED_TYPE naming the tensor and the type id.
    static Status open(const std::string& path, std::unique_ptr<GgufFile>& out);
    // Same checks over a caller-owned buffer (fuzzing, tests). The buffer must outlive the file.
    static Status open_buffer(const uint8_t* data, size_t size, std::unique_ptr<GgufFile>& out);

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t file_size() const { return size_; }
    const std::vector<GgufKv>& kvs() const { return kvs_; }
    const std::vector<GgufTensor>& tensors() const { return tensors_; }

    const GgufValue* find(std::string_view key) const;
    const GgufTensor* find_tensor(std::string_view name) const;

    // Typed getters. A missing key gives std::nullopt; a key of an incompatible type gives
    // GGUF_BAD_VALUE naming the key. Integer getters accept any integer type that fits.
    Status get_u64(std::string_view key, std::optional<uint64_t>& out) const;
    Status get_f64(std::string_view key, std::optional<double>& out) const;  // any number
    Status get_bool(std::string_view key, std::optional<bool>& out) const;
    Status get_string(std::string_view key, std::optional<std::string>& out) const;
    // Arrays: element type must match (numbers convert); nullopt when missing.
    Status get_string_array(std::string_view key, std::optional<std::vector<std::string>>& out) const;
    Status get_f32_array(std::string_view key, std::optional<std::vector<float>>& out) const;
    Status get_i32_array(std::string_view key, std::optional<std::vector<int32_t>>& out) const;

    // Decodes one level of an ARRAY value (any element type; nested arrays come back as ARRAY
    // values to decode in turn). GGUF_BAD_VALUE when `array` is not an array.
    static Status array_items(const GgufValue& array, std::vector<GgufValue>& out);

private:
    GgufFile() = default;
    Status parse();
    // Checks a tensor's data range against the file and sets its data pointer.
    Status place_tensor(GgufTensor& t, uint64_t data_start);
    // Tensors whose data ranges share bytes are rejected.
    Status check_overlaps() const;

    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    bool mapped_ = false;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    std::vector<GgufKv> kvs_;
    std::vector<GgufTensor> tensors_;
    // Keys and names are views into the file bytes, which outlive these indexes.
    std::unordered_map<std::string_view, size_t> kv_index_;     // key -> index in kvs_
    std::unordered_map<std::string_view, size_t> tensor_index_; // name -> index in tensors_
};

} // namespace sq
