// The per-SIMD-level kernel tables behind type_kernels(). Each level starts from the level below
// it and overrides the kernels it has faster versions of, so every level has every type.
#pragma once

#include "quants.h"

namespace sq::cpu {

// Kernels for `type` at a named level ("scalar", "avx2", "avx512"), or nullptr when the type has no kernels,
// the name is unknown, or this CPU cannot run that level. Tests and benchmarks compare levels.
const TypeKernels* type_kernels_for(TensorType type, const char* level);

// Fill `k` with the portable kernels of `type`; false when the type has none.
bool quants_scalar_kernels(TensorType type, TypeKernels* k);

// Override the entries of `k` (already the scalar kernels) that have AVX2+FMA+F16C versions.
// A no-op where the compiler does not target AVX2 (non-x86 builds).
void quants_avx2_kernels(TensorType type, TypeKernels* k);

// Override the entries of `k` (already the AVX2 kernels) that have AVX-512 versions.
void quants_avx512_kernels(TensorType type, TypeKernels* k);

} // namespace sq::cpu
