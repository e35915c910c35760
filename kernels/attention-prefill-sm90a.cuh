// attention_prefill on Hopper's warpgroup MMA (wgmma, sm_90a): the same op as attention-prefill.cuh
// (list part + causal dense part, one online softmax, key slices joined by lse_merge), for head_dim
// 128. Measured on an H200 (bench/results/gpu-prefill-2026-11-26-h200-3666691.md; bf16, H 32, 1024-token
// question): 391 TFLOP/s dense at 256K-512K keys (cuDNN SDPA 570-670, flash 340, our mma.sync kernel
// 285-290); 64-key tiles 360, and with one warpgroup a block 325-340. The first version (64-key tiles,
// Q and K from shared memory) ran 345 with S, softmax and P V in turn and 310 with FlashAttention-3's
// overlap of the next tile's S and softmax with P V (more registers, four stages; dropped;
// gpu-prefill-2026-11-26-h200-e587d0d.md). FlashAttention-3's schedule on these tiles (a producer warpgroup
// filling mbarrier-signalled K and V rings by cp.async, setmaxnreg, two consumer warpgroups taking turns by
// named barriers) ran 377 TFLOP/s against this kernel's 390 dense on an H100 and 1.5x slower squeezed (its
// producer read gathered row indices right before copying them); dropped (gpu-prefill-2026-11-26-h100-fdefa2d.md,
// the code at fdefa2d).
#pragma once

#include <cuda_runtime.h>

#include "attention-prefill.cuh"
#include "attention-tile.cuh"

namespace sq::cuda {

// Query rows a block of p's variant (64 a warpgroup).
int attention_prefill_sm90a_rows(const AttentionPrefillParams& p);

// Blocks of the kernel an SM holds (sets its shared-memory limit first).
cudaError_t attention_prefill_sm90a_occupancy(const AttentionPrefillParams& p, int* blocks_per_sm);

// One launch over (query tiles, heads, splits) into dst (one slice: the final output).
cudaError_t attention_prefill_sm90a_launch(const AttentionPrefillParams& p, int splits, const SplitOutput& dst, cudaStream_t stream);

} // namespace sq::cuda
