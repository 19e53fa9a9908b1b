"""When a daily tip falls due: wall-clock HH:MM in an IANA zone, turned into UTC instants with zoneinfo.

Pure and synchronous, with no import from the rest of the bot, so the store (which keeps each
subscription's next due moment) and the scheduler (bot/daily.py) share one definition.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

ZONES_KEPT = 1024  # more than the IANA database has zones


@lru_cache(maxsize=ZONES_KEPT)
def zone(name: str) -> ZoneInfo:
    """Return the ZoneInfo for `name`, kept: zoneinfo's own cache holds only a few strongly, and rereads the file."""
    return ZoneInfo(name)


def wall_time(local_time: str) -> time:
    """Parse a stored HH:MM."""
    hour, sep, minute = local_time.partition(":")
    if not sep or not (hour.isdigit() and minute.isdigit() and len(minute) == 2):
        msg = f"local_time must be HH:MM, got {local_time!r}"
        raise ValueError(msg)
    return time(int(hour), int(minute))


def due_at(local_time: str, timezone: str, local_date: date) -> datetime:
    """Return the UTC instant at which `local_time` occurs on `local_date` in `timezone`."""
    tz = zone(timezone)
    # fold=0: an ambiguous time (clocks going back) is taken at its first occurrence, and a time that
    # the clocks skip is read with the offset before the jump, landing as far past the gap as it was
    # into it (Berlin 02:30 on the spring-forward day -> 03:30 CEST).
    instant = datetime.combine(local_date, wall_time(local_time), tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).date() != local_date:
        # The gap ran past midnight (Greenland springs forward at 23:00): no later wall time exists on
        # that date, so deliver in its last minute rather than owe a tip to a day that has ended.
        next_midnight = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=tz)
        instant = next_midnight.astimezone(UTC) - timedelta(minutes=1)
    return instant


def first_due(local_time: str, timezone: str, since: datetime) -> datetime:
    """Return the first due instant at or after `since` (aware): today's if it is still ahead, else a later day's."""
    day = since.astimezone(zone(timezone)).date()
    # Two days always suffice but for a zone that turns its clocks back across midnight; four is safe.
    for offset in range(4):
        instant = due_at(local_time, timezone, day + timedelta(days=offset))
        if instant >= since:
            return instant
    msg = f"no due instant for {local_time} {timezone} after {since.isoformat()}"  # pragma: no cover
    raise AssertionError(msg)  # pragma: no cover


def after_delivery(local_time: str, timezone: str, local_date: date) -> datetime:
    """Return the next due instant once the tip of `local_date` is delivered (or given up for that day)."""
    return first_due(local_time, timezone, due_at(local_time, timezone, local_date) + timedelta(seconds=1))
