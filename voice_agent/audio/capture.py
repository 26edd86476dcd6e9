"""Audio sources: the microphone through pyaudio, and audio files for tests and `--input`.

Both yield frames of exactly frame_ms of 16 kHz mono int16, as the VAD needs.
"""

from __future__ import annotations

import logging
import math
import stat
import threading
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voice_agent.audio.base import SAMPLE_RATE, SAMPLE_WIDTH, AudioError
from voice_agent.audio.clock import SampleClock
from voice_agent.audio.devices import open_error, open_pyaudio, quiet_stderr, resolve_device

if TYPE_CHECKING:
    from voice_agent.config import AudioConfig

log = logging.getLogger(__name__)
FRAME_MS_CHOICES = (10, 20, 30)  # what webrtcvad accepts
RAW_SUFFIXES = (".raw", ".pcm")
RAW_CHUNK_BYTES = 1 << 20
FORMATS_HINT = "give a WAV, FLAC, MP3 or OGG file"
_PA_CONTINUE = 0  # pyaudio.paContinue, fixed by PortAudio's API
# Frame times are told this much late, so that they are never early: PortAudio's recording
# times through ALSA's pulse plugin came up to 9 ms early, which gives the echo canceller the
# speaker's audio after its echo, and it lets that through whole (see echo.py).
CAPTURE_MARGIN_S = 0.03
# The recording clock is moved when it is found this much early (its margin nearly used up:
# samples were lost) or this much late (the echo path the canceller must model grows).
CAPTURE_AHEAD_S, CAPTURE_BEHIND_S = 0.02, 0.06


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
        self._frames: deque[tuple[bytes, float]] = deque(maxlen=maxlen)
        self._ready = threading.Condition()
        self.dropped = 0

    def put(self, frame: bytes, at: float) -> None:
        """A frame recorded from time `at` on."""
        with self._ready:
            if len(self._frames) == self._frames.maxlen:
                self.dropped += 1
            self._frames.append((frame, at))
            self._ready.notify()

    def get(self, timeout: float) -> tuple[bytes, float] | None:
        """The oldest frame and its time, or None if none arrived within timeout (or wake()
        was called)."""
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
        self._clock = SampleClock(
            SAMPLE_RATE, late=True, ahead_s=CAPTURE_AHEAD_S, behind_s=CAPTURE_BEHIND_S
        )
        self.captured_at = 0.0  # time.monotonic() the last frame yielded was recorded (or later)
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
            got = self._queue.get(timeout=0.1)
            if got is not None:
                frame, self.captured_at = got
                yield frame
            elif not self._closed.is_set() and self._lost():
                self._reopen()

    def close(self) -> None:
        self._closed.set()
        self._queue.wake()
        self._close_stream()

    def _callback(self, data: bytes, frame_count: int, time_info: dict, status: int) -> tuple:
        self._arrived_at = now = time.monotonic()
        # PortAudio's own clock says how long ago the block was recorded; a host that does
        # not tell (0) leaves its length as the least it can be.
        ago = time_info.get("current_time", 0.0) - time_info.get("input_buffer_adc_time", 0.0)
        if not 0.0 < ago < 1.0:
            ago = frame_count / SAMPLE_RATE
        self._queue.put(data, self._clock.stamp(now - ago, frame_count) + CAPTURE_MARGIN_S)
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
            self._clock.restart()
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


class AudioFile:
    """A recording read as 16 kHz mono int16, chunk by chunk: a long file is never whole in
    memory. Any format, rate, sample type and channel count PyAV decodes; .raw/.pcm files
    must already be 16 kHz mono int16.

    Opening checks the file the way it will be read, so every reason it cannot be used
    (missing, a folder, unreadable, empty, not audio, no samples) is one AudioError naming
    it, before any model is loaded. Damaged stretches later in the file are skipped (logged).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        _check_file(self.path)
        probe = self.chunks()
        try:
            if next(probe, None) is None:
                raise AudioError(f"{self.path}: holds no audio samples")
        finally:
            probe.close()

    def chunks(self) -> Iterator[np.ndarray]:
        """The audio from the start, in non-empty chunks of 16 kHz mono int16 samples."""
        if self.path.suffix.lower() in RAW_SUFFIXES:
            return _raw_chunks(self.path)
        return _decoded_chunks(self.path)


def read_pcm16(path: str | Path) -> np.ndarray:
    """A whole audio file as 16 kHz mono int16 samples (see AudioFile)."""
    return np.concatenate(list(AudioFile(path).chunks()))


def _check_file(path: Path) -> None:
    try:
        info = path.stat()
        if stat.S_ISREG(info.st_mode):
            path.open("rb").close()  # the permission check that holds for every user
    except FileNotFoundError:
        raise AudioError(f"{path}: no such file") from None
    except PermissionError:
        raise AudioError(f"{path}: not allowed to read it") from None
    except OSError as exc:
        raise AudioError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioError(f"{path}: is a folder, not an audio file")
    if not stat.S_ISREG(info.st_mode):  # a pipe or a device: it may block, or never end
        raise AudioError(f"{path}: not a regular file; save the recording to a file first")
    if info.st_size == 0:
        raise AudioError(f"{path}: the file is empty")


def _raw_chunks(path: Path) -> Iterator[np.ndarray]:
    if path.stat().st_size % SAMPLE_WIDTH:
        raise AudioError(f"{path}: odd byte count; raw audio must be 16 kHz mono int16")
    with path.open("rb") as raw:
        while data := raw.read(RAW_CHUNK_BYTES):
            yield np.frombuffer(data, dtype="<i2").astype(np.int16)


def _decoded_chunks(path: Path) -> Iterator[np.ndarray]:
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        reason = _reason(exc)
        raise AudioError(f"{path}: not audio it can read ({reason}); {FORMATS_HINT}") from None
    with container:
        if not container.streams.audio:
            raise AudioError(f"{path}: holds no audio ({container.format.long_name})")
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        decoded = damaged = 0
        try:
            for packet in container.demux(container.streams.audio[0]):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:  # a damaged packet: skip it, keep the rest
                    damaged += 1
                    continue
                for frame in frames:
                    frame.pts = None  # a damaged file's timestamps must not stop the resampler
                    decoded += frame.samples
                    yield from _samples(resampler.resample(frame))
        except av.error.FFmpegError as exc:
            if not decoded:  # no decoder for it, or damaged from the start
                raise _undecodable(path, _reason(exc)) from None
            damaged += 1  # damaged from here on: what came before is kept
        yield from _samples(resampler.resample(None))
    if damaged and not decoded:
        raise _undecodable(path, "every part of it is damaged")
    if damaged:
        log.warning("%s: %d damaged stretches of audio skipped", path, damaged)


def _undecodable(path: Path, reason: str) -> AudioError:
    return AudioError(f"{path}: cannot decode its audio ({reason}); {FORMATS_HINT}")


def _samples(frames: list) -> Iterator[np.ndarray]:
    for frame in frames:
        samples = frame.to_ndarray().reshape(-1)
        if samples.size:
            yield samples


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


class FileSource:
    """Frames from an audio file, optionally paced like a microphone, then optional silence.

    The trailing silence lets the endpointer close an utterance that runs to the end of the file.
    The file is checked here (see AudioFile) and decoded as frames() goes.
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
        self.realtime = realtime
        self.trailing_silence_ms = trailing_silence_ms
        self._frame_samples = frame_samples(frame_ms)
        self.file = AudioFile(path)
        self.path = self.file.path
        self.samples_read = 0
        self.captured_at = 0.0  # the last frame's time, as if it came from a microphone
        self._closed = threading.Event()

    @property
    def duration_s(self) -> float:
        """Length of the file's audio read so far (all of it once frames() has run), without
        padding or trailing silence."""
        return self.samples_read / SAMPLE_RATE

    def frames(self) -> Iterator[bytes]:
        start = time.monotonic()
        for i, frame in enumerate(self._frames()):
            self.captured_at = start + i * self.frame_ms / 1000
            if self.realtime:  # a microphone hands over each frame once it has been recorded
                due = self.captured_at + self.frame_ms / 1000
                self._closed.wait(max(0.0, due - time.monotonic()))
            if self._closed.is_set():
                return
            yield frame

    def close(self) -> None:
        self._closed.set()

    def _frames(self) -> Iterator[bytes]:
        """The file in whole frames, the last one padded with zeros, then the silence."""
        n = self._frame_samples
        self.samples_read = 0
        rest = np.zeros(0, dtype=np.int16)
        for chunk in self.file.chunks():
            self.samples_read += len(chunk)
            rest = np.concatenate([rest, chunk])
            whole = len(rest) - len(rest) % n
            for i in range(0, whole, n):
                yield rest[i : i + n].tobytes()
            rest = rest[whole:]
        if len(rest):
            yield np.pad(rest, (0, n - len(rest))).tobytes()
        silence = bytes(n * SAMPLE_WIDTH)
        for _ in range(math.ceil(self.trailing_silence_ms / self.frame_ms)):
            yield silence
