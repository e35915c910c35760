#include "squeezed-decode.cuh"

#include "lse-merge.cuh"
#include "squeezed-attention.cuh"

namespace sq::cuda {

namespace {

size_t align256(size_t x) { return (x + 255) / 256 * 256; }

// Workspace: [lookup][attention_decode slices][squeezed_attention chunks]
//            [two merge states: o [2][n_heads][head_dim], lse [2][n_heads]].
struct Layout {
    size_t attention, chunks, states, bytes;
};

Layout layout_of(const SqueezedDecodeParams& p) {
    Layout l{};
    const size_t rows = static_cast<size_t>(p.lookup.n_heads);
    l.attention = align256(squeeze_lookup_workspace_bytes(p.lookup));
    l.chunks = l.attention + align256(attention_decode_workspace_floats(p.lookup.n_heads, p.lookup.head_dim) * sizeof(float));
    l.states = l.chunks +
               align256(squeezed_attention_workspace_floats(p.lookup.n_heads, p.lookup.n_kv_heads, p.lookup.head_dim) * sizeof(float));
    l.bytes = l.states + 2 * rows * (p.lookup.head_dim + 1) * sizeof(float);
    return l;
}

AttentionDecodeParams attention_params(const SqueezedDecodeParams& p, float* ws) {
    AttentionDecodeParams a{};
    a.q = p.lookup.q;
    a.kv_type = p.kv_type;
    a.n_heads = p.lookup.n_heads;
    a.n_kv_heads = p.lookup.n_kv_heads;
    a.head_dim = p.lookup.head_dim;
    a.scale = p.lookup.scale;
    a.workspace = ws;
    return a;
}

// The earlier fixed part: attention_decode over the slot lists, each head's list split on its own.
cudaError_t fixed_per_head(const SqueezedDecodeParams& p, float* attention_ws, float* out, float* lse, cudaStream_t stream) {
    AttentionDecodeParams fixed = attention_params(p, attention_ws);
    fixed.k = p.k;
    fixed.v = p.v;
    fixed.kv_head_stride = p.kv_head_stride;
    fixed.n_kv = p.n_keys_hint > 0 ? p.n_keys_hint : p.n_fixed;
    fixed.key_rows = p.lookup.slots;
    fixed.n_keys = p.lookup.n_keys;
    fixed.key_rows_stride = p.lookup.slot_stride;
    fixed.tensor_cores = p.tensor_cores;
    fixed.out = out;
    fixed.lse = lse;
    return attention_decode(fixed, stream);
}

} // namespace

size_t squeezed_decode_workspace_bytes(const SqueezedDecodeParams& p) { return layout_of(p).bytes; }

cudaError_t squeezed_decode(const SqueezedDecodeParams& p, cudaStream_t stream) {
    if (!p.out || !p.workspace || p.n_fixed < 0 || p.n_dyn < 0 || p.lookup.slot_stride < p.n_fixed) return cudaErrorInvalidValue;
    if (p.n_fixed > 0 && (!p.k || !p.v || p.kv_head_stride < static_cast<long>(p.n_fixed) * p.lookup.head_dim))
        return cudaErrorInvalidValue;
    if (p.n_dyn > 0 && (!p.k_dyn || !p.v_dyn)) return cudaErrorInvalidValue;
    const Layout lay = layout_of(p);
    char* ws = static_cast<char*>(p.workspace);
    float* attention_ws = reinterpret_cast<float*>(ws + lay.attention);
    const long o_size = static_cast<long>(p.lookup.n_heads) * p.lookup.head_dim;
    float* state_o = reinterpret_cast<float*>(ws + lay.states); // [2][n_heads][head_dim]
    float* state_lse = state_o + 2 * o_size;                     // [2][n_heads]

    SqueezeLookupParams lookup = p.lookup;
    lookup.workspace = ws;
    cudaError_t err = squeeze_lookup(lookup, stream);
    if (err != cudaSuccess) return err;

    // The dynamic tokens' state first, so that the fixed part's merge can take it in.
    const bool dyn = p.n_dyn > 0;
    if (dyn) {
        AttentionDecodeParams a = attention_params(p, attention_ws);
        a.k = p.k_dyn;
        a.v = p.v_dyn;
        a.kv_head_stride = p.dyn_head_stride;
        a.n_kv = p.n_dyn;
        a.n_kv_device = p.n_dyn_device;
        a.n_kv_add = p.n_dyn_add;
        a.out = state_o + o_size;
        a.lse = state_lse + p.lookup.n_heads;
        err = attention_decode(a, stream);
        if (err != cudaSuccess) return err;
    }

    const bool per_head = p.per_head_split != 0 ? p.per_head_split > 0 : p.lookup.n_heads == p.lookup.n_kv_heads;
    if (per_head) {
        err = fixed_per_head(p, attention_ws, dyn ? state_o : p.out, dyn ? state_lse : p.lse, stream);
        if (err != cudaSuccess || !dyn) return err;
        return lse_merge(LseMergeParams{state_o, state_lse, p.out, p.lse, 2, p.lookup.n_heads, p.lookup.head_dim, o_size,
                                        p.lookup.n_heads},
                         stream);
    }
    SqueezedAttentionParams a{};
    a.q = p.lookup.q;
    a.k = p.k;
    a.v = p.v;
    a.kv_type = p.kv_type;
    a.kv_head_stride = p.kv_head_stride;
    a.rows = p.lookup.slots;
    a.n_keys = p.lookup.n_keys;
    a.rows_stride = p.lookup.slot_stride;
    a.n_heads = p.lookup.n_heads;
    a.n_kv_heads = p.lookup.n_kv_heads;
    a.head_dim = p.lookup.head_dim;
    a.scale = p.lookup.scale;
    a.extra_o = dyn ? state_o + o_size : nullptr;
    a.extra_lse = dyn ? state_lse + p.lookup.n_heads : nullptr;
    a.out = p.out;
    a.lse = p.lse;
    a.workspace = reinterpret_cast<float*>(ws + lay.chunks);
    return squeezed_attention(a, stream);
}

} // namespace sq::cuda
