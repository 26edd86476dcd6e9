"""Time zones: the user's own, and the one for a place people name ("Tokyo", "the UK",
"UTC+5:30")."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from voice_agent.errors import ConfigError
from voice_agent.language.phrasing import count, join_words
from voice_agent.skills.clock.dates import parse_target_date
from voice_agent.skills.clock.words import normalize


def resolve_zone(name: str | None) -> tzinfo:
    """The configured IANA zone, else the machine's."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"agents.timezone: unknown time zone '{name}' (expected an IANA name such as "
                "Europe/Berlin, or null for the system's)"
            ) from None
    return _system_zone()


def _system_zone() -> tzinfo:
    """A named zone when the system says which (so future alarms get DST right)."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    link = os.path.realpath("/etc/localtime")
    if "zoneinfo/" in link:
        candidates.append(link.split("zoneinfo/", 1)[1])
    for key in candidates:
        if key:
            try:
                return ZoneInfo(key)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    fixed = datetime.now().astimezone().tzinfo
    return fixed if fixed is not None else timezone.utc


_REGIONS = {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia",
            "Europe", "Indian", "Pacific"}  # fmt: skip
# Places people ask about that are not tz database names: zone -> display names.
_ALIASES = {
    "America/Los_Angeles": "San Francisco, Seattle, Portland, San Diego, Las Vegas, Sacramento, "
    "San Jose, Silicon Valley, Hollywood, LA, California, Oregon, Nevada, Washington State",
    "America/New_York": "New York City, NYC, Manhattan, Brooklyn, Boston, Washington, "
    "Washington DC, DC, Philadelphia, Miami, Atlanta, Orlando, Baltimore, Pittsburgh, Florida, "
    "Massachusetts",
    "America/Chicago": "Dallas, Houston, Austin, San Antonio, Minneapolis, New Orleans, "
    "Nashville, St Louis, Kansas City, Texas, Illinois",
    "America/Denver": "Salt Lake City, Albuquerque, Colorado, Utah",
    "America/Toronto": "Ottawa, Quebec, Ontario",
    "America/Vancouver": "British Columbia",
    "America/Edmonton": "Calgary, Alberta",
    "America/Mexico_City": "Mexico, Guadalajara",
    "America/Sao_Paulo": "Rio, Rio de Janeiro, Brasilia, Brazil",
    "America/Argentina/Buenos_Aires": "Argentina",
    "America/Santiago": "Chile",
    "America/Bogota": "Colombia",
    "America/Lima": "Peru",
    "Europe/London": "the UK, the United Kingdom, Britain, Great Britain, England, Scotland, "
    "Wales, Edinburgh, Glasgow, Manchester, Liverpool, Birmingham, Oxford, Cambridge",
    "Europe/Dublin": "Ireland, Cork",
    "Europe/Paris": "France, Lyon, Marseille, Nice",
    "Europe/Berlin": "Germany, Munich, Frankfurt, Hamburg, Cologne, Stuttgart",
    "Europe/Madrid": "Spain, Barcelona, Valencia, Seville",
    "Europe/Rome": "Italy, Milan, Florence, Venice, Naples",
    "Europe/Amsterdam": "the Netherlands, Holland, Rotterdam",
    "Europe/Brussels": "Belgium",
    "Europe/Zurich": "Switzerland, Geneva, Bern",
    "Europe/Vienna": "Austria",
    "Europe/Stockholm": "Sweden",
    "Europe/Oslo": "Norway",
    "Europe/Copenhagen": "Denmark",
    "Europe/Helsinki": "Finland",
    "Europe/Athens": "Greece",
    "Europe/Warsaw": "Krakow",
    "Europe/Prague": "the Czech Republic, Czechia",
    "Europe/Istanbul": "Ankara",
    "Europe/Kiev": "Ukraine",
    "Europe/Moscow": "Saint Petersburg, St Petersburg",
    "Asia/Kolkata": "India, Mumbai, Bombay, Delhi, New Delhi, Bangalore, Bengaluru, Chennai, "
    "Hyderabad, Pune",
    "Asia/Shanghai": "China, Beijing, Shenzhen, Guangzhou",
    "Asia/Tokyo": "Osaka, Kyoto",
    "Asia/Seoul": "South Korea, Korea, Busan",
    "Asia/Dubai": "the UAE, the United Arab Emirates, Abu Dhabi",
    "Asia/Riyadh": "Saudi Arabia, Mecca",
    "Asia/Bangkok": "Thailand",
    "Asia/Ho_Chi_Minh": "Vietnam, Hanoi",
    "Asia/Jakarta": "Indonesia",
    "Asia/Makassar": "Bali",
    "Asia/Manila": "the Philippines",
    "Asia/Karachi": "Pakistan, Islamabad, Lahore",
    "Asia/Dhaka": "Bangladesh",
    "Asia/Kathmandu": "Nepal",
    "Asia/Kuala_Lumpur": "Malaysia",
    "Asia/Taipei": "Taiwan",
    "Africa/Johannesburg": "South Africa, Cape Town, Pretoria",
    "Africa/Lagos": "Nigeria, Abuja",
    "Africa/Nairobi": "Kenya",
    "Africa/Casablanca": "Morocco, Marrakech",
    "Australia/Sydney": "Canberra",
    "Pacific/Auckland": "New Zealand, Wellington, Christchurch",
    "UTC": "UTC, GMT",
}
# Countries too wide for one answer: display name -> cities to suggest.
_MULTI_ZONE = {
    "the United States": "New York or Los Angeles",
    "the US": "New York or Los Angeles",
    "the USA": "New York or Los Angeles",
    "America": "New York or Los Angeles",
    "the States": "New York or Los Angeles",
    "Canada": "Toronto or Vancouver",
    "Australia": "Sydney or Perth",
    "Russia": "Moscow or Vladivostok",
}


# "UTC+14", "GMT-5", "UTC+5:30", "utc plus 530" (the sign as people mean it, not as the tz
# database's inverted Etc/GMT names have it).
_UTC_OFFSET = re.compile(
    r"(?:utc|gmt) ?(?P<sign>[+-]|plus |minus )\s*(?P<hours>\d{1,2})(?:[:.]?(?P<minutes>\d{2}))?"
)
# Every offset in use lies in this range: from Baker Island to Kiribati's Line Islands.
MIN_OFFSET, MAX_OFFSET = timedelta(hours=-12), timedelta(hours=14)


class NoSuchOffset(ValueError):
    """A UTC offset no place on Earth keeps; the message is spoken."""


@dataclass(frozen=True)
class Place:
    display: str  # as spoken: "New York", "the UK", "UTC+5:30"
    zone: str | None  # None: the place spans several zones
    suggestion: str = ""
    offset: timedelta | None = None  # a fixed offset from UTC rather than a tz database zone

    @property
    def tz(self) -> tzinfo:
        assert self.zone is not None, "a place spanning several zones has no one tzinfo"
        return timezone(self.offset, self.zone) if self.offset is not None else ZoneInfo(self.zone)


def _place_key(name: str) -> str:
    key = normalize(name.replace("_", " ")).replace("'", "")
    return key[4:] if key.startswith("the ") else key


@lru_cache(maxsize=1)
def _places() -> dict[str, Place]:
    """Place by key ("new york"): tz database names by their city part, then the aliases."""
    zones = available_timezones()
    places: dict[str, Place] = {}
    # Region/City names first, so they win over legacy links such as "US/Pacific".
    for key in sorted(zones, key=lambda k: (k.split("/")[0] not in _REGIONS, k.count("/"), k)):
        parts = key.split("/")
        if parts[0] in ("Etc", "SystemV", "posix", "right", "Factory"):
            continue
        if len(parts) == 1 and not (key.isalpha() and key.istitle()):
            continue  # abbreviations like EST or PRC are not places
        display = parts[-1].replace("_", " ")
        places.setdefault(_place_key(display), Place(display, key))
    for zone, names in _ALIASES.items():
        if zone in zones:
            for display in names.split(", "):
                places[_place_key(display)] = Place(display, zone)
    for display, suggestion in _MULTI_ZONE.items():
        places[_place_key(display)] = Place(display, None, suggestion)
    return places


def find_place(phrase: str) -> Place | None:
    """Longest known prefix: "paris france" finds Paris, "utc+5:30 now" UTC+5:30. Raises
    NoSuchOffset for an offset outside UTC-12 to UTC+14."""
    words = _place_key(phrase).split()
    places = _places()
    for n in range(len(words), 0, -1):
        key = " ".join(words[:n])
        if place := _utc_offset(key) or places.get(key):
            return place
    return None


_BEFORE_TIME = re.compile(r"((?:\S+\s+){0,2}\S+)\s+(?:local\s+)?time\b", re.IGNORECASE)


def place_before_time(text: str) -> str | None:
    """The place in "Tokyo time" or "what's the New York time": the longest of the last
    one to three words before "time" that starts with one. A day is no place ("Christmas
    time", not Christmas Island's)."""
    before = _BEFORE_TIME.search(text)
    words = before[1].split() if before else []
    for n in range(len(words), 0, -1):
        phrase = " ".join(words[-n:])
        if parse_target_date(_place_key(phrase), date.today()) is not None:
            return None
        try:
            if find_place(phrase) is not None:
                return phrase
        except NoSuchOffset:
            return phrase  # "UTC+20 time": the clock says it is no offset
    return None


def _utc_offset(key: str) -> Place | None:
    match = _UTC_OFFSET.fullmatch(key)
    if match is None:
        return None
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    sign = "-" if match["sign"].strip() in ("-", "minus") else "+"
    display = f"{key[:3].upper()}{sign}{hours}" + (f":{minutes:02d}" if minutes else "")
    offset = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
    if minutes >= 60 or not MIN_OFFSET <= offset <= MAX_OFFSET:
        raise NoSuchOffset(
            f"No place keeps {display}: time zones run from UTC-12 to UTC+14, "
            "with minutes under 60."
        )
    return Place(display, display, offset=offset)


def spoken_offset(minutes: int, of: str = "you") -> str:
    """480 -> "8 hours ahead of you", -330 -> "5 and a half hours behind you"."""
    hours, rest = divmod(abs(minutes), 60)
    if rest == 0:
        amount = count(hours, "hour")
    elif rest == 30:
        amount = f"{hours} and a half hours" if hours else "half an hour"
    else:
        amount = join_words(
            [count(n, unit) for n, unit in ((hours, "hour"), (rest, "minute")) if n]
        )
    return f"{amount} {'ahead of' if minutes > 0 else 'behind'} {of}"
