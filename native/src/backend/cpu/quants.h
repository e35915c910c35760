// Per-type CPU kernels for weight rows: dequantization and dot products against activations.
//
// Matrix products follow ggml's scheme so results match llama.cpp: the activation row is first
// converted to the weight type's `vec_dot_type` (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1,
// Q8_K for the K-quants, F16 for F16, BF16 for BF16, F32 for F32), then each weight row is dotted
// with it. Integer dot products are exact, so only the float scaling and summation order differ.
//
// SIMD is chosen at run time (cpu_features()): AVX-512, AVX2+FMA+F16C, or portable scalar code.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../../common/tensor-type.h"

namespace sq::cpu {

// Converts n floats (n a multiple of the type's block size) into `type`'s encoding.
using FromFloatFn = void (*)(const float* x, void* y, int64_t n);
// Decodes n elements of `type` into floats.
using ToFloatFn = void (*)(const void* x, float* y, int64_t n);
// *s = dot(w, a) over n elements: w a weight row of the type, a an activation row of vec_dot_type.
using VecDotFn = void (*)(int64_t n, float* s, const void* w, const void* a);

struct TypeKernels {
    TensorType vec_dot_type;
    ToFloatFn to_float;         // dequantize a row of this type
    FromFloatFn from_float;     // quantize a row into this type (needed for vec_dot types)
    VecDotFn vec_dot;           // this type's row . vec_dot_type row
};

// Kernels for `type`, with the best SIMD level of this CPU; nullptr for types without kernels.
const TypeKernels* type_kernels(TensorType type);

// Which SIMD path type_kernels() picked: "avx512", "avx2" or "scalar". Setting the environment
// variable SQUEEZE_SIMD=scalar|avx2 before the first call caps it (tests compare paths).
const char* simd_level();

} // namespace sq::cpu
