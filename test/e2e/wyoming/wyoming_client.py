"""Drives `serve --wyoming` with the real `wyoming` package (PyPI): describe, then one transcription
of a WAV file in non-streaming or streaming mode, as wyoming-bench's client does. Prints one JSON
line: {info, mode, transcript, chunks, events, total_ms, first_chunk_ms} (events: the type of every event read, in order).

usage: wyoming_client.py HOST PORT WAV MODE(non-streaming|streaming) LANGUAGE
"""
import asyncio
import json
import sys
import time
import wave

from wyoming.asr import Transcribe, Transcript, TranscriptChunk, TranscriptStop
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.info import Describe, Info


async def main() -> None:
    host, port, wav_path, mode, language = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    out = {"mode": mode, "events": [], "chunks": [], "transcript": None}
    async with AsyncTcpClient(host, port, connect_timeout=10, read_timeout=60) as client:
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            assert event is not None, "connection closed before info"
            if Info.is_type(event.type):
                info = Info.from_event(event)
                program = info.asr[0]
                out["info"] = {
                    "name": program.name,
                    "streaming": program.supports_transcript_streaming,
                    "models": [m.name for m in program.models],
                    "fr": "fr" in program.models[0].languages,
                }
                break

    async with AsyncTcpClient(host, port, connect_timeout=10, read_timeout=60) as client:
        with wave.open(wav_path, "rb") as wav:
            rate, width, channels = wav.getframerate(), wav.getsampwidth(), wav.getnchannels()
            pcm = wav.readframes(wav.getnframes())

        async def send() -> None:
            await client.write_event(Transcribe(language=language).event())
            await client.write_event(AudioStart(rate=rate, width=width, channels=channels, timestamp=0).event())
            step = 1024 * width * channels
            for offset in range(0, len(pcm), step):
                await client.write_event(AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[offset:offset + step]).event())
                if mode == "streaming":
                    await asyncio.sleep(1024 / rate)  # paced like a live microphone
            await client.write_event(AudioStop().event())

        terminal = TranscriptStop if mode == "streaming" else Transcript
        started = time.perf_counter()
        sender = asyncio.create_task(send())
        while True:
            event = await client.read_event()
            assert event is not None, "connection closed before the transcript"
            out["events"].append(event.type)
            if Error.is_type(event.type):
                raise RuntimeError(f"server error: {Error.from_event(event)}")
            if TranscriptChunk.is_type(event.type):
                out["chunks"].append(TranscriptChunk.from_event(event).text)
                out.setdefault("first_chunk_ms", round((time.perf_counter() - started) * 1000))
            if Transcript.is_type(event.type):
                out["transcript"] = Transcript.from_event(event).text
                out["total_ms"] = round((time.perf_counter() - started) * 1000)
            if terminal.is_type(event.type):
                break
        await sender
    print(json.dumps(out, ensure_ascii=False))


asyncio.run(main())
