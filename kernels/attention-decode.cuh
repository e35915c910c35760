// Dense attention of one new token per query head over a KV cache ("decode"), split-K as in
// flash-decoding: the keys of each KV head are cut into n_splits slices, one block per (KV head,
// slice) attends all the query heads of that KV head (GQA: every K/V row is read once), writes a
// normalised partial output and its log-sum-exp, and lse_merge combines the slices. Enough slices
// to fill every SM keep one query at memory bandwidth. Two kernels behind the one launcher: CUDA
// cores for one query head per KV head, tensor cores (mma.sync) for GQA groups; both at f32
// accuracy (see attention-decode.cu).
//
// Query head h reads KV head h / (n_heads / n_kv_heads), as llama.cpp groups them. With key_rows
// the same kernels attend a per-head list of rows (the squeezed fixed context read in place): the
// slices then split each head's list, whose length only the device knows, evenly.
//
// Both kernels and the merge are programmatic dependent launches (grid-dependency.cuh): each may be
// scheduled while the kernel before it finishes and waits for it before reading anything.
#pragma once

#include <cstddef>
#include <cuda_runtime.h>

namespace sq::cuda {

enum class KvType : int { F16 = 0, BF16 = 1 };

struct AttentionDecodeParams {
    const float* q;        // [n_heads][head_dim]
    const void* k;         // [n_kv_heads][kv_head_stride] elements of kv_type; rows of head_dim
    const void* v;         // same layout as k
    float* out;            // [n_heads][head_dim]
    float* lse;            // [n_heads] natural-log sum of exp(scale * q.k), or null
    float* workspace;      // attention_decode_workspace_floats(n_heads, head_dim) floats
    KvType kv_type;
    int n_heads;
    int n_kv_heads;        // divides n_heads
    int head_dim;          // 64 or 128
    int n_kv;              // keys attended, all visible (causal decode passes position + 1)
    long kv_head_stride;   // elements from one KV head to the next: n_ctx * head_dim
    float scale;           // usually 1 / sqrt(head_dim)
    int n_splits;          // 0: as many as fill the GPU once; else forced (tests, tuning)
    int keys_per_iter;     // 0: default; else 2 or 4 keys per thread group and step (tuning)
    int prefetch;          // 0: default; 1: load the next step's keys during this one; -1: don't (tuning)
    int tensor_cores;      // 0: default (mma.sync for GQA groups, CUDA cores otherwise); 1: mma; -1: CUDA cores
    // Sparse decode (squeezed attention, rows chosen by squeeze_lookup): when key_rows is set, KV
    // head h attends rows key_rows[h * key_rows_stride + i] for i < n_keys[h], both read on the
    // device, and n_kv only sizes the split count (the expected keys per head). Rows must lie
    // within the head's kv_head_stride.
    const int* key_rows;
    const int* n_keys;     // [n_kv_heads]
    long key_rows_stride;
    // Dense decode captured in a CUDA graph: when set, the keys are rows [0, *n_kv_device + n_kv_add),
    // counted on the device at run time (the step's position), and n_kv is their upper bound, which
    // sizes the split count; each slice then takes an equal share of the keys actually there.
    const int* n_kv_device;
    int n_kv_add;
};

// Workspace for any split count the launcher may choose.
size_t attention_decode_workspace_floats(int n_heads, int head_dim);

cudaError_t attention_decode(const AttentionDecodeParams& p, cudaStream_t stream);

} // namespace sq::cuda
