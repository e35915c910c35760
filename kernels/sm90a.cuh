// Whether the sm_90a kernels (*-sm90a.cu, built by CMake's SQUEEZE_SM90A into SQUEEZE_WITH_SM90A builds)
// can run on the current device: their only target is compute capability 9.0 (H100, H200).
#pragma once

namespace sq::cuda {

bool sm90a_device();

} // namespace sq::cuda
