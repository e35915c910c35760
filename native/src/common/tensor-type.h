// Tensor element types as numbered in GGUF files (ggml_type), with their block layout.
// Quantized types store blocks of `block_size` elements in `block_bytes` bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sq {

enum class TensorType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
};

struct TensorTypeTraits {
    const char* name;     // nullptr for ids this engine does not know
    uint32_t block_size;  // elements per block (1 for F32/F16/BF16)
    uint32_t block_bytes; // bytes per block
    bool supported;       // the engine can compute with weights of this type
};

// Traits of a raw GGUF type id; unknown ids give {nullptr, 0, 0, false}.
TensorTypeTraits tensor_type_traits(uint32_t type_id);

// Bytes used by a row of `n_elements` of `type`; n_elements must be a multiple of block_size.
inline size_t tensor_row_bytes(const TensorTypeTraits& t, uint64_t n_elements) {
    return static_cast<size_t>(n_elements / t.block_size) * t.block_bytes;
}

} // namespace sq
