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
# torch 2.14.1 / torchvision 0.29.1 are pinned in pyproject.toml.
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
.venv/bin/python -c "import aibench, torch, torchvision; print(f'aibench {aibench.__version__}, torch {torch.__version__}, torchvision {torchvision.__version__}')"
