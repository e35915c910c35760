#!/usr/bin/env bash
# One call on the GPU machine: build the CUDA tools, run the op tests, benchmark our kernels and
# PyTorch SDPA, and write the joined report. Everything lands in $OUT (at most 8 files come back):
#   build.log  ops-test.txt  bench.txt  ours.json  sdpa.json  gpu-attention-<date>.{json,md}
#   COMMIT=<sha> DATE=<yyyy-mm-dd> bash bench/gpu/run-device.sh
set -u
OUT=${OUT:-/tmp/squeeze-gpu-out}
DATE=${DATE:-$(date -u +%F)}
COMMIT=${COMMIT:-unknown}
BUILD=build/gpu
mkdir -p "$OUT"

{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
  nvcc --version | tail -2
} > "$OUT/bench.txt" 2>&1

# The engine core globs every native/src file; should one not build, the tools still build from
# the few CPU files they use.
if ! { cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
       cmake --build $BUILD -j16 --target cuda-ops-test cuda-bench; } > "$OUT/build.log" 2>&1; then
  echo "== cmake build failed; building the tools directly ==" >> "$OUT/build.log"
  BUILD=build/gpu-direct
  mkdir -p $BUILD
  S=native/src/backend/cpu
  {
    g++ -std=c++17 -O3 -c -Inative/src -mavx2 -mfma -mf16c $S/quants-avx2.cpp -o $BUILD/qa2.o &&
    g++ -std=c++17 -O3 -c -Inative/src -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c \
        $S/quants-avx512.cpp -o $BUILD/qa512.o &&
    nvcc -std=c++17 -O3 -arch=sm_90 -c kernels/*.cu -odir $BUILD &&
    for t in cuda-ops-test cuda-bench; do
      nvcc -std=c++17 -O3 -DSQUEEZE_WITH_CUDA -Inative/src -Ikernels native/tools/$t.cpp $S/ops.cpp \
          $S/ops-attention.cpp $S/quants.cpp $S/quants-scalar.cpp native/src/common/tensor-type.cpp \
          $BUILD/*.o -o $BUILD/$t || echo "direct build of $t failed"
    done
  } >> "$OUT/build.log" 2>&1
fi
tail -3 "$OUT/build.log"

$BUILD/cuda-ops-test > "$OUT/ops-test.txt" 2>&1
echo "cuda-ops-test exit $?" >> "$OUT/ops-test.txt"
cat "$OUT/ops-test.txt"

$BUILD/cuda-bench --json "$OUT/ours.json" >> "$OUT/bench.txt" 2>&1
python3 bench/gpu/sdpa_bench.py --json "$OUT/sdpa.json" >> "$OUT/bench.txt" 2>&1
python3 bench/gpu/report.py --ours "$OUT/ours.json" --sdpa "$OUT/sdpa.json" --out-dir "$OUT" --date "$DATE" \
    --commit "$COMMIT" \
    --command "$BUILD/cuda-bench --json ours.json; python3 bench/gpu/sdpa_bench.py --json sdpa.json" >> "$OUT/bench.txt" 2>&1

# Memory errors the numbers cannot show: out-of-bounds or misaligned accesses in any op.
timeout 150 compute-sanitizer --tool memcheck $BUILD/cuda-ops-test > /tmp/memcheck.txt 2>&1
echo "memcheck exit $?: $(grep -E 'ERROR SUMMARY' /tmp/memcheck.txt | tail -1)" >> "$OUT/ops-test.txt"
tail -1 "$OUT/ops-test.txt"
tail -60 "$OUT/bench.txt"
