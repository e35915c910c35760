#!/usr/bin/env bash
# One call on the GPU machine for the squeezed decode (issue 4): build cuda-squeeze-test and
# cuda-squeeze-bench directly (nvcc + g++, only the kernels and CPU files they use, in parallel), run
# the test, the bench beside PyTorch SDPA (cuDNN and flash) in the same run, the test under
# compute-sanitizer, and an ncu profile of the fused lookup kernel. Into $OUT (at most 8 files):
#   build.log  tests.txt  bench.txt  gpu-squeezed-<date>.{json,md}  ncu-lookup.txt
# Run it from an unpacked `git archive` of the commit under test (never the shared working tree):
#   COMMIT=<sha> DATE=<yyyy-mm-dd> PARTS="tests bench memcheck ncu" bash bench/gpu/run-squeezed-decode.sh
set -u
OUT=${OUT:-/tmp/squeeze-gpu-out}
DATE=${DATE:-$(date -u +%F)}
COMMIT=${COMMIT:-unknown}
PARTS=${PARTS:-"tests bench memcheck ncu"}
B=build/gpu-squeezed
mkdir -p "$OUT" $B
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
nvcc --version | tail -2

Q=native/src/squeeze
KERNELS="device lse-merge attention-decode squeeze-lookup squeezed-attention squeezed-decode"
TOOLS="cuda-squeeze-test cuda-squeeze-bench"
{
  pids=""
  for k in $KERNELS; do
    nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -Xptxas -v -c kernels/$k.cu -o $B/k-$k.o > $B/ptxas-$k.txt 2>&1 &
    pids="$pids $!"
  done
  for s in kmeans kernels cluster-index lookup sparse-attention; do g++ -std=c++17 -O3 -Inative/src -c $Q/$s.cpp -o $B/c-$s.o & pids="$pids $!"; done
  g++ -std=c++17 -O3 -mavx2 -mfma -mf16c -Inative/src -c $Q/kernels-avx2.cpp -o $B/c-kernels-avx2.o & pids="$pids $!"
  for t in $TOOLS; do
    g++ -std=c++17 -O3 -DSQUEEZE_WITH_CUDA -Inative/src -Ikernels -I/usr/local/cuda/include -c native/tools/$t.cpp -o $B/t-$t.o &
    pids="$pids $!"
  done
  fail=0
  for p in $pids; do wait $p || fail=1; done
  cat $B/ptxas-*.txt | grep -E 'error|Used|spill'
  [ $fail = 0 ] && for t in $TOOLS; do
    nvcc -arch=sm_90 $B/t-$t.o $B/k-*.o $B/c-*.o -o $B/$t || fail=1
  done
  echo "build fail=$fail"
} > "$OUT/build.log" 2>&1
tail -3 "$OUT/build.log"

if has tests; then
  timeout 150 $B/cuda-squeeze-test > "$OUT/tests.txt" 2>&1
  echo "cuda-squeeze-test exit $?" >> "$OUT/tests.txt"
  cat "$OUT/tests.txt"
fi

if has bench; then
  timeout 200 $B/cuda-squeeze-bench --json $B/squeezed.json > "$OUT/bench.txt" 2>&1
  echo "cuda-squeeze-bench exit $?" >> "$OUT/bench.txt"
  PYTHONUNBUFFERED=1 timeout 100 python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json $B/sdpa-decode.json >> "$OUT/bench.txt" 2>&1
  python3 bench/gpu/report_squeezed.py --squeezed $B/squeezed.json --sdpa $B/sdpa-decode.json --out-dir "$OUT" \
      --date "$DATE" --commit "$COMMIT" \
      --command "$B/cuda-squeeze-bench --json squeezed.json; python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json sdpa-decode.json" \
      >> "$OUT/bench.txt" 2>&1
  grep -E "sparsity 0.90|dense" "$OUT/bench.txt"
fi

# Memory errors the numbers cannot show: out-of-bounds or misaligned accesses, races on shared memory.
if has memcheck; then
  timeout ${MEMCHECK_TIMEOUT:-90} compute-sanitizer --tool memcheck $B/cuda-squeeze-test > /tmp/memcheck.txt 2>&1
  echo "memcheck exit $?: $(grep -E 'ERROR SUMMARY' /tmp/memcheck.txt | tail -1)" >> "$OUT/tests.txt"
  grep -m 5 -A 8 "Invalid\|Error" /tmp/memcheck.txt | head -40 >> "$OUT/tests.txt"
  tail -4 "$OUT/tests.txt"
fi

# The fused lookup at 512K keys, Hkv 32 (first sparsity: the checked call and two timed ones):
# hardware counters, clocks left as found.
if has ncu; then
  timeout ${NCU_TIMEOUT:-100} ncu --clock-control none -k "regex:lookup_kernel" --launch-count 3 \
      --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis \
      $B/cuda-squeeze-bench --min-keys 524288 --reps 1 > "$OUT/ncu-lookup.txt" 2>&1
  echo "ncu exit $?"
  grep -E "lookup_kernel|Duration|Memory Throughput|Achieved Occupancy|Registers Per|Warp Cycles Per Issued|Eligible Warps|Issued Warp" "$OUT/ncu-lookup.txt" | head -40
fi
