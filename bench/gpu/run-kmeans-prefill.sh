#!/usr/bin/env bash
# One call on the GPU machine for K-means, prefill attention and the squeezed decode's timing: build
# the CUDA tools directly (nvcc + g++, only the kernels and CPU files they use, in parallel: no
# dependence on the rest of native/src building), run the op tests, the benches and PyTorch SDPA's in
# the same run, and write the joined reports. Into $OUT (at most 8 files come back):
#   build.log  tests.txt  gpu-kmeans-<date>.{json,md}  gpu-prefill-<date>.{json,md}
#   gpu-squeezed-<date>-graph.{json,md}  ncu-lookup.txt
#   COMMIT=<sha> DATE=<yyyy-mm-dd> PARTS="tests prefill decode memcheck ncu" bash bench/gpu/run-kmeans-prefill.sh
# PARTS: tests (cuda-kmeans-test, cuda-prefill-test, cuda-squeeze-test), kmeans (cuda-kmeans-bench), prefill (cuda-prefill-bench
#        + sdpa_prefill_bench.py), decode (cuda-squeeze-bench with CUDA-graph replay + sdpa_bench.py bf16),
#        memcheck (the tests under compute-sanitizer), ncu (the decode lookup's kernels at 512K keys, Hkv 32).
set -u
OUT=${OUT:-/tmp/squeeze-gpu-out}
DATE=${DATE:-$(date -u +%F)}
COMMIT=${COMMIT:-unknown}
PARTS=${PARTS:-"tests kmeans prefill decode memcheck"}
B=build/gpu-kmeans-prefill
mkdir -p "$OUT" $B
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv
nvcc --version | tail -2

Q=native/src/squeeze
KERNELS="device lse-merge kmeans kmeans-assign kmeans-seed kmeans-update attention-prefill squeeze-lookup-prefill squeezed-prefill
         attention-decode squeeze-lookup squeezed-decode"
TOOLS="cuda-kmeans-test cuda-kmeans-bench cuda-prefill-test cuda-prefill-bench cuda-squeeze-test cuda-squeeze-bench"
{
  pids=""
  for k in $KERNELS; do
    nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -split-compile=0 -Xptxas -v -c kernels/$k.cu -o $B/k-$k.o > $B/ptxas-$k.txt 2>&1 &
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
  cat $B/ptxas-*.txt | grep -E 'error|Used|spill' | grep -B1 -E 'spill stores, [1-9]|error' || true
  [ $fail = 0 ] && for t in $TOOLS; do
    nvcc -arch=sm_90 $B/t-$t.o $B/k-*.o $B/c-*.o -o $B/$t || fail=1
  done
  echo "build fail=$fail"
} > "$OUT/build.log" 2>&1
tail -3 "$OUT/build.log"

if has tests; then
  for t in cuda-kmeans-test cuda-prefill-test cuda-squeeze-test; do
    $B/$t >> "$OUT/tests.txt" 2>&1
    echo "$t exit $?" >> "$OUT/tests.txt"
  done
  cat "$OUT/tests.txt"
fi

if has kmeans; then
  $B/cuda-kmeans-bench --json $B/kmeans.json
  grep -E '^  kmeans|ratio' "$OUT/tests.txt" > $B/kmeans-test.txt 2>/dev/null
  python3 bench/gpu/report_kmeans.py --bench $B/kmeans.json --test $B/kmeans-test.txt --out-dir "$OUT" --date "$DATE" \
      --commit "$COMMIT" --command "$B/cuda-kmeans-bench --json kmeans.json" > /dev/null
fi

if has prefill; then
  $B/cuda-prefill-bench --json $B/prefill.json
  PYTHONUNBUFFERED=1 python3 bench/gpu/sdpa_prefill_bench.py --json $B/sdpa-prefill.json
  python3 bench/gpu/report_prefill.py --ours $B/prefill.json --sdpa $B/sdpa-prefill.json --out-dir "$OUT" --date "$DATE" \
      --commit "$COMMIT" \
      --command "$B/cuda-prefill-bench --json prefill.json; python3 bench/gpu/sdpa_prefill_bench.py --json sdpa-prefill.json" > /dev/null
fi

if has decode; then
  $B/cuda-squeeze-bench --json $B/squeezed.json
  python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json $B/sdpa-decode.json
  python3 bench/gpu/report_squeezed.py --squeezed $B/squeezed.json --sdpa $B/sdpa-decode.json --out-dir "$OUT" \
      --date "$DATE-graph" --commit "$COMMIT" \
      --command "$B/cuda-squeeze-bench --json squeezed.json; python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json sdpa-decode.json" \
      > /dev/null
fi

# Memory errors the numbers cannot show: out-of-bounds or misaligned accesses in any op.
if has memcheck; then
  for t in ${MEMCHECK_TOOLS:-cuda-prefill-test}; do
    timeout 45 compute-sanitizer --tool memcheck $B/$t > /tmp/memcheck-$t.txt 2>&1
    echo "$t memcheck exit $?: $(grep -E 'ERROR SUMMARY' /tmp/memcheck-$t.txt | tail -1)" >> "$OUT/tests.txt"
    grep -m 5 -A 8 "Invalid\|Error" /tmp/memcheck-$t.txt | head -40 >> "$OUT/tests.txt"
  done
  tail -12 "$OUT/tests.txt"
fi

# Where the decode lookup's time goes (its three kernels for the first sparsity at 512K keys, Hkv 32,
# two calls): hardware counters, clocks left as found.
if has ncu; then
  timeout ${NCU_TIMEOUT:-100} ncu --clock-control none -k regex:"score_level0|select_level|compact" --launch-count 6 \
      --section SpeedOfLight --section Occupancy --section LaunchStats --section WarpStateStats --section MemoryWorkloadAnalysis \
      $B/cuda-squeeze-bench --min-keys 524288 --reps 1 > "$OUT/ncu-lookup.txt" 2>&1
  echo "ncu exit $?"
  grep -E "select_level|score_level0|compact_kernel|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Registers Per|Theoretical Occupancy|Block Limit" "$OUT/ncu-lookup.txt" | head -60
fi
