// Errors as values inside the engine. A Status carries a stable code (what callers branch on,
// e.g. "GGUF_TRUNCATED") and a message naming the key/tensor and the bad value (what users read).
#pragma once

#include <string>
#include <utility>

namespace sq {

struct Status {
    std::string code;     // empty when ok
    std::string message;

    static Status ok() { return {}; }
    static Status error(std::string code, std::string message) {
        return {std::move(code), std::move(message)};
    }
    bool is_ok() const { return code.empty(); }
    explicit operator bool() const { return is_ok(); }
};

// Propagate a failed Status to the caller.
#define SQ_TRY(expr)                          \
    do {                                      \
        ::sq::Status sq_try_status_ = (expr); \
        if (!sq_try_status_) return sq_try_status_; \
    } while (0)

} // namespace sq
