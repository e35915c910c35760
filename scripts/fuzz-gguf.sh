#!/usr/bin/env bash
# Fuzzes the GGUF reader with libFuzzer + ASan + UBSan for N seconds (default 30).
#   scripts/fuzz-gguf.sh [seconds]
# Builds test/fuzz/gguf-fuzz.cpp straight from the reader's sources with clang (Debian/Ubuntu:
# apt-get install -y clang), so the reader carries coverage instrumentation. Seeds come from
# test/fuzz/corpus (checked in, kept small); inputs the fuzzer finds go to build/fuzz/corpus.
# Exits non-zero on a crash, leak or timeout; the failing input is saved under build/fuzz/.
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${SQUEEZE_FUZZ_DIR:-$root/build/fuzz}"
cxx="${CXX_FUZZ:-clang++}"

if ! command -v "$cxx" >/dev/null; then
  echo "fuzz-gguf: $cxx not found (apt-get install -y clang)" >&2
  exit 2
fi
mkdir -p "$out/corpus"

"$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/native/src" \
  "$root/native/src/gguf/"*.cpp "$root/native/src/common/tensor-type.cpp" "$root/test/fuzz/gguf-fuzz.cpp" \
  -o "$out/gguf-fuzz"

# The first corpus directory receives new inputs; the seeds are only read.
"$out/gguf-fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus" "$root/test/fuzz/corpus"
