"""The general agent's tools: the skills, called with a request in words.

A tool is a skill agent; a call names it and says what to ask it ("the weather in Cairo
today"), so the skill's own parser does the work and a call can't smuggle in arguments
the skill doesn't understand. Ollama chooses through its `tools` API; the embedded model
through a JSON prompt. Either way a call is used only if it names an offered tool and its
request routes to that tool.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from voice_agent.language.words import words
from voice_agent.llm.base import LLM, ChatMessage, ask_json

MAX_CALLS = 4

INSTRUCTION = (
    "You decide which tools to call before answering. Tools:\n{tools}\n"
    "If answering needs facts a tool gives (live weather, the time somewhere, exact "
    'arithmetic or conversions), reply {{"calls": [{{"tool": "<tool>", "request": "<a short '
    'request for that tool>"}}]}} with one call per fact needed. Otherwise reply {{"calls": []}}.'
)


@dataclass(frozen=True)
class ToolCall:
    tool: str
    request: str
    about: str | None = None  # the alternative this call is for, in a comparison


def schemas(tools: Mapping[str, str]) -> list[dict]:
    """Ollama's function-tool format: each skill takes one argument, the request in words."""
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": f"Can {description}.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "request": {"type": "string", "description": "what to ask, in words"}
                    },
                    "required": ["request"],
                },
            },
        }
        for name, description in tools.items()
    ]


def parse_calls(obj: object) -> list[ToolCall]:
    calls = obj.get("calls") if isinstance(obj, dict) else None
    if not isinstance(calls, list):
        return []
    found = []
    for call in calls:
        if isinstance(call, dict) and isinstance(call.get("request"), str):
            found.append(ToolCall(str(call.get("tool", "")), call["request"].strip()))
    return found


# "in Athens or in Cairo", "for London or Paris": one question about two alternatives.
_ALTERNATIVES = re.compile(
    r"\b(?P<prep>in|at|for) (?P<first>[\w' -]+?),? or (?:(?:in|at|for) )?(?P<second>[\w' -]+?)"
    r"(?=\s+(?:today|tonight|tomorrow|right now|now|this \w+)\b|[?.!,]|$)",
    re.I,
)


def fan_out(question: str) -> list[tuple[str, str]]:
    """(alternative, the question asked about it alone) when it compares two ("is it warmer
    in Athens or in Cairo today?" → "... in Athens today?", "... in Cairo today?")."""
    match = _ALTERNATIVES.search(question)
    if match is None:
        return []
    before, after = question[: match.start()], question[match.end() :]
    return [
        (match[name], f"{before}{match['prep']} {match[name]}{after}")
        for name in ("first", "second")
    ]


def compare(found: list[tuple[str, Mapping]]) -> list[str]:
    """Side by side, for every number all the alternatives' results share: small models
    phrase a comparison well but get "which is larger" wrong surprisingly often."""
    if len(found) < 2:
        return []
    shared = [
        key
        for key, value in found[0][1].items()
        if isinstance(value, (int, float))
        and not isinstance(value, bool)
        and all(isinstance(values.get(key), (int, float)) for _, values in found[1:])
    ]
    lines = []
    for key in shared:
        ranked = sorted(found, key=lambda item: item[1][key])
        listed = ", ".join(f"{about} {values[key]}" for about, values in found)
        name = key.replace("_", " ")
        if ranked[0][1][key] == ranked[-1][1][key]:
            lines.append(f"{name}: {listed}; the same")
        else:
            lines.append(f"{name}: {listed}; highest {ranked[-1][0]}, lowest {ranked[0][0]}")
    return lines


_FUNCTION_WORDS = frozenset(
    "a an and are at be by can do for from how i in is it me my of on or the to today "
    "what what's when where which who will with you your".split()
)


def about_the_question(call: ToolCall, question: str) -> bool:
    """Whether a call asks about something the question names, and a name it gives is one
    the question has (a model may invent a place: "is it easter time" -> "the time in New
    York City"; "Paris, France" for "Paris" is still Paris)."""
    said = set(words(question))
    named = {word.lower() for word in re.findall(r"(?<!^)\b[A-Z][a-z']+", call.request)}
    asked = set(words(call.request))
    return bool((said - _FUNCTION_WORDS) & asked) and (not named or bool(named & said))


def choose_calls(
    llm: LLM,
    question: str,
    tools: Mapping[str, str],
    fits: Callable[[ToolCall], bool],
    history: list[ChatMessage] | None = None,
) -> list[ToolCall]:
    """The tool calls a comparison needs, or else those the model asks for; kept only where
    they make sense."""
    asked = [ToolCall(tool, text, about) for about, text in fan_out(question) for tool in tools]
    calls = [c for c in asked if fits(c)]
    if calls:
        return calls[:MAX_CALLS]
    native = getattr(llm, "tool_calls", None)
    if native is not None:
        messages: list[ChatMessage] = [*(history or []), {"role": "user", "content": question}]
        calls = native(messages, schemas(tools))
    else:
        listed = "\n".join(f"- {name}: can {what}" for name, what in tools.items())
        calls = (
            ask_json(llm, INSTRUCTION.format(tools=listed), question, parse_calls, max_tokens=120)
            or []
        )
    kept = [c for c in calls if c.tool in tools and c.request and fits(c)]
    return list(dict.fromkeys(kept))[:MAX_CALLS]
