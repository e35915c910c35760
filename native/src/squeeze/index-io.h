// Byte format of a cluster index and its thresholds: the squeeze section of a document pack. The
// pack writer (hashes, token -> source map, atomic file write) embeds this section; loading it back
// is a validated copy, far cheaper than clustering again.
//
// Layout (little-endian; all counts u32, floats IEEE f32, keys/values IEEE f16):
//   "SQZI" version n_layers n_kv_heads head_dim n_tokens n_levels
//   per (layer, KV head):
//     n_always
//     per level, coarsest first: n_clusters, centroids [n_clusters][head_dim] f32,
//                                counts [n_clusters], first [n_clusters + 1]
//     token_of_slot [n_tokens], keys [n_tokens][head_dim] f16, values [n_tokens][head_dim] f16
//   n_targets, targets [n_targets] f32, global [n_targets][n_levels] f32,
//   per_layer [n_targets][n_layers][n_levels] f32,
//   prefill_global [n_targets][n_levels] f32, prefill_per_layer [n_targets][n_layers][n_levels] f32
// The section is untrusted on load: every count is checked against the bytes left before anything
// is allocated, and the tree is checked (ranges contiguous and covering, counts adding up, slots a
// permutation, floats finite) so a damaged pack is an error, never a crash or a wrong answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "../common/status.h"
#include "calibrate.h"
#include "cluster-index.h"

namespace sq::squeeze {

constexpr uint32_t kIndexFormatVersion = 2; // 2: the prefill ladder

// Streams the section to sink (which returns false on a write error: SQUEEZE_PACK_WRITE).
Status index_write(const ClusterIndex& index, const Thresholds& thresholds,
                   const std::function<bool(const void* data, size_t size)>& sink);

// Errors: SQUEEZE_PACK_TRUNCATED, SQUEEZE_PACK_VERSION, SQUEEZE_PACK_BAD (naming the field and value).
Status index_read(const uint8_t* data, size_t size, ClusterIndex& index, Thresholds& thresholds);

} // namespace sq::squeeze
