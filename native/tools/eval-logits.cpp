// eval-logits: loads a GGUF model, evaluates token ids and writes the logits of every position.
//
//   eval-logits --model M.gguf (--tokens 1,2,3 | --tokens-file F) [--out logits.f32] [--top-k K]
//               [--threads N] [--ctx N] [--batch N] [--kv f16|f32] [--single | --last] [--decode N]
//
//   --out       raw little-endian f32, [n_tokens][n_vocab], row i = logits after token i
//   --top-k     prints the K best ids with log-probabilities for every position
//   --single    evaluates one token per call (prefill + decode path) instead of batches
//   --last      computes only the last position's logits, as a chat prefill does (for timing)
//   --decode N  after the prompt, greedily decodes N tokens (listed as "decoded") and reports decode speed
// A JSON summary (timings, tokens/s, SIMD level) goes to stdout as the last line.
// Exit codes: 0 ok, 2 bad usage, 3 bad model file, 1 evaluation error.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "backend/cpu/quants.h"
#include "model/model.h"

namespace {

struct Args {
    std::string model, out, tokens, tokens_file;
    int top_k = 0;
    uint32_t threads = 0, ctx = 0, batch = 512, decode = 0;
    bool single = false, last = false;
    sq::KvType kv = sq::KvType::F16;
};

[[noreturn]] void usage(const char* why) {
    std::fprintf(stderr, "eval-logits: %s\nusage: eval-logits --model M.gguf (--tokens 1,2,3 | --tokens-file F) "
                         "[--out F] [--top-k K] [--threads N] [--ctx N] [--batch N] [--kv f16|f32] [--single | --last] "
                         "[--decode N]\n", why);
    std::exit(2);
}

uint32_t parse_u32(const char* s, const char* flag) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(s, &end, 10);
    if (!*s || *end || v > 0xffffffffUL) usage((std::string("bad number for ") + flag).c_str());
    return static_cast<uint32_t>(v);
}

Args parse_args(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        const std::string f = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage(("missing value for " + f).c_str());
            return argv[++i];
        };
        if (f == "--model") a.model = value();
        else if (f == "--out") a.out = value();
        else if (f == "--tokens") a.tokens = value();
        else if (f == "--tokens-file") a.tokens_file = value();
        else if (f == "--top-k") a.top_k = static_cast<int>(parse_u32(value(), "--top-k"));
        else if (f == "--threads") a.threads = parse_u32(value(), "--threads");
        else if (f == "--ctx") a.ctx = parse_u32(value(), "--ctx");
        else if (f == "--batch") a.batch = parse_u32(value(), "--batch");
        else if (f == "--decode") a.decode = parse_u32(value(), "--decode");
        else if (f == "--single") a.single = true;
        else if (f == "--last") a.last = true;
        else if (f == "--kv") {
            const std::string v = value();
            if (v != "f16" && v != "f32") usage("--kv must be f16 or f32");
            a.kv = v == "f16" ? sq::KvType::F16 : sq::KvType::F32;
        } else usage(("unknown flag " + f).c_str());
    }
    if (a.model.empty()) usage("--model is required");
    if (a.tokens.empty() == a.tokens_file.empty()) usage("give exactly one of --tokens and --tokens-file");
    if (a.last && (a.single || a.top_k || !a.out.empty())) usage("--last computes one row of logits: no --single, --top-k or --out");
    return a;
}

std::vector<int32_t> parse_tokens(const Args& a) {
    std::string text = a.tokens;
    if (!a.tokens_file.empty()) {
        std::ifstream in(a.tokens_file);
        if (!in) usage(("cannot read " + a.tokens_file).c_str());
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::replace_if(text.begin(), text.end(), [](char c) { return c == ',' || c == '\n' || c == '\t' || c == '\r'; }, ' ');
    std::vector<int32_t> ids;
    const char* p = text.c_str();
    for (;;) {
        while (*p == ' ') ++p;
        if (!*p) break;
        char* end = nullptr;
        const long v = std::strtol(p, &end, 10);
        if (end == p || v < INT32_MIN || v > INT32_MAX) usage("token ids must be integers");
        ids.push_back(static_cast<int32_t>(v));
        p = end;
    }
    if (ids.empty()) usage("no token ids given");
    return ids;
}

double ms_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void print_top_k(const float* logits, uint32_t n_vocab, int k, size_t position) {
    float max = -INFINITY;
    for (uint32_t i = 0; i < n_vocab; ++i) max = std::max(max, logits[i]);
    double sum = 0;
    for (uint32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i] - max));
    const double log_z = max + std::log(sum);
    std::vector<uint32_t> ids(n_vocab);
    for (uint32_t i = 0; i < n_vocab; ++i) ids[i] = i;
    k = std::min<int>(k, static_cast<int>(n_vocab));
    std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](uint32_t a, uint32_t b) { return logits[a] > logits[b]; });
    std::printf("%zu:", position);
    for (int i = 0; i < k; ++i) std::printf(" %u(%.5f)", ids[i], logits[ids[i]] - log_z);
    std::printf("\n");
}

} // namespace

int main(int argc, char** argv) {
    const Args args = parse_args(argc, argv);
    const std::vector<int32_t> tokens = parse_tokens(args);

    std::unique_ptr<sq::Model> model;
    sq::Status st = sq::Model::load(args.model, model);
    if (!st) {
        std::fprintf(stderr, "eval-logits: %s: %s\n", st.code.c_str(), st.message.c_str());
        return 3;
    }
    const uint32_t n_vocab = model->hparams().n_vocab;
    sq::ContextParams cp;
    cp.n_ctx = args.ctx ? args.ctx : static_cast<uint32_t>(tokens.size() + args.decode);
    cp.n_threads = args.threads;
    cp.n_batch = args.batch;
    cp.kv_type = args.kv;
    std::unique_ptr<sq::Context> ctx;
    st = sq::Context::create(*model, cp, ctx);
    if (!st) {
        std::fprintf(stderr, "eval-logits: %s: %s\n", st.code.c_str(), st.message.c_str());
        return 1;
    }

    std::vector<float> logits; // [n_tokens][n_vocab]
    const auto t0 = std::chrono::steady_clock::now();
    if (args.single) {
        std::vector<float> one;
        logits.reserve(tokens.size() * n_vocab);
        for (int32_t t : tokens) {
            st = ctx->eval(&t, 1, false, one);
            if (!st) break;
            logits.insert(logits.end(), one.begin(), one.end());
        }
    } else {
        st = ctx->eval(tokens.data(), static_cast<uint32_t>(tokens.size()), !args.last, logits);
    }
    const double prefill_ms = ms_since(t0);
    if (!st) {
        std::fprintf(stderr, "eval-logits: %s: %s\n", st.code.c_str(), st.message.c_str());
        return 1;
    }

    double decode_ms = 0;
    std::vector<int32_t> decoded; // greedy continuation
    uint32_t n_decode_evals = 0;
    if (args.decode > 0) {
        const float* last = logits.data() + logits.size() - n_vocab;
        int32_t next = static_cast<int32_t>(std::max_element(last, last + n_vocab) - last);
        std::vector<float> one;
        const auto t1 = std::chrono::steady_clock::now();
        for (uint32_t i = 0; i < args.decode && st; ++i) {
            decoded.push_back(next);
            if (i + 1 == args.decode) break; // the last token needs no evaluation
            st = ctx->eval(&next, 1, false, one);
            ++n_decode_evals;
            next = static_cast<int32_t>(std::max_element(one.begin(), one.end()) - one.begin());
        }
        decode_ms = ms_since(t1);
        if (!st) {
            std::fprintf(stderr, "eval-logits: %s: %s\n", st.code.c_str(), st.message.c_str());
            return 1;
        }
    }

    if (!args.out.empty()) {
        std::FILE* f = std::fopen(args.out.c_str(), "wb");
        if (!f || std::fwrite(logits.data(), sizeof(float), logits.size(), f) != logits.size()) {
            std::fprintf(stderr, "eval-logits: cannot write %s\n", args.out.c_str());
            if (f) std::fclose(f);
            return 1;
        }
        std::fclose(f);
    }
    if (args.top_k > 0) {
        for (size_t i = 0; i < tokens.size(); ++i) print_top_k(logits.data() + i * n_vocab, n_vocab, args.top_k, i);
    }
    const size_t n = tokens.size();
    std::string decoded_json;
    for (int32_t t : decoded) decoded_json += (decoded_json.empty() ? "" : ",") + std::to_string(t);
    std::printf("{\"n_tokens\":%zu,\"n_vocab\":%u,\"threads\":%u,\"simd\":\"%s\",\"mode\":\"%s\",\"kv\":\"%s\","
                "\"prefill_ms\":%.3f,\"prefill_tok_s\":%.2f,\"decode_evals\":%u,\"decode_ms\":%.3f,\"decode_tok_s\":%.2f,"
                "\"decoded\":[%s]}\n",
                n, n_vocab, args.threads, sq::cpu::simd_level(), args.single ? "single" : args.last ? "last" : "batch",
                args.kv == sq::KvType::F16 ? "f16" : "f32", prefill_ms, n / (prefill_ms / 1000.0), n_decode_evals,
                decode_ms, n_decode_evals ? n_decode_evals / (decode_ms / 1000.0) : 0.0, decoded_json.c_str());
    return 0;
}
