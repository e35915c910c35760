// Attention mass per fixed-context token (page citations, DESIGN.md §3 "Stats"; the CPU reference is
// the token_mass of squeeze::squeeze_attend_layer): for the keys one squeezed attention call read,
//   mass[token_of_slot[s]] += sum over the batch's tokens t and the KV head's query heads h of
//                             exp(scale q_{t,h}.k_s - lse_{t,h}),
// the final attention probability of each selected key (lse of the whole row: the selected keys
// and the dynamic ones). One thread per selected slot, all of a KV head's query rows in a loop, so
// a key is read once; the sum over heads and tokens stays in a register, one atomic add per slot.
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

struct SqueezeTokenMassParams {
    const float* q;            // [n_q][n_heads][head_dim] post-RoPE queries, token-major
    const float* lse;          // lse of (head h, token t) at lse[h * lse_head_stride + t * lse_token_stride]
    long lse_head_stride;
    long lse_token_stride;
    const void* k;             // F16 fixed context in slot order: [n_kv_heads][kv_head_stride]
    long kv_head_stride;
    const int* slots;          // [n_kv_heads][slot_stride] slots read (squeeze_lookup's lists)
    const int* n_keys;         // [n_kv_heads] entries of slots used
    long slot_stride;
    const int* token_of_slot;  // [n_kv_heads][n_fixed] position of the token stored in each slot
    int n_fixed;
    int n_q;
    int n_heads;
    int n_kv_heads;            // divides n_heads
    int head_dim;              // 64 or 128
    float scale;
    float* mass;               // [n_fixed], accumulated
};

cudaError_t squeeze_token_mass(const SqueezeTokenMassParams& p, cudaStream_t stream);

} // namespace sq::cuda
