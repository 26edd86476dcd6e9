"""Test audio with known speech boundaries, built with espeak-ng and sox.

Every speech piece (an espeak-ng phrase or a real recording from Debian's
pocketsphinx-testdata) is trimmed to its own speech by energy, so a piece starts and
ends with speech; pieces are then laid out between exact silences, which makes the
truth for each one `(gap_before_end, gap_before_end + len(piece))`. Noise is mixed in
by sox at a gain computed from RMS, and the achieved SNR is measured back.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
RAW16 = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1"]

# Energy trimming, on 10 ms frames: speech is a run of at least TRIM_RUN frames above the
# louder of two levels. The floor term (5th percentile of the clip: some clips are mostly
# speech) matters for the real recordings, whose room noise is 25-45 dB below their peaks
# and has spikes; the peak term for espeak-ng, whose silence is digital zero.
TRIM_FRAME = SAMPLE_RATE // 100
TRIM_RUN = 3
TRIM_BELOW_PEAK_DB = 35.0
TRIM_ABOVE_FLOOR_DB = 12.0
# Every piece is scaled to this RMS over its speech (-26 dBFS, a normal telephony level),
# so that a stream's SNR holds for each piece and not only on average.
SPEECH_RMS = 32768 * 10 ** (-26 / 20)


@dataclass
class Stream:
    """Mono int16 audio and the true (start_s, end_s) of each speech piece in it."""

    pcm: np.ndarray
    truth: list[tuple[float, float]]

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / SAMPLE_RATE

    def frames(self, frame_ms: int) -> Iterator[bytes]:
        """Whole frames of `frame_ms`; a partial last frame is dropped, as a capture would."""
        step = SAMPLE_RATE * frame_ms // 1000
        data = self.pcm.astype("<i2").tobytes()
        for i in range(0, len(self.pcm) - step + 1, step):
            yield data[2 * i : 2 * (i + step)]

    def speech_rms(self) -> float:
        """RMS over the speech pieces only (the active speech level the SNR refers to)."""
        parts = [self.pcm[round(a * SAMPLE_RATE) : round(b * SAMPLE_RATE)] for a, b in self.truth]
        return rms(np.concatenate(parts))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def sox_pcm(*args: str) -> np.ndarray:
    """Run sox with the given input side and read 16 kHz mono int16 from its stdout."""
    out = subprocess.run(["sox", *args, *RAW16, "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<i2").astype(np.int16)


def espeak(text: str, workdir: Path, voice: str = "en-us", wpm: int = 175) -> np.ndarray:
    """An espeak-ng phrase at 16 kHz, trimmed to its speech."""
    key = hashlib.sha1(f"{text}|{voice}|{wpm}".encode()).hexdigest()[:12]
    wav = workdir / f"espeak-{key}.wav"
    cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(wav), text]
    subprocess.run(cmd, check=True, capture_output=True)
    return trim_to_speech(sox_pcm(str(wav)))


def piper(text: str, workdir: Path) -> np.ndarray:
    """The Piper voice saying `text`, at 16 kHz, trimmed to its speech."""
    from voice_agent.config import load_settings
    from voice_agent.tts.factory import build_tts

    # variation 0: the same audio every run, so a transcript check is not a coin toss.
    tts = build_tts(load_settings("quality", ["tts.variation=0"]).tts)
    speech = tts.synthesize(text)
    key = hashlib.sha1(text.encode()).hexdigest()[:12]
    wav = workdir / f"piper-{key}.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(speech.sample_rate)
        out.writeframes(speech.pcm)
    return trim_to_speech(sox_pcm(str(wav)))


def recording(relative: str) -> np.ndarray:
    """A pocketsphinx-testdata clip (.wav, or headerless 16 kHz .raw), trimmed to its speech."""
    path = POCKETSPHINX / relative
    source = [*RAW16, str(path)] if path.suffix == ".raw" else [str(path)]
    return trim_to_speech(sox_pcm(*source))


def trim_to_speech(x: np.ndarray) -> np.ndarray:
    """Cut leading/trailing non-speech (see TRIM_*) and scale to SPEECH_RMS.

    Resolution 10 ms, well inside the tests' 100 ms tolerance.
    """
    n = len(x) // TRIM_FRAME
    frames = x[: n * TRIM_FRAME].astype(np.float64).reshape(n, TRIM_FRAME)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-3)
    threshold = max(level.max() - TRIM_BELOW_PEAK_DB, np.percentile(level, 5) + TRIM_ABOVE_FLOOR_DB)
    loud = level > threshold
    # A run of TRIM_RUN loud frames starting at i shows up as all-True in loud[i : i + TRIM_RUN].
    runs = np.flatnonzero(np.convolve(loud, np.ones(TRIM_RUN), mode="valid") == TRIM_RUN)
    first, last = runs[0], runs[-1] + TRIM_RUN
    speech = x[first * TRIM_FRAME : last * TRIM_FRAME]
    return np.clip(speech * (SPEECH_RMS / rms(speech)), -32768, 32767).astype(np.int16)


def layout(pieces: Sequence[np.ndarray], gaps_s: Sequence[float], tail_s: float) -> Stream:
    """gap[0] piece[0] gap[1] piece[1] ... tail, the gaps in exact digital silence."""
    chunks: list[np.ndarray] = []
    truth: list[tuple[float, float]] = []
    at = 0
    for piece, gap in zip(pieces, gaps_s, strict=True):
        chunks.append(np.zeros(round(gap * SAMPLE_RATE), np.int16))
        at += len(chunks[-1])
        truth.append((at / SAMPLE_RATE, (at + len(piece)) / SAMPLE_RATE))
        chunks.append(piece)
        at += len(piece)
    chunks.append(np.zeros(round(tail_s * SAMPLE_RATE), np.int16))
    return Stream(np.concatenate(chunks), truth)


def burst(kind: str, ms: int, level_rms: float, seed: int = 0) -> np.ndarray:
    """A click-like burst: 'noise' (white) or 'tone' (1 kHz sine), at a given RMS."""
    n = SAMPLE_RATE * ms // 1000
    if kind == "noise":
        x = np.random.default_rng(seed).standard_normal(n)
    elif kind == "tone":
        x = np.sin(2 * np.pi * 1000 * np.arange(n) / SAMPLE_RATE)
    else:
        raise ValueError(kind)
    return np.clip(x * level_rms / rms(x), -32768, 32767).astype(np.int16)


def write_wav(x: np.ndarray, path: Path) -> Path:
    subprocess.run(["sox", *RAW16, "-", str(path)], input=x.astype("<i2").tobytes(), check=True)
    return path


def with_noise(stream: Stream, snr_db: float, color: str, workdir: Path) -> Stream:
    """The stream plus sox `synth` white/pink noise, `snr_db` below the active speech level.

    The gain comes from the RMS of the generated noise; the SNR of the mix is measured back
    (mix minus speech) and must be within 0.1 dB of what was asked for.
    """
    workdir = Path(tempfile.mkdtemp(dir=workdir))
    clean = write_wav(stream.pcm, workdir / "clean.wav")
    noise = workdir / f"{color}.wav"
    duration = f"{stream.duration_s:.4f}"
    synth = ["sox", "-R", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(noise)]
    subprocess.run([*synth, "synth", duration, f"{color}noise", "vol", "0.5"], check=True)
    gain = stream.speech_rms() / (rms(sox_pcm(str(noise))) * 10 ** (snr_db / 20))
    mixed = workdir / "mixed.wav"
    # -D: no dither, so mix minus speech is exactly the noise; -V1: the rare clipped peak is
    # accounted for by the measured SNR below, not worth a warning.
    mix = ["sox", "-V1", "-D", "-m", "-v", "1", str(clean), "-v", f"{gain:.6f}", str(noise)]
    subprocess.run([*mix, str(mixed)], check=True)
    pcm = sox_pcm(str(mixed))[: len(stream.pcm)]
    achieved = 20 * np.log10(stream.speech_rms() / rms(pcm.astype(np.int32) - stream.pcm))
    assert abs(achieved - snr_db) < 0.1, f"asked {snr_db} dB SNR, got {achieved:.2f} dB"
    return Stream(pcm, stream.truth)
