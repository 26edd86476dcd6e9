"""Bad input as text, table by table, each case with its expected outcome and a time bound:
hostile and huge requests against the routing rules (issue 10 item 11), every arithmetic form
the calculator reads routed to it on every profile (12), empty requests (15), answers that
must be refusals or right (19), and embeddings shared between processes (20)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import regex
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from stages import QuickTTS, ScriptedLLM, ScriptedSTT, cli

from voice_agent.agents.registry import load_agents
from voice_agent.agents.spec import AgentSpec
from voice_agent.app import build
from voice_agent.audio.base import Utterance
from voice_agent.config import load_settings
from voice_agent.errors import ConfigWarning
from voice_agent.routing.decision import MAX_ROUTED_CHARS
from voice_agent.routing.embeddings import EmbeddingRouter
from voice_agent.routing.factory import build_router
from voice_agent.routing.patterns import check_pattern
from voice_agent.routing.rules import RuleRouter
from voice_agent.skills.base import Request
from voice_agent.skills.calculator import arithmetic
from voice_agent.skills.utility import UtilitySkill
from voice_agent.voice_loop import VoiceLoop

PROFILES = ("speed", "balanced", "quality")
EXAMPLES = [f"an example sentence number {i}" for i in range(20)]


def timed(call, *args):
    start = time.perf_counter()
    result = call(*args)
    return result, time.perf_counter() - start


class RefusingEncoder:
    """An embedding model that must not be needed: a rule has to decide on its own."""

    name = "refusing"

    def encode(self, texts):
        raise AssertionError(f"embeddings were asked about {texts[:1]!r}")


@pytest.fixture(scope="module")
def specs():
    return load_agents()


@pytest.fixture(scope="module")
def routers(specs):
    return {
        name: build_router(load_settings(name).routing, specs, encoder=RefusingEncoder())
        for name in PROFILES
    }


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """One speed-profile app (rules only) for the stateless cases; its LLM must stay unused."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VOICE_AGENT_DATA_DIR", str(home / "data"))
        patch.setenv("VOICE_AGENT_CONFIG_DIR", str(home / "config"))
        settings = load_settings(
            "speed", [f"store.path={home / 'va.db'}", f"agents.files_root={home / 'files'}"]
        )
        assistant = build(settings)
    assistant._llm = ScriptedLLM()
    yield assistant
    assistant.close()


# -- 11: no request and no rule can hang routing ---------------------------------------------

HOSTILE = [  # (what, text, agent or None for any, seconds)
    ("100 KB of digits", "1" * 100_000, "general", 0.5),
    ("100 KB of dollar signs", "$ " * 50_000, "general", 0.5),
    ("a tip after 100 KB", "1 " * 50_000 + "tip", "general", 0.5),
    ("100 KB of 'increase'", "increase " * 11_000, None, 0.5),
    ("100 KB of 'set'", "set " * 25_000, None, 0.5),
    ("100 KB of 'outside'", "outside " * 12_500, None, 0.5),
    ("100 KB of 'warmer'", "warmer " * 14_000, None, 0.5),
    ("100 KB of one letter", "a" * 100_000, "general", 0.5),
    ("NUL and control characters", "\x00\x01\x1b[2J\x7f" * 20_000, "general", 0.5),
    ("100 KB of emoji", "😀" * 100_000, "general", 0.5),
    ("right-to-left override", "\u202ewhat is 25 times 7", "utility", 0.5),
    ("the request first, then 100 KB", "what is 25 times 7 " + "please " * 15_000, "utility", 0.5),
]


@pytest.mark.parametrize(("what", "text", "agent", "bound"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_text_is_routed_in_bounded_time(specs, what, text, agent, bound):
    decision, took = timed(RuleRouter(specs).route, text)
    assert took < bound, f"{what}: {took:.2f} s"
    if agent is not None:
        assert decision.agent == agent


@pytest.mark.parametrize(
    ("what", "text", "agent", "bound"), HOSTILE[:4], ids=[c[0] for c in HOSTILE[:4]]
)
def test_hostile_text_is_answered_in_bounded_time(app, what, text, agent, bound):
    """The whole turn, not just routing: one clear answer, well within a second."""
    turn, took = timed(app.ask, text)
    assert turn.answer and turn.error is None
    assert took < 2.0, f"{what}: {took:.2f} s"


def user_agent(tmp_path: Path, pattern: str) -> Path:
    folder = tmp_path / "config" / "agents"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hang.yaml"
    spec = {
        "description": "hang",
        "kind": "llm",
        "system_prompt": "x",
        "rules": [{"pattern": pattern}],
        "examples": EXAMPLES,
    }
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def test_a_catastrophic_user_rule_is_refused_when_its_file_is_loaded(tmp_path):
    """A broken user agent file is left out with a warning (the others keep answering):
    the warning names the file, the rule and why."""
    path = user_agent(tmp_path, "(a+)+$")
    with pytest.warns(ConfigWarning) as warned:
        specs = load_agents()
    assert "hang" not in specs
    message = str(warned[0].message)
    assert message.startswith(f"{path}: rules.0.pattern: ")
    assert "nested repetition" in message and "exponential time" in message


def test_the_route_command_says_which_rule_in_one_line_and_answers(tmp_path):
    path = user_agent(tmp_path, "(a+)+$")
    done, took = timed(cli, "route", "a" * 40 + "!", "--profile", "speed")
    assert done.returncode == 0 and took < 10
    assert "Traceback" not in done.stderr
    warning = done.stderr.strip().splitlines()
    assert len(warning) == 1 and str(path) in warning[0] and "rules.0.pattern" in warning[0]
    assert "no specialist fits" in done.stdout


NESTED = [r"(a+)+$", r"(a*)*b", r"(\w+\s?)*$", r"(?:x+|y)+z", r"(\d+,?)+$", r"((ab)+)+c"]
SAFE = [r"(\s+\S+)*", r"(\w+\s+)+x", r"\d{1,3}(,\d{3})*", r"^(?>.*?\btip\b).*\d", r"(?>a+)+b"]


@pytest.mark.parametrize("pattern", NESTED)
def test_nested_repetition_is_refused(pattern):
    with pytest.raises(ValueError, match="nested repetition"):
        check_pattern(pattern)


@pytest.mark.parametrize("pattern", SAFE)
def test_repetition_with_one_way_to_match_is_accepted(pattern):
    check_pattern(pattern)


def test_a_slow_rule_the_check_misses_gives_up_in_time():
    """(a|aa)+ is exponential too but not nested repetition: the time limit stops it."""
    specs = {
        "slow": AgentSpec(
            name="slow",
            description="x",
            kind="llm",
            system_prompt="x",
            examples=EXAMPLES,
            rules=[{"pattern": r"(a|aa)+$"}],
        ),
        "general": AgentSpec(
            name="general", description="x", kind="llm", system_prompt="x", examples=EXAMPLES
        ),
    }
    decision, took = timed(RuleRouter(specs).route, "a" * 60 + "!")
    assert decision.agent == "general" and took < 1.0


def test_bundled_rules_match_with_regex_as_with_re(specs):
    """Rules are matched with the `regex` package (it can stop): it must read them as `re`."""
    texts = [example for spec in specs.values() for example in spec.examples]
    for spec in specs.values():
        for rule in spec.rules:
            if rule.pattern is None:
                continue
            ours, theirs = regex.compile(rule.pattern, regex.I), re.compile(rule.pattern, re.I)
            for text in texts:
                a, b = ours.search(text), theirs.search(text)
                assert (a and a.span()) == (b and b.span()), (spec.name, rule.pattern, text)


class RecordingEncoder:
    name = "recording"

    def __init__(self):
        self.seen: list[str] = []

    def encode(self, texts):
        self.seen += texts
        rng = np.random.default_rng(len(texts))
        vectors = rng.normal(size=(len(texts), 8)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_embeddings_are_asked_about_the_start_of_a_long_request(specs, tmp_path):
    encoder = RecordingEncoder()
    router = EmbeddingRouter(specs, encoder, cache_dir=tmp_path)
    router.route("tell me about " + "x" * 100_000)
    assert len(encoder.seen[0]) == MAX_ROUTED_CHARS, "the request, embedded first"


# -- 12: every form the calculator reads reaches it, on every profile --------------------------

FORMS = [
    "2 ** 10", "what is 2**10?", "5 mod 3", "5 mod 0", "17 modulo 5", "calculate 9 mod 4",
    "(3 + 4) * 2", "2(3 + 4)", "2^10", "3²", "2³", "9 × 3", "8 ÷ 2", "10 − 3", "10 - 3",
    "-5 + 2", "minus 3 times minus 3", "sqrt of 16", "√16", "square root of 169",
    "cube root of 27", "5 factorial", "10% of 50", "50 plus 10%", "2 to the power of 10",
    "1,000 / 8", "3.5 * 2", "0.5 + .25", "1 / 3", "12 over 4", "5 squared", "pi times 2",
    "what's 6 x 7", "seven minus two", "twenty five times seven", "two thirds of 90",
    "a quarter of 200", "negative eight plus three", "what is 7 multiplied by 6",
    "100 divided by 0",
]  # fmt: skip
NOT_ARITHMETIC = [
    "what time is it in UTC+14", "set a timer for 5 minutes", "share 3 photos with mom",
    "who wrote Romeo and Juliet", "5 minutes", "2024", "5 plus", "call 555 1234",
]  # fmt: skip


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("text", FORMS)
def test_arithmetic_routes_to_the_calculator_on_every_profile(routers, profile, text):
    decision, took = timed(routers[profile].route, text)
    assert (decision.agent, decision.method) == ("utility", "rules"), decision.reason
    assert took < 0.1


@pytest.mark.parametrize("text", FORMS)
def test_the_calculator_answers_every_form_it_is_sent(text):
    result = UtilitySkill().handle(Request(text))
    assert result is not None and result.status in ("done", "failed"), result


@pytest.mark.parametrize("text", NOT_ARITHMETIC)
def test_what_is_not_arithmetic_is_not_claimed(routers, text):
    assert arithmetic(text) is None
    assert routers["speed"].route(text).agent != "utility"


_NUMBERS = st.sampled_from(["7", "12", "3.5", "0", "1,000", "seven", "twenty five", "pi"])
_OPERATORS = st.sampled_from(
    ["+", "-", "*", "/", "**", "^", "x", "×", "÷", "mod", "modulo", "plus", "minus", "times",
     "divided by", "multiplied by", "over", "to the power of"]
)  # fmt: skip


def _expressions():
    """Expressions in the parser's grammar, each with at least one operation in it."""

    def grow(inner):
        return st.one_of(
            st.tuples(inner, _OPERATORS, inner).map(" ".join),
            inner.map(lambda e: f"({e})"),
            inner.map(lambda e: f"minus {e}"),
            inner.map(lambda e: f"the square root of {e}"),
        )

    operand = st.recursive(_NUMBERS, grow, max_leaves=4)
    return st.one_of(
        st.tuples(operand, _OPERATORS, operand).map(" ".join),
        operand.map(lambda e: f"the square root of {e}"),
    )


@settings(max_examples=150, deadline=None)
@given(expression=_expressions(), lead=st.sampled_from(["", "what is ", "calculate "]))
def test_generated_expressions_route_to_the_calculator(routers, expression, lead):
    """Expressions built from the parser's own grammar: each profile sends them all to it."""
    text = lead + expression
    for profile in PROFILES:
        assert routers[profile].route(text).agent == "utility", (profile, text)
    assert UtilitySkill().handle(Request(text)).status in ("done", "failed"), text


# -- 15: an empty request is answered at once, never sent to the LLM ---------------------------


@pytest.mark.parametrize("text", ["", " ", "\t\n  ", "\u3000"])
def test_an_empty_typed_request_is_answered_at_once(app, text):
    calls = app._llm.calls
    turn, took = timed(app.ask, text)
    assert turn.answer == "You didn't type anything."
    assert turn.steps == [] and turn.error is None and app._llm.calls == calls
    assert took < 0.5


def test_a_blank_transcript_is_answered_that_nothing_was_heard(tmp_path):
    settings = load_settings("speed", [f"store.path={tmp_path / 'va.db'}"])
    tts = QuickTTS()
    assistant = build(settings, stt=ScriptedSTT([""]), tts=tts)
    assistant._llm = llm = ScriptedLLM()
    utterance = Utterance(b"\0\0" * 16000, 0.0, 0.1, 0.9, 1.4)
    turn, took = timed(VoiceLoop(assistant).answer, utterance)
    assistant.close()
    assert turn.answer == "Sorry, I didn't hear anything." == tts.spoken[0]
    assert turn.source == "spoken" and turn.steps == [] and llm.calls == 0
    assert took < 1.0


def test_an_empty_request_is_not_conversation_history(app):
    app.ask("   ")
    assert all(message["content"].strip() for message in app.orchestrator._history)


def test_ask_with_an_empty_request_answers_in_one_line():
    done, took = timed(cli, "ask", "   ", "--profile", "speed")
    assert done.returncode == 0 and done.stdout.strip() == "You didn't type anything."
    assert took < 10


# -- 19: answers that must be refusals, or right -------------------------------------------------

ANSWERS = [  # (request, agent, what the answer says, status)
    ("15% tip on -45", "utility", "can't be negative", "failed"),
    ("what's a 20% tip on minus 80 dollars", "utility", "can't be negative", "failed"),
    ("a -15% tip on 45", "utility", "can't be negative", "failed"),
    ("15% tip on 45", "utility", "is 6.75, for a total of 51.75", "done"),
    ("split -120 between 4", "utility", "-120 split 4 ways is -30 each", "done"),
    ("convert -500 kelvin to celsius", "utility", "-500 kelvin is below absolute zero", "failed"),
    ("-300 celsius in fahrenheit", "utility", "Celsius is below absolute zero", "failed"),
    ("-460 fahrenheit in kelvin", "utility", "Fahrenheit is below absolute zero", "failed"),
    ("-459.67 fahrenheit in kelvin", "utility", "is 0 kelvin", "done"),
    ("-40 celsius in fahrenheit", "utility", "is -40 degrees Fahrenheit", "done"),
    ("sqrt of -1", "utility", "-1 has no real square root", "failed"),
    ("square root of -9", "utility", "-9 has no real square root", "failed"),
    ("sqrt of 16", "utility", "square root of 16 is 4", "done"),
    ("cube root of -8", "utility", "cube root of -8 is -2", "done"),
    ("sqrt of 7 plus 7 to the power of 1000", "utility", "too large", "failed"),
    ("what time is it in UTC+14", "time", " in UTC+14", "done"),
    ("what time is it in GMT-5", "time", " in GMT-5", "done"),
    ("what's the time in UTC+5:30", "time", " in UTC+5:30", "done"),
    ("what time is it in utc plus fourteen", "time", " in UTC+14", "done"),
    ("what time is it in UTC-12", "time", " in UTC-12", "done"),
    ("what time is it in UTC+15", "time", "No place keeps UTC+15", "failed"),
    ("what time is it in UTC-13", "time", "No place keeps UTC-13", "failed"),
    ("what time is it in GMT+5:75", "time", "No place keeps GMT+5:75", "failed"),
]


@pytest.mark.parametrize(("text", "agent", "says", "status"), ANSWERS)
def test_answers_that_must_be_refusals_or_right(app, text, agent, says, status):
    turn, took = timed(app.ask, text)
    step = turn.steps[-1]
    assert (step.agent, step.result.status) == (agent, status), turn.answer
    assert says in turn.answer
    assert took < 1.0


@pytest.mark.parametrize(
    ("text", "offset"), [("UTC+14", "+14:00"), ("GMT-5", "-05:00"), ("UTC+5:30", "+05:30")]
)
def test_the_time_at_a_utc_offset_is_the_time_there(app, text, offset):
    value = app.ask(f"what time is it in {text}").steps[-1].result.value
    assert value.endswith(offset)


def test_cancelling_a_timer_by_a_number_it_does_not_have_cancels_nothing(tmp_path):
    assistant = build(load_settings("speed", [f"store.path={tmp_path / 'va.db'}"]))
    assistant.ask("set a pasta timer for 10 minutes")
    turn, took = timed(assistant.ask, "cancel timer number 999999999999999999999999")
    assert turn.answer == (
        "You don't have a timer number 999999999999999999999999. "
        "You have a pasta timer with 10 minutes left."
    )
    assert turn.steps[-1].result.status == "failed" and took < 1.0
    assert assistant.ask("list my timers").answer.startswith("You have a pasta timer")
    assert assistant.ask("cancel timer number 1").answer == "Cancelled your pasta timer."
    assistant.close()


# -- 20: processes share the exemplar embeddings; torch only when an embedding is needed --------

_WORKER = textwrap.dedent(
    """
    import hashlib, sys, time
    from pathlib import Path
    import numpy as np
    from voice_agent.agents.registry import load_agents
    from voice_agent.routing.embeddings import EmbeddingRouter

    class SlowEncoder:
        name = "slow"
        def encode(self, texts):
            if len(texts) > 1:  # the examples: count the work, and take a while
                with open(sys.argv[2], "a") as log:
                    log.write(f"{len(texts)}\\n")
                time.sleep(0.2)
            rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), np.uint8) for t in texts]
            vectors = np.array(rows, dtype=np.float32) - 127.5
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    router = EmbeddingRouter(load_agents(), SlowEncoder(), cache_dir=Path(sys.argv[1]))
    scores = router.scores("what is the weather in paris")
    print(hashlib.sha256(repr(sorted(scores.items())).encode()).hexdigest())
    """
)


def test_concurrent_processes_embed_the_examples_once(tmp_path, specs):
    script = tmp_path / "worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    work = tmp_path / "work.log"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    start = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / "cache"), str(work)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(6)
    ]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1, "every process sees the same embeddings"
    assert len(work.read_text().splitlines()) == len(specs), "each agent's examples once"
    assert time.perf_counter() - start < 60
    leftovers = [p.name for p in (tmp_path / "cache" / "slow").iterdir() if p.suffix != ".npy"]
    assert leftovers == [], "no temporary files left behind"


def test_a_damaged_or_unwritable_cache_still_routes(tmp_path, specs):
    encoder = RecordingEncoder()
    EmbeddingRouter(specs, encoder, cache_dir=tmp_path).warmup()
    for cached in (tmp_path / "recording").iterdir():
        cached.write_bytes(b"\x93NUMPY garbage")
    again = RecordingEncoder()
    EmbeddingRouter(specs, again, cache_dir=tmp_path).warmup()
    assert len(again.seen) == sum(len(s.examples) for s in specs.values()) + 1, "re-embedded"
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    decision = EmbeddingRouter(specs, RecordingEncoder(), cache_dir=blocked / "x").route("hi")
    assert decision.agent in specs


def test_a_turn_decided_by_a_rule_never_loads_torch(tmp_path):
    script = (
        "import sys\n"
        "from voice_agent.app import build\n"
        "from voice_agent.config import load_settings\n"
        f"app = build(load_settings('balanced', ['store.path={tmp_path / 'va.db'}']))\n"
        "print(app.ask('what is 2 ** 10').answer)\n"
        "print('torch' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.splitlines() == ["2 to the power of 10 is 1,024.", "False"], done.stderr
