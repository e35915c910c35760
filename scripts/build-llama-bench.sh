#!/usr/bin/env bash
# Builds llama.cpp's llama-bench from the source bundled in node-llama-cpp (no network), once,
# cached in ~/.cache/squeeze/llama-bench/<release>. Prints the binary's path.
set -euo pipefail
cd "$(dirname "$0")/.."

pkg=node_modules/node-llama-cpp/llama
release=$(node -p "require('./$pkg/llama.cpp.info.json').tag")
cache=${SQUEEZE_CACHE_DIR:-$HOME/.cache/squeeze}/llama-bench/$release
bin=$cache/build/bin/llama-bench
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

mkdir -p "$cache"
# The bundle holds one squashed commit: the llama.cpp that node-llama-cpp's binaries are built from.
[ -d "$cache/src" ] || git clone --quiet "$pkg/gitRelease.bundle" "$cache/src" >&2
# Native CPU build: the same SIMD the machine offers, as our engine's runtime dispatch picks.
cmake -S "$cache/src" -B "$cache/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
  -DLLAMA_BUILD_SERVER=OFF >&2
cmake --build "$cache/build" --target llama-bench -j"$(nproc)" >&2
echo "$bin"
