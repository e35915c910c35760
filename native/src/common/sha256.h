// SHA-256 (FIPS 180-4), for fingerprints that must match across runs and machines: the model and
// document hashes that tell a document pack it is stale.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sq {

class Sha256 {
public:
    Sha256();
    void update(const void* data, size_t size);
    // Lowercase hex of the digest; the object must not be updated afterwards.
    std::string hex();

private:
    void block(const uint8_t* p);
    uint32_t h_[8];
    uint8_t buf_[64];
    size_t buf_len_ = 0;
    uint64_t total_ = 0;
};

} // namespace sq
