// Minimal test harness for the native ctest drivers (no dependency, runs on the GPU machine too).
//   TEST_CASE(name) { CHECK(cond); CHECK_NEAR(a, b, tol); CHECK_EQ(a, b); }
//   int main() { return run_all_tests(); }
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace check {

struct TestCase {
    const char* name;
    std::function<void()> fn;
};

inline std::vector<TestCase>& registry() {
    static std::vector<TestCase> tests;
    return tests;
}
inline int& failures() {
    static int n = 0;
    return n;
}

struct Register {
    Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
    ++failures();
    std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
}

} // namespace check

#define CHECK_CAT2(a, b) a##b
#define CHECK_CAT(a, b) CHECK_CAT2(a, b)
#define TEST_CASE(name)                                                                   \
    static void CHECK_CAT(test_fn_, __LINE__)();                                          \
    static check::Register CHECK_CAT(test_reg_, __LINE__)(name, CHECK_CAT(test_fn_, __LINE__)); \
    static void CHECK_CAT(test_fn_, __LINE__)()

#define CHECK(cond) \
    do { if (!(cond)) check::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); } while (0)
#define CHECK_EQ(a, b)                                                                          \
    do { auto va_ = (a); auto vb_ = (b); if (!(va_ == vb_))                                     \
        check::fail(__FILE__, __LINE__, std::string(#a " == " #b " (") + std::to_string(va_) + \
                    " vs " + std::to_string(vb_) + ")"); } while (0)
#define CHECK_NEAR(a, b, tol)                                                                   \
    do { double va_ = (a), vb_ = (b); if (!(std::fabs(va_ - vb_) <= (tol)))                     \
        check::fail(__FILE__, __LINE__, std::string(#a " ~ " #b " (") + std::to_string(va_) +  \
                    " vs " + std::to_string(vb_) + ")"); } while (0)

inline int run_all_tests() {
    int failed_cases = 0;
    for (auto& t : check::registry()) {
        const int before = check::failures();
        t.fn();
        const bool ok = check::failures() == before;
        failed_cases += ok ? 0 : 1;
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", t.name);
    }
    std::printf("%zu passed, %d failed\n", check::registry().size() - failed_cases, failed_cases);
    return failed_cases == 0 ? 0 : 1;
}
