// The document pack on disk (DESIGN.md §3, offline step 5): everything needed to answer questions
// about a document without prefilling it again.
//
// Layout (little-endian):
//   "SQZPACK\0" u32 version
//   u32 len + model_hash | u32 len + doc_hash | u32 len + settings      (ASCII)
//   u32 n_fixed + fixed token ids [n_fixed] i32
//   u32 len + source_map  (the caller's token -> source map; opaque here, JSON from main/docs)
//   u64 len + index section (index-io.h: the clustered K/V of the fixed context, in cluster
//                            order with token_of_slot, and the calibrated thresholds)
//   u64 checksum of every byte before it
// The index section holds every fixed-context key and value exactly as the f16 cache held them,
// so it doubles as the saved KV cache (pack_restore_kv puts them back in token order).
//
// A pack is untrusted on load: the header is compared with what the caller expects first (a stale
// or foreign pack is rejected before its bulk is read), then the checksum, then the index section
// is validated field by field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "../common/status.h"
#include "../model/model.h"
#include "calibrate.h"
#include "cluster-index.h"

namespace sq::squeeze {

constexpr uint32_t kPackFormatVersion = 1;

struct PackMeta {
    std::string model_hash;          // model_fingerprint of the model that produced the K/V
    std::string doc_hash;            // the caller's hash of the documents and their rendering
    std::string settings;            // pack_settings of the clustering and calibration
    std::vector<int32_t> fixed_tokens; // [n_fixed] the fixed context (system prompt + documents)
    std::string source_map;
};

struct Pack {
    PackMeta meta;
    ClusterIndex index;
    Thresholds thresholds;
};

// SHA-256 over what decides the K/V a model produces: hyperparameters, the tensor table (names,
// types, shapes, offsets), the first bytes of every tensor's data and the file size. Reads a few
// KiB, not the weights: a different quantisation, fine-tune or file is a different hash.
std::string model_fingerprint(const Model& model);

// The canonical text of the settings a pack was built with; a pack built with others is stale.
std::string pack_settings(const ClusterParams& cluster, const CalibrationParams& calibration);

// Writes to path + ".tmp" and renames it over path, so a reader never sees a half-written pack.
// Errors: PACK_WRITE (naming the path and the system's reason).
Status pack_write(const std::string& path, const Pack& pack, uint64_t* bytes_written = nullptr);

// Reads the pack at path if its header matches `expect` (model hash, doc hash, settings, fixed tokens).
// Errors: PACK_MISSING (no file), PACK_STALE (a header field differs: says which), PACK_TRUNCATED,
// PACK_BAD (magic, version, checksum, or the index section's SQUEEZE_PACK_* reasons), PACK_READ.
Status pack_read(const std::string& path, const PackMeta& expect, Pack& out);

// Copies the fixed context's keys and values from the index back into the cache, in token order,
// and marks positions [0, n_fixed) filled. Errors: PACK_MISMATCH (the context's shape differs from
// the index's, or the fixed context does not fit).
Status pack_restore_kv(const Pack& pack, Context& ctx);

} // namespace sq::squeeze
