// gpu_forward_create in a build without CUDA: every GPU request is answered with the reason.
#include "cuda-forward.h"

namespace sq {

Status gpu_forward_create(const Model&, const ContextParams&, std::unique_ptr<GpuForward>&) {
    return Status::error("CUDA_UNAVAILABLE", "this build of the engine has no CUDA backend (nvcc was not found)");
}

} // namespace sq
