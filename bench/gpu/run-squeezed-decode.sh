#!/usr/bin/env bash
# One call on the GPU machine for decode attention (issue 4): squeezed decode (lookup + attention over
# the selection) and dense decode, each beside PyTorch SDPA (cuDNN, flash) and, optionally, beside the
# same benches built from a baseline commit, all in the same call. Sources are `git archive`s (never
# the shared working tree), carried under .gl/<dir>:
#   mkdir -p .gl/fgd && git archive -o .gl/fgd/src.tar HEAD && git archive -o .gl/fgd/base.tar <baseline>
#   COMMIT=<sha> BASE=<baseline sha> DATE=<yyyy-mm-dd> PARTS="tests bench dense baseline memcheck models" \
#       bash bench/gpu/run-squeezed-decode.sh          (carry .gl/fgd; ~210 s on an H200)
# PARTS: tests    cuda-ops-test, cuda-squeeze-test
#        bench    cuda-squeeze-bench + SDPA bf16 -> gpu-squeezed-<date>.{json,md}
#        dense    cuda-bench --dtypes bf16 (dense decode, the split sweep) -> gpu-attention-<date>.{json,md}
#        baseline the two benches from base.tar: the squeeze bench joined into its report (keys from
#                 BASE_MIN_KEYS, default 262144), the dense one as dense-baseline.json
#        memcheck both tests under compute-sanitizer
#        models   cuda-forward-test and cuda-doc-test (generated models: the real SmolLM2 needs two calls,
#                 see bench/gpu/final-device.sh)
# Into $OUT (at most 8 files): build.log, log.txt, raw.txt, gpu-squeezed-<date>.{json,md}, gpu-attention-<date>.{json,md},
# dense-baseline.json
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
DATE=${DATE:-$(date -u +%F)}
COMMIT=${COMMIT:-unknown}
BASE=${BASE:-}
PARTS=${PARTS:-"tests bench dense"}
CARRY=${CARRY:-.gl/fgd}
SRC=/tmp/fgd-src
OLD=/tmp/fgd-base
B=$SRC/build
J=/tmp/fgd-json
mkdir -p "$OUT" "$SRC" "$J"
rm -f /tmp/fgd-base-done
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
stamp() { echo "== $(date -u +%T) $*"; }

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
tar -xf "$CARRY/src.tar" -C "$SRC"
TOOLS="cuda-squeeze-bench cuda-bench"
has tests && TOOLS="$TOOLS cuda-ops-test cuda-squeeze-test"
has models && TOOLS="$TOOLS cuda-forward-test cuda-doc-test"

# The baseline's two benches build directly (nvcc + g++, only what they use) beside the CMake build.
build_baseline() {
  mkdir -p "$OLD/b" && tar -xf "$CARRY/base.tar" -C "$OLD" && cd "$OLD" || return 1
  local pids="" fail=0 Q=native/src/squeeze
  for k in device lse-merge attention-decode squeeze-lookup squeezed-attention squeezed-decode gemv; do
    nvcc -std=c++17 -O3 -gencode=arch=compute_90,code=sm_90 -c kernels/$k.cu -o b/k-$k.o & pids="$pids $!"
  done
  for s in kmeans kernels cluster-index lookup sparse-attention; do g++ -std=c++17 -O3 -Inative/src -c $Q/$s.cpp -o b/c-$s.o & pids="$pids $!"; done
  g++ -std=c++17 -O3 -mavx2 -mfma -mf16c -Inative/src -c $Q/kernels-avx2.cpp -o b/c-kernels-avx2.o & pids="$pids $!"
  for t in cuda-squeeze-bench cuda-bench; do
    g++ -std=c++17 -O3 -DSQUEEZE_WITH_CUDA -Inative/src -Ikernels -I/usr/local/cuda/include -c native/tools/$t.cpp -o b/t-$t.o &
    pids="$pids $!"
  done
  for p in $pids; do wait $p || fail=1; done
  [ $fail = 0 ] && for t in cuda-squeeze-bench cuda-bench; do nvcc -arch=sm_90 b/t-$t.o b/k-*.o b/c-*.o -o b/$t || fail=1; done
  return $fail
}

squeezed_report() { # $1: extra arguments
  python3 bench/gpu/report_squeezed.py --squeezed $J/squeezed.json --sdpa $J/sdpa.json --out-dir "$OUT" \
    --date "$DATE" --commit "$COMMIT" $1 \
    --command "cuda-squeeze-bench --json squeezed.json; python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json sdpa.json (bench/gpu/run-squeezed-decode.sh)" \
    > /tmp/fgd-report-sq.txt 2>&1 || cat /tmp/fgd-report-sq.txt
}

# Its exit status lands in a file: the stages below run in subshells (the pipes to tee).
if has baseline; then { build_baseline; echo $? > /tmp/fgd-base-done; } > /tmp/fgd-base-build.log 2>&1 & fi
{
  stamp build
  cd "$SRC"
  { cmake -S native -B $B -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 > /dev/null &&
    cmake --build $B -j16 --target $TOOLS; } > /tmp/fgd-build.log 2>&1
  echo "build exit $?"
  grep -E -m 20 -A 4 "error" /tmp/fgd-build.log
} 2>&1 | tee "$OUT/build.log"
cd "$SRC"

# Stages in the order of what matters most, so that a call cut at its limit still brings back the first ones.
{
if has tests; then
  stamp cuda-squeeze-test
  timeout 100 $B/cuda-squeeze-test > /tmp/fgd-cuda-squeeze-test.txt 2>&1
  echo "cuda-squeeze-test exit $?"
  grep -E "selection|FAIL|fail|passed" /tmp/fgd-cuda-squeeze-test.txt | tail -40
fi
if has bench; then
  stamp squeeze-bench
  timeout 150 $B/cuda-squeeze-bench --reps 10 --json $J/squeezed.json > /tmp/fgd-sq.txt 2>&1
  echo "cuda-squeeze-bench exit $?"
fi
if has bench || has dense; then
  stamp sdpa
  PYTHONUNBUFFERED=1 timeout 90 python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json $J/sdpa.json > /tmp/fgd-sdpa.txt 2>&1
  echo "sdpa exit $?"
fi
if has bench; then
  squeezed_report ""
  grep -E "^\| (32|8) \| [0-9]+ \| 0.90" /tmp/fgd-report-sq.txt
fi
if has dense; then
  stamp cuda-bench
  timeout 80 $B/cuda-bench --dtypes bf16 --json $J/ours.json > /tmp/fgd-dense.txt 2>&1
  echo "cuda-bench exit $?"
  grep -E "keys Hkv" /tmp/fgd-dense.txt
  python3 bench/gpu/report.py --ours $J/ours.json --sdpa $J/sdpa.json --out-dir "$OUT" --date "$DATE" --commit "$COMMIT" \
    --command "cuda-bench --dtypes bf16 --json ours.json; python3 bench/gpu/sdpa_bench.py --dtypes bf16 --json sdpa.json (bench/gpu/run-squeezed-decode.sh)" \
    > /tmp/fgd-report-dense.txt 2>&1 || cat /tmp/fgd-report-dense.txt
  grep -E "^\| bf16 \| 8 " /tmp/fgd-report-dense.txt
fi
if has tests; then
  stamp cuda-ops-test
  timeout 60 $B/cuda-ops-test > /tmp/fgd-cuda-ops-test.txt 2>&1
  echo "cuda-ops-test exit $?"
  grep -E "attention|FAIL|fail|passed" /tmp/fgd-cuda-ops-test.txt | tail -30
fi
if has models; then
  for t in cuda-forward-test cuda-doc-test; do
    stamp $t
    timeout 100 $B/$t > /tmp/fgd-$t.txt 2>&1
    echo "$t exit $?: $(grep -E 'passed|failed' /tmp/fgd-$t.txt | tail -1)"
    grep -iE "fail" /tmp/fgd-$t.txt | head -10
  done
fi
if has memcheck; then
  for t in cuda-squeeze-test cuda-ops-test; do
    stamp memcheck $t
    timeout ${MEMCHECK_TIMEOUT:-80} compute-sanitizer --tool memcheck $B/$t > /tmp/fgd-mc-$t.txt 2>&1
    echo "memcheck $t exit $?: $(grep -E 'ERROR SUMMARY' /tmp/fgd-mc-$t.txt | tail -1)"
    grep -m 3 -A 6 "Invalid\|Race\|Error:" /tmp/fgd-mc-$t.txt | head -24
  done
fi
if has baseline && has bench; then
  stamp baseline
  while [ ! -f /tmp/fgd-base-done ]; do sleep 1; done
  echo "baseline build exit $(cat /tmp/fgd-base-done)"; tail -3 /tmp/fgd-base-build.log
  timeout 90 $OLD/b/cuda-squeeze-bench --reps 10 --min-keys ${BASE_MIN_KEYS:-262144} --json $J/squeezed-base.json > /tmp/fgd-sq-base.txt 2>&1
  echo "baseline cuda-squeeze-bench exit $?"
  squeezed_report "--baseline $J/squeezed-base.json --baseline-commit $BASE"
  grep -E "^\| (32|8) \| [0-9]+ \| 0.90" /tmp/fgd-report-sq.txt
fi
if has baseline && has dense; then
  stamp baseline cuda-bench
  timeout 60 $OLD/b/cuda-bench --json $J/ours-base.json > /tmp/fgd-dense-base.txt 2>&1
  echo "baseline cuda-bench exit $?"
  grep -E "^bf16 +32 +8 " /tmp/fgd-dense-base.txt
  cp $J/ours-base.json "$OUT/dense-baseline.json"
fi
stamp done
} 2>&1 | tee "$OUT/log.txt"
cat /tmp/fgd-cuda-*-test.txt /tmp/fgd-sq.txt /tmp/fgd-sq-base.txt /tmp/fgd-dense.txt /tmp/fgd-dense-base.txt /tmp/fgd-sdpa.txt \
  > "$OUT/raw.txt" 2>/dev/null
