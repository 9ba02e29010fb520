#!/usr/bin/env bash
# Create .venv (once) and install AIBench with its pinned dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian's python3 ships venv separately.
    rm -rf .venv
    apt-get install -y -q python3-venv >/dev/null
    "$PYTHON" -m venv .venv
  fi
fi
# Debian packages (need root): espeak-ng speaks C6's embedded LibriSpeech-format corpus (real synthesized speech);
# chromium is the headless browser the report's test opens `aibench report`'s HTML in.
apt_install() {  # $1 command, $2 package, $3 what is lost without it
  command -v "$1" >/dev/null 2>&1 && return 0
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get install -y -q "$2" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; }
  else
    echo "note: $2 is not installed (apt-get install $2); $3" >&2
  fi
}
apt_install espeak-ng espeak-ng "C6's embedded data cannot be generated"
apt_install chromium chromium "the report's browser test is skipped"
# torch 2.14.1 / torchvision 0.29.1 are pinned in pyproject.toml.
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/python -c "import aibench, torch, torchvision; print(f'aibench {aibench.__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}')"
