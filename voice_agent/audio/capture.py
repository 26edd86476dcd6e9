"""Audio sources: the microphone through pyaudio, and audio files for tests and `--input`.

Both yield frames of exactly frame_ms of 16 kHz mono int16, as the VAD needs.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH, AudioError
from voice_agent.audio.devices import open_error, open_pyaudio, quiet_stderr, resolve_device

if TYPE_CHECKING:
    from voice_agent.config import AudioConfig

FRAME_MS_CHOICES = (10, 20, 30)  # what webrtcvad accepts
RAW_SUFFIXES = (".raw", ".pcm")
_PA_CONTINUE = 0  # pyaudio.paContinue, fixed by PortAudio's API


def frame_samples(frame_ms: int) -> int:
    """Samples in one frame; only the frame lengths the VAD accepts are allowed."""
    if frame_ms not in FRAME_MS_CHOICES:
        raise ValueError(f"frame_ms must be one of {FRAME_MS_CHOICES}, got {frame_ms}")
    return SAMPLE_RATE * frame_ms // 1000


class FrameQueue:
    """Bounded FIFO between the audio callback and the consumer.

    put() never blocks: when full it drops the oldest frame and counts it, because the newest
    audio is what the endpointer needs and a blocked callback would make PortAudio overflow.
    """

    def __init__(self, maxlen: int) -> None:
        self._frames: deque[bytes] = deque(maxlen=maxlen)
        self._ready = threading.Condition()
        self.dropped = 0

    def put(self, frame: bytes) -> None:
        with self._ready:
            if len(self._frames) == self._frames.maxlen:
                self.dropped += 1
            self._frames.append(frame)
            self._ready.notify()

    def get(self, timeout: float) -> bytes | None:
        """The oldest frame, or None if none arrived within timeout (or wake() was called)."""
        with self._ready:
            if not self._frames:
                self._ready.wait(timeout)
            return self._frames.popleft() if self._frames else None

    def clear(self) -> None:
        with self._ready:
            self._frames.clear()

    def wake(self) -> None:
        """Release a consumer waiting in get(), e.g. on close()."""
        with self._ready:
            self._ready.notify_all()

    def __len__(self) -> int:
        return len(self._frames)


class PyAudioSource:
    """Microphone capture on PortAudio's callback thread into a bounded FrameQueue.

    If the device stops delivering (unplugged, sound server gone), frames() closes it and
    reopens it up to `reopen_attempts` times with doubling backoff, then raises AudioError.
    After that error frames() may be called again: it starts over with a fresh open.
    """

    def __init__(
        self,
        device: int | str | None = None,
        frame_ms: int = 20,
        queue_frames: int = 500,
        *,
        reopen_attempts: int = 3,
        reopen_backoff_s: float = 0.5,
        stall_timeout_s: float = 3.0,
    ) -> None:
        self.frame_ms = frame_ms
        self._frame_samples = frame_samples(frame_ms)
        self._device = device
        self._queue = FrameQueue(queue_frames)
        self._reopen_attempts = reopen_attempts
        self._reopen_backoff_s = reopen_backoff_s
        self._stall_timeout_s = stall_timeout_s
        self._lock = threading.Lock()  # guards _pa/_stream against close() from another thread
        self._closed = threading.Event()
        self._pa: Any = None
        self._stream: Any = None
        self._arrived_at = 0.0  # monotonic time of the last callback
        self.device_name = ""
        self.reopens = 0
        self._open()

    @classmethod
    def from_config(cls, config: AudioConfig) -> PyAudioSource:
        return cls(config.input_device, config.frame_ms, config.queue_frames)

    @property
    def dropped(self) -> int:
        """Frames thrown away because the consumer fell more than queue_frames behind."""
        return self._queue.dropped

    def frames(self) -> Iterator[bytes]:
        """Live frames from now on: what was recorded before this call is discarded, so
        speech from before the loop was ready (models still loading) is not answered."""
        if self._stream is None and not self._closed.is_set():
            self._open()
        self._queue.clear()
        while not self._closed.is_set():
            frame = self._queue.get(timeout=0.1)
            if frame is not None:
                yield frame
            elif not self._closed.is_set() and self._lost():
                self._reopen()

    def close(self) -> None:
        self._closed.set()
        self._queue.wake()
        self._close_stream()

    def _callback(self, data: bytes, frame_count: int, time_info: dict, status: int) -> tuple:
        self._arrived_at = time.monotonic()
        self._queue.put(data)
        return None, _PA_CONTINUE

    def _open(self) -> None:
        pa = open_pyaudio()
        try:
            info = resolve_device(pa, self._device, "input")
            self._arrived_at = time.monotonic()  # the stall clock starts at open
            stream = self._open_stream(pa, info)
        except BaseException:
            pa.terminate()
            raise
        with self._lock:
            self._pa, self._stream = pa, stream
        if self._closed.is_set():  # close() ran in another thread while this was opening
            self._close_stream()
        self.device_name = info["name"]
        if self._device is not None:
            # Reopen by name: an index can change when a device is unplugged and comes back.
            self._device = self.device_name

    def _open_stream(self, pa: Any, info: dict) -> Any:
        try:
            with quiet_stderr():
                return pa.open(
                    format=pa.get_format_from_width(SAMPLE_WIDTH),
                    channels=1,
                    rate=SAMPLE_RATE,
                    input=True,
                    input_device_index=info["index"],
                    frames_per_buffer=self._frame_samples,
                    stream_callback=self._callback,
                )
        except OSError as exc:
            raise open_error("input", info["name"], exc, SAMPLE_RATE) from None

    def _lost(self) -> bool:
        """The stream died (PortAudio stopped it) or no audio came for stall_timeout_s."""
        with self._lock:
            active = self._stream is not None and self._stream.is_active()
        return not active or time.monotonic() - self._arrived_at > self._stall_timeout_s

    def _reopen(self) -> None:
        self._close_stream()
        for attempt in range(self._reopen_attempts):
            if self._closed.wait(self._reopen_backoff_s * 2**attempt):
                return
            try:
                self._open()
            except AudioError:
                continue
            self.reopens += 1
            return
        raise AudioError(
            f"the input device '{self.device_name}' stopped delivering audio and could not be "
            f"reopened after {self._reopen_attempts} tries; check that it is still connected"
        )

    def _close_stream(self) -> None:
        with self._lock:
            stream, pa = self._stream, self._pa
            self._stream = self._pa = None
        if stream is not None:
            stream.close()
        if pa is not None:
            pa.terminate()


def read_pcm16(path: str | Path) -> np.ndarray:
    """Any audio file as 16 kHz mono int16 samples; .raw/.pcm files must already be that."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    if path.suffix.lower() in RAW_SUFFIXES:
        data = path.read_bytes()
        if len(data) % SAMPLE_WIDTH:
            raise AudioError(f"{path}: odd byte count; raw audio must be 16 kHz mono int16")
        return np.frombuffer(data, dtype="<i2").astype(np.int16)
    return _decode(path)


def _decode(path: Path) -> np.ndarray:
    import av
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except IndexError:  # how decode_audio says that the file holds no audio stream
        raise AudioError(f"{path}: the file holds no audio stream") from None
    except av.error.FFmpegError as exc:
        raise AudioError(f"{path}: cannot decode audio ({exc.strerror or exc})") from None
    return np.clip(np.round(audio * 32768.0), -32768, 32767).astype(np.int16)


class FileSource:
    """Frames from an audio file, optionally paced like a microphone, then optional silence.

    The trailing silence lets the endpointer close an utterance that runs to the end of the file.
    """

    def __init__(
        self,
        path: str | Path,
        frame_ms: int = 20,
        *,
        realtime: bool = False,
        trailing_silence_ms: int = 0,
    ) -> None:
        self.frame_ms = frame_ms
        self.path = Path(path)
        self.realtime = realtime
        self.trailing_silence_ms = trailing_silence_ms
        self._frame_samples = frame_samples(frame_ms)
        self.samples = read_pcm16(self.path)
        self._closed = threading.Event()

    @property
    def duration_s(self) -> float:
        """Length of the file's audio, without padding or trailing silence."""
        return len(self.samples) / SAMPLE_RATE

    def frames(self) -> Iterator[bytes]:
        n = self._frame_samples
        count = math.ceil(len(self.samples) / n) + math.ceil(
            self.trailing_silence_ms / self.frame_ms
        )
        audio = np.zeros(count * n, dtype=np.int16)
        audio[: len(self.samples)] = self.samples
        start = time.monotonic()
        for i in range(count):
            if self.realtime:  # a microphone hands over each frame once it has been recorded
                due = start + (i + 1) * self.frame_ms / 1000
                self._closed.wait(max(0.0, due - time.monotonic()))
            if self._closed.is_set():
                return
            yield audio[i * n : (i + 1) * n].tobytes()

    def close(self) -> None:
        self._closed.set()
