// The GPU entry points in a build without CUDA: every GPU request is answered with the reason.
#include "cuda-doc-attention.h"
#include "cuda-forward.h"

namespace sq {

namespace {

Status no_cuda() {
    return Status::error("CUDA_UNAVAILABLE", "this build of the engine has no CUDA backend (nvcc was not found)");
}

} // namespace

Status gpu_forward_create(const Model&, const ContextParams&, std::unique_ptr<GpuForward>&) { return no_cuda(); }

Status gpu_doc_attention_create(GpuForward&, const Hparams&, uint32_t, std::unique_ptr<GpuDocAttention>&) { return no_cuda(); }

} // namespace sq
