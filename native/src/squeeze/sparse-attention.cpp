#include "sparse-attention.h"

#include <algorithm>

#include "../common/half.h"

#include "kernels.h"

namespace sq::squeeze {

std::vector<std::pair<uint32_t, uint32_t>> selection_ranges(const HeadIndex& head, const Selection& sel) {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    if (head.n_always > 0) ranges.push_back({0, head.n_always});
    if (head.levels.empty()) return ranges;
    const std::vector<uint32_t>& first = head.levels.back().first;
    for (const uint32_t j : sel.clusters) {
        const uint32_t b = first[j], e = first[j + 1];
        if (!ranges.empty() && ranges.back().second == b) ranges.back().second = e;
        else ranges.push_back({b, e});
    }
    for (const uint32_t s : sel.slots) {
        if (!ranges.empty() && ranges.back().second == s) ++ranges.back().second;
        else ranges.push_back({s, s + 1});
    }
    return ranges;
}

namespace {

// p[i] = exp(p[i] - max) in place; returns (max, sum). Empty input gives (-inf, 0).
AttnPartial softmax_unnormalized(float* p, uint32_t n) {
    AttnPartial part;
    for (uint32_t i = 0; i < n; ++i) part.max = std::max(part.max, p[i]);
    double sum = 0.0;
    for (uint32_t i = 0; i < n; ++i) {
        p[i] = std::exp(p[i] - part.max);
        sum += p[i];
    }
    part.sum = static_cast<float>(sum);
    return part;
}

} // namespace

void sparse_attention(const HeadIndex& head, const Selection& sel, const float* q, uint32_t n_rows, float scale,
                      std::vector<float>& scratch, float* out, AttnPartial* parts) {
    const Kernels& kern = kernels();
    const uint32_t d = head.head_dim;
    const auto ranges = selection_ranges(head, sel);
    uint32_t n = 0;
    for (const auto& r : ranges) n += r.second - r.first;
    scratch.resize(size_t{n_rows} * n);

    // Logits: one pass over the selected keys, every row scored against a key while it is in L1.
    uint32_t i = 0;
    for (const auto& r : ranges)
        for (uint32_t s = r.first; s < r.second; ++s, ++i) {
            const uint16_t* key = head.keys.data() + size_t{s} * d;
            for (uint32_t row = 0; row < n_rows; ++row)
                scratch[size_t{row} * n + i] = scale * kern.dot_f16(q + size_t{row} * d, key, d);
        }
    for (uint32_t row = 0; row < n_rows; ++row) {
        parts[row] = softmax_unnormalized(scratch.data() + size_t{row} * n, n);
        std::fill(out + size_t{row} * d, out + size_t{row + 1} * d, 0.0f);
    }
    // Values: one pass, every row accumulates from a value row while it is in L1.
    i = 0;
    for (const auto& r : ranges)
        for (uint32_t s = r.first; s < r.second; ++s, ++i) {
            const uint16_t* value = head.values.data() + size_t{s} * d;
            for (uint32_t row = 0; row < n_rows; ++row) kern.axpy_f16(out + size_t{row} * d, scratch[size_t{row} * n + i], value, d);
        }
    for (uint32_t row = 0; row < n_rows; ++row) {
        if (parts[row].sum <= 0.0f) continue;
        const float inv = 1.0f / parts[row].sum;
        for (uint32_t c = 0; c < d; ++c) out[size_t{row} * d + c] *= inv;
    }
}

void attention_partial(const float* q, const void* k, const void* v, KvElem elem, uint32_t n, uint32_t head_dim,
                       float scale, float* scratch, float* out, AttnPartial& part) {
    const Kernels& kern = kernels();
    const bool f16 = elem == KvElem::F16;
    for (uint32_t i = 0; i < n; ++i) {
        const size_t off = size_t{i} * head_dim;
        scratch[i] = scale * (f16 ? kern.dot_f16(q, static_cast<const uint16_t*>(k) + off, head_dim)
                                  : kern.dot_f32(q, static_cast<const float*>(k) + off, head_dim));
    }
    part = softmax_unnormalized(scratch, n);
    std::fill(out, out + head_dim, 0.0f);
    for (uint32_t i = 0; i < n; ++i) {
        const size_t off = size_t{i} * head_dim;
        if (f16) kern.axpy_f16(out, scratch[i], static_cast<const uint16_t*>(v) + off, head_dim);
        else kern.axpy_f32(out, scratch[i], static_cast<const float*>(v) + off, head_dim);
    }
    if (part.sum > 0.0f) {
        const float inv = 1.0f / part.sum;
        for (uint32_t c = 0; c < head_dim; ++c) out[c] *= inv;
    }
}

void lse_merge(float* out_a, AttnPartial& a, const float* out_b, const AttnPartial& b, uint32_t head_dim) {
    if (b.sum <= 0.0f) return;
    if (a.sum <= 0.0f) {
        std::copy_n(out_b, head_dim, out_a);
        a = b;
        return;
    }
    const float m = std::max(a.max, b.max);
    const float wa = a.sum * std::exp(a.max - m), wb = b.sum * std::exp(b.max - m);
    const float inv = 1.0f / (wa + wb);
    for (uint32_t c = 0; c < head_dim; ++c) out_a[c] = (out_a[c] * wa + out_b[c] * wb) * inv;
    a.max = m;
    a.sum = wa + wb;
}

void attention_rounded_f16(const HeadIndex& head, const Selection& sel, const float* q, uint32_t n_rows, const uint16_t* k_dyn,
                           const uint16_t* v_dyn, uint32_t n_dyn, float scale, std::vector<float>& q16, std::vector<float>& probs,
                           float* out, AttnTimes* times) {
    AttnTimes local;
    AttnTimes& t = times ? *times : local;
    auto since = std::chrono::steady_clock::now();
    const Kernels& kern = kernels();
    const uint32_t d = head.head_dim;
    const auto ranges = selection_ranges(head, sel);
    uint32_t n_sel = 0;
    for (const auto& r : ranges) n_sel += r.second - r.first;
    const uint32_t n = n_sel + n_dyn;
    probs.resize(size_t{n_rows} * n);
    q16.resize(size_t{n_rows} * d);
    for (size_t c = 0; c < q16.size(); ++c) q16[c] = f16_to_f32(f32_to_f16(q[c]));

    // Logits: the selected keys in one pass for all rows, then each row's dynamic rows.
    uint32_t i = 0;
    for (const auto& r : ranges)
        for (uint32_t s = r.first; s < r.second; ++s, ++i) {
            const uint16_t* key = head.keys.data() + size_t{s} * d;
            for (uint32_t row = 0; row < n_rows; ++row) probs[size_t{row} * n + i] = scale * kern.dot_f16(q16.data() + size_t{row} * d, key, d);
        }
    attn_lap(since, t.fixed);
    for (uint32_t row = 0; row < n_rows; ++row)
        for (uint32_t j = 0; j < n_dyn; ++j)
            probs[size_t{row} * n + n_sel + j] = scale * kern.dot_f16(q16.data() + size_t{row} * d, k_dyn + size_t{j} * d, d);
    attn_lap(since, t.dynamic);

    // One softmax per row over both key sets, each probability then rounded to f16 as dense does.
    for (uint32_t row = 0; row < n_rows; ++row) {
        float* p = probs.data() + size_t{row} * n;
        const AttnPartial part = softmax_unnormalized(p, n);
        const float inv = part.sum > 0.0f ? 1.0f / part.sum : 0.0f;
        for (uint32_t j = 0; j < n; ++j) p[j] = f16_to_f32(f32_to_f16(p[j] * inv));
        std::fill(out + size_t{row} * d, out + size_t{row + 1} * d, 0.0f);
    }
    attn_lap(since, t.merge);

    // Values: the selected rows in one pass for all rows, then the dynamic rows.
    i = 0;
    for (const auto& r : ranges)
        for (uint32_t s = r.first; s < r.second; ++s, ++i) {
            const uint16_t* value = head.values.data() + size_t{s} * d;
            for (uint32_t row = 0; row < n_rows; ++row) kern.axpy_f16(out + size_t{row} * d, probs[size_t{row} * n + i], value, d);
        }
    attn_lap(since, t.fixed);
    for (uint32_t row = 0; row < n_rows; ++row)
        for (uint32_t j = 0; j < n_dyn; ++j)
            kern.axpy_f16(out + size_t{row} * d, probs[size_t{row} * n + n_sel + j], v_dyn + size_t{j} * d, d);
    attn_lap(since, t.dynamic);
}

} // namespace sq::squeeze
