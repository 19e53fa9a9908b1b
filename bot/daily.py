"""The daily tip: `/daily` argument parsing and the pure "who is due now" schedule.

Nothing here touches Telegram, the database or the wall clock: `now` is always passed in (aware),
so the handler, the job and the tests share one definition of "due".
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot import schedule
from bot.storage import Subscription

logger = logging.getLogger(__name__)

USAGE = (
    "Usage: /daily HH:MM [time zone], e.g. /daily 08:00 Europe/Berlin, /daily 7:30 new york, "
    "/daily 9pm UTC+2. /daily off stops the tips; /daily alone shows your setting."
)
OFF_WORDS = frozenset({"off", "stop"})
MAX_ECHO = 40  # user text quoted back in an error is cut to this, so a reply never balloons

# Areas whose cities become bare aliases ("berlin"); legacy areas such as US/ or Brazil/ stay reachable
# by full name only, so "west" or "pacific" never silently pick one of several zones.
_GEOGRAPHIC_AREAS = frozenset(
    {"Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"}
)
# Legacy Australia/North, /South, /West would turn compass words into cities.
_VAGUE_CITIES = frozenset({"north", "south", "east", "west"})
# Not zones a person lives in: "localtime" is this machine's zone and "Factory" means "unset".
_EXCLUDED_ZONES = frozenset({"localtime", "Factory"})
# Non-whole-hour offsets people type, with a city that has that offset, for the error hint.
_FRACTIONAL_OFFSET_CITIES = {
    -570: "Pacific/Marquesas",
    -210: "America/St_Johns",
    -150: "America/St_Johns",
    210: "Asia/Tehran",
    270: "Asia/Kabul",
    330: "Asia/Kolkata",
    345: "Asia/Kathmandu",
    390: "Asia/Yangon",
    525: "Australia/Eucla",
    570: "Australia/Adelaide",
    630: "Australia/Lord_Howe",
    765: "Pacific/Chatham",
}

_TIME = re.compile(
    r"(?P<hour>[0-9]{1,2})(?:[:.](?P<minute>[0-9]{1,2}))?\s*(?P<meridiem>[ap]\.?m\.?)?",
    re.IGNORECASE,
)
_OFFSET = re.compile(
    r"(?:(?P<prefix>utc|gmt)\s*)?"
    r"(?:(?P<sign>[+\-−])\s*(?P<hours>[0-9]{1,2})(?:(?::?(?P<minutes>[0-9]{2}))|[.,](?P<fraction>[0-9]+))?)?",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s_\-]+")


class DailyUsageError(ValueError):
    """A `/daily` argument the bot cannot use; the message says why and ends with the usage line."""


@dataclass(frozen=True, slots=True)
class DailyShow:
    """`/daily` with no arguments: show the current setting."""


@dataclass(frozen=True, slots=True)
class DailySubscribe:
    """`/daily HH:MM [zone]`: send a tip every day at `local_time` (HH:MM) in `timezone` (IANA)."""

    local_time: str
    timezone: str


@dataclass(frozen=True, slots=True)
class DailyOff:
    """`/daily off`: stop the daily tip."""


DailyCommand: TypeAlias = DailyShow | DailySubscribe | DailyOff
Delivered: TypeAlias = Mapping[int, Container[date]] | Callable[[int, date], bool]


def _echo(text: str) -> str:
    """Quote user text for an error message, cut to MAX_ECHO characters."""
    clipped = text if len(text) <= MAX_ECHO else text[: MAX_ECHO - 1] + "…"
    return f"“{clipped}”"


def _usage_error(problem: str) -> DailyUsageError:
    """Build the error for one problem, followed by the usage line."""
    msg = f"{problem}\n{USAGE}"
    return DailyUsageError(msg)


# --- parsing ---------------------------------------------------------------------------------------


def parse_time(text: str) -> str:
    """Return `text` (08:00, 8:00, 21:30, 8, 8am, 9:15 pm) as 24-hour HH:MM, or raise DailyUsageError."""
    match = _TIME.fullmatch(text.strip())
    if match is None:
        raise _usage_error(f"{_echo(text)} is not a time I understand; write it like 08:00, 21:30 or 9pm.")
    hour = int(match["hour"])
    minute = int(match["minute"]) if match["minute"] is not None else 0
    if match["minute"] is not None and len(match["minute"]) != 2:
        raise _usage_error(f"Write the minutes with two digits, e.g. {hour}:0{minute}.")
    if match["meridiem"] is None and hour > 23 and minute > 59:
        raise _usage_error(f"{_echo(text)} is not a time: hours run from 00 to 23 and minutes from 00 to 59.")
    if minute > 59:
        raise _usage_error(f"{_echo(text)} is not a time: minutes run from 00 to 59.")
    meridiem = match["meridiem"]
    if meridiem is not None:
        if not 1 <= hour <= 12:
            raise _usage_error(f"{_echo(text)} is not a time: with am/pm the hour runs from 1 to 12.")
        hour = hour % 12 + (12 if meridiem.lower().startswith("p") else 0)
    elif hour > 23:
        raise _usage_error(f"{_echo(text)} is not a time: hours run from 00 to 23.")
    return f"{hour:02d}:{minute:02d}"


@dataclass(frozen=True, slots=True)
class _ZoneIndex:
    """Lookup tables over the installed IANA zones, built once."""

    by_name: dict[str, str]  # "europe/berlin" -> "Europe/Berlin"
    by_city: dict[str, str]  # "berlin", "new_york" -> "Europe/Berlin", "America/New_York"


def _key(text: str) -> str:
    """Normalise a zone or city name for lookup: lower case, runs of space/_/- become one underscore."""
    return _SEPARATORS.sub("_", text.strip().lower())


@cache
def _zone_index() -> _ZoneIndex:
    """Build the zone lookup tables on first use; later calls reuse them."""
    names = sorted(available_timezones() - _EXCLUDED_ZONES)
    by_name = {_key(name): name for name in names}
    by_city: dict[str, str] = {}
    # Longest path first, then alphabetical: America/Argentina/Buenos_Aires beats its old alias
    # America/Buenos_Aires. Every tie in current tzdata names the same clock, so the pick is cosmetic.
    for name in sorted(names, key=lambda n: (-n.count("/"), n)):
        area, _, _ = name.partition("/")
        city = _key(name.rsplit("/", 1)[-1])
        if area in _GEOGRAPHIC_AREAS and city not in _VAGUE_CITIES:
            by_city.setdefault(city, name)
    return _ZoneIndex(by_name=by_name, by_city=by_city)


def _resolve_offset(text: str) -> str | None:
    """Return the IANA zone for UTC/GMT±H, None if `text` is not an offset, or raise for a bad offset."""
    match = _OFFSET.fullmatch(text.strip())
    if match is None or (match["prefix"] is None and match["sign"] is None):
        return None
    if match["sign"] is None:
        return "UTC"
    sign = -1 if match["sign"] in "-−" else 1
    hours = int(match["hours"])
    if match["fraction"] is not None:
        minutes = round(float(f"0.{match['fraction']}") * 60)
    else:
        minutes = int(match["minutes"] or 0)
    if minutes >= 60:
        raise _usage_error(f"{_echo(text)} is not an offset I understand; write it like UTC+2 or UTC-5.")
    if minutes:
        city = _FRACTIONAL_OFFSET_CITIES.get(sign * (hours * 60 + minutes))
        example = f", such as {city} or {city.rsplit('/', 1)[-1].replace('_', ' ').lower()}" if city else ""
        raise _usage_error(
            f"{_echo(text)} is not a whole-hour offset. Please give a city name instead{example}, "
            "which also follows daylight saving time."
        )
    if hours == 0:
        return "UTC"
    if not -12 <= sign * hours <= 14:
        raise _usage_error(f"{_echo(text)} is out of range: offsets run from UTC-12 to UTC+14.")
    # IANA's Etc/GMT zones use the POSIX sign, inverted: UTC+2 is Etc/GMT-2.
    return f"Etc/GMT{-sign * hours:+d}"


def resolve_timezone(text: str) -> str:
    """Return the IANA name for `text`: Europe/Berlin, berlin, new york, UTC, UTC+2, GMT-5; else raise."""
    if not text.strip():
        raise _usage_error("Please name a time zone, e.g. Europe/Berlin, berlin or UTC+2.")
    offset_zone = _resolve_offset(text)
    if offset_zone is not None:
        return offset_zone
    index = _zone_index()
    key = _key(text)
    # A bare word is a city first ("singapore" -> Asia/Singapore), then a legacy name ("Japan", "CET").
    found = index.by_name.get(key) if "/" in key else index.by_city.get(key) or index.by_name.get(key)
    if found is not None:
        return found
    guesses = difflib.get_close_matches(key, [*index.by_city, *index.by_name], n=1, cutoff=0.8)
    hint = ""
    if guesses:
        guess = index.by_city.get(guesses[0]) or index.by_name[guesses[0]]
        hint = f" Did you mean {guess}?"
    raise _usage_error(
        f"I don't know the time zone {_echo(text)}.{hint} "
        "Try a city (berlin, new york), an IANA name (Europe/Berlin) or an offset (UTC+2)."
    )


def parse_daily_args(args: Sequence[str], default_tz: str) -> DailyCommand:
    """Turn the words after `/daily` into a command; raise DailyUsageError with a usage line if invalid."""
    words = [word for word in args if word.strip()]
    if not words:
        return DailyShow()
    if words[0].lower() in OFF_WORDS:
        if len(words) > 1:
            extra = " ".join(words[1:])
            raise _usage_error(f"“/daily {words[0]}” takes nothing after it, but got {_echo(extra)}.")
        return DailyOff()
    time_words = 2 if len(words) > 1 and re.fullmatch(r"[ap]\.?m\.?", words[1], re.IGNORECASE) else 1
    local_time = parse_time(" ".join(words[:time_words]))
    zone_words = words[time_words:]
    if not zone_words:
        return DailySubscribe(local_time=local_time, timezone=resolve_timezone(default_tz))
    try:
        timezone = resolve_timezone(" ".join(zone_words))
    except DailyUsageError:
        # "08:00 Europe/Berlin please": if the first word alone is a zone, the rest is what's wrong.
        if len(zone_words) > 1 and _resolves(zone_words[0]):
            extra = " ".join(zone_words[1:])
            raise _usage_error(f"Unexpected {_echo(extra)} after the time zone.") from None
        raise
    return DailySubscribe(local_time=local_time, timezone=timezone)


def _resolves(text: str) -> bool:
    """True if `text` alone names a time zone."""
    try:
        resolve_timezone(text)
    except DailyUsageError:
        return False
    return True


def _format_offset(offset: timedelta | None) -> str:
    """Format a UTC offset as UTC+01:00 / UTC-05:00 / UTC+05:45."""
    minutes = round((offset or timedelta(0)).total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


def _require_aware(moment: datetime, name: str) -> datetime:
    """Return `moment` in UTC, or raise ValueError if it is naive."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"{name} must be an aware datetime, got naive {moment.isoformat()}"
        raise ValueError(msg)
    return moment.astimezone(UTC)


def describe(local_time: str, tz: str, now: datetime) -> str:
    """Say when the tip comes, e.g. "08:00 every day, Europe/Berlin time (currently UTC+01:00)"."""
    now = _require_aware(now, "now")
    offset = _format_offset(now.astimezone(ZoneInfo(tz)).utcoffset())
    if tz == "UTC" or tz.startswith("Etc/"):
        if offset == "UTC+00:00":
            return f"{local_time} every day, UTC"
        return f"{local_time} every day, {offset} (a fixed offset: name your city to follow summer time)"
    return f"{local_time} every day, {tz} time (currently {offset})"


# --- scheduling ------------------------------------------------------------------------------------


def due_instant(sub: Subscription, local_date: date) -> datetime:
    """Return the UTC instant at which `sub`'s wall-clock time occurs on `local_date` in its zone."""
    return schedule.due_at(sub.local_time, sub.timezone, local_date)


def _is_delivered(delivered: Delivered, user_id: int, local_date: date) -> bool:
    """Look up a delivery in either form `due_deliveries` accepts."""
    if isinstance(delivered, Mapping):
        return local_date in delivered.get(user_id, ())
    return delivered(user_id, local_date)


def due_deliveries(
    subs: Iterable[Subscription], delivered: Delivered, now: datetime
) -> list[tuple[Subscription, date]]:
    """Return the (subscription, local date) pairs owed a tip at `now`, oldest due instant first.

    `delivered` maps user id -> local dates already sent, or is a `(user_id, local_date) -> bool`.
    Only the user's current local day is ever owed: a tip missed while the bot was down goes out late
    that same day, never on a later one.
    """
    now = _require_aware(now, "now")
    due: list[tuple[datetime, int, Subscription, date]] = []
    # Subscribers due together share zones and times: work each zone's date and each instant out once.
    today_in: dict[str, date] = {}
    instants: dict[tuple[str, str, date], datetime] = {}
    for sub in subs:
        if not sub.active:
            continue
        try:
            today = today_in.get(sub.timezone)
            if today is None:
                today = today_in[sub.timezone] = now.astimezone(schedule.zone(sub.timezone)).date()
            key = (sub.local_time, sub.timezone, today)
            instant = instants.get(key)
            if instant is None:
                instant = instants[key] = due_instant(sub, today)
        except (ZoneInfoNotFoundError, ValueError):
            # One bad row must not stop everyone else's tip.
            logger.warning(
                "skipping subscription of user %s: bad time %r or zone %r", sub.user_id, sub.local_time, sub.timezone
            )
            continue
        # The store writes aware UTC; a naive value can only be UTC that lost its tzinfo.
        updated_at = sub.updated_at if sub.updated_at.tzinfo else sub.updated_at.replace(tzinfo=UTC)
        if instant > now or instant < updated_at:
            continue
        if _is_delivered(delivered, sub.user_id, today):
            continue
        due.append((instant, sub.user_id, sub, today))
    due.sort(key=lambda row: (row[0], row[1]))
    return [(sub, day) for _, _, sub, day in due]
