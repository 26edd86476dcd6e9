"""Whether audio holds a human voice at all: Silero VAD, the model faster-whisper ships.

webrtcvad, which opens turns, fires on a cough, a knock or a burst of noise as readily as on
speech, and Whisper then writes such a sound as words of its own ("Okay.") on some machines
and not on others. Silero tells them apart far better: on espeak, Piper and clipped speech
its speech probability passes 0.79 in several 32 ms windows, on noise bursts, clicks and
tones it stays under 0.15.
"""

from __future__ import annotations

import numpy as np

WINDOW = 512  # samples per Silero decision at 16 kHz (32 ms)
SPEECH_PROB = 0.5  # Silero's own default threshold
MIN_VOICED_WINDOWS = 2  # 64 ms of voice: less is a click that happened to sound like one


def voiced_windows(pcm: bytes) -> int:
    """How many 32 ms windows of 16 kHz mono int16 `pcm` Silero finds speech in."""
    from faster_whisper.vad import get_vad_model  # onnxruntime: loaded on first use

    audio = np.frombuffer(pcm, np.int16).astype(np.float32) / 32768.0
    if audio.size == 0:
        return 0
    audio = np.pad(audio, (0, -audio.size % WINDOW))
    return int((get_vad_model()(audio) >= SPEECH_PROB).sum())


def holds_voice(pcm: bytes) -> bool:
    return voiced_windows(pcm) >= MIN_VOICED_WINDOWS
