#!/usr/bin/env bash
# Every test suite: native unit tests (ctest), a short run of the GGUF fuzzer, and the Node tests
# (engine vs llama.cpp, tokenizer, CLI). Ends with one line "N passed, N failed" over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."

npm run --silent build:native >/tmp/squeeze-build.log 2>&1 || { tail -50 /tmp/squeeze-build.log; echo "0 passed, 1 failed"; exit 1; }
bash scripts/fetch-models.sh || { echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
logs=$(mktemp -d)

echo "== type check (tsc --noEmit)"
if npx tsc --noEmit -p tsconfig.json; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

echo "== native unit tests (ctest)"
ctest --test-dir build/native --output-on-failure 2>&1 | tee "$logs/ctest.log"
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$logs/ctest.log" | tail -1)
bad=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$logs/ctest.log" | tail -1)
passed=$((passed + ${total:-0} - ${bad:-0}))
failed=$((failed + ${bad:-0}))
[ -n "${total:-}" ] || failed=$((failed + 1))

echo "== GGUF reader fuzzing"
# libFuzzer's progress log is long; keep it in a file and show its summary.
if bash scripts/fuzz-gguf.sh "${SQUEEZE_FUZZ_SECONDS:-30}" >"$logs/fuzz.log" 2>&1; then
  passed=$((passed + 1))
  grep -E '^(stat::number_of_executed_units|Done)' "$logs/fuzz.log" || tail -3 "$logs/fuzz.log"
else
  failed=$((failed + 1))
  tail -40 "$logs/fuzz.log"
fi

echo "== node tests"
mapfile -t files < <(find test -name '*.test.ts' -not -path 'test/e2e/*' | sort)
node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$logs/node.tap" "${files[@]}"
node_pass=$(sed -n 's/^# pass \([0-9]*\)/\1/p' "$logs/node.tap" | tail -1)
node_fail=$(sed -n 's/^# fail \([0-9]*\)/\1/p' "$logs/node.tap" | tail -1)
passed=$((passed + ${node_pass:-0}))
failed=$((failed + ${node_fail:-0}))
[ -n "${node_pass:-}" ] || failed=$((failed + 1))

echo "== renderer type check"
if npx tsc --noEmit -p renderer/tsconfig.json; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

echo "== end to end (browser mode in Debian Chromium, SmolLM2)"
node --import tsx test/e2e/run.ts 2>&1 | tee "$logs/e2e.log"
e2e_pass=$(sed -n 's/^\([0-9]*\) passed, [0-9]* failed$/\1/p' "$logs/e2e.log" | tail -1)
e2e_fail=$(sed -n 's/^[0-9]* passed, \([0-9]*\) failed$/\1/p' "$logs/e2e.log" | tail -1)
passed=$((passed + ${e2e_pass:-0}))
failed=$((failed + ${e2e_fail:-1}))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
