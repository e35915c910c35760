#include "gguf-map.h"

#include <cerrno>
#include <cstring>
#include <limits>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sq::gguf_detail {

Status map_file(const std::string& path, const uint8_t*& data, uint64_t& size) {
    data = nullptr;
    size = 0;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::error("GGUF_OPEN", "cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Status::error("GGUF_OPEN", "cannot open '" + path + "': not a regular file");
    }
    if (static_cast<uint64_t>(st.st_size) > std::numeric_limits<size_t>::max()) {
        ::close(fd);
        return Status::error("GGUF_OPEN", "cannot map '" + path + "': " + std::to_string(st.st_size) +
                                          " bytes do not fit in the address space");
    }
    if (st.st_size > 0) {
        void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            return Status::error("GGUF_OPEN", "cannot map '" + path + "': " + std::strerror(err));
        }
        data = static_cast<const uint8_t*>(p);
        size = static_cast<uint64_t>(st.st_size);
    }
    ::close(fd); // the mapping keeps the file alive
    return Status::ok();
}

void unmap_file(const uint8_t* data, uint64_t size) {
    ::munmap(const_cast<uint8_t*>(data), static_cast<size_t>(size));
}

} // namespace sq::gguf_detail
