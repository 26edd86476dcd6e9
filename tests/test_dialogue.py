"""The pieces of a conversation: plans, references, follow-ups, open questions."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_agent.agents.registry import load_agents
from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.dialogue.followups import fragment_of, rewrite
from voice_agent.dialogue.plan import check_plan, split
from voice_agent.dialogue.references import asks_to_be_told, resolve
from voice_agent.routing.rules import RuleRouter
from voice_agent.skills.base import Result


@pytest.fixture(scope="module")
def route():
    return RuleRouter(load_agents()).route


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("set a timer for 8 minutes and tell me the time in Chicago", ["time", "time"]),
        ("what's 15% of 80 and set a timer for that many minutes", ["utility", "time"]),
        ("check the weather in Oslo, then set a timer for 10 minutes", ["weather", "time"]),
        ("what is 9 times 9, what time is it in Lima and set a timer for 1 minute", 3),
        ("what is 2 plus 2 and what is the capital of Peru", ["utility", "general"]),
        # said in one breath, as Whisper writes it
        (
            "Could you switch on the porch lights? What is 12 times 12? How many minutes are "
            "in a day?",
            ["limits", "utility", "utility"],
        ),
        ("Set a timer for 5 minutes. What's the time in Tokyo?", ["time", "time"]),
    ],
)
def test_joined_tasks_become_steps(route, text, steps):
    pieces = split(text, route)
    assert pieces is not None
    agents = [p.decision.agent for p in pieces]
    assert agents == steps if isinstance(steps, list) else len(agents) == steps


@pytest.mark.parametrize(
    "text",
    [
        "who wrote Romeo and Juliet",
        "what is rock and roll",
        "add milk and eggs to my groceries note",
        "set a timer for 1 hour and 30 minutes",
        "tell me about salt and pepper",
        "what is the weather like in London",
        "What is 3.5 times 2?",
        "Hello. How are you?",
        "Convert 5.5 miles to kilometres. Thanks.",
        "how many days between march 1 and april 15",
        "how many weeks are there between Christmas and Easter",
    ],
)
def test_requests_that_merely_contain_and_stay_whole(route, text):
    assert split(text, route) is None


def test_an_llm_plan_is_checked_before_anything_runs(route):
    text = "find out the weather in Rome and also a timer of five minutes please"
    agents = {"weather": "weather", "time": "timers", "general": "chat"}
    good = {
        "steps": [
            {"agent": "weather", "request": "the weather in Rome"},
            {"agent": "time", "request": "a timer of five minutes"},
        ]
    }
    assert [p.decision.agent for p in check_plan(good, text, agents, route)] == ["weather", "time"]
    invented = {"steps": [{"agent": "weather", "request": "weather in Paris tomorrow"}] * 2}
    assert check_plan(invented, text, agents, route) is None, "words the user never said"
    unknown = {"steps": [{"agent": "email", "request": "the weather in Rome"}] * 2}
    assert check_plan(unknown, text, agents, route) is None
    assert check_plan({"steps": "weather"}, text, agents, route) is None


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("set a timer for that many minutes", 12, "set a timer for 12 minutes"),
        ("divide that by 5", 100, "divide 100 by 5"),
        ("add 3 to the result", 2.5, "add 3 to 2.5"),
        ("what time is it in Chicago", 12, None),
        ("cancel it", "the pasta timer", "cancel the pasta timer"),
        ("add bread to it", "my groceries note", "add bread to my groceries note"),
        ("what is it", "my groceries note", None),
    ],
)
def test_references_are_filled_from_the_earlier_result(text, previous, expected):
    if isinstance(previous, str):
        result = Result("done", value="x", data={"refer_as": previous})
    else:
        result = Result(str(previous), value=previous)
    assert resolve(text, result) == expected


@pytest.mark.parametrize(
    ("previous", "said", "expected"),
    [
        ("what's the weather in London", "and in Paris?", "what's the weather in Paris"),
        (
            "what's the weather in London",
            "what about tomorrow?",
            "what's the weather in London tomorrow",
        ),
        ("will it rain in Oslo tomorrow", "and in Bergen?", "will it rain in Bergen tomorrow"),
        (
            "convert 100 fahrenheit to kelvin",
            "and in celsius?",
            "convert 100 fahrenheit to celsius",
        ),
        ("what time is it in Tokyo", "how about Sydney?", "what time is it in Sydney"),
        ("what's the weather", "and on Friday?", "what's the weather on Friday"),
        # Whisper's punctuation of a clipped sentence, and a name with a comma of its own
        ("what time is it in Tokyo", "and in New York,", "what time is it in New York"),
        ("what time is it in Tokyo", "and in New York…", "what time is it in New York"),
        (
            "what's the weather in Leeds",
            "what about Washington, DC?",
            "what's the weather in Washington, DC",
        ),
        ("what's the weather", "and for Lyon;", "what's the weather for Lyon"),
        (
            "what's a 15% tip on 60 dollars",
            "what about 20 percent?",
            "what's a 20 percent tip on 60 dollars",
        ),
        ("what is 20% of 350", "and 30%,", "what is 30% of 350"),
    ],
)
def test_follow_ups_replace_one_slot(previous, said, expected):
    fragment = fragment_of(said)
    assert fragment is not None and rewrite(previous, fragment) == expected


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("aein NYPrsdt,.?!;:-…'")), max_size=30).map(
        lambda words: f"and {words}"
    )
)
def test_any_fragment_it_accepts_can_be_put_into_the_last_request(said):
    fragment = fragment_of(said)
    if fragment is not None:
        put = rewrite("what time is it in Tokyo", fragment)
        assert put is None or put.startswith("what time is it")


def test_a_follow_up_with_no_slot_like_it_in_the_last_request_is_a_request_of_its_own():
    assert rewrite("what time is it in Paris", fragment_of("what about 30 percent")) is None


@pytest.mark.parametrize(
    "said", ["set a timer for ten minutes", "and subtract 4 from it", "what is the time now"]
)
def test_whole_requests_are_not_fragments(said):
    assert fragment_of(said) is None


def test_follow_ups_fade_and_questions_wait_one_turn(tmp_path):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = None
    assert app.ask("what time is it in Tokyo").agent == "time"
    assert "Paris" in app.ask("and in Paris?").answer
    assert app.ask("set a timer").steps[0].result.status == "ask"
    assert "12 minutes" in app.ask("twelve minutes").answer, "the answer fills the question"
    app.ask("what is 2 plus 2")
    app.ask("what is 3 plus 3")
    app.ask("what is 4 plus 4")
    assert app.orchestrator.dialogue.open_question() is None
    app.close()


def test_a_number_misheard_as_a_word_is_asked_for_and_put_in_its_place(tmp_path):
    """Whisper wrote "eighty" as "maybe": the assistant asks for that number rather than let
    an LLM make one up, and the answer goes where the word was."""
    from stages import ScriptedLLM

    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(reply="15 percent of maybe dollars is 0.225 dollars.")
    asked = app.ask("What's 15% of maybe dollars?")
    answered = app.ask("Eighty.")
    app.close()
    assert asked.steps[0].result.status == "ask" and '"maybe"' in asked.answer
    assert answered.answer == "15% of $80.00 is $12.00." and llm.seen == []


def test_there_is_the_place_the_last_answer_was_about(tmp_path):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = None
    turn = app.ask("what's the time in Tokyo, and what's the date there")
    app.close()
    assert [s.text for s in turn.steps][1] == "what's the date in Tokyo"
    assert turn.steps[1].result.spoken.startswith("In Tokyo it's")
    said = Result("I can't reach the weather service.", data={"city": "oslo"}, status="failed")
    assert resolve("and what time is it over there?", said) == "and what time is it in oslo?"
    assert resolve("is there a timer", said) is None and resolve("there are two", said) is None


def test_a_lookup_that_fails_does_not_hold_up_the_steps_after_it(tmp_path):
    """Offline, the weather fails; the time there (the place is still known) and a sum of
    their own are answered all the same, and an open question still waits."""
    overrides = [
        f"store.path={tmp_path / 'db'}",
        "llm.warmup=false",
        "agents.skill_config.weather.geocoding_url=http://127.0.0.1:9/v1/search",
    ]
    app = build(load_settings("speed", overrides))
    app._llm = None
    there = app.ask("what's the weather in Oslo and what time is it there")
    sum_too = app.ask("what's the weather in Oslo, and what's 6 times 7")
    asked = app.ask("set a timer and tell me the time in Oslo")
    app.close()
    assert [(s.agent, s.result.status) for s in there.steps] == [
        ("weather", "failed"),
        ("time", "done"),
    ]
    assert there.steps[1].text == "what time is it in Oslo"
    assert "can't reach the weather service" in there.answer and "in Oslo" in there.answer
    assert sum_too.answer.endswith("6 times 7 is 42.")
    assert len(asked.steps) == 1 and "haven't done the rest" in asked.answer


@pytest.mark.parametrize(
    ("text", "told"),
    [
        ("tell me when it's done", True),
        ("and let me know once they're ready", True),
        ("please notify me as soon as it goes off", True),
        ("let me know if it worked", True),
        ("give me a heads up when it's over", True),
        ("tell me if it's going to rain tomorrow", False),
        ("let me know what time it is in Lima", False),
        ("tell me when the next full moon is", False),
        ("tell me a joke", False),
    ],
)
def test_asking_to_be_told_when_something_happens(text, told):
    assert asks_to_be_told(text) is told


def test_tell_me_when_it_is_done_is_a_skills_promise_never_the_llms_guess(tmp_path):
    """ "It's done." after a timer is set would be false. A timer says it will speak up; after
    a declined request nothing more is said; what nothing here watches is said so."""
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = None  # none of it may reach the language model
    timer = app.ask("set a timer for 10 minutes and tell me when it's done")
    reminder = app.ask("remind me at 5 pm to call mom and let me know when it's time")
    declined = app.ask("preheat the oven to 200 and let me know once it's ready")
    alone = app.ask("tell me when it's finished")
    app.close()
    assert timer.answer == "Timer set for 10 minutes. I'll tell you when it goes off."
    assert reminder.answer.endswith("5:00 PM today. I'll tell you when it's time.")
    assert [s.agent for s in declined.steps] == ["limits"]
    assert declined.answer == declined.steps[0].result.spoken
    assert alone.answer.startswith("I can't tell when that happens")


def test_what_only_likeness_sent_to_a_skill_it_cannot_read_goes_to_the_llm(tmp_path):
    """ "How far is it from London to Paris" sounds like the clock's examples (cities), and no
    rule takes it: the clock cannot read it, so the general agent answers, not "didn't catch
    that". A garbled request a rule sent to the clock is still asked for again."""
    from stages import ScriptedLLM

    app = build(load_settings("balanced", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(reply="It is about 340 kilometres as the crow flies.")
    far = app.ask("how far is it from London to Paris")
    garbled = app.ask("set the timer for the")
    app.close()
    assert far.steps[0].decision.method == "embeddings" and far.steps[0].agent == "time"
    assert far.answer == "It is about 340 kilometres as the crow flies." and len(llm.seen) == 1
    assert garbled.steps[0].decision.method.startswith("rules") and len(llm.seen) == 1
    assert garbled.steps[0].result.status == "ask"


def test_a_request_not_understood_asks_for_it_again_not_for_more(tmp_path):
    """After "Sorry, I didn't catch that", what the user says next is a request of its own:
    it is not put after the words that were not understood."""
    overrides = [f"store.path={tmp_path / 'db'}", f"agents.files_root={tmp_path}"]
    app = build(load_settings("speed", [*overrides, "llm.warmup=false"]))
    app._llm = None
    missed = app.ask("well, in my notes folder")
    turn = app.ask("make a note called ideas saying build a bird house")
    app.close()
    assert missed.steps[0].result.status == "ask" and "didn't" in missed.answer
    assert turn.answer == "I saved your note as ideas.txt in your notes folder."


@pytest.mark.parametrize("said", ["what is 5 plus", "What's five plus?", "calculate 5 plus,"])
def test_a_sum_cut_off_before_its_last_number_asks_for_it(said, tmp_path):
    """Whisper lost the end: the calculator asks for the number (an LLM made one up: "5
    plus 5 equals 10"), and the answer completes the sum."""
    from stages import ScriptedLLM

    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(reply="5 plus 5 equals 10.")
    asked = app.ask(said)
    answered = app.ask("Seven.")
    app.close()
    assert asked.agent == "utility" and asked.steps[0].result.status == "ask"
    assert answered.answer == "5 plus 7 is 12." and llm.seen == []


def test_a_question_of_its_own_does_not_answer_the_open_one(tmp_path):
    """Asked "Which city should I check the weather for?", a user who asks something else,
    or asks for something ("give me three tips ..."), gets that answered, not a forecast for
    the words of the new request."""
    from stages import ScriptedLLM

    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = ScriptedLLM(reply="Gerald Ford was president in 1976.")
    assert app.ask("what will the weather be like tomorrow").steps[0].result.status == "ask"
    turn = app.ask("who was president in 1976")
    assert app.ask("what will the weather be like tomorrow").steps[0].result.status == "ask"
    tips = app.ask("Give me three tips for sleeping better.")
    app.close()
    assert turn.agent == "general" and turn.answer == "Gerald Ford was president in 1976."
    assert tips.agent == "general"
    assert tips.steps[0].text == "Give me three tips for sleeping better"


def test_an_unclear_join_is_planned_by_the_llm_and_checked(tmp_path):
    from stages import ScriptedLLM

    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    plan = {
        "steps": [
            {"agent": "time", "request": "what time is it in Lima"},
            {"agent": "general", "request": "remind me why the sky is blue"},
        ]
    }
    app._llm = llm = ScriptedLLM(replies=[json.dumps(plan)], reply="Because of scattering.")
    turn = app.ask("what time is it in Lima and also remind me why the sky is blue")
    app.close()
    assert [s.agent for s in turn.steps] == ["time", "general"]
    assert "Lima" in turn.answer and turn.answer.endswith("Because of scattering.")
    assert "Split the user's request" in llm.seen[0][0]["content"]


def test_a_lone_word_after_a_comma_asks_no_llm_for_a_plan(tmp_path):
    """Whisper heard a pause before the last word; the LLM's plan took 10 s here."""
    from stages import ScriptedLLM

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "groceries.txt").write_text("milk\n")
    overrides = [f"store.path={tmp_path / 'db'}", f"agents.files_root={tmp_path}"]
    app = build(load_settings("speed", [*overrides, "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(replies=[], reply="(the LLM was asked)")
    turn = app.ask("List the files in my notes, folder.")
    app.close()
    assert [s.agent for s in turn.steps] == ["files"] and "groceries" in turn.answer
    assert llm.seen == []


@pytest.mark.parametrize(
    ("said", "agent", "kept"),
    [
        ("Make a note called packing, saying, bring the passport.", "files", "passport"),
        ("Take a note: the boiler man comes Tuesday, bring cash.", "files", "cash"),
        ("Add call the bank, about the loan to my todo.", "files", "the loan"),
        ("Remember that the spare key is under the blue pot, by the door.", "memory", "door"),
    ],
)
def test_words_a_command_keeps_ask_no_llm_for_a_plan(said, agent, kept, tmp_path):
    """A pause Whisper wrote as a comma inside a note's body or a fact leaves a piece that
    routes nowhere, but it is the command's own words: one step, at once, all of it kept."""
    from stages import ScriptedLLM

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("milk\n")
    overrides = [f"store.path={tmp_path / 'db'}", f"agents.files_root={tmp_path}"]
    app = build(load_settings("speed", [*overrides, "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(replies=[], reply="(the LLM was asked)")
    turn = app.ask(said)
    saved = [p.read_text() for p in (tmp_path / "notes").iterdir()]
    recalled = app.ask("what do you remember").answer if agent == "memory" else ""
    app.close()
    assert [s.agent for s in turn.steps] == [agent] and llm.seen == [], turn.answer
    assert any(kept in text for text in [*saved, recalled]), (saved, recalled)
    assert not any(text.lower().startswith("saying") for text in saved), saved


def test_a_stray_piece_that_is_no_kept_words_still_asks_for_a_plan(tmp_path):
    from stages import ScriptedLLM

    overrides = [f"store.path={tmp_path / 'db'}", f"agents.files_root={tmp_path}"]
    app = build(load_settings("speed", [*overrides, "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(replies=["{}"], reply="(the LLM was asked)")
    app.ask("what time is it in Lima and also remind me why the sky is blue")
    app.ask("list my notes, and the old recipes too")
    app.close()
    assert len([m for m in llm.seen if "Split the user's request" in m[0]["content"]]) == 2


@pytest.mark.parametrize(
    ("said", "agent", "answer"),
    [
        # Whisper writes a pause inside a sentence as a comma, "..." or a full stop
        ("Convert 8, ounces to grams.", "utility", "8 ounces is 227 grams."),
        ("Convert eight... ounces to grams.", "utility", "8 ounces is 227 grams."),
        ("Set a timer for, five minutes.", "time", "Timer set for 5 minutes."),
        ("What is twenty five, times seven?", "utility", "25 times 7 is 175."),
        ("What's 15% of. 80?", "utility", "15% of 80 is 12."),
        ("Okay, what is 9 times 9?", "utility", "9 times 9 is 81."),
    ],
)
def test_a_pause_inside_a_request_is_no_boundary_and_asks_no_llm(tmp_path, said, agent, answer):
    from stages import ScriptedLLM

    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(replies=[], reply="(the LLM was asked)")
    turn = app.ask(said)
    app.close()
    assert ([s.agent for s in turn.steps], turn.answer) == ([agent], answer)
    assert llm.seen == []


def test_a_why_question_with_an_and_in_it_is_one_question_for_the_llm(tmp_path):
    """The question "why do we put salt and pepper on food" routes to the general agent by
    its rule, and "pepper on food" routes nowhere: looking for words a skill keeps crashed
    the turn, and asking the LLM for a plan cost seconds for the one answer it gives."""
    from stages import ScriptedLLM

    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}", "llm.warmup=false"]))
    app._llm = llm = ScriptedLLM(reply="Salt and pepper bring out the flavour.")
    turn = app.ask("why do we put salt and pepper on food")
    app.close()
    assert turn.agent == "general" and turn.answer == "Salt and pepper bring out the flavour."
    assert len(llm.seen) == 1, "asked to answer, never to plan: its pieces would go to it"
