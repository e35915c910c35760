// Statistics of the squeezed attention kept on the device, so a decode step needs no copy back:
// the keys each KV head's lookup selected (n_keys of squeeze_lookup / squeeze_lookup_prefill) are
// added to per-head sums and sums of squares (mean and spread per answer, SqueezeStats).
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

struct SqueezeKeyCountParams {
    const int* n_keys;  // [n_kv_heads] keys selected by one lookup
    double* sums;       // [n_kv_heads][2]: sum, sum of squares (accumulated)
    int n_kv_heads;
};

cudaError_t squeeze_key_count(const SqueezeKeyCountParams& p, cudaStream_t stream);

} // namespace sq::cuda
