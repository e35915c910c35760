#include "gguf-value.h"

#include <cstring>

#include "../common/half.h"

namespace sq::gguf_detail {
namespace {

// Little-endian load that does not care about the host's byte order or the pointer's alignment.
uint64_t load_le(const uint8_t* p, int n_bytes) {
    uint64_t v = 0;
    for (int i = 0; i < n_bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
}

void set_unsigned(GgufValue& v, uint64_t x) {
    v.u64 = x;
    v.i64 = static_cast<int64_t>(x);
    v.f64 = static_cast<double>(x);
}

void set_signed(GgufValue& v, int64_t x) {
    v.i64 = x;
    v.u64 = static_cast<uint64_t>(x);
    v.f64 = static_cast<double>(x);
}

// Validates `count` elements of `elem` starting at the cursor and moves past them.
Status skip_array_elements(Cursor& cur, GgufValueType elem, uint64_t count, uint32_t depth) {
    const uint64_t size = value_type_size(elem);
    if (size > 0) {
        if (count > cur.remaining() / size) {
            return Status::error("GGUF_TRUNCATED",
                "array of " + std::to_string(count) + " " + value_type_name(elem) + " elements needs " +
                (count > UINT64_MAX / size ? std::string("more than 2^64") : std::to_string(count * size)) +
                " bytes, only " + std::to_string(cur.remaining()) + " remain");
        }
        if (elem == GgufValueType::BOOL) {
            GgufValue item;
            for (uint64_t i = 0; i < count; ++i) SQ_TRY(decode_scalar(cur.base + cur.pos + i, elem, item));
        }
        cur.pos += count * size;
        return Status::ok();
    }
    // Strings take at least their 8-byte length, nested arrays their 12-byte header.
    const uint64_t min_size = elem == GgufValueType::STRING ? 8 : 12;
    if (count > cur.remaining() / min_size) {
        return Status::error("GGUF_TRUNCATED",
            "array of " + std::to_string(count) + " " + value_type_name(elem) + " elements needs at least " +
            std::to_string(min_size) + " bytes each, only " + std::to_string(cur.remaining()) + " remain");
    }
    GgufValue item;
    for (uint64_t i = 0; i < count; ++i) {
        Status s = read_value(cur, static_cast<uint32_t>(elem), depth + 1, item);
        if (!s) return Status::error(s.code, "element " + std::to_string(i) + ": " + s.message);
    }
    return Status::ok();
}

} // namespace

Status Cursor::need(uint64_t n_bytes, const char* what) const {
    if (n_bytes <= remaining()) return Status::ok();
    return Status::error("GGUF_TRUNCATED",
        std::string("truncated reading ") + what + " at byte " + std::to_string(pos) + ": needs " +
        std::to_string(n_bytes) + " bytes, only " + std::to_string(remaining()) + " remain");
}

Status Cursor::read_u32(uint32_t& out, const char* what) {
    SQ_TRY(need(4, what));
    out = static_cast<uint32_t>(load_le(base + pos, 4));
    pos += 4;
    return Status::ok();
}

Status Cursor::read_u64(uint64_t& out, const char* what) {
    SQ_TRY(need(8, what));
    out = load_le(base + pos, 8);
    pos += 8;
    return Status::ok();
}

Status Cursor::read_string(std::string_view& out, uint64_t max_len, const char* what) {
    uint64_t len = 0;
    SQ_TRY(read_u64(len, what));
    if (len > max_len) {
        return Status::error("GGUF_BAD_VALUE", std::string(what) + " at byte " + std::to_string(pos - 8) +
            " has length " + std::to_string(len) + ", more than the limit " + std::to_string(max_len));
    }
    SQ_TRY(need(len, what));
    out = std::string_view(reinterpret_cast<const char*>(base + pos), static_cast<size_t>(len));
    pos += len;
    return Status::ok();
}

bool is_value_type(uint32_t type_id) { return type_id <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

const char* value_type_name(GgufValueType type) {
    switch (type) {
        case GgufValueType::UINT8: return "uint8";
        case GgufValueType::INT8: return "int8";
        case GgufValueType::UINT16: return "uint16";
        case GgufValueType::INT16: return "int16";
        case GgufValueType::UINT32: return "uint32";
        case GgufValueType::INT32: return "int32";
        case GgufValueType::FLOAT32: return "float32";
        case GgufValueType::BOOL: return "bool";
        case GgufValueType::STRING: return "string";
        case GgufValueType::ARRAY: return "array";
        case GgufValueType::UINT64: return "uint64";
        case GgufValueType::INT64: return "int64";
        case GgufValueType::FLOAT64: return "float64";
    }
    return "unknown";
}

uint64_t value_type_size(GgufValueType type) {
    switch (type) {
        case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
        case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
        case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
        case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
        case GgufValueType::STRING: case GgufValueType::ARRAY: return 0;
    }
    return 0;
}

bool is_integer_type(GgufValueType type) {
    switch (type) {
        case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16:
        case GgufValueType::INT16: case GgufValueType::UINT32: case GgufValueType::INT32:
        case GgufValueType::UINT64: case GgufValueType::INT64: return true;
        default: return false;
    }
}

bool is_signed_type(GgufValueType type) {
    return type == GgufValueType::INT8 || type == GgufValueType::INT16 ||
           type == GgufValueType::INT32 || type == GgufValueType::INT64;
}

Status decode_scalar(const uint8_t* p, GgufValueType type, GgufValue& out) {
    out = GgufValue{};
    out.type = type;
    switch (type) {
        case GgufValueType::UINT8: set_unsigned(out, p[0]); break;
        case GgufValueType::UINT16: set_unsigned(out, load_le(p, 2)); break;
        case GgufValueType::UINT32: set_unsigned(out, load_le(p, 4)); break;
        case GgufValueType::UINT64: set_unsigned(out, load_le(p, 8)); break;
        case GgufValueType::INT8: set_signed(out, static_cast<int8_t>(p[0])); break;
        case GgufValueType::INT16: set_signed(out, static_cast<int16_t>(load_le(p, 2))); break;
        case GgufValueType::INT32: set_signed(out, static_cast<int32_t>(load_le(p, 4))); break;
        case GgufValueType::INT64: set_signed(out, static_cast<int64_t>(load_le(p, 8))); break;
        case GgufValueType::FLOAT32: out.f64 = f32_from_bits(static_cast<uint32_t>(load_le(p, 4))); break;
        case GgufValueType::FLOAT64: {
            const uint64_t bits = load_le(p, 8);
            std::memcpy(&out.f64, &bits, 8);
            break;
        }
        case GgufValueType::BOOL:
            // Any other byte would be undefined behaviour for whoever reads it as a C++ bool.
            if (p[0] > 1) {
                return Status::error("GGUF_BAD_VALUE", "bool byte is " + std::to_string(p[0]) + " (must be 0 or 1)");
            }
            out.u64 = p[0];
            break;
        case GgufValueType::STRING:
        case GgufValueType::ARRAY:
            return Status::error("GGUF_BAD_VALUE", std::string(value_type_name(type)) + " is not a scalar type");
    }
    return Status::ok();
}

Status read_value(Cursor& cur, uint32_t type_id, uint32_t depth, GgufValue& out) {
    if (!is_value_type(type_id)) {
        return Status::error("GGUF_BAD_VALUE", "value type " + std::to_string(type_id) + " is not a GGUF type");
    }
    const auto type = static_cast<GgufValueType>(type_id);
    if (type == GgufValueType::STRING) {
        out = GgufValue{};
    out.type = type;
        // A value string is bounded only by the bytes that remain: a longer one is a truncation.
        return cur.read_string(out.str, UINT64_MAX, "string value");
    }
    if (type != GgufValueType::ARRAY) {
        SQ_TRY(cur.need(value_type_size(type), value_type_name(type)));
        SQ_TRY(decode_scalar(cur.base + cur.pos, type, out));
        cur.pos += value_type_size(type);
        return Status::ok();
    }
    if (depth >= max_array_depth) {
        return Status::error("GGUF_BAD_VALUE", "arrays nested more than " + std::to_string(max_array_depth) + " deep");
    }
    uint32_t elem_id = 0;
    uint64_t count = 0;
    SQ_TRY(cur.read_u32(elem_id, "array element type"));
    SQ_TRY(cur.read_u64(count, "array count"));
    if (!is_value_type(elem_id)) {
        return Status::error("GGUF_BAD_VALUE", "array element type " + std::to_string(elem_id) + " is not a GGUF type");
    }
    const uint64_t start = cur.pos;
    SQ_TRY(skip_array_elements(cur, static_cast<GgufValueType>(elem_id), count, depth));
    out = GgufValue{};
    out.type = type;
    out.array_type = static_cast<GgufValueType>(elem_id);
    out.array_count = count;
    out.array_data = cur.base + start;
    out.array_n_bytes = cur.pos - start;
    return Status::ok();
}

std::string quoted(std::string_view name) {
    constexpr size_t max_shown = 96;
    std::string out = "'";
    for (size_t i = 0; i < name.size() && i < max_shown; ++i) {
        const auto ch = static_cast<unsigned char>(name[i]);
        if (ch < 0x20 || ch == 0x7f || ch == '\'' || ch == '\\') {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[ch >> 4];
            out += hex[ch & 15];
        } else {
            out += static_cast<char>(ch);
        }
    }
    if (name.size() > max_shown) out += "...";
    out += "'";
    return out;
}

} // namespace sq::gguf_detail
