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

// Evaluation oracles (npm run eval): which selection of the same size as a lookup's would keep the
// most of the true attention, to tell a lookup that misses the right clusters (the oracle on clusters
// keeps accuracy, the lookup does not) from clusters too coarse for the attention (only the oracle on
// single keys keeps it) and from a model that needs dense attention at that budget (neither does).
enum class Oracle {
    None,
    Clusters, // finest clusters by descending true attention mass
    Keys,     // single clustered keys by descending true attention mass (Selection::slots)
};

// The oracle selection with at least n_keys keys (always-attended ones included; a cluster oracle
// stops at the first cluster that reaches it) for the rows q [n_rows][head_dim], ranked by the mass
// summed over the rows, each row's softmax taken over the whole fixed context, as the dense attention
// of those rows would place it. scratch: resized to [n_tokens] (mass per slot) + [n_tokens] (logits).
void oracle_select(const HeadIndex& head, const float* q, uint32_t n_rows, float scale, Oracle kind, uint32_t n_keys,
                   std::vector<float>& scratch, Selection& out);

// q: [head_dim] one query row of a head of this KV head's group; scale: 1/sqrt(head_dim).
// scratch: resized to [head.n_tokens].
double selection_recall(const HeadIndex& head, const Selection& sel, const float* q, float scale, std::vector<float>& scratch);

} // namespace sq::squeeze
