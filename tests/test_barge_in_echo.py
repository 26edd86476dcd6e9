"""Barge-in on open speakers: backchannels and noise let the reply go on, requests stop it.

Files go through `voice-agent run --input REC` with barge-in on and the replies echoed back
at gain 0.5 (`--simulate-echo 0.5`); the live path plays the replies into a PulseAudio null
sink whose monitor is the microphone, so the assistant hears itself as on open speakers.
The long reply is "what can you do" (about 35 s); the user speaks over it in espeak-ng
voices and Piper.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import SPEECH_RMS, burst, espeak, layout, piper, write_wav
from pulse import play_into_mic

from voice_agent.barge_in import REWIND_S, judge, resume_point
from voice_agent.language.acknowledgement import is_acknowledgement
from voice_agent.tts.base import Speech

ONSET_S = 0.3  # a barge-in pauses the reply this soon after the user starts speaking


@pytest.mark.parametrize(
    "text",
    ["Mm-hmm.", "Mhm", "Uh-huh.", "Hmm...", "Okay.", "Oh, okay.", "Yeah, I see.", "Right?",
     "Sure, thanks.", "Got it.", "That's great.", "All right, makes sense.", "Thank you."],
)  # fmt: skip
def test_acknowledgements_are_a_word_class(text):
    assert is_acknowledgement(text)


@pytest.mark.parametrize(
    "text",
    ["", "Okay, and what about tomorrow?", "Stop.", "Wait.", "No.", "Okay 5", "yeah what time is "
     "it", "Right, set a timer", "Sure, but in Celsius"],
)  # fmt: skip
def test_anything_that_asks_is_not_an_acknowledgement(text):
    assert not is_acknowledgement(text)


def test_speech_over_a_reply_is_noise_a_backchannel_or_a_request():
    assert judge("", 0.3, 1.5) == "noise"
    assert judge(" . ", 2.0, 1.5) == "noise"
    assert judge("Oh, okay.", 0.6, 1.5) == "backchannel"
    assert judge("Oh, okay, yeah, right, I see, sure.", 2.5, 1.5) == "request"  # not short
    assert judge("Okay.", 0.4, 0.0) == "request"  # backchannel_max_ms 0: words stop it
    assert judge("Okay, and what time is it in Tokyo?", 1.8, 1.5) == "request"
    reply = "It's 9:55 PM in Tokyo, 9 hours ahead of you."
    assert judge("in Tokyo nine hours ahead", 1.2, 1.5, saying=reply) == "echo"
    assert judge("Stop.", 0.4, 1.5, saying="Ask me to repeat, stop, or switch.") == "request"
    assert judge("what time is it in London", 1.4, 1.5, saying=reply) == "request"


@pytest.mark.parametrize(
    ("first", "second", "heard"),
    [
        (("Yes, gone.", -0.5), ("Yes, go on.", -0.2), "backchannel"),  # heard again in context
        (("That.", -0.5), ("Uh-huh.", -0.3), "backchannel"),
        (("I'll go.", -0.5), ("Okay.", -0.95), "request"),  # a clipped "louder": context guessed
        (("Stop.", -0.3), ("Stop.", -0.1), "request"),
        (("Hold on.", -0.3), ("Hold on.", -0.1), "request"),
        (("better,", -1.14), ("Better.", -0.56), "unclear"),  # a clipped "uh-huh": both unsure
        (("Duh.", -0.89), ("Stop.", -0.3), "request"),  # unsure, then surely heard as a request
        (("And remember,", -1.06), ("Okay.", -0.3), "backchannel"),
    ],
)
def test_a_short_sound_heard_as_a_request_is_heard_again_as_an_acknowledgement(
    first, second, heard, voices
):
    """The echo canceller clips the start of speech over a reply: a short sound that first
    sounds like a request is transcribed once more with acknowledgements as Whisper's
    context, and is a backchannel only if that hears one, and surely. Words Whisper only
    guessed at, and then did not hear surely, are unclear: the reply goes on. Longer speech
    is not asked twice."""
    from voice_agent.audio.base import Utterance
    from voice_agent.barge_in import Listener
    from voice_agent.language.acknowledgement import ACKNOWLEDGEMENT_CONTEXT
    from voice_agent.stt import Transcript

    asked: list[str | None] = []

    def transcribe(pcm: bytes, context: str | None) -> Transcript:
        asked.append(context)
        text, logprob = second if context == ACKNOWLEDGEMENT_CONTEXT else first
        return Transcript(text, "en", len(pcm) / 32000, 100.0, (text,), logprob, 0.1)

    listener = Listener(transcribe, 1.5, 0.2, -0.8, lambda: "I can tell the time.", realtime=False)
    said = espeak("yes go on", voices).tobytes()
    short = Utterance(said, 0.0, 0.1, 0.7, 0.9)
    assert listener.hear(short, 1.0).result().heard == heard
    assert asked == [None, ACKNOWLEDGEMENT_CONTEXT]
    asked.clear()
    long = Utterance(
        espeak("what time is it in Tokyo and in Paris", voices).tobytes(), 0, 0.1, 2.1, 2.3
    )
    assert listener.hear(long, 3.0).result().heard == "request" and asked == [None]


def test_words_guessed_in_the_pause_are_not_transcribed_again(voices):
    """The transcript the turn judge took in the pause, and whether it was a guess, is the
    first hearing: only the second, with acknowledgements as context, is asked for."""
    from concurrent.futures import Future

    from voice_agent.audio.base import Utterance
    from voice_agent.audio.vad import Judgement, Verdict
    from voice_agent.barge_in import Listener
    from voice_agent.stt import Transcript

    asked: list[str | None] = []

    def transcribe(pcm: bytes, context: str | None) -> Transcript:
        asked.append(context)
        return Transcript("Better.", "en", len(pcm) / 32000, 100.0, ("Better.",), -0.56, 0.1)

    listener = Listener(transcribe, 1.5, 0.2, -0.8, lambda: "I can tell the time.", False)
    for guess, heard in ((True, "unclear"), (False, "request")):
        utterance = Utterance(espeak("uh-huh", voices).tobytes(), 0.0, 0.1, 0.6, 0.8)
        verdict: Future[Verdict] = Future()
        verdict.set_result(Verdict(False, 0.2, "better,", "sounds unfinished", guess=guess))
        utterance.judged = Judgement(verdict, None)
        asked.clear()
        over = listener.hear(utterance, 1.0).result()
        assert (over.heard, over.text) == (heard, "better,") and len(asked) == 1 and asked[0]


def test_a_sound_with_no_voice_in_it_is_noise_and_never_transcribed(voices):
    """Whisper may write a cough or a knock as words ("Okay."), differently from machine to
    machine: a sound Silero hears no voice in is noise before it is transcribed."""
    from voice_agent.audio.base import Utterance
    from voice_agent.audio.voice_check import holds_voice
    from voice_agent.barge_in import Listener

    def transcribe(pcm: bytes, context: str | None):
        raise AssertionError("transcribed")

    listener = Listener(transcribe, 1.5, 0.2, -0.8, lambda: "I can tell the time.", realtime=False)
    quiet = np.zeros(4800, np.int16)
    for seed in range(3):
        for sound in (burst("noise", 300, SPEECH_RMS, seed=seed), burst("tone", 400, SPEECH_RMS)):
            pcm = np.concatenate([quiet, sound, quiet]).tobytes()
            assert listener.hear(Utterance(pcm, 0, 0.3, 0.6, 0.9), 1.0).result().heard == "noise"
    clipped = espeak("uh-huh", voices, voice="en-us+f3")[2400:]  # its first 150 ms cut
    for speech in (espeak("okay", voices), clipped, piper("stop", voices)):
        assert holds_voice(np.concatenate([quiet, speech, quiet]).tobytes())


def test_a_paused_reply_resumes_at_the_gap_before_the_cut_word():
    rate = 22050
    word = (np.sin(np.arange(rate // 4) * 0.3) * 8000).astype(np.int16)
    gap = np.zeros(rate // 10, np.int16)
    pcm = np.concatenate([word, gap, word, gap, word])
    paused_at = len(word) * 2 + len(gap) + rate // 8  # inside the second word
    start = resume_point(pcm, paused_at, rate)
    assert len(word) <= start < len(word) + len(gap)  # in the gap: the second word whole
    assert paused_at - start <= REWIND_S * rate
    assert resume_point(pcm, 0, rate) == 0


def test_the_player_pauses_at_once_and_resumes_without_losing_the_rest():
    """What a real-time speaker plays: quiet within 50 ms of pause(), then the rest of the
    reply from a little before where it stopped, to its last sample."""
    from voice_agent.audio.player import Player

    class RealTimeSink:
        def __init__(self):
            self.stopped = threading.Event()
            self.played: list[np.ndarray] = []

        def play(self, pcm, rate):
            self.stopped.clear()
            x = np.frombuffer(pcm, np.int16)
            step, started = rate // 100, time.perf_counter()
            for n, i in enumerate(range(0, len(x), step)):
                if self.stopped.wait(max(0.0, started + n * 0.01 - time.perf_counter())):
                    return
                self.played.append(x[i : i + step])

        def stop(self):
            self.stopped.set()

        def close(self):
            pass

    rate = 16000
    reply = (np.arange(rate * 2) % 2000 + 1).astype(np.int16)  # 2 s, never silent
    sink = RealTimeSink()
    player = Player(sink)
    player.enqueue(Speech(reply.tobytes(), rate))
    time.sleep(0.5)
    player.pause()
    paused = time.perf_counter()
    before = len(sink.played)
    time.sleep(0.3)
    assert len(sink.played) - before <= 5 and player.busy
    player.resume()
    player.wait_idle()
    assert time.perf_counter() - paused < 0.3 + 1.5 + REWIND_S + 0.3  # paused, the rest, slack
    heard = np.concatenate(sink.played)
    assert np.array_equal(heard[-rate:], reply[-rate:]), "the end was played"
    assert len(reply) <= len(heard) <= len(reply) + REWIND_S * rate + rate // 100
    player.close()


# -- through `voice-agent run --input` ------------------------------------------------------


def run_cli(wav: Path, out: Path, tmp_path: Path) -> list[dict]:
    done = subprocess.run(
        [
            sys.executable, "-m", "voice_agent", "run", "--profile", "speed",
            "--input", str(wav), "--output", str(out), "--json", "--simulate-echo", "0.5",
            "--set", "audio.barge_in=true", "--set", f"store.path={tmp_path / 'db.sqlite'}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as f:
        return np.frombuffer(f.readframes(f.getnframes()), np.int16), f.getframerate()


def spoken_reply(answer: str) -> list[Speech]:
    """The answer as the speed profile's voice says it, sentence by sentence."""
    from voice_agent.config import load_settings
    from voice_agent.speaker import Speaker
    from voice_agent.tts.factory import build_tts

    pieces: list[Speech] = []
    Speaker(build_tts(load_settings("speed").tts)).speak([answer], lambda s, _: pieces.append(s))
    return pieces


def voiced_s(x: np.ndarray, rate: int, frame_s: float = 0.02) -> float:
    """How much of `x` is sound, not silence (espeak-ng's voice is not the same to the sample
    twice, so the reply is compared by how much of it was played)."""
    n = round(frame_s * rate)
    frames = x[: len(x) // n * n].astype(np.float64).reshape(-1, n)
    return float((np.sqrt((frames**2).mean(axis=1)) > 300).sum() * frame_s)


def last_words(out: np.ndarray, rate: int, seconds: float = 3.5) -> str:
    """What the output says in its last `seconds` of sound."""
    from voice_agent.audio.playback import resample
    from voice_agent.config import load_settings
    from voice_agent.stt import WhisperSTT

    end = np.flatnonzero(np.abs(out) > 300)[-1] + rate // 10
    tail = resample(out[max(0, end - round(seconds * rate)) : end], rate, 16000)
    return WhisperSTT(load_settings("speed").stt).transcribe(tail.tobytes()).text.lower()


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    return tmp_path_factory.mktemp("barge-in-voices")


@pytest.mark.slow
def test_backchannels_and_noise_over_a_reply_let_it_play_to_its_end(voices, tmp_path):
    over = [
        ("backchannel", espeak("okay", voices)),
        ("backchannel", espeak("yeah I see", voices, voice="en-gb")),
        ("backchannel", espeak("uh-huh", voices, voice="en-us+f3")),
        ("backchannel", piper("alright", voices)),
        ("noise", burst("noise", 300, SPEECH_RMS, seed=1)),  # a cough-like burst
        ("noise", burst("tone", 150, SPEECH_RMS)),  # a knock too short to be a turn
    ]
    pieces = [espeak("what can you do", voices), *(audio for _, audio in over)]
    stream = layout(pieces, [0.5, 6.0, *[3.5] * (len(over) - 1)], tail_s=40.0)
    wav = write_wav(stream.pcm, tmp_path / "over.wav")
    turns = run_cli(wav, tmp_path / "replies.wav", tmp_path)
    assert len(turns) == 1, [t["transcript"] for t in turns]  # no turn from anything said over it
    turn = turns[0]
    assert "can you do" in turn["transcript"].lower() and not turn["interrupted"]
    # Each backchannel paused the reply within ONSET_S of it, then it resumed. The echo
    # canceller clips the start of speech over a reply, so a clipped one may be heard as
    # unclear words, or be too short to be a turn (noise), as well as a backchannel; most are
    # heard as what they are. A noise may pause the reply the same way or not at all (the
    # echo canceller's noise suppressor may take a short knock out before it is 100 ms
    # long); the echo never pauses it.
    heard = {}
    for barge_in in turn["barge_ins"]:
        sound = [i for i, (start, _) in enumerate(stream.truth[1:])
                 if 0 <= barge_in["at_s"] - start <= ONSET_S]  # fmt: skip
        assert len(sound) == 1 and sound[0] not in heard, (barge_in, stream.truth)
        heard[sound[0]] = barge_in
        assert barge_in["resumed_s"] is not None and barge_in["resumed_s"] > barge_in["at_s"]
    for i, (kind, _) in enumerate(over):
        assert i in heard or kind == "noise", (kind, turn["barge_ins"])
        assert kind == "backchannel" or i not in heard or heard[i]["heard"] == kind, heard[i]
    backchannels = [heard[i]["heard"] for i, (kind, _) in enumerate(over) if kind == "backchannel"]
    assert backchannels.count("backchannel") > len(backchannels) / 2, turn["barge_ins"]
    # The reply was played whole: as much of it as its voice says (plus what each resume
    # repeats, at most REWIND_S), to its last words ("...or switch profiles.").
    out, rate = read_wav(tmp_path / "replies.wav")
    whole = sum(
        voiced_s(np.frombuffer(s.pcm, np.int16), s.sample_rate)
        for s in spoken_reply(turn["answer"])
    )
    assert whole > 20
    assert whole * 0.97 <= voiced_s(out, rate) <= whole + len(over) * REWIND_S + 0.5
    assert "profile" in last_words(out, rate)


@pytest.mark.slow
def test_requests_over_a_reply_stop_it_and_are_answered(voices, tmp_path):
    ask = espeak("what can you do", voices)
    interruption = piper("what time is it in London", voices)
    okay_and = espeak("okay, and what time is it in Tokyo", voices)
    # The acknowledgement-led request comes last: its routing may take the LLM planner a
    # while (it drops the "okay"), and its answer may come when it will.
    stream = layout([ask, interruption, ask, okay_and], [0.5, 6.0, 8.0, 6.0], tail_s=8.0)
    wav = write_wav(stream.pcm, tmp_path / "requests.wav")
    turns = run_cli(wav, tmp_path / "replies.wav", tmp_path)
    assert len(turns) == 4, [t["transcript"] for t in turns]
    first, london, second, tokyo = turns
    assert "london" in london["transcript"].lower() and "London" in london["answer"]
    assert "tokyo" in tokyo["transcript"].lower() and "Tokyo" in tokyo["answer"]
    out, rate = read_wav(tmp_path / "replies.wav")
    for cut, answer, (start, _) in (
        (first, london, stream.truth[1]),
        (second, tokyo, stream.truth[3]),
    ):
        assert cut["interrupted"], cut
        # Paused within ONSET_S of the user's first word, never by the echo before it. An
        # acknowledgement in front of the request may resume the reply for a moment (it
        # ends early); the request stops it.
        assert 0 <= cut["barge_ins"][0]["at_s"] - start <= ONSET_S, cut["barge_ins"]
        stop = cut["barge_ins"][-1]
        assert stop["heard"] == "request" and stop["resumed_s"] is None
        assert all(b["heard"] != "request" for b in cut["barge_ins"][:-1])
        # From the stop to the answer the output is silent: the rest was never played.
        stopped, answered = stop["at_s"] + 0.02, answer["reply_start_s"] - 0.01  # ms rounding
        quiet = out[round(stopped * rate) : round(answered * rate)]
        assert len(quiet) > 0 and np.abs(quiet).max() < 200
    assert [b["heard"] for b in first["barge_ins"]] == ["request"]  # the real interruption


# -- live: the speaker heard by the microphone --------------------------------------------


@pytest.mark.slow
def test_live_reply_heard_by_the_mic_is_not_cut_by_itself_and_a_user_stops_it(pulse, tmp_path):
    """The reply plays into the null sink whose monitor is the microphone (gain 1, the
    sound server's latency): with echo cancellation the assistant does not interrupt
    itself; a user played over it stops it and is answered."""
    from voice_agent.app import build
    from voice_agent.audio.capture import PyAudioSource
    from voice_agent.audio.playback import PyAudioSink
    from voice_agent.config import load_settings
    from voice_agent.events import AudioReady, BargeIn, TurnFinished
    from voice_agent.voice_loop import VoiceLoop

    question = layout([espeak("what can you do", tmp_path)], [0.3], tail_s=0.5)
    user = layout([piper("what time is it in Tokyo", tmp_path)], [0.0], tail_s=0.5)
    settings = load_settings(
        "speed",
        ["audio.barge_in=true", "audio.echo_cancellation=true", f"store.path={tmp_path / 'db'}"],
    )
    assistant = build(settings)
    finished: list = []
    barge_ins: list[float] = []
    speaking = threading.Event()
    answered = threading.Event()

    def on_event(event) -> None:
        if isinstance(event, AudioReady):
            speaking.set()
        elif isinstance(event, BargeIn):
            barge_ins.append(time.perf_counter())
        elif isinstance(event, TurnFinished):
            finished.append(event.turn)
            if len(finished) == 2:
                answered.set()

    loop = VoiceLoop(assistant, on_event=on_event)
    loop.warmup()
    source = PyAudioSource.from_config(settings.audio)
    stop = threading.Event()
    listener = threading.Thread(
        target=loop.run_live, args=(source, PyAudioSink(), stop), daemon=True
    )
    listener.start()
    try:
        time.sleep(0.5)
        play_into_mic(write_wav(question.pcm, tmp_path / "question.wav"))
        assert speaking.wait(30), "the reply started"
        time.sleep(6.0)  # 6 s of its own voice in the microphone
        assert not finished, "the reply was cut by its own echo"
        started = time.perf_counter()
        play_into_mic(write_wav(user.pcm, tmp_path / "user.wav"))
        assert answered.wait(60), "the user's request was answered"
    finally:
        stop.set()
        source.close()
        listener.join(timeout=10)
        assistant.close()
    first, second = finished
    # Its own voice may have paused it for a moment (the canceller learning the echo path):
    # never for good. The user stopped it within 0.5 s of playing (the sound server's
    # latency included).
    assert first.interrupted and first.barge_ins[-1].heard == "request"
    assert all(b.heard in ("noise", "echo") for b in first.barge_ins[:-1]), first.barge_ins
    assert any(0 <= at - started <= 0.5 for at in barge_ins), (barge_ins, started)
    assert "tokyo" in second.transcript.lower() and "Tokyo" in second.answer
