"""Fault injection for the language model and the weather service, through real turns.

A fake Ollama on 127.0.0.1 refuses, stalls, sends what Ollama never sends, cuts its
stream or lacks the model. Each time the turn ends with one sentence within
`llm.timeout_s` (plus a margin), its error is on the record, and once the server
recovers the next turn is answered. In `auto` mode a server that is not a working
Ollama is passed over for the embedded model, and the user is told why. A malformed
Ollama address is one line naming the setting; a name lookup that never answers does
not stretch the weather timeout; and a session talks to no host but these two.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from fake_ollama import FAULTS, STREAM_FAULTS, FakeOllama
from stages import cli

from benchmarks.open_meteo import OpenMeteoServer
from voice_agent import doctor
from voice_agent.app import build
from voice_agent.config import LlmConfig, load_settings
from voice_agent.errors import ConfigError, ConfigWarning, ModelMissingError
from voice_agent.llm.ollama_backend import resolve_host
from voice_agent.llm.select import AUTO_PROBE_TIMEOUT_S, select_llm

TIMEOUT_S = 1.0
MARGIN_S = 1.0  # the turn's own work, on a loaded 2-core machine
MODEL = "llama3.2:1b"  # the speed profile's Ollama model
APOLOGY = "Sorry, my language model stopped answering."
QUESTION = "tell me about France"


@pytest.fixture
def fake(monkeypatch) -> Iterator[FakeOllama]:
    with FakeOllama(models=[MODEL]) as server:
        monkeypatch.setenv("OLLAMA_HOST", server.host)
        yield server


def make_app(tmp_path, *sets: str, backend: str = "ollama", profile: str = "speed"):
    settings = load_settings(
        profile,
        [
            f"store.path={tmp_path / 'va.db'}",
            f"llm.backend={backend}",
            f"llm.timeout_s={TIMEOUT_S}",
            "llm.warmup=false",
            *sets,
        ],
    )
    return build(settings)


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


# -- each fault, in the middle of a session with a forced Ollama backend ----------------------
def _set(**changes) -> Callable[[FakeOllama], None]:
    return lambda fake: [setattr(fake, key, value) for key, value in changes.items()]


def _lose_models(fake: FakeOllama) -> None:
    fake.models = []


BROKEN_LIKE_OLLAMA = "is not a working Ollama: it sent"
CASES = {
    "refuse": (FakeOllama.refuse, "no Ollama server at"),
    "stall": (_set(fault="stall"), f"did not answer within {TIMEOUT_S:g} s"),
    "stall_mid": (_set(fault="stall_mid"), f"did not answer within {TIMEOUT_S:g} s"),
    "html": (_set(fault="html"), f"{BROKEN_LIKE_OLLAMA} text/html"),
    "bad_gateway": (_set(fault="bad_gateway"), f"{BROKEN_LIKE_OLLAMA} HTTP 502 (text/html)"),
    "bad_json": (_set(fault="bad_json"), f"{BROKEN_LIKE_OLLAMA} JSON that is not Ollama's"),
    "foreign_json": (_set(fault="foreign_json"), f"{BROKEN_LIKE_OLLAMA} JSON that is not"),
    "binary": (_set(fault="binary"), f"{BROKEN_LIKE_OLLAMA} application/octet-stream"),
    "half_line": (_set(fault="half_line"), f"{BROKEN_LIKE_OLLAMA} JSON that is not Ollama's"),
    "drop": (_set(fault="drop"), "the connection to Ollama at"),
    "cut": (_set(cut_after=2), "stopped before the answer was finished"),
    "error_line": (_set(fail_after=2), "an error was encountered while running the model"),
    "no_model": (_lose_models, f"has no model {MODEL}"),
}


def test_every_fault_of_the_fake_is_exercised():
    assert set(FAULTS) <= set(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_a_fault_ends_the_turn_with_one_sentence_in_time_and_the_next_turn_works(
    tmp_path, fake, case
):
    app = make_app(tmp_path)
    app.llm()  # chosen while the server is healthy: it breaks in the middle of a session
    breaks, reason = CASES[case]
    breaks(fake)

    turn, elapsed = timed(lambda: app.ask(QUESTION))

    assert elapsed < TIMEOUT_S + MARGIN_S, f"the turn took {elapsed:.1f} s"
    assert turn.answer == APOLOGY
    assert (turn.error.stage, turn.steps[-1].error) == ("llm", turn.error)
    assert reason in turn.error.message and "\n" not in turn.error.message
    stored = app.store.recent_turns(1)[0]
    assert stored["text"] == QUESTION and stored["error_info"]["message"] == turn.error.message

    fake.recover()
    fake.models = [MODEL]
    again = app.ask(QUESTION)
    assert again.error is None and again.answer == fake.reply
    app.close()


def test_a_stall_is_bounded_by_the_timeout_not_given_up_early(tmp_path, fake):
    app = make_app(tmp_path)
    app.llm()
    fake.fault = "stall_mid"
    turn, elapsed = timed(lambda: app.ask(QUESTION))
    assert TIMEOUT_S * 0.9 < elapsed < TIMEOUT_S + MARGIN_S
    assert turn.error.message.startswith(f"Ollama at {fake.host} did not answer within 1 s")
    app.close()


@pytest.mark.parametrize("fault", ["refuse", "html", "stall"])
def test_a_forced_ollama_broken_from_the_start_ends_the_turn_with_one_sentence(
    tmp_path, fake, fault
):
    if fault == "refuse":
        fake.refuse()
    else:
        fake.fault = fault
    app = make_app(tmp_path)

    turn, elapsed = timed(lambda: app.ask(QUESTION))

    assert elapsed < TIMEOUT_S + MARGIN_S
    assert turn.error.stage == "llm" and turn.error.code == "needs_fix"
    assert turn.answer.startswith("Sorry, my language model can't run: llm.backend is ollama, but")
    assert "\n" not in turn.answer
    fake.recover()
    assert app.ask(QUESTION).answer == fake.reply
    app.close()


@pytest.mark.parametrize("fault", ["html", "stall"])
def test_a_failed_warm_up_is_told_at_start_and_the_session_goes_on(tmp_path, fake, fault):
    app = make_app(tmp_path, "llm.warmup=true")
    app.llm()  # the probe passed; then loading the model fails (chat's start, listen's start)
    fake.fault = fault

    _, elapsed = timed(app.warmup)

    assert elapsed < TIMEOUT_S + MARGIN_S
    assert app.llm_note.startswith(f"Using Ollama ({MODEL}) at {fake.host}: llm.backend is ollama")
    assert "; warming it up failed: " in app.llm_note and "\n" not in app.llm_note
    assert app.ask(QUESTION).answer == APOLOGY
    fake.recover()
    assert app.ask(QUESTION).answer == fake.reply
    app.close()


def test_a_skill_turn_does_not_wait_for_a_broken_llm(tmp_path, fake):
    app = make_app(tmp_path)
    fake.fault = "stall"
    turn, elapsed = timed(lambda: app.ask("what is 12 divided by 4"))
    assert turn.error is None and "3" in turn.answer and elapsed < TIMEOUT_S
    app.close()


# -- auto mode: a server that is not a working Ollama is no Ollama ----------------------------
PROBED = {
    "refuse": "no Ollama server at",
    "stall": f"did not answer within {AUTO_PROBE_TIMEOUT_S:g} s",
    "html": f"{BROKEN_LIKE_OLLAMA} text/html",
    "bad_gateway": f"{BROKEN_LIKE_OLLAMA} HTTP 502 (text/html)",
    "bad_json": f"{BROKEN_LIKE_OLLAMA} JSON that is not Ollama's",
    "foreign_json": f"{BROKEN_LIKE_OLLAMA} JSON that is not Ollama's",
    "binary": f"{BROKEN_LIKE_OLLAMA} application/octet-stream",
    "no_model": f"has no model {MODEL}",
}


def test_every_fault_a_probe_can_see_is_probed():
    assert set(FAULTS) - STREAM_FAULTS <= set(PROBED)


@pytest.fixture
def embedded() -> str:
    """The tiny embedded model: resolving and loading it is quick."""
    from voice_agent import models

    try:
        models.resolve("llm", "smollm2-135m")
    except ModelMissingError as exc:
        pytest.skip(f"SmolLM2 not installed: {exc}")
    return "smollm2-135m"


def _break_from_the_start(fake: FakeOllama, case: str) -> None:
    if case == "refuse":
        fake.refuse()
    elif case == "no_model":
        fake.models = []
    else:
        fake.fault = case


@pytest.mark.parametrize("case", list(PROBED))
def test_auto_falls_back_to_the_embedded_model_and_says_why(fake, embedded, case):
    _break_from_the_start(fake, case)
    config = LlmConfig(backend="auto", ollama_model=MODEL, model=embedded)

    (llm, note), elapsed = timed(lambda: select_llm(config))

    assert llm.name == f"llamacpp:{embedded}"
    assert note.startswith(f"Using embedded llama.cpp ({embedded}): ")
    assert PROBED[case] in note and "\n" not in note
    assert elapsed < AUTO_PROBE_TIMEOUT_S + MARGIN_S


def test_auto_answers_with_the_embedded_model_when_the_host_serves_a_web_page(
    tmp_path, fake, embedded
):
    fake.fault = "html"
    app = make_app(tmp_path, f"llm.model={embedded}", "llm.max_tokens=8", backend="auto")
    turn = app.ask(QUESTION)
    assert turn.error is None and turn.answer
    assert turn.steps[-1].llm == f"llamacpp:{embedded}"
    assert f"{BROKEN_LIKE_OLLAMA} text/html" in app.llm_note  # chat prints it at start
    app.close()


@pytest.mark.parametrize(("backend", "level"), [("auto", "warn"), ("ollama", "fail")])
def test_doctor_says_the_server_is_not_a_working_ollama(fake, backend, level):
    fake.fault = "html"
    settings = load_settings("speed", [f"llm.backend={backend}"])
    check = doctor._ollama(settings)
    assert check.level == level
    assert check.detail.startswith(f"the server at {fake.host} {BROKEN_LIKE_OLLAMA} text/html")


# -- a malformed Ollama address -----------------------------------------------------------------
MALFORMED = {
    "localhost:notaport": "the port must be a number from 1 to 65535",
    "localhost:99999": "the port must be a number from 1 to 65535",
    "localhost:0": "the port must be a number from 1 to 65535",
    "http://[::1": "the part in [brackets] is no IPv6 address",
    "ftp://box:11434": "the scheme must be http or https",
    "exa mple.com": "'exa mple.com' is not a host name",
    "x..y:11434": "'x..y' is not a host name",
}


@pytest.mark.parametrize("raw", list(MALFORMED))
def test_a_malformed_address_is_a_config_error_naming_its_setting(monkeypatch, raw):
    monkeypatch.setenv("OLLAMA_HOST", raw)
    with pytest.raises(ConfigError) as from_env:
        resolve_host(None)
    with pytest.raises(ConfigError) as from_profile:
        resolve_host(raw)
    why = MALFORMED[raw]
    assert str(from_env.value) == (
        f"OLLAMA_HOST {raw!r} is not a valid Ollama address: {why}; "
        "write it like http://127.0.0.1:11434"
    )
    assert str(from_profile.value).startswith(f"llm.ollama_host {raw!r} is not a valid")


def test_a_malformed_address_stops_a_forced_ollama_at_start_and_warns_in_auto(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("OLLAMA_HOST", "localhost:notaport")
    with pytest.raises(ConfigError, match=r"^OLLAMA_HOST 'localhost:notaport' is not a valid"):
        make_app(tmp_path)
    with pytest.warns(ConfigWarning, match="the embedded model answers instead"):
        app = make_app(tmp_path, backend="auto")
    assert "4" in app.ask("what is 2 plus 2").answer
    app.close()


@pytest.mark.parametrize("raw", ["localhost:notaport", "localhost:99999", "http://[::1"])
def test_a_malformed_address_on_the_command_line(monkeypatch, raw):
    monkeypatch.setenv("OLLAMA_HOST", raw)
    forced = ("-p", "speed", "--set", "llm.backend=ollama")

    for args, stdin in ((("ask", QUESTION), None), (("chat", "--json"), f"{QUESTION}\n")):
        done = cli(*args, *forced, stdin=stdin)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"error: OLLAMA_HOST {raw!r} is not a valid Ollama address")
        assert done.stderr.count("\n") == 1 and done.stdout == ""

    done = cli("ask", "what is 2 plus 2", "-p", "speed")  # auto: a warning, then the answer
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(f"warning: OLLAMA_HOST {raw!r} is not a valid Ollama address")
    assert "Traceback" not in done.stderr and "4" in done.stdout


@pytest.mark.parametrize(("backend", "level"), [("auto", "warn"), ("ollama", "fail")])
def test_doctor_names_the_malformed_setting(backend, level):
    settings = load_settings("speed", [f"llm.backend={backend}", "llm.ollama_host=http://[::1"])
    check = doctor._ollama(settings)
    assert check.level == level
    assert check.detail.startswith("llm.ollama_host 'http://[::1' is not a valid Ollama address")


# -- the weather timeout covers the name lookup -------------------------------------------------
WEATHER_HOST = "weather.example"  # never resolved: the lookup below hangs instead


@pytest.fixture
def hanging_lookup(monkeypatch) -> Iterator[None]:
    """getaddrinfo never answers for WEATHER_HOST (until the test ends)."""
    real = socket.getaddrinfo
    released = threading.Event()

    def getaddrinfo(host, *args, **kwargs):
        if host == WEATHER_HOST:
            released.wait(30)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    released.set()


def test_a_name_lookup_that_never_answers_is_bounded_by_the_weather_timeout(
    tmp_path, hanging_lookup
):
    weather_timeout = 1.0
    app = make_app(
        tmp_path,
        f"agents.weather_timeout_s={weather_timeout}",
        f"agents.skill_config.weather.geocoding_url=http://{WEATHER_HOST}/v1/search",
        f"agents.skill_config.weather.forecast_url=http://{WEATHER_HOST}/v1/forecast",
    )

    turn, elapsed = timed(lambda: app.ask("what's the weather in London"))

    assert elapsed < weather_timeout + 0.75, f"the turn took {elapsed:.1f} s"
    assert turn.answer == (
        "I can't reach the weather service right now, so I can't check the weather in London."
    )
    assert turn.steps[-1].result.status == "failed"
    assert "4" in app.ask("what is 2 plus 2").answer
    app.close()


# -- no network traffic but the Ollama host and the weather service --------------------------
@pytest.fixture
def weather() -> Iterator[OpenMeteoServer]:
    with OpenMeteoServer() as server:
        yield server


@pytest.mark.parametrize("profile", ["speed", "balanced"])  # balanced: embedding routing too
def test_a_session_connects_to_no_host_but_ollama_and_the_weather_service(
    tmp_path, fake, weather, monkeypatch, profile
):
    allowed = {("127.0.0.1", urlsplit(fake.host).port)}
    allowed |= {("127.0.0.1", urlsplit(s.partition("=")[2]).port) for s in weather.settings}
    attempts: list[tuple] = []
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def getaddrinfo(host, port, *args, **kwargs):
        if (host, port) not in allowed:
            attempts.append(("lookup", host, port))
            raise socket.gaierror(socket.EAI_NONAME, "blocked by the test")
        return real_getaddrinfo(host, port, *args, **kwargs)

    def connect(sock, address):
        if not isinstance(address, str) and tuple(address[:2]) not in allowed:  # str: AF_UNIX
            attempts.append(("connect", *address[:2]))
            raise ConnectionRefusedError("blocked by the test")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    app = make_app(tmp_path, *weather.settings, profile=profile)
    fake.models = [app.settings.llm.ollama_model]
    session = [
        "what is 25 times 7",
        "what time is it in Tokyo",
        "set a timer for 10 minutes",
        "what's the weather in London",
        "is it warmer in London or in Paris today?",
        "remember that the plumber comes on Thursday",
        "make a note called packing saying passport",
        "turn on the kitchen lights",
        QUESTION,
    ]
    turns = [app.ask(text) for text in session]
    app.close()

    assert [t.text for t in turns if t.error is not None] == []
    assert turns[3].answer.startswith("In London, England it's ")
    assert turns[-1].answer == fake.reply
    assert attempts == []
    assert {r.path for r in fake.requests} >= {"/api/tags", "/api/chat"}
