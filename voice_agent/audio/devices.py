"""Audio devices through pyaudio (PortAudio): listing, choosing by index or name, clear errors.

pyaudio is imported inside functions: only live audio needs it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from voice_agent.audio.base import AudioError

Kind = Literal["input", "output"]

# PortAudio error codes worth explaining (portaudio.h, PaErrorCode).
_PA_ERRORS = {
    -9985: "it is busy or unavailable (another program may be using it)",
    -9996: "it is not a valid {kind} device",
    -9997: "it does not support {rate} Hz",
    -9998: "it does not support mono",
}


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float
    low_input_latency_s: float
    high_input_latency_s: float
    low_output_latency_s: float
    high_output_latency_s: float
    is_default_input: bool
    is_default_output: bool

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """PortAudio, ALSA and JACK print probing noise straight to fd 2, bypassing sys.stderr."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@contextmanager
def native_stderr_dropped() -> Iterator[None]:
    """For a live session: what PortAudio and ALSA print from their own threads when a
    device goes away ("Expression '...' failed in pa_linux_alsa.c") is dropped, while
    Python's sys.stderr (the terminal UI, warnings) still reaches the terminal."""
    python_stderr = sys.stderr
    python_stderr.flush()
    terminal = os.dup(2)
    sys.stderr = open(  # closed when the session ends
        terminal, "w", buffering=1, encoding=python_stderr.encoding, errors="backslashreplace"
    )
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        sys.stderr.close()
        sys.stderr = python_stderr


def open_pyaudio() -> Any:
    """A new PyAudio instance (probes devices afresh); the caller must terminate() it."""
    try:
        import pyaudio
    except ImportError:
        raise AudioError(
            "pyaudio is not installed; install the voice extra: pip install 'voice-agent[voice]'"
        ) from None
    with quiet_stderr():
        return pyaudio.PyAudio()


def list_devices() -> list[DeviceInfo]:
    """Every input and output device PortAudio sees, with latencies and the defaults marked."""
    pa = open_pyaudio()
    try:
        default_in = _default_index(pa, "input")
        default_out = _default_index(pa, "output")
        return [
            _device_info(pa, pa.get_device_info_by_index(i), default_in, default_out)
            for i in range(pa.get_device_count())
        ]
    finally:
        pa.terminate()


def _device_info(pa: Any, raw: dict, default_in: int, default_out: int) -> DeviceInfo:
    index = int(raw["index"])
    return DeviceInfo(
        index=index,
        name=str(raw["name"]),
        host_api=str(pa.get_host_api_info_by_index(raw["hostApi"])["name"]),
        max_input_channels=int(raw["maxInputChannels"]),
        max_output_channels=int(raw["maxOutputChannels"]),
        default_sample_rate=float(raw["defaultSampleRate"]),
        low_input_latency_s=float(raw["defaultLowInputLatency"]),
        high_input_latency_s=float(raw["defaultHighInputLatency"]),
        low_output_latency_s=float(raw["defaultLowOutputLatency"]),
        high_output_latency_s=float(raw["defaultHighOutputLatency"]),
        is_default_input=index == default_in,
        is_default_output=index == default_out,
    )


def _default_index(pa: Any, kind: Kind) -> int:
    """The default device's index, or -1 when there is none (PortAudio raises OSError)."""
    try:
        if kind == "input":
            return int(pa.get_default_input_device_info()["index"])
        return int(pa.get_default_output_device_info()["index"])
    except OSError:
        return -1


def _capable(pa: Any, kind: Kind) -> list[dict]:
    key = "maxInputChannels" if kind == "input" else "maxOutputChannels"
    infos = [pa.get_device_info_by_index(i) for i in range(pa.get_device_count())]
    return [info for info in infos if info[key] > 0]


def resolve_device(pa: Any, device: int | str | None, kind: Kind) -> dict:
    """PortAudio's info dict for a device given by index, by name (case-insensitive substring;
    an exact name wins) or None for the default. Raises AudioError naming what exists."""
    candidates = _capable(pa, kind)
    if not candidates:
        fix = "connect a microphone" if kind == "input" else "connect speakers or headphones"
        raise AudioError(
            f"no audio {kind} device found; {fix} (on Linux, check that PulseAudio or "
            "PipeWire is running)"
        )
    available = ", ".join(f"{info['index']} '{info['name']}'" for info in candidates)
    if device is None:
        index = _default_index(pa, kind)
        matches = [info for info in candidates if info["index"] == index] or candidates[:1]
    elif isinstance(device, int) or device.strip().isdigit():
        matches = [info for info in candidates if info["index"] == int(device)]
    else:
        wanted = device.strip().lower()
        exact = [info for info in candidates if info["name"].lower() == wanted]
        matches = exact or [info for info in candidates if wanted in info["name"].lower()]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise AudioError(
            f"{kind} device {device!r} matches several devices (available: {available}); "
            "give the index or a longer part of the name"
        )
    raise AudioError(f"no {kind} device matches {device!r} (available: {available})")


def open_error(kind: Kind, name: str, exc: OSError, rate: int) -> AudioError:
    """Turn PortAudio's OSError(code, text) from opening a stream into one clear sentence."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    text = exc.args[1] if len(exc.args) > 1 else str(exc)
    reason = _PA_ERRORS.get(code, f"PortAudio says: {text}").format(kind=kind, rate=rate)
    return AudioError(
        f"cannot open the {kind} device '{name}': {reason}; "
        "choose another (`voice-agent devices` lists them)"
    )
