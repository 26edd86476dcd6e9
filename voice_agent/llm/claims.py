"""The reply check: no answer may claim an action that no agent performed.

A language model asked to "turn on the kitchen lights" tends to answer "Kitchen lights turned
on." or "Sure, I'll send that message." The `limits` agent answers such requests before the
LLM sees them; this check is the second line, for the ones phrased past its rules. The
reply is checked sentence by sentence as it streams, so a claim is never shown or spoken:
it and everything after it are replaced by one honest sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from voice_agent.tts.chunker import SentenceChunker

INSTEAD = (
    "I can't do that myself: here I can only set timers, keep notes, check the weather and "
    "answer questions."
)
# A note, memory, timer or alarm a skill could have kept or set: how to ask for it, not that
# it cannot be done, nor that none exists (the skill may have kept one earlier, or in another
# step of this request).
NOT_KEPT = "To be sure something is saved, ask me to make a note of it or to remember it."
NOT_SET = (
    "To be sure a timer, an alarm or a reminder is set, ask me to set it or to list the ones "
    "that are set."
)

_ACTIONS = (
    r"turn(?:ed|ing)? (?:on|off|up|down)|switch(?:ed|ing)? (?:on|off)|dimm?(?:ed|ing)?|"
    r"(?:un)?lock(?:ed|ing)?|open(?:ed|ing)? the (?:door|garage|gate|window)|"
    r"play(?:ed|ing)?|paus(?:e|ed|ing)|skipp?(?:ed|ing)?|mut(?:e|ed|ing)|"
    r"send|sent|sending|text(?:ed|ing)?|messag(?:ed|ing)|e-?mail(?:ed|ing)?|forward(?:ed|ing)?|"
    r"call(?:ed|ing)?|dial(?:ed|ing)?|ring(?:ing)?|"
    r"order(?:ed|ing)?|bought|buy(?:ing)?|purchas(?:e|ed|ing)|"
    r"book(?:ed|ing)?|reserv(?:e|ed|ing)|schedul(?:e|ed|ing)|"
    r"add(?:ed|ing)? (?:[\w']+ ){0,3}?to (?:your|my) |"
    r"mak(?:e|ing) it (?:louder|quieter|softer|warmer|cooler|brighter|darker)|"
    r"creat(?:e|ed|ing) (?:a |an )?(?:[\w-]+ )?(?:event|meeting|appointment)|"
    r"add(?:ed|ing)? (?:[\w']+ ){0,4}?to your (?:calendar|cart|basket|schedule)|"
    r"pa(?:id|y|ying)|transferr?(?:ed|ing)?|post(?:ed|ing)?|tweet(?:ed|ing)?|"
    r"flash(?:ed|ing)?|blink(?:ed|ing)?|(?:dis)?arm(?:ed|ing)?|restart(?:ed|ing)?|reboot(?:ed|ing)?|"
    r"(?:dis)?connect(?:ed|ing)?|unmut(?:e|ed|ing)|check(?:ed|ing)? you in|reschedul(?:e|ed|ing)|"
    r"mov(?:e|ed|ing) your|block(?:ed|ing)? (?:out|off)|warm(?:ed|ing)? up|start(?:ed|ing)? the|"
    r"get you (?:a|an|some|the) |deliver(?:ed|ing)?|"
    r"set(?:ting)? (?:the |your )?(?:thermostat|heating|temperature|volume|lights?)|"
    r"adjust(?:ed|ing)? (?:the |your )?(?:thermostat|heating|temperature|volume|lights?)"
)
# The physical world: "I can make coffee.", "I'll bring you a glass of water." Not after
# "help you": "I can help you make pizza dough" goes on with how.
_CHORES = (
    r"bring(?:ing)?|brought|fetch(?:ed|ing)?|pour(?:ed|ing)?|brew(?:ed|ing)?|"
    r"mak(?:e|ing) (?:you |us )?(?:a |an |some |the |your )?(?:(?:cup|glass|pot|slice|bowl) of )?"
    r"(?:coffee|tea|drinks?|breakfast|lunch|dinner|meals?|food|pizza|sandwich|toast|soup|cake)|"
    r"(?:clean|tid(?:y|ied)|vacuum|wash|mopp?|sweep|do|fold|iron)(?:ed|ing)? (?:up )?(?:the |your )"
    r"(?:[\w-]+ )?(?:kitchen|house|room|bathroom|dishes|laundry|floors?|car|clothes|windows)"
)
_SUBJECT = r"\b(?:i|i've|i'll|i'm|we've|we'll|(?:i|we)'d(?= (?:be (?:happy|glad)|love|gladly)))\s+"
_MODAL = (
    r"have|has|will|shall|am|are|just|now|already|also|go ahead and|can|could|'ll|'ve|"
    r"be (?:happy|glad) to|love to|gladly"
)
# "I've turned on the lights", "Sure, I'll send it", "I'm playing ...": a first person who acts.
_FIRST_PERSON = re.compile(
    rf"{_SUBJECT}(?:(?:{_MODAL}|help you|help you to)\s+){{0,3}}(?:{_ACTIONS})\b"
    rf"|{_SUBJECT}(?:(?:{_MODAL})\s+){{0,3}}(?:{_CHORES})\b",
    re.IGNORECASE,
)
# "Kitchen lights turned on.", "Message sent.", "Your order has been placed."
_DONE = re.compile(
    r"\b(?:lights?|lamps?|thermostat|heating|air conditioning|door|garage|music|song|playlist|"
    r"volume|message|text|email|e-mail|order|pizza|table|flight|taxi|ride|call|payment|"
    r"transfer|meeting|appointment|event|post)\b[^.!?]{0,40}?\b(?:(?:has|have) been |is (?:now )?|"
    r"are (?:now )?)?(?<!\bwas )(?<!\bwere )(?:turned (?:on|off|up|down)|switched (?:on|off)|"
    r"dimmed|locked|unlocked|opened|sent|placed|booked|reserved|scheduled|added|paid|"
    r"transferred|muted|posted|started|on its way|now playing|playing now)\b",
    re.IGNORECASE,
)
# "The fan is turned on.", "The speaker volume has been set to 5.": anything put in a state.
_PUT = re.compile(
    r"\b(?:is|are) (?:now )?(?:turned|switched) (?:on|off|up|down)\b|"
    r"\b(?:has|have) (?:now )?been (?:turned|switched|set|dimmed|locked|unlocked|armed|disarmed|"
    r"muted|unmuted|started|stopped|paused|restarted|connected|moved|rescheduled|cancell?ed|"
    r"added|sent|booked|reserved|ordered|placed|paid|transferred)\b(?! (?:for|by|since|in) )",
    re.IGNORECASE,
)
# "Okay, calling mom now.", "Sure! Playing jazz.", "The lights are now off."
_UNDERWAY = re.compile(
    r"^(?:(?:ok(?:ay)?|sure|alright|all right|right|done|got it|of course|certainly)[,!.]?\s+)+"
    r"(?:calling|texting|sending|playing|ordering|booking|turning|switching|dimming|locking|"
    r"unlocking|opening|setting|paying|transferring|posting|muting|starting|snoozing|snoozed)\b"
    r"|^(?:alarm |timer )?snooz(?:ing|ed)\b"
    r"|\b(?:lights?|lamps?|heating|heater|air conditioning|fan|music|tv|television|door|garage)"
    r" (?:are|is) now (?:on|off|locked|unlocked|open|closed|playing|set)\b"
    r"|^(?:the |your )?(?:[\w-]+ )?(?:lights?|lamps?|heating|door|garage) (?:are|is) (?:now )?"
    r"(?:on|off|locked|unlocked)\.?$",
    re.IGNORECASE,
)
# "I've set a reminder for 5 PM.", "Your alarm is set.": only the clock sets them, and its
# answers are not checked here ("I can set a timer for that." is an offer, and true). After
# an article the word describes a thing: "an alarm is a scheduled event".
_SET_FOR_YOU = re.compile(
    r"\b(?:i've|i have|i'll|i will|i'm|i am|we've|we'll)\s+(?:(?:also|now|just|already|gone "
    r"ahead and)\s+)*(?:set|setting|created|creating|scheduled|scheduling|added|adding)\s+"
    r"(?:up\s+)?(?:a|an|the|your)\s+(?:[\w-]+\s+)?(?:reminders?|alarms?|timers?)\b"
    r"|\b(?:reminders?|alarms?|timers?)\b[^.!?]{0,30}?\b(?:(?:has|have) been |is |are )?"
    r"(?<!\ba )(?<!\ban )(?<!\bthe )(?:set|created|scheduled)\b(?! (?:in|by|on) )",
    re.IGNORECASE,
)
# "I saved your note as sugar.txt.", "I'll remember that.", "Note saved.": the files and
# memory skills keep things, and their answers are not checked here; the LLM's words keep
# nothing ("I can save a note for that." is an offer, and true).
_KEPT_FOR_YOU = re.compile(
    r"\b(?:i|i've|i have|i'll|i will|we've|we)\s+(?:(?:also|now|just|already|gone ahead and)\s+)*"
    r"(?:(?:saved|save|created|added|deleted|removed|renamed|updated|stored|appended|wrote|"
    r"written)\s+(?:[\w'.-]+\s+){0,4}?(?:notes?|files?|lists?|folders?)\b"
    r"|(?:saved|stored|noted)\s+(?:that|it|this)\b"
    r"|(?:jotted|written|wrote|put)\s+(?:that|it|this)\s+(?:down|in|to)\b"
    r"|remember(?:ed)?\s+(?:that|it|this)(?:\s+for you)?\s*[.!]?$)"
    r"|^(?:(?:your|the) (?:[\w-]+ )?)?(?:notes?|files?|lists?) (?:has been |have been |is |was )?"
    r"(?:saved|created|updated|deleted|written|added)\b",
    re.IGNORECASE,
)
# "The first text message ever sent was sent in 1992.": a thing's history, not a report of
# what was just done for the user (a report names no past year and nothing ever done).
_HISTORY = re.compile(r"\b(?:n?ever|1\d{3}|20[01]\d)\b", re.IGNORECASE)
_REFUSED = re.compile(
    r"\b(?:can't|cannot|can not|unable|not able|don't|do not|won't|will not|couldn't|"
    r"could not|no way|not possible|isn't possible|not something i)\b",
    re.IGNORECASE,
)


def claims_action(sentence: str) -> bool:
    """Whether `sentence` says voice-agent did, is doing or will do an action."""
    if _REFUSED.search(sentence):
        return False
    said = sentence.strip()
    if any(p.search(said) for p in (_FIRST_PERSON, _UNDERWAY, _SET_FOR_YOU, _KEPT_FOR_YOU)):
        return True
    return not _HISTORY.search(said) and any(p.search(said) for p in (_DONE, _PUT))


def instead_of(claim: str) -> str:
    """The honest sentence that replaces `claim`."""
    if _KEPT_FOR_YOU.search(claim):
        return NOT_KEPT
    if _SET_FOR_YOU.search(claim):
        return NOT_SET
    return INSTEAD


def honest(pieces: Iterable, blocked: list[str]) -> Iterator:
    """Pass a reply on sentence by sentence; the first sentence that claims an action is
    put in `blocked` and replaced, with everything after it, by `instead_of` it. Items that
    are not text (a skill's Result) pass through as they are."""
    chunker = SentenceChunker()
    started = False

    def checked(sentences: list[str]) -> Iterator[str]:
        nonlocal started
        for sentence in sentences:
            if claims_action(sentence):
                blocked.append(sentence)
                yield (" " if started else "") + instead_of(sentence)
                return
            yield (" " if started else "") + sentence
            started = True

    try:
        for piece in pieces:
            if not isinstance(piece, str):
                yield piece
                continue
            for said in checked(chunker.feed(piece)):
                yield said
                if blocked:
                    return
        yield from checked(chunker.flush())
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
