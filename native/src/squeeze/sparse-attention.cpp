#include "sparse-attention.h"

#include <algorithm>

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

void key_list_build(const HeadIndex& head, const Selection& sel, KeyList& list) {
    list.ranges = selection_ranges(head, sel);
    list.offset.resize(list.ranges.size() + 1);
    list.offset[0] = 0;
    for (size_t r = 0; r < list.ranges.size(); ++r) list.offset[r + 1] = list.offset[r] + (list.ranges[r].second - list.ranges[r].first);
}

namespace {

// Calls fn(first slot, end slot, key number of the first slot) for each run of fixed-context slots
// among the keys [begin, end).
template <typename Fn>
void for_fixed_runs(const KeyList& list, uint32_t begin, uint32_t end, Fn&& fn) {
    end = std::min(end, list.n_fixed());
    if (begin >= end) return;
    size_t r = static_cast<size_t>(std::upper_bound(list.offset.begin(), list.offset.end(), begin) - list.offset.begin()) - 1;
    for (; r < list.ranges.size() && list.offset[r] < end; ++r) {
        const uint32_t k0 = std::max(begin, list.offset[r]), k1 = std::min(end, list.offset[r + 1]);
        const uint32_t s0 = list.ranges[r].first + (k0 - list.offset[r]);
        fn(s0, s0 + (k1 - k0), k0);
    }
}

// The dynamic rows [first, end) among the keys [begin, end); empty when the chunk has none.
std::pair<uint32_t, uint32_t> dynamic_rows(const ChunkedAttention& a, uint32_t begin, uint32_t end) {
    const uint32_t nf = a.keys->n_fixed();
    if (end <= nf) return {0, 0};
    return {std::max(begin, nf) - nf, end - nf};
}

} // namespace

void chunk_logits(const ChunkedAttention& a, uint32_t begin, uint32_t end, float* row_max, AttnTimes& times) {
    auto since = std::chrono::steady_clock::now();
    const Kernels& kern = kernels();
    const uint32_t d = a.head->head_dim, n = a.n_keys(), nf = a.keys->n_fixed();
    for_fixed_runs(*a.keys, begin, end, [&](uint32_t s0, uint32_t s1, uint32_t key) {
        kern.dot_rows_f16(a.q, a.n_rows, a.head->keys.data() + size_t{s0} * d, s1 - s0, d, a.scale, a.probs + key, n);
    });
    attn_lap(since, times.fixed);
    const auto [j0, j1] = dynamic_rows(a, begin, end);
    if (a.elem == KvElem::F16) {
        kern.dot_rows_f16(a.q, a.n_rows, static_cast<const uint16_t*>(a.k_dyn) + size_t{j0} * d, j1 - j0, d, a.scale, a.probs + nf + j0, n);
    } else {
        for (uint32_t j = j0; j < j1; ++j)
            for (uint32_t r = 0; r < a.n_rows; ++r)
                a.probs[size_t{r} * n + nf + j] = a.scale * kern.dot_f32(a.q + size_t{r} * d, static_cast<const float*>(a.k_dyn) + size_t{j} * d, d);
    }
    attn_lap(since, times.dynamic);
    for (uint32_t r = 0; r < a.n_rows; ++r) {
        const float* p = a.probs + size_t{r} * n;
        float m = -INFINITY;
        for (uint32_t i = begin; i < end; ++i) m = std::max(m, p[i]);
        row_max[r] = m;
    }
    attn_lap(since, times.merge);
}

void chunk_exp(const ChunkedAttention& a, uint32_t begin, uint32_t end, const float* max, double* row_sum, AttnTimes& times) {
    auto since = std::chrono::steady_clock::now();
    const Kernels& kern = kernels();
    const uint32_t n = a.n_keys();
    for (uint32_t r = 0; r < a.n_rows; ++r) row_sum[r] = kern.exp_sum(a.probs + size_t{r} * n + begin, end - begin, max[r]);
    attn_lap(since, times.merge);
}

void chunk_values(const ChunkedAttention& a, uint32_t begin, uint32_t end, const float* inv, float* out, float* token_mass,
                  AttnTimes& times) {
    auto since = std::chrono::steady_clock::now();
    const Kernels& kern = kernels();
    const HeadIndex& head = *a.head;
    const uint32_t d = head.head_dim, n = a.n_keys(), nf = a.keys->n_fixed();
    for (uint32_t r = 0; r < a.n_rows; ++r) kern.scale_rows(a.probs + size_t{r} * n + begin, end - begin, inv[r], a.round_f16);
    std::fill(out, out + size_t{a.n_rows} * d, 0.0f);
    attn_lap(since, times.merge);
    for_fixed_runs(*a.keys, begin, end, [&](uint32_t s0, uint32_t s1, uint32_t key) {
        kern.axpy_rows_f16(out, a.n_rows, a.probs + key, n, head.values.data() + size_t{s0} * d, s1 - s0, d);
        if (!token_mass) return;
        for (uint32_t s = s0; s < s1; ++s) {
            float p = 0.0f;
            for (uint32_t r = 0; r < a.n_rows; ++r) p += a.probs[size_t{r} * n + key + (s - s0)];
            token_mass[head.token_of_slot[s]] += p;
        }
    });
    attn_lap(since, times.fixed);
    const auto [j0, j1] = dynamic_rows(a, begin, end);
    if (a.elem == KvElem::F16) {
        kern.axpy_rows_f16(out, a.n_rows, a.probs + nf + j0, n, static_cast<const uint16_t*>(a.v_dyn) + size_t{j0} * d, j1 - j0, d);
    } else {
        for (uint32_t j = j0; j < j1; ++j)
            for (uint32_t r = 0; r < a.n_rows; ++r)
                kern.axpy_f32(out + size_t{r} * d, a.probs[size_t{r} * n + nf + j], static_cast<const float*>(a.v_dyn) + size_t{j} * d, d);
    }
    attn_lap(since, times.dynamic);
}

} // namespace sq::squeeze
