// The engine's public surface: everything the Node binding and the C++ tools use.
// The core is plain C++17 with no Node and no CUDA in its headers, so the GPU machine (no Node)
// builds and drives it directly from native/tools.
#pragma once

#include <string>

#include "common/status.h"
#include "gguf/gguf.h"
#include "model/model.h"
#include "session/doc-session.h"
#include "session/session.h"
#include "squeeze/pack.h"

namespace sq {

struct SystemInfo {
    const char* simd;          // SIMD path the CPU kernels use: "avx512" | "avx2" | "scalar"
    uint32_t hardware_threads;
    uint64_t available_memory; // bytes, 0 when unknown
    bool cuda_compiled;        // kernels/ were built into this engine
    int cuda_devices;          // usable GPUs at run time (0 without a driver)
    std::string cuda_device;   // first GPU's name, or why none is usable
};

SystemInfo system_info();

} // namespace sq
