"""Echo cancellation: the canceller itself, --simulate-echo, and barge-in that never hears itself.

The echo is the assistant's own replies (the profile's real voice) coming back into the
microphone at gain 0.5 after 60 ms, as a loudspeaker beside it would; the user is espeak-ng in
several voices, Piper and a real recording from pocketsphinx-testdata.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import SAMPLE_RATE, espeak, layout, piper, rms, write_wav

from voice_agent.app import build
from voice_agent.audio.capture import FileSource
from voice_agent.audio.echo import EchoPath, SimulatedEcho, WebRtcEchoCanceller
from voice_agent.config import load_settings
from voice_agent.errors import UserError
from voice_agent.events import BargeIn
from voice_agent.tts.factory import build_tts
from voice_agent.voice_loop import Reply

FRAME = SAMPLE_RATE // 50  # 20 ms, the profiles' frame


def reply_audio(text: str) -> np.ndarray:
    """What the assistant says, in its own voice, at the microphone's rate."""
    speech = build_tts(load_settings("speed").tts).synthesize(text)
    return Reply("t", 0.0, speech).samples.astype(np.float64)


def through_room(far: np.ndarray, near: np.ndarray, path: EchoPath, cancel: bool) -> np.ndarray:
    """The microphone signal (near end plus the echo of `far`), cancelled or not."""
    echo, canceller = SimulatedEcho(path), WebRtcEchoCanceller()
    out = []
    for i in range(0, len(near) - FRAME + 1, FRAME):
        played = np.clip(far[i : i + FRAME], -32768, 32767).astype("<i2").tobytes()
        frame = echo.mix(near[i : i + FRAME].astype("<i2").tobytes(), played)
        if cancel:
            canceller.played(played, i / SAMPLE_RATE)
            frame = canceller.clean(frame, i / SAMPLE_RATE)
        out.append(np.frombuffer(frame, "<i2"))
    return np.concatenate(out).astype(np.float64)


def db(x: np.ndarray) -> float:
    return 20 * np.log10(rms(x) + 1e-9)


def test_canceller_removes_the_echo_of_a_reply_and_keeps_the_user(tmp_path):
    far = reply_audio(
        "The weather in London is twelve degrees and cloudy. Tomorrow it will rain in the "
        "afternoon, so take an umbrella if you go out."
    )
    user = espeak("what time is it in Tokyo", tmp_path, voice="en-gb").astype(np.float64)
    n = len(far) + SAMPLE_RATE
    far = np.pad(far, (0, n - len(far)))
    at = 2 * SAMPLE_RATE  # the user talks over the reply from 2 s on
    near = np.zeros(n)
    near[at : at + len(user)] = user
    path = EchoPath(0.5, 60)
    echo_only = through_room(far, np.zeros(n), path, cancel=False)
    cancelled = through_room(far, np.zeros(n), path, cancel=True)
    # Echo return loss enhancement over the first second (the canceller still adapting) and
    # over the whole reply: measured here 34 dB and 40+ dB.
    first = slice(0, SAMPLE_RATE)
    assert db(echo_only[first]) - db(cancelled[first]) > 25
    assert db(echo_only) - db(cancelled) > 30
    # Double talk: the user's speech comes through (within 6 dB), and is what is left.
    both = through_room(far, near, path, cancel=True)
    spoken = slice(at, at + len(user))
    assert abs(db(both[spoken]) - db(user)) < 6
    assert db(both[spoken]) - db(cancelled[spoken]) > 25


def test_canceller_keeps_the_two_ends_in_step_by_time_not_by_arrival():
    """Live, the speaker's audio is handed over in bursts ahead of time (a buffer filled at
    each write, refilled after a stall) and the microphone's frames reach the canceller in a
    backlog: each frame still meets the audio played when it was recorded. Counted frame
    for frame instead, the echo came before its reference and went through whole."""
    far = reply_audio(
        "The weather in London is twelve degrees and cloudy. Tomorrow it will rain in the "
        "afternoon, so take an umbrella if you go out."
    )
    far = np.pad(far, (0, SAMPLE_RATE))
    echo = SimulatedEcho(EchoPath(0.5, 20))
    canceller = WebRtcEchoCanceller()
    rng = np.random.default_rng(7)
    written, out = 0, []
    for i in range(0, len(far) - FRAME + 1, FRAME):
        # The player runs 0-300 ms ahead of the microphone, in writes of any size.
        ahead = i + int(rng.integers(0, 300)) * SAMPLE_RATE // 1000
        while written < min(ahead, len(far)):
            size = min(int(rng.integers(100, 4000)), len(far) - written)
            chunk = np.clip(far[written : written + size], -32768, 32767).astype("<i2")
            canceller.played(chunk.tobytes(), written / SAMPLE_RATE)
            written += size
        played = np.clip(far[i : i + FRAME], -32768, 32767).astype("<i2").tobytes()
        frame = echo.mix(bytes(FRAME * 2), played)
        out.append(np.frombuffer(canceller.clean(frame, i / SAMPLE_RATE), "<i2"))
    cancelled = np.concatenate(out).astype(np.float64)
    echo_only = through_room(far, np.zeros(len(far)), EchoPath(0.5, 20), cancel=False)
    late = slice(SAMPLE_RATE, len(cancelled))  # after the first second's adapting
    assert db(echo_only[late]) - db(cancelled[late]) > 30


def test_the_residual_echo_bar_follows_what_was_just_played():
    """30 dB under the loudest 10 ms played in the last 0.3 s; nothing played, no bar."""
    canceller = WebRtcEchoCanceller()
    assert canceller.residual_db(0.0, FRAME) == -np.inf
    tone = np.full(SAMPLE_RATE // 2, 3277, "<i2")  # -20 dBFS for 0.5 s from t=1 s
    canceller.played(tone.tobytes(), 1.0)
    for at in (1.0, 1.4, 1.75):  # during it, and within the echo's tail after it
        assert canceller.residual_db(at, FRAME) == pytest.approx(-50.0, abs=0.1)
    assert canceller.residual_db(1.85, FRAME) == -np.inf


def test_simulated_echo_is_the_played_audio_delayed_and_scaled():
    echo = SimulatedEcho(EchoPath(0.5, 60))
    impulse = np.zeros(FRAME, "<i2")
    impulse[0] = 10000
    silence = bytes(FRAME * 2)
    frames = [echo.mix(silence, impulse.tobytes())] + [echo.mix(silence, silence) for _ in range(4)]
    heard = np.frombuffer(b"".join(frames), "<i2")
    assert np.flatnonzero(heard).tolist() == [60 * SAMPLE_RATE // 1000]
    assert heard.max() == 5000


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.5", EchoPath(0.5, 60)), ("0.8,120", EchoPath(0.8, 120)), ("0,0", EchoPath(0.0, 0))],
)
def test_simulate_echo_values(text, expected):
    assert EchoPath.parse(text) == expected


@pytest.mark.parametrize("text", ["", "loud", "0.5,", "0.5,60,1", "-0.1", "5", "nan", "0.5,-1"])
def test_simulate_echo_rejects_bad_values_in_one_line(text, tmp_path):
    with pytest.raises(UserError):
        EchoPath.parse(text)
    wav = write_wav(np.zeros(SAMPLE_RATE, np.int16), tmp_path / "quiet.wav")
    cli = Path(sys.executable).with_name("voice-agent")
    done = subprocess.run(
        [str(cli), "run", "--input", str(wav), f"--simulate-echo={text}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--simulate-echo takes GAIN[,DELAY_MS]" in done.stderr


# (voice, what the user says, a word the transcript must hold); skills only, so replies come
# fast and each one plays out in the gap after it.
COMMANDS = [
    ("espeak", "how many days until christmas", "christmas"),
    ("espeak en-gb", "what time is it in Tokyo", "tokyo"),
    ("piper", "convert five miles to kilometers", "miles"),
    ("espeak en-us+f3", "set a timer for ten minutes", "timer"),
]


def speak(voice: str, text: str, work: Path) -> np.ndarray:
    if voice == "piper":
        return piper(text, work)
    return espeak(text, work, voice=voice.split()[1] if " " in voice else "en-us")


def run_with_echo(wav: Path, tmp_path: Path, profile: str, sets: list[str]):
    settings = load_settings(
        profile, ["audio.barge_in=true", f"store.path={tmp_path / 'db'}", *sets]
    )
    app = build(settings)
    barge_ins: list[float] = []
    try:
        from voice_agent.voice_loop import VoiceLoop

        def on_event(event) -> None:
            if isinstance(event, BargeIn):
                barge_ins.append(event.at_s)

        loop = VoiceLoop(app, on_event=on_event)
        source = FileSource(wav, settings.audio.frame_ms, trailing_silence_ms=800)
        turns = loop.run_file(source, SimulatedEcho(EchoPath(0.5, 60)))
    finally:
        app.close()
    return turns, barge_ins, loop.timeline


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    work = tmp_path_factory.mktemp("echo")
    pieces = [speak(voice, text, work) for voice, text, _ in COMMANDS]
    # Gaps long enough for each reply (2-4 s of speech) to play out before the next command,
    # also on a loaded machine.
    stream = layout(pieces, [1.0] + [10.0] * (len(pieces) - 1), tail_s=10.0)
    return write_wav(stream.pcm, work / "commands.wav"), stream.truth


@pytest.mark.slow
def test_barge_in_with_echo_never_hears_itself(commands, tmp_path):
    wav, truth = commands
    turns, barge_ins, timeline = run_with_echo(wav, tmp_path, "speed", [])
    by_user = [b for b in barge_ins if any(0 <= b - start <= 0.3 for start, _ in truth)]
    assert barge_ins == by_user, "a reply was cut by its own echo"
    assert [round(t.speech_start_s, 1) for t in turns] == pytest.approx(
        [start for start, _ in truth], abs=0.3
    ), "a turn was heard from the echo"
    for turn, (_, _, word) in zip(turns, COMMANDS, strict=True):
        assert word in turn.transcript.lower(), turn.transcript
    # The replies did play, loudly enough to be heard back: this is not a quiet pass.
    assert len(timeline) >= len(COMMANDS)
    assert max(np.abs(r.samples).max() for r in timeline) > 8000


@pytest.mark.slow
def test_without_echo_cancellation_the_echo_cuts_the_replies(commands, tmp_path):
    """The same run with the canceller off: what the test above guards against does happen."""
    _, barge_ins, _ = run_with_echo(
        commands[0], tmp_path, "speed", ["audio.echo_cancellation=false"]
    )
    assert len(barge_ins) >= 3


@pytest.mark.slow
def test_user_talking_over_the_reply_stops_it_within_300_ms(tmp_path):
    ask = espeak("what can you do", tmp_path)
    over = piper("what time is it in Tokyo", tmp_path)
    # The first reply (a list of what it can do) lasts about 35 s from 1-4 s after the
    # question; the user talks over it 6 s after the question ends.
    stream = layout([ask, over], [1.0, 6.0], tail_s=8.0)
    wav = write_wav(stream.pcm, tmp_path / "over.wav")
    turns, barge_ins, _ = run_with_echo(wav, tmp_path, "speed", [])
    user_start = stream.truth[1][0]
    assert len(barge_ins) == 1
    assert 0 <= barge_ins[0] - user_start <= 0.3
    first, second = turns
    assert first.interrupted and first.reply_end_s - user_start <= 0.3
    assert "tokyo" in second.transcript.lower() and "Tokyo" in second.answer
