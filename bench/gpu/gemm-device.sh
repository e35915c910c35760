#!/usr/bin/env bash
# The tensor-core GEMM for prefill (kernels/matmul-mma.cu) on the lent GPU machine, in two calls
# because SmolLM2 (98 MB) is larger than what one call carries (two halves under .gl/, ignored).
#   PART=1: build the committed tree; its ops test against the CPU vec_dot; the GEMM alone beside
#           the GEMV kernels and torch.matmul bf16 (cuBLAS) on the same shapes; end-to-end prefill
#           with the GEMM and without (SQUEEZE_CUDA_GEMM=0, the CPU's order) on generated
#           SmolLM2-shaped and Llama-3.1-8B-shaped (2 layers, Q8_0) models at 512 and 4096 tokens,
#           with the GEMM's logits and 64 greedy tokens beside the CPU order's; cuda-forward-test.
#           Keeps SmolLM2's half A in /tmp/smol.
#   PART=2: right after PART=1 on the warm machine: join half B, check the sha256, the same prefill
#           and agreement on the real SmolLM2, and cuda-forward-test with it.
# Preparing (here, .gl/ is ignored):
#   mkdir -p .gl/cuda-gemm && git archive -o .gl/cuda-gemm/src.tar HEAD
#   split -n 2 -d ~/.cache/squeeze/models/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smol.
#   mkdir -p .gl/cuda-gemm-a .gl/cuda-gemm-b && mv /tmp/smol.00 .gl/cuda-gemm-a/part00 && mv /tmp/smol.01 .gl/cuda-gemm-b/part01
#   PART=1 COMMIT=<sha> bash bench/gpu/gemm-device.sh     (carry .gl/cuda-gemm and .gl/cuda-gemm-a)
#   PART=2 COMMIT=<sha> bash bench/gpu/gemm-device.sh     (carry .gl/cuda-gemm-b)
# At most 8 files come back: the tables go to stdout (the caller's log), JSON to $OUT.
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
PART=${PART:-1}
COMMIT=${COMMIT:-unknown}
REPO=$PWD
SRC=/tmp/cuda-gemm-src
BUILD=$SRC/build/gpu-gemm
SMOL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$OUT" "$SRC" /tmp/smol

if [ "$PART" = 2 ]; then
  [ -f /tmp/smol/part00 ] && [ -x $BUILD/cuda-forward-bench ] || { echo "a fresh machine: run PART=1 first"; exit 1; }
  cat /tmp/smol/part00 "$REPO/.gl/cuda-gemm-b/part01" > /tmp/smol/model.gguf
  echo "$SMOL_SHA256  /tmp/smol/model.gguf" | sha256sum -c - || exit 1
  for prompt in 512 4096; do
    COMMIT=$COMMIT $BUILD/cuda-forward-bench /tmp/smol/model.gguf --threads "$(nproc)" --prompt $prompt --decode 32 \
      --agree 64 --cpu $([ $prompt = 512 ] && echo 1 || echo 0) --json "$OUT/forward-smollm2-real-$prompt.json"
  done
  SQUEEZE_SMOLLM2=/tmp/smol/model.gguf $BUILD/cuda-forward-test 2>&1 | tail -14
  exit 0
fi

tar -xf .gl/cuda-gemm/src.tar -C "$SRC"
cp .gl/cuda-gemm-a/part00 /tmp/smol/part00
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
nproc | sed 's/^/cpu cores: /'

cd "$SRC"
{ cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
  cmake --build $BUILD -j16 --target cuda-ops-test cuda-gemm-bench cuda-forward-bench cuda-forward-test; } > /tmp/gemm-build.log 2>&1
status=$?
tail -2 /tmp/gemm-build.log
[ $status = 0 ] || { grep -m20 -B2 -A8 "error" /tmp/gemm-build.log; exit 1; }

$BUILD/cuda-ops-test > /tmp/gemm-ops-test.txt 2>&1
echo "cuda-ops-test exit $?"; grep -E "matmul_mma|FAIL|passed|failed" /tmp/gemm-ops-test.txt
COMMIT=$COMMIT $BUILD/cuda-gemm-bench --json "$OUT/gemm-bench.json"
PYTHONUNBUFFERED=1 python3 "$REPO/bench/gpu/gemm_torch.py" "$OUT/gemm-torch.json"
for prompt in 512 4096; do
  COMMIT=$COMMIT $BUILD/cuda-forward-bench smollm2-shape --threads "$(nproc)" --prompt $prompt --decode 32 \
    --agree 64 --cpu $([ $prompt = 512 ] && echo 1 || echo 0) --json "$OUT/forward-smollm2-$prompt.json"
done
for prompt in 512 4096; do
  COMMIT=$COMMIT timeout 120 $BUILD/cuda-forward-bench llama8b-shape:2 --threads "$(nproc)" --prompt $prompt --decode 8 \
    --agree $([ $prompt = 512 ] && echo 64 || echo 0) --cpu 0 --json "$OUT/forward-8b-$prompt.json"
done
$BUILD/cuda-forward-test 2>&1 | tail -12
