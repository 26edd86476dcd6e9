"""Wyoming: what serving the assistant over the network costs, and how it holds up under load.

The same spoken commands (Piper's voice, cached) are transcribed and answered twice on the
speed profile: in this process (`app.stt.transcribe`, `app.ask`) and over loopback through
`voice-agent serve` with the `wyoming` library's client (a new connection per request, as
Home Assistant makes). The ratio of the medians is the protocol's overhead. Then 1, 4 and 8
clients at once each send a spoken command and ask for its answer, several rounds: the
p50/p95 of a whole request (transcript and answer) show the queueing of the shared models.

Run alone: .venv/bin/python -m benchmarks.wyoming [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.metrics import percentile
from benchmarks.speech import speak

PROFILE = "speed"
# Answered by skills: the brain's time is the assistant's, not a language model's.
COMMANDS = [
    "what time is it in Tokyo",
    "what is 25 times 7",
    "how many days until Christmas",
    "list my timers",
    "convert 5 miles to kilometers",
    "turn on the kitchen lights",
    "what can you do",
    "what was my last question",
]
CLIENTS = (1, 4, 8)
SETS = ("llm.warmup=false", "agents.timezone=UTC")  # no request here needs the LLM


def run(quick: bool, progress=None) -> dict:
    import tempfile

    rounds = 1 if quick else 3
    audio = {text: speak(text, "piper").astype("<i2").tobytes() for text in COMMANDS}
    task = progress.add_task("wyoming", total=1 + len(CLIENTS)) if progress else None

    def step() -> None:
        if progress:
            progress.advance(task)

    with tempfile.TemporaryDirectory() as work:
        # A store of its own, so the bench's turns stay out of the user's history.
        sets = (*SETS, f"store.path={work}/voice-agent.db", f"agents.files_root={work}/files")
        with _Server(sets) as port:
            local, remote = _side_by_side(port, audio, rounds, sets)
            step()
            load = {}
            for clients in CLIENTS:
                load[str(clients)] = asyncio.run(_concurrent(port, audio, clients, rounds))
                step()
    out: dict = {"profile": PROFILE, "commands": len(COMMANDS), "rounds": rounds, "load": load}
    for kind in ("transcribe", "handle"):
        here, there = statistics.median(local[kind]), statistics.median(remote[kind])
        out[kind] = {
            "in_process_ms_p50": here,
            "loopback_ms_p50": there,
            "overhead_ratio": there / here,
            "overhead_ms": there - here,
        }
    return out


def _side_by_side(
    port: int, audio: dict[str, bytes], rounds: int, sets: tuple[str, ...]
) -> tuple[dict, dict]:
    """Each command in this process and over loopback in turn, so both see the same load."""
    from voice_agent.app import build
    from voice_agent.config import load_settings

    app = build(load_settings(PROFILE, sets))
    local: dict[str, list[float]] = {"transcribe": [], "handle": []}
    remote: dict[str, list[float]] = {"transcribe": [], "handle": []}
    try:
        app.warmup(voice=True, llm=False)
        for _ in range(rounds):
            for pcm in audio.values():
                start = time.perf_counter()
                heard = app.stt.transcribe(pcm).text
                local["transcribe"].append(_ms(start))
                start = time.perf_counter()
                text = asyncio.run(_transcribe(port, pcm))
                remote["transcribe"].append(_ms(start))
                start = time.perf_counter()
                app.ask(heard)
                local["handle"].append(_ms(start))
                start = time.perf_counter()
                asyncio.run(_handle(port, text))
                remote["handle"].append(_ms(start))
    finally:
        app.close()
    return local, remote


async def _concurrent(port: int, audio: dict[str, bytes], clients: int, rounds: int) -> dict:
    """`clients` at once, each a spoken command (transcript, then answer) per round."""
    commands = list(audio.values())
    latencies: list[float] = []

    async def client(number: int) -> None:
        for round_ in range(rounds):
            pcm = commands[(number + round_) % len(commands)]
            start = time.perf_counter()
            await _handle(port, await _transcribe(port, pcm))
            latencies.append(_ms(start))

    start = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "per_s": len(latencies) / wall,
    }


async def _transcribe(port: int, pcm: bytes) -> str:
    from wyoming.asr import Transcribe, Transcript
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient

    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=16000, width=2, channels=1).event())
        for at in range(0, len(pcm), 3200):  # 100 ms chunks
            chunk = AudioChunk(rate=16000, width=2, channels=1, audio=pcm[at : at + 3200])
            await client.write_event(chunk.event())
        await client.write_event(AudioStop().event())
        event = await client.read_event()
    if event is None or not Transcript.is_type(event.type):
        raise RuntimeError(f"no transcript: {event}")
    return Transcript.from_event(event).text


async def _handle(port: int, text: str) -> str:
    from wyoming.asr import Transcript
    from wyoming.client import AsyncTcpClient
    from wyoming.handle import Handled, NotHandled

    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcript(text=text).event())
        event = await client.read_event()
    if event is None or not (Handled.is_type(event.type) or NotHandled.is_type(event.type)):
        raise RuntimeError(f"no answer: {event}")
    return event.data.get("text", "")


class _Server:
    """`voice-agent serve` on a free loopback port, stopped by pid."""

    def __init__(self, sets: tuple[str, ...]) -> None:
        self.sets = sets
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        sets = [arg for s in self.sets for arg in ("--set", s)]
        cmd = [str(Path(sys.executable).parent / "voice-agent"), "serve", "--profile", PROFILE]
        cmd += ["--uri", f"tcp://127.0.0.1:{port}", *sets]
        self.process = subprocess.Popen(
            cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        for line in self.process.stderr:
            if line.startswith("serving Wyoming"):
                return port
        raise RuntimeError(f"voice-agent serve did not start (exit {self.process.wait()})")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(30)


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    print(json.dumps(run(parser.parse_args().quick), indent=2))


if __name__ == "__main__":
    main()
