#!/usr/bin/env bash
# Decode GEMV on the lent GPU machine: the decode GEMV (matmul_vec, the default) beside the
# CPU-order kernels (matmul_q, SQUEEZE_CUDA_GEMM=0, the code of the commit before matmul_vec) in the
# same call, in two calls because SmolLM2 (98 MB) is larger than one call carries:
#   PART=1: keep half A of SmolLM2; build; cuda-ops-test; cuda-gemv-bench (Llama-3.1-8B shapes, five
#           types, 1 token; 4 tokens for Q8_0 and Q4_K); cuda-e2e-bench at 32K with each GEMV;
#           cuda-forward-bench on the generated SmolLM2 shape
#   PART=2: join half B, check the sha256; cuda-forward-bench on the real SmolLM2 with the chat
#           prompts' greedy agreement; cuda-forward-test (generated models and the real SmolLM2: the
#           CPU order gives the CPU's bits); cuda-doc-test and cuda-prefill-test (default path)
# Run PART=2 right after PART=1, while the machine is still warm; or PART=1 TESTS=1 alone, which runs
# cuda-forward-test, cuda-doc-test and cuda-prefill-test on generated models after the benches.
# The build uses the committed tree:
#   mkdir -p .gl/gemv && git archive -o .gl/gemv/src.tar HEAD
#   PART=1 COMMIT=<sha> bash bench/gpu/gemv-device.sh   (carry .gl/gemv and .gl/smol-a)
#   PART=2 COMMIT=<sha> bash bench/gpu/gemv-device.sh   (carry .gl/gemv and .gl/smol-b)
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
PART=${PART:-1}
COMMIT=${COMMIT:-unknown}
REPO=$PWD
SRC=/tmp/gemv-src
BUILD=$SRC/build
SMOL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
TARGETS="cuda-ops-test cuda-forward-test cuda-gemv-bench cuda-e2e-bench cuda-forward-bench cuda-doc-test cuda-prefill-test"
# At most 8 files come back from a call: the text of every step goes to one log, numbers to JSON.
LOG=$OUT/log-$PART.txt
mkdir -p "$OUT" /tmp/smol "$SRC"
if [ "$(cat $SRC/.commit 2>/dev/null)" != "$COMMIT" ]; then
  tar -xf .gl/gemv/src.tar -C "$SRC" && echo "$COMMIT" > "$SRC/.commit"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader | tee "$LOG"

step() { # name timeout command...: its output appended to the log, its exit code and summary shown
  local name=$1 limit=$2; shift 2
  echo "==== $name: $*" >> "$LOG"
  timeout "$limit" "$@" > /tmp/step.txt 2>&1
  local code=$?
  cat /tmp/step.txt >> "$LOG"
  echo "$name exit $code: $(grep -E 'passed|failed|FAIL' /tmp/step.txt | tail -1)"
  [ $code = 0 ] || tail -25 /tmp/step.txt
  return $code
}

if [ "$PART" = 1 ]; then
  cp .gl/smol-a/part00 /tmp/smol/part00
  cd "$SRC"
  { cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
    cmake --build $BUILD -j16 --target $TARGETS; } > /tmp/build.log 2>&1
  status=$?
  tail -1 /tmp/build.log
  [ $status = 0 ] || { grep -m20 -B2 -A8 "error" /tmp/build.log; exit 1; }
  step ops-test 90 $BUILD/cuda-ops-test; grep -E "matmul_vec" /tmp/step.txt | sort -k4 -g | tail -3
  COMMIT=$COMMIT step gemv-bench-t1 60 $BUILD/cuda-gemv-bench --json "$OUT/gemv-bench-t1.json"; cat /tmp/step.txt
  COMMIT=$COMMIT step gemv-bench-t4 40 $BUILD/cuda-gemv-bench --tokens 4 --types q8_0,q4_k --json "$OUT/gemv-bench-t4.json"
  grep layer /tmp/step.txt
  for gemm in 0 1; do
    SQUEEZE_CUDA_GEMM=$gemm COMMIT=$COMMIT step e2e-gemm$gemm 90 $BUILD/cuda-e2e-bench --contexts 32768 --dyn 64 --reps 10 \
      --json "$OUT/e2e-gemm$gemm.json"
    grep -E "GEMV|GEMVs alone|decode step" /tmp/step.txt
  done
  COMMIT=$COMMIT step forward-bench-smollm2-shape 60 $BUILD/cuda-forward-bench smollm2-shape --threads "$(nproc)" \
    --prompt 512 --decode 128 --cpu 0 --json "$OUT/forward-bench-smollm2-shape.json"
  tail -6 /tmp/step.txt
  if [ "${TESTS:-0}" = 1 ]; then # one call, no SmolLM2: the GPU tests on generated models here
    step forward-test 120 $BUILD/cuda-forward-test
    step doc-test 60 $BUILD/cuda-doc-test
    step prefill-test 40 $BUILD/cuda-prefill-test
  fi
  exit 0
fi

[ -f /tmp/smol/part00 ] || { echo "half A of SmolLM2 is gone (a fresh machine): no SmolLM2 run in this call"; exit 1; }
cat /tmp/smol/part00 "$REPO/.gl/smol-b/part01" > /tmp/smol/model.gguf
echo "$SMOL_SHA256  /tmp/smol/model.gguf" | sha256sum -c - || exit 1
COMMIT=$COMMIT step forward-bench-smollm2 90 $BUILD/cuda-forward-bench /tmp/smol/model.gguf --threads "$(nproc)" \
  --prompt 512 --decode 128 --chat 1 --json "$OUT/forward-bench-smollm2.json"
tail -8 /tmp/step.txt
SQUEEZE_SMOLLM2=/tmp/smol/model.gguf step forward-test-smollm2 100 $BUILD/cuda-forward-test
SQUEEZE_SMOLLM2=/tmp/smol/model.gguf step doc-test-smollm2 60 $BUILD/cuda-doc-test
step prefill-test 40 $BUILD/cuda-prefill-test
