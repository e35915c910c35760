// Log-sum-exp merge of attention states: several partial attentions of the same query rows over
// disjoint key sets, each normalised on its own and carrying lse = log(sum of exp(scores)), combine
// into the attention over the union. Split-K decode merges its key slices with it; squeezed
// attention merges the selected fixed-context keys with the dynamic tokens.
//
//   w_s = exp(lse_s - max_s lse_s),  out = sum_s w_s * o_s / sum_s w_s,
//   lse_out = max_s lse_s + log(sum_s w_s)
// A state over no keys has lse = -inf and weighs nothing; rows where every state is empty get
// out = 0, lse_out = -inf. Launched as a programmatic dependent of the kernel before it, whose
// states it waits for (grid-dependency.cuh).
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

struct LseMergeParams {
    const float* o;       // [n_states] states of [n_rows][head_dim], o_state_stride floats apart
    const float* lse;     // [n_states] states of [n_rows], lse_state_stride floats apart (natural log)
    float* out;           // [n_rows][head_dim]; may not alias o
    float* lse_out;       // [n_rows], or null
    int n_states;
    int n_rows;
    int head_dim;
    long o_state_stride;
    long lse_state_stride;
};

cudaError_t lse_merge(const LseMergeParams& p, cudaStream_t stream);

} // namespace sq::cuda
