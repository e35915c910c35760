// The tiled attention kernel (attention-tiled-kernel.h) with 8-lane AVX2 vectors: 4 rows x 3
// vectors = 12 accumulators, which with the 3 row vectors and a broadcast fill the 16 registers.
#define SQ_TILED_KERNEL_BODY
#include "attention-tiled-kernel.h"

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include <immintrin.h>

#include "exp-nonpositive-avx2.h"

namespace sq::cpu {
namespace {

struct Avx2 {
    using V = __m256;
    static constexpr uint32_t W = 8, R = 4, MV = 3;
    static V zero() { return _mm256_setzero_ps(); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static void store(float* p, V x) { _mm256_storeu_ps(p, x); }
    static V bcast(float x) { return _mm256_set1_ps(x); }
    static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static V add(V a, V b) { return _mm256_add_ps(a, b); }
    static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
    static V max(V a, V b) { return _mm256_max_ps(a, b); }
    static V exp(V x) { return exp_nonpositive_avx2(x); }
    // x where key <= pos, -inf elsewhere
    static V mask_after(V x, V key, V pos) {
        return _mm256_blendv_ps(x, _mm256_set1_ps(-INFINITY), _mm256_cmp_ps(key, pos, _CMP_GT_OQ));
    }
    static V finite_or_zero(V x) {
        return _mm256_blendv_ps(x, zero(), _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
    }
    // n: a multiple of 8
    static void f16_to_f32(const uint16_t* src, float* dst, uint32_t n) {
        for (uint32_t i = 0; i < n; i += 8) {
            _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
        }
    }
};

} // namespace

TiledItemFn attention_tiled_item_avx2() { return tiled_item<Avx2>; }

} // namespace sq::cpu

#else

namespace sq::cpu {
TiledItemFn attention_tiled_item_avx2() { return nullptr; }
} // namespace sq::cpu

#endif
