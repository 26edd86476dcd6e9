"""Spoken unit conversions with pint: "convert 5 miles to kilometers", "how many ounces are in a
pound", "100 fahrenheit in celsius", "64 mph in km/h", "how many megabytes in a gigabyte"."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from fractions import Fraction
from typing import TYPE_CHECKING

from voice_agent.language.numbers import numbers_to_digits
from voice_agent.language.phrasing import plural
from voice_agent.skills.base import Request, Result
from voice_agent.skills.calculator import format_number, format_scientific

if TYPE_CHECKING:
    import pint

# Spoken names and abbreviations pint does not know, or knows as something else once the text is
# lowercased ("c" is the speed of light, "mb" a millibarn, "pa" a picoyear).
_ALIASES = {
    "c": "degC",
    "centigrade": "degC",
    "f": "degF",
    "k": "kelvin",
    "m": "meter",
    "km": "kilometer",
    "cm": "centimeter",
    "mm": "millimeter",
    "mi": "mile",
    "ft": "foot",
    "in": "inch",
    "yd": "yard",
    "g": "gram",
    "kg": "kilogram",
    "kilo": "kilogram",
    "mg": "milligram",
    "lb": "pound",
    "lbs": "pound",
    "oz": "ounce",
    "fl oz": "fluid_ounce",
    "tonne": "metric_ton",
    "l": "liter",
    "ml": "milliliter",
    "cl": "centiliter",
    "dl": "deciliter",
    "cc": "centimeter ** 3",
    "gal": "gallon",
    "qt": "quart",
    "pt": "pint",
    "tbs": "tablespoon",
    "s": "second",
    "sec": "second",
    "min": "minute",
    "h": "hour",
    "hr": "hour",
    "d": "day",
    "wk": "week",
    "yr": "year",
    "ms": "millisecond",
    "decade": "calendar_decade",
    "kph": "kilometer / hour",
    "kmh": "kilometer / hour",
    "kmph": "kilometer / hour",
    "b": "byte",
    "kb": "kilobyte",
    "mb": "megabyte",
    "gb": "gigabyte",
    "tb": "terabyte",
    "pb": "petabyte",
    "kib": "kibibyte",
    "mib": "mebibyte",
    "gib": "gibibyte",
    "tib": "tebibyte",
    "kbps": "kilobit / second",
    "mbps": "megabit / second",
    "gbps": "gigabit / second",
    "j": "joule",
    "kj": "kilojoule",
    "kwh": "kilowatt_hour",
    "cal": "calorie",
    "w": "watt",
    "kw": "kilowatt",
    "hp": "horsepower",
    "pa": "pascal",
    "kpa": "kilopascal",
    "hz": "hertz",
    "khz": "kilohertz",
    "mhz": "megahertz",
    "ghz": "gigahertz",
}
_SPOKEN_NAMES = {
    "pound_force_per_square_inch": "pound per square inch",
    "standard_atmosphere": "atmosphere",
    "calendar_decade": "decade",
    "metric_ton": "tonne",
}
# What each kind of unit measures, by an example unit of that kind.
_MEASURES = {
    "meter": "length",
    "gram": "weight",
    "second": "time",
    "kelvin": "temperature",
    "meter ** 2": "area",
    "liter": "volume",
    "meter / second": "speed",
    "joule": "energy",
    "watt": "power",
    "pascal": "pressure",
    "hertz": "frequency",
    "byte": "data size",
    "radian": "angle",
}
# Units said in everyday speech, that a word misheard for one is matched against.
_SPOKEN_UNITS = tuple(
    """
    inches feet yards miles millimeters centimeters meters kilometers ounces pounds stones
    tons grams kilograms milligrams teaspoons tablespoons cups pints quarts gallons liters
    milliliters fahrenheit celsius kelvin seconds minutes hours days weeks months years
    acres hectares calories joules watts kilowatts horsepower bytes kilobytes megabytes
    gigabytes terabytes degrees knots
    """.split()
)
# difflib's ratio: "cops" is 0.75 of "cups" and "pines" 0.8 of "pints"; "apples" 0.55 of "acres"
NEAR_MISS = 0.75
_LEADING_FILLERS = {
    *"hey ok okay please can could would you tell me convert change turn what whats".split(),
    *"is are do does know".split(),
}
_SEPARATORS = {"to", "into", "in", "as", "is", "are", "equals", "equal", "make", "makes", "="}
_TARGET_FIRST_SEPARATORS = _SEPARATORS | {"per"}
_BEFORE_AMOUNT = {"there", "are", "is", "in", "make", "makes", "up"}
MAX_CHARS = 200  # longer text is no conversion request; this also bounds the search below
_SCALE_WORDS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
_NUMBER_RE = re.compile(r"[-+]?(?:\d+(?:\.\d+)?|\.\d+)")


@functools.cache
def registry() -> pint.UnitRegistry:
    """The unit registry, built on first use: it takes about a quarter of a second."""
    import pint

    units = pint.UnitRegistry()
    units.define("calendar_decade = 10 * year")  # pint's "decade" is a factor of ten
    return units


# Money changes value every day: no table here can convert it, and a model's guess is stale.
_CURRENCY = (
    r"(?:dollars?|bucks|euros?|yen|yuan|renminbi|rupees?|pesos?|francs?|kron(?:a|or|e|er)"
    r"|r[ou]bles?|won|reais|real|rand|lira|bitcoins?|sterling|quid|usd|eur|gbp|jpy|cny|inr"
    r"|aud|cad|chf|[$€£¥])"
)
_MONEY = re.compile(
    rf"\bexchange rates?\b|\bconvert\b.*\bcurrenc(?:y|ies)\b|(?:^|[\s\d])(?:{_CURRENCY})\b[^.?!]*?"
    rf"\b(?:in|to|into|for)\s+(?:\w+\s+)?(?:{_CURRENCY}|pounds)(?:\W|$)"
    rf"|\bpounds\b[^.?!]*?\b(?:in|to|into)\s+(?:\w+\s+)?{_CURRENCY}(?:\W|$)"
    rf"|\bhow many (?:{_CURRENCY})\b[^.?!]*?(?:{_CURRENCY}|pounds)(?:\W|$)",
    re.IGNORECASE,
)
# "...if a euro is 1.08 dollars", "at a rate of 1.1": the user's own rate is arithmetic.
_RATE_GIVEN = re.compile(r"\b(?:if|when|at|assuming|rate of|rate is)\b[^.?!]*\d")
NO_RATES = (
    "I can't convert money: exchange rates change every day, and I have no live rates "
    "to check. I can convert units like miles, pounds, cups or degrees."
)


def convert(request: Request) -> Result | None:
    """Answer a spoken unit conversion in one sentence, or None when it is not one."""
    if len(request.text) > MAX_CHARS:
        return None
    if _MONEY.search(request.text) and not _RATE_GIVEN.search(request.text):
        return Result(NO_RATES, status="declined", data={"kind": "currency"})
    words = _words(request.text)
    conversion = _conversion(words)
    if conversion is None:
        return _near_miss(words)
    return _converted(conversion)


def _near_miss(words: list[str]) -> Result | None:
    """A conversion with one word the recogniser wrote for a unit it sounds like ("convert
    three cops to milliliters"): answered with the unit put right, and said so, rather than
    left to an LLM that makes a number up."""
    import difflib

    for i, word in enumerate(words):
        if not word.isalpha() or _unit([word]) is not None:
            continue
        for unit in difflib.get_close_matches(word, _SPOKEN_UNITS, n=2, cutoff=NEAR_MISS):
            conversion = _conversion([*words[:i], unit, *words[i + 1 :]])
            result = _converted(conversion) if conversion is not None else None
            if result is not None and result.status == "done":
                spoken = f'Taking "{word}" as {unit}: {result.spoken}'
                return Result(spoken, value=result.value, data={**result.data, "heard": word})
    return None


def _converted(conversion: Conversion) -> Result | None:
    amount, amount_text, source, target = conversion
    if _kind(source) != _kind(target):
        source, target = _likely_meaning(source, target)
    if _kind(source) != _kind(target):
        return Result(
            _incompatible(source, target),
            status="failed",
            data={"from": str(source), "to": str(target), "amount": _plain(amount)},
        )
    from pint.errors import PintError

    data = {"from": str(source), "to": str(target), "amount": _plain(amount)}
    try:
        quantity = registry().Quantity(amount, source)
        value = quantity.to(target).magnitude
    except PintError:  # e.g. temperatures inside compound units
        return None
    if _kind(source) == _kind(registry().kelvin) and round(quantity.to("kelvin").magnitude, 9) < 0:
        # pint converts any number; no temperature is below absolute zero
        spoken = (
            f"{amount_text} {_name(source, amount_text)} is below absolute zero, "
            "the coldest anything can be, so there's no such temperature."
        )
        return Result(spoken, status="failed", data=data)
    said = _say_value(value)
    return Result(
        f"{amount_text} {_name(source, amount_text)} is {said} {_name(target, said)}.",
        value=float(value),
        data=data,
    )


# -- understanding the request ------------------------------------------------------------------


def _words(text: str) -> list[str]:
    text = text.lower().replace("°", " degrees ").replace("’", "").replace("'", "")
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,000 -> 1000
    text = re.sub(r"(?<=\d)(?=[a-z])", " ", text)  # 5km -> 5 km
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)  # twenty-five -> twenty five
    text = re.sub(r"[?!,;:]|\.(?!\d)", " ", text)  # punctuation, not decimal points
    words = numbers_to_digits(text.split())
    while words and (words[0] in _LEADING_FILLERS or words[:2] == ["how", "much"]):
        words = words[2:] if words[:2] == ["how", "much"] else words[1:]
    return [word for word in words if word != "please"]


Conversion = tuple[float, str, "pint.Unit", "pint.Unit"]


def _conversion(words: list[str]) -> Conversion | None:
    """(amount, amount as said, source unit, target unit) from "5 miles to km" or
    "how many feet in 3 meters"."""
    amount = _amount_at(words)
    if amount is not None:  # "5 miles to km", "5 miles is how many km"
        value, text, rest = amount
        rest = [word for word in rest if word not in ("how", "many")]
        for source, after in _splits(rest, _SEPARATORS):
            target = _unit(after)
            if target is not None:
                return value, text, source, target
        return None
    if words[:2] == ["how", "many"]:  # "how many feet in 3 meters", "hours in a week"
        words = words[2:]
    for target, after in _splits(words, _TARGET_FIRST_SEPARATORS):
        while after and after[0] in _BEFORE_AMOUNT:
            after = after[1:]
        value, text, rest = _amount_at(after) or (1.0, "1", after)
        source = _unit(rest)
        if source is not None:
            return value, text, source, target
    return None


def _splits(words: list[str], separators: set[str]) -> Iterator[tuple[pint.Unit, list[str]]]:
    """Each way, left to right, to read `words` as <known unit> <separator> <rest>."""
    for i, word in enumerate(words):
        if i and word in separators and (left := _unit(words[:i])) is not None:
            yield left, words[i + 1 :]


def _amount_at(words: list[str]) -> tuple[float, str, list[str]] | None:
    """A leading amount: "5", "-40", "minus 40", "2.5", "a", "half a"."""
    sign = ""
    if words[:1] in (["minus"], ["negative"]):
        sign, words = "-", words[1:]
    if not words:
        return None
    if words[0] in ("a", "an") and not sign:
        return 1.0, "1", words[1:]
    if words[:2] == ["half", "a"] and not sign:
        return 0.5, "0.5", words[2:]
    if _NUMBER_RE.fullmatch(words[0]):
        number = Fraction(sign + words[0])
        return float(number), format_number(number), words[1:]
    return None


def _unit(words: list[str]) -> pint.Unit | None:
    phrase = re.sub(r"\s*/\s*", "/", " ".join(words))
    phrase = re.sub(r"^degrees? (?=\S)", "", phrase)  # "degrees celsius"; "degrees" is an angle
    return _lookup(phrase) if phrase else None


@functools.lru_cache(maxsize=512)
def _lookup(phrase: str) -> pint.Unit | None:
    alias = _ALIASES.get(phrase) or (phrase.endswith("s") and _ALIASES.get(phrase[:-1]))
    if alias:
        return _parse(alias)
    for separator in (" per ", "/"):
        if separator in phrase:
            top, _, bottom = phrase.partition(separator)
            numerator, denominator = _lookup(top.strip()), _lookup(bottom.strip())
            if numerator is None or denominator is None:
                return None
            return numerator / denominator
    if match := re.fullmatch(r"(square|sq|cubic|cu) (.+)", phrase):
        base = _lookup(match[2])
        return None if base is None else base ** (2 if match[1] in ("square", "sq") else 3)
    # Short names only through the aliases: pint reads "a" as a year and "c" as light speed.
    if len(phrase) < 3 or not re.fullmatch(r"[a-z ]+", phrase):
        return None
    return _parse(phrase.replace(" ", "_"))


def _parse(name: str) -> pint.Unit | None:
    from pint.errors import PintError

    try:
        unit = registry().parse_units(name)
    except (PintError, AttributeError, ValueError):
        return None
    return None if unit == registry().dimensionless else unit


# -- compatibility ------------------------------------------------------------------------------


def _kind(unit: pint.Unit) -> str:
    """What a unit measures, comparable between units: "[length]^1", "information".
    Pint counts bytes and angles as dimensionless; this keeps them apart."""
    if not unit.dimensionless:
        return " ".join(
            f"{dimension}^{power}" for dimension, power in sorted(unit.dimensionality.items())
        )
    name = str(unit)
    if re.search(r"bit|byte", name):
        return "information"
    if re.search(r"radian|degree|turn|arc", name):
        return "angle"
    return name


@functools.cache
def _measures() -> dict[str, str]:
    return {_kind(registry().parse_units(unit)): measure for unit, measure in _MEASURES.items()}


def _likely_meaning(source: pint.Unit, target: pint.Unit) -> tuple[pint.Unit, pint.Unit]:
    """What people mean by units that do not fit together as said: "how many ounces in a cup"
    means fluid ounces, and "100 degrees in fahrenheit" means degrees Celsius."""
    units = registry()
    volume, temperature = _kind(units.liter), _kind(units.kelvin)
    if source == units.ounce and _kind(target) == volume:
        return units.fluid_ounce, target
    if target == units.ounce and _kind(source) == volume:
        return source, units.fluid_ounce
    if source == units.degree and _kind(target) == temperature:
        return (units.degF if target == units.degC else units.degC), target
    return source, target


def _incompatible(source: pint.Unit, target: pint.Unit) -> str:
    source_name, target_name = _name(source, "2"), _name(target, "2")
    measures = _measures().get(_kind(source)), _measures().get(_kind(target))
    if None in measures:
        return f"I can't convert {source_name} to {target_name}; they measure different things."
    return (
        f"I can't convert {source_name} to {target_name}: {source_name} measure {measures[0]},"
        f" but {target_name} measure {measures[1]}."
    )


# -- saying the answer --------------------------------------------------------------------------


def _say_value(value: float) -> str:
    """Three significant digits, whole numbers from 100 up, and large values in words:
    "8.05", "0.0283", "5,280", "31.6 million"."""
    rounded = float(f"{value:.3g}")
    magnitude = abs(rounded)
    if magnitude >= 1e15 or (0 < magnitude < 0.001):
        return format_scientific(rounded, 2)
    for scale, word in _SCALE_WORDS:
        if magnitude >= scale:
            return f"{format_number(rounded / scale)} {word}"
    if magnitude >= 100:
        return format_number(Fraction(round(value)))
    return format_number(rounded)


def _name(unit: pint.Unit, amount_text: str) -> str:
    """A unit as said: "kilometers", "degrees Celsius", "miles per hour"; singular for 1."""
    text = str(unit)
    text = _SPOKEN_NAMES.get(text, text).replace("_", " ")
    text = re.sub(r"(\w+) \*\* 2", r"square \1", text)
    text = re.sub(r"(\w+) \*\* 3", r"cubic \1", text)
    text = text.replace(" / ", " per ").replace(" * ", " ")
    if amount_text in ("1", "-1"):
        return text
    head, per, tail = text.partition(" per ")
    words = head.split()
    index = 0 if words[0] == "degree" else -1  # degrees Celsius, kilowatt hours
    words[index] = plural(words[index])
    return " ".join(words) + per + tail


def _plain(amount: float) -> int | float:
    """The amount asked about, for the result's data: 5 rather than 5.0."""
    return int(amount) if amount.is_integer() else amount
