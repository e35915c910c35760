// The forward pass on a CUDA GPU, behind the interface a Context dispatches to (model/context.cpp):
// the model's weights live on the device in their GGUF types, the KV cache is F16 on the device,
// and each op is a kernel from kernels/ that mirrors the CPU op's rounding, so logits agree with
// the CPU path to float rounding of the summation order.
//
// Built only with SQUEEZE_WITH_CUDA (cuda-forward.cpp); without it gpu_forward_create says so
// (cuda-forward-none.cpp) and the engine stays on the CPU.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "../../common/status.h"

namespace sq {

class Model;
struct ContextParams;

class GpuForward {
public:
    virtual ~GpuForward() = default;
    // Runs tokens [n] at positions pos0 .. pos0 + n - 1 and stores their K/V. logits receives
    // [n][n_vocab] when all_logits, else [n_vocab] for the last token; null skips the head.
    virtual Status forward(const int32_t* tokens, uint32_t n, uint32_t pos0, float* logits, bool all_logits) = 0;
    // The GPU's name, as the driver reports it.
    virtual const std::string& device_name() const = 0;
};

// Errors: CUDA_UNAVAILABLE (no CUDA build, no driver or no device: the message says which),
// CUDA_UNSUPPORTED (a tensor type, KV type or head size the GPU path lacks: named),
// CUDA_OUT_OF_MEMORY (says how much was asked), CUDA_ERROR.
Status gpu_forward_create(const Model& model, const ContextParams& params, std::unique_ptr<GpuForward>& out);

} // namespace sq
