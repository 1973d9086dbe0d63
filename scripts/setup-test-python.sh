#!/usr/bin/env bash
# The Python side of the Wyoming server's tests: a venv at <repo>/.work/pyenv (git-ignored) holding the
# `wyoming` package from PyPI, whose AsyncTcpClient the e2e test drives against `serve --wyoming`.
# Idempotent: a venv that already imports the pinned version is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

WYOMING_VERSION="1.10.2"
VENV=".work/pyenv"
PY="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "$WYOMING_VERSION" <<'PYCHECK' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("wyoming") == sys.argv[1] else 1)
PYCHECK
then
  echo "setup-test-python: $VENV already has wyoming==$WYOMING_VERSION"
  exit 0
fi

mkdir -p .work
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "wyoming==$WYOMING_VERSION"
"$VENV/bin/python" -c "import wyoming.client, wyoming.asr, wyoming.audio; print('setup-test-python: wyoming ready in $VENV')"
