"""A private PulseAudio daemon with a null sink, so pyaudio has real devices without a sound card.

    with pulse_null_sink() as server:   # this process's environment now points at it
        play_into_mic("hello.wav")      # what the microphone (vsink.monitor) hears

The daemon is started with Popen and stopped by its pid; its socket, cookie and state live in
a temporary folder, so a user's own sound server is never touched. PortAudio reaches it
through ALSA's pulse plugin (Debian libasound2-plugins, a dependency of pulseaudio): Debian's
/etc/alsa/conf.d/99-pulse.conf makes it the default PCM whenever a server answers, and
PortAudio then lists 'pulse' and 'default'. Running as root needs nothing special.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SINK = "vsink"
SOURCE = "vsink.monitor"
TOOLS = ("pulseaudio", "pactl", "paplay", "parec")
START_TIMEOUT_S = 10.0


class PulseUnavailable(RuntimeError):
    """PulseAudio is not installed or would not start; the message says which."""


class PulseServer:
    def __init__(self, root: Path, rate: int = 16000) -> None:
        self.root = root
        self.rate = rate
        self.process: subprocess.Popen | None = None
        self.clock: subprocess.Popen | None = None
        (root / "client.conf").write_text("autospawn = no\n")

    @property
    def socket(self) -> Path:
        return self.root / "native"

    @property
    def env(self) -> dict[str, str]:
        """What a client needs (this process for PortAudio, pactl, paplay): only our daemon."""
        return {
            "PULSE_SERVER": f"unix:{self.socket}",
            "PULSE_COOKIE": str(self.root / "cookie"),
            "PULSE_CLIENTCONFIG": str(self.root / "client.conf"),
        }

    def start(self) -> None:
        config = self.root / "daemon.pa"
        config.write_text(
            f"load-module module-native-protocol-unix socket={self.socket} auth-anonymous=1\n"
            f"load-module module-null-sink sink_name={SINK} rate={self.rate} channels=1 "
            "format=s16le\n"
            f"set-default-sink {SINK}\n"
            f"set-default-source {SOURCE}\n"
        )
        # The daemon's own state (runtime dir, ~/.config/pulse) goes under root too.
        daemon_env = {
            **os.environ,
            **self.env,
            "HOME": str(self.root),
            "XDG_RUNTIME_DIR": str(self.root),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "PULSE_RUNTIME_PATH": str(self.root / "runtime"),
            "PULSE_STATE_PATH": str(self.root / "state"),
        }
        command = [
            "pulseaudio", "-n", "-F", str(config), "--daemonize=no", "--exit-idle-time=-1",
            "--disallow-exit", "--realtime=no", "--high-priority=no", "--log-target=stderr",
        ]  # fmt: skip
        with open(self.root / "pulse.log", "ab") as log:
            self.process = subprocess.Popen(
                command, env=daemon_env, stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
        try:
            self._wait_ready()
            self._start_clock()
        except PulseUnavailable:
            self.stop()
            raise

    def _start_clock(self) -> None:
        """An idle null sink renders in 2 s blocks, so a new recorder would wait up to 2 s for
        its first frame. A 10 ms reader on the monitor, and a suspend/resume so the sink
        restarts its timer at that latency, make it tick like a sound card."""
        self.clock = subprocess.Popen(
            ["parec", f"--device={SOURCE}", "--latency-msec=10", "--raw"],
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _pactl(self.env, "list", "short", "source-outputs").stdout.strip():
            if time.monotonic() > deadline or self.clock.poll() is not None:
                raise PulseUnavailable("parec could not record from the null sink's monitor")
            time.sleep(0.02)
        for state in ("1", "0"):
            _pactl(self.env, "suspend-sink", SINK, state)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise PulseUnavailable(f"pulseaudio exited at start: {self._log_tail()}")
            if _pactl(self.env, "info").returncode == 0:
                return
            time.sleep(0.05)
        raise PulseUnavailable(f"pulseaudio did not answer within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """Stop the daemon (and its clock reader) by pid."""
        for process in (self.clock, self.process):
            if process is not None:
                _end(process)
        self.clock = self.process = None

    def _log_tail(self) -> str:
        lines = (self.root / "pulse.log").read_text(errors="replace").strip().splitlines()
        errors = [line for line in lines if line.startswith("E:")]
        return (errors or lines or ["no output"])[-1]


def _end(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _pactl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["pactl", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=10
    )


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def pulse_null_sink(rate: int = 16000) -> Iterator[PulseServer]:
    """Our own daemon with null sink `vsink` (rate Hz, mono) and `vsink.monitor` as the default
    source; this process's environment points PortAudio and the pa* tools at it meanwhile.
    Raises PulseUnavailable when PulseAudio is missing or will not start."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise PulseUnavailable(
            f"{', '.join(missing)} not found (Debian packages pulseaudio, pulseaudio-utils)"
        )
    with tempfile.TemporaryDirectory(prefix="va-pulse-") as tmp:
        server = PulseServer(Path(tmp), rate)
        with _environ(server.env):
            server.start()
            try:
                yield server
            finally:
                server.stop()


@contextmanager
def no_pulse() -> Iterator[None]:
    """Point clients at a socket where no server listens (and forbid autospawn), so PortAudio
    sees what a machine without a sound server sees: here, no devices at all."""
    with tempfile.TemporaryDirectory(prefix="va-nopulse-") as tmp:
        (Path(tmp) / "client.conf").write_text("autospawn = no\n")
        with _environ(
            {
                "PULSE_SERVER": f"unix:{tmp}/none",
                "PULSE_COOKIE": f"{tmp}/cookie",
                "PULSE_CLIENTCONFIG": f"{tmp}/client.conf",
            }
        ):
            yield


def play_into_mic(wav_path: str | Path, timeout_s: float = 30.0) -> None:
    """Play a file into the null sink (blocks for its duration): the microphone hears it."""
    subprocess.run(
        ["paplay", f"--device={SINK}", str(wav_path)],
        check=True,
        capture_output=True,
        timeout=timeout_s,
    )
