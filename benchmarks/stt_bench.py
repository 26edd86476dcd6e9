"""Speech-to-text benchmark: word error rate and speed of each profile's Whisper settings on
real recordings and on spoken commands (Piper and espeak-ng, clean and in pink noise).

Run: .venv/bin/python -m benchmarks.stt_bench [--quick]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.metrics import corpus_wer, normalize_text, percentile
from benchmarks.routing import load_set
from benchmarks.speech import (
    Heard,
    profile_stt,
    read_wav,
    speak,
    stt_key,
    track,
    transcribe_cached,
    with_noise,
)
from voice_agent.config import PROFILE_NAMES

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
RECORDINGS = {"librivox": "librivox/transcription", "cards": "cards/cards.transcription"}
COMMANDS = Path(__file__).parent / "data" / "commands.jsonl"
RESULTS = Path(__file__).parent / "results"
SNR_DB = 10.0
COMMAND_VOICES = ("piper", "espeak")
QUICK_RECORDINGS = 2  # per recorded data set
QUICK_COMMANDS = 6
QUICK_CONDITIONS = (("piper", SNR_DB),)  # the realistic voice, in noise
MAX_MISHEARD = 5  # examples kept per data set


@dataclass(frozen=True)
class Clip:
    reference: str
    audio: np.ndarray


# -- the data sets ------------------------------------------------------------------------------
def recordings(transcription: Path, limit: int | None) -> list[Clip]:
    """pocketsphinx-testdata clips: lines `<s> words </s> (file id)`, WAVs beside the list."""
    clips = []
    for line in transcription.read_text().splitlines()[:limit]:
        match = re.fullmatch(r"\s*<s>(.*)</s>\s*\((\S+)\)\s*", line)
        if match:
            text, file_id = match.groups()
            clips.append(
                Clip(" ".join(text.split()), read_wav(transcription.parent / f"{file_id}.wav"))
            )
    return clips


def command_texts(quick: bool) -> list[str]:
    """The e2e command set, else the routing set's specialist utterances; quick: an even spread."""
    if COMMANDS.exists():
        rows = [json.loads(line) for line in COMMANDS.read_text().splitlines() if line.strip()]
        texts = [row["text"] for row in rows]
    else:
        texts = [row["text"] for row in load_set() if row["label"] != "general"][::20]
    if quick:
        texts = texts[:: -(-len(texts) // QUICK_COMMANDS)]
    return texts


def conditions(quick: bool) -> list[tuple[str, float | None]]:
    """(voice, SNR in dB or None for clean) pairs to speak the commands in."""
    if quick:
        return list(QUICK_CONDITIONS)
    return [(voice, snr) for voice in COMMAND_VOICES for snr in (None, SNR_DB)]


def build_datasets(quick: bool, progress: Progress | None = None) -> dict[str, list[Clip]]:
    limit = QUICK_RECORDINGS if quick else None
    data = {
        name: recordings(POCKETSPHINX / listing, limit)
        for name, listing in RECORDINGS.items()
        if (POCKETSPHINX / listing).exists()  # Debian's pocketsphinx-testdata
    }
    texts = command_texts(quick)
    spoken = [(voice, snr, text) for voice, snr in conditions(quick) for text in texts]
    for voice, snr, text in track(spoken, "stt: speaking commands", progress):
        audio = speak(text, voice)
        seed = zlib.crc32(text.encode())  # by text: a quick run reuses the full run's cache
        name = f"commands_{voice}_{'clean' if snr is None else f'snr{snr:g}'}"
        data.setdefault(name, []).append(
            Clip(text, audio if snr is None else with_noise(audio, snr, seed))
        )
    return data


# -- the settings -------------------------------------------------------------------------------
def distinct_settings() -> list[list[str]]:
    """The profiles grouped by identical Whisper settings and vocabulary prompt."""
    groups: dict[str, list[str]] = {}
    for profile in PROFILE_NAMES:
        groups.setdefault(stt_key(profile_stt(profile)), []).append(profile)
    return list(groups.values())


def score(clips: list[Clip], heard: list[Heard]) -> dict:
    references = [c.reference for c in clips]
    said = [h.text for h in heard]
    return {
        "n": len(clips),
        "wer": corpus_wer(references, said),
        "rtf": statistics.median(h.elapsed_ms / 1000 / h.duration_s for h in heard),
        "p50_ms": percentile([h.elapsed_ms for h in heard], 50),
        "cached": sum(h.cached for h in heard),  # timings from the run that transcribed them
        "misheard": [
            {"said": r, "heard": h}
            for r, h in zip(references, said, strict=True)
            if normalize_text(r) != normalize_text(h)
        ][:MAX_MISHEARD],
    }


def bench_setting(
    profiles: list[str], data: dict[str, list[Clip]], progress: Progress | None
) -> dict:
    stt = profile_stt(profiles[0])
    stt.load()  # timed even when every transcript is cached; the model is freed on return
    name = "+".join(profiles)
    clips = [(dataset, clip) for dataset, group in data.items() for clip in group]
    heard = {
        id(clip): transcribe_cached(stt, clip.audio)
        for _, clip in track(clips, f"stt: {name} ({stt.config.model})", progress)
    }
    datasets = {
        dataset: score(group, [heard[id(c)] for c in group]) for dataset, group in data.items()
    }
    overall = score([c for _, c in clips], [heard[id(c)] for _, c in clips])
    return {
        "profile_settings": name,
        "model": stt.config.model,
        "compute_type": stt.config.compute_type,
        "beam_size": stt.config.beam_size,
        "best_of": stt.config.best_of,
        "vocabulary_prompt": stt.prompt is not None,
        "load_s": stt.load_ms / 1000,
        "datasets": datasets,
        "wer_all": overall["wer"],
        "rtf_all": overall["rtf"],
    }


def run(quick: bool, progress: Progress | None = None) -> dict:
    data = build_datasets(quick, progress)
    settings = [bench_setting(profiles, data, progress) for profiles in distinct_settings()]
    return {"quick": quick, "snr_db": SNR_DB, "settings": settings}


# -- standalone ---------------------------------------------------------------------------------
def print_report(console: Console, result: dict, misheard: bool = False) -> None:
    table = Table(title="Speech to text (WER normalised; RTF median)", show_edge=False)
    for column in ("setting", "load s", "data set", "n", "WER", "RTF", "p50 ms"):
        table.add_column(column, justify="left" if column in ("setting", "data set") else "right")
    for s in result["settings"]:
        head = [f"{s['profile_settings']}: {s['model']} b{s['beam_size']}", f"{s['load_s']:.2f}"]
        for dataset, d in s["datasets"].items():
            cells = (str(d["n"]), f"{d['wer']:.3f}", f"{d['rtf']:.3f}", f"{d['p50_ms']:.0f}")
            table.add_row(*head, dataset, *cells)
            head = ["", ""]
        table.add_row(
            "", "", "[bold]all[/]", "", f"[bold]{s['wer_all']:.3f}[/]", f"{s['rtf_all']:.3f}", ""
        )
        table.add_section()
    console.print(table)
    cached = sum(d["cached"] for s in result["settings"] for d in s["datasets"].values())
    total = sum(d["n"] for s in result["settings"] for d in s["datasets"].values())
    if cached:
        console.print(f"[dim]{cached} of {total} transcripts (and their timings) from the cache[/]")
    if misheard:
        for s in result["settings"]:
            console.rule(f"{s['profile_settings']}: misheard (first {MAX_MISHEARD} per data set)")
            for dataset, d in s["datasets"].items():
                for m in d["misheard"]:
                    console.print(f"{dataset:>22}  {m['said']}  →  {m['heard']}", markup=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips, one noisy voice")
    parser.add_argument("--misheard", action="store_true", help="print misheard examples")
    args = parser.parse_args()
    console = Console()
    with Progress(console=console, transient=True) as progress:
        result = run(args.quick, progress)
    print_report(console, result, args.misheard)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "stt.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    console.print(f"[dim]written {out}[/]")


if __name__ == "__main__":
    main()
