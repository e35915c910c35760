#!/usr/bin/env bash
# The forward pass's own attention at long contexts and squeezed decode under CUDA graphs (issue 4),
# on the lent GPU machine (no Node there). Generated models only (no SmolLM2 halves to carry).
#   PART=1: build, cuda-forward-test, cuda-forward-bench --keys on the SmolLM2 and Llama-3.2-1B
#           shapes (the CPU-order kernel vs the fast kernels at each length), cuda-doc-test
#   PART=2: cuda-doc-bench before (no graphs, the CPU-order dense kernel) and after, SmolLM2 shape
#           at 8K fixed tokens and the 1B shape at 32K; cuda-ops-test
# Run PART=2 right after PART=1, while the machine is warm (it reuses the build).
# The build uses the committed tree, not the working tree (others' unfinished files sit there):
#   mkdir -p .gl/cuda-attend && git archive -o .gl/cuda-attend/src.tar HEAD
#   PART=1 COMMIT=<sha> bash bench/gpu/attention-device.sh   (carry .gl/cuda-attend)
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
PART=${PART:-1}
COMMIT=${COMMIT:-unknown}
SRC=/tmp/cuda-attend-src
BUILD=$SRC/build
mkdir -p "$OUT" "$SRC"
if [ "$(cat $SRC/.commit 2>/dev/null)" != "$COMMIT" ]; then
  tar -xf .gl/cuda-attend/src.tar -C "$SRC" && echo "$COMMIT" > "$SRC/.commit"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device-$PART.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$OUT/device-$PART.txt"

cd "$SRC"
{ cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
  cmake --build $BUILD -j16 --target cuda-forward-test cuda-forward-bench cuda-doc-test cuda-doc-bench cuda-ops-test; } \
  > "$OUT/build-$PART.log" 2>&1
status=$?
tail -2 "$OUT/build-$PART.log"
[ $status = 0 ] || { grep -m20 -B2 -A8 "error" "$OUT/build-$PART.log"; exit 1; }

if [ "$PART" = 1 ]; then
  timeout 120 $BUILD/cuda-forward-test 2>&1 | tee "$OUT/forward-test.txt" | tail -30
  echo "cuda-forward-test exit $?"
  for model in smollm2-shape llama-1b-shape; do
    COMMIT=$COMMIT timeout 120 $BUILD/cuda-forward-bench $model --keys 1024,2048,4096,8192,32768 --decode 64 \
      --json "$OUT/forward-keys-$model.json" 2>&1 | tee "$OUT/forward-keys-$model.txt"
    echo "cuda-forward-bench $model exit $?"
  done
  timeout 150 $BUILD/cuda-doc-test 2>&1 | tee "$OUT/doc-test.txt" | tail -30
  echo "cuda-doc-test exit $?"
  exit 0
fi

for spec in "smollm2-shape 8192 64" "llama-1b-shape 32768 32"; do
  set -- $spec
  for run in before after; do
    if [ $run = before ]; then env_run="SQUEEZE_CUDA_GRAPHS=0 SQUEEZE_CUDA_ATTENTION_KEYS=1000000000"; else env_run=""; fi
    env $env_run COMMIT=$COMMIT timeout 150 $BUILD/cuda-doc-bench $1 --fixed $2 --decode $3 --cpu 0 \
      --json "$OUT/doc-bench-$1-$run.json" 2>&1 | tee "$OUT/doc-bench-$1-$run.txt"
    echo "cuda-doc-bench $1 $run exit $?"
  done
done
timeout 150 $BUILD/cuda-ops-test 2>&1 | tee "$OUT/ops-test.txt" | tail -15
echo "cuda-ops-test exit $?"
