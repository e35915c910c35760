#include "device.cuh"

#include <cstdio>
#include <cuda_runtime.h>

namespace sq::cuda {

DeviceProbe probe_devices() {
    DeviceProbe probe{};
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        std::snprintf(probe.name, sizeof probe.name, "%s",
                      err != cudaSuccess ? cudaGetErrorString(err) : "no CUDA device");
        return probe;
    }
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        std::snprintf(probe.name, sizeof probe.name, "cudaGetDeviceProperties failed");
        return probe;
    }
    probe.n_devices = count;
    std::snprintf(probe.name, sizeof probe.name, "%s", prop.name);
    probe.compute_major = prop.major;
    probe.compute_minor = prop.minor;
    probe.total_memory = prop.totalGlobalMem;
    return probe;
}

} // namespace sq::cuda
