"""The weather agent: current conditions and a three-day forecast from Open-Meteo (no API key).

The city is found by rules; the LLM is asked only when the rules fail, and its
answer is kept only if the city it names was really said. Every network or
data problem becomes one spoken sentence that names the city.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from voice_agent.deadline import GRACE_S, call_within
from voice_agent.errors import UserError
from voice_agent.language.phrasing import capitalized, count
from voice_agent.llm.base import LLMError, ask_json
from voice_agent.skills.base import Request, Result, SkillContext
from voice_agent.skills.registry import skill

if TYPE_CHECKING:
    from voice_agent.llm.base import LLM

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

GEOCODING_URL = "https://geocoding-api.open-meteo.com/v1/search"
FORECAST_URL = "https://api.open-meteo.com/v1/forecast"
CURRENT_FIELDS = (
    "temperature_2m,apparent_temperature,relative_humidity_2m,weather_code,wind_speed_10m"
)
DAILY_FIELDS = "weather_code,temperature_2m_max,temperature_2m_min,precipitation_probability_max"
FORECAST_DAYS = 3
WIND_UNITS = {"celsius": "kmh", "fahrenheit": "mph"}
# Open-Meteo's unit labels -> words for TTS.
WIND_WORDS = {"km/h": "kilometers per hour", "mp/h": "miles per hour", "m/s": "meters per second"}
STRONG_WIND = {"celsius": 30.0, "fahrenheit": 19.0}  # worth mentioning unasked

ASK_CITY = "Which city should I check the weather for?"

# WMO weather interpretation codes, as Open-Meteo documents them.
WMO_WORDS = {
    0: "clear sky",
    1: "mainly clear",
    2: "partly cloudy",
    3: "overcast",
    45: "fog",
    48: "freezing fog",
    51: "light drizzle",
    53: "drizzle",
    55: "heavy drizzle",
    56: "light freezing drizzle",
    57: "freezing drizzle",
    61: "light rain",
    63: "rain",
    65: "heavy rain",
    66: "light freezing rain",
    67: "freezing rain",
    71: "light snow",
    73: "snow",
    75: "heavy snow",
    77: "snow grains",
    80: "light rain showers",
    81: "rain showers",
    82: "violent rain showers",
    85: "light snow showers",
    86: "heavy snow showers",
    95: "thunderstorm",
    96: "thunderstorm with hail",
    99: "thunderstorm with heavy hail",
}
WET_CODES = frozenset({51, 53, 55, 56, 57, 61, 63, 65, 66, 67, 80, 81, 82, 95, 96, 99})
SNOW_CODES = frozenset({71, 73, 75, 77, 85, 86})

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY = "|".join(WEEKDAYS)

Day = str  # "today", "tomorrow", "day_after", "weekend", "days" or a weekday name
Topic = Literal["general", "rain", "umbrella", "snow"]

_IS_WEATHER = re.compile(
    r"\b(weather|wether|forecast|forcast|temperature|degrees|rain\w*|umbrella|snow\w*|sun|sunny|"
    r"sunshine|cloud\w*|wind|windy|humid\w*|hot(ter)?|cold(er)?|warm(er)?|cool(er)?|chilly|freezing|storm\w*|thunder\w*|"
    r"drizzl\w*|fog\w*|hail|jacket|coat|conditions|outside|high|low)\b",
    re.IGNORECASE,
)
# Words after "in/for/at" about time or purpose ("for a picnic"), not place: stripped from the ends.
_NOT_PLACE = re.compile(
    rf"^(?:(?:the\s+)?day after tomorrow|tomorrow|today|tonight|right now|now|currently|later|"
    rf"(?:the|this|tomorrow)\s+(?:morning|afternoon|evening|night)|"
    rf"this (?:weekend|week)|(?:over |on )?the weekend|next week|"
    rf"(?:the )?(?:next|coming) (?:few |couple of |two |three |\d+ )?days|"
    rf"(?:on )?(?:{_WEEKDAY})|at the moment|the moment|outside|out there|like|please|"
    rf"(?:a|an) \w+.*)$",
    re.IGNORECASE,
)
# A weather word in a question about something else ("at what temperature does water boil",
# "the largest hot desert in the world", "what temperature should my fridge be"): not ours.
_ABOUT_SOMETHING_ELSE = re.compile(
    r"\b(?:does|do|did) (?!i\b|we\b|it\b|you think\b)\w+|"
    r"\b(?:in the world|on earth|ever recorded|of all time|in the (?:solar system|universe))\b|"
    r"\bshould (?:my|the|a|an|your) [\w ]{1,20}? be\b|"
    r"\b(?:celsius|fahrenheit|kelvin)\b.*\b(?:boil|freez|melt)|"
    r"\b(?:boiling|freezing|melting) point\b|\b(?:room|internal|body|oven|cooking|core|surface|"
    r"serving|baking|frying|engine) temperature\b|\btemperature (?:should|does|do|inside)\b",
    re.IGNORECASE,
)
_VAGUE_PLACES = frozenset({"here", "there", "my area", "my city", "my location", "town", "general"})
# Words that show a keyword-led phrase ("what's the weather") holds no city.
_FILLER_WORDS = frozenset(
    "what what's whats how how's hows is it it's the tell me give check get show will "
    "weather forecast temperature report current like today tomorrow now".split()
)
_PREPOSITIONS = ("in", "for", "at")  # in order of trust: "for" also precedes times and purposes
_KEYWORD_FIRST = re.compile(r"^(?:weather|forecast|temperature)\s+(?P<city>.+)$", re.IGNORECASE)
_KEYWORD_LAST = re.compile(
    r"^(?P<city>.+?)(?:'s)?\s+(?:weather|forecast|temperature)\b.*$", re.IGNORECASE
)

LLM_INSTRUCTION = (
    "The user asks about the weather. Give the place they name, exactly as they said it, and the "
    'day they mean, as {"city": "<place or empty>", "day": "today" or "tomorrow"}.'
)


class WeatherServiceError(Exception):
    """The weather service could not be used; the message is the spoken reason."""


class Place(BaseModel):
    name: str
    latitude: float
    longitude: float
    country: str | None = None
    admin1: str | None = None

    def spoken(self) -> str:
        # "London, England" and "Austin, Texas" read better than the country; elsewhere the
        # country is what people say ("Paris, France").
        region = self.country
        if self.country in ("United States", "United Kingdom") and self.admin1:
            region = self.admin1
        if not region or region == self.name:
            region = self.country if self.country != self.name else None
        return f"{self.name}, {region}" if region else self.name


class Geocoding(BaseModel):
    results: list[Place] = []


class Current(BaseModel):
    temperature_2m: float
    apparent_temperature: float | None = None
    relative_humidity_2m: float | None = None
    weather_code: int | None = None
    wind_speed_10m: float | None = None


class Daily(BaseModel):
    time: list[date]
    weather_code: list[int | None]
    temperature_2m_max: list[float | None]
    temperature_2m_min: list[float | None]
    precipitation_probability_max: list[float | None]

    @model_validator(mode="after")
    def _columns_align(self) -> Daily:
        columns = (
            self.weather_code,
            self.temperature_2m_max,
            self.temperature_2m_min,
            self.precipitation_probability_max,
        )
        if not self.time or any(len(c) != len(self.time) for c in columns):
            raise ValueError("daily columns are empty or of different lengths")
        return self


class Forecast(BaseModel):
    current_units: dict[str, str] = {}
    current: Current
    daily: Daily


@dataclass(frozen=True)
class Question:
    """A weather question, once the rules (or the LLM) found the city in it."""

    city: str  # as the user said it
    day: Day
    topic: Topic
    text: str


class WeatherSkill:
    def __init__(
        self,
        client: httpx.Client | None = None,
        timeout_s: float = 4.0,
        unit: str = "celsius",
        llm: Callable[[], LLM] | None = None,
        geocoding_url: str = GEOCODING_URL,
        forecast_url: str = FORECAST_URL,
    ) -> None:
        if unit not in WIND_UNITS:
            raise ValueError(f"unit must be 'celsius' or 'fahrenheit', not {unit!r}")
        self._client = client
        self._timeout_s = timeout_s
        self._unit = unit
        self._llm = llm
        self._geocoding_url = geocoding_url
        self._forecast_url = forecast_url

    def handle(self, request: Request) -> Result | None:
        text = request.text.strip().rstrip("?!.")
        if not _IS_WEATHER.search(text) or _ABOUT_SOMETHING_ELSE.search(text):
            return None  # the LLM answers (llm_fallback)
        day = parse_day(text)
        city = extract_city(text)
        if city is None and self._llm is not None:
            found = _ask_llm(self._llm, text)
            if found:
                city, llm_day = found
                day = llm_day if day == "today" else day
        if city is None:
            return Result(ASK_CITY, data={"day": day}, status="ask")
        question = Question(city, day, parse_topic(text), text)
        try:
            return self._answer(question)
        except WeatherServiceError as exc:
            return Result(str(exc), data=self._details(question), status="failed")

    def _details(self, question: Question) -> dict[str, Any]:
        """What was asked; an answer's facts then say which day they are for."""
        return {
            "city": question.city,
            "day": question.day,
            "topic": question.topic,
            "unit": self._unit,
        }

    def _answer(self, question: Question) -> Result:
        """The answer within the timeout: httpx bounds each connect and read, the deadline
        the whole answer, including the name lookups httpx cannot bound."""
        try:
            return call_within(self._timeout_s + GRACE_S, lambda: self._fetch(question))
        except TimeoutError:
            log.warning("weather service: no answer within %g s", self._timeout_s)
            raise WeatherServiceError(_unreachable(question.city)) from None

    def _fetch(self, question: Question) -> Result:
        if self._client is not None:
            return self._answer_with(self._client, question)
        with httpx.Client(timeout=self._timeout_s) as client:
            return self._answer_with(client, question)

    def _answer_with(self, client: httpx.Client, question: Question) -> Result:
        city = question.city
        geo = self._get(client, self._geocoding_url, _geocoding_params(city), Geocoding, city)
        if not geo.results:
            return Result(
                f"I couldn't find a place called {_display(city)}.",
                data=self._details(question),
                status="failed",
            )
        place = geo.results[0]
        forecast = self._get(
            client, self._forecast_url, self._forecast_params(place), Forecast, city
        )
        spoken, facts = self._compose(place, forecast, question)
        where = {"latitude": place.latitude, "longitude": place.longitude}
        return Result(spoken, value=facts, data={**self._details(question), **where, **facts})

    def _forecast_params(self, place: Place) -> dict[str, str | int | float]:
        return {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "current": CURRENT_FIELDS,
            "daily": DAILY_FIELDS,
            "timezone": "auto",
            "forecast_days": FORECAST_DAYS,
            "temperature_unit": self._unit,
            "wind_speed_unit": WIND_UNITS[self._unit],
        }

    def _get(
        self,
        client: httpx.Client,
        url: str,
        params: dict[str, str | int | float],
        model: type[M],
        city: str,
    ) -> M:
        """One GET parsed into `model`; any failure becomes a WeatherServiceError to speak."""
        where = _display(city)
        try:
            response = client.get(url, params=params, timeout=self._timeout_s)
            response.raise_for_status()
            return model.model_validate_json(response.content)
        except httpx.TimeoutException as exc:
            log.warning("weather service timed out: %r", exc)
            raise WeatherServiceError(
                f"The weather service didn't answer in time, so I can't check the weather in "
                f"{where} right now."
            ) from None
        except httpx.HTTPStatusError as exc:
            log.warning("weather service error: %s", exc)
            raise WeatherServiceError(
                f"The weather service returned an error, so I can't check the weather in "
                f"{where} right now."
            ) from None
        except httpx.HTTPError as exc:
            log.warning("weather service unreachable: %r", exc)
            raise WeatherServiceError(_unreachable(city)) from None
        except ValidationError as exc:
            log.warning("weather service sent unusable data: %s", exc)
            raise WeatherServiceError(
                f"The weather service sent back something I couldn't read, so I can't check the "
                f"weather in {where} right now."
            ) from None

    def _compose(
        self, place: Place, forecast: Forecast, question: Question
    ) -> tuple[str, dict[str, Any]]:
        """The answer, and the facts it says: the place, and each day's forecast."""
        daily = forecast.daily
        indices, note = pick_days(question.day, daily.time)
        where = place.spoken()
        if len(indices) > 1:
            days = [_day_value(daily, i) for i in indices]
            return note + _summary(where, daily, indices), {"place": where, "days": days}
        i = indices[0]
        if question.topic != "general":
            verdict, level = _verdict(question.topic, where, daily, i)
            spoken = f"{note}{verdict} {_day_sentence(daily, i)}"
            return spoken, {"place": where, **_day_value(daily, i), question.topic: level}
        if i > 0:
            name = capitalized(_day_name(daily, i))
            spoken = f"{note}{name} in {where}: {_day_facts(daily, i)}."
            return spoken, {"place": where, **_day_value(daily, i)}
        extras, extra_facts = self._extras(forecast, question.text)
        spoken = " ".join(
            part
            for part in (_current_sentence(where, forecast.current), extras, _today_sentence(daily))
            if part
        )
        today = _day_value(daily, 0, with_condition=False)
        return spoken, {"place": where, **today, **_current_value(forecast.current), **extra_facts}

    def _extras(self, forecast: Forecast, text: str) -> tuple[str, dict[str, Any]]:
        """Wind and humidity: said when asked about, or wind when it is strong."""
        current, parts, facts = forecast.current, [], {}
        wind = current.wind_speed_10m
        asked_wind = re.search(r"\bwind(y)?\b", text, re.IGNORECASE)
        if wind is not None and (asked_wind or wind >= STRONG_WIND[self._unit]):
            # The response's own unit label wins over what was asked for.
            label = forecast.current_units.get("wind_speed_10m", "")
            unit = (
                WIND_WORDS.get(label) or WIND_WORDS["km/h" if self._unit == "celsius" else "mp/h"]
            )
            parts.append(f"The wind is {round(wind)} {unit}.")
            facts |= {"wind": round(wind), "wind_unit": unit}
        humidity = current.relative_humidity_2m
        if humidity is not None and re.search(r"\bhumid", text, re.IGNORECASE):
            parts.append(f"Humidity is {round(humidity)} percent.")
            facts["humidity"] = round(humidity)
        return " ".join(parts), facts


def extract_city(text: str) -> str | None:
    """The place named in a weather question, by rules; None when none is found."""
    for preposition in _PREPOSITIONS:
        for segment in _segments_after(preposition, text):
            city = _clean_place(segment)
            if city:
                return city
    return _city_without_preposition(text)


def _segments_after(preposition: str, text: str) -> list[str]:
    """What follows each "in X" up to the next in/for/at: "in Paris for the weekend" -> "Paris"."""
    pattern = re.compile(rf"\b{preposition}\s+(.+?)(?=\s+(?:in|for|at)\s+|$)", re.IGNORECASE)
    return [m.group(1) for m in pattern.finditer(text)]


def _clean_place(candidate: str) -> str | None:
    words = candidate.strip(" ,.?!'\"").split()
    # Drop time words at either end ("Seattle today", "tomorrow Paris") until none is left.
    changed = True
    while words and changed:
        changed = False
        for cut in range(len(words), 0, -1):
            if _NOT_PLACE.match(" ".join(words[-cut:])):
                words, changed = words[:-cut], True
                break
            if _NOT_PLACE.match(" ".join(words[:cut])):
                words, changed = words[cut:], True
                break
    place = " ".join(words).strip(" ,")
    if not place or place.lower() in _VAGUE_PLACES or len(words) > 5:
        return None
    return place


def _city_without_preposition(text: str) -> str | None:
    """ "weather London", "London weather tomorrow"."""
    for pattern in (_KEYWORD_FIRST, _KEYWORD_LAST):
        match = pattern.match(text)
        if not match:
            continue
        candidate = _clean_place(match.group("city"))
        if candidate and not any(w.lower() in _FILLER_WORDS for w in candidate.split()):
            return candidate
    return None


def parse_day(text: str) -> Day:
    lowered = text.lower()
    if re.search(r"\bday after tomorrow\b", lowered):
        return "day_after"
    if re.search(r"\btomorrow\b", lowered):
        return "tomorrow"
    if re.search(r"\bweekend\b", lowered):
        return "weekend"
    weekday = re.search(rf"\b({_WEEKDAY})\b", lowered)
    if weekday:
        return weekday.group(1)
    if re.search(r"\b(next|coming|few)\s+(few\s+|couple of\s+|\w+\s+)?days\b|\bweek\b", lowered):
        return "days"
    return "today"


def parse_topic(text: str) -> Topic:
    lowered = text.lower()
    if "umbrella" in lowered:
        return "umbrella"
    if re.search(r"\b(rain\w*|wet|showers?|drizzl\w*)\b", lowered):
        return "rain"
    if re.search(r"\bsnow\w*\b", lowered):
        return "snow"
    return "general"


def pick_days(day: Day, dates: list[date]) -> tuple[list[int], str]:
    """Indices into the daily forecast for `day`, and a note when the day is out of reach."""
    everything = list(range(len(dates)))
    fixed = {"today": 0, "tomorrow": 1, "day_after": 2}
    if day in fixed:
        wanted = [fixed[day]]
    elif day == "weekend":
        wanted = [i for i, d in enumerate(dates) if d.weekday() >= 5]
    elif day in WEEKDAYS:
        wanted = [i for i, d in enumerate(dates) if d.weekday() == WEEKDAYS.index(day)][:1]
    else:
        return everything, ""
    wanted = [i for i in wanted if i < len(dates)]
    if not wanted:
        return everything, f"I can only see {count(len(dates), 'day')} ahead. "
    return wanted, ""


def _rain_level(code: int | None, chance: float | None) -> Literal["yes", "maybe", "no"]:
    if code in WET_CODES or (chance is not None and chance >= 50):
        return "yes"
    if chance is not None and chance >= 20:
        return "maybe"
    return "no"


def _verdict(topic: Topic, where: str, daily: Daily, i: int) -> tuple[str, str]:
    """The yes/no answer to a rain, umbrella or snow question, and its level."""
    when = _day_name(daily, i) if i < 2 else f"on {_day_name(daily, i)}"
    code = daily.weather_code[i]
    if topic == "snow":
        if code in SNOW_CODES:
            return f"Yes, snow is expected {when} in {where}.", "yes"
        return f"No snow is expected {when} in {where}.", "no"
    level = _rain_level(code, daily.precipitation_probability_max[i])
    if topic == "umbrella":
        return {
            "yes": f"Yes, take an umbrella in {where} {when}.",
            "maybe": f"Maybe: rain is possible in {where} {when}, so an umbrella wouldn't hurt.",
            "no": f"You probably won't need an umbrella in {where} {when}.",
        }[level], level
    return {
        "yes": f"Yes, rain is likely {when} in {where}.",
        "maybe": f"Maybe: rain is possible {when} in {where}.",
        "no": f"Probably not, rain looks unlikely {when} in {where}.",
    }[level], level


def _current_sentence(where: str, current: Current) -> str:
    temperature = _degrees(current.temperature_2m)
    sentence = f"In {where} it's {temperature} degrees"
    if current.weather_code in WMO_WORDS:
        sentence += f" and {WMO_WORDS[current.weather_code]}"
    if current.apparent_temperature is not None:
        feels = _degrees(current.apparent_temperature)
        if feels != temperature:
            sentence += f", feels like {feels}"
    return sentence + "."


def _current_value(current: Current) -> dict[str, Any]:
    """The current conditions as the answer says them."""
    facts = {
        "temperature": _degrees(current.temperature_2m),
        "feels_like": _maybe(_degrees, current.apparent_temperature),
        "condition": WMO_WORDS.get(current.weather_code),  # now, rather than the day's
    }
    return {key: value for key, value in facts.items() if value is not None}


def _day_value(daily: Daily, i: int, with_condition: bool = True) -> dict[str, Any]:
    """One day's forecast as the answer says it."""
    facts = {
        "day": _day_name(daily, i),
        "date": daily.time[i].isoformat(),
        "condition": WMO_WORDS.get(daily.weather_code[i]) if with_condition else None,
        "high": _maybe(_degrees, daily.temperature_2m_max[i]),
        "low": _maybe(_degrees, daily.temperature_2m_min[i]),
        "rain_chance": _maybe(round, daily.precipitation_probability_max[i]),
    }
    return {key: value for key, value in facts.items() if value is not None}


def _maybe(convert: Callable[[float], int], value: float | None) -> int | None:
    return None if value is None else convert(value)


def _today_sentence(daily: Daily) -> str:
    return f"Today: {_day_facts(daily, 0, with_condition=False)}."


def _day_sentence(daily: Daily, i: int) -> str:
    return f"{capitalized(_day_name(daily, i))}: {_day_facts(daily, i)}."


def _day_facts(daily: Daily, i: int, with_condition: bool = True) -> str:
    facts = []
    if with_condition and daily.weather_code[i] in WMO_WORDS:
        facts.append(WMO_WORDS[daily.weather_code[i]])
    high, low = daily.temperature_2m_max[i], daily.temperature_2m_min[i]
    if high is not None:
        facts.append(f"high of {_degrees(high)}")
    if low is not None:
        facts.append(f"low of {_degrees(low)}")
    chance = daily.precipitation_probability_max[i]
    if chance is not None:
        facts.append(f"{round(chance)} percent chance of rain")
    return ", ".join(facts) or "no forecast details"


def _summary(where: str, daily: Daily, indices: list[int]) -> str:
    days = "; ".join(f"{_day_name(daily, i)}, {_day_facts(daily, i)}" for i in indices)
    return f"Here's the forecast for {where}: {days}."


def _day_name(daily: Daily, i: int) -> str:
    """ "today", "tomorrow", then the weekday ("Sunday")."""
    return ("today", "tomorrow")[i] if i < 2 else capitalized(WEEKDAYS[daily.time[i].weekday()])


def _degrees(value: float) -> int:
    return round(value)


def _display(city: str) -> str:
    return string.capwords(city)


def _unreachable(city: str) -> str:
    return (
        "I can't reach the weather service right now, so I can't check the weather in "
        f"{_display(city)}."
    )


def _geocoding_params(city: str) -> dict[str, str | int | float]:
    return {"name": city, "count": 1, "language": "en", "format": "json"}


def _ask_llm(llm: Callable[[], LLM], text: str) -> tuple[str, Day] | None:
    # A missing or broken model only means the rules' answer stands: ask which city.
    try:
        return ask_json(llm(), LLM_INSTRUCTION, text, _llm_checker(text))
    except (LLMError, UserError) as exc:
        log.warning("LLM city extraction failed: %s", exc)
        return None


def _llm_checker(text: str) -> Callable[[dict], tuple[str, Day] | None]:
    """Accept the model's city only if the user said it: small models invent plausible cities."""

    def check(obj: dict) -> tuple[str, Day] | None:
        city = obj.get("city")
        if not isinstance(city, str) or not city.strip():
            return None
        city = city.strip()
        if city.lower() not in text.lower():
            return None
        return city, "tomorrow" if obj.get("day") == "tomorrow" else "today"

    return check


class WeatherConfig(BaseModel):
    """Where Open-Meteo is: a self-hosted instance (or a test's fake) can stand in."""

    model_config = ConfigDict(extra="forbid")

    geocoding_url: str = GEOCODING_URL
    forecast_url: str = FORECAST_URL


@skill("weather", config=WeatherConfig)
def make(ctx: SkillContext, config: WeatherConfig) -> WeatherSkill:
    agents = ctx.settings.agents
    return WeatherSkill(
        timeout_s=agents.weather_timeout_s,
        unit=agents.temperature_unit,
        llm=ctx.llm,
        geocoding_url=config.geocoding_url,
        forecast_url=config.forecast_url,
    )
