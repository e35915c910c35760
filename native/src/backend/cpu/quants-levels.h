// The per-SIMD-level kernel tables behind type_kernels(). Each level starts from the level below
// it and overrides the kernels it has faster versions of, so every level has every type.
#pragma once

#include <cstddef>

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

// Override the entries of `k` (already the AVX2 kernels) that have AVX-512 versions; `vnni` says
// whether the CPU has AVX512-VNNI (used for the 32-element block types).
void quants_avx512_kernels(TensorType type, bool vnni, TypeKernels* k);

// Float dots in the order of llama.cpp's batched path. When a product has 2 or more activation
// rows, ggml-cpu hands F32/F16/BF16 weights to llamafile's tinyBLAS, which keeps one vector
// accumulator per output over the whole row and reduces it once at the end, so its f32 rounding
// differs from vec_dot's. It does so only if the columns are a multiple of batched_dot_lanes(),
// the weight rows a multiple of 4, and the activations are (or were converted to) F32 for F32
// weights, F16 for F16, BF16 for BF16. Quantized Q8_0/Q4_0/Q5_0 products also go through
// tinyBLAS there, but its per-output arithmetic is exactly vec_dot's, so nothing changes for them.
// Returns nullptr for other types and on the scalar level (llama.cpp has no such path there).
VecDotFn batched_vec_dot(TensorType type);
int batched_dot_lanes(); // 16 on the AVX-512 level, 8 on AVX2, 0 on scalar
// The column multiple batched_vec_dot(type) needs: batched_dot_lanes(), except BF16 on CPUs with
// AVX512_BF16, whose kernel (vdpbf16ps, as llama.cpp's tinyBLAS there) takes 32 columns a step.
int batched_dot_cols(TensorType type);

// Whether the CPU has AVX512_BF16 (the AVX-512 level then uses vdpbf16ps for BF16, as llama.cpp does).
bool cpu_has_avx512_bf16();

// The dots of llama.cpp's repacked weights: on AVX2/AVX-512 CPUs it stores Q4_0 and Q4_K matrices
// whose row count is a multiple of 8 interleaved 8 rows at a time (not the token embedding, which
// it reads by rows), and its kernels for them sum each output in another order than vec_dot. A
// product runs its GEMM over the first n_tokens - n_tokens % 4 activation rows (repacked_vec_dot)
// and its GEMV over the rest (repacked_vec_dot_1row); the two differ for Q4_K. Same operands as
// vec_dot; nullptr for other types and on the scalar level.
VecDotFn repacked_vec_dot(TensorType type);
VecDotFn repacked_vec_dot_1row(TensorType type);
VecDotFn quants_avx2_repacked_dot(TensorType type);
VecDotFn quants_avx2_repacked_dot_1row(TensorType type);

// s[r] = dot(weight row r, a) for the 4 rows at w, w + w_stride, w + 2 * w_stride, w + 3 * w_stride.
// The same bits as four vec_dot calls (each row keeps its own accumulator and block order), but
// a one-row dot of the 32-element block types is bound by the latency of its single FMA chain;
// four independent chains run about twice as fast. For decode GEMVs: dot rows in groups of 4 and
// the remainder with vec_dot. nullptr where a type or level has none (use vec_dot).
using VecDot4Fn = void (*)(int64_t n, float* s, const void* w, size_t w_stride, const void* a);
VecDot4Fn vec_dot_4rows(TensorType type);
VecDot4Fn vec_dot_4rows_for(TensorType type, const char* level);

// Per-level tables behind batched_vec_dot and vec_dot_4rows (nullptr where there is none).
VecDotFn quants_avx2_batched_dot(TensorType type);
VecDotFn quants_avx512_batched_dot(TensorType type);
VecDot4Fn quants_avx2_vec_dot_4(TensorType type);
VecDot4Fn quants_avx512_vec_dot_4(TensorType type, bool vnni);

} // namespace sq::cpu
