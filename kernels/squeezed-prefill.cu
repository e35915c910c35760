#include "squeezed-prefill.cuh"

namespace sq::cuda {

namespace {

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// Workspace: [lookup][attention slices].
size_t attention_offset(const SqueezedPrefillParams& p) { return align256(squeeze_lookup_prefill_workspace_bytes(p.lookup)); }

} // namespace

size_t squeezed_prefill_workspace_bytes(const SqueezedPrefillParams& p) {
    const SqueezeLookupPrefillParams& l = p.lookup;
    return attention_offset(p) + attention_prefill_workspace_floats(l.n_heads, l.n_q, l.head_dim, p.max_splits) * sizeof(float);
}

cudaError_t squeezed_prefill(const SqueezedPrefillParams& p, cudaStream_t stream) {
    const SqueezeLookupPrefillParams& l = p.lookup;
    if (!p.workspace || !p.out || p.n_fixed < 0 || l.slot_stride < p.n_fixed || p.max_splits < 1) return cudaErrorInvalidValue;
    if (p.kv_head_stride < static_cast<long>(p.n_fixed + l.n_q) * l.head_dim) return cudaErrorInvalidValue;
    char* ws = static_cast<char*>(p.workspace);
    SqueezeLookupPrefillParams lookup = l;
    lookup.workspace = ws;
    cudaError_t err = squeeze_lookup_prefill(lookup, stream);
    if (err != cudaSuccess) return err;

    AttentionPrefillParams a{};
    a.q = l.q;
    a.k = p.k;
    a.v = p.v;
    a.kv_type = l.centroid_type;
    a.out = p.out;
    a.lse = p.lse;
    a.n_heads = l.n_heads;
    a.n_kv_heads = l.n_kv_heads;
    a.head_dim = l.head_dim;
    a.n_q = l.n_q;
    a.kv_head_stride = p.kv_head_stride;
    a.scale = l.scale;
    a.key_rows = l.slots;
    a.n_list = l.n_keys;
    a.key_rows_stride = l.slot_stride;
    a.n_list_hint = p.n_keys_hint > 0 ? p.n_keys_hint : p.n_fixed;
    a.dense_begin = p.n_fixed;
    a.dense_end = p.n_fixed + l.n_q;
    a.causal = true;
    a.causal_offset = 0;
    a.m_tiles = p.m_tiles;
    a.wgmma_variant = p.wgmma_variant;
    a.workspace = reinterpret_cast<float*>(ws + attention_offset(p));
    return attention_prefill(a, p.max_splits, stream);
}

} // namespace sq::cuda
