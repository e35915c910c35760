#!/usr/bin/env bash
# Document sessions on the GPU (issue 4: the squeezed path inside the CUDA forward pass), on the lent
# GPU machine (no Node there), in two calls because SmolLM2 (98 MB) is larger than one call carries.
#   PART=1: keep half A of SmolLM2, build, cuda-doc-test on a generated SmolLM2-shaped model, then
#           cuda-doc-bench: SmolLM2 shape at 8K fixed tokens, Llama-3.2-1B shape at 32K
#   PART=2: join half B, check the sha256, cuda-doc-test and cuda-doc-bench (7K fixed tokens) on the
#           real SmolLM2, then cuda-doc-test again with the int8 GEMM off (SQUEEZE_CUDA_GEMM=0)
# Run PART=2 right after PART=1, while the machine is still warm (it reuses the build and half A).
# The build uses the committed tree, not the working tree (others' unfinished files sit there):
#   mkdir -p .gl/cuda-doc && git archive -o .gl/cuda-doc/src.tar HEAD
#   PART=1 COMMIT=<sha> bash bench/gpu/doc-device.sh   (carry .gl/cuda-doc and .gl/smol-a; see forward-device.sh for the halves)
#   PART=2 COMMIT=<sha> bash bench/gpu/doc-device.sh   (carry .gl/cuda-doc and .gl/smol-b)
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
PART=${PART:-1}
COMMIT=${COMMIT:-unknown}
REPO=$PWD
SRC=/tmp/cuda-doc-src
BUILD=$SRC/build
SMOL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$OUT" /tmp/smol "$SRC"
if [ "$(cat $SRC/.commit 2>/dev/null)" != "$COMMIT" ]; then
  tar -xf .gl/cuda-doc/src.tar -C "$SRC" && echo "$COMMIT" > "$SRC/.commit"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/device-$PART.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$OUT/device-$PART.txt"
[ "$PART" = 1 ] && cp .gl/smol-a/part00 /tmp/smol/part00

cd "$SRC"
{ cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
  cmake --build $BUILD -j16 --target cuda-doc-test cuda-doc-bench; } > "$OUT/build-$PART.log" 2>&1
status=$?
tail -2 "$OUT/build-$PART.log"
[ $status = 0 ] || { grep -m20 -B2 -A8 "error" "$OUT/build-$PART.log"; exit 1; }

if [ "$PART" = 1 ]; then
  timeout 150 $BUILD/cuda-doc-test 2>&1 | tee "$OUT/doc-test.txt"
  echo "cuda-doc-test exit $?"
  COMMIT=$COMMIT timeout 90 $BUILD/cuda-doc-bench smollm2-shape --fixed 8192 --decode 64 \
    --json "$OUT/doc-bench-smollm2-shape-8k.json" 2>&1 | tee -a "$OUT/doc-bench.txt"
  echo "cuda-doc-bench exit $?"
  COMMIT=$COMMIT timeout 200 $BUILD/cuda-doc-bench llama-1b-shape --fixed 32768 --decode 32 \
    --json "$OUT/doc-bench-llama-1b-shape-32k.json" 2>&1 | tee -a "$OUT/doc-bench.txt"
  echo "cuda-doc-bench exit $?"
  exit 0
fi

if [ ! -f /tmp/smol/part00 ]; then
  echo "half A of SmolLM2 is gone (a fresh machine): no SmolLM2 run in this call"
  exit 1
fi
cat /tmp/smol/part00 "$REPO/.gl/smol-b/part01" > /tmp/smol/model.gguf
echo "$SMOL_SHA256  /tmp/smol/model.gguf" | sha256sum -c - || exit 1
SQUEEZE_SMOLLM2=/tmp/smol/model.gguf timeout 150 $BUILD/cuda-doc-test 2>&1 | tee "$OUT/doc-test-smollm2.txt"
echo "cuda-doc-test exit $?"
COMMIT=$COMMIT timeout 90 $BUILD/cuda-doc-bench /tmp/smol/model.gguf --fixed 7000 --decode 64 \
  --json "$OUT/doc-bench-smollm2-7k.json" 2>&1 | tee -a "$OUT/doc-bench-2.txt"
echo "cuda-doc-bench exit $?"
# The same comparison with the GPU's matmuls in the CPU's order: what is left is the attention.
SQUEEZE_CUDA_GEMM=0 SQUEEZE_SMOLLM2=/tmp/smol/model.gguf timeout 150 $BUILD/cuda-doc-test 2>&1 | tee "$OUT/doc-test-smollm2-gemm0.txt"
echo "cuda-doc-test (GEMM off) exit $?"
