// Attention-mass recall of a selection, for accuracy evaluation (npm run eval): the share of one
// query row's dense attention over the whole fixed context that falls on the keys the selection
// reads. 1 when every cluster is selected; the paper's bar is >= 0.95 at 90% sparsity.
//
// It scores every fixed-context key, the cost of dense attention, so squeeze_attend_layer computes it
// only when asked (LayerAttention::recall).
#pragma once

#include <cstdint>
#include <vector>

#include "cluster-index.h"
#include "lookup.h"

namespace sq::squeeze {

// q: [head_dim] one query row of a head of this KV head's group; scale: 1/sqrt(head_dim).
// scratch: resized to [head.n_tokens].
double selection_recall(const HeadIndex& head, const Selection& sel, const float* q, float scale, std::vector<float>& scratch);

} // namespace sq::squeeze
