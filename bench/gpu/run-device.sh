#!/usr/bin/env bash
# One call on the GPU machine: build the CUDA tools, run the op tests, benchmark our kernels and
# PyTorch SDPA in the same run, and write the joined reports. Everything lands in $OUT (at most 8
# files come back):
#   build.log  tests.txt  bench.txt  <ours/squeezed/sdpa JSON>  gpu-attention-<date>.{json,md}  gpu-squeezed-<date>.{json,md}
#   COMMIT=<sha> DATE=<yyyy-mm-dd> PARTS="tests squeezed dense" bash bench/gpu/run-device.sh
# PARTS: tests (cuda-ops-test, cuda-squeeze-test, then both under compute-sanitizer memcheck),
#        squeezed (cuda-squeeze-bench + SDPA bf16 -> gpu-squeezed report),
#        dense (cuda-bench: dense decode sweep + SDPA bf16/f16 -> gpu-attention report).
set -u
OUT=${OUT:-/tmp/squeeze-gpu-out}
DATE=${DATE:-$(date -u +%F)}
COMMIT=${COMMIT:-unknown}
PARTS=${PARTS:-"tests squeezed dense"}
BUILD=build/gpu
TOOLS="cuda-ops-test cuda-squeeze-test cuda-bench cuda-squeeze-bench"
mkdir -p "$OUT"
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

{
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
  nvcc --version | tail -2
} > "$OUT/bench.txt" 2>&1

# The engine core globs every native/src file; should one not build, the tools still build from
# the few CPU files they use.
if ! { cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 &&
       cmake --build $BUILD -j16 --target $TOOLS; } > "$OUT/build.log" 2>&1; then
  echo "== cmake build failed; building the tools directly ==" >> "$OUT/build.log"
  BUILD=build/gpu-direct
  mkdir -p $BUILD
  S=native/src/backend/cpu
  Q=native/src/squeeze
  {
    g++ -std=c++17 -O3 -c -Inative/src -mavx2 -mfma -mf16c $S/quants-avx2.cpp -o $BUILD/qa2.o &&
    g++ -std=c++17 -O3 -c -Inative/src -mavx2 -mfma -mf16c $Q/kernels-avx2.cpp -o $BUILD/sqa2.o &&
    g++ -std=c++17 -O3 -c -Inative/src -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c \
        $S/quants-avx512.cpp -o $BUILD/qa512.o &&
    nvcc -std=c++17 -O3 -arch=sm_90 -c kernels/*.cu -odir $BUILD &&
    for t in $TOOLS; do
      nvcc -std=c++17 -O3 -DSQUEEZE_WITH_CUDA -Inative/src -Ikernels native/tools/$t.cpp $S/ops.cpp \
          $S/ops-attention.cpp $S/quants.cpp $S/quants-scalar.cpp native/src/common/tensor-type.cpp \
          $Q/cluster-index.cpp $Q/kmeans.cpp $Q/kernels.cpp $Q/lookup.cpp $Q/sparse-attention.cpp \
          $BUILD/*.o -o $BUILD/$t || echo "direct build of $t failed"
    done
  } >> "$OUT/build.log" 2>&1
fi
tail -3 "$OUT/build.log"

if has tests; then
  for t in cuda-ops-test cuda-squeeze-test; do
    $BUILD/$t >> "$OUT/tests.txt" 2>&1
    echo "$t exit $?" >> "$OUT/tests.txt"
  done
  cat "$OUT/tests.txt"
fi

if has squeezed; then
  $BUILD/cuda-squeeze-bench --json "$OUT/squeezed.json" >> "$OUT/bench.txt" 2>&1
  python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json "$OUT/sdpa-bf16.json" >> "$OUT/bench.txt" 2>&1
  python3 bench/gpu/report_squeezed.py --squeezed "$OUT/squeezed.json" --sdpa "$OUT/sdpa-bf16.json" --out-dir "$OUT" \
      --date "$DATE" --commit "$COMMIT" \
      --command "$BUILD/cuda-squeeze-bench --json squeezed.json; python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json sdpa-bf16.json" \
      >> "$OUT/bench.txt" 2>&1
fi

if has dense; then
  $BUILD/cuda-bench --json "$OUT/ours.json" >> "$OUT/bench.txt" 2>&1
  python3 bench/gpu/sdpa_bench.py --json "$OUT/sdpa.json" >> "$OUT/bench.txt" 2>&1
  python3 bench/gpu/report.py --ours "$OUT/ours.json" --sdpa "$OUT/sdpa.json" --out-dir "$OUT" --date "$DATE" \
      --commit "$COMMIT" \
      --command "$BUILD/cuda-bench --json ours.json; python3 bench/gpu/sdpa_bench.py --json sdpa.json" >> "$OUT/bench.txt" 2>&1
fi

# Memory errors the numbers cannot show: out-of-bounds or misaligned accesses in any op.
if has tests; then
  for t in cuda-ops-test cuda-squeeze-test; do
    timeout 90 compute-sanitizer --tool memcheck $BUILD/$t > /tmp/memcheck-$t.txt 2>&1
    echo "$t memcheck exit $?: $(grep -E 'ERROR SUMMARY' /tmp/memcheck-$t.txt | tail -1)" >> "$OUT/tests.txt"
    grep -m 5 -A 8 "Invalid\|Error" /tmp/memcheck-$t.txt | head -40 >> "$OUT/tests.txt"
  done
  tail -12 "$OUT/tests.txt"
fi
tail -60 "$OUT/bench.txt"
