"""faster-whisper peer of the decode benchmark: one process per decoding config, so peak RSS is its own.

Usage: faster_whisper_runner.py --model DIR --clips clips.json --config config.json --out results.jsonl --summary summary.json

clips.json:  [{"id", "lang", "path"}]  (16 kHz mono 16-bit PCM WAV, as in ../shared/corpus)
config.json: {"name", "beamSize", "bestOf", "temperatures", "withoutTimestamps", "conditionOnPreviousText", "threads"}
Writes one JSON line per clip {"id", "text", "decodeMs"} and a summary {"loadMs", "peakRssBytes", ...}.

decodeMs covers transcribe() *and* draining its segment generator (faster-whisper decodes lazily while the
generator is consumed); reading the WAV is outside it, as in the other runners.
"""

import argparse
import json
import platform
import resource
import sys
import time
import wave

import numpy as np


def read_wav16k(path: str) -> np.ndarray:
    # Same conversion as bench/decode/wav16.mjs: int16 / 32768 → float32, no resampling (the corpus is 16 kHz mono).
    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise SystemExit(
                f"{path}: expected 16 kHz mono 16-bit PCM, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} ch, {8 * w.getsampwidth()}-bit"
            )
        frames = w.readframes(w.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def main() -> None:
    ap = argparse.ArgumentParser()
    for name in ("--model", "--clips", "--config", "--out", "--summary"):
        ap.add_argument(name, required=True)
    args = ap.parse_args()

    with open(args.clips, encoding="utf-8") as f:
        clips = json.load(f)
    with open(args.config, encoding="utf-8") as f:
        cfg = json.load(f)

    # Imported after argument parsing so a usage error does not pay for loading CTranslate2.
    import ctranslate2
    import faster_whisper
    from faster_whisper import WhisperModel

    t0 = time.perf_counter()
    model = WhisperModel(
        args.model, device="cpu", compute_type="int8", cpu_threads=cfg["threads"], num_workers=1
    )
    load_ms = (time.perf_counter() - t0) * 1000.0

    def transcribe(audio: np.ndarray, lang: str) -> str:
        segments, _info = model.transcribe(
            audio,
            language=lang,
            task="transcribe",
            beam_size=cfg["beamSize"],
            best_of=cfg["bestOf"],
            patience=1.0,
            length_penalty=1.0,
            temperature=cfg["temperatures"],
            compression_ratio_threshold=2.4,
            log_prob_threshold=-1.0,
            no_speech_threshold=0.6,
            condition_on_previous_text=cfg["conditionOnPreviousText"],
            without_timestamps=cfg["withoutTimestamps"],
            vad_filter=False,
        )
        # Segment texts carry their leading space; joined as faster-whisper's own CLI users do.
        return "".join(s.text for s in segments).strip()

    audios = [(c, read_wav16k(c["path"])) for c in clips]
    # Warm-up: the first decode pays one-off allocations; every system gets exactly one untimed call.
    warm_clip, warm_audio = audios[0]
    t0 = time.perf_counter()
    transcribe(warm_audio, warm_clip["lang"])
    warmup_ms = (time.perf_counter() - t0) * 1000.0

    with open(args.out, "w", encoding="utf-8") as out:
        for clip, audio in audios:
            t0 = time.perf_counter()
            text = transcribe(audio, clip["lang"])
            decode_ms = (time.perf_counter() - t0) * 1000.0
            out.write(json.dumps({"id": clip["id"], "text": text, "decodeMs": decode_ms}, ensure_ascii=False) + "\n")
            out.flush()

    # Linux reports ru_maxrss in KiB (the whole process: CTranslate2's threads included).
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    summary = {
        "system": "faster-whisper",
        "config": cfg["name"],
        "versions": {
            "faster-whisper": faster_whisper.__version__,
            "ctranslate2": ctranslate2.__version__,
            "python": platform.python_version(),
        },
        "computeType": "int8",
        "threads": {"cpu_threads": cfg["threads"], "num_workers": 1},
        "loadMs": load_ms,
        "warmupMs": warmup_ms,
        "peakRssBytes": peak_rss,
        "peakRssMethod": "getrusage(RUSAGE_SELF).ru_maxrss",
    }
    with open(args.summary, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
