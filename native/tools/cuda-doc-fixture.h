// Document sessions on the CPU and on the GPU over one model and one pack, for cuda-doc-test and
// cuda-doc-bench: the model (a GGUF path, or a generated one of a named shape), deterministic
// document tokens, and ingest into an in-memory pack with its phases timed.
#pragma once

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cuda-forward-model.h"
#include "model/model.h"
#include "session/doc-session.h"
#include "squeeze/pack.h"

namespace sq::doc_fixture {

inline double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// "smollm2-shape" (Q4_1, tied Q8_0 embedding), "llama-1b-shape" (Llama-3.2-1B: 16 layers, 32/8
// heads of 64, Q8_0), or a path to a GGUF file. Null with a message on failure.
inline std::unique_ptr<Model> load_model(const std::string& spec, uint32_t seed = 700) {
    std::string path = spec;
    bool generated = false;
    if (spec == "smollm2-shape" || spec == "llama-1b-shape") {
        const bool llama1b = spec == "llama-1b-shape";
        const forward_model::Shape s = llama1b ? forward_model::llama1b_shape() : forward_model::smollm2_shape();
        path = forward_model::write_model(s, llama1b ? TensorType::Q8_0 : TensorType::Q4_1, seed);
        generated = true;
    }
    std::unique_ptr<Model> m;
    const Status st = path.empty() ? Status::error("WRITE", "cannot write a generated model") : Model::load(path, m);
    if (generated && !path.empty()) std::remove(path.c_str()); // the mapping stays valid after unlink
    if (!st) std::fprintf(stderr, "model %s: %s: %s\n", spec.c_str(), st.code.c_str(), st.message.c_str());
    return st ? std::move(m) : nullptr;
}

// Token ids of ordinary vocabulary pieces (above the special tokens), deterministic.
inline std::vector<int32_t> pseudo_text(uint32_t n, uint32_t seed, uint32_t n_vocab) {
    std::vector<int32_t> out(n);
    uint32_t x = seed;
    const uint32_t span = std::min<uint32_t>(8000, n_vocab - 300);
    for (auto& t : out) {
        x = x * 1664525u + 1013904223u;
        t = 300 + static_cast<int32_t>((x >> 8) % span);
    }
    return out;
}

inline Status make_session(const Model& m, Backend backend, uint32_t n_ctx, uint32_t n_threads, std::unique_ptr<DocSession>& out) {
    ContextParams p;
    p.n_ctx = n_ctx;
    p.n_threads = n_threads;
    p.backend = backend;
    return DocSession::create(m, p, out);
}

struct Ingested {
    std::shared_ptr<squeeze::Pack> pack;
    IngestTimings timings;
    double attach_ms = 0;
};

// Ingests `fixed` with the default settings (5% / 1% clusters, window 100) and attaches the pack.
inline Status ingest(DocSession& ds, const std::vector<int32_t>& fixed, Ingested& out) {
    out.pack = std::make_shared<squeeze::Pack>();
    SQ_TRY(ds.ingest(fixed, IngestParams{}, nullptr, nullptr, *out.pack, out.timings));
    const double t0 = now_ms();
    SQ_TRY(ds.attach(out.pack));
    out.attach_ms = now_ms() - t0;
    return Status::ok();
}

} // namespace sq::doc_fixture
