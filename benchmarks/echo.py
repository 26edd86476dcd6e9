"""Echo and barge-in, per profile: does the assistant interrupt or answer itself on open speakers?

Each spoken command of the end-to-end set is run through `run --input` with barge-in on and
`--simulate-echo 0.5` (60 ms): its reply comes back into the microphone, and nobody else
speaks, so every barge-in and every turn past the first is an echo self-interruption
(target 0). Then a user talks over a long reply (what it can do, about 35 s) with each of a
few commands: the barge-in stop latency is from the start of their speech to the reply's cut.
Last, the user says backchannels over that long reply ("okay", "yeah I see", "uh-huh",
"alright", "got it" in the three voices): each one ignored pauses the reply and lets it go
on, with no turn taken; the pause it costs is from the start of their speech to the resume.

Run: .venv/bin/python -m benchmarks.echo [--quick] [--profile NAME]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.e2e import load_commands, write_wav
from benchmarks.metrics import percentile
from benchmarks.speech import PAD_S

GAIN, DELAY_MS = 0.5, 60
LEAD_S, TAIL_S = 0.5, 12.0  # silence before each command, and after it for the reply's echo
OVER_AFTER_S = 6.0  # the user talks over the long reply this long after asking for it
OVER_COMMANDS = 5
BACKCHANNELS = [
    ("okay", "espeak"),
    ("yeah I see", "espeak_f3"),
    ("uh-huh", "piper"),
    ("alright", "espeak"),
    ("got it", "piper"),
]
BACKCHANNEL_GAP_S = 3.5


def _run(assistant, wav: Path, frame_ms: int):
    from voice_agent.audio.capture import FileSource
    from voice_agent.audio.echo import EchoPath, SimulatedEcho
    from voice_agent.events import BargeIn
    from voice_agent.voice_loop import VoiceLoop

    barge_ins: list[float] = []
    loop = VoiceLoop(
        assistant, on_event=lambda e: barge_ins.append(e.at_s) if isinstance(e, BargeIn) else None
    )
    assistant.settle()  # the user listened to the last reply
    turns = loop.run_file(FileSource(wav, frame_ms), SimulatedEcho(EchoPath(GAIN, DELAY_MS)))
    return turns, barge_ins, loop.timeline


def _backchannels(assistant, ask: np.ndarray, work: Path, frame_ms: int) -> tuple[int, list]:
    """Backchannels over the long reply: how many were ignored (the reply resumed, no turn),
    and the pause each ignored one cost (ms, from the start of the speech)."""
    from benchmarks.speech import speak

    pcm, starts = [np.zeros(8000, np.int16), ask], []
    for i, (text, voice) in enumerate(BACKCHANNELS):
        pcm.append(np.zeros(int((OVER_AFTER_S if i == 0 else BACKCHANNEL_GAP_S) * 16000), np.int16))
        starts.append(sum(len(x) for x in pcm) / 16000 + PAD_S)  # speak() pads
        pcm.append(speak(text, voice))
    pcm.append(np.zeros(40 * 16000, np.int16))
    turns, _, _ = _run(
        assistant, write_wav(np.concatenate(pcm), work / "backchannels.wav"), frame_ms
    )
    ignored, pauses = 0, []
    if not turns:  # the question went unheard
        return 0, pauses
    for start in starts:  # one taken for a request stopped the reply: not ignored
        heard = [b for b in turns[0].barge_ins if 0 <= b.at_s - start <= 1.0]
        if heard and heard[0].resumed_s is not None:
            ignored += 1
            pauses.append((heard[0].resumed_s - start) * 1000)
    return ignored, pauses


def measure_profile(profile: str, quick: bool) -> dict:
    from benchmarks.speech import speak
    from voice_agent.app import build
    from voice_agent.config import load_settings

    work = Path(tempfile.mkdtemp(prefix="va-echo-"))
    settings = load_settings(profile, ["audio.barge_in=true", f"store.path={work / 'va.db'}"])
    assistant = build(settings)
    assistant.warmup(voice=True)
    frame_ms = settings.audio.frame_ms
    silence = np.zeros(16000, np.int16)
    self_interruptions = echo_turns = 0
    echo_s = 0.0
    try:
        commands = load_commands(quick)
        for command in commands:
            audio = speak(command["text"], command["voice"])
            pcm = np.concatenate([silence[: int(LEAD_S * 16000)], audio, np.tile(silence, 12)])
            wav = write_wav(pcm, work / "command.wav")
            turns, barge_ins, timeline = _run(assistant, wav, frame_ms)
            self_interruptions += len(barge_ins)
            echo_turns += max(0, len(turns) - 1)
            end = len(pcm) / 16000
            echo_s += sum(max(0.0, min(r.end_s, end) - r.at_s) for r in timeline)
        latencies = []
        ask = speak("what can you do", "espeak")
        for command in commands[:OVER_COMMANDS]:
            over = speak(command["text"], command["voice"])
            gap = np.zeros(int(OVER_AFTER_S * 16000), np.int16)
            pcm = np.concatenate([silence[:8000], ask, gap, over, np.tile(silence, 6)])
            user_start = (8000 + len(ask) + len(gap)) / 16000 + PAD_S  # speak() pads
            _, barge_ins, _ = _run(assistant, write_wav(pcm, work / "over.wav"), frame_ms)
            latencies += [(b - user_start) * 1000 for b in barge_ins if b >= user_start][:1]
        ignored, pauses = _backchannels(assistant, ask, work, frame_ms)
    finally:
        assistant.close()
    return {
        "commands": len(commands),
        "echo_seconds": round(echo_s, 1),
        "self_interruptions": self_interruptions,
        "echo_turns": echo_turns,
        "barge_in_heard": f"{len(latencies)}/{min(OVER_COMMANDS, len(commands))}",
        "stop_latency_p50_ms": percentile(latencies, 50) if latencies else None,
        "stop_latency_max_ms": max(latencies) if latencies else None,
        "backchannels_ignored": f"{ignored}/{len(BACKCHANNELS)}",
        "backchannel_pause_p50_ms": percentile(pauses, 50) if pauses else None,
    }


def run(quick: bool, progress=None) -> dict:
    from benchmarks.speech import speak
    from voice_agent.config import PROFILE_NAMES

    for command in load_commands(quick):
        speak(command["text"], command["voice"])
    task = progress.add_task("echo", total=len(PROFILE_NAMES)) if progress else None
    profiles = {}
    for profile in PROFILE_NAMES:
        profiles[profile] = measure_profile(profile, quick)
        if progress:
            progress.advance(task)
    return {"gain": GAIN, "delay_ms": DELAY_MS, "profiles": profiles}


def markdown(section: dict) -> list[str]:
    lines = [
        f"Barge-in on, replies echoed back at gain {section['gain']} after "
        f"{section['delay_ms']} ms, echo cancellation on (target: 0 self-interruptions).",
        "",
        "| profile | commands | echo heard (s) | self-interruptions | turns from echo "
        "| user barge-ins heard | stop latency p50 / max (ms) | backchannels ignored "
        "| their pause p50 (ms) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, p in section["profiles"].items():
        p50, worst = p["stop_latency_p50_ms"], p["stop_latency_max_ms"]
        latency = "–" if p50 is None else f"{p50:.0f} / {worst:.0f}"
        pause = p.get("backchannel_pause_p50_ms")
        lines.append(
            f"| {name} | {p['commands']} | {p['echo_seconds']} | {p['self_interruptions']} "
            f"| {p['echo_turns']} | {p['barge_in_heard']} | {latency} "
            f"| {p.get('backchannels_ignored', '–')} | {'–' if pause is None else f'{pause:.0f}'} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="one profile instead of all")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.profile:
        print(json.dumps(measure_profile(args.profile, args.quick)))
    else:
        print("\n".join(markdown(run(args.quick))))


if __name__ == "__main__":
    main()
