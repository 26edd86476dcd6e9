"""End to end, one profile per process: end of user speech → first reply audio, by stage.

Each spoken command of benchmarks/data/commands.jsonl runs through the real voice
loop (VAD endpointing, Whisper, routing, agent/LLM, sentence chunker, TTS), once
with streaming and once without. A fresh process per profile makes the peak RSS
and the start-up time that profile's own.

Run: .venv/bin/python -m benchmarks.e2e --profile speed [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import sys
import tempfile
import time
import wave
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psutil

from benchmarks.metrics import percentile

DATA = Path(__file__).parent / "data" / "commands.jsonl"
QUICK_AGENTS = ("utility", "time", "general")
ONE_MINUTE = timedelta(minutes=1)
# Stage durations, from the cumulative timings the voice loop records.
STAGES = {
    "end_of_turn": ("", "end_of_turn_ms"),
    "stt": ("end_of_turn_ms", "stt_ms"),
    "routing": ("stt_ms", "route_ms"),
    "agent": ("route_ms", "first_token_ms"),
    "tts": ("first_token_ms", "first_audio_ms"),
}


def load_commands(quick: bool) -> list[dict]:
    commands = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    if not quick:
        return commands
    picked: dict[str, dict] = {}
    for command in commands:
        if command["agent"] in QUICK_AGENTS and command["agent"] not in picked:
            picked[command["agent"]] = command
    return list(picked.values())


_PLACEHOLDER = re.compile(r"<(TIME|DAYS_UNTIL|TODAY):([^>]+)>")
OFFLINE_SAYS = re.compile(r"\bcan't reach\b.*\bservice\b", re.IGNORECASE)


def expected_patterns(command: dict, now: datetime) -> list[str]:
    """The command's `expect` patterns (all must match), with today's facts filled in:
    <TIME:zone> the clock there (this minute or the next), <DAYS_UNTIL:MM-DD> the days to
    that date, <TODAY:strftime format> today's date in that format."""

    def fill(match: re.Match[str]) -> str:
        kind, arg = match[1], match[2]
        if kind == "TIME":
            there = now.astimezone(ZoneInfo(arg))
            times = {f"{t.hour % 12 or 12}:{t.minute:02d}" for t in (there, there + ONE_MINUTE)}
            return "(?:" + "|".join(sorted(times)) + ")"
        if kind == "DAYS_UNTIL":
            month, day = map(int, arg.split("-"))
            target = date(now.year, month, day)
            if target < now.date():
                target = date(now.year + 1, month, day)
            return str((target - now.date()).days)
        return re.escape(now.strftime(arg))

    patterns = command["expect"]
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return [_PLACEHOLDER.sub(fill, pattern) for pattern in patterns]


def grade(command: dict, turn: dict, offline: bool, now: datetime) -> str:
    """'right' (the agent and every expected fact), 'offline' (a command that needs the
    internet, in an offline run, answered by saying the service can't be reached) or 'wrong'."""
    answer = turn["answer"] or ""
    if turn["agent"] != command["agent"]:
        return "wrong"
    if command.get("online") and offline and OFFLINE_SAYS.search(answer):
        return "offline"
    rejected = command.get("reject") and re.search(command["reject"], answer, re.IGNORECASE)
    found = all(re.search(p, answer, re.IGNORECASE) for p in expected_patterns(command, now))
    return "right" if found and not rejected else "wrong"


def internet_reachable(url: str = "https://api.open-meteo.com", timeout: float = 3.0) -> bool:
    import httpx

    try:
        httpx.head(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def stage_durations(timings: dict[str, float]) -> dict[str, float]:
    out = {}
    for stage, (start, end) in STAGES.items():
        if end in timings and (not start or start in timings):
            out[stage] = timings[end] - (timings[start] if start else 0.0)
    return out


def summarize(turns: list[dict]) -> dict:
    timed = [t for t in turns if "first_audio_ms" in t["timings"]]
    stages = {}
    for stage in STAGES:
        values = [
            stage_durations(t["timings"])[stage]
            for t in timed
            if stage in stage_durations(t["timings"])
        ]
        if values:
            stages[stage] = {
                "median_ms": statistics.median(values),
                "p95_ms": percentile(values, 95),
            }
    first_audio = [t["timings"]["first_audio_ms"] for t in timed]
    return {
        "n": len(turns),
        "stages": stages,
        "first_audio_median_ms": statistics.median(first_audio) if first_audio else None,
        "first_audio_p95_ms": percentile(first_audio, 95) if first_audio else None,
        "correct": sum(t["ok"] for t in turns),
        # Commands that need the internet, answered honestly in an offline run: not right,
        # not wrong, and not part of the fraction.
        "offline": sum(t.get("grade") == "offline" for t in turns),
    }


def write_wav(samples, path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def measure_profile(profile: str, quick: bool) -> dict:
    from benchmarks.speech import speak
    from voice_agent.app import build
    from voice_agent.audio.capture import FileSource
    from voice_agent.config import load_settings
    from voice_agent.events import TurnFinished
    from voice_agent.voice_loop import VoiceLoop

    commands = load_commands(quick)
    work = Path(tempfile.mkdtemp(prefix="va-e2e-"))
    notes = work / "files" / "notes"
    notes.mkdir(parents=True)
    (notes / "groceries.txt").write_text("milk\neggs\nbread\n")
    (notes / "ideas.md").write_text("a podcast about birds\n")
    # The spoken corpus is input, not part of the assistant: its time is not start-up time
    # (run() synthesizes it in the parent first, so here it is read from the cache).
    prep_start = time.time()
    audio = [speak(c["text"], c["voice"]) for c in commands]
    started = psutil.Process().create_time() + (time.time() - prep_start)
    settings = load_settings(
        profile, [f"store.path={work / 'va.db'}", f"agents.files_root={work / 'files'}"]
    )
    assistant = build(settings)
    VoiceLoop(assistant).warmup()
    startup_s = time.time() - started
    offline = not internet_reachable()

    tail_ms = settings.vad.end_silence_ms + 500
    results = {}
    found = []

    def keep(event) -> None:
        """The bench reads the same events as the live view: each turn's TurnFinished."""
        if isinstance(event, TurnFinished):
            found.append(event.turn)

    for streaming in (True, False):
        turns = []
        for command, samples in zip(commands, audio, strict=True):
            wav = write_wav(samples, work / "command.wav")
            found.clear()
            loop = VoiceLoop(assistant, streaming=streaming, on_event=keep)
            assistant.settle()  # the user listened to the last reply
            loop.run_file(FileSource(wav, settings.audio.frame_ms, trailing_silence_ms=tail_ms))
            turn = (
                found[0].to_dict()
                if found
                else {"transcript": "", "agent": None, "answer": "", "timings": {}}
            )
            verdict = grade(command, turn, offline, datetime.now().astimezone())
            turns.append(
                {
                    "text": command["text"],
                    "voice": command["voice"],
                    "expected": command["agent"],
                    "transcript": turn["transcript"],
                    "agent": turn["agent"],
                    "answer": turn["answer"],
                    "ok": verdict == "right",
                    "grade": verdict,
                    "turns_found": len(found),
                    "timings": turn["timings"],
                }
            )
        results["streaming" if streaming else "no_streaming"] = {**summarize(turns), "turns": turns}
    assistant.close()
    on, off = results["streaming"], results["no_streaming"]
    return {
        "profile": profile,
        "startup_s": startup_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ran_offline": offline,
        "correct_fraction": on["correct"] / max(on["n"] - on["offline"], 1),
        "streaming_speedup": (
            off["first_audio_median_ms"] / on["first_audio_median_ms"]
            if on["first_audio_median_ms"] and off["first_audio_median_ms"]
            else None
        ),
        **results,
    }


def run_profile_subprocess(profile: str, quick: bool) -> dict:
    """One fresh interpreter per profile, so memory and start-up are that profile's own."""
    import subprocess

    args = [sys.executable, "-m", "benchmarks.e2e", "--profile", profile, "--json"]
    args += ["--quick"] if quick else []
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"e2e {profile} failed: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool, progress=None) -> dict:
    from benchmarks.speech import speak
    from voice_agent.config import PROFILE_NAMES

    for command in load_commands(quick):
        speak(command["text"], command["voice"])  # fill the cache the profiles read from
    task = progress.add_task("end to end", total=len(PROFILE_NAMES)) if progress else None
    profiles = {}
    for profile in PROFILE_NAMES:
        profiles[profile] = run_profile_subprocess(profile, quick)
        if progress:
            progress.advance(task)
    return {"profiles": profiles, "commands": len(load_commands(quick))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="balanced")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args()
    result = measure_profile(args.profile, args.quick)
    if args.json:
        print(json.dumps(result))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"end to end: {args.profile}")
    for column in ("mode", *STAGES, "first audio p50", "p95", "correct"):
        table.add_column(column, justify="right")
    for mode in ("streaming", "no_streaming"):
        r = result[mode]
        stages = [f"{r['stages'].get(s, {}).get('median_ms', 0):.0f}" for s in STAGES]
        table.add_row(
            mode,
            *stages,
            f"{r['first_audio_median_ms']:.0f}",
            f"{r['first_audio_p95_ms']:.0f}",
            f"{r['correct']}/{r['n'] - r['offline']}",
        )
    Console().print(table)
    Console().print(
        f"start-up {result['startup_s']:.1f} s · peak RSS {result['peak_rss_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
