#include "matmul.h"

#include <algorithm>

#include "quants-levels.h"
#include "quants.h"

namespace sq::cpu {

namespace {

// Weight bytes per cache block: the block is re-read once per token of the batch, so it must stay
// in L1/L2 while the activation rows stream past it.
constexpr size_t kBlockBytes = 16 * 1024;
constexpr size_t kMaxOuts = 4;

size_t vec_dot_row_bytes(TensorType vdt, int64_t n_cols) {
    return tensor_row_bytes(tensor_type_traits(static_cast<uint32_t>(vdt)), static_cast<uint64_t>(n_cols));
}

// How one product dots a weight row with an activation row.
struct DotKernels {
    VecDotFn vec_dot;
    VecDot4Fn vec_dot_4; // 4 rows at once, same bits as vec_dot; nullptr where the type has none
    VecDotFn tail_dot;   // for the last n_tokens % 4 activation rows (llama.cpp's GEMV of repacked weights)
};

// The dot llama.cpp uses for this product: weights it repacks have their own order; float weights
// with >= 2 activation rows go through tinyBLAS there when the shapes allow it (quants-levels.h).
DotKernels dot_kernels(const MatrixRef& w, int64_t n_tokens) {
    const TypeKernels* k = type_kernels(w.type);
    const VecDotFn repacked = w.row_major_only || w.n_rows % 8 != 0 ? nullptr : repacked_vec_dot(w.type);
    if (repacked) return {repacked, nullptr, repacked_vec_dot_1row(w.type)};
    const VecDotFn batched = n_tokens >= 2 ? batched_vec_dot(w.type) : nullptr;
    const int cols = batched_dot_cols(w.type);
    if (batched && cols > 0 && w.n_cols % cols == 0 && w.n_rows % 4 == 0) return {batched, nullptr, batched};
    return {k->vec_dot, vec_dot_4rows(w.type), k->vec_dot};
}

// Rows [r0, r1) of one product against all tokens, block by block.
void matmul_rows(const MatmulOut& o, const DotKernels& dot, const uint8_t* act, size_t act_stride, int64_t n_tokens,
                 int64_t r0, int64_t r1) {
    const MatrixRef& w = o.w;
    // One token reads each row once: blocks would only leave a row or two per block to the 1-row dot.
    const int64_t block = n_tokens == 1 ? r1 - r0 : std::max<int64_t>(1, static_cast<int64_t>(kBlockBytes / w.row_bytes));
    for (int64_t b0 = r0; b0 < r1; b0 += block) {
        const int64_t b1 = std::min(r1, b0 + block);
        for (int64_t t = 0; t < n_tokens; ++t) {
            const uint8_t* a = act + static_cast<size_t>(t) * act_stride;
            float* y = o.y + t * o.y_stride;
            const VecDotFn vec_dot = t < n_tokens - n_tokens % 4 ? dot.vec_dot : dot.tail_dot;
            int64_t r = b0;
            if (dot.vec_dot_4) {
                for (; r + 4 <= b1; r += 4) dot.vec_dot_4(w.n_cols, &y[r], w.data + static_cast<size_t>(r) * w.row_bytes, w.row_bytes, a);
            }
            for (; r < b1; ++r) vec_dot(w.n_cols, &y[r], w.data + static_cast<size_t>(r) * w.row_bytes, a);
        }
    }
}

size_t distinct_vec_dot_types(const MatmulOut* outs, size_t n_outs) {
    size_t n = 0;
    for (size_t i = 0; i < n_outs; ++i) {
        const TensorType t = type_kernels(outs[i].w.type)->vec_dot_type;
        bool seen = t == TensorType::F32; // F32 activations need no conversion buffer
        for (size_t j = 0; j < i && !seen; ++j) seen = type_kernels(outs[j].w.type)->vec_dot_type == t;
        n += seen ? 0 : 1;
    }
    return n;
}

} // namespace

size_t matmul_scratch_bytes(TensorType w_type, int64_t n_cols, int64_t n_tokens) {
    const TypeKernels* k = type_kernels(w_type);
    if (!k || k->vec_dot_type == TensorType::F32) return 0;
    return vec_dot_row_bytes(k->vec_dot_type, n_cols) * static_cast<size_t>(n_tokens);
}

void matmul(ThreadPool& pool, const MatmulOut* outs, size_t n_outs, const float* x, int64_t n_tokens,
            int64_t n_cols, MatmulScratch& scratch) {
    // Weights of a model file can mix types freely: beyond what one pass handles, do one at a time.
    if (n_outs > kMaxOuts || distinct_vec_dot_types(outs, n_outs) > 2) {
        for (size_t i = 0; i < n_outs; ++i) matmul(pool, &outs[i], 1, x, n_tokens, n_cols, scratch);
        return;
    }
    struct Operand {
        DotKernels dot;
        const uint8_t* act;   // [n_tokens][stride] activations in the vec_dot_type
        size_t stride;
    };
    Operand ops[kMaxOuts];
    TensorType slot_types[2];
    size_t n_slots = 0;
    for (size_t i = 0; i < n_outs; ++i) {
        const TypeKernels* k = type_kernels(outs[i].w.type);
        const TensorType vdt = k->vec_dot_type;
        ops[i].dot = dot_kernels(outs[i].w, n_tokens);
        if (vdt == TensorType::F32) {
            ops[i].act = reinterpret_cast<const uint8_t*>(x);
            ops[i].stride = sizeof(float) * static_cast<size_t>(n_cols);
            continue;
        }
        const size_t row_bytes = vec_dot_row_bytes(vdt, n_cols);
        size_t slot = 0;
        while (slot < n_slots && slot_types[slot] != vdt) ++slot;
        if (slot == n_slots) {
            slot_types[n_slots++] = vdt;
            std::vector<uint8_t>& buf = scratch.rows[slot];
            if (buf.size() < row_bytes * static_cast<size_t>(n_tokens)) buf.resize(row_bytes * static_cast<size_t>(n_tokens));
            const FromFloatFn from_float = type_kernels(vdt)->from_float;
            uint8_t* dst = buf.data();
            pool.parallel_for(n_tokens, [&](int64_t t0, int64_t t1) {
                for (int64_t t = t0; t < t1; ++t) from_float(x + t * n_cols, dst + static_cast<size_t>(t) * row_bytes, n_cols);
            });
        }
        ops[i].act = scratch.rows[slot].data();
        ops[i].stride = row_bytes;
    }

    // Threads take rows in groups of 4 so that every range but a matrix's last runs the 4-row dot.
    constexpr int64_t kGroup = 4;
    auto groups_of = [](int64_t rows) { return (rows + kGroup - 1) / kGroup; };
    int64_t total_groups = 0;
    for (size_t i = 0; i < n_outs; ++i) total_groups += groups_of(outs[i].w.n_rows);
    pool.parallel_for(total_groups, [&](int64_t begin, int64_t end) {
        int64_t base = 0; // first global group of outs[i]
        for (size_t i = 0; i < n_outs && base < end; base += groups_of(outs[i].w.n_rows), ++i) {
            const int64_t r0 = std::max<int64_t>(begin - base, 0) * kGroup;
            const int64_t r1 = std::min<int64_t>((end - base) * kGroup, outs[i].w.n_rows);
            if (r0 < r1) matmul_rows(outs[i], ops[i].dot, ops[i].act, ops[i].stride, n_tokens, r0, r1);
        }
    });
}

} // namespace sq::cpu
