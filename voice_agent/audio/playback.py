"""Audio sinks: the speaker through pyaudio, and a WAV file with replies placed on a timeline."""

from __future__ import annotations

import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH, AudioError
from voice_agent.audio.clock import SampleClock
from voice_agent.audio.devices import open_error, open_pyaudio, quiet_stderr, resolve_device

if TYPE_CHECKING:
    from voice_agent.config import AudioConfig


# A write made this long after its audio was due to play follows an underrun: the speaker
# went quiet meanwhile, and the rest plays that much later.
UNDERRUN_S = 0.008


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """int16 samples from one rate to another (polyphase filter, scipy)."""
    if from_rate == to_rate:
        return samples
    from scipy.signal import resample_poly

    g = gcd(from_rate, to_rate)
    out = resample_poly(samples.astype(np.float32), to_rate // g, from_rate // g)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def _samples(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.int16)


class PyAudioSink:
    """Plays mono int16 at any rate; stop() from another thread cuts it within a few ms.

    PortAudio's blocking write waits for a whole buffer period, so only what fits is written
    and the stop flag is polled in between: the buffer can stay large enough not to underrun
    (buffer_ms) while stop() still acts within _POLL_S. A stopped stream is closed, which
    discards what was still buffered. After a device error the next play() probes the
    devices again, so a device that comes back is used again.
    """

    _POLL_S = 0.005

    def __init__(self, device: int | str | None = None, *, buffer_ms: int = 30) -> None:
        self._device = device
        self._buffer_ms = buffer_ms
        self._stop = threading.Event()
        self._playing = threading.Lock()  # one play() at a time
        self._closed = False
        self._pa: Any = None
        self._stream: Any = None
        self._stream_rate = 0
        self._index = -1
        self.device_name = ""
        # Told the size of each write as it goes to the device and the time.monotonic() it
        # will be heard from (no earlier): what is being played, for the echo canceller.
        self.on_write: Callable[[int, float], None] | None = None
        self._clock = SampleClock(SAMPLE_RATE, late=False, ahead_s=UNDERRUN_S)  # the stream's
        self._connect()  # a missing device is reported at start-up, not at the first reply

    @classmethod
    def from_config(cls, config: AudioConfig) -> PyAudioSink:
        return cls(config.output_device)

    def play(self, pcm: bytes, sample_rate: int) -> None:
        with self._playing:
            self._stop.clear()
            if self._closed:
                raise AudioError("the audio output was closed; it cannot play any more")
            if self._pa is None:
                self._connect()
            stream = self._ready_stream(sample_rate)
            with self._device_errors():
                # A buffer's worth of silence pushes the last real audio out before stopping:
                # draining through ALSA's pulse plugin loses whatever is still buffered.
                tail = bytes(stream.get_write_available() * SAMPLE_WIDTH)
                self._clock = SampleClock(sample_rate, late=False, ahead_s=UNDERRUN_S)
                finished = self._feed(stream, pcm[: len(pcm) - len(pcm) % SAMPLE_WIDTH] + tail)
                if finished:
                    stream.stop_stream()
            if not finished:
                self._drop_stream()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.stop()
        with self._playing:
            self._closed = True
            self._disconnect()

    def _connect(self) -> None:
        pa = open_pyaudio()
        try:
            info = resolve_device(pa, self._device, "output")
        except AudioError:
            pa.terminate()
            raise
        self._pa, self._index, self.device_name = pa, int(info["index"]), str(info["name"])
        if self._device is not None:
            # Reconnect by name: an index can change when a device is unplugged and comes back.
            self._device = self.device_name

    def _disconnect(self) -> None:
        self._drop_stream()
        if self._pa is not None:
            self._pa.terminate()
            self._pa = None

    def _ready_stream(self, sample_rate: int) -> Any:
        """The open stream at this rate, restarted; reopened only when the rate changes."""
        if self._stream is not None and self._stream_rate != sample_rate:
            self._drop_stream()
        if self._stream is None:
            try:
                with quiet_stderr():
                    self._stream = self._pa.open(
                        format=self._pa.get_format_from_width(SAMPLE_WIDTH),
                        channels=1,
                        rate=sample_rate,
                        output=True,
                        output_device_index=self._index,
                        frames_per_buffer=sample_rate * self._buffer_ms // 1000,
                    )
            except OSError as exc:
                self._disconnect()
                raise open_error("output", self.device_name, exc, sample_rate) from None
            self._stream_rate = sample_rate
        elif self._stream.is_stopped():
            with self._device_errors():
                self._stream.start_stream()
        return self._stream

    def _feed(self, stream: Any, data: bytes) -> bool:
        """Write everything unless stop() comes first; False if it was stopped."""
        offset = 0
        while offset < len(data):
            if self._stop.is_set():
                return False
            room = stream.get_write_available() * SAMPLE_WIDTH
            if room:
                # Heard after what was written before it, and never before it is written.
                heard_at = self._clock.stamp(time.monotonic(), room // SAMPLE_WIDTH)
                stream.write(data[offset : offset + room])
                offset += room
                if self.on_write is not None:
                    self.on_write(room, heard_at)
            else:
                self._stop.wait(self._POLL_S)
        return not self._stop.is_set()

    @contextmanager
    def _device_errors(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            self._disconnect()
            raise AudioError(
                f"the output device '{self.device_name}' stopped accepting audio ({exc}); "
                "check that it is still connected"
            ) from None

    def _drop_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()  # Pa_CloseStream aborts: pending buffers are discarded
            self._stream = None


class WavSink:
    """Collects audio into a WAV file, each piece at a chosen time; silence elsewhere.

    `voice-agent run --input in.wav --output out.wav` places each reply after the utterance
    it answers, so the output lines up with the input: give the input's length as duration_s
    (or call extend_to()) and the file is at least that long. Overlapping pieces are mixed.
    The file is written on close().
    """

    def __init__(
        self, path: str | Path, sample_rate: int = SAMPLE_RATE, *, duration_s: float = 0.0
    ) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self._audio = np.zeros(0, dtype=np.int16)
        self._closed = False
        self.extend_to(duration_s)

    @property
    def duration_s(self) -> float:
        return len(self._audio) / self.sample_rate

    def place(self, pcm: bytes, sample_rate: int, at_s: float) -> float:
        """Mix mono int16 audio in at at_s seconds; returns where it ends, in seconds."""
        if at_s < 0:
            raise ValueError(f"at_s must be >= 0, got {at_s}")
        piece = resample(_samples(pcm), sample_rate, self.sample_rate)
        start = round(at_s * self.sample_rate)
        end = start + len(piece)
        self._grow(end)
        mixed = self._audio[start:end].astype(np.int32) + piece
        self._audio[start:end] = np.clip(mixed, -32768, 32767)
        return end / self.sample_rate

    def extend_to(self, duration_s: float) -> None:
        """Make the file at least this long, e.g. as long as the input it answers."""
        self._grow(round(duration_s * self.sample_rate))

    def play(self, pcm: bytes, sample_rate: int) -> None:
        """Append at the current end of the file."""
        self.place(pcm, sample_rate, self.duration_s)

    def stop(self) -> None:
        """Nothing to interrupt: placing audio is instant."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with wave.open(str(self.path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(SAMPLE_WIDTH)
            out.setframerate(self.sample_rate)
            out.writeframes(self._audio.astype("<i2").tobytes())

    def _grow(self, length: int) -> None:
        if length > len(self._audio):
            self._audio = np.concatenate(
                [self._audio, np.zeros(length - len(self._audio), dtype=np.int16)]
            )
