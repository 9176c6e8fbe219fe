#!/usr/bin/env bash
# One-shot, offline-safe install: creates .venv/ in the repository root with the `kb` command.
# Order matters: torch alone first (a local CPU wheel); everything else after, so nothing pulls CUDA.
# Idempotent: a second run with an unchanged pyproject.toml is a no-op (a stamp file records it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.kb-installed
want=$(cat pyproject.toml constraints.txt scripts/install.sh third_party/en_core_web_sm/pyproject.toml | sha256sum | cut -c1-16)

export DO_NOT_TRACK=true SCARF_NO_ANALYTICS=true UNSTRUCTURED_DISABLE_NOTICE=1 \
       HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/kb" ]; then
  echo "install: .venv is up to date"
else
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip wheel setuptools
  "$VENV/bin/python" -c "import torch" 2>/dev/null || "$VENV/bin/python" -m pip install -q torch==2.13.0
  # the versions in constraints.txt (scripts/lock.sh): the ones the tests and figures were run with;
  # where an index lacks one of them, the newest versions pyproject.toml allows, with a warning
  if ! "$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[all]" ./third_party/en_core_web_sm; then
    echo "install: WARNING: the locked versions (constraints.txt) did not install; installing the newest allowed" >&2
    "$VENV/bin/python" -m pip install -q -e ".[all]" ./third_party/en_core_web_sm
  fi
  echo "$want" > "$STAMP"
  echo "install: .venv ready ($("$VENV/bin/python" --version))"
fi

# The browser for the web-page tests: Debian's chromium + chromedriver (Playwright's own download
# cannot work offline). Needs root; skipped with a note otherwise (those tests then skip).
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ "${KB_SKIP_BROWSER:-0}" != 1 ]; then
    echo "install: adding Debian chromium + chromium-driver for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null) \
      || echo "install: WARNING: could not install chromium; browser tests will be skipped"
  else
    echo "install: chromium not installed (not root or KB_SKIP_BROWSER=1); browser tests will be skipped"
  fi
fi
