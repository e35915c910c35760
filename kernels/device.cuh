// Is there a usable GPU? Asked once at run time; with no driver the answer is "no" with a reason.
#pragma once

namespace sq::cuda {

struct DeviceProbe {
    int n_devices;        // 0 when no GPU or no driver
    char name[256];       // first device's name, or why there is none
    int compute_major;
    int compute_minor;
    unsigned long long total_memory;
};

DeviceProbe probe_devices();

} // namespace sq::cuda
