// cpu::matmul against one vec_dot per (token, row): every output must have the bits of the one-row
// dot, whatever the row count (groups of 4 rows, remainders), the thread count and the number of
// products sharing a pass.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu/quants.h"
#include "check.h"
#include "common/half.h"

using namespace sq;

namespace {

size_t row_bytes(TensorType t, int64_t n) {
    return tensor_row_bytes(tensor_type_traits(static_cast<uint32_t>(t)), static_cast<uint64_t>(n));
}

// Random quantized rows: random bytes, then a small f16 scale (and min) at the start of every block.
std::vector<uint8_t> random_weights(TensorType t, int64_t rows, int64_t cols, std::mt19937& rng) {
    std::vector<uint8_t> data(row_bytes(t, rows * cols));
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
    for (auto& b : data) b = static_cast<uint8_t>(byte(rng));
    const size_t block_bytes = tensor_type_traits(static_cast<uint32_t>(t)).block_bytes;
    const int n_halves = t == TensorType::Q4_1 ? 2 : 1; // Q4_1: d and m; Q8_0: d
    for (size_t b = 0; b < data.size(); b += block_bytes) {
        for (int h = 0; h < n_halves; ++h) {
            const uint16_t v = f32_to_f16(scale(rng));
            std::memcpy(&data[b + 2 * static_cast<size_t>(h)], &v, 2);
        }
    }
    return data;
}

struct Product {
    TensorType type;
    int64_t rows;
    std::vector<uint8_t> w;
    std::vector<float> y; // [n_tokens][rows]
};

// y[t][r] = vec_dot(row r, x[t] in the vec_dot type).
std::vector<float> reference(const Product& p, const std::vector<float>& x, int64_t n_tokens, int64_t cols) {
    const cpu::TypeKernels* k = cpu::type_kernels(p.type);
    const cpu::TypeKernels* ka = cpu::type_kernels(k->vec_dot_type);
    std::vector<uint8_t> a(row_bytes(k->vec_dot_type, cols));
    std::vector<float> y(static_cast<size_t>(n_tokens * p.rows));
    for (int64_t t = 0; t < n_tokens; ++t) {
        ka->from_float(x.data() + t * cols, a.data(), cols);
        for (int64_t r = 0; r < p.rows; ++r) k->vec_dot(cols, &y[t * p.rows + r], p.w.data() + row_bytes(p.type, cols) * r, a.data());
    }
    return y;
}

int differing(const std::vector<float>& a, const std::vector<float>& b) {
    int n = 0;
    for (size_t i = 0; i < a.size(); ++i) n += std::memcmp(&a[i], &b[i], sizeof(float)) != 0;
    return n;
}

} // namespace

TEST_CASE("matmul gives vec_dot's bits for any row count, thread count and batch") {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    const int64_t cols = 576;
    for (uint32_t threads : {1u, 2u, 3u}) {
        cpu::ThreadPool pool(threads);
        cpu::MatmulScratch scratch;
        for (int64_t n_tokens : {int64_t{1}, int64_t{5}}) {
            std::vector<float> x(static_cast<size_t>(n_tokens * cols));
            for (float& v : x) v = normal(rng);
            // a pass of three products (as Q, K and V) with row counts that leave every remainder of 4
            std::vector<Product> ps;
            for (auto [type, rows] : {std::pair{TensorType::Q4_1, int64_t{13}}, std::pair{TensorType::Q8_0, int64_t{1}},
                                      std::pair{TensorType::Q4_1, int64_t{1002}}}) {
                ps.push_back({type, rows, random_weights(type, rows, cols, rng), std::vector<float>(size_t(n_tokens * rows))});
            }
            std::vector<cpu::MatmulOut> outs;
            for (Product& p : ps) {
                outs.push_back({{p.type, p.w.data(), row_bytes(p.type, cols), p.rows, cols}, p.y.data(), p.rows});
            }
            cpu::matmul(pool, outs.data(), outs.size(), x.data(), n_tokens, cols, scratch);
            for (const Product& p : ps) {
                const int bad = differing(p.y, reference(p, x, n_tokens, cols));
                if (bad) std::printf("  %u threads, %lld tokens, %lld rows: %d outputs differ\n", threads,
                                     static_cast<long long>(n_tokens), static_cast<long long>(p.rows), bad);
                CHECK_EQ(bad, 0);
            }
        }
    }
}

int main() { return run_all_tests(); }
