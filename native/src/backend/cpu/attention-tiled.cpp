// Dispatch and thread split of the tiled attention (attention-tiled.h); the kernel itself is in
// attention-tiled-kernel.h, compiled per instruction set.
#include "attention-tiled.h"

#include <atomic>
#include <cstring>

#include "attention-tiled-kernel.h"

namespace sq::cpu {

namespace {

// About 48 rows (tokens x query heads of a KV head) per query tile: 3 vectors of 16 on AVX-512, so
// each K/V tile converted to f32 is used for 48 rows' worth of products before the next one.
constexpr uint32_t kTileRowsTarget = 48;

bool cpu_has_avx2() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                            __builtin_cpu_supports("f16c");
    return yes;
#else
    return false;
#endif
}

bool cpu_has_avx512() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    static const bool yes = cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    return yes;
#else
    return false;
#endif
}

TiledItemFn item_fn(const char* level) {
    const bool any = level == nullptr;
    if ((any || std::strcmp(level, "avx512") == 0) && cpu_has_avx512() && attention_tiled_item_avx512()) {
        return attention_tiled_item_avx512();
    }
    if ((any || std::strcmp(level, "avx2") == 0) && cpu_has_avx2()) return attention_tiled_item_avx2();
    return nullptr;
}

} // namespace

bool attention_tiled_supported(uint32_t head_dim) {
    return item_fn(nullptr) != nullptr && head_dim > 0 && head_dim % 16 == 0 && head_dim <= 256;
}

bool attention_tiled(ThreadPool& pool, const TiledAttentionParams& p, std::vector<float>& scratch, const char* level) {
    const TiledItemFn item = item_fn(level);
    if (!item || !attention_tiled_supported(p.head_dim) || p.n_kv_heads == 0 || p.n_heads % p.n_kv_heads != 0) {
        return false;
    }
    if (p.n_tokens == 0) return true;
    TiledShape shape;
    shape.group = p.n_heads / p.n_kv_heads;
    shape.tokens = shape.group >= kTileRowsTarget ? 1 : kTileRowsTarget / shape.group;
    shape.rows_padded = (shape.tokens * shape.group + 15) & ~15u;
    shape.head_dim = p.head_dim;
    const size_t per_slot = shape.scratch_floats();
    if (scratch.size() < per_slot * pool.n_threads()) scratch.resize(per_slot * pool.n_threads());

    // Items (KV head, query tile) are handed out from the last tile down: later tokens see more
    // keys, so the costly items go first and the cheap ones fill the gaps at the end.
    const uint32_t n_tiles = (p.n_tokens + shape.tokens - 1) / shape.tokens;
    const uint32_t n_items = n_tiles * p.n_kv_heads;
    std::atomic<uint32_t> next{0};
    pool.for_each_slot([&](uint32_t slot) {
        float* mine = scratch.data() + per_slot * slot;
        for (uint32_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_items;
             i = next.fetch_add(1, std::memory_order_relaxed)) {
            const uint32_t tile = n_tiles - 1 - i / p.n_kv_heads, kv_head = i % p.n_kv_heads;
            const uint32_t t0 = tile * shape.tokens;
            const uint32_t t1 = t0 + shape.tokens < p.n_tokens ? t0 + shape.tokens : p.n_tokens;
            item(p, shape, kv_head, t0, t1, mine);
        }
    });
    return true;
}

} // namespace sq::cpu
