"""The weather skill against recorded Open-Meteo responses served by httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from voice_agent.llm.base import LLMError
from voice_agent.skills.base import Request
from voice_agent.skills.registry import find_skill
from voice_agent.skills.weather import (
    ASK_CITY,
    CURRENT_FIELDS,
    DAILY_FIELDS,
    WeatherConfig,
    WeatherSkill,
    extract_city,
)

FIXTURES = Path(__file__).parent / "fixtures" / "weather"

# Geocoded name -> (geocoding fixture, forecast fixture).
PLACES = {
    "london": ("geocoding_london", "forecast_london"),
    "paris": ("geocoding_paris", "forecast_paris"),
    "berlin": ("geocoding_berlin", "forecast_berlin"),
    "new york": ("geocoding_new_york", "forecast_new_york_fahrenheit"),
}


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class FakeOpenMeteo:
    """Serves the recorded responses and checks every request the skill makes."""

    def __init__(self, unit: str = "celsius") -> None:
        self.unit = unit
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "geocoding-api.open-meteo.com":
            return self.geocode(request)
        return self.forecast(request)

    def geocode(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        assert request.url.path == "/v1/search"
        params = request.url.params
        assert (params["count"], params["language"], params["format"]) == ("1", "en", "json")
        names = PLACES.get(params["name"].lower())
        return httpx.Response(200, json=fixture(names[0] if names else "geocoding_none"))

    def forecast(self, request: httpx.Request) -> httpx.Response:
        assert request.url.host == "api.open-meteo.com"
        assert request.url.path == "/v1/forecast"
        params = request.url.params
        assert params["current"] == CURRENT_FIELDS
        assert params["daily"] == DAILY_FIELDS
        assert params["current"].split(",") == [
            "temperature_2m",
            "apparent_temperature",
            "relative_humidity_2m",
            "weather_code",
            "wind_speed_10m",
        ]
        assert params["timezone"] == "auto"
        assert params["forecast_days"] == "3"
        assert params["temperature_unit"] == self.unit
        assert params["wind_speed_unit"] == {"celsius": "kmh", "fahrenheit": "mph"}[self.unit]
        for names in PLACES.values():
            place = fixture(names[0])["results"][0]
            if (float(params["latitude"]), float(params["longitude"])) == (
                place["latitude"],
                place["longitude"],
            ):
                return httpx.Response(200, json=fixture(names[1]))
        raise AssertionError(f"forecast asked for unknown coordinates: {params}")


def make_skill(handler: Callable[[httpx.Request], httpx.Response], **kwargs) -> WeatherSkill:
    client = httpx.Client(transport=httpx.MockTransport(handler))
    return WeatherSkill(client=client, **kwargs)


@pytest.fixture
def service() -> FakeOpenMeteo:
    return FakeOpenMeteo()


@pytest.fixture
def skill(service: FakeOpenMeteo) -> WeatherSkill:
    return make_skill(service)


# --- answers --------------------------------------------------------------------------------


def test_current_weather_with_exact_numbers(skill: WeatherSkill, service: FakeOpenMeteo) -> None:
    answer = skill.handle(Request("What's the weather in London?")).spoken
    assert answer == (
        "In London, England it's 12 degrees and light rain, feels like 10. "
        "Today: high of 14, low of 8, 60 percent chance of rain."
    )
    geocode, forecast = service.requests
    assert geocode.url.params["name"] == "London"
    assert forecast.url.params["latitude"] == "51.50853"
    assert forecast.url.params["longitude"] == "-0.12574"


@pytest.mark.parametrize(
    "text",
    [
        "weather London",
        "London weather",
        "how hot is it in london right now",
        "what's the temperature in London",
        "current conditions in London",
    ],
)
def test_phrasings_reach_london(skill: WeatherSkill, text: str) -> None:
    assert skill.handle(Request(text)).spoken.startswith("In London, England it's 12 degrees")


def test_tomorrow_rain_question(skill: WeatherSkill) -> None:
    answer = skill.handle(Request("is it going to rain tomorrow in Paris")).spoken
    assert answer == (
        "Yes, rain is likely tomorrow in Paris, France. "
        "Tomorrow: rain, high of 15, low of 10, 85 percent chance of rain."
    )


def test_today_rain_question_says_unlikely(skill: WeatherSkill) -> None:
    answer = skill.handle(Request("will it rain in Paris today")).spoken
    assert answer.startswith("Probably not, rain looks unlikely today in Paris, France.")
    assert "10 percent chance of rain" in answer


def test_umbrella_question(skill: WeatherSkill) -> None:
    answer = skill.handle(Request("do I need an umbrella in London today")).spoken
    assert answer.startswith("Yes, take an umbrella in London, England today.")
    assert "Today: light rain, high of 14, low of 8, 60 percent chance of rain." in answer


def test_tomorrow_without_rain_topic(skill: WeatherSkill) -> None:
    answer = skill.handle(Request("weather for tomorrow in london")).spoken
    assert answer == (
        "Tomorrow in London, England: overcast, high of 13, low of 8, 15 percent chance of rain."
    )


def test_weekend_picks_saturday_and_sunday(skill: WeatherSkill) -> None:
    # The recorded forecast starts on Friday 2025-10-17.
    answer = skill.handle(Request("forecast for Berlin this weekend")).spoken
    assert answer == (
        "Here's the forecast for Berlin, Germany: "
        "tomorrow, light rain, high of 11, low of 6, 70 percent chance of rain; "
        "Sunday, clear sky, high of 13, low of 4, 0 percent chance of rain."
    )


def test_weekday_out_of_reach_gives_all_days_with_a_note(skill: WeatherSkill) -> None:
    answer = skill.handle(Request("what's the weather in Berlin on Wednesday")).spoken
    assert answer.startswith("I can only see 3 days ahead. Here's the forecast for Berlin")
    assert "today, partly cloudy" in answer


def test_fahrenheit_units_and_strong_wind(service: FakeOpenMeteo) -> None:
    service.unit = "fahrenheit"
    skill = make_skill(service, unit="fahrenheit")
    answer = skill.handle(Request("what's the temperature in new york")).spoken
    assert answer == (
        "In New York, United States it's 58 degrees and mainly clear, feels like 56. "
        "The wind is 21 miles per hour. "
        "Today: high of 63, low of 50, 0 percent chance of rain."
    )


def test_wind_and_humidity_when_asked(skill: WeatherSkill) -> None:
    answer = skill.handle(Request("how windy and humid is it in London")).spoken
    assert "The wind is 15 kilometers per hour. Humidity is 82 percent." in answer


def test_unknown_city(skill: WeatherSkill) -> None:
    assert (
        skill.handle(Request("weather in xyzzy")).spoken == "I couldn't find a place called Xyzzy."
    )


@pytest.mark.parametrize("text", ["weather", "what's it like outside", "is it going to rain"])
def test_no_city_asks_which(skill: WeatherSkill, service: FakeOpenMeteo, text: str) -> None:
    assert skill.handle(Request(text)).spoken == ASK_CITY
    assert service.requests == []


def test_not_weather_returns_none(skill: WeatherSkill) -> None:
    assert skill.handle(Request("add milk to my groceries note")) is None


# --- structured results ---------------------------------------------------------------------


def test_current_weather_result_holds_the_facts_said(skill: WeatherSkill) -> None:
    result = skill.handle(Request("What's the weather in London?"))
    assert result.status == "done"
    assert result.value == {
        "place": "London, England",
        "day": "today",
        "date": "2025-10-17",
        "temperature": 12,
        "feels_like": 10,
        "condition": "light rain",
        "high": 14,
        "low": 8,
        "rain_chance": 60,
    }
    assert result.data == {
        "city": "London",
        "day": "today",
        "topic": "general",
        "unit": "celsius",
        "latitude": 51.50853,
        "longitude": -0.12574,
        **result.value,
    }


def test_rain_question_result_holds_the_verdict(skill: WeatherSkill) -> None:
    result = skill.handle(Request("is it going to rain tomorrow in Paris"))
    assert result.value == {
        "place": "Paris, France",
        "day": "tomorrow",
        "date": "2025-10-18",
        "condition": "rain",
        "high": 15,
        "low": 10,
        "rain_chance": 85,
        "rain": "yes",
    }


def test_forecast_for_several_days_lists_each(skill: WeatherSkill) -> None:
    result = skill.handle(Request("forecast for Berlin this weekend"))
    assert result.value["place"] == "Berlin, Germany"
    assert [day["day"] for day in result.value["days"]] == ["tomorrow", "Sunday"]
    assert result.value["days"][1] == {
        "day": "Sunday",
        "date": "2025-10-19",
        "condition": "clear sky",
        "high": 13,
        "low": 4,
        "rain_chance": 0,
    }


def test_wind_and_humidity_are_facts_only_when_said(skill: WeatherSkill) -> None:
    asked = skill.handle(Request("how windy and humid is it in London")).value
    assert (asked["wind"], asked["wind_unit"], asked["humidity"]) == (
        15,
        "kilometers per hour",
        82,
    )
    assert "wind" not in skill.handle(Request("weather in London")).value


def test_asking_and_failing_are_told_apart(service: FakeOpenMeteo) -> None:
    skill = make_skill(service)
    asking = skill.handle(Request("weather"))
    assert (asking.status, asking.value) == ("ask", None)
    unknown = skill.handle(Request("weather in xyzzy"))
    assert (unknown.status, unknown.value) == ("failed", None)
    assert unknown.data["city"] == "xyzzy"
    offline = make_skill(raising(httpx.ConnectError("down"))).handle(Request("weather in London"))
    assert offline.status == "failed"


# --- failures: one clear sentence naming the city -------------------------------------------


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        exc.request = request  # type: ignore[attr-defined]
        raise exc

    return handler


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        (
            raising(httpx.ConnectError("[Errno -3] Temporary failure in name resolution")),
            "I can't reach the weather service right now, so I can't check the weather in London.",
        ),
        (
            raising(httpx.ReadTimeout("timed out")),
            "The weather service didn't answer in time, so I can't check the weather in London "
            "right now.",
        ),
        (
            lambda request: httpx.Response(500, text="Internal Server Error"),
            "The weather service returned an error, so I can't check the weather in London "
            "right now.",
        ),
        (
            lambda request: httpx.Response(400, json=fixture("forecast_error_400")),
            "The weather service returned an error, so I can't check the weather in London "
            "right now.",
        ),
        (
            lambda request: httpx.Response(200, text='{"results": [{"name": "Lon'),
            "The weather service sent back something I couldn't read, so I can't check the "
            "weather in London right now.",
        ),
    ],
    ids=["connect-error", "read-timeout", "http-500", "http-400", "malformed-json"],
)
def test_service_failures_give_one_sentence(
    handler: Callable[[httpx.Request], httpx.Response], expected: str
) -> None:
    assert make_skill(handler).handle(Request("what's the weather in london")).spoken == expected


def test_forecast_failure_after_geocoding_names_the_city(service: FakeOpenMeteo) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.open-meteo.com":
            return httpx.Response(200, json={"current": {"temperature_2m": 3}})  # no daily
        return service(request)

    answer = make_skill(handler).handle(Request("is it going to rain tomorrow in Paris")).spoken
    assert answer.endswith("so I can't check the weather in Paris right now.")


def test_timeout_is_passed_to_every_request(service: FakeOpenMeteo) -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return service(request)

    make_skill(handler, timeout_s=1.5).handle(Request("weather in London"))
    assert seen == [{"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}] * 2


def test_own_client_is_closed_and_injected_client_is_not(
    service: FakeOpenMeteo, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[httpx.Client] = []
    real_client = httpx.Client

    def recording_client(**kwargs) -> httpx.Client:
        client = real_client(transport=httpx.MockTransport(service), **kwargs)
        made.append(client)
        return client

    monkeypatch.setattr(httpx, "Client", recording_client)
    assert (
        WeatherSkill(timeout_s=2.0)
        .handle(Request("weather in London"))
        .spoken.startswith("In London")
    )
    assert len(made) == 1 and made[0].is_closed
    assert made[0].timeout == httpx.Timeout(2.0)

    injected = real_client(transport=httpx.MockTransport(service))
    WeatherSkill(client=injected).handle(Request("weather in London"))
    assert not injected.is_closed


def test_the_plugin_is_built_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    service = FakeOpenMeteo(unit="fahrenheit")
    real_client = httpx.Client
    monkeypatch.setattr(
        httpx, "Client", lambda **kwargs: real_client(transport=httpx.MockTransport(service))
    )
    agents = SimpleNamespace(weather_timeout_s=1.5, temperature_unit="fahrenheit")
    ctx = SimpleNamespace(settings=SimpleNamespace(agents=agents), llm=lambda: FakeLLM("{}"))
    skill = find_skill("weather").factory(ctx, WeatherConfig())
    result = skill.handle(Request("what's the temperature in new york"))
    assert result.value["temperature"] == 58  # asked in fahrenheit: FakeOpenMeteo checks it
    assert service.requests[0].extensions["timeout"]["read"] == 1.5


def test_real_client_offline_or_online() -> None:
    """No client injected: the skill makes and closes its own. Offline here, but may be online."""
    answer = WeatherSkill(timeout_s=3.0).handle(Request("what's the weather in London")).spoken
    offline = "I can't reach the weather service right now, so I can't check the weather in London."
    slow = "The weather service didn't answer in time"
    assert answer == offline or answer.startswith((slow, "In London, England it's "))


# --- LLM fallback for the city ---------------------------------------------------------------


class FakeLLM:
    name = "fake"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.calls = 0

    def stream_chat(self, messages, *, max_tokens=None, temperature=None) -> Iterator[str]:
        self.calls += 1
        assert messages[-1]["content"]
        yield from (self.reply[:5], self.reply[5:])

    def warmup(self) -> None:
        pass


def test_llm_finds_city_in_odd_phrasing(service: FakeOpenMeteo) -> None:
    llm = FakeLLM('Sure! {"city": "Paris", "day": "tomorrow"}')
    skill = make_skill(service, llm=lambda: llm)
    answer = skill.handle(Request("Paris, rain or not, when I wake up the day after today")).spoken
    assert llm.calls == 1
    assert answer.startswith("Yes, rain is likely tomorrow in Paris, France.")


def test_llm_hallucinated_city_is_rejected(service: FakeOpenMeteo) -> None:
    llm = FakeLLM('{"city": "Tokyo", "day": "today"}')
    skill = make_skill(service, llm=lambda: llm)
    assert skill.handle(Request("is it rainy where my sister lives")).spoken == ASK_CITY
    assert llm.calls == 1
    assert service.requests == []


@pytest.mark.parametrize("reply", ["no idea", '{"city": ""}', '{"city": 42}', "{broken"])
def test_llm_unusable_answers_ask_for_the_city(service: FakeOpenMeteo, reply: str) -> None:
    skill = make_skill(service, llm=lambda: FakeLLM(reply))
    assert skill.handle(Request("will it be cold where I am going")).spoken == ASK_CITY


def test_llm_that_fails_to_load_means_asking(service: FakeOpenMeteo) -> None:
    def broken() -> FakeLLM:
        raise LLMError("The local model crashed.")

    assert (
        make_skill(service, llm=broken).handle(Request("will it be cold where I am going")).spoken
        == ASK_CITY
    )


def test_llm_not_used_when_rules_find_the_city(service: FakeOpenMeteo) -> None:
    llm = FakeLLM('{"city": "Tokyo"}')
    make_skill(service, llm=lambda: llm).handle(Request("weather in London"))
    assert llm.calls == 0


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("what's the weather in London", "London"),
        ("do I need an umbrella in Seattle today", "Seattle"),
        ("forecast for Berlin this weekend", "Berlin"),
        ("what's the forecast for tomorrow in Paris", "Paris"),
        ("will it be warm enough for a picnic tomorrow in lisbon", "lisbon"),
        ("is it going to rain in the morning in Boston", "Boston"),
        ("what's the temperature in new york", "new york"),
        ("New York's weather", "New York"),
        ("what is the weather like", None),
        ("weather tomorrow", None),
        ("weather here", None),
    ],
)
def test_city_rules(text: str, city: str | None) -> None:
    assert extract_city(text) == city
