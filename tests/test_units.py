"""Unit conversion: spoken requests in, one sentence with three significant digits out."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from voice_agent.skills.base import Request
from voice_agent.skills.units import convert, registry


def say(text: str) -> str | None:
    result = convert(Request(text))
    return None if result is None else result.spoken


# (what the user said, the exact sentence spoken back)
CONVERSIONS = [
    # length
    ("convert 5 miles to kilometers", "5 miles is 8.05 kilometers."),
    ("Convert 5 mi to km.", "5 miles is 8.05 kilometers."),
    ("5km to miles", "5 kilometers is 3.11 miles."),
    ("how many feet in 3 meters", "3 meters is 9.84 feet."),
    ("3 feet in centimeters", "3 feet is 91.4 centimeters."),
    ("convert 5 in to cm", "5 inches is 12.7 centimeters."),
    ("1 mile in feet", "1 mile is 5,280 feet."),
    ("3 miles in feet", "3 miles is 15,840 feet."),
    ("5 miles is how many kilometers", "5 miles is 8.05 kilometers."),
    ("twenty five kilometers in miles", "25 kilometers is 15.5 miles."),
    ("1,000 meters in km", "1,000 meters is 1 kilometer."),
    ("1 light year in km", "1 light year is 9.46 trillion kilometers."),
    # temperature: offset units, not plain multiplication
    ("100 fahrenheit in celsius", "100 degrees Fahrenheit is 37.8 degrees Celsius."),
    ("what is 30 degrees celsius in fahrenheit", "30 degrees Celsius is 86 degrees Fahrenheit."),
    ("-40 celsius to fahrenheit", "-40 degrees Celsius is -40 degrees Fahrenheit."),
    ("minus 40 degrees c in f", "-40 degrees Celsius is -40 degrees Fahrenheit."),
    ("what is 98.6°F in C", "98.6 degrees Fahrenheit is 37 degrees Celsius."),
    ("0 celsius to kelvin", "0 degrees Celsius is 273 kelvin."),
    ("300 kelvin to celsius", "300 kelvin is 26.9 degrees Celsius."),
    ("convert 100 degrees to fahrenheit", "100 degrees Celsius is 212 degrees Fahrenheit."),
    # weight
    ("72 kilograms to pounds", "72 kilograms is 159 pounds."),
    ("how many ounces are in a pound", "1 pound is 16 ounces."),
    ("how many grams are in a pound", "1 pound is 454 grams."),
    ("convert 1 ounce to kilograms", "1 ounce is 0.0283 kilograms."),
    ("0.001 grams to kilograms", "0.001 grams is 1 times 10 to the power of -6 kilograms."),
    # volume and cooking
    ("what is 2 cups in milliliters", "2 cups is 473 milliliters."),
    ("how many ounces in a cup", "1 cup is 8 fluid ounces."),
    ("how many teaspoons in a tablespoon", "1 tablespoon is 3 teaspoons."),
    ("how many liters in a gallon", "1 gallon is 3.79 liters."),
    ("how many cups is 500 ml", "500 milliliters is 2.11 cups."),
    ("how many cups in half a gallon", "0.5 gallons is 8 cups."),
    ("10 square feet in square meters", "10 square feet is 0.929 square meters."),
    # speed
    ("60 mph to km/h", "60 miles per hour is 96.6 kilometers per hour."),
    ("what's 64 mph in kilometers per hour", "64 miles per hour is 103 kilometers per hour."),
    ("100 kph in miles per hour", "100 kilometers per hour is 62.1 miles per hour."),
    # data sizes (SI: 1 GB is 1,000 MB; GiB for binary)
    ("convert 2.5 GB to MB", "2.5 gigabytes is 2,500 megabytes."),
    ("how many megabytes in a gigabyte", "1 gigabyte is 1,000 megabytes."),
    ("1 gib in mb", "1 gibibyte is 1,074 megabytes."),
    # time
    ("how many hours in a week", "1 week is 168 hours."),
    ("hours in a week", "1 week is 168 hours."),
    ("how many seconds in a day", "1 day is 86,400 seconds."),
    ("how many years in a decade", "1 decade is 10 years."),
    ("how many seconds in a year", "1 year is 31.6 million seconds."),
    ("how many nanoseconds in a second", "1 second is 1 billion nanoseconds."),
    ("how many minutes in 2.5 hours", "2.5 hours is 150 minutes."),
    # other
    ("convert 90 degrees to radians", "90 degrees is 1.57 radians."),
    ("convert 20 psi to kpa", "20 pounds per square inch is 138 kilopascals."),
    ("convert 1000 watts to horsepower", "1,000 watts is 1.34 horsepower."),
    ("200 pounds in stone", "200 pounds is 14.3 stone."),
    ("how much is 5 kg in pounds", "5 kilograms is 11 pounds."),
]


@pytest.mark.parametrize(("text", "answer"), CONVERSIONS)
def test_conversions(text: str, answer: str) -> None:
    assert say(text) == answer


INCOMPATIBLE = [
    ("convert 5 miles to kilograms", "miles measure length, but kilograms measure weight"),
    ("how many seconds in a meter", "meters measure length, but seconds measure time"),
    ("100 celsius in liters", "degrees Celsius measure temperature, but liters measure volume"),
    ("5 gigabytes in degrees", "gigabytes measure data size, but degrees measure angle"),
]


@pytest.mark.parametrize(("text", "reason"), INCOMPATIBLE)
def test_incompatible_units_are_refused_in_words(text: str, reason: str) -> None:
    result = convert(Request(text))
    assert result is not None and result.status == "failed"
    assert result.spoken.startswith("I can't convert")
    assert reason in result.spoken


NOT_MINE = [
    "what is love",
    "what is 25 times 7",
    "convert 5 apples to oranges",
    "convert 5 miles",
    "remind me in 2 hours",
    "what currency do they use in japan",
    "transfer 50 dollars to Alex",
    "what's 250 euros in dollars if a euro is 1.08 dollars",  # the user's rate: arithmetic
    "what is a in c",
    "",
]


@pytest.mark.parametrize("text", NOT_MINE)
def test_not_a_conversion(text: str) -> None:
    assert convert(Request(text)) is None


@pytest.mark.parametrize(
    "text",
    [
        "convert 100 euros to dollars",
        "convert five pounds to dollars",
        "how much is 50 pounds in yen",
        "how many dollars is 30 euros",
        "what's $20 in euros",
        "100 USD to GBP",
        "what is the exchange rate for the euro",
    ],
)
def test_money_is_never_converted_at_a_guessed_rate(text: str) -> None:
    """Exchange rates change daily and nothing here knows today's: it says so, rather than
    let a model invent one ("1 euro = 1.11 dollars")."""
    result = convert(Request(text))
    assert result.status == "declined" and "exchange rates change" in result.spoken


@pytest.mark.parametrize(
    "text", ["convert 50 pounds to kilograms", "how many pounds in a kilogram"]
)
def test_pounds_of_weight_are_still_converted(text: str) -> None:
    assert convert(Request(text)).status == "done"


def test_results_carry_the_converted_amount_and_the_units() -> None:
    result = convert(Request("convert 5 miles to kilometers"))
    assert result.status == "done"
    assert result.value == pytest.approx(8.04672)
    assert result.data == {"from": "mile", "to": "kilometer", "amount": 5}
    temperature = convert(Request("98.6°F in C"))
    assert temperature.value == pytest.approx(37.0)
    assert temperature.data == {"from": "degree_Fahrenheit", "to": "degree_Celsius", "amount": 98.6}
    refused = convert(Request("convert 5 miles to kilograms"))
    assert refused.value is None
    assert refused.data == {"from": "mile", "to": "kilogram", "amount": 5}


def test_long_input_is_declined_quickly() -> None:
    start = time.perf_counter()
    assert convert(Request("5 miles to " + "kilometers to " * 5000)) is None
    assert convert(Request("convert 5 " + "per " * 40 + "to km")) is None
    assert time.perf_counter() - start < 0.5


def test_registry_is_created_on_first_use_not_at_import() -> None:
    code = "import sys, voice_agent.skills.utility; print('pint' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_the_app_builds_the_registry_at_start_not_on_the_first_conversion(tmp_path) -> None:
    from voice_agent.app import build
    from voice_agent.config import load_settings

    registry.cache_clear()
    app = build(load_settings("speed", [f"store.path={tmp_path / 'db'}"]))
    app.warmup(llm=False)
    app.close()
    assert registry.cache_info().currsize == 1, "the first conversion would wait half a second"


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Convert three cops to milliliters.", 'Taking "cops" as cups: 3 cups is 710 milliliters.'),
        ("how many grans in 2 ounces", 'Taking "grans" as grams: 2 ounces is 56.7 grams.'),
        ("convert 3 apples to oranges", None),  # no unit sounds like either: not a conversion
        ("how many meals in 5 kilometers", None),  # too far from "miles" to be sure
    ],
)
def test_a_word_misheard_for_a_unit_is_taken_as_it_and_said_so(text, spoken) -> None:
    """The recogniser writes a unit as a word it sounds like: the conversion says which unit
    it took, rather than leaving the words to an LLM that makes a number up."""
    result = convert(Request(text))
    assert (result.spoken if result else None) == spoken
