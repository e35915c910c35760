#!/usr/bin/env bash
# Everything a fresh Debian machine needs before `npm start` or `npm test`: system packages,
# npm packages (Electron's binary is skipped: it cannot be downloaded here), and the default model.
set -euo pipefail
cd "$(dirname "$0")/.."

# clang: the GGUF fuzzer; chromium: browser mode and the end-to-end tests (never a downloaded browser)
packages=(cmake g++ make clang python3-pip unzip chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install these Debian packages: ${missing[*]}" >&2
    exit 1
  fi
fi

export ELECTRON_SKIP_BINARY_DOWNLOAD=1
npm ci --no-audit --no-fund
bash scripts/fetch-models.sh
npm run build:native
