// Bounds-checked decoding of GGUF metadata values (internal to the reader).
//
// A Cursor walks [base + pos, base + end); every read first checks that the bytes exist, so a
// value can be decoded from an untrusted file or re-decoded from a slice (an array's elements).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "../common/status.h"
#include "gguf.h"

namespace sq::gguf_detail {

// Arrays nest; the depth limit keeps recursion shallow whatever the file says.
constexpr uint32_t max_array_depth = 8;

struct Cursor {
    const uint8_t* base;
    uint64_t pos; // offset from base of the next byte to read
    uint64_t end; // offset from base one past the last readable byte

    uint64_t remaining() const { return end - pos; }
    Status need(uint64_t n_bytes, const char* what) const;
    Status read_u32(uint32_t& out, const char* what);
    Status read_u64(uint64_t& out, const char* what);
    // u64 length + bytes; a length above max_len is GGUF_BAD_VALUE, past the end GGUF_TRUNCATED.
    Status read_string(std::string_view& out, uint64_t max_len, const char* what);
};

bool is_value_type(uint32_t type_id);
const char* value_type_name(GgufValueType type);
// Encoded bytes of a fixed-size type; 0 for STRING and ARRAY.
uint64_t value_type_size(GgufValueType type);
bool is_integer_type(GgufValueType type);
bool is_signed_type(GgufValueType type);

// Decodes a fixed-size value from `p`, which must hold value_type_size(type) bytes.
Status decode_scalar(const uint8_t* p, GgufValueType type, GgufValue& out);

// Reads one value of `type_id`. Arrays are validated element by element (bounds, element types,
// nesting) but left encoded: `out` points at their elements. `depth` counts enclosing arrays.
Status read_value(Cursor& cur, uint32_t type_id, uint32_t depth, GgufValue& out);

// A file-supplied name made safe for a message: quoted, control bytes escaped, long names cut.
std::string quoted(std::string_view name);

} // namespace sq::gguf_detail
