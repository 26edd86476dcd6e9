"""Wake words: openWakeWord hears "hey jarvis" in every voice and nothing else, and with
wake.enabled only requests are answered (or stored), through `voice-agent run --input`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import SAMPLE_RATE, espeak, layout, piper, recording, write_wav
from stages import cli

from voice_agent.audio.vad import Segmenter
from voice_agent.config import VadConfig, load_settings
from voice_agent.errors import ConfigError
from voice_agent.events import StateChanged, WakeDetected
from voice_agent.wake.gate import WAITING, WakeGate
from voice_agent.wake.openwakeword import OpenWakeWordDetector
from voice_agent.wake.words import strip_wake_phrase

VOICES = ["en-us", "en-us+m3", "en+f3", "en-gb-x-rp", "en+f4"]
COMMANDS = ["how long is left on my timer", "what is twenty five times four"]
OTHER_SPEECH = [
    "what time is it in tokyo",
    "turn the radio down a little, would you",
    "have you seen the car keys anywhere",
    "jump over the fence and run to the garage",
    "hey there, how are you doing today",
    "the service was great, thanks for your help",
]
REAL_SPEECH = [
    "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
    "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
    "cards/005.wav",
    "numbers.raw",
    "goforward.raw",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wake")


def detections(pcm: np.ndarray) -> list:
    """What a fresh detector hears in `pcm`, fed as 20 ms frames."""
    found = OpenWakeWordDetector(["hey_jarvis"], threshold=0.5)
    data = pcm.astype("<i2").tobytes()
    heard = [d for i in range(0, len(data), 640) for d in found.feed(data[i : i + 640])]
    found.close()
    return heard


@pytest.mark.parametrize("voice", [*VOICES, "piper"])
def test_hey_jarvis_is_heard_once_right_after_it_is_said(voice, workdir):
    for command in ["", *COMMANDS]:
        text = f"hey jarvis, {command}" if command else "hey jarvis"
        said = piper(f"Hey Jarvis. {command}", workdir) if voice == "piper" else None
        if said is None:
            said = espeak(text, workdir, voice=voice)
        wake = (
            piper("Hey Jarvis.", workdir)
            if voice == "piper"
            else espeak("hey jarvis", workdir, voice=voice)
        )
        stream = layout([said], [1.0], 1.0)
        wake_end = 1.0 + len(wake) / SAMPLE_RATE
        heard = detections(stream.pcm)
        assert [d.word for d in heard] == ["hey_jarvis"], (voice, text)
        assert wake_end <= heard[0].at_s <= wake_end + 0.5, (voice, text, heard, wake_end)


def test_other_speech_wakes_nothing(workdir):
    pieces = [espeak(text, workdir, voice=v) for text in OTHER_SPEECH for v in VOICES[:3]]
    pieces += [recording(clip) for clip in REAL_SPEECH]
    stream = layout(pieces, [0.5] * len(pieces), 0.5)
    assert stream.duration_s > 60
    assert detections(stream.pcm) == []


def test_a_wake_word_not_bundled_is_named_with_the_bundled_ones():
    with pytest.raises(ConfigError) as told:
        load_settings("speed", ["wake.words=[hey_bob]"])
    assert "wake.words" in str(told.value)
    for word in ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy", "okay_nabu"):
        assert word in str(told.value)
    done = cli("profiles", "show", "speed", "--set", "wake.words=[hey_bob]")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len((done.stderr + done.stdout).strip().splitlines()) == 1


def test_wyoming_needs_its_server_address():
    with pytest.raises(ConfigError, match="wake.uri"):
        load_settings("speed", ["wake.engine=wyoming"])
    assert load_settings("speed", ["wake.engine=wyoming", "wake.uri=tcp://127.0.0.1:10400"])


@pytest.mark.parametrize(
    ("heard", "asked"),
    [
        ("Hey Jarvis, how long is left on my timer?", "how long is left on my timer?"),
        ("Jarvis. What time is it?", "What time is it?"),
        ("Hey Jervis what is 25 times 4", "what is 25 times 4"),
        ("Hey, what time is it?", "Hey, what time is it?"),
        ("Jars of jam", "Jars of jam"),
    ],
)
def test_what_is_left_of_the_wake_phrase_leaves_the_transcript(heard, asked):
    assert strip_wake_phrase(heard, ["hey_jarvis"]) == asked


def test_the_gate_cuts_the_wake_word_and_opens_a_window_after_answers(workdir):
    """Straight through the endpointer and the gate, no speech recognition: which utterances
    are requests, and where they start."""
    wake = espeak("hey jarvis", workdir)
    pieces = [
        espeak("what time is it", workdir),
        espeak("hey jarvis, how long is left on my timer", workdir),
        espeak("and the other one", workdir),
        espeak("what is two plus two", workdir),
    ]
    stream = layout(pieces, [1.0, 2.0, 2.0, 8.0], 1.0)
    events = []
    gate = WakeGate(OpenWakeWordDetector(["hey_jarvis"], 0.5), ["hey_jarvis"], 5.0, events.append)
    segmenter = Segmenter(VadConfig(semantic_turn=False, end_silence_ms=500))
    admitted = []
    for frame in stream.frames(20):
        gate.hear(frame)
        for utterance in segmenter.feed(frame):
            request = gate.admit(utterance)
            if request is not None:
                admitted.append(request)
                gate.open()  # answered at once: the follow-up window starts now
    gate.close()
    assert len(admitted) == 2
    wake_end = stream.truth[1][0] + len(wake) / SAMPLE_RATE
    command_start = wake_end + 0.1  # espeak's pause at the comma is ~0.14 s
    assert wake_end - 0.03 <= admitted[0].start_s <= command_start
    assert admitted[1].speech_start_s == pytest.approx(stream.truth[2][0], abs=0.15)
    assert [e.word for e in events if isinstance(e, WakeDetected)] == ["hey_jarvis"]
    states = [e.state for e in events if isinstance(e, StateChanged)]
    assert states[0] == WAITING and states[-1] == WAITING and "listening" in states


def run_json(wav: Path, *sets: str) -> list[dict]:
    args = [
        "run",
        "--input",
        str(wav),
        "--json",
        "--profile",
        "speed",
        "--set",
        "wake.enabled=true",
    ]
    done = cli(*args, *(a for s in sets for a in ("--set", s)))
    assert done.returncode in (0, 1), done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_only_requests_are_answered_and_stored(workdir):
    pieces = [
        espeak("what time is it", workdir),  # no wake word: ignored
        espeak("hey jarvis, what is twenty five times four", workdir, voice="en-us+m3"),
        espeak("what is six times seven", workdir),  # within the follow-up window
        espeak("what is two plus two", workdir),  # long after: ignored
        espeak("hey jarvis", workdir, voice="en+f3"),  # alone: the request comes next
        espeak("what is twenty five times four", workdir),
    ]
    stream = layout(pieces, [1.0, 3.0, 7.0, 16.0, 3.0, 1.2], 2.0)
    wav = write_wav(stream.pcm, workdir / "requests.wav")
    turns = run_json(wav)
    said = [(t["transcript"], t["answer"]) for t in turns]
    assert len(turns) == 3, said
    assert ["100" in a for _, a in said] == [True, False, True], said
    assert "42" in said[1][1], said
    assert not any("jarvis" in (text or "").lower() for text, _ in said), said
    assert turns[0]["speech_start_s"] > stream.truth[1][0] + 0.5  # from the wake word on
    done = cli("history", "--json")
    stored = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert sorted(t["id"] for t in stored) == sorted(t["id"] for t in turns)


def test_speech_without_the_wake_word_makes_no_turn(workdir):
    pieces = [espeak("what time is it", workdir), espeak("set a timer for ten minutes", workdir)]
    wav = write_wav(layout(pieces, [1.0, 2.0], 1.0).pcm, workdir / "none.wav")
    done = cli(
        "run", "--input", str(wav), "--json", "--profile", "speed", "--set", "wake.enabled=true"
    )
    assert done.stdout.strip() == ""
    assert cli("history", "--json").stdout.strip() == ""
