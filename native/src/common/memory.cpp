#include "memory.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace sq {

uint64_t available_memory_bytes() {
    if (const char* limit = std::getenv("SQUEEZE_MEMORY_LIMIT")) {
        return std::strtoull(limit, nullptr, 10);
    }
    FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    uint64_t kib = 0;
    while (std::fgets(line, sizeof line, f)) {
        if (std::sscanf(line, "MemAvailable: %llu kB", reinterpret_cast<unsigned long long*>(&kib)) == 1) break;
    }
    std::fclose(f);
    return kib * 1024;
}

} // namespace sq
