// Read-only mapping of a whole file: the reader's only platform-specific code (POSIX mmap in
// gguf-map.cpp; a Windows port would add CreateFileMapping/MapViewOfFile beside it).
#pragma once

#include <cstdint>
#include <string>

#include "../common/status.h"

namespace sq::gguf_detail {

// Maps `path` read-only; an empty file maps to {nullptr, 0}. Errors are GGUF_OPEN naming the path.
// If another process truncates the file while it is mapped, reads past the new end fault: no
// reader can check for that, so model files should be replaced, never rewritten in place.
Status map_file(const std::string& path, const uint8_t*& data, uint64_t& size);
void unmap_file(const uint8_t* data, uint64_t size);

} // namespace sq::gguf_detail
