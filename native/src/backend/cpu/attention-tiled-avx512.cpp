// The tiled attention kernel (attention-tiled-kernel.h) with 16-lane AVX-512 vectors: 8 rows x 3
// vectors = 24 accumulators of the 32 registers in each outer-product tile.
#define SQ_TILED_KERNEL_BODY
#include "attention-tiled-kernel.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__F16C__)

// GCC 12 flags the deliberately undefined vectors inside its own AVX-512 intrinsics once inlined.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include "ops-expf.h"

namespace sq::cpu {
namespace {

struct Avx512 {
    using V = __m512;
    static constexpr uint32_t W = 16, R = 8, MV = 3;
    static V zero() { return _mm512_setzero_ps(); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, V x) { _mm512_storeu_ps(p, x); }
    static V bcast(float x) { return _mm512_set1_ps(x); }
    static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static V add(V a, V b) { return _mm512_add_ps(a, b); }
    static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
    static V max(V a, V b) { return _mm512_max_ps(a, b); }
    static V exp(V x) { return expf_ggml16(x); }
    // x where key <= pos, -inf elsewhere
    static V mask_after(V x, V key, V pos) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(key, pos, _CMP_GT_OQ), x, _mm512_set1_ps(-INFINITY));
    }
    static V finite_or_zero(V x) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ), x, zero());
    }
    // n: a multiple of 16 (rows of a head_dim that is one)
    static void f16_to_f32(const uint16_t* src, float* dst, uint32_t n) {
        for (uint32_t i = 0; i < n; i += 16) {
            _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
        }
    }
};

} // namespace

TiledItemFn attention_tiled_item_avx512() { return tiled_item<Avx512>; }

} // namespace sq::cpu

#else

namespace sq::cpu {
TiledItemFn attention_tiled_item_avx512() { return nullptr; }
} // namespace sq::cpu

#endif
