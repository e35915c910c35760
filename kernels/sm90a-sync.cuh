// Hopper (sm_90a) synchronization for warp-specialized kernels: shared-memory mbarriers (a stage's
// "landed" and "free again" signals between a producer warpgroup and its consumers), named barriers
// (consumer warpgroups taking turns on the tensor cores), setmaxnreg (moving registers from the
// producer to the consumers), and cp.async with zero fill. Only for code compiled for sm_90a; see
// attention-prefill-sm90a.cu.
#pragma once

#include <cstdint>

namespace sq::cuda {

__device__ __forceinline__ uint32_t shared_address(const void* p) { return static_cast<uint32_t>(__cvta_generic_to_shared(p)); }

__device__ __forceinline__ void mbarrier_init(uint64_t* bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(shared_address(bar)), "r"(count) : "memory");
}

// Release: what this thread wrote before is visible to whoever waits on the phase this completes.
__device__ __forceinline__ void mbarrier_arrive(uint64_t* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(shared_address(bar)) : "memory");
}

// Waits until the phase of parity `parity` has completed (phases alternate 0, 1, 0, ... from init).
__device__ __forceinline__ void mbarrier_wait(uint64_t* bar, uint32_t parity) {
    asm volatile(
        "{\n.reg .pred done;\n"
        "WAIT:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WAIT;\n"
        "}\n" ::"r"(shared_address(bar)),
        "r"(parity)
        : "memory");
}

// Named barriers 1..15 (0 is __syncthreads): `threads` counts the syncing and the arriving threads.
__device__ __forceinline__ void named_barrier_sync(int id, int threads) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory"); }
__device__ __forceinline__ void named_barrier_arrive(int id, int threads) { asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(threads) : "memory"); }

// Per-thread register counts of the calling warpgroup (multiples of 8, 24..256); the kernel needs a
// register cap at entry (__launch_bounds__(threads, 1)).
template <int N>
__device__ __forceinline__ void setmaxnreg_inc() { asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(N)); }
template <int N>
__device__ __forceinline__ void setmaxnreg_dec() { asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(N)); }

// 16 bytes from gmem, or zeros when !valid (gmem must still be a valid address; nothing is read).
__device__ __forceinline__ void cp_async16_zfill(void* smem, const void* gmem, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(shared_address(smem)), "l"(gmem), "r"(valid ? 16 : 0) : "memory");
}

} // namespace sq::cuda
