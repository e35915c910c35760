#include "recall.h"

#include <algorithm>
#include <cmath>

#include "kernels.h"
#include "sparse-attention.h"

namespace sq::squeeze {

double selection_recall(const HeadIndex& head, const Selection& sel, const float* q, float scale, std::vector<float>& scratch) {
    const Kernels& kern = kernels();
    const uint32_t n = head.n_tokens, d = head.head_dim;
    if (n == 0) return 1.0;
    scratch.resize(n); // [n] logits of every slot, then exp(logit - max)
    float max = -INFINITY;
    for (uint32_t s = 0; s < n; ++s) {
        scratch[s] = scale * kern.dot_f16(q, head.keys.data() + size_t{s} * d, d);
        max = std::max(max, scratch[s]);
    }
    double total = 0.0;
    for (uint32_t s = 0; s < n; ++s) total += scratch[s] = std::exp(scratch[s] - max);
    double selected = 0.0;
    for (const auto& r : selection_ranges(head, sel))
        for (uint32_t s = r.first; s < r.second; ++s) selected += scratch[s];
    return selected / total;
}

} // namespace sq::squeeze
