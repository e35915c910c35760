#!/usr/bin/env bash
# GPU decode on the lent GPU machine in one call: build the committed tree, the decode benches
# (cuda-forward-bench on a generated SmolLM2-shaped model beside the CPU; cuda-e2e-bench, Llama-3.1-8B
# shape, 32K and 128K context, dense vs squeezed 90%), then the checks that the forward pass still
# gives the CPU's bits (cuda-forward-test: generated models, the SmolLM2-shaped one greedy for 64
# tokens) and cuda-ops-test, and an ncu summary of one SmolLM2-shaped decode step. Benches first:
# what a call ran before its time limit comes back.
# Builds into the directory forward-device.sh uses, so its PART=2 (real SmolLM2, carried in .gl/smol-b
# with half A carried here in .gl/smol-a) can follow on the warm machine without a rebuild.
# Preparing (here, .gl/ is ignored):
#   git archive -o .gl/e2e-src.tar HEAD
#   COMMIT=<sha> bash bench/gpu/e2e-device.sh        (carry .gl/e2e-src.tar and .gl/smol-a)
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
COMMIT=${COMMIT:-unknown}
SRC=/tmp/squeeze-src
BUILD=$SRC/build/gpu-forward
mkdir -p "$OUT" /tmp/smol "$SRC"
tar -xf .gl/e2e-src.tar -C "$SRC" && echo "$COMMIT" > "$SRC/.commit"
[ -f .gl/smol-a/part00 ] && cp .gl/smol-a/part00 /tmp/smol/part00

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee "$OUT/device.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$OUT/device.txt"

cd "$SRC"
{ cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
  cmake --build $BUILD -j16 --target cuda-ops-test cuda-forward-test cuda-forward-bench cuda-e2e-bench; } > "$OUT/build.log" 2>&1
status=$?
tail -2 "$OUT/build.log"
[ $status = 0 ] || { grep -m20 -B2 -A8 "error" "$OUT/build.log"; exit 1; }

COMMIT=$COMMIT $BUILD/cuda-forward-bench smollm2-shape --threads "$(nproc)" --prompt 512 --decode 128 \
  --json "$OUT/forward-bench.json" 2>&1 | tee "$OUT/forward-bench.txt"
COMMIT=$COMMIT timeout 150 $BUILD/cuda-e2e-bench --contexts 32768,131072 --dyn 64 --reps 10 \
  --json "$OUT/e2e-bench.json" 2>&1 | tee "$OUT/e2e-bench.txt"
echo "cuda-e2e-bench exit $?"
$BUILD/cuda-forward-test > "$OUT/forward-test.txt" 2>&1
echo "cuda-forward-test exit $?"; tail -12 "$OUT/forward-test.txt"
$BUILD/cuda-ops-test > "$OUT/ops-test.txt" 2>&1
echo "cuda-ops-test exit $?"; tail -3 "$OUT/ops-test.txt"
# Where a SmolLM2-shaped decode step spends its time: one eager step's ~573 kernels (after the
# bench's two prefills of 33 tokens and one decode step), durations only.
if command -v ncu > /dev/null; then
  SKIP=${NCU_SKIP:-1719}
  timeout ${NCU_TIMEOUT:-120} ncu --clock-control none --metrics gpu__time_duration.sum --launch-skip $SKIP \
    --launch-count 573 --print-summary per-kernel --csv $BUILD/cuda-forward-bench smollm2-shape --threads 4 \
    --prompt 33 --decode 4 > "$OUT/ncu-smollm2-decode.csv" 2>&1
  echo "ncu exit $?"
fi
