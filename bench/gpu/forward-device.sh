#!/usr/bin/env bash
# The GPU forward pass on the lent GPU machine (no Node there), in two calls because SmolLM2 (98 MB)
# is larger than what one call carries: the model travels as two halves under .gl/ (ignored).
#   PART=1: keep half A in /tmp/smol, build, run cuda-ops-test and cuda-forward-test (generated models)
#   PART=2: join half B, check the sha256, SmolLM2 64-token greedy GPU vs CPU, decode/prefill bench
#   PART=3: a fresh machine without SmolLM2: the tests of PART=1 (the SmolLM2-shaped generated model
#           included), the order test, the bench on a generated SmolLM2-shaped model, memcheck
# Run PART=2 right after PART=1, while the machine is still warm; when half A is gone (a fresh
# machine) it says so and benchmarks nothing on SmolLM2.
# The build uses the committed tree from .gl/src.tar (`git archive HEAD`), not the working tree,
# which holds other people's unfinished files. Preparing .gl/ here (ignored by .gitignore):
#   git archive -o .gl/src.tar HEAD
#   mkdir -p .gl/smol-a .gl/smol-b && split -n 2 -d ~/.cache/squeeze/models/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smol.
#   mv /tmp/smol.00 .gl/smol-a/part00 && mv /tmp/smol.01 .gl/smol-b/part01
#   PART=1 COMMIT=<sha> bash bench/gpu/forward-device.sh     (carry .gl/smol-a and .gl/src.tar)
#   PART=2 COMMIT=<sha> bash bench/gpu/forward-device.sh     (carry .gl/smol-b and .gl/src.tar)
#   PART=3 COMMIT=<sha> bash bench/gpu/forward-device.sh     (carry .gl/src.tar)
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
PART=${PART:-1}
COMMIT=${COMMIT:-unknown}
REPO=$PWD
SRC=/tmp/squeeze-src
BUILD=$SRC/build/gpu-forward
SMOL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$OUT" /tmp/smol "$SRC"
if [ "$(cat $SRC/.commit 2>/dev/null)" != "$COMMIT" ]; then
  tar -xf .gl/src.tar -C "$SRC" && echo "$COMMIT" > "$SRC/.commit"
fi

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee -a "$OUT/device.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$OUT/device.txt"

if [ "$PART" = 1 ]; then
  cp .gl/smol-a/part00 /tmp/smol/part00
fi
cd "$SRC"
{ cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
  cmake --build $BUILD -j16 --target cuda-ops-test cuda-forward-test cuda-forward-bench cuda-forward-order-test; } \
  > "$OUT/build-$PART.log" 2>&1
status=$?
tail -3 "$OUT/build-$PART.log"
[ $status = 0 ] || { grep -m20 -B2 -A8 "error" "$OUT/build-$PART.log"; exit 1; }

if [ "$PART" = 1 ] || [ "$PART" = 3 ]; then
  $BUILD/cuda-ops-test 2>&1 | tee "$OUT/ops-test.txt" | tail -25
  echo "cuda-ops-test exit $?"
  $BUILD/cuda-forward-order-test 2>&1 | tee "$OUT/order-test.txt"
  echo "cuda-forward-order-test exit $?"
  $BUILD/cuda-forward-test 2>&1 | tee "$OUT/forward-test.txt"
  echo "cuda-forward-test exit $?"
fi
if [ "$PART" = 3 ]; then
  COMMIT=$COMMIT $BUILD/cuda-forward-bench smollm2-shape --threads "$(nproc)" --prompt 512 --decode 128 \
    --json "$OUT/forward-bench.json" 2>&1 | tee "$OUT/forward-bench.txt"
  timeout 240 compute-sanitizer --tool memcheck --leak-check no $BUILD/cuda-forward-test > "$OUT/memcheck.txt" 2>&1
  echo "memcheck exit $?"; tail -4 "$OUT/memcheck.txt"
fi
[ "$PART" = 2 ] || exit 0

if [ ! -f /tmp/smol/part00 ]; then
  echo "half A of SmolLM2 is gone (a fresh machine): no SmolLM2 comparison in this call"
  exit 1
fi
cat /tmp/smol/part00 "$REPO/.gl/smol-b/part01" > /tmp/smol/model.gguf
echo "$SMOL_SHA256  /tmp/smol/model.gguf" | sha256sum -c - || exit 1
SQUEEZE_SMOLLM2=/tmp/smol/model.gguf $BUILD/cuda-forward-test 2>&1 | tee "$OUT/forward-test-smollm2.txt"
echo "cuda-forward-test exit $?"
COMMIT=$COMMIT $BUILD/cuda-forward-bench /tmp/smol/model.gguf --threads "$(nproc)" --prompt 512 \
  --decode 128 --json "$OUT/forward-bench.json" 2>&1 | tee "$OUT/forward-bench.txt"
