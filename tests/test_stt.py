"""Speech-to-text: real Whisper models on synthetic and recorded speech; errors; guards."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import voice_agent.stt as stt_module
from voice_agent.agents.registry import load_agents
from voice_agent.config import SttConfig
from voice_agent.errors import ModelMissingError
from voice_agent.stt import WhisperSTT, pcm_to_float, vocabulary_prompt, words

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
LIBRIVOX = TESTDATA / "librivox"
COMMANDS = {
    "times": "what is twenty five times seven",
    "timer": "set a timer for ten minutes",
    "weather": "what's the weather in London",
}
# Per model: beam size, and the WER bound for LIBRIVOX_CLIPS.
MODELS = {
    # measured 0.067 (2/30: "ill disposed" -> "old-sposed")
    "tiny.en": (1, 0.15),
    # measured 0.000
    "base": (5, 0.10),
}
LIBRIVOX_CLIPS = (
    "sense_and_sensibility_01_austen_64kb-0870",
    "sense_and_sensibility_01_austen_64kb-0880",
)


def vocabulary() -> list[str]:
    return [term for spec in load_agents().values() for term in spec.vocabulary]


def read_pcm(path: Path) -> bytes:
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        return wav.readframes(wav.getnframes())


def normalized(text: str) -> str:
    """Lower case, no punctuation, hyphens split: 'Mr. cold-hearted' -> 'mister cold hearted'."""
    return " ".join(words(text.lower().replace("mr.", "mister").replace("-", " ")))


def word_errors(reference: str, hypothesis: str) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    ref, hyp = normalized(reference).split(), normalized(hypothesis).split()
    row = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, hyp_word in enumerate(hyp, 1):
            substitution = diagonal + (ref_word != hyp_word)
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, substitution)
    return row[-1]


def librivox_transcripts() -> dict[str, str]:
    """Clip id -> reference text, from the package's `<s> text </s> (id)` lines."""
    lines = (LIBRIVOX / "transcription").read_text().splitlines()
    matches = (re.fullmatch(r"<s> (.*) </s> \((.*)\)", line.strip()) for line in lines)
    return {m[2]: m[1] for m in matches if m}


@pytest.fixture(scope="module")
def command_clips(tmp_path_factory) -> dict[str, bytes]:
    """espeak-ng commands resampled by sox to 16 kHz mono int16."""
    if not (shutil.which("espeak-ng") and shutil.which("sox")):
        pytest.skip("espeak-ng and sox are needed to synthesize commands (apt-get install)")
    folder = tmp_path_factory.mktemp("commands")
    clips = {}
    for key, text in COMMANDS.items():
        raw, wav = folder / f"{key}-22k.wav", folder / f"{key}.wav"
        # British voice at 130 wpm: espeak's US "what's" is unintelligible to both models.
        subprocess.run(["espeak-ng", "-v", "en", "-s", "130", "-w", raw, text], check=True)
        subprocess.run(["sox", raw, "-r", "16000", "-c", "1", "-b", "16", wav], check=True)
        clips[key] = read_pcm(wav)
    return clips


@pytest.fixture(scope="module", params=list(MODELS))
def whisper(request) -> WhisperSTT:
    """The model as the profiles run it: its encoder reading 15 of Whisper's 30 s."""
    beam, _ = MODELS[request.param]
    config = SttConfig(model=request.param, beam_size=beam, window_s=15)
    stt = WhisperSTT(config, vocabulary())
    stt.warmup()
    return stt


def need_testdata() -> None:
    if not LIBRIVOX.is_dir():
        pytest.skip(f"{LIBRIVOX} missing: apt-get install pocketsphinx-testdata")


# --- real models ------------------------------------------------------------------------


@pytest.mark.slow
def test_commands_keep_their_key_words(whisper, command_clips) -> None:
    said = {key: normalized(whisper.transcribe(pcm).text) for key, pcm in command_clips.items()}
    assert re.search(r"\b(25|twenty five) times (7|seven)\b", said["times"]), said
    assert "timer" in said["timer"] and re.search(r"\b(10|ten) minutes\b", said["timer"]), said
    assert "weather" in said["weather"] and "london" in said["weather"], said


# Short answers to "Which city?", as a user gives them: a place, often with a preposition.
CITY_ANSWERS = (
    "in Paris",
    "in Berlin",
    "Lisbon",
    "in Rome please",
    "New York",
    "for Oslo",
    "in Madrid",
    "Tokyo",
    "Vienna",
    "in Dublin",
    "Chicago",
    "in Seattle",
)


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["speed", "balanced"])
def test_the_question_asked_helps_hear_the_answer(profile, tmp_path) -> None:
    """Measured (Piper and espeak-ng en-us, 24 clips): 3 more places heard on speed, 5 on
    balanced ("In pairs.", "Immigrate.", "Interpline." became Paris, Madrid, Dublin)."""
    from audio_fixtures import espeak, piper

    from voice_agent.config import load_settings

    whisper = WhisperSTT(load_settings(profile).stt, vocabulary())
    heard = {"alone": 0, "after the question": 0}
    for answer in CITY_ANSWERS:
        place = answer.removeprefix("in ").removeprefix("for ").removesuffix(" please")
        for voice in (piper, espeak):
            pcm = voice(answer, tmp_path).tobytes()
            for how, context in (("alone", None), ("after the question", "Which city?")):
                text = whisper.transcribe(pcm, context).text
                heard[how] += place.lower() in normalized(text)
    assert heard["after the question"] > heard["alone"], heard


@pytest.mark.slow
def test_transcript_fields(whisper, command_clips) -> None:
    pcm = command_clips["timer"]
    result = whisper.transcribe(pcm)
    assert result.text == result.text.strip() and "  " not in result.text
    assert result.language == "en"
    assert result.duration_s == pytest.approx(len(pcm) / 32000)
    assert 0 < result.elapsed_ms < 60_000
    assert result.segments == (result.text,)
    assert result.no_speech_prob < 0.5 and -1.0 < result.avg_logprob < 0


@pytest.mark.slow
def test_recorded_speech_word_error_rate(whisper) -> None:
    need_testdata()
    transcripts = librivox_transcripts()
    errors = total = 0
    for clip in LIBRIVOX_CLIPS:
        text = whisper.transcribe(read_pcm(LIBRIVOX / f"{clip}.wav")).text
        errors += word_errors(transcripts[clip], text)
        total += len(normalized(transcripts[clip]).split())
    _, bound = MODELS[whisper.config.model]
    assert errors / total <= bound, (errors, total)


@pytest.mark.slow
def test_same_clip_twice_gives_the_same_transcript(whisper) -> None:
    need_testdata()
    clip = read_pcm(LIBRIVOX / f"{LIBRIVOX_CLIPS[1]}.wav")
    first, second = whisper.transcribe(clip), whisper.transcribe(clip)
    assert first.text and (first.text, first.avg_logprob) == (second.text, second.avg_logprob)


@pytest.mark.slow
def test_silence_and_noise_give_no_text(whisper) -> None:
    assert whisper.prompt  # primed, the case where Whisper is likeliest to invent text
    silence = whisper.transcribe(bytes(2 * 16000 * 2))
    assert (silence.text, silence.elapsed_ms) == ("", 0.0)  # never reached the model
    hiss = np.random.default_rng(1).normal(0, 0.01, 2 * 16000)  # about -40 dBFS
    noise = whisper.transcribe((hiss * 32768).astype("<i2").tobytes())
    assert noise.elapsed_ms > 0  # loud enough to be decoded
    assert noise.text == "" and noise.segments == ()


@pytest.mark.slow
def test_steady_tone_loop_is_dropped(whisper) -> None:
    """A primed tiny.en hears 'beep, beep, beep, ...' in a 440 Hz tone: a repetition loop."""
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    result = whisper.transcribe((tone * 32767).astype("<i2").tobytes())
    assert result.text == ""


# --- model errors -----------------------------------------------------------------------


def test_small_offline_names_the_hub(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # no earlier download to fall back on
    stt = WhisperSTT(SttConfig(model="small"))  # constructing never touches the model
    with pytest.raises(ModelMissingError, match="Hugging Face hub") as err:
        stt.load()
    assert "\n" not in str(err.value) and "tiny.en or base" in str(err.value)


def test_missing_local_folder(tmp_path) -> None:
    with pytest.raises(ModelMissingError, match="model.bin"):
        WhisperSTT(SttConfig(model=str(tmp_path / "nowhere"))).load()


def test_damaged_local_model(tmp_path) -> None:
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (tmp_path / name).write_bytes(b"not a model")
    with pytest.raises(ModelMissingError, match="cannot be loaded") as err:
        WhisperSTT(SttConfig(model=str(tmp_path))).load()
    assert "\n" not in str(err.value)


def test_hub_download_failure_is_one_line(monkeypatch) -> None:
    from faster_whisper import utils
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(name: str) -> str:
        raise LocalEntryNotFoundError("Got: ConnectError\nAn error happened while trying ...")

    monkeypatch.setattr(utils, "download_model", offline)
    with pytest.raises(ModelMissingError, match=r"medium .*Hugging Face hub \(Got: ConnectError\)"):
        WhisperSTT(SttConfig(model="medium")).load()


def test_unknown_hub_name() -> None:
    with pytest.raises(ModelMissingError, match="unknown Whisper model 'tiniest'"):
        WhisperSTT(SttConfig(model="tiniest")).load()


# --- without a model ------------------------------------------------------------------


class FakeModel:
    """Stands in for faster_whisper.WhisperModel: records calls, returns canned segments."""

    def __init__(self, *texts: str, compression_ratio: float = 1.2, delay: float = 0.0) -> None:
        self.texts = texts
        self.compression_ratio = compression_ratio
        self.delay = delay
        self.calls: list[dict] = []
        self.inside = 0
        self.most_inside = 0

    def transcribe(self, audio: np.ndarray, **options):
        self.calls.append(options)
        return self._segments(), SimpleNamespace(language="en")

    def _segments(self):
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        time.sleep(self.delay)
        self.inside -= 1
        for text in self.texts:
            yield SimpleNamespace(
                text=text,
                compression_ratio=self.compression_ratio,
                avg_logprob=-0.3,
                no_speech_prob=0.1,
            )


SPEECH = (np.sin(np.arange(8000) / 5) * 8000).astype("<i2").tobytes()  # 0.5 s, about -15 dBFS


def with_fake(monkeypatch, fake: FakeModel, **config) -> WhisperSTT:
    monkeypatch.setattr(stt_module, "_load_model", lambda cfg: fake)
    return WhisperSTT(SttConfig(**config), vocabulary())


def test_decoding_options_follow_the_config(monkeypatch) -> None:
    fake = FakeModel(" Set a timer.")
    stt = with_fake(monkeypatch, fake, beam_size=5, best_of=3, language="en")
    stt.transcribe(SPEECH)
    options = fake.calls[0]
    assert options["temperature"] == 0.0  # one pass, not the random fallback ladder
    assert (options["beam_size"], options["best_of"], options["language"]) == (5, 3, "en")
    assert options["condition_on_previous_text"] is False
    assert options["without_timestamps"] is True and options["vad_filter"] is False
    assert options["initial_prompt"].startswith("Commands like: ")
    assert "Fahrenheit" in options["initial_prompt"]
    assert options["max_new_tokens"] == 16 + 8 * 0.5  # bounded by the audio's length


def test_the_encoder_reads_the_speech_and_enough_silence_after_it(monkeypatch) -> None:
    fake = FakeModel(" Hi.")
    with_fake(monkeypatch, fake, window_s=10).transcribe(SPEECH)  # 0.5 s
    assert fake.window_frames == 1000
    with_fake(monkeypatch, fake, window_s=10).transcribe(SPEECH * 16)  # 8 s and 5 s after
    assert fake.window_frames == 1300
    with_fake(monkeypatch, fake, window_s=10).transcribe(SPEECH * 60)  # 30 s: all of it
    assert fake.window_frames == 3000
    with_fake(monkeypatch, fake).transcribe(SPEECH)  # Whisper's own 30 s by default
    assert fake.window_frames == 3000


def test_temperature_above_zero_falls_back_upwards(monkeypatch) -> None:
    fake = FakeModel(" Hi.")
    with_fake(monkeypatch, fake, temperature=0.4).transcribe(SPEECH)
    assert fake.calls[0]["temperature"] == (0.4, 0.6, 0.8, 1.0)


def test_vocabulary_prompt_can_be_turned_off(monkeypatch) -> None:
    fake = FakeModel(" Hi.")
    with_fake(monkeypatch, fake, vocabulary_prompt=False).transcribe(SPEECH)
    assert fake.calls[0]["initial_prompt"] is None


def test_vocabulary_prompt_lists_each_term_once() -> None:
    prompt = vocabulary_prompt(["timer", " rain ", "timer", "", "square root"])
    assert prompt == "Commands like: timer, rain, square root."
    assert vocabulary_prompt([]) is None


def test_text_is_joined_with_single_spaces(monkeypatch) -> None:
    stt = with_fake(monkeypatch, FakeModel("  Set a   timer ", " for ten minutes. "))
    result = stt.transcribe(SPEECH)
    assert result.text == "Set a timer for ten minutes."
    assert result.segments == ("Set a timer", "for ten minutes.")
    assert result.duration_s == 0.5


def test_an_unpaired_quotation_mark_is_dropped(monkeypatch) -> None:
    """Heard from base on a quiet request: 'Can you text my sister that I'm running late?"'."""
    for decoded, kept in (
        ('Cancel the timer."', "Cancel the timer."),
        ('"Read my groceries note.', "Read my groceries note."),
        ('Make a note saying "buy milk".', 'Make a note saying "buy milk".'),
    ):
        assert with_fake(monkeypatch, FakeModel(decoded)).transcribe(SPEECH).text == kept


def test_prompt_recital_is_dropped(monkeypatch) -> None:
    """What a primed Whisper may 'hear' in non-speech: its prompt, whole or in part."""
    terms = vocabulary()
    for recital in (f" Commands like: {terms[0]}.", " " + ", ".join(terms[4:8]) + "."):
        result = with_fake(monkeypatch, FakeModel(recital)).transcribe(SPEECH)
        assert (result.text, result.segments) == ("", ()), recital


def test_the_question_asked_is_the_text_just_before_the_answer(monkeypatch) -> None:
    fake = FakeModel(" In Paris.")
    stt = with_fake(monkeypatch, fake)
    assert stt.transcribe(SPEECH, "Which city?").text == "In Paris."
    assert fake.calls[0]["initial_prompt"].startswith("Commands like: ")
    assert fake.calls[0]["initial_prompt"].endswith(". Which city?")
    with_fake(monkeypatch, fake, vocabulary_prompt=False).transcribe(SPEECH, "Which city?")
    assert fake.calls[1]["initial_prompt"] == "Which city?"


def test_a_decode_that_repeats_the_question_is_dropped(monkeypatch) -> None:
    stt = with_fake(monkeypatch, FakeModel(" Which city?"))
    assert stt.transcribe(SPEECH, "Which city?").text == ""
    stt = with_fake(monkeypatch, FakeModel(" Which city? Paris."))
    assert stt.transcribe(SPEECH, "Which city?").text == "Which city? Paris."


def test_punctuation_only_is_dropped(monkeypatch) -> None:
    assert with_fake(monkeypatch, FakeModel(" . .", " ...")).transcribe(SPEECH).text == ""


def test_repetition_loop_is_dropped(monkeypatch) -> None:
    stt = with_fake(monkeypatch, FakeModel(" Beep, beep, beep, beep.", compression_ratio=9.0))
    assert stt.transcribe(SPEECH).text == ""


def test_a_command_using_prompt_words_is_kept(monkeypatch) -> None:
    stt = with_fake(monkeypatch, FakeModel(" Convert 70 degrees Fahrenheit to Celsius."))
    assert stt.transcribe(SPEECH).text == "Convert 70 degrees Fahrenheit to Celsius."


def test_model_is_used_by_one_thread_at_a_time(monkeypatch) -> None:
    fake = FakeModel(" Hi.", delay=0.05)
    stt = with_fake(monkeypatch, fake)
    threads = [threading.Thread(target=stt.transcribe, args=(SPEECH,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.calls) == 4 and fake.most_inside == 1


def test_word_errors_helper() -> None:
    assert word_errors("he was not an ill disposed man", "He was not an old-sposed man.") == 2
    assert word_errors("mister john dashwood", "Mr. John Dashwood") == 0


def test_pcm_conversion() -> None:
    audio = pcm_to_float(np.array([0, 16384, -32768], dtype="<i2").tobytes())
    assert audio.dtype == np.float32 and audio.tolist() == [0.0, 0.5, -1.0]
    with pytest.raises(ValueError, match="even number of bytes"):
        pcm_to_float(b"\x00\x01\x02")


def test_import_does_not_load_faster_whisper() -> None:
    code = "import sys, voice_agent.stt; print('faster_whisper' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
