"""Audio sources and sinks: files and WAV timelines, and the real pyaudio path through a private
PulseAudio null sink (tests/pulse.py), since this machine has no sound card."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pulse import no_pulse, play_into_mic
from scipy.signal import correlate

from voice_agent.audio import capture
from voice_agent.audio.base import SAMPLE_RATE, AudioError
from voice_agent.audio.capture import FileSource, FrameQueue, PyAudioSource, read_pcm16
from voice_agent.audio.devices import list_devices
from voice_agent.audio.playback import PyAudioSink, WavSink, resample

# --- helpers -------------------------------------------------------------------------------


def _tool(*command: str) -> None:
    if shutil.which(command[0]) is None:
        pytest.skip(f"{command[0]} is not installed (Debian package {command[0]})")
    subprocess.run(command, check=True, capture_output=True)


def tone(hz: float, seconds: float, rate: int, amplitude: int = 8000) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def loud_seconds(samples: np.ndarray, frame: int = 320, threshold: float = 1000.0) -> float:
    """How long the audio is loud, counted in 20 ms frames."""
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame).astype(np.float64)
    return float(np.sum(np.sqrt(np.mean(frames**2, axis=1)) > threshold) * frame / SAMPLE_RATE)


def best_match(captured: np.ndarray, reference: np.ndarray) -> float:
    """Highest normalised cross-correlation of reference anywhere in captured (1.0: identical).
    Stretches of captured with under 1% of the reference's energy do not count as matches."""
    cap = captured.astype(np.float64)
    ref = reference.astype(np.float64)
    scores = correlate(cap, ref, mode="valid", method="fft")
    cumulative = np.concatenate([[0.0], np.cumsum(cap**2)])
    energy = cumulative[len(ref) :] - cumulative[: -len(ref)]
    ref_energy = float(ref @ ref)
    loud = energy > 0.01 * ref_energy
    ncc = np.zeros_like(scores)
    ncc[loud] = scores[loud] / np.sqrt(energy[loud] * ref_energy)
    return float(ncc.max())


class Recorder:
    """Collects a source's frames on a thread until stop()."""

    def __init__(self, source: PyAudioSource) -> None:
        self.source = source
        self.frames: list[bytes] = []
        self.started = threading.Event()
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for frame in self.source.frames():
                self.frames.append(frame)
                self.started.set()
        except AudioError as exc:
            self.error = exc

    def wait_started(self) -> None:
        assert self.started.wait(10), "no audio arrived from the capture device"

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def stop(self) -> np.ndarray:
        self.source.close()
        self._thread.join(5)
        assert not self._thread.is_alive()
        return np.frombuffer(b"".join(self.frames), dtype=np.int16)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """WAVs made with sox and espeak-ng: odd rates and channel counts, speech and tones."""
    folder = tmp_path_factory.mktemp("media")
    names = ("tone44", "beep", "speech", "speech8", "padded")
    paths = {name: folder / f"{name}.wav" for name in names}
    _tool("sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(paths["tone44"]),
          "synth", "1.5", "sine", "440")  # fmt: skip
    _tool("sox", "-n", "-r", "16000", "-c", "1", "-b", "16", str(paths["beep"]),
          "synth", "0.3", "sine", "440", "vol", "0.5")  # fmt: skip
    _tool("espeak-ng", "-w", str(paths["speech"]), "hello world")
    _tool("sox", str(paths["speech"]), "-r", "8000", str(paths["speech8"]))
    # Leading silence: a null sink may swallow the first milliseconds of a new stream.
    _tool("sox", str(paths["speech"]), "-r", "16000", str(paths["padded"]), "pad", "0.3", "0.3")
    return paths


def _frames(source: FileSource) -> tuple[list[bytes], np.ndarray]:
    frames = list(source.frames())
    return frames, np.frombuffer(b"".join(frames), dtype=np.int16)


# --- file source ---------------------------------------------------------------------------


@pytest.mark.parametrize("frame_ms", [10, 20, 30])
def test_file_source_44k_stereo_gives_exact_frames_and_duration(media, frame_ms):
    source = FileSource(media["tone44"], frame_ms=frame_ms)
    frames, audio = _frames(source)
    size = SAMPLE_RATE * frame_ms // 1000
    assert {len(frame) for frame in frames} == {size * 2}
    assert source.samples_read == 24000  # 1.5 s at 16 kHz, from 66150 samples at 44.1 kHz
    assert source.duration_s == pytest.approx(1.5)
    assert len(frames) == math.ceil(24000 / size)
    assert np.all(audio[24000:] == 0)  # the last frame is zero-padded
    assert dominant_hz(audio[:24000], SAMPLE_RATE) == pytest.approx(440, abs=2)
    assert rms(audio[:24000]) > 10000  # both channels mixed, not halved to silence


def test_file_source_8k_speech_matches_the_16k_decode(media):
    low = FileSource(media["speech8"], frame_ms=30)
    high = read_pcm16(media["speech"])
    frames, audio = _frames(low)
    assert low.duration_s == pytest.approx(len(high) / SAMPLE_RATE, abs=0.001)
    assert {len(frame) for frame in frames} == {960}
    # The same words: an 8 kHz copy is the 16 kHz decode without its top half of the spectrum.
    assert best_match(audio, high[:8000]) > 0.95


def test_raw_file_is_taken_as_16k_mono_int16(tmp_path):
    samples = (np.arange(1000, dtype=np.int16) * 7 - 3000).astype(np.int16)
    path = tmp_path / "ramp.raw"
    path.write_bytes(samples.astype("<i2").tobytes())
    frames, audio = _frames(FileSource(path, frame_ms=10))
    assert len(frames) == 7  # 1000 samples -> 6 full frames of 160 and one padded
    assert np.array_equal(audio[:1000], samples)
    assert np.all(audio[1000:] == 0)


def test_raw_file_with_odd_length_is_an_audio_error(tmp_path):
    path = tmp_path / "odd.pcm"
    path.write_bytes(b"\x01\x02\x03")
    with pytest.raises(AudioError, match="odd byte count"):
        FileSource(path)


def test_trailing_silence_is_appended_in_whole_frames(tmp_path):
    path = tmp_path / "one.raw"
    path.write_bytes(np.full(320, 1000, dtype=np.int16).tobytes())
    frames, audio = _frames(FileSource(path, frame_ms=20, trailing_silence_ms=500))
    assert len(frames) == 1 + 25
    assert np.all(audio[:320] == 1000) and np.all(audio[320:] == 0)


def test_realtime_paces_frames_like_a_microphone_and_close_stops_it(tmp_path):
    path = tmp_path / "half.raw"
    path.write_bytes(np.zeros(8000, dtype=np.int16).tobytes())
    start = time.monotonic()
    assert len(list(FileSource(path, realtime=True).frames())) == 25
    assert 0.45 <= time.monotonic() - start < 0.9

    source = FileSource(path, realtime=True, trailing_silence_ms=10_000)
    threading.Timer(0.2, source.close).start()
    start = time.monotonic()
    count = sum(1 for _ in source.frames())
    assert time.monotonic() - start < 0.4
    assert 3 <= count <= 20  # about 10 frames in 0.2 s


def test_missing_and_undecodable_files_are_audio_errors(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        FileSource(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio at all")
    with pytest.raises(AudioError, match=r"bad\.wav: not audio it can read"):
        FileSource(bad)


def test_frame_ms_must_suit_the_vad(tmp_path):
    path = tmp_path / "x.raw"
    path.write_bytes(b"\0\0")
    with pytest.raises(ValueError, match="frame_ms must be one of"):
        FileSource(path, frame_ms=25)


# --- WAV sink ------------------------------------------------------------------------------


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()


def test_wav_sink_places_audio_at_the_exact_sample_and_silence_elsewhere(tmp_path):
    sink = WavSink(tmp_path / "out.wav", duration_s=2.0)  # as long as the input it answers
    ramp = np.arange(1, 801, dtype=np.int16)
    assert sink.place(ramp.tobytes(), SAMPLE_RATE, at_s=0.5) == pytest.approx(0.55)
    sink.close()
    audio, rate = _read_wav(tmp_path / "out.wav")
    assert rate == SAMPLE_RATE and len(audio) == 32000
    assert np.array_equal(audio[8000:8800], ramp)
    assert not audio[:8000].any() and not audio[8800:].any()


def test_wav_sink_resamples_places_mixes_and_appends(tmp_path):
    sink = WavSink(tmp_path / "out.wav")
    beep = tone(440, 0.25, 8000)
    end = sink.place(beep.tobytes(), 8000, at_s=1.0)
    assert end == pytest.approx(1.25)
    sink.place(beep.tobytes(), 8000, at_s=1.0)  # the same beep again on top: mixed, louder
    sink.play(tone(1000, 0.1, 22050).tobytes(), 22050)  # appended at the end
    sink.close()
    audio, _ = _read_wav(tmp_path / "out.wav")
    assert len(audio) == round(1.35 * SAMPLE_RATE)
    assert not audio[:16000].any()
    placed = audio[16000:20000]
    assert dominant_hz(placed, SAMPLE_RATE) == pytest.approx(440, abs=5)
    assert rms(placed) == pytest.approx(2 * rms(beep), rel=0.05)
    appended = audio[20000:]
    assert dominant_hz(appended, SAMPLE_RATE) == pytest.approx(1000, abs=12)


def test_wav_sink_is_at_least_as_long_as_asked_and_closes_once(tmp_path):
    sink = WavSink(tmp_path / "out.wav", sample_rate=22050)
    sink.place(tone(300, 0.5, SAMPLE_RATE).tobytes(), SAMPLE_RATE, at_s=3.0)
    sink.extend_to(1.0)  # shorter than what is there: no effect
    sink.stop()
    sink.close()
    sink.close()
    audio, rate = _read_wav(tmp_path / "out.wav")
    assert rate == 22050 and len(audio) == round(3.5 * 22050)
    with pytest.raises(ValueError):
        WavSink(tmp_path / "x.wav").place(b"\0\0", SAMPLE_RATE, at_s=-1)


def test_resample_keeps_pitch_and_length():
    out = resample(tone(440, 1.0, 44100), 44100, SAMPLE_RATE)
    assert len(out) == SAMPLE_RATE and out.dtype == np.int16
    assert dominant_hz(out, SAMPLE_RATE) == pytest.approx(440, abs=1)


# --- bounded capture queue (no hardware) ---------------------------------------------------


def test_frame_queue_drops_oldest_and_counts_drops():
    queue = FrameQueue(maxlen=10)
    for i in range(25):
        queue.put(bytes([i]), at=i / 50)
    assert queue.dropped == 15 and len(queue) == 10
    kept = [(bytes([i]), i / 50) for i in range(15, 25)]
    assert [queue.get(timeout=0) for _ in range(10)] == kept
    assert queue.get(timeout=0.01) is None


def test_frame_queue_never_blocks_a_fast_producer_behind_a_slow_consumer():
    queue = FrameQueue(maxlen=20)
    received: list[int] = []
    done = threading.Event()

    def consume() -> None:
        while not done.is_set() or len(queue):
            got = queue.get(timeout=0.01)
            if got is not None:
                received.append(int.from_bytes(got[0], "big"))
                time.sleep(0.002)  # slower than the producer

    consumer = threading.Thread(target=consume)
    consumer.start()
    slowest = 0.0
    for i in range(2000):
        start = time.perf_counter()
        queue.put(i.to_bytes(2, "big"), at=i / 50)
        slowest = max(slowest, time.perf_counter() - start)
    done.set()
    consumer.join(10)
    assert slowest < 0.05  # never waits for the consumer
    assert queue.dropped > 0
    assert queue.dropped + len(received) == 2000
    assert received == sorted(received) and received[-1] == 1999  # oldest went, newest kept


def test_frame_queue_wake_releases_a_waiting_consumer():
    queue = FrameQueue(maxlen=4)
    threading.Timer(0.05, queue.wake).start()
    start = time.monotonic()
    assert queue.get(timeout=5) is None
    assert time.monotonic() - start < 1


# --- devices and errors without a sound server ---------------------------------------------


@pytest.fixture
def no_devices() -> Iterator[None]:
    with no_pulse():
        if list_devices():
            pytest.skip("this machine has a real sound device; the no-device path needs none")
        yield


def test_no_device_is_an_audio_error_saying_what_to_do(no_devices):
    with pytest.raises(AudioError, match=r"^no audio input device found; connect a microphone"):
        PyAudioSource()
    with pytest.raises(AudioError, match=r"^no audio output device found; connect speakers"):
        PyAudioSink()


def test_named_device_without_any_device_is_an_audio_error(no_devices):
    with pytest.raises(AudioError, match="no audio input device found"):
        PyAudioSource(device="USB microphone")


class _BusyPyAudio:
    """Stands in for PyAudio where the only microphone is held by another program."""

    terminated = False

    def get_device_count(self) -> int:
        return 1

    def get_device_info_by_index(self, index: int) -> dict:
        return {"index": 0, "name": "hw mic", "maxInputChannels": 1, "maxOutputChannels": 0}

    def get_default_input_device_info(self) -> dict:
        return self.get_device_info_by_index(0)

    def get_format_from_width(self, width: int) -> int:
        return 8

    def open(self, **kwargs) -> None:
        raise OSError(-9985, "Device unavailable")

    def terminate(self) -> None:
        self.terminated = True


def test_busy_device_is_an_audio_error(monkeypatch):
    fake = _BusyPyAudio()
    monkeypatch.setattr(capture, "open_pyaudio", lambda: fake)
    with pytest.raises(AudioError, match=r"^cannot open the input device 'hw mic': it is busy"):
        PyAudioSource()
    assert fake.terminated


def test_missing_pyaudio_is_an_audio_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyaudio", None)
    with pytest.raises(AudioError, match="pyaudio is not installed"):
        list_devices()


def test_importing_audio_modules_loads_no_heavy_library():
    code = (
        "import sys, voice_agent.audio.capture, voice_agent.audio.playback;"
        "print(sorted({'pyaudio', 'faster_whisper', 'scipy', 'av'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- the real pyaudio path through a PulseAudio null sink ----------------------------------


def test_list_devices_shows_pulse_devices_and_defaults(pulse):
    devices = {device.name: device for device in list_devices()}
    assert {"pulse", "default"} <= set(devices)
    assert [d.name for d in devices.values() if d.is_default_input] == ["default"]
    assert [d.name for d in devices.values() if d.is_default_output] == ["default"]
    for device in devices.values():
        assert device.is_input and device.is_output
        assert 0 < device.low_input_latency_s <= device.high_input_latency_s
        assert 0 < device.low_output_latency_s <= device.high_output_latency_s


def test_capture_hears_what_is_played_into_the_microphone(pulse, media):
    recorder = Recorder(PyAudioSource(frame_ms=20))
    recorder.wait_started()
    play_into_mic(media["padded"])
    time.sleep(0.2)
    captured = recorder.stop()
    assert {len(frame) for frame in recorder.frames} == {640}
    speech = read_pcm16(media["speech"])
    # The same waveform, not merely some sound: every voiced 100 ms of the file is found in
    # the capture (window by window, so one scheduling hiccup under load cannot fail it).
    windows = [speech[i : i + 1600] for i in range(0, len(speech) - 1600, 1600)]
    voiced = [window for window in windows if rms(window) > 1000]
    scores = [best_match(captured, window) for window in voiced]
    assert len(voiced) >= 5
    assert np.mean(np.array(scores) > 0.95) >= 0.8, scores
    assert loud_seconds(captured) == pytest.approx(loud_seconds(speech), abs=0.1)


@pytest.mark.parametrize("frame_ms", [10, 30])
def test_capture_frames_have_the_configured_size(pulse, frame_ms):
    source = PyAudioSource("pulse", frame_ms=frame_ms)
    try:
        frames = source.frames()
        sizes = {len(next(frames)) for _ in range(10)}
    finally:
        source.close()
    assert sizes == {SAMPLE_RATE * frame_ms // 1000 * 2}
    assert source.device_name == "pulse"


def test_capture_drops_oldest_behind_a_stalled_consumer(pulse):
    source = PyAudioSource(queue_frames=10)
    try:
        frames = source.frames()
        next(frames)
        time.sleep(0.6)  # the consumer stalls for 30 frames; the callback must not
        backlog = [next(frames) for _ in range(10)]
        assert source.dropped >= 15
        assert {len(frame) for frame in backlog} == {640}
    finally:
        source.close()


def test_capture_ignores_what_was_said_before_frames_was_called(pulse, media):
    source = PyAudioSource()
    try:
        play_into_mic(media["beep"])  # heard while the loop was not listening yet
        time.sleep(0.3)  # let the sound server hand over what it still had in flight
        frames = source.frames()
        first = np.frombuffer(b"".join(next(frames) for _ in range(10)), dtype=np.int16)
    finally:
        source.close()
    assert rms(first) < 100


def test_device_chosen_by_index_or_any_case_name_part(pulse):
    by_name = {device.name: device.index for device in list_devices()}
    for choice in (by_name["pulse"], str(by_name["pulse"]), "PULSE", "puls"):
        source = PyAudioSource(choice)
        assert source.device_name == "pulse"
        source.close()
    sink = PyAudioSink("Default")
    assert sink.device_name == "default"
    sink.close()


def test_bad_device_names_and_indexes_are_audio_errors_listing_what_exists(pulse):
    with pytest.raises(
        AudioError, match=r"^no input device matches 'usb mic' \(available: .*'pulse'"
    ):
        PyAudioSource("usb mic")
    with pytest.raises(AudioError, match="no output device matches 99"):
        PyAudioSink(99)
    with pytest.raises(AudioError, match="matches several devices"):
        PyAudioSource("u")  # in both 'pulse' and 'default'


def test_sink_plays_into_the_null_sink_and_returns_when_done(pulse):
    recorder = Recorder(PyAudioSource())
    recorder.wait_started()
    sink = PyAudioSink()
    try:
        start = time.monotonic()
        sink.play(tone(440, 0.6, 22050).tobytes(), 22050)
        elapsed = time.monotonic() - start
        time.sleep(0.2)
    finally:
        sink.close()
    captured = recorder.stop()
    assert 0.55 <= elapsed < 1.5  # returns once heard, not when queued
    assert loud_seconds(captured) == pytest.approx(0.6, abs=0.1)
    assert dominant_hz(captured, SAMPLE_RATE) == pytest.approx(440, abs=3)


def test_sink_stop_from_another_thread_cuts_playback_within_100_ms(pulse):
    recorder = Recorder(PyAudioSource())
    recorder.wait_started()
    sink = PyAudioSink()
    returned_at: list[float] = []

    def play() -> None:
        sink.play(tone(440, 3.0, SAMPLE_RATE).tobytes(), SAMPLE_RATE)
        returned_at.append(time.monotonic())

    player = threading.Thread(target=play)
    player.start()
    time.sleep(0.5)
    stopped_at = time.monotonic()
    sink.stop()
    player.join(5)
    assert returned_at and returned_at[0] - stopped_at < 0.1
    sink.play(tone(880, 0.2, SAMPLE_RATE).tobytes(), SAMPLE_RATE)  # usable again after a stop
    time.sleep(0.2)
    sink.close()
    captured = recorder.stop()
    assert 0.3 < loud_seconds(captured) < 1.0  # ~0.5 s of the 3 s tone plus the 0.2 s one


def test_capture_reopens_when_the_device_comes_back(pulse):
    recorder = Recorder(PyAudioSource(reopen_backoff_s=0.2, reopen_attempts=5))
    recorder.wait_started()
    pulse.stop()  # the device disappears mid-session
    time.sleep(0.3)
    pulse.start()
    count = len(recorder.frames)
    deadline = time.monotonic() + 10
    while len(recorder.frames) < count + 25 and time.monotonic() < deadline:
        time.sleep(0.05)
    recorder.stop()
    assert recorder.error is None
    assert recorder.source.reopens == 1
    assert len(recorder.frames) >= count + 25  # the same frames() loop kept going


def test_capture_gives_up_with_an_audio_error_when_the_device_stays_gone(pulse):
    source = PyAudioSource(reopen_backoff_s=0.1, reopen_attempts=2)
    recorder = Recorder(source)
    recorder.wait_started()
    pulse.stop()
    recorder.join(10)
    assert isinstance(recorder.error, AudioError)
    assert "stopped delivering audio and could not be reopened after 2 tries" in str(recorder.error)
    pulse.start()
    frames = source.frames()  # a later call starts over
    assert len(next(frames)) == 640
    source.close()


def test_sink_reports_a_vanished_device_and_plays_again_once_it_is_back(pulse):
    sink = PyAudioSink()
    beep = tone(440, 0.1, SAMPLE_RATE).tobytes()
    sink.play(beep, SAMPLE_RATE)
    pulse.stop()
    with pytest.raises(AudioError, match="output device 'default'"):
        sink.play(tone(440, 1.0, SAMPLE_RATE).tobytes(), SAMPLE_RATE)
    pulse.start()
    start = time.monotonic()
    sink.play(beep, SAMPLE_RATE)
    assert time.monotonic() - start >= 0.09  # really played, through a fresh connection
    sink.close()
    with pytest.raises(AudioError, match="closed"):
        sink.play(beep, SAMPLE_RATE)
