// What the machine can give us, checked before large allocations so that a model or cache that
// cannot fit fails with a coded error instead of being killed by the OS.
#pragma once

#include <cstdint>

namespace sq {

// MemAvailable on Linux (reclaimable included); 0 when unknown. SQUEEZE_MEMORY_LIMIT (bytes)
// overrides it, so tests can simulate a small machine.
uint64_t available_memory_bytes();

} // namespace sq
