// Programmatic dependent launch (sm_90+) for the decode chain lookup -> attention -> merge: a kernel
// launched with launch_dependent may start while the kernel before it in the stream is still
// running, and waits for it (its grid done, its writes visible) in grid_dependency_wait, so the
// launch and the block scheduling of each step overlap the previous step's tail instead of
// following it. Inside a CUDA graph the dependency becomes a programmatic edge.
//
// Rules that keep it correct whatever runs before:
//   - a kernel launched with launch_dependent calls grid_dependency_wait before its first read of
//     anything an earlier kernel wrote;
//   - allow_dependents only lets the next kernel be scheduled early (it still waits for this
//     grid's end), so a kernel may call it first thing.
// Before sm_90 both are no-ops and launch_dependent launches plainly.
#pragma once

#include <cuda_runtime.h>

namespace sq::cuda {

__device__ __forceinline__ void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// kernel<<<grid, block, smem, stream>>>(args...), allowed to start before the previous kernel of
// the stream ends on devices that support it (compute capability 9.0+).
template <typename... Params, typename... Args>
cudaError_t launch_dependent(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream, Args&&... args) {
    int dev = 0, major = 0;
    cudaError_t err = cudaGetDevice(&dev);
    if (err == cudaSuccess) err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    if (err != cudaSuccess) return err;
    cudaLaunchAttribute attr{};
    attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = smem;
    config.stream = stream;
    config.attrs = major >= 9 ? &attr : nullptr;
    config.numAttrs = major >= 9 ? 1 : 0;
    return cudaLaunchKernelEx(&config, kernel, static_cast<Args&&>(args)...);
}

} // namespace sq::cuda
