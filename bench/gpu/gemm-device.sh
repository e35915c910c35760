#!/usr/bin/env bash
# The tensor-core GEMM for prefill (kernels/matmul-mma.cu) on the lent GPU machine, one call: build
# the committed tree, its ops test against the CPU vec_dot, the GEMM alone beside the GEMV kernels
# and torch.matmul bf16 (cuBLAS) on the same shapes, then end-to-end prefill with the GEMM and
# without (SQUEEZE_CUDA_GEMM=0) on generated SmolLM2-shaped and Llama-3.1-8B-shaped (2 layers,
# Q8_0) models at 512 and 4096 tokens, with the GEMM's logits and greedy tokens beside the CPU
# order's; last, cuda-forward-test (decode keeps the CPU's bits).
# Preparing (here, .gl/ is ignored):
#   mkdir -p .gl/cuda-gemm && git archive -o .gl/cuda-gemm/src.tar HEAD
#   COMMIT=<sha> bash bench/gpu/gemm-device.sh        (carry .gl/cuda-gemm)
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
COMMIT=${COMMIT:-unknown}
REPO=$PWD
SRC=/tmp/cuda-gemm-src
BUILD=$SRC/build/gpu-gemm
mkdir -p "$OUT" "$SRC"
tar -xf .gl/cuda-gemm/src.tar -C "$SRC"

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv | tee "$OUT/device.txt"
nproc | sed 's/^/cpu cores: /' | tee -a "$OUT/device.txt"

cd "$SRC"
{ cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
  cmake --build $BUILD -j16 --target cuda-ops-test cuda-gemm-bench cuda-forward-bench cuda-forward-test; } > "$OUT/build.log" 2>&1
status=$?
tail -2 "$OUT/build.log"
[ $status = 0 ] || { grep -m20 -B2 -A8 "error" "$OUT/build.log"; exit 1; }

$BUILD/cuda-ops-test > "$OUT/ops-test.txt" 2>&1
echo "cuda-ops-test exit $?"; grep -E "matmul_mma|FAIL|passed|failed" "$OUT/ops-test.txt" | tail -25
COMMIT=$COMMIT $BUILD/cuda-gemm-bench --json "$OUT/gemm-bench.json" 2>&1 | tee "$OUT/gemm-bench.txt"
PYTHONUNBUFFERED=1 python3 "$REPO/bench/gpu/gemm_torch.py" "$OUT/gemm-torch.json" 2>&1 | tee "$OUT/gemm-torch.txt"
for prompt in 512 4096; do
  agree=64; cpu=1
  [ $prompt = 4096 ] && { agree=0; cpu=0; }
  COMMIT=$COMMIT $BUILD/cuda-forward-bench smollm2-shape --threads "$(nproc)" --prompt $prompt --decode 32 \
    --agree $agree --cpu $cpu --json "$OUT/forward-smollm2-$prompt.json" 2>&1 | tee -a "$OUT/forward-bench.txt"
done
for prompt in 512 4096; do
  COMMIT=$COMMIT timeout 120 $BUILD/cuda-forward-bench llama8b-shape:2 --threads "$(nproc)" --prompt $prompt --decode 8 \
    --agree $([ $prompt = 512 ] && echo 64 || echo 0) --cpu 0 --json "$OUT/forward-8b-$prompt.json" 2>&1 | tee -a "$OUT/forward-bench.txt"
done
$BUILD/cuda-forward-test > "$OUT/forward-test.txt" 2>&1
echo "cuda-forward-test exit $?"; tail -12 "$OUT/forward-test.txt"
