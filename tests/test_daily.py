"""Tests for bot.daily: `/daily` parsing, time zones and the due-tip schedule (a pure function of `now`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.daily import (
    USAGE,
    DailyCommand,
    DailyOff,
    DailyShow,
    DailySubscribe,
    DailyUsageError,
    Delivered,
    describe,
    due_deliveries,
    due_instant,
    parse_daily_args,
    parse_time,
    resolve_timezone,
)
from bot.storage import Subscription

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def make_sub(
    local_time: str = "08:00",
    timezone: str = BERLIN,
    *,
    user_id: int = 1,
    active: bool = True,
    updated_at: datetime = LONG_AGO,
) -> Subscription:
    """Build a subscription; by default active since long ago."""
    return Subscription(
        user_id=user_id,
        chat_id=user_id + 1000,
        local_time=local_time,
        timezone=timezone,
        active=active,
        updated_at=updated_at,
    )


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def run_minutes(subs: Sequence[Subscription], start: datetime, end: datetime) -> list[tuple[datetime, int, date]]:
    """Tick once a minute from start to end like the bot's job, recording each delivery as it is made."""
    delivered: dict[int, set[date]] = {}
    sent: list[tuple[datetime, int, date]] = []
    now = start
    while now <= end:
        for sub, local_date in due_deliveries(subs, delivered, now):
            delivered.setdefault(sub.user_id, set()).add(local_date)
            sent.append((now, sub.user_id, local_date))
        now += MINUTE
    return sent


# --- parsing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Europe/Berlin", BERLIN),
        ("europe/berlin", BERLIN),
        ("berlin", BERLIN),
        ("BERLIN", BERLIN),
        ("new york", NEW_YORK),
        ("new_york", NEW_YORK),
        ("America/New York", NEW_YORK),
        ("buenos aires", "America/Argentina/Buenos_Aires"),
        ("UTC+2", "Etc/GMT-2"),
        ("UTC-5", "Etc/GMT+5"),
        ("GMT+3", "Etc/GMT-3"),
        ("utc + 2", "Etc/GMT-2"),
        ("UTC+14", "Etc/GMT-14"),
        ("GMT+0", "UTC"),
        ("UTC+0", "UTC"),
        ("UTC", "UTC"),
        ("GMT", "UTC"),
    ],
)
def test_resolve_timezone_accepts_names_cities_and_offsets(text: str, expected: str) -> None:
    """IANA names, bare city names in any case and with spaces, and whole-hour UTC/GMT offsets resolve."""
    assert resolve_timezone(text) == expected


@pytest.mark.parametrize(("text", "hours"), [("UTC+2", 2), ("UTC-5", -5), ("GMT+3", 3), ("UTC-12", -12)])
def test_offset_zones_have_the_offset_the_user_typed(text: str, hours: int) -> None:
    """UTC+2 means two hours ahead of UTC, despite the inverted sign in Etc/GMT-2."""
    offset = datetime(2026, 7, 1, tzinfo=UTC).astimezone(ZoneInfo(resolve_timezone(text))).utcoffset()
    assert offset == timedelta(hours=hours)


@pytest.mark.parametrize("text", ["UTC+2:30", "UTC+5:30", "UTC+5.5", "UTC-3:30"])
def test_non_whole_hour_offset_asks_for_a_city(text: str) -> None:
    """A fractional offset is refused with advice to name a city instead."""
    with pytest.raises(DailyUsageError, match="city"):
        resolve_timezone(text)


def test_fractional_offset_error_names_a_matching_city() -> None:
    """UTC+5:30 suggests a city that really has that offset."""
    with pytest.raises(DailyUsageError, match="Asia/Kolkata"):
        resolve_timezone("UTC+5:30")


def test_unknown_zone_suggests_a_close_match() -> None:
    """A typo in a city name gets a 'did you mean' with the IANA name."""
    with pytest.raises(DailyUsageError, match="Did you mean Europe/Berlin"):
        resolve_timezone("berln")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8:00", "08:00"),
        ("08:00", "08:00"),
        ("21:30", "21:30"),
        ("0:05", "00:05"),
        ("8", "08:00"),
        ("8am", "08:00"),
        ("9pm", "21:00"),
        ("9:15 PM", "21:15"),
        ("12am", "00:00"),
        ("12pm", "12:00"),
    ],
)
def test_parse_time_accepts_24_hour_and_am_pm(text: str, expected: str) -> None:
    """Times in 24-hour, bare-hour and am/pm forms normalise to HH:MM."""
    assert parse_time(text) == expected


def test_parse_time_names_the_hour_when_both_parts_are_out_of_range() -> None:
    """'/daily 25:99' says the hour is wrong too, not only the minutes."""
    with pytest.raises(DailyUsageError, match="hours run from 00 to 23"):
        parse_time("25:99")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], DailyShow()),
        (["off"], DailyOff()),
        (["OFF"], DailyOff()),
        (["8:00"], DailySubscribe("08:00", BERLIN)),
        (["08:00", "Europe/Berlin"], DailySubscribe("08:00", BERLIN)),
        (["21:30", "new", "york"], DailySubscribe("21:30", NEW_YORK)),
        (["8", "am", "berlin"], DailySubscribe("08:00", BERLIN)),
        (["9pm", "UTC-5"], DailySubscribe("21:00", "Etc/GMT+5")),
        (["7:30", "UTC"], DailySubscribe("07:30", "UTC")),
    ],
)
def test_parse_daily_args_builds_the_command(args: list[str], expected: DailyCommand) -> None:
    """No arguments shows, 'off' unsubscribes, a time (and zone, default Berlin) subscribes."""
    assert parse_daily_args(args, default_tz=BERLIN) == expected


def test_parse_daily_args_uses_the_configured_default_zone() -> None:
    """Without a zone the configured DEFAULT_TIMEZONE applies, resolved like user input."""
    assert parse_daily_args(["8:00"], default_tz="new york") == DailySubscribe("08:00", NEW_YORK)


@pytest.mark.parametrize(
    "args",
    [
        ["08:00", "UTC+2:30"],
        ["08:00", "Mars/Base"],
        ["25:00"],
        ["12:60"],
        ["8:5"],
        ["13pm"],
        ["tomorrow"],
        ["08:00", "UTC+15"],
        ["08:00", "Europe/Berlin", "please"],
        ["08:00", "berlin", "extra", "words"],
        ["off", "now"],
        ["Europe/Berlin", "08:00"],
    ],
)
def test_parse_daily_args_rejects_bad_input_with_usage(args: list[str]) -> None:
    """Bad times, unknown zones and extra arguments raise DailyUsageError ending in the usage line."""
    with pytest.raises(DailyUsageError) as caught:
        parse_daily_args(args, default_tz=BERLIN)
    message = str(caught.value)
    assert message.endswith(USAGE)
    assert USAGE.startswith("Usage: /daily")
    assert len(message.splitlines()[0]) > 10


def test_extra_argument_is_named_in_the_error() -> None:
    """A stray word after a valid zone is reported as the problem, not as an unknown zone."""
    with pytest.raises(DailyUsageError, match="Unexpected “please”"):
        parse_daily_args(["08:00", "Europe/Berlin", "please"], default_tz=BERLIN)


def test_error_echo_of_user_text_is_bounded() -> None:
    """A very long bogus zone is cut in the error, so the reply stays short."""
    with pytest.raises(DailyUsageError) as caught:
        parse_daily_args(["08:00", "x" * 5000], default_tz=BERLIN)
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize(
    ("tz", "now", "expected"),
    [
        (BERLIN, utc(2026, 1, 15), "08:00 every day, Europe/Berlin time (currently UTC+01:00)"),
        (BERLIN, utc(2026, 7, 15), "08:00 every day, Europe/Berlin time (currently UTC+02:00)"),
        ("Asia/Kathmandu", utc(2026, 1, 15), "08:00 every day, Asia/Kathmandu time (currently UTC+05:45)"),
        ("UTC", utc(2026, 1, 15), "08:00 every day, UTC"),
    ],
)
def test_describe_spells_out_time_and_zone(tz: str, now: datetime, expected: str) -> None:
    """The confirmation names the time, the zone and its current UTC offset."""
    assert describe("08:00", tz, now) == expected


def test_describe_fixed_offset_shows_the_offset_not_the_etc_name() -> None:
    """UTC+2 is confirmed as UTC+02:00, never as the confusing Etc/GMT-2."""
    text = describe("08:00", resolve_timezone("UTC+2"), utc(2026, 1, 15))
    assert "UTC+02:00" in text
    assert "Etc/GMT" not in text


# --- scheduling ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local_date", "expected"),
    [(date(2026, 1, 15), utc(2026, 1, 15, 7)), (date(2026, 7, 15), utc(2026, 7, 15, 6))],
)
def test_berlin_0800_is_0700_utc_in_winter_and_0600_in_summer(local_date: date, expected: datetime) -> None:
    """A Berlin 08:00 subscription follows CET in winter and CEST in summer."""
    assert due_instant(make_sub("08:00", BERLIN), local_date) == expected


def test_due_at_the_minute_and_not_before() -> None:
    """The tip is due from its instant on, not a minute earlier."""
    sub = make_sub("08:00", BERLIN)
    assert due_deliveries([sub], {}, utc(2026, 1, 15, 6, 59)) == []
    assert due_deliveries([sub], {}, utc(2026, 1, 15, 7, 0)) == [(sub, date(2026, 1, 15))]


def test_dst_start_nonexistent_time_is_sent_once_after_the_gap() -> None:
    """Berlin 02:30 on 2026-03-29 (clocks jump 02:00→03:00) goes out once, at 03:30 CEST = 01:30 UTC."""
    sub = make_sub("02:30", BERLIN)
    assert due_instant(sub, date(2026, 3, 29)) == utc(2026, 3, 29, 1, 30)
    sent = run_minutes([sub], utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 21, 59))
    assert sent == [(utc(2026, 3, 29, 1, 30), 1, date(2026, 3, 29))]


def test_dst_end_ambiguous_time_is_sent_once_at_first_occurrence() -> None:
    """Berlin 02:30 on 2026-10-25 happens twice; the tip goes out once, at the first (CEST, 00:30 UTC)."""
    sub = make_sub("02:30", BERLIN)
    assert due_instant(sub, date(2026, 10, 25)) == utc(2026, 10, 25, 0, 30)
    sent = run_minutes([sub], utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 22, 59))
    assert sent == [(utc(2026, 10, 25, 0, 30), 1, date(2026, 10, 25))]


@pytest.mark.parametrize(
    ("local_time", "local_date", "expected"),
    [
        ("02:30", date(2026, 3, 8), utc(2026, 3, 8, 7, 30)),  # skipped hour: 03:30 EDT
        ("08:00", date(2026, 3, 8), utc(2026, 3, 8, 12, 0)),  # EDT already
        ("08:00", date(2026, 3, 7), utc(2026, 3, 7, 13, 0)),  # EST the day before
        ("01:30", date(2026, 11, 1), utc(2026, 11, 1, 5, 30)),  # repeated hour: first, EDT
    ],
)
def test_new_york_around_dst(local_time: str, local_date: date, expected: datetime) -> None:
    """America/New_York instants are right on and around its 2026 DST changes."""
    assert due_instant(make_sub(local_time, NEW_YORK), local_date) == expected


def test_new_york_dst_start_day_sends_each_subscription_once() -> None:
    """On New York's spring-forward day, 02:30 and 08:00 subscribers each get exactly one tip, in order."""
    early, late = make_sub("02:30", NEW_YORK, user_id=1), make_sub("08:00", NEW_YORK, user_id=2)
    sent = run_minutes([late, early], utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 3, 59))
    assert sent == [
        (utc(2026, 3, 8, 7, 30), 1, date(2026, 3, 8)),
        (utc(2026, 3, 8, 12, 0), 2, date(2026, 3, 8)),
    ]


def test_gap_past_midnight_stays_on_its_own_day() -> None:
    """Nuuk springs forward at 23:00 on 2026-03-28, so 23:30 that day is sent in its last minute, 22:59."""
    sub = make_sub("23:30", "America/Nuuk")
    instant = due_instant(sub, date(2026, 3, 28))
    local = instant.astimezone(ZoneInfo("America/Nuuk"))
    assert (local.date(), local.time()) == (date(2026, 3, 28), time(22, 59))
    sent = run_minutes([sub], utc(2026, 3, 28, 2, 0), utc(2026, 3, 30, 0, 59))
    assert [local_date for _, _, local_date in sent] == [date(2026, 3, 28), date(2026, 3, 29)]


def test_missed_tip_is_sent_late_the_same_local_day() -> None:
    """A bot that was down at 08:00 sends the tip when it is back three hours later, same local day."""
    sub = make_sub("08:00", BERLIN)
    assert due_deliveries([sub], {}, utc(2026, 1, 15, 10, 0)) == [(sub, date(2026, 1, 15))]


def test_missed_day_is_not_owed_on_the_next_local_day() -> None:
    """Back on the next local day, yesterday's tip is dropped and today's waits for its time."""
    sub = make_sub("22:00", BERLIN)
    # Down from before 22:00 CET on the 15th until 01:00 CET on the 16th.
    assert due_deliveries([sub], {}, utc(2026, 1, 16, 0, 0)) == []
    assert due_deliveries([sub], {}, utc(2026, 1, 16, 20, 59)) == []
    assert due_deliveries([sub], {}, utc(2026, 1, 16, 21, 0)) == [(sub, date(2026, 1, 16))]


@pytest.mark.parametrize(
    "delivered",
    [{1: {date(2026, 1, 15)}}, lambda user_id, local_date: (user_id, local_date) == (1, date(2026, 1, 15))],
    ids=["mapping", "callable"],
)
def test_not_due_twice_when_already_delivered(delivered: Delivered) -> None:
    """A recorded delivery for the user's local date stops a second send, in either lookup form."""
    sub = make_sub("08:00", BERLIN)
    assert due_deliveries([sub], delivered, utc(2026, 1, 15, 9, 0)) == []


def test_delivery_for_another_day_does_not_count() -> None:
    """Yesterday's delivery does not stop today's tip."""
    sub = make_sub("08:00", BERLIN)
    assert due_deliveries([sub], {1: {date(2026, 1, 14)}}, utc(2026, 1, 15, 9, 0)) == [(sub, date(2026, 1, 15))]


def test_subscription_made_after_todays_time_starts_tomorrow() -> None:
    """Subscribing at 10:00 for 08:00 sends nothing today; the first tip comes at 08:00 tomorrow."""
    sub = make_sub("08:00", BERLIN, updated_at=utc(2026, 1, 15, 9, 0))
    sent = run_minutes([sub], utc(2026, 1, 15, 9, 0), utc(2026, 1, 16, 22, 59))
    assert sent == [(utc(2026, 1, 16, 7, 0), 1, date(2026, 1, 16))]


def test_subscription_made_before_todays_time_starts_today() -> None:
    """Subscribing at 07:00 for 08:00 sends the first tip an hour later."""
    sub = make_sub("08:00", BERLIN, updated_at=utc(2026, 1, 15, 6, 0))
    assert due_deliveries([sub], {}, utc(2026, 1, 15, 7, 0)) == [(sub, date(2026, 1, 15))]


def test_inactive_subscription_is_never_due() -> None:
    """An inactive subscription gets nothing, whatever the time."""
    sub = make_sub("08:00", BERLIN, active=False)
    assert run_minutes([sub], utc(2026, 1, 15, 0, 0), utc(2026, 1, 16, 23, 59)) == []


def test_due_list_is_oldest_instant_first() -> None:
    """Subscribers across zones come back ordered by when their tip fell due."""
    tokyo = make_sub("09:00", "Asia/Tokyo", user_id=1)  # 00:00 UTC
    berlin = make_sub("08:00", BERLIN, user_id=2)  # 07:00 UTC
    london = make_sub("07:30", "Europe/London", user_id=3)  # 07:30 UTC
    due = due_deliveries([london, berlin, tokyo], {}, utc(2026, 1, 15, 8, 0))
    assert [sub.user_id for sub, _ in due] == [1, 2, 3]


def test_bad_row_is_skipped_and_others_still_due() -> None:
    """A subscription with an unknown zone or malformed time is skipped instead of breaking the job."""
    good = make_sub("08:00", BERLIN, user_id=1)
    broken = [make_sub("08:00", "Mars/Base", user_id=2), make_sub("8 o'clock", BERLIN, user_id=3)]
    assert due_deliveries([*broken, good], {}, utc(2026, 1, 15, 9, 0)) == [(good, date(2026, 1, 15))]


def test_naive_now_is_refused() -> None:
    """A naive `now` is a bug in the caller, so it raises rather than guessing a zone."""
    with pytest.raises(ValueError, match="aware"):
        due_deliveries([make_sub()], {}, datetime(2026, 1, 15, 9, 0))


# Zones with odd rules: half-hour DST (Lord Howe), 45-minute offsets, midnight changes (Santiago, Havana,
# Cairo), a two-hour jump (Troll), the date line. Greenland is left out on purpose: its 23:00 jump leaves
# no valid later time that day, which test_gap_past_midnight_stays_on_its_own_day covers.
SAMPLE_ZONES = [
    "UTC",
    "Etc/GMT-14",
    "Etc/GMT+12",
    BERLIN,
    "Europe/London",
    NEW_YORK,
    "America/St_Johns",
    "America/Santiago",
    "America/Havana",
    "America/Asuncion",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Apia",
    "Asia/Kathmandu",
    "Asia/Tehran",
    "Asia/Beirut",
    "Africa/Cairo",
    "Antarctica/Troll",
]
# Days in 2026 when one of SAMPLE_ZONES changes its clocks, so the property meets them often.
TRANSITION_DAYS = [
    date(2026, 3, 8),
    date(2026, 3, 29),
    date(2026, 4, 4),
    date(2026, 4, 5),
    date(2026, 4, 24),
    date(2026, 9, 6),
    date(2026, 9, 27),
    date(2026, 10, 4),
    date(2026, 10, 24),
    date(2026, 10, 25),
    date(2026, 10, 29),
    date(2026, 11, 1),
]


@given(
    zone=st.sampled_from(SAMPLE_ZONES),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    local_date=st.one_of(
        st.sampled_from(TRANSITION_DAYS), st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 12, 31))
    ),
)
@example(zone=BERLIN, hour=2, minute=30, local_date=date(2026, 3, 29))
@example(zone="Antarctica/Troll", hour=1, minute=30, local_date=date(2026, 3, 29))
@example(zone="Australia/Lord_Howe", hour=2, minute=15, local_date=date(2026, 10, 4))
@example(zone="America/Santiago", hour=23, minute=30, local_date=date(2026, 4, 4))
@settings(deadline=None)  # the first lookups read tzdata files from disk, which can be slow on a busy machine
def test_due_instant_lands_on_the_same_local_day_at_or_just_after_the_wall_time(
    zone: str, hour: int, minute: int, local_date: date
) -> None:
    """Converted back to its zone, the due instant is on the requested date, 0 to 2 hours after the time."""
    requested = datetime.combine(local_date, time(hour, minute))
    instant = due_instant(make_sub(f"{hour:02d}:{minute:02d}", zone), local_date)
    assert instant.tzinfo == UTC
    local = instant.astimezone(ZoneInfo(zone))
    wall = datetime.combine(local.date(), local.time())
    assert local.date() == local_date
    assert requested <= wall <= requested + timedelta(hours=2)
