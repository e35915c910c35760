#!/usr/bin/env bash
# One call on the GPU machine for the question's prefill (issue 4: squeezed prefill >= 6x cuDNN at
# 90%): build the prefill tools and cuda-doc-test from the committed tree with plain CMake (sm_90;
# SQUEEZE_SM90A=ON adds the sm_90a kernels), run the op tests (cuda-prefill-test, also under
# compute-sanitizer memcheck; cuda-doc-test on a generated SmolLM2-shaped model: the document path
# calls the prefill lookup; cuda-forward-test on generated models with PARTS forward), then cuda-prefill-bench and PyTorch SDPA (cuDNN, flash) in the same run,
# joined by report_prefill.py. Into $OUT (at most 8 files come back):
#   build.log  tests.txt  gpu-prefill-<date>.{json,md}  bench.txt  sdpa.txt
# Here, before the call (the working tree holds others' unfinished files):
#   mkdir -p .gl/prefill && git archive -o .gl/prefill/src.tar HEAD   (elsewhere: TARBALL=<path>)
# On the device (carry .gl/prefill):
#   COMMIT=<sha> DATE=<yyyy-mm-dd> PARTS="tests doc forward memcheck bench" bash bench/gpu/prefill-device.sh
set -u -o pipefail
OUT=${OUT:-/tmp/squeeze-gpu-out}
DATE=${DATE:-$(date -u +%F)}
COMMIT=${COMMIT:-unknown}
PARTS=${PARTS:-"tests doc memcheck bench"}
SRC=/tmp/prefill-src
BUILD=$SRC/build
mkdir -p "$OUT" "$SRC"
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
if [ "$(cat $SRC/.commit 2>/dev/null)" != "$COMMIT" ]; then
  tar -xf "${TARBALL:-.gl/prefill/src.tar}" -C "$SRC" && echo "$COMMIT" > "$SRC/.commit"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader
TARGETS="cuda-prefill-test cuda-prefill-bench"
has doc && TARGETS="$TARGETS cuda-doc-test"
has forward && TARGETS="$TARGETS cuda-forward-test"

cd "$SRC"
{ cmake -S native -B $BUILD -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DSQUEEZE_SM90A=${SQUEEZE_SM90A:-ON} &&
  cmake --build $BUILD -j16 --target $TARGETS; } > "$OUT/build.log" 2>&1
status=$?
tail -2 "$OUT/build.log"
[ $status = 0 ] || { grep -m20 -B2 -A8 "error" "$OUT/build.log"; exit 1; }

if has tests; then
  timeout 60 $BUILD/cuda-prefill-test > /tmp/prefill-test.txt 2>&1
  echo "cuda-prefill-test exit $?" >> /tmp/prefill-test.txt
  cat /tmp/prefill-test.txt >> "$OUT/tests.txt"
  cat /tmp/prefill-test.txt
fi
if has doc; then
  timeout ${DOC_TIMEOUT:-120} $BUILD/cuda-doc-test > /tmp/doc-test.txt 2>&1
  echo "cuda-doc-test exit $?" >> /tmp/doc-test.txt
  cat /tmp/doc-test.txt >> "$OUT/tests.txt"
  grep -E "passed|failed|FAIL|exit" /tmp/doc-test.txt | tail -5
fi
# The forward pass on generated models (it calls attention_prefill past 2048 keys).
if has forward; then
  timeout ${FORWARD_TIMEOUT:-120} $BUILD/cuda-forward-test > /tmp/forward-test.txt 2>&1
  echo "cuda-forward-test exit $?" >> /tmp/forward-test.txt
  cat /tmp/forward-test.txt >> "$OUT/tests.txt"
  grep -E "passed|failed|FAIL|exit" /tmp/forward-test.txt | tail -5
fi
# Memory errors the numbers cannot show: out-of-bounds or misaligned accesses in any op.
if has memcheck; then
  timeout 60 compute-sanitizer --tool memcheck $BUILD/cuda-prefill-test > /tmp/memcheck.txt 2>&1
  echo "cuda-prefill-test memcheck exit $?: $(grep -E 'ERROR SUMMARY' /tmp/memcheck.txt | tail -1)" | tee -a "$OUT/tests.txt"
  grep -m 5 -A 8 "Invalid\|Error" /tmp/memcheck.txt | head -40 >> "$OUT/tests.txt"
fi

if has bench; then
  timeout ${BENCH_TIMEOUT:-120} $BUILD/cuda-prefill-bench --json /tmp/prefill.json 2>&1 | tee "$OUT/bench.txt"
  PYTHONUNBUFFERED=1 timeout 90 python3 bench/gpu/sdpa_prefill_bench.py --json /tmp/sdpa-prefill.json > "$OUT/sdpa.txt" 2>&1
  echo "sdpa exit $?"
  python3 bench/gpu/report_prefill.py --ours /tmp/prefill.json --sdpa /tmp/sdpa-prefill.json --out-dir "$OUT" --date "$DATE" \
      --commit "$COMMIT" \
      --command "cuda-prefill-bench --json prefill.json; python3 bench/gpu/sdpa_prefill_bench.py --json sdpa-prefill.json" \
    > /tmp/report.txt
  tail -45 /tmp/report.txt
fi
