#!/usr/bin/env bash
# Every GPU test of the ctest list on the lent GPU machine at one commit, then the real SmolLM2 cases,
# in two calls because SmolLM2 (98 MB) is larger than one call carries (see forward-device.sh):
#   PART=1: keep half A of SmolLM2, build the GPU tests and cuda-doc-bench, run every GPU test
#           (generated models)
#   PART=2: join half B, check the sha256, cuda-forward-test and cuda-doc-test on the real SmolLM2,
#           then cuda-doc-bench at 7K fixed tokens of it and cuda-forward-bench --chat 1 (greedy tokens
#           of the default GPU path vs the CPU's order, SQUEEZE_CUDA_GEMM=0, on the chat prompts)
# Run PART=2 right after PART=1, while the machine is still warm. The build uses the committed tree:
#   mkdir -p .gl/final && git archive -o .gl/final/src.tar HEAD
#   PART=1 COMMIT=<sha> bash bench/gpu/final-device.sh   (carry .gl/final and .gl/smol-a)
#   PART=2 COMMIT=<sha> bash bench/gpu/final-device.sh   (carry .gl/final and .gl/smol-b)
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
PART=${PART:-1}
COMMIT=${COMMIT:-unknown}
REPO=$PWD
SRC=/tmp/final-src
BUILD=$SRC/build
SMOL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GPU_TESTS="cuda-ops-test cuda-squeeze-test cuda-forward-test cuda-forward-order-test cuda-kmeans-test cuda-prefill-test cuda-doc-test"
mkdir -p "$OUT" /tmp/smol "$SRC"
if [ "$(cat $SRC/.commit 2>/dev/null)" != "$COMMIT" ]; then
  tar -xf .gl/final/src.tar -C "$SRC" && echo "$COMMIT" > "$SRC/.commit"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device-$PART.txt"

if [ "$PART" = 1 ]; then
  cp .gl/smol-a/part00 /tmp/smol/part00
  cd "$SRC"
  { cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
    cmake --build $BUILD -j16 --target $GPU_TESTS cuda-doc-bench cuda-forward-bench; } > "$OUT/build.log" 2>&1
  status=$?
  tail -2 "$OUT/build.log"
  [ $status = 0 ] || { grep -m20 -B2 -A8 "error" "$OUT/build.log"; exit 1; }
  failed=0
  for t in $GPU_TESTS; do
    timeout 200 $BUILD/$t > "$OUT/$t.txt" 2>&1
    code=$?
    echo "$t exit $code: $(grep -E 'passed|failed' "$OUT/$t.txt" | tail -1)"
    [ $code = 0 ] || { failed=1; tail -15 "$OUT/$t.txt"; }
  done
  exit $failed
fi

[ -f /tmp/smol/part00 ] || { echo "half A of SmolLM2 is gone (a fresh machine): no SmolLM2 run in this call"; exit 1; }
cat /tmp/smol/part00 "$REPO/.gl/smol-b/part01" > /tmp/smol/model.gguf
echo "$SMOL_SHA256  /tmp/smol/model.gguf" | sha256sum -c - || exit 1
failed=0
for t in cuda-forward-test cuda-doc-test; do
  SQUEEZE_SMOLLM2=/tmp/smol/model.gguf timeout 200 $BUILD/$t > "$OUT/$t-smollm2.txt" 2>&1
  code=$?
  echo "$t (SmolLM2) exit $code: $(grep -E 'passed|failed' "$OUT/$t-smollm2.txt" | tail -1)"
  [ $code = 0 ] || { failed=1; tail -25 "$OUT/$t-smollm2.txt"; }
done
COMMIT=$COMMIT timeout 120 $BUILD/cuda-doc-bench /tmp/smol/model.gguf --fixed 7000 --decode 64 \
  --json "$OUT/doc-bench-smollm2-7k.json" 2>&1 | tee "$OUT/doc-bench-smollm2.txt" | tail -20
COMMIT=$COMMIT timeout 120 $BUILD/cuda-forward-bench /tmp/smol/model.gguf --threads "$(nproc)" --prompt 512 --decode 128 \
  --chat 1 --json "$OUT/forward-bench-smollm2.json" 2>&1 | tee "$OUT/forward-bench-smollm2.txt" | tail -20
exit $failed
