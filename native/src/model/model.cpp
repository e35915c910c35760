// Model::load: hyper-parameters from `<arch>.*` keys and weight binding, every value checked
// against the others because the file is untrusted.
#include "model.h"

#include <cmath>
#include <cstring>

#include "../backend/cpu/quants.h"
#include "../common/memory.h"

namespace sq {

namespace {

Status bad_hparams(const std::string& message) { return Status::error("MODEL_BAD_HPARAMS", message); }

// An integer key that must fit in u32. `required` keys give MODEL_BAD_HPARAMS when missing.
Status read_u32(const GgufFile& f, const std::string& key, bool required, uint32_t& out) {
    std::optional<uint64_t> v;
    SQ_TRY(f.get_u64(key, v));
    if (!v) return required ? bad_hparams("missing key " + key) : Status::ok();
    if (*v > UINT32_MAX) return bad_hparams(key + " = " + std::to_string(*v) + " is too large");
    out = static_cast<uint32_t>(*v);
    return Status::ok();
}

Status read_f32(const GgufFile& f, const std::string& key, float& out) {
    std::optional<double> v;
    SQ_TRY(f.get_f64(key, v));
    if (!v) return Status::ok();
    if (!std::isfinite(*v)) return bad_hparams(key + " is not a finite number");
    out = static_cast<float>(*v);
    return Status::ok();
}

std::string shape_str(const uint64_t* ne, uint32_t n) {
    std::string s = "[";
    for (uint32_t i = 0; i < n; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

} // namespace

// Weights are memory-mapped, not copied, but every decode step reads all of them: a model larger
// than the memory available would page from disk on every token, so it is refused up front.
static Status check_fits_in_memory(const GgufFile& f) {
    const uint64_t available = available_memory_bytes();
    uint64_t weights = 0;
    for (const GgufTensor& t : f.tensors()) weights += t.n_bytes;
    if (available == 0 || weights <= available) return Status::ok();
    const auto mib = [](uint64_t b) { return std::to_string(b >> 20) + " MiB"; };
    return Status::error("MODEL_TOO_LARGE", "the model's weights need " + mib(weights) + " but only " +
                                                mib(available) + " of memory is available");
}

Status Model::load(const std::string& path, std::unique_ptr<Model>& out) {
    std::unique_ptr<Model> m(new Model());
    Status st = GgufFile::open(path, m->gguf_);
    if (st) st = m->load_hparams();
    if (st) st = m->bind_weights();
    if (st) st = check_fits_in_memory(*m->gguf_);
    if (!st) return Status::error(st.code, path + ": " + st.message);
    out = std::move(m);
    return Status::ok();
}

Status Model::load_hparams() {
    const GgufFile& f = *gguf_;
    Hparams& hp = hparams_;
    std::optional<std::string> arch;
    SQ_TRY(f.get_string("general.architecture", arch));
    if (!arch) return Status::error("MODEL_UNKNOWN_ARCH", "general.architecture is missing");
    if (*arch != "llama" && *arch != "qwen2") {
        return Status::error("MODEL_UNKNOWN_ARCH", "architecture '" + *arch + "' is not supported (llama, qwen2)");
    }
    hp.arch = *arch;
    const std::string a = hp.arch + ".";
    SQ_TRY(read_u32(f, a + "block_count", true, hp.n_layers));
    SQ_TRY(read_u32(f, a + "embedding_length", true, hp.n_embd));
    SQ_TRY(read_u32(f, a + "feed_forward_length", true, hp.n_ff));
    SQ_TRY(read_u32(f, a + "attention.head_count", true, hp.n_heads));
    hp.n_kv_heads = hp.n_heads;
    SQ_TRY(read_u32(f, a + "attention.head_count_kv", false, hp.n_kv_heads));
    SQ_TRY(read_u32(f, a + "context_length", true, hp.n_ctx_train));
    if (hp.n_layers == 0 || hp.n_embd == 0 || hp.n_ff == 0 || hp.n_heads == 0 || hp.n_kv_heads == 0 ||
        hp.n_ctx_train == 0) {
        return bad_hparams("block_count, embedding_length, feed_forward_length, head counts and context_length "
                           "must be positive");
    }
    if (hp.n_layers > 4096 || hp.n_heads > 4096) return bad_hparams("block_count or head_count is implausibly large");
    if (hp.n_heads % hp.n_kv_heads != 0) {
        return bad_hparams("attention.head_count " + std::to_string(hp.n_heads) +
                           " is not a multiple of head_count_kv " + std::to_string(hp.n_kv_heads));
    }
    hp.head_dim = hp.n_embd / hp.n_heads;
    if (hp.n_embd % hp.n_heads != 0) hp.head_dim = 0;
    SQ_TRY(read_u32(f, a + "attention.key_length", false, hp.head_dim));
    uint32_t value_length = hp.head_dim;
    SQ_TRY(read_u32(f, a + "attention.value_length", false, value_length));
    if (hp.head_dim == 0 || hp.head_dim % 2 != 0 || hp.head_dim > 1024) {
        return bad_hparams("head dimension " + std::to_string(hp.head_dim) + " must be even, positive and <= 1024");
    }
    if (value_length != hp.head_dim) {
        return bad_hparams("attention.value_length " + std::to_string(value_length) + " differs from key_length " +
                           std::to_string(hp.head_dim));
    }
    hp.n_rot = hp.head_dim;
    SQ_TRY(read_u32(f, a + "rope.dimension_count", false, hp.n_rot));
    if (hp.n_rot == 0 || hp.n_rot % 2 != 0 || hp.n_rot > hp.head_dim) {
        return bad_hparams("rope.dimension_count " + std::to_string(hp.n_rot) + " must be even and <= head dim " +
                           std::to_string(hp.head_dim));
    }
    SQ_TRY(read_f32(f, a + "attention.layer_norm_rms_epsilon", hp.rms_eps));
    SQ_TRY(read_f32(f, a + "rope.freq_base", hp.rope_freq_base));
    if (!(hp.rms_eps >= 0.0f) || !(hp.rope_freq_base > 0.0f)) {
        return bad_hparams("layer_norm_rms_epsilon must be >= 0 and rope.freq_base > 0");
    }

    std::optional<std::string> scaling;
    SQ_TRY(f.get_string(a + "rope.scaling.type", scaling));
    float factor = 0.0f;
    SQ_TRY(read_f32(f, a + "rope.scaling.factor", factor));
    if (scaling && *scaling != "none" && *scaling != "linear") {
        return bad_hparams(a + "rope.scaling.type '" + *scaling + "' is not supported (none, linear)");
    }
    if (factor < 0.0f) return bad_hparams(a + "rope.scaling.factor must be >= 0");
    // As llama.cpp: a factor applies linearly unless the type says "none"; 0 means unscaled.
    if (factor > 0.0f && !(scaling && *scaling == "none")) hp.rope_freq_scale = 1.0f / factor;
    hp.rope_order = hp.arch == "qwen2" ? RopeOrder::NeoX : RopeOrder::Normal;

    if (const GgufValue* tokens = f.find("tokenizer.ggml.tokens"); tokens && tokens->type == GgufValueType::ARRAY) {
        if (tokens->array_count > UINT32_MAX) return bad_hparams("tokenizer.ggml.tokens is too long");
        hp.n_vocab = static_cast<uint32_t>(tokens->array_count);
    }
    SQ_TRY(read_u32(f, a + "vocab_size", false, hp.n_vocab));
    return Status::ok();
}

// Finds `name`, checks its shape is exactly `shape` (n dims; trailing dims 1) and that its type
// has CPU kernels, and fills `w`. `optional` tensors leave w.data null when absent.
static Status bind(const GgufFile& f, const std::string& name, std::initializer_list<uint64_t> shape, Weight& w,
                   bool optional = false) {
    const GgufTensor* t = f.find_tensor(name);
    if (!t) return optional ? Status::ok() : Status::error("MODEL_MISSING_TENSOR", "tensor " + name + " is missing");
    uint64_t want[4] = {1, 1, 1, 1};
    uint32_t n = 0;
    for (uint64_t d : shape) want[n++] = d;
    if (std::memcmp(want, t->ne, sizeof want) != 0) {
        return Status::error("MODEL_BAD_SHAPE", "tensor " + name + " has shape " + shape_str(t->ne, 4) +
                                                    ", expected " + shape_str(want, 4));
    }
    const TensorTypeTraits traits = tensor_type_traits(t->type);
    const char* type_name = traits.name ? traits.name : "unknown";
    const cpu::TypeKernels* k = traits.supported ? cpu::type_kernels(static_cast<TensorType>(t->type)) : nullptr;
    if (!k || !k->to_float || !k->vec_dot) {
        return Status::error("MODEL_UNSUPPORTED_TYPE", "tensor " + name + " has type " + type_name + " (" +
                                                           std::to_string(t->type) + "), which has no CPU kernels");
    }
    if (t->ne[0] % traits.block_size != 0) {
        return Status::error("MODEL_BAD_SHAPE", "tensor " + name + " row length " + std::to_string(t->ne[0]) +
                                                    " is not a multiple of the " + type_name + " block size " +
                                                    std::to_string(traits.block_size));
    }
    w.type = static_cast<TensorType>(t->type);
    std::memcpy(w.ne, t->ne, sizeof w.ne);
    w.row_bytes = tensor_row_bytes(traits, t->ne[0]);
    if (w.row_bytes * t->ne[1] * t->ne[2] * t->ne[3] != t->n_bytes) {
        return Status::error("MODEL_BAD_SHAPE", "tensor " + name + " holds " + std::to_string(t->n_bytes) +
                                                    " bytes, its shape needs " +
                                                    std::to_string(w.row_bytes * t->ne[1]));
    }
    w.data = t->data;
    return Status::ok();
}

void Model::make_f32(Weight& w) {
    if (!w.data || w.type == TensorType::F32) return;
    std::vector<float>& copy = f32_copies_.emplace_back(w.ne[0]);
    cpu::type_kernels(w.type)->to_float(w.data, copy.data(), static_cast<int64_t>(w.ne[0]));
    w.type = TensorType::F32;
    w.data = reinterpret_cast<const uint8_t*>(copy.data());
    w.row_bytes = sizeof(float) * w.ne[0];
}

Status Model::bind_weights() {
    const GgufFile& f = *gguf_;
    Hparams& hp = hparams_;
    const uint64_t n_embd = hp.n_embd, n_ff = hp.n_ff;
    const uint64_t q_dim = uint64_t{hp.n_heads} * hp.head_dim, kv_dim = uint64_t{hp.n_kv_heads} * hp.head_dim;

    const GgufTensor* embd = f.find_tensor("token_embd.weight");
    if (!embd) return Status::error("MODEL_MISSING_TENSOR", "tensor token_embd.weight is missing");
    if (hp.n_vocab == 0) {
        if (embd->ne[1] > UINT32_MAX) return bad_hparams("token_embd.weight has too many rows");
        hp.n_vocab = static_cast<uint32_t>(embd->ne[1]);
    }
    SQ_TRY(bind(f, "token_embd.weight", {n_embd, hp.n_vocab}, token_embd_));
    SQ_TRY(bind(f, "output_norm.weight", {n_embd}, output_norm_));
    SQ_TRY(bind(f, "output.weight", {n_embd, hp.n_vocab}, output_, true));
    hp.tied_output = output_.data == nullptr;
    if (hp.tied_output) output_ = token_embd_;

    layers_.resize(hp.n_layers);
    for (uint32_t il = 0; il < hp.n_layers; ++il) {
        LayerWeights& l = layers_[il];
        const std::string p = "blk." + std::to_string(il) + ".";
        SQ_TRY(bind(f, p + "attn_norm.weight", {n_embd}, l.attn_norm));
        SQ_TRY(bind(f, p + "attn_q.weight", {n_embd, q_dim}, l.wq));
        SQ_TRY(bind(f, p + "attn_k.weight", {n_embd, kv_dim}, l.wk));
        SQ_TRY(bind(f, p + "attn_v.weight", {n_embd, kv_dim}, l.wv));
        SQ_TRY(bind(f, p + "attn_output.weight", {q_dim, n_embd}, l.wo));
        const bool bias_required = hp.arch == "qwen2";
        SQ_TRY(bind(f, p + "attn_q.bias", {q_dim}, l.bq, !bias_required));
        SQ_TRY(bind(f, p + "attn_k.bias", {kv_dim}, l.bk, !bias_required));
        SQ_TRY(bind(f, p + "attn_v.bias", {kv_dim}, l.bv, !bias_required));
        SQ_TRY(bind(f, p + "ffn_norm.weight", {n_embd}, l.ffn_norm));
        SQ_TRY(bind(f, p + "ffn_gate.weight", {n_embd, n_ff}, l.w_gate));
        SQ_TRY(bind(f, p + "ffn_up.weight", {n_embd, n_ff}, l.w_up));
        SQ_TRY(bind(f, p + "ffn_down.weight", {n_ff, n_embd}, l.w_down));
        for (Weight* w : {&l.attn_norm, &l.ffn_norm, &l.bq, &l.bk, &l.bv}) make_f32(*w);
    }
    make_f32(output_norm_);

    Weight freqs;
    SQ_TRY(bind(f, "rope_freqs.weight", {hp.n_rot / 2}, freqs, true));
    if (freqs.data) {
        rope_freq_factors_.resize(hp.n_rot / 2);
        cpu::type_kernels(freqs.type)->to_float(freqs.data, rope_freq_factors_.data(), hp.n_rot / 2);
        for (float ff : rope_freq_factors_) {
            if (!(ff > 0.0f) || !std::isfinite(ff)) return bad_hparams("rope_freqs.weight holds a non-positive factor");
        }
    }
    return Status::ok();
}

} // namespace sq
