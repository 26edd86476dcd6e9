"""Fault injection for the assistant's own parts, through real turns and real commands.

A damaged Whisper folder, a damaged GGUF, a damaged embedding model, a voice that fails on
one sentence, and a microphone that goes away and comes back. A part that is needed at
start-up stops the command with one line and exit code 2 saying how to fix it, and
`doctor` names what is wrong; in a conversation the turn ends with one sentence in time,
its error is on the record (stage, code, message), and the next turn is answered.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import espeak, layout, write_wav
from pulse import SINK, SOURCE, PulseServer, play_into_mic
from stages import PacedSource, ScriptedSTT, cli

from voice_agent import models, stt
from voice_agent.app import App, build
from voice_agent.audio.capture import PyAudioSource
from voice_agent.audio.playback import PyAudioSink
from voice_agent.config import load_settings
from voice_agent.errors import ConfigWarning, ModelMissingError
from voice_agent.events import Announcement, Event, StateChanged, TurnFailed, TurnFinished
from voice_agent.tts.base import Speech
from voice_agent.tts.factory import build_tts
from voice_agent.turn import Turn
from voice_agent.voice_loop import VoiceLoop

pytestmark = pytest.mark.slow

Damage = Callable[[Path], bytes | None]  # the real file -> what to write instead (None: leave out)


def cut_short(real: Path) -> bytes:
    with real.open("rb") as f:
        return f.read(real.stat().st_size // 3)


def garbage(real: Path) -> bytes:
    return np.random.default_rng(1).bytes(4096)


def left_out(real: Path) -> None:
    return None


def damaged_copy(real: Path, into: Path, damage: dict[str, Damage]) -> Path:
    """`real` as a folder of links to its files, but with the files in `damage` replaced
    (a real file, so the original is never written) or left out."""
    into.mkdir()
    for item in real.iterdir():
        if item.name not in damage:
            (into / item.name).symlink_to(item)
        elif (data := damage[item.name](item)) is not None:
            (into / item.name).write_bytes(data)
    return into


def real_model(kind: str, name: str) -> Path:
    try:
        return Path(models.resolve(kind, name))
    except ModelMissingError as exc:
        pytest.skip(f"{kind} model {name} not installed: {exc}")


def only_line(text: str) -> str:
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text.rstrip("\n")


def doctor_row(done, name: str) -> str:
    """The row of `doctor` (wide: one row a line) for the model check `name`."""
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return next(line for line in done.stdout.splitlines() if name in line)


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


# -- 1. a damaged Whisper folder ------------------------------------------------------------
WHISPER_DAMAGE = {
    "model.bin cut short": ({"model.bin": cut_short}, "cannot be loaded: "),
    "model.bin garbage": ({"model.bin": garbage}, "cannot be loaded: Unsupported model binary"),
    "config.json missing": ({"config.json": left_out}, "is incomplete: no config.json"),
    "tokenizer.json garbage": ({"tokenizer.json": garbage}, "cannot be loaded: "),
}
WHISPER_FIX = "point stt.model at a complete CTranslate2 Whisper folder"


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("speech")
    question = layout([espeak("what is twenty five times seven", work)], [0.5], tail_s=1.5)
    return write_wav(question.pcm, work / "speech.wav")


@pytest.mark.parametrize("case", list(WHISPER_DAMAGE))
def test_a_damaged_whisper_folder_stops_run_with_one_line_and_doctor_names_it(
    tmp_path, speech, case
):
    damage, reason = WHISPER_DAMAGE[case]
    folder = damaged_copy(real_model("stt", "tiny.en"), tmp_path / "whisper", damage)
    sets = ("-p", "speed", "--set", f"stt.model={folder}", "--set", f"store.path={tmp_path}/db")

    done, elapsed = timed(lambda: cli("run", "--input", str(speech), "--json", *sets))

    assert done.returncode == 2 and done.stdout == "" and elapsed < 30
    line = only_line(done.stderr)
    assert line.startswith(f"error: Whisper model {folder} {reason}"), line
    assert line.endswith(f"{WHISPER_FIX} (model.bin, config.json, tokenizer.json)")

    doctor = cli("doctor", *sets)
    assert doctor.returncode == 1
    row = doctor_row(doctor, f"stt model {folder}")
    assert "FAIL" in row and f"Whisper model {folder} {reason}" in row and WHISPER_FIX in row


def test_a_bundled_whisper_model_that_will_not_load_says_models_prepare(monkeypatch, tmp_path):
    folder = damaged_copy(real_model("stt", "tiny.en"), tmp_path / "w", {"model.bin": cut_short})
    monkeypatch.setattr(stt, "resolve", lambda kind, name: folder)  # as if tiny.en were damaged

    with pytest.raises(ModelMissingError, match=r"run `voice-agent models prepare`$"):
        stt.WhisperSTT(load_settings("speed").stt).load()


def two_questions(app: App, work: Path, first: str, second: str, gap_s: float) -> PacedSource:
    """Two spoken questions far enough apart that the first reply ends before the second."""
    stream = layout([espeak(first, work), espeak(second, work)], [0.5, gap_s], tail_s=1.5)
    # As fast as the loop can take it.
    return PacedSource(stream, app.settings.audio.frame_ms, speed=1000)


def voice_turns(app: App, source: PacedSource, between: Callable[[], None]) -> list[Turn]:
    """Run the voice loop over `source`, calling `between` once the first turn is finished."""
    finished: list[Turn] = []

    def on_event(event: Event) -> None:
        if isinstance(event, TurnFinished):
            finished.append(event.turn)
            if len(finished) == 1:
                between()

    return VoiceLoop(app, on_event=on_event).run_file(source)


def test_a_whisper_folder_damaged_mid_session_costs_one_turn(tmp_path):
    real = real_model("stt", "tiny.en")
    folder = damaged_copy(real, tmp_path / "whisper", {"model.bin": cut_short})
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", f"stt.model={folder}"]))
    # The apology names the folder and the fix: a long sentence to hear out.
    source = two_questions(app, tmp_path, *["what is twenty five times seven"] * 2, gap_s=40)

    def repair() -> None:
        (folder / "model.bin").unlink()
        (folder / "model.bin").symlink_to(real / "model.bin")

    broken, fixed = voice_turns(app, source, repair)
    stored = app.store.recent_turns(2)
    app.close()

    assert broken.error.stage == "stt" and broken.error.code == "needs_fix"
    assert broken.error.message.startswith(f"Whisper model {folder} cannot be loaded: ")
    # Spoken, the apology is short; the record keeps the whole message with the fix.
    said = "Sorry, my speech recognition can't run: voice-agent doctor says how to fix it."
    assert broken.answer == said
    assert broken.timings["total_ms"] < 5000
    assert fixed.error is None and "175" in fixed.answer, fixed.transcript
    assert [t["error_info"] and t["error_info"]["stage"] for t in stored] == ["stt", None]


# -- 2. a damaged GGUF -----------------------------------------------------------------------
def garbage_after_the_magic(real: Path) -> bytes:
    return b"GGUF" + garbage(real)


def zero_bytes(real: Path) -> bytes:
    return b""


GGUF_DAMAGE: dict[str, tuple[Damage, str]] = {
    "cut short": (cut_short, "the file is damaged or cut short"),
    "garbage after the magic": (garbage_after_the_magic, "the file is damaged or cut short"),
    "zero bytes": (zero_bytes, "the file is empty"),
}
QUESTION = "who wrote Romeo and Juliet"


def damaged_gguf(tmp_path: Path, case: str) -> Path:
    damage, _ = GGUF_DAMAGE[case]
    path = tmp_path / "model.gguf"
    path.write_bytes(damage(real_model("llm", "smollm2-135m")))
    return path


def llm_sets(tmp_path: Path, gguf: Path) -> list[str]:
    return [
        f"store.path={tmp_path / 'db'}",
        "llm.backend=llamacpp",
        f"llm.model={gguf}",
        "llm.max_tokens=8",
    ]


@pytest.mark.parametrize("case", list(GGUF_DAMAGE))
def test_a_damaged_gguf_ends_llm_turns_with_one_sentence_and_skills_still_answer(tmp_path, case):
    gguf = damaged_gguf(tmp_path, case)
    sets = [arg for s in llm_sets(tmp_path, gguf) for arg in ("--set", s)]
    said = f"cannot load {gguf}: {GGUF_DAMAGE[case][1]}"

    asked = cli("ask", QUESTION, "-p", "speed", *sets)
    assert asked.returncode == 1 and "Traceback" not in asked.stderr
    assert only_line(asked.stdout).startswith(f"Sorry, my language model can't run: {said}")

    session = cli("chat", "--json", "-p", "speed", *sets, stdin=f"{QUESTION}\nwhat is 25 times 7\n")
    assert session.returncode == 0 and "Traceback" not in session.stderr
    failed, answered = (json.loads(line) for line in session.stdout.splitlines())
    assert failed["error_info"]["stage"] == "llm" and failed["error_info"]["code"] == "needs_fix"
    assert said in failed["error_info"]["message"] and "\n" not in failed["answer"]
    assert failed["timings"]["total_ms"] < load_settings("speed").llm.timeout_s * 1000
    assert answered["error"] is None and answered["answer"] == "25 times 7 is 175."

    doctor = cli("doctor", "-p", "speed", *sets)
    assert doctor.returncode == 1
    row = doctor_row(doctor, f"llm model {gguf}")
    assert "FAIL" in row and said in row and "point llm.model at a good GGUF model" in row


def test_a_gguf_repaired_mid_session_answers_the_next_question(tmp_path):
    gguf = damaged_gguf(tmp_path, "cut short")
    app = build(load_settings("speed", llm_sets(tmp_path, gguf)))

    broken, elapsed = timed(lambda: app.ask(QUESTION))
    assert broken.error.stage == "llm" and elapsed < app.settings.llm.timeout_s
    assert broken.steps[-1].error == broken.error
    assert app.ask("what is 25 times 7").answer == "25 times 7 is 175."

    shutil.copyfile(real_model("llm", "smollm2-135m"), gguf)
    fixed = app.ask(QUESTION)
    app.close()
    assert fixed.error is None and fixed.answer and fixed.steps[-1].llm == "llamacpp:model"


# -- 3. a damaged embedding model --------------------------------------------------------------
EMBEDDING_DAMAGE = {
    "cut short": {"model.safetensors": cut_short},
    "garbage": {"model.safetensors": garbage},
}
NO_WEATHER = [  # refused at once: the weather agent is chosen, not asked
    "agents.skill_config.weather.geocoding_url=http://127.0.0.1:9/v1/search",
    "agents.skill_config.weather.forecast_url=http://127.0.0.1:9/v1/forecast",
]


@pytest.mark.parametrize("case", list(EMBEDDING_DAMAGE))
def test_a_damaged_embedding_model_routes_by_rules_with_one_warning(tmp_path, case):
    real = real_model("embeddings", "all-MiniLM-L6-v2")
    folder = damaged_copy(real, tmp_path / "minilm", EMBEDDING_DAMAGE[case])
    files = sorted(p.name for p in folder.iterdir())
    sets = [f"store.path={tmp_path / 'db'}", f"routing.embedding_model={folder}", *NO_WEATHER]
    app = build(load_settings("balanced", sets))
    session = [
        ("is it chilly in oslo", "weather"),  # a weak rule: embeddings would have confirmed it
        ("remember that the plumber comes on Thursday", "memory"),
        ("when is the plumber coming?", "memory"),  # no rule: memory claims it by words
        ("what is 25 times 7", "utility"),
    ]
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        app.warmup(llm=False)
        turns = [(app.ask(text), agent) for text, agent in session]
        _, elapsed = timed(lambda: app.ask("is it chilly in oslo"))
    app.close()

    told = [w for w in warned if issubclass(w.category, ConfigWarning)]
    assert len(told) == 1, [str(w.message) for w in told]
    assert str(told[0].message).startswith(f"embedding model {folder} cannot be loaded: ")
    assert "routing goes by the rules alone meanwhile" in str(told[0].message)
    for turn, agent in turns:
        assert turn.error is None and turn.agent == agent, (turn.text, turn.answer)
    assert "rules alone" in turns[0][0].steps[0].decision.reason
    assert turns[2][0].answer == "You told me that the plumber comes on Thursday."
    assert elapsed < 1.0, "the broken model is not tried again on every turn"
    assert sorted(p.name for p in folder.iterdir()) == files, "nothing written into the model"

    doctor = cli("doctor", "-p", "balanced", *[a for s in sets for a in ("--set", s)])
    row = doctor_row(doctor, f"embeddings model {folder}")
    assert doctor.returncode == 1 and "FAIL" in row
    assert f"embedding model {folder} cannot be loaded: " in row


# -- 4. a voice that fails on one sentence ------------------------------------------------------
MARKER = "Tokyo"


class FailsOnMarker:
    """The profile's real voice, raising on any sentence that holds MARKER."""

    def __init__(self, tts) -> None:
        self.tts = tts
        self.name = tts.name
        self.spoken: list[str] = []

    def synthesize(self, text: str) -> Speech:
        if MARKER in text:
            raise RuntimeError(f"the voice cannot say {text!r}")
        speech = self.tts.synthesize(text)
        self.spoken.append(text)
        return speech

    def warmup(self) -> None:
        self.tts.warmup()

    def close(self) -> None:
        self.tts.close()


@pytest.mark.parametrize("profile", ["speed", "quality"])  # pyttsx3, Piper
def test_a_sentence_the_voice_cannot_say_costs_only_that_sentence(tmp_path, profile):
    settings = load_settings(profile, [f"store.path={tmp_path / 'db'}"])
    try:
        voice = FailsOnMarker(build_tts(settings.tts))
    except ModelMissingError as exc:
        pytest.skip(f"no {settings.tts.engine} voice here: {exc}")
    first = "what is 25 times 4, then what time is it in Tokyo, then what is 9 times 9"
    stt = ScriptedSTT([first, "what is 2 plus 2"])
    app = build(settings, stt=stt, tts=voice)
    loop_source = two_questions(app, tmp_path, "first question", "second question", gap_s=10)
    events: list[Event] = []
    loop = VoiceLoop(app, on_event=events.append)

    broken, fine = loop.run_file(loop_source)
    stored = app.store.recent_turns(2)
    app.close()

    assert voice.spoken == ["25 times 4 is 100.", "9 times 9 is 81.", "2 plus 2 is 4."]
    spoken_by_turn = [sum(r.turn_id == t.id for r in loop.timeline) for t in (broken, fine)]
    assert spoken_by_turn == [2, 1]
    assert broken.error.stage == "tts" and broken.error.code == "RuntimeError"
    assert MARKER in broken.error.message
    assert broken.answer.startswith("25 times 4 is 100. It's ")
    assert broken.answer.endswith("9 times 9 is 81. Sorry, my voice failed.")
    assert [e.stage for e in events if isinstance(e, TurnFailed)] == ["tts"]
    assert fine.error is None and fine.answer == "2 plus 2 is 4." and fine.reply_start_s
    assert [t["error_info"] and t["error_info"]["stage"] for t in stored] == ["tts", None]


# -- 5. a microphone that goes away and comes back ----------------------------------------------
class Listening:
    """The live loop on a thread, on the real microphone and speaker, its events kept."""

    def __init__(self, app: App) -> None:
        self.events: list[Event] = []
        self.crashed: list[BaseException] = []
        self.loop = VoiceLoop(app, on_event=self.events.append)
        self.loop.warmup()
        self.source = PyAudioSource.from_config(app.settings.audio)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(app,), daemon=True)

    def _run(self, app: App) -> None:
        try:
            self.loop.run_live(self.source, PyAudioSink.from_config(app.settings.audio), self.stop)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            self.crashed.append(exc)

    def said(self, start: str) -> list[str]:
        told = [e.text for e in self.events if isinstance(e, Announcement)]
        return [text for text in told if text.startswith(start)]

    def wait_for(self, check: Callable[[], object], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            assert not self.crashed, self.crashed
            assert time.monotonic() < deadline, f"{what} within {timeout_s:g} s: {self.events}"
            time.sleep(0.05)

    def turns(self) -> list[Turn]:
        return [e.turn for e in self.events if isinstance(e, TurnFinished)]

    def close(self) -> None:
        self.stop.set()
        self.source.close()
        self.thread.join(timeout=10)


GONE = "I can't hear you: "
BACK = "The microphone is back: I'm listening again."


def pactl(pulse: PulseServer, *args: str) -> None:
    subprocess.run(["pactl", *args], env={**os.environ, **pulse.env}, check=True, timeout=10)


def unplug(pulse: PulseServer) -> None:
    """The null sink, and its monitor (the microphone) with it, taken away."""
    pactl(pulse, "unload-module", "module-null-sink")


def plug_in(pulse: PulseServer) -> None:
    pactl(pulse, "load-module", "module-null-sink", f"sink_name={SINK}", "rate=16000")
    pactl(pulse, "set-default-sink", SINK)
    pactl(pulse, "set-default-source", SOURCE)


def test_an_unplugged_microphone_is_told_once_and_used_again_when_it_is_back(pulse, tmp_path):
    question = layout([espeak("what is twenty five times seven", tmp_path)], [0.3], tail_s=1.0)
    wav = write_wav(question.pcm, tmp_path / "question.wav")
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    listening = Listening(app)
    listening.thread.start()
    try:
        time.sleep(0.5)
        play_into_mic(wav)
        listening.wait_for(lambda: listening.turns(), 60, "the first question answered")

        unplug(pulse)
        listening.wait_for(lambda: listening.said(GONE), 20, "the loss told")
        lost = [e for e in listening.events if isinstance(e, StateChanged)][-1]
        time.sleep(6)  # several more tries while it is gone
        assert len(listening.said(GONE)) == 1 and lost.state == "microphone lost"

        plug_in(pulse)
        listening.wait_for(lambda: listening.said(BACK), 20, "the return told")
        time.sleep(4)  # it says so aloud, and does not listen to itself meanwhile
        play_into_mic(wav)
        listening.wait_for(lambda: len(listening.turns()) == 2, 60, "the question answered again")
    finally:
        listening.close()
        app.close()

    assert not listening.crashed and not listening.thread.is_alive()
    before, after = listening.turns()
    assert "175" in before.answer and "175" in after.answer, (before.answer, after.answer)
    assert after.error is None, after.error
    assert "stopped delivering audio" in listening.said(GONE)[0]
    assert listening.said(BACK) == [BACK]
    assert not [e for e in listening.events if isinstance(e, TurnFailed)]
    assert os.environ.get("PULSE_SERVER")  # the test's own daemon, never the user's


def test_listen_goes_on_when_the_sound_server_dies_and_comes_back(pulse, tmp_path):
    """The whole command: one line when the microphone goes, one when it is back, nothing
    on stderr (not PortAudio's complaints either), the question answered before and after."""
    question = layout([espeak("what is twenty five times seven", tmp_path)], [0.3], tail_s=1.0)
    wav = write_wav(question.pcm, tmp_path / "question.wav")
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    command = ["listen", "-p", "speed", "--set", "llm.warmup=false"]
    with out.open("w") as stdout, err.open("w") as stderr:
        listen = subprocess.Popen(
            [sys.executable, "-m", "voice_agent", *command, "--set", f"store.path={tmp_path}/db"],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "COLUMNS": "1000"},
        )
    answer = "assistant: 25 times 7 is 175."

    def shown(text: str, count: int = 1) -> bool:
        assert listen.poll() is None, err.read_text()
        return out.read_text().count(text) >= count

    def wait_for(text: str, count: int = 1, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not shown(text, count):
            assert time.monotonic() < deadline, f"{text!r} within {timeout_s:g} s"
            time.sleep(0.1)

    try:
        # Asked until the assistant has warmed up and listens, each time after the last reply
        # has been spoken (a finished turn is printed then): the microphone is muted while it
        # speaks, so a question played over a reply loses its start, and so would the next.
        deadline = time.monotonic() + 150
        while not shown(answer):
            assert time.monotonic() < deadline, f"an answer within 150 s: {out.read_text()!r}"
            finished = out.read_text().count("you: ")
            play_into_mic(wav)
            heard_by = time.monotonic() + 10
            while out.read_text().count("you: ") == finished and time.monotonic() < heard_by:
                time.sleep(0.1)
        asked = out.read_text().count(answer)
        pulse.stop()
        wait_for(GONE)
        time.sleep(4)  # tried again meanwhile
        pulse.start()
        wait_for(BACK)
        time.sleep(4)  # it says so aloud, and does not listen to itself meanwhile
        play_into_mic(wav)
        wait_for(answer, count=asked + 1, timeout_s=60)
        listen.send_signal(signal.SIGINT)
        assert listen.wait(20) == 0
    finally:
        if listen.poll() is None:
            listen.kill()
            listen.wait()

    assert err.read_text() == ""
    shown_text = out.read_text()
    assert shown_text.count(GONE) == 1 and shown_text.count(BACK) == 1
