// Run-time choice of the kernel tables (quants.h): one table per SIMD level, built once.
#include "quants.h"

#include <array>
#include <cstdlib>
#include <cstring>

#include "quants-levels.h"

namespace sq::cpu {
namespace {

enum class Level { scalar = 0, avx2 = 1, avx512 = 2 };

constexpr size_t kTypeSlots = 31; // TensorType ids 0..30

struct KernelTable {
    std::array<TypeKernels, kTypeSlots> kernels{};
    std::array<bool, kTypeSlots> present{};
};

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

// The AVX-512 subset that CMake compiles *-avx512.cpp for (F, BW, VL, DQ).
bool cpu_has_avx512() {
#if defined(__x86_64__) || defined(__i386__)
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#else
    return false;
#endif
}

bool cpu_has_avx512_vnni() {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512vnni");
#else
    return false;
#endif
}

KernelTable build_table(Level level) {
    KernelTable t;
    for (uint32_t id = 0; id < kTypeSlots; ++id) {
        const TensorType type = static_cast<TensorType>(id);
        TypeKernels k{};
        if (!quants_scalar_kernels(type, &k)) continue;
        if (level >= Level::avx2) quants_avx2_kernels(type, &k);
        if (level >= Level::avx512) quants_avx512_kernels(type, cpu_has_avx512_vnni(), &k);
        t.kernels[id] = k;
        t.present[id] = true;
    }
    return t;
}

const KernelTable* table_for(Level level) {
    static const KernelTable scalar = build_table(Level::scalar);
    if (level == Level::scalar) return &scalar;
    if (level == Level::avx2) {
        if (!cpu_has_avx2()) return nullptr;
        static const KernelTable avx2 = build_table(Level::avx2);
        return &avx2;
    }
    if (!cpu_has_avx512()) return nullptr;
    static const KernelTable avx512 = build_table(Level::avx512);
    return &avx512;
}

// Best level of this CPU, capped by SQUEEZE_SIMD (read once).
Level chosen_level() {
    static const Level level = [] {
        const char* cap = std::getenv("SQUEEZE_SIMD");
        const Level best = cpu_has_avx512() ? Level::avx512 : cpu_has_avx2() ? Level::avx2 : Level::scalar;
        if (cap && std::strcmp(cap, "scalar") == 0) return Level::scalar;
        if (cap && std::strcmp(cap, "avx2") == 0 && best > Level::avx2) return Level::avx2;
        return best;
    }();
    return level;
}

const TypeKernels* lookup(const KernelTable* table, TensorType type) {
    const auto id = static_cast<uint32_t>(type);
    if (!table || id >= kTypeSlots || !table->present[id]) return nullptr;
    return &table->kernels[id];
}

} // namespace

const TypeKernels* type_kernels(TensorType type) { return lookup(table_for(chosen_level()), type); }

const char* simd_level() {
    switch (chosen_level()) {
        case Level::avx512: return "avx512";
        case Level::avx2: return "avx2";
        default: return "scalar";
    }
}

VecDotFn batched_vec_dot(TensorType type) {
    switch (chosen_level()) {
        case Level::avx512: return quants_avx512_batched_dot(type);
        case Level::avx2: return quants_avx2_batched_dot(type);
        default: return nullptr;
    }
}

VecDot4Fn vec_dot_4rows_for(TensorType type, const char* level) {
    if (!level) return nullptr;
    // building the level's table first also fills the f16 table these kernels read
    if (std::strcmp(level, "avx2") == 0) return table_for(Level::avx2) ? quants_avx2_vec_dot_4(type) : nullptr;
    if (std::strcmp(level, "avx512") == 0) {
        return table_for(Level::avx512) ? quants_avx512_vec_dot_4(type, cpu_has_avx512_vnni()) : nullptr;
    }
    return nullptr;
}

VecDot4Fn vec_dot_4rows(TensorType type) { return vec_dot_4rows_for(type, simd_level()); }

int batched_dot_lanes() {
    switch (chosen_level()) {
        case Level::avx512: return 16;
        case Level::avx2: return 8;
        default: return 0;
    }
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
    return __builtin_cpu_supports("avx512bf16");
#else
    return false;
#endif
}

VecDotFn repacked_vec_dot(TensorType type) {
    return chosen_level() >= Level::avx2 ? quants_avx2_repacked_dot(type) : nullptr;
}

VecDotFn repacked_vec_dot_1row(TensorType type) {
    return chosen_level() >= Level::avx2 ? quants_avx2_repacked_dot_1row(type) : nullptr;
}

int batched_dot_cols(TensorType type) {
    if (type == TensorType::BF16 && chosen_level() == Level::avx512 && cpu_has_avx512_bf16()) return 32;
    return batched_dot_lanes();
}

const TypeKernels* type_kernels_for(TensorType type, const char* level) {
    if (!level) return nullptr;
    if (std::strcmp(level, "scalar") == 0) return lookup(table_for(Level::scalar), type);
    if (std::strcmp(level, "avx2") == 0) return lookup(table_for(Level::avx2), type);
    if (std::strcmp(level, "avx512") == 0) return lookup(table_for(Level::avx512), type);
    return nullptr;
}

} // namespace sq::cpu
