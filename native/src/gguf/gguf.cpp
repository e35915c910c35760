#include "gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "../common/tensor-type.h"
#include "gguf-map.h"
#include "gguf-value.h"

namespace sq {

using namespace gguf_detail;

namespace {

constexpr uint64_t max_key_bytes = 64 * 1024;
constexpr uint64_t max_tensor_name_bytes = 64 * 1024;
constexpr uint64_t default_alignment = 32;
constexpr uint64_t max_alignment = 1 << 20;
// Real files hold tens of keys and at most a few thousand tensors; the limits stop a large file of
// tiny entries from costing gigabytes of index.
constexpr uint64_t max_kvs = 1 << 16;
constexpr uint64_t max_tensors = 1 << 20;
// Smallest encodings: empty key + value type + 1-byte value; empty name + n_dims + one dim + type + offset.
constexpr uint64_t min_kv_bytes = 8 + 4 + 1;
constexpr uint64_t min_tensor_info_bytes = 8 + 4 + 8 + 4 + 8;
constexpr uint64_t max_elements = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());

Status in_context(const Status& s, const std::string& where) {
    return Status::error(s.code, where + ": " + s.message);
}

Status bad_key_type(std::string_view key, const GgufValue& v, const char* expected) {
    std::string got = value_type_name(v.type);
    if (v.type == GgufValueType::ARRAY) got = std::string("array of ") + value_type_name(v.array_type);
    return Status::error("GGUF_BAD_VALUE", "key " + quoted(key) + " is " + got + ", expected " + expected);
}

// Decodes every element of a validated array of fixed-size numbers.
template <typename T, typename Convert>
Status decode_numbers(std::string_view key, const GgufValue& v, std::vector<T>& out, Convert convert) {
    const uint64_t size = value_type_size(v.array_type);
    if (v.array_count > v.array_n_bytes / size) {
        return Status::error("GGUF_BAD_VALUE", "key " + quoted(key) + ": array is shorter than its count");
    }
    out.resize(static_cast<size_t>(v.array_count));
    GgufValue item;
    for (uint64_t i = 0; i < v.array_count; ++i) {
        SQ_TRY(decode_scalar(v.array_data + i * size, v.array_type, item));
        Status s = convert(item, out[static_cast<size_t>(i)]);
        if (!s) return in_context(s, "key " + quoted(key) + " element " + std::to_string(i));
    }
    return Status::ok();
}

std::string shape_string(const GgufTensor& t) {
    std::string s = "[";
    for (uint32_t d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + std::to_string(t.ne[d]);
    return s + "]";
}

// Reads one tensor info record and checks its shape and type; offsets are checked once the data
// section's start is known.
Status read_tensor_info(Cursor& cur, uint64_t index, GgufTensor& t, std::string_view& name) {
    Status s = cur.read_string(name, max_tensor_name_bytes, "tensor name");
    if (!s) return in_context(s, "tensor info " + std::to_string(index));
    t.name = std::string(name);
    const std::string where = "tensor " + quoted(name);
    s = cur.read_u32(t.n_dims, "tensor n_dims");
    if (!s) return in_context(s, where);
    if (t.n_dims < 1 || t.n_dims > 4) {
        return Status::error("GGUF_BAD_TENSOR", where + ": n_dims is " + std::to_string(t.n_dims) + " (must be 1 to 4)");
    }
    for (uint64_t& n : t.ne) n = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
        s = cur.read_u64(t.ne[d], "tensor shape");
        if (!s) return in_context(s, where);
    }
    s = cur.read_u32(t.type, "tensor type");
    if (s) s = cur.read_u64(t.offset, "tensor offset");
    if (!s) return in_context(s, where);

    const TensorTypeTraits traits = tensor_type_traits(t.type);
    if (!traits.name) {
        return Status::error("GGUF_UNSUPPORTED_TYPE", where + ": unknown tensor type id " + std::to_string(t.type));
    }
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
        // A zero dimension would make an empty tensor that no model uses; rejecting it keeps every
        // row length and data pointer meaningful downstream.
        if (t.ne[d] == 0) {
            return Status::error("GGUF_BAD_TENSOR", where + ": shape " + shape_string(t) + " has a zero dimension");
        }
        if (t.ne[d] > max_elements / n_elements) {
            return Status::error("GGUF_BAD_TENSOR", where + ": shape " + shape_string(t) + " has more than 2^63 elements");
        }
        n_elements *= t.ne[d];
    }
    if (t.ne[0] % traits.block_size != 0) {
        return Status::error("GGUF_BAD_TENSOR", where + ": row length " + std::to_string(t.ne[0]) +
            " is not a multiple of the " + traits.name + " block size " + std::to_string(traits.block_size));
    }
    const uint64_t blocks_per_row = t.ne[0] / traits.block_size;
    const uint64_t n_rows = n_elements / t.ne[0];
    if (blocks_per_row > UINT64_MAX / traits.block_bytes ||
        n_rows > UINT64_MAX / (blocks_per_row * traits.block_bytes)) {
        return Status::error("GGUF_BAD_TENSOR", where + ": shape " + shape_string(t) + " of " + traits.name +
                                                " needs more than 2^64 bytes");
    }
    t.n_bytes = n_rows * blocks_per_row * traits.block_bytes;
    return Status::ok();
}

} // namespace

GgufFile::~GgufFile() {
    if (mapped_) unmap_file(base_, size_);
}

Status GgufFile::open(const std::string& path, std::unique_ptr<GgufFile>& out) {
    out.reset();
    std::unique_ptr<GgufFile> file(new GgufFile());
    SQ_TRY(map_file(path, file->base_, file->size_));
    file->mapped_ = file->base_ != nullptr;
    SQ_TRY(file->parse());
    out = std::move(file);
    return Status::ok();
}

Status GgufFile::open_buffer(const uint8_t* data, size_t size, std::unique_ptr<GgufFile>& out) {
    out.reset();
    std::unique_ptr<GgufFile> file(new GgufFile());
    file->base_ = data;
    file->size_ = data ? size : 0;
    SQ_TRY(file->parse());
    out = std::move(file);
    return Status::ok();
}

Status GgufFile::parse() {
    if (size_ < 4 || std::memcmp(base_, "GGUF", 4) != 0) {
        if (size_ < 4 && (size_ == 0 || std::memcmp(base_, "GGUF", size_) == 0)) {
            return Status::error("GGUF_TRUNCATED", "file is " + std::to_string(size_) + " bytes, shorter than a GGUF header");
        }
        std::string start;
        for (uint64_t i = 0; i < 4 && i < size_; ++i) start += (i ? " " : "") + std::to_string(base_[i]);
        return Status::error("GGUF_MAGIC", "not a GGUF file (starts with bytes " + start + ", expected 'GGUF')");
    }
    Cursor cur{base_, 4, size_};
    SQ_TRY(cur.read_u32(version_, "version"));
    if (version_ != 2 && version_ != 3) {
        std::string hint = version_ == 1 ? " (version 1 files predate 64-bit counts; convert the model again)" : "";
        if ((version_ & 0xffffff) == 0 && (version_ >> 24) >= 2 && (version_ >> 24) <= 3) hint = " (a big-endian file)";
        return Status::error("GGUF_VERSION", "GGUF version " + std::to_string(version_) +
                                             " is not supported (only 2 and 3)" + hint);
    }
    uint64_t n_tensors = 0, n_kv = 0;
    SQ_TRY(cur.read_u64(n_tensors, "tensor count"));
    SQ_TRY(cur.read_u64(n_kv, "metadata count"));
    // Fail on counts the remaining bytes cannot hold before anything is allocated for them.
    if (n_tensors > cur.remaining() / min_tensor_info_bytes ||
        n_kv > (cur.remaining() - n_tensors * min_tensor_info_bytes) / min_kv_bytes) {
        return Status::error("GGUF_TRUNCATED", std::to_string(n_tensors) + " tensors and " + std::to_string(n_kv) +
            " metadata keys cannot fit in the " + std::to_string(cur.remaining()) + " bytes after the header");
    }
    if (n_tensors > max_tensors) {
        return Status::error("GGUF_BAD_VALUE", "tensor count " + std::to_string(n_tensors) +
                                               " exceeds the limit " + std::to_string(max_tensors));
    }
    if (n_kv > max_kvs) {
        return Status::error("GGUF_BAD_VALUE", "metadata count " + std::to_string(n_kv) +
                                               " exceeds the limit " + std::to_string(max_kvs));
    }

    kvs_.reserve(static_cast<size_t>(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string_view key;
        Status s = cur.read_string(key, max_key_bytes, "metadata key");
        if (!s) return in_context(s, "metadata entry " + std::to_string(i));
        const std::string where = "key " + quoted(key);
        if (!kv_index_.emplace(key, kvs_.size()).second) {
            return Status::error("GGUF_BAD_VALUE", where + " appears more than once");
        }
        uint32_t type_id = 0;
        GgufValue value{};
        s = cur.read_u32(type_id, "value type");
        if (s) s = read_value(cur, type_id, 0, value);
        if (!s) return in_context(s, where);
        kvs_.push_back({std::string(key), value});
    }

    std::optional<uint64_t> alignment;
    SQ_TRY(get_u64("general.alignment", alignment));
    alignment_ = alignment.value_or(default_alignment);
    if (alignment_ == 0 || alignment_ > max_alignment || (alignment_ & (alignment_ - 1)) != 0) {
        return Status::error("GGUF_BAD_VALUE", "key 'general.alignment' is " + std::to_string(alignment_) +
                                               " (must be a power of two from 1 to " + std::to_string(max_alignment) + ")");
    }

    tensors_.reserve(static_cast<size_t>(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        GgufTensor t{};
        std::string_view name;
        SQ_TRY(read_tensor_info(cur, i, t, name));
        if (!tensor_index_.emplace(name, tensors_.size()).second) {
            return Status::error("GGUF_BAD_TENSOR", "tensor " + quoted(name) + " appears more than once");
        }
        tensors_.push_back(std::move(t));
    }

    // The data section starts at the next multiple of the alignment (< 2^64: pos <= size, alignment <= 1 MiB).
    const uint64_t data_start = (cur.pos + alignment_ - 1) / alignment_ * alignment_;
    for (GgufTensor& t : tensors_) SQ_TRY(place_tensor(t, data_start));
    return check_overlaps();
}

Status GgufFile::check_overlaps() const {
    // Writers lay tensors out one after another; shared bytes mean a corrupt offset that would
    // otherwise load as silently wrong weights.
    std::vector<const GgufTensor*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const GgufTensor& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensor* a, const GgufTensor* b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i) {
        const GgufTensor& prev = *by_offset[i - 1];
        const GgufTensor& next = *by_offset[i];
        if (next.offset < prev.offset + prev.n_bytes) {
            return Status::error("GGUF_BAD_TENSOR", "tensor " + quoted(next.name) + ": data [offset " +
                std::to_string(next.offset) + ", " + std::to_string(next.n_bytes) + " bytes] overlaps tensor " +
                quoted(prev.name) + " [offset " + std::to_string(prev.offset) + ", " + std::to_string(prev.n_bytes) + " bytes]");
        }
    }
    return Status::ok();
}

Status GgufFile::place_tensor(GgufTensor& t, uint64_t data_start) {
    const std::string where = "tensor " + quoted(t.name);
    if (t.offset % alignment_ != 0) {
        return Status::error("GGUF_BAD_TENSOR", where + ": data offset " + std::to_string(t.offset) +
                                                " is not a multiple of the alignment " + std::to_string(alignment_));
    }
    const uint64_t room = data_start <= size_ ? size_ - data_start : 0;
    if (t.offset > room || t.n_bytes > room - t.offset) {
        return Status::error("GGUF_TRUNCATED", where + ": data [offset " + std::to_string(t.offset) + ", " +
            std::to_string(t.n_bytes) + " bytes] runs past the end of the file (" + std::to_string(size_) +
            " bytes, data section at byte " + std::to_string(data_start) + ")");
    }
    t.data = base_ + data_start + t.offset;
    return Status::ok();
}

const GgufValue* GgufFile::find(std::string_view key) const {
    const auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kvs_[it->second].value;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
    const auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Status GgufFile::get_u64(std::string_view key, std::optional<uint64_t>& out) const {
    out.reset();
    const GgufValue* v = find(key);
    if (!v) return Status::ok();
    if (!is_integer_type(v->type)) return bad_key_type(key, *v, "an integer");
    if (is_signed_type(v->type) && v->i64 < 0) {
        return Status::error("GGUF_BAD_VALUE", "key " + quoted(key) + " is " + std::to_string(v->i64) +
                                               ", expected a non-negative integer");
    }
    out = v->u64;
    return Status::ok();
}

Status GgufFile::get_f64(std::string_view key, std::optional<double>& out) const {
    out.reset();
    const GgufValue* v = find(key);
    if (!v) return Status::ok();
    if (!is_integer_type(v->type) && v->type != GgufValueType::FLOAT32 && v->type != GgufValueType::FLOAT64) {
        return bad_key_type(key, *v, "a number");
    }
    out = v->f64;
    return Status::ok();
}

Status GgufFile::get_bool(std::string_view key, std::optional<bool>& out) const {
    out.reset();
    const GgufValue* v = find(key);
    if (!v) return Status::ok();
    if (v->type != GgufValueType::BOOL) return bad_key_type(key, *v, "a bool");
    out = v->u64 != 0;
    return Status::ok();
}

Status GgufFile::get_string(std::string_view key, std::optional<std::string>& out) const {
    out.reset();
    const GgufValue* v = find(key);
    if (!v) return Status::ok();
    if (v->type != GgufValueType::STRING) return bad_key_type(key, *v, "a string");
    out = std::string(v->str);
    return Status::ok();
}

Status GgufFile::get_string_array(std::string_view key, std::optional<std::vector<std::string>>& out) const {
    out.reset();
    const GgufValue* v = find(key);
    if (!v) return Status::ok();
    if (v->type != GgufValueType::ARRAY || v->array_type != GgufValueType::STRING) {
        return bad_key_type(key, *v, "an array of strings");
    }
    std::vector<std::string> items;
    items.reserve(static_cast<size_t>(v->array_count));
    Cursor cur{v->array_data, 0, v->array_n_bytes};
    for (uint64_t i = 0; i < v->array_count; ++i) {
        std::string_view s;
        Status st = cur.read_string(s, UINT64_MAX, "array string");
        if (!st) return in_context(st, "key " + quoted(key));
        items.emplace_back(s);
    }
    out = std::move(items);
    return Status::ok();
}

Status GgufFile::get_f32_array(std::string_view key, std::optional<std::vector<float>>& out) const {
    out.reset();
    const GgufValue* v = find(key);
    if (!v) return Status::ok();
    const GgufValueType t = v->array_type;
    if (v->type != GgufValueType::ARRAY ||
        (!is_integer_type(t) && t != GgufValueType::FLOAT32 && t != GgufValueType::FLOAT64)) {
        return bad_key_type(key, *v, "an array of numbers");
    }
    std::vector<float> items;
    SQ_TRY(decode_numbers(key, *v, items, [](const GgufValue& item, float& x) {
        x = static_cast<float>(item.f64);
        return Status::ok();
    }));
    out = std::move(items);
    return Status::ok();
}

Status GgufFile::get_i32_array(std::string_view key, std::optional<std::vector<int32_t>>& out) const {
    out.reset();
    const GgufValue* v = find(key);
    if (!v) return Status::ok();
    if (v->type != GgufValueType::ARRAY || !is_integer_type(v->array_type)) {
        return bad_key_type(key, *v, "an array of integers");
    }
    const bool is_signed = is_signed_type(v->array_type);
    std::vector<int32_t> items;
    SQ_TRY(decode_numbers(key, *v, items, [is_signed](const GgufValue& item, int32_t& x) {
        const bool fits = is_signed ? item.i64 >= INT32_MIN && item.i64 <= INT32_MAX : item.u64 <= INT32_MAX;
        if (!fits) {
            return Status::error("GGUF_BAD_VALUE", (is_signed ? std::to_string(item.i64) : std::to_string(item.u64)) +
                                                   " does not fit in int32");
        }
        x = static_cast<int32_t>(item.i64);
        return Status::ok();
    }));
    out = std::move(items);
    return Status::ok();
}

Status GgufFile::array_items(const GgufValue& array, std::vector<GgufValue>& out) {
    out.clear();
    if (array.type != GgufValueType::ARRAY) {
        return Status::error("GGUF_BAD_VALUE", std::string("value is ") + value_type_name(array.type) + ", not an array");
    }
    Cursor cur{array.array_data, 0, array.array_data ? array.array_n_bytes : 0};
    // Each element takes at least one byte, so the count cannot outgrow the slice it came from.
    if (array.array_count > cur.remaining()) {
        return Status::error("GGUF_BAD_VALUE", "array count " + std::to_string(array.array_count) +
                                               " exceeds its " + std::to_string(cur.remaining()) + " bytes");
    }
    out.reserve(static_cast<size_t>(array.array_count));
    for (uint64_t i = 0; i < array.array_count; ++i) {
        GgufValue item{};
        Status s = read_value(cur, static_cast<uint32_t>(array.array_type), 0, item);
        if (!s) return in_context(s, "array element " + std::to_string(i));
        out.push_back(item);
    }
    return Status::ok();
}

} // namespace sq
