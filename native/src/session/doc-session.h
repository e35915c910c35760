// A conversation about documents (DESIGN.md §3): a Session whose KV cache starts with the fixed
// context of a document pack and whose attention over that context is squeezed.
//
//   ingest  dense prefill of the fixed context, capturing the observation window's queries; cluster
//           its keys; calibrate thresholds. The caller writes the pack (pack_write).
//   attach  makes a pack (fresh or loaded) the fixed context: its K/V go back into the cache, so
//           no document token is evaluated again.
//   answer  evaluates only the dynamic tokens (question, earlier turns) and generates, every layer's
//           attention going through squeeze_attend_layer in the chosen mode.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../squeeze/calibrate.h"
#include "../squeeze/cluster-index.h"
#include "../squeeze/layer-attention.h"
#include "../squeeze/pack.h"
#include "../squeeze/stats.h"
#include "session.h"

namespace sq {

enum class SqueezeKind {
    Dense,       // the engine's own dense attention over the restored cache: exactly plain generation
    AllClusters, // the squeezed path with every cluster selected (dense to float rounding; has stats, citations)
    Threshold, // calibrated sparsity
    Budget,    // fixed key budget per KV head
    Mass,      // adaptive: clusters until the estimated attention mass reaches mass_target
};
const char* squeeze_kind_name(SqueezeKind k);

struct SqueezeMode {
    SqueezeKind kind = SqueezeKind::Threshold;
    float sparsity = 0.9f;     // Threshold: the pack's calibrated target nearest to this is used
    bool per_layer = false;    // Threshold: per-layer thresholds instead of the global ones
    uint32_t budget_keys = 0;  // Budget
    float mass_target = 0.95f; // Mass
    bool token_mass = true;    // collect per-token attention mass of the fixed context (citations)
    bool recall = false;       // evaluation: attention-mass recall per layer in the stats (costs a dense pass)
    bool per_token = false;    // the question's prefill selects per token, as decode does, instead of averaging
    // Threshold: the question's prefill reranks a shortlist of clusters by exact attention
    // (SelectParams::rerank_shortlist). CPU only: on the GPU the prefill keeps the estimate's choice.
    bool prefill_rerank = true;
    squeeze::Oracle oracle = squeeze::Oracle::None; // evaluation: oracle selections of the lookup's sizes (recall.h)
};

struct IngestParams {
    squeeze::ClusterParams cluster;
    squeeze::CalibrationParams calibration;
};

struct IngestTimings {
    double prefill_ms = 0;
    double cluster_ms = 0;
    double calibrate_ms = 0;
};

// phase: "prefill" | "cluster" | "calibrate"; done/total in the phase's units (tokens, heads, 1).
using IngestProgress = std::function<void(const char* phase, uint32_t done, uint32_t total)>;

struct AnswerResult {
    GenerateResult generation;
    SqueezeKind kind = SqueezeKind::Threshold;
    float target = 0;                 // Threshold: the calibrated sparsity used
    squeeze::SqueezeStats stats;      // no lookups for Dense
    std::vector<float> token_mass;    // [n_fixed] attention probability summed over layers, heads, tokens (empty unless asked)
};

struct EvalResult {
    std::vector<float> logits;    // [n_continuation][n_vocab]: row i is the distribution that predicts continuation[i]
    float target = 0;             // Threshold: the calibrated sparsity used
    squeeze::SqueezeStats stats;  // no lookups for Dense; recall per layer when the mode asks for it
};

class GpuDocAttention;

class DocSession {
public:
    static Status create(const Model& model, const ContextParams& params, std::unique_ptr<DocSession>& out);
    ~DocSession();

    // Fills out.index, out.thresholds and out.meta (model hash, settings, fixed tokens); the caller
    // adds the document hash and source map, writes the pack and attaches it.
    // Errors: those of Context::eval, cluster_index_build, calibrate; INGEST_EMPTY; SQUEEZE_CANCELLED.
    Status ingest(const std::vector<int32_t>& fixed, const IngestParams& params, const IngestProgress& progress,
                  const std::atomic<bool>* cancel, squeeze::Pack& out, IngestTimings& timings);

    // Errors: PACK_MISMATCH (another model's shape, or no room left in the context).
    Status attach(std::shared_ptr<const squeeze::Pack> pack);

    // Generates after the attached pack's fixed context followed by `dynamic` (reusing whatever of
    // it the cache already holds). Errors: PACK_NONE, SQUEEZE_BAD_MODE, those of Session::generate.
    Status answer(const std::vector<int32_t>& dynamic, const SqueezeMode& mode, const GenerateParams& params,
                  const TokenCallback& on_token, const std::atomic<bool>* cancel, AnswerResult& out);

    // Teacher-forced scoring (accuracy evaluation): after the attached pack's fixed context, `dynamic`
    // is evaluated as one batch (as answer() prefills a question), then continuation[0 .. n-2] one
    // token at a time (as answer() decodes), all in `mode`; so greedy answer() tokens are the argmax
    // of these rows. The cache keeps only the fixed context afterwards.
    // Errors: PACK_NONE, SQUEEZE_BAD_MODE, GENERATE_EMPTY_PROMPT, EVAL_EMPTY, those of Context::eval.
    Status eval_logits(const std::vector<int32_t>& dynamic, const std::vector<int32_t>& continuation, const SqueezeMode& mode,
                       EvalResult& out);

    const squeeze::Pack* pack() const { return pack_.get(); }
    Session& session() { return *session_; }

private:
    DocSession() = default;
    class Hook;
    Status restore_fixed();
    // The fixed context into the GPU cache in slot order, the tree beside it (cuda-doc-attention.h).
    Status restore_fixed_gpu();
    void stop_attention();
    // The lookup's parameters for a mode; target: index of the calibrated sparsity (Threshold).
    Status select_params(const SqueezeMode& mode, squeeze::SelectParams& select, uint32_t& target) const;
    // Points the hook at the pack in this mode (Dense: the engine's own attention); stats reset.
    void begin(const SqueezeMode& mode, const squeeze::SelectParams& select, uint32_t target, float* token_mass);

    std::unique_ptr<Session> session_;
    std::unique_ptr<Hook> hook_;
    // The squeezed path inside the GPU forward pass when the context runs there; declared after
    // session_ so that it is released first (it unhooks itself from the forward pass).
    std::unique_ptr<GpuDocAttention> gpu_attention_;
    std::shared_ptr<const squeeze::Pack> pack_;
    // Cached dynamic tokens were computed in this mode; another mode evaluates them again.
    SqueezeMode last_mode_;
};

} // namespace sq
