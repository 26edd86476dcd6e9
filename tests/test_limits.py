"""Never claiming an action it cannot take: the limits agent, and the check on LLM replies."""

from __future__ import annotations

import pytest
from stages import ScriptedLLM

from voice_agent.agents.registry import load_agents
from voice_agent.app import build
from voice_agent.config import load_settings
from voice_agent.llm.claims import INSTEAD, NOT_KEPT, NOT_SET, claims_action, honest
from voice_agent.routing.rules import RuleRouter


@pytest.fixture(scope="module")
def route():
    return RuleRouter(load_agents()).route


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("switch off all the lights downstairs", "lights"),
        ("hey could you dim the reading lamp", "lights"),
        ("turn the air conditioning down", "climate"),
        ("please unlock the back door", "locks"),
        ("play the new album by Adele", "media"),
        ("volume up", "volume"),
        ("ring the plumber", "calls"),
        ("text Priya that dinner is at eight", "messages"),
        ("forward that email to Tom", "email"),
        ("buy a new phone charger", "shopping"),
        ("book me a taxi for seven tomorrow", "booking"),
        ("put lunch with Ana on my calendar for friday", "calendar"),
        ("pay the rent", "payments"),
        ("launch the spotify app", "devices"),
        # verbs and things combined freely, indirect and mid-sentence asks
        ("could you please flash the porch light twice", "lights"),
        ("I want the hallway lamp brighter", "lights"),
        ("make the bedroom a couple of degrees cooler", "climate"),
        ("it's boiling in here could you switch on the fan", "climate"),
        ("arm the burglar alarm before we go", "locks"),
        ("did I leave the back door unlocked", "locks"),
        ("skip ahead two minutes", "media"),
        ("stream the football on the bedroom tv", "media"),
        ("a little quieter please", "volume"),
        ("call back the number that just rang", "calls"),
        ("message my sister on whatsapp that I landed", "messages"),
        ("share my location with Ben", "messages"),
        ("have I got any unread emails", "personal"),
        ("what time is my next appointment", "personal"),
        ("am I busy on Friday afternoon", "personal"),
        ("get me a pad thai delivered to the office", "shopping"),
        ("hold two seats at the cinema for the late show", "booking"),
        ("push my sync with Omar back to four", "calendar"),
        ("move 200 dollars from savings to my current account", "payments"),
        ("reboot the router in the hall", "devices"),
        ("unplug the smart plug by the sofa", "devices"),
        ("I'd like it nice and warm in here", "climate"),
        ("I want the living room to be cooler tonight", "climate"),
        # the physical world: food and drink, fetching, housework
        ("could you make me a mug of hot chocolate", "chores"),
        ("I'd like a slice of cake", "chores"),
        ("grab us a couple of beers", "chores"),
        ("hand me the remote", "chores"),
        ("please do the washing up", "chores"),
        ("empty the dishwasher", "devices"),
        ("how warm is it in the nursery right now", "indoors"),
        ("is it stuffy in my office", "indoors"),
        # as Whisper writes them: a closing full stop or question mark
        ("How cold is it in the garage?", "indoors"),
        ("Lights off.", "lights"),
        ("I'd like a pizza.", "chores"),
        # ...and a courtesy after a comma
        ("Louder, please.", "volume"),
        ("Lights off, thanks.", "lights"),
    ],
)
def test_requests_to_act_are_answered_honestly_without_the_llm(tmp_path, route, text, kind):
    assert route(text).agent == "limits"
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    turn = app.ask(text)
    app.close()
    result = turn.steps[0].result
    assert result.data["kind"] == kind and turn.llm is None
    assert turn.answer.startswith("I can't") and not claims_action(turn.answer)


@pytest.mark.parametrize(
    "text",
    [
        "how do smart lights work",
        "what's a good jazz album",
        "who invented the telephone",
        "what temperature should a fridge be",
        "is it rude to text at the dinner table",
        "make a note called calls saying ring the plumber",
        "set a timer for the pizza for 12 minutes",
        "add light bulbs to my shopping note",
        "set the oven timer for forty minutes",
        "set an alarm for half past six",
        "change my alarm to seven",
        "go back to the quality profile",
        "how do I reset my router",
        "why does my phone battery drain so fast",
        "what's the best temperature for a bedroom",
        "who invented the light bulb",
        "do I have a note called recipes",
        "how do I brew a good cup of tea",
        "give me some dinner ideas",
        "what's the quickest way to clean an oven",
        "make a note to hoover the stairs",
        "bring me up to date",
        "what's the best temperature to sleep at in a bedroom",
        "what temperature should my living room be",
    ],
)
def test_look_alikes_are_not_refused(route, text):
    assert route(text).agent != "limits"


@pytest.mark.parametrize(
    "sentence",
    [
        "Kitchen lights turned on.",
        "Sure, I can order you a pizza.",
        "I'll send that message for you.",
        "Your table for two has been booked.",
        "Okay, calling mom now.",
        "The lights are now off.",
        "I've added the meeting to your calendar.",
        "The porch light is turned on.",
        "The fan speed has been set to three.",
        "Sure, I can help you reserve a court for Sunday.",
        "Of course, I can make it warmer.",
        "I'd be happy to help you move your meeting.",
        "Your message has been sent.",
        "Your order has been placed and will arrive by seven.",
        "Sure, I can make you a coffee.",
        "I'll bring you a glass of water.",
        "Of course, I can clean the kitchen.",
        "I've set a reminder to call your mom at 5 PM.",
        "Sure, I'll set up a reminder for the dentist tomorrow.",
        "Reminder set for 5 PM: call mom.",
        "Your alarm has been set for seven.",
        "Snoozing.",
        "I saved your note as sugar.txt in your notes folder.",
        "I've added sugar to your shopping note.",
        "I've written that down for you.",
        "Your note has been saved.",
        "Note saved.",
        "Sure, I'll remember that.",
        "I've deleted the file.",
    ],
)
def test_claims_are_caught(sentence):
    assert claims_action(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "I can't turn on the lights.",
        "Smart lights talk to a hub over Zigbee or Wi-Fi.",
        "I can set a timer for that.",
        "You can pay the bill online.",
        "When the lights are on, the room is bright.",
        "The telephone was invented by Alexander Graham Bell.",
        "The first email was sent in 1971.",
        "The first text message was sent in 1992.",
        "Sure, I can explain how a thermostat works.",
        "Letters have been sent by post for centuries.",
        "Ice is turned into water by heat.",
        "The first text message ever sent was sent on December 3, 1992.",
        "The first email ever sent went between two computers side by side.",
        "More letters have been sent by post than ever before.",
        "The first email sent over ARPANET in 1971 said QWERTYUIOP.",
        "Sure, I can help you make pizza dough: mix flour, water, yeast and salt.",
        "I can explain how to brew coffee with a French press.",
        "To clean the kitchen quickly, start with the counters.",
        "I can set a reminder for that.",
        "Set a timer for twelve minutes and stir halfway through.",
        "The first alarm clock was set by hand.",
        "An alarm is a scheduled event that goes off at a specific time.",
        "A timer is a set length of time that counts down.",
        "I can save a note for that.",
        "You can save a note by saying: make a note called groceries.",
        "To save a file in Word, press Control S.",
        "I remember that you like jazz.",
        "I wrote a short poem about the sea.",
        "A file is saved to disk when you press save.",
    ],
)
def test_honest_sentences_pass(sentence):
    assert not claims_action(sentence)


def test_a_claim_and_all_after_it_are_replaced_and_never_streamed():
    pieces = iter(["Sure", "! Kitchen", " lights", " turned on. ", "Enjoy", " the light."])
    blocked: list[str] = []
    out = list(honest(pieces, blocked))
    assert "".join(out) == f"Sure! {INSTEAD}"
    assert blocked == ["Kitchen lights turned on."]


@pytest.mark.parametrize(
    ("reply", "instead"),
    [
        ("Okay. I saved your note as sugar.txt in your notes folder.", NOT_KEPT),
        ("Got it, I'll remember that.", NOT_KEPT),
        ("Sure. I've set a reminder for 5 PM to call the dentist.", NOT_SET),
        ("Your alarm is set for 7 AM.", NOT_SET),
    ],
)
def test_a_false_claim_to_keep_or_set_something_says_how_to_ask_for_it(reply, instead):
    """What a skill could have done is not "I can't do that": the user is told how to ask."""
    blocked: list[str] = []
    out = "".join(honest(iter([reply]), blocked))
    assert out.endswith(instead) and blocked


def test_an_llm_reply_that_claims_an_action_is_replaced(tmp_path):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    app._llm = ScriptedLLM(reply="Done. I've texted your sister that you're running late.")
    turn = app.ask("let my sister know I'm running late, okay")
    app.close()
    assert "texted" not in turn.answer and INSTEAD in turn.answer
    assert turn.steps[-1].result.data["blocked_claim"].startswith("I've texted")


def test_a_wish_in_two_parts_is_declined_once_and_the_rest_still_done(tmp_path):
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    wish = app.ask("I'd like the house to be warm when I get home at six, start the heating at 5")
    mixed = app.ask("turn on the lights and set a timer for 5 minutes and switch off the lamp")
    app.close()
    assert wish.answer == "I can't control heating, cooling or thermostats. " + (
        "I can tell you the weather outside."
    )
    assert [s.agent for s in mixed.steps] == ["limits", "time", "limits"]
    assert mixed.answer.count("I can't control lights") == 1 and "Timer set" in mixed.answer
    assert all(s.result is not None for s in mixed.steps)  # each step keeps its own answer
