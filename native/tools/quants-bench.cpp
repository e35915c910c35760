// quants-bench: single-thread vec_dot throughput per tensor type (GB/s of weights read) over a
// ROWS x COLS weight matrix: one quantized activation row dotted with every weight row, which is
// what a decode step's matrix-vector product does. Compares our scalar and AVX2 kernels and,
// with --ggml, llama.cpp's own ggml-cpu kernels loaded from its shared libraries, checking that
// ours give the same activation bytes, the same dequantized floats and the same dot products.
//
//   quants-bench [--rows 4096] [--cols 4096] [--types Q8_0,Q4_1] [--min-seconds 0.5] [--json FILE]
//                [--ggml node_modules/@node-llama-cpp/linux-x64/bins/linux-x64 [--ggml-variant haswell]
//                 [--level avx2]]
// --ggml-variant names the libggml-cpu-<variant>.so to load (haswell = AVX2, icelake = AVX-512, ...);
// --level is our SIMD level checked against it (default: our best level).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#if defined(__linux__)
#include <dlfcn.h>
#endif

#include "backend/cpu/quants-levels.h"
#include "common/half.h"

using namespace sq;
using namespace sq::cpu;

namespace {

constexpr TensorType kTypes[] = {TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0,
                                 TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0, TensorType::Q5_1,
                                 TensorType::Q4_K, TensorType::Q5_K, TensorType::Q6_K};

struct Options {
    int64_t rows = 4096;
    int64_t cols = 4096;
    double min_seconds = 0.5;
    const char* json_path = nullptr;
    const char* ggml_dir = nullptr;
    const char* ggml_variant = "haswell";
    const char* level = nullptr;
    std::string types; // comma-separated names; empty = all types whose block size divides cols
};

// ---- llama.cpp's kernels, loaded at run time (ggml.h / ggml-cpu.h signatures) ------------------

using GgmlToFloat = void (*)(const void* x, float* y, int64_t k);
using GgmlFromFloat = void (*)(const float* x, void* y, int64_t k);
using GgmlVecDot = void (*)(int n, float* s, size_t bs, const void* x, size_t bx, const void* y, size_t by, int nrc);
struct GgmlTypeTraits {
    const char* type_name;
    int64_t blck_size;
    int64_t blck_size_interleave;
    size_t type_size;
    bool is_quantized;
    GgmlToFloat to_float;
    GgmlFromFloat from_float_ref;
};
struct GgmlTypeTraitsCpu {
    GgmlFromFloat from_float;
    GgmlVecDot vec_dot;
    uint32_t vec_dot_type;
    int64_t nrows;
};

struct GgmlInitParams {
    size_t mem_size;
    void* mem_buffer;
    bool no_alloc;
};

// The public graph API, to run llama.cpp's whole mul_mat (its batched tinyBLAS path included).
struct Ggml {
    const GgmlTypeTraits* (*type_traits)(uint32_t) = nullptr;
    const GgmlTypeTraitsCpu* (*type_traits_cpu)(uint32_t) = nullptr;
    void* (*init)(GgmlInitParams) = nullptr;
    void (*free)(void*) = nullptr;
    void* (*new_tensor_2d)(void*, uint32_t, int64_t, int64_t) = nullptr;
    void* (*mul_mat)(void*, void*, void*) = nullptr;
    void* (*new_graph)(void*) = nullptr;
    void (*build_forward_expand)(void*, void*) = nullptr;
    int (*graph_compute_with_ctx)(void*, void*, int) = nullptr;
    void* (*get_data)(const void*) = nullptr;
    bool loaded() const { return type_traits && type_traits_cpu; }
    bool has_graph_api() const {
        return init && free && new_tensor_2d && mul_mat && new_graph && build_forward_expand && graph_compute_with_ctx && get_data;
    }
};

template <typename Fn>
void bind(void* lib, const char* name, Fn* fn) {
#if defined(__linux__)
    *fn = reinterpret_cast<Fn>(dlsym(lib, name));
#else
    (void)lib, (void)name, (void)fn;
#endif
}

Ggml load_ggml(const Options& opt) {
    Ggml g;
#if defined(__linux__)
    if (!opt.ggml_dir) return g;
    const std::string base = std::string(opt.ggml_dir) + "/libggml-base.so";
    const std::string cpu = std::string(opt.ggml_dir) + "/libggml-cpu-" + opt.ggml_variant + ".so";
    void* hb = dlopen(base.c_str(), RTLD_NOW | RTLD_GLOBAL);
    void* hc = hb ? dlopen(cpu.c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (!hc) {
        std::fprintf(stderr, "cannot load ggml from %s: %s\n", opt.ggml_dir, dlerror());
        return g;
    }
    void (*cpu_init)() = nullptr;
    bind(hc, "ggml_cpu_init", &cpu_init);
    bind(hb, "ggml_get_type_traits", &g.type_traits);
    bind(hc, "ggml_get_type_traits_cpu", &g.type_traits_cpu);
    bind(hb, "ggml_init", &g.init);
    bind(hb, "ggml_free", &g.free);
    bind(hb, "ggml_new_tensor_2d", &g.new_tensor_2d);
    bind(hb, "ggml_mul_mat", &g.mul_mat);
    bind(hb, "ggml_new_graph", &g.new_graph);
    bind(hb, "ggml_build_forward_expand", &g.build_forward_expand);
    bind(hb, "ggml_get_data", &g.get_data);
    bind(hc, "ggml_graph_compute_with_ctx", &g.graph_compute_with_ctx);
    if (cpu_init) cpu_init();
#else
    (void)opt;
#endif
    return g;
}

// ---- data -------------------------------------------------------------------------------------

const TensorTypeTraits& traits_of(TensorType t) {
    static TensorTypeTraits cache[31];
    const auto id = static_cast<uint32_t>(t);
    if (!cache[id].name) cache[id] = tensor_type_traits(id);
    return cache[id];
}

size_t row_bytes(TensorType t, int64_t n) { return tensor_row_bytes(traits_of(t), static_cast<uint64_t>(n)); }

// Offsets of the f16 scales in a block; random bytes elsewhere are valid quants.
std::vector<int> f16_fields(TensorType t) {
    switch (t) {
        case TensorType::Q4_0: case TensorType::Q5_0: case TensorType::Q8_0: return {0};
        case TensorType::Q4_1: case TensorType::Q5_1: case TensorType::Q4_K: case TensorType::Q5_K: return {0, 2};
        case TensorType::Q6_K: return {208};
        default: return {};
    }
}

std::vector<uint8_t> random_matrix(TensorType t, int64_t rows, int64_t cols, std::mt19937& rng) {
    std::vector<uint8_t> data(row_bytes(t, cols) * static_cast<size_t>(rows));
    if (t == TensorType::F32 || t == TensorType::F16 || t == TensorType::BF16) {
        std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
        std::vector<float> row(static_cast<size_t>(cols));
        for (int64_t r = 0; r < rows; ++r) {
            for (auto& v : row) v = uni(rng);
            type_kernels_for(t, "scalar")->from_float(row.data(), data.data() + row_bytes(t, cols) * r, cols);
        }
        return data;
    }
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_real_distribution<float> scale(-0.02f, 0.02f);
    for (auto& b : data) b = static_cast<uint8_t>(byte(rng));
    const size_t bb = traits_of(t).block_bytes;
    for (size_t blk = 0; blk < data.size() / bb; ++blk) {
        for (int off : f16_fields(t)) {
            const uint16_t h = f32_to_f16(scale(rng));
            std::memcpy(&data[blk * bb + static_cast<size_t>(off)], &h, 2);
        }
    }
    return data;
}

// ---- timing -----------------------------------------------------------------------------------

// Fastest sweep over at least min_seconds: the minimum filters out time lost to other processes
// (the build machines are shared), which only ever adds.
template <typename DotRow>
double seconds_per_sweep(int64_t rows, double min_seconds, DotRow dot_row) {
    using clock = std::chrono::steady_clock;
    for (int64_t r = 0; r < rows; ++r) dot_row(r); // warm caches and page in
    const auto start = clock::now();
    double best = 1e30;
    int sweeps = 0;
    do {
        const auto t0 = clock::now();
        for (int64_t r = 0; r < rows; ++r) dot_row(r);
        best = std::min(best, std::chrono::duration<double>(clock::now() - t0).count());
        ++sweeps;
    } while (std::chrono::duration<double>(clock::now() - start).count() < min_seconds || sweeps < 3);
    return best;
}

struct Result {
    std::string type, level;
    double gbps;
    double us_per_sweep;
};

// Agreement of our AVX2 kernels with ggml's on one matrix.
struct Conformance {
    bool activations_equal;
    bool dequant_equal;
    int64_t dots_bit_equal; // rows whose f32 result has the same bits
    double max_rel_diff;
    bool tail_equal;        // float types: one row of cols - 13 elements (leftover loop) also the same
};

Conformance compare_with_ggml(const Ggml& g, TensorType t, const std::vector<uint8_t>& w, const std::vector<float>& x,
                              int64_t rows, int64_t cols, const char* level) {
    const TypeKernels* k = type_kernels_for(t, level);
    const TypeKernels* ka = type_kernels_for(k->vec_dot_type, level);
    const GgmlTypeTraitsCpu* gc = g.type_traits_cpu(static_cast<uint32_t>(t));
    const GgmlTypeTraitsCpu* gca = g.type_traits_cpu(gc->vec_dot_type);
    Conformance c{false, false, 0, 0.0, true};
    std::vector<uint8_t> ours(row_bytes(k->vec_dot_type, cols)), theirs(ours.size());
    ka->from_float(x.data(), ours.data(), cols);
    if (gca->from_float) gca->from_float(x.data(), theirs.data(), cols);
    else std::memcpy(theirs.data(), x.data(), ours.size()); // F32 activations are used as they are
    c.activations_equal = gc->vec_dot_type == static_cast<uint32_t>(k->vec_dot_type) && ours == theirs;

    const GgmlTypeTraits* gt = g.type_traits(static_cast<uint32_t>(t));
    std::vector<float> da(static_cast<size_t>(cols)), db(static_cast<size_t>(cols));
    k->to_float(w.data(), da.data(), cols);
    if (gt->to_float) gt->to_float(w.data(), db.data(), cols);
    else std::memcpy(db.data(), w.data(), db.size() * sizeof(float)); // F32 has no conversion
    c.dequant_equal = std::memcmp(da.data(), db.data(), da.size() * sizeof(float)) == 0;

    const size_t rb = row_bytes(t, cols);
    for (int64_t r = 0; r < rows; ++r) {
        float a = 0.0f, b = 0.0f;
        k->vec_dot(cols, &a, w.data() + rb * r, ours.data());
        gc->vec_dot(static_cast<int>(cols), &b, 0, w.data() + rb * r, 0, theirs.data(), 0, 1);
        c.dots_bit_equal += std::memcmp(&a, &b, sizeof(float)) == 0;
        const double rel = std::fabs(static_cast<double>(a) - b) / std::fmax(std::fabs(static_cast<double>(b)), 1e-30);
        c.max_rel_diff = std::fmax(c.max_rel_diff, rel);
    }
    if (traits_of(t).block_size == 1) {
        float a = 0.0f, b = 0.0f;
        k->vec_dot(cols - 13, &a, w.data(), ours.data());
        gc->vec_dot(static_cast<int>(cols - 13), &b, 0, w.data(), 0, theirs.data(), 0, 1);
        c.tail_equal = std::memcmp(&a, &b, sizeof(float)) == 0;
    }
    return c;
}

// llama.cpp's mul_mat of w [rows][cols] with n_tokens activation rows, one thread, against ours:
// vec_dot for one token; for two or more the batched order where llama.cpp has one.
// Returns the number of outputs (of rows * n_tokens) whose bits differ.
int64_t mul_mat_mismatches(const Ggml& g, TensorType t, const std::vector<uint8_t>& w, int64_t rows, int64_t cols,
                           const std::vector<float>& x, int64_t n_tokens, const char* level) {
    GgmlInitParams params{static_cast<size_t>(256) << 20, nullptr, false};
    void* ctx = g.init(params);
    void* tw = g.new_tensor_2d(ctx, static_cast<uint32_t>(t), cols, rows);
    void* tx = g.new_tensor_2d(ctx, 0, cols, n_tokens);
    std::memcpy(g.get_data(tw), w.data(), row_bytes(t, cols) * static_cast<size_t>(rows));
    std::memcpy(g.get_data(tx), x.data(), static_cast<size_t>(cols * n_tokens) * sizeof(float));
    void* ty = g.mul_mat(ctx, tw, tx);
    void* graph = g.new_graph(ctx);
    g.build_forward_expand(graph, ty);
    g.graph_compute_with_ctx(ctx, graph, 1);
    const float* theirs = static_cast<const float*>(g.get_data(ty)); // [n_tokens][rows]

    const TypeKernels* k = type_kernels_for(t, level);
    const TypeKernels* ka = type_kernels_for(k->vec_dot_type, level);
    const bool avx512 = std::strcmp(level, "avx512") == 0;
    const VecDotFn batched = avx512 ? quants_avx512_batched_dot(t) : std::strcmp(level, "avx2") == 0 ? quants_avx2_batched_dot(t) : nullptr;
    const bool use_batched = batched && n_tokens >= 2 && rows % 4 == 0 && cols % (avx512 ? 16 : 8) == 0;
    const VecDotFn dot = use_batched ? batched : k->vec_dot;
    std::vector<uint8_t> a(row_bytes(k->vec_dot_type, cols));
    int64_t mismatches = 0;
    for (int64_t tok = 0; tok < n_tokens; ++tok) {
        ka->from_float(x.data() + tok * cols, a.data(), cols);
        for (int64_t r = 0; r < rows; ++r) {
            float v;
            dot(cols, &v, w.data() + row_bytes(t, cols) * static_cast<size_t>(r), a.data());
            mismatches += std::memcmp(&v, &theirs[tok * rows + r], sizeof(float)) != 0;
        }
    }
    g.free(ctx);
    return mismatches;
}

std::string cpu_model() {
    FILE* f = std::fopen("/proc/cpuinfo", "r");
    if (!f) return "unknown";
    char line[512];
    std::string model = "unknown";
    while (std::fgets(line, sizeof line, f)) {
        if (std::strncmp(line, "model name", 10) == 0) {
            const char* colon = std::strchr(line, ':');
            model = colon ? std::string(colon + 2) : model;
            if (!model.empty() && model.back() == '\n') model.pop_back();
            break;
        }
    }
    std::fclose(f);
    return model;
}

std::string git_commit() {
#if defined(__linux__)
    FILE* p = popen("git rev-parse --short HEAD 2>/dev/null", "r");
    if (!p) return "unknown";
    char buf[64] = {0};
    const bool ok = std::fgets(buf, sizeof buf, p) != nullptr;
    pclose(p);
    std::string s = ok ? buf : "unknown";
    if (!s.empty() && s.back() == '\n') s.pop_back();
    return s;
#else
    return "unknown";
#endif
}

bool parse_args(int argc, char** argv, Options* opt) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--rows" && has_value) opt->rows = std::atoll(argv[++i]);
        else if (a == "--cols" && has_value) opt->cols = std::atoll(argv[++i]);
        else if (a == "--min-seconds" && has_value) opt->min_seconds = std::atof(argv[++i]);
        else if (a == "--json" && has_value) opt->json_path = argv[++i];
        else if (a == "--ggml" && has_value) opt->ggml_dir = argv[++i];
        else if (a == "--ggml-variant" && has_value) opt->ggml_variant = argv[++i];
        else if (a == "--level" && has_value) opt->level = argv[++i];
        else if (a == "--types" && has_value) opt->types = std::string(",") + argv[++i] + ",";
        else return false;
    }
    return opt->rows > 0 && opt->cols > 0 && opt->cols % 32 == 0;
}

} // namespace

int main(int argc, char** argv) {
    Options opt;
    if (!parse_args(argc, argv, &opt)) {
        std::fprintf(stderr, "usage: quants-bench [--rows N] [--cols N (multiple of 32)] [--types T1,T2] [--min-seconds S] "
                             "[--json FILE] [--ggml DIR [--ggml-variant NAME]]\n");
        return 2;
    }
    const Ggml ggml = load_ggml(opt);
    if (opt.ggml_dir && !ggml.loaded()) return 1;

    std::vector<const char*> levels = {"scalar"};
    for (const char* level : {"avx2", "avx512"}) {
        if (type_kernels_for(TensorType::F32, level)) levels.push_back(level);
    }
    const char* check_level = opt.level ? opt.level : levels.back();
    if (!type_kernels_for(TensorType::F32, check_level)) {
        std::fprintf(stderr, "level %s is not available on this CPU\n", check_level);
        return 2;
    }

    std::mt19937 rng(42);
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(opt.cols));
    for (auto& v : x) v = uni(rng);

    std::printf("vec_dot sweep %lld x %lld, 1 thread, fastest sweep, %s\n", static_cast<long long>(opt.rows),
                static_cast<long long>(opt.cols), cpu_model().c_str());
    std::printf("GB/s of weights read (4rows: %s, 4 rows per call where the type has it)\n%-6s", check_level, "type");
    for (const char* level : levels) std::printf(" %10s", level);
    std::printf(" %10s", "4rows");
    if (ggml.loaded()) std::printf(" %12s   agreement of our %s kernels with llama.cpp's", opt.ggml_variant, check_level);
    std::printf("\n");
    std::vector<Result> results;
    std::string conformance_json;
    for (TensorType t : kTypes) {
        const char* name = traits_of(t).name;
        if (opt.cols % static_cast<int64_t>(traits_of(t).block_size) != 0) continue;
        if (!opt.types.empty() && opt.types.find("," + std::string(name) + ",") == std::string::npos) continue;
        const std::vector<uint8_t> w = random_matrix(t, opt.rows, opt.cols, rng);
        const size_t rb = row_bytes(t, opt.cols);
        const double matrix_gb = static_cast<double>(w.size()) / 1e9;
        std::printf("%-6s", name);
        for (const char* level : levels) {
            const TypeKernels* k = type_kernels_for(t, level);
            std::vector<uint8_t> a(row_bytes(k->vec_dot_type, opt.cols));
            type_kernels_for(k->vec_dot_type, level)->from_float(x.data(), a.data(), opt.cols);
            float sink = 0.0f;
            const double s = seconds_per_sweep(opt.rows, opt.min_seconds, [&](int64_t r) {
                float v;
                k->vec_dot(opt.cols, &v, w.data() + rb * r, a.data());
                sink += v;
            });
            results.push_back({name, level, matrix_gb / s, s * 1e6});
            std::printf(" %10.2f", matrix_gb / s);
            if (std::isnan(sink)) std::printf("?");
        }
        if (const VecDot4Fn dot4 = vec_dot_4rows_for(t, check_level); dot4 && opt.rows % 4 == 0) {
            const TypeKernels* k = type_kernels_for(t, check_level);
            std::vector<uint8_t> a(row_bytes(k->vec_dot_type, opt.cols));
            type_kernels_for(k->vec_dot_type, check_level)->from_float(x.data(), a.data(), opt.cols);
            float sink = 0.0f;
            const double s = seconds_per_sweep(opt.rows / 4, opt.min_seconds, [&](int64_t g) {
                float v[4];
                dot4(opt.cols, v, w.data() + rb * 4 * g, rb, a.data());
                sink += v[0];
            });
            results.push_back({name, std::string(check_level) + "-4rows", matrix_gb / s, s * 1e6});
            std::printf(" %10.2f", matrix_gb / s);
            if (std::isnan(sink)) std::printf("?");
        } else {
            std::printf(" %10s", "-");
        }
        if (ggml.loaded()) {
            const GgmlTypeTraitsCpu* gc = ggml.type_traits_cpu(static_cast<uint32_t>(t));
            const GgmlTypeTraitsCpu* gca = ggml.type_traits_cpu(gc->vec_dot_type);
            std::vector<uint8_t> a(row_bytes(static_cast<TensorType>(gc->vec_dot_type), opt.cols));
            if (gca->from_float) gca->from_float(x.data(), a.data(), opt.cols);
            else std::memcpy(a.data(), x.data(), a.size());
            float sink = 0.0f;
            const double s = seconds_per_sweep(opt.rows, opt.min_seconds, [&](int64_t r) {
                float v;
                gc->vec_dot(static_cast<int>(opt.cols), &v, 0, w.data() + rb * r, 0, a.data(), 0, 1);
                sink += v;
            });
            results.push_back({name, std::string("llama.cpp-") + opt.ggml_variant, matrix_gb / s, s * 1e6});
            const Conformance c = compare_with_ggml(ggml, t, w, x, opt.rows, opt.cols, check_level);
            std::printf(" %12.2f   activations %s, dequant %s, dots bit-equal %lld/%lld%s, max rel diff %.1e",
                        matrix_gb / s, c.activations_equal ? "same" : "DIFFER", c.dequant_equal ? "same" : "DIFFER",
                        static_cast<long long>(c.dots_bit_equal), static_cast<long long>(opt.rows),
                        c.tail_equal ? "" : " (odd-length tail DIFFERS)", c.max_rel_diff);
            char buf[320];
            std::snprintf(buf, sizeof buf,
                          "%s{\"type\":\"%s\",\"level\":\"%s\",\"activations_equal\":%s,\"dequant_equal\":%s,"
                          "\"dots_bit_equal\":%lld,\"tail_equal\":%s,\"max_rel_diff\":%.3e}",
                          conformance_json.empty() ? "" : ",", name, check_level, c.activations_equal ? "true" : "false",
                          c.dequant_equal ? "true" : "false", static_cast<long long>(c.dots_bit_equal),
                          c.tail_equal ? "true" : "false", c.max_rel_diff);
            conformance_json += buf;
            if (ggml.has_graph_api()) {
                // a slice of the matrix keeps the graph small; 1 token = decode, 7 = a prefill batch
                const int64_t mm_rows = std::min<int64_t>(opt.rows, 256);
                std::vector<float> xs(static_cast<size_t>(opt.cols * 7));
                for (auto& v : xs) v = uni(rng);
                const int64_t m1 = mul_mat_mismatches(ggml, t, w, mm_rows, opt.cols, xs, 1, check_level);
                const int64_t m7 = mul_mat_mismatches(ggml, t, w, mm_rows, opt.cols, xs, 7, check_level);
                std::printf("; mul_mat differing outputs: 1 token %lld/%lld, 7 tokens %lld/%lld",
                            static_cast<long long>(m1), static_cast<long long>(mm_rows),
                            static_cast<long long>(m7), static_cast<long long>(7 * mm_rows));
                std::snprintf(buf, sizeof buf, ",\"mul_mat_mismatch_1\":%lld,\"mul_mat_mismatch_7\":%lld}",
                              static_cast<long long>(m1), static_cast<long long>(m7));
                conformance_json.pop_back(); // reopen the object written above
                conformance_json += buf;
            }
        }
        std::printf("\n");
    }

    if (opt.json_path) {
        FILE* f = std::fopen(opt.json_path, "w");
        if (!f) {
            std::fprintf(stderr, "cannot write %s\n", opt.json_path);
            return 1;
        }
        std::string command;
        for (int i = 0; i < argc; ++i) command += std::string(i ? " " : "") + argv[i];
        std::fprintf(f, "{\"tool\":\"quants-bench\",\"machine\":\"%s\",\"commit\":\"%s\",\"command\":\"%s\",\"rows\":%lld,\"cols\":%lld,\"threads\":1,\"results\":[",
                     cpu_model().c_str(), git_commit().c_str(), command.c_str(), static_cast<long long>(opt.rows),
                     static_cast<long long>(opt.cols));
        for (size_t i = 0; i < results.size(); ++i) {
            std::fprintf(f, "%s{\"type\":\"%s\",\"level\":\"%s\",\"gbps\":%.3f,\"us_per_sweep\":%.1f}", i ? "," : "",
                         results[i].type.c_str(), results[i].level.c_str(), results[i].gbps, results[i].us_per_sweep);
        }
        std::fprintf(f, "],\"conformance\":[%s]}\n", conformance_json.c_str());
        std::fclose(f);
    }
    return 0;
}
