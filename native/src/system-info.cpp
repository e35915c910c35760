#include "squeeze.h"

#include <thread>

#include "backend/cpu/quants.h"
#include "common/memory.h"
#ifdef SQUEEZE_WITH_CUDA
#include "device.cuh"
#endif

namespace sq {

SystemInfo system_info() {
    SystemInfo info{cpu::simd_level(), std::thread::hardware_concurrency(), available_memory_bytes(), false, 0, ""};
#ifdef SQUEEZE_WITH_CUDA
    info.cuda_compiled = true;
    const cuda::DeviceProbe probe = cuda::probe_devices();
    info.cuda_devices = probe.n_devices;
    info.cuda_device = probe.name;
#else
    info.cuda_device = "built without CUDA";
#endif
    return info;
}

} // namespace sq
