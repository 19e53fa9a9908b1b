"""Tests for bot.delivery: DailyDelivery against a real SQLite store, a settable clock and a recording send."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from bot import storage
from bot.delivery import DailyDelivery, daily_tip_text
from bot.storage import Delivery, Store
from faq.loader import load_faq
from faq.models import Faq
from faq.tips import tip_of_the_day
from tests.faults import fill, small_tmpfs

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
MINUTE = timedelta(minutes=1)
FIVE_MINUTES = timedelta(minutes=5)  # every due instant in these tests falls on a multiple of it
SECOND = timedelta(seconds=1)
FAQ = load_faq()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


class Clock:
    """A wall clock that stands still until a test sets `now`."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Sent:
    """One message the send function accepted, with the clock's time at that moment."""

    chat_id: int
    text: str
    at: datetime


@dataclass
class Outbox:
    """A real async send: raises the errors queued for a chat first, then records what it accepts."""

    clock: Clock
    sent: list[Sent] = field(default_factory=list)
    attempts: dict[int, int] = field(default_factory=dict)
    errors: dict[int, list[Exception]] = field(default_factory=dict)

    def fail(self, chat_id: int, *errors: Exception) -> None:
        """Make the next sends to `chat_id` raise `errors`, one per attempt."""
        self.errors.setdefault(chat_id, []).extend(errors)

    def to(self, chat_id: int) -> list[Sent]:
        """The messages accepted for one chat."""
        return [s for s in self.sent if s.chat_id == chat_id]

    async def __call__(self, chat_id: int, text: str) -> None:
        self.attempts[chat_id] = self.attempts.get(chat_id, 0) + 1
        await asyncio.sleep(0)  # a real send yields to the event loop
        queued = self.errors.get(chat_id)
        if queued:
            raise queued.pop(0)
        self.sent.append(Sent(chat_id, text, self.clock.now))


def retry_after(seconds: int) -> RetryAfter:
    """The RetryAfter PTB 22 raises for a 429 (its int form warns about a future timedelta; not ours to fix)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return RetryAfter(seconds)


def chat_of(user_id: int) -> int:
    """The chat a test user subscribes from (distinct from the user id, to catch a mix-up)."""
    return user_id + 100_000


@pytest.fixture
def clock() -> Clock:
    """A clock set to a quiet winter day."""
    return Clock(utc(2026, 1, 14, 12))


@pytest.fixture
def outbox(clock: Clock) -> Outbox:
    """The recording send function."""
    return Outbox(clock)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A fresh store in a real SQLite file."""
    opened = await Store.open(tmp_path / "bot.sqlite3")
    yield opened
    await opened.close()


@pytest.fixture
def delivery(store: Store, outbox: Outbox, clock: Clock) -> DailyDelivery:
    """The scheduler under test, with a fast broadcast rate so tests do not wait on pacing."""
    faq: Faq = FAQ
    return DailyDelivery(store, lambda: faq, outbox, clock, rate=1000.0)


async def subscribe(store: Store, user_id: int, local_time: str, timezone: str, at: datetime) -> None:
    """Subscribe a user from their chat at `at`."""
    await store.subscribe(user_id, chat_of(user_id), local_time, timezone, at)


async def run_between(
    delivery: DailyDelivery, clock: Clock, start: datetime, end: datetime, step: timedelta = MINUTE
) -> None:
    """Run one scheduler pass at every `step` from `start` up to and including `end`."""
    moment = start
    while moment <= end:
        clock.now = moment
        await delivery.run_once()
        moment += step


def expected_text(local_date: date) -> str:
    """The daily tip message for a local date."""
    return daily_tip_text(tip_of_the_day(FAQ.tips, local_date))


# --- scheduling ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timezone", "local_time", "due"),
    [
        ("UTC", "08:00", utc(2026, 1, 15, 8)),
        (BERLIN, "08:00", utc(2026, 1, 15, 7)),  # CET, UTC+1
        (BERLIN, "08:00", utc(2026, 7, 15, 6)),  # CEST, UTC+2
        (NEW_YORK, "08:00", utc(2026, 1, 15, 13)),  # EST, UTC-5
        (NEW_YORK, "08:00", utc(2026, 7, 15, 12)),  # EDT, UTC-4
        (NEW_YORK, "23:30", utc(2026, 1, 16, 4, 30)),  # the UTC date is already the next day
    ],
)
async def test_tip_goes_out_at_the_local_time_and_not_before(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock, timezone: str, local_time: str, due: datetime
) -> None:
    """A subscription's tip is sent at the UTC instant of its local time, not a second earlier."""
    await subscribe(store, 1, local_time, timezone, due - timedelta(days=1))
    clock.now = due - SECOND
    assert await delivery.run_once() is None
    assert outbox.sent == []
    clock.now = due
    result = await delivery.run_once()
    assert result is not None
    assert result.sent == 1
    assert outbox.sent == [Sent(chat_of(1), outbox.sent[0].text, due)]


async def test_three_zones_each_get_the_tip_at_their_own_instant(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """08:00 in Berlin, UTC and New York go out at 07:00, 08:00 and 13:00 UTC, once each, over a whole day."""
    day_before = utc(2026, 2, 9, 14)  # after New York's 08:00 that day, so only the 10th is owed
    await subscribe(store, 1, "08:00", NEW_YORK, day_before)
    await subscribe(store, 2, "08:00", "UTC", day_before)
    await subscribe(store, 3, "08:00", BERLIN, day_before)
    await run_between(delivery, clock, utc(2026, 2, 10, 0), utc(2026, 2, 10, 23, 55), step=FIVE_MINUTES)
    assert [(s.chat_id, s.at) for s in outbox.sent] == [
        (chat_of(3), utc(2026, 2, 10, 7)),
        (chat_of(2), utc(2026, 2, 10, 8)),
        (chat_of(1), utc(2026, 2, 10, 13)),
    ]


async def test_berlin_spring_forward_day_delivers_once_each(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """On 2026-03-29 in Berlin, 02:30 (skipped by the clocks) goes out once at 01:30 UTC; 01:30 and 08:00 once."""
    day_before = utc(2026, 3, 27, 12)
    await subscribe(store, 1, "02:30", BERLIN, day_before)
    await subscribe(store, 2, "01:30", BERLIN, day_before)  # before the jump: CET
    await subscribe(store, 3, "08:00", BERLIN, day_before)  # after the jump: CEST
    # The whole local day: 00:00 CET is 23:00 UTC the day before, 24:00 CEST is 22:00 UTC.
    await run_between(delivery, clock, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22, 30), step=FIVE_MINUTES)
    assert [(s.chat_id, s.at) for s in outbox.sent] == [
        (chat_of(2), utc(2026, 3, 29, 0, 30)),
        (chat_of(1), utc(2026, 3, 29, 1, 30)),
        (chat_of(3), utc(2026, 3, 29, 6)),
    ]
    assert {s.text for s in outbox.sent} == {expected_text(date(2026, 3, 29))}
    for user_id in (1, 2, 3):
        assert [d.local_date for d in await store.deliveries(user_id)] == [date(2026, 3, 29)]


async def test_new_york_spring_forward_day_delivers_once_each(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """On 2026-03-08 in New York, 01:30 EST, the skipped 02:30 and 08:00 EDT each go out once at the right UTC."""
    day_before = utc(2026, 3, 6, 12)
    await subscribe(store, 1, "01:30", NEW_YORK, day_before)
    await subscribe(store, 2, "02:30", NEW_YORK, day_before)
    await subscribe(store, 3, "08:00", NEW_YORK, day_before)
    # The whole local day: 00:00 EST is 05:00 UTC, 24:00 EDT is 04:00 UTC the next day.
    await run_between(delivery, clock, utc(2026, 3, 8, 5), utc(2026, 3, 9, 4, 30), step=FIVE_MINUTES)
    assert [(s.chat_id, s.at) for s in outbox.sent] == [
        (chat_of(1), utc(2026, 3, 8, 6, 30)),
        (chat_of(2), utc(2026, 3, 8, 7, 30)),  # read with the offset before the jump: 03:30 EDT
        (chat_of(3), utc(2026, 3, 8, 12)),
    ]
    assert {s.text for s in outbox.sent} == {expected_text(date(2026, 3, 8))}


async def test_berlin_fall_back_day_delivers_a_repeated_time_once(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """On 2026-10-25 in Berlin, 02:30 happens twice; the tip goes out once, at the first (00:30 UTC)."""
    await subscribe(store, 1, "02:30", BERLIN, utc(2026, 10, 23, 12))
    # The whole local day: 00:00 CEST is 22:00 UTC the day before, 24:00 CET is 23:00 UTC.
    await run_between(delivery, clock, utc(2026, 10, 24, 22), utc(2026, 10, 25, 23, 30), step=FIVE_MINUTES)
    assert [(s.chat_id, s.at) for s in outbox.sent] == [(chat_of(1), utc(2026, 10, 25, 0, 30))]


async def test_subscribing_after_todays_time_starts_tomorrow(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A tip whose time had passed when the user subscribed is not owed that day; the next day's is."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 15, 9))
    clock.now = utc(2026, 1, 15, 9, 1)
    assert await delivery.run_once() is None
    clock.now = utc(2026, 1, 16, 8)
    await delivery.run_once()
    assert [(s.chat_id, s.at) for s in outbox.sent] == [(chat_of(1), utc(2026, 1, 16, 8))]


async def test_unsubscribed_user_gets_nothing(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """After /daily off (unsubscribe), the tip is not sent."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    assert await store.unsubscribe(1, utc(2026, 1, 14, 13))
    clock.now = utc(2026, 1, 15, 8)
    assert await delivery.run_once() is None
    assert outbox.sent == []


# --- downtime and duplicates -------------------------------------------------------------------------


async def test_tip_missed_while_down_goes_out_late_the_same_day(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A bot that was down at 08:00 sends the tip once when it runs at 11:00 the same local day."""
    await subscribe(store, 1, "08:00", BERLIN, utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 15, 6, 59)  # 07:59 in Berlin: the last pass before the outage
    assert await delivery.run_once() is None
    clock.now = utc(2026, 1, 15, 10)  # 11:00 in Berlin
    result = await delivery.run_once()
    assert result is not None
    assert result.sent == 1
    await run_between(delivery, clock, utc(2026, 1, 15, 10, 1), utc(2026, 1, 15, 22, 59), step=timedelta(minutes=7))
    assert [(s.chat_id, s.at, s.text) for s in outbox.sent] == [
        (chat_of(1), utc(2026, 1, 15, 10), expected_text(date(2026, 1, 15)))
    ]


async def test_tip_missed_on_a_previous_local_day_is_not_owed(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A bot down from before 23:30 until after local midnight sends nothing for yesterday; today's comes at 23:30."""
    await subscribe(store, 1, "23:30", BERLIN, utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 15, 22, 29)  # 23:29 in Berlin on the 15th
    assert await delivery.run_once() is None
    clock.now = utc(2026, 1, 15, 23, 30)  # 00:30 on the 16th in Berlin, 23:30 UTC still the 15th
    assert await delivery.run_once() is None
    await run_between(delivery, clock, utc(2026, 1, 16, 0), utc(2026, 1, 16, 22, 29), step=timedelta(minutes=13))
    assert outbox.sent == []
    clock.now = utc(2026, 1, 16, 22, 30)
    await delivery.run_once()
    assert [(s.chat_id, s.at) for s in outbox.sent] == [(chat_of(1), utc(2026, 1, 16, 22, 30))]
    assert [d.local_date for d in await store.deliveries(1)] == [date(2026, 1, 16)]


async def test_running_twice_sends_no_duplicate(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A second pass at the same moment, or later that day, sends nothing more."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 15, 8)
    first = await delivery.run_once()
    second = await delivery.run_once()
    clock.now = utc(2026, 1, 15, 20)
    third = await delivery.run_once()
    assert first is not None
    assert first.sent == 1
    assert (second, third) == (None, None)
    assert len(outbox.sent) == 1


async def test_moving_the_time_later_the_same_day_sends_no_second_tip(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A user who got today's 08:00 tip and then asks for 10:00 gets nothing more today, and 10:00 tomorrow."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    await run_between(delivery, clock, utc(2026, 1, 15, 7, 55), utc(2026, 1, 15, 8, 5))
    await subscribe(store, 1, "10:00", "UTC", utc(2026, 1, 15, 9))
    await run_between(delivery, clock, utc(2026, 1, 15, 9), utc(2026, 1, 16, 10, 5), step=timedelta(minutes=7))
    assert [s.at for s in outbox.sent] == [utc(2026, 1, 15, 8), utc(2026, 1, 16, 10, 5)]  # the first pass after 10:00
    assert [d.local_date for d in await store.deliveries(1)] == [date(2026, 1, 15), date(2026, 1, 16)]


async def test_overlapping_passes_send_no_duplicate(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A pass that starts while another is still sending does nothing, so 20 due users get one tip each."""
    for user_id in range(1, 21):
        await subscribe(store, user_id, "08:00", "UTC", utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 15, 8)
    results = await asyncio.gather(delivery.run_once(), delivery.run_once(), delivery.run_once())
    assert sorted(r.sent for r in results if r is not None) == [20]
    assert sorted(s.chat_id for s in outbox.sent) == [chat_of(u) for u in range(1, 21)]


async def test_recorded_store_is_reread_by_a_new_scheduler(
    store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A fresh DailyDelivery (as after a restart) sees the recorded delivery and does not send again."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 15, 8)
    await DailyDelivery(store, lambda: FAQ, outbox, clock, rate=1000.0).run_once()
    clock.now = utc(2026, 1, 15, 8, 5)
    assert await DailyDelivery(store, lambda: FAQ, outbox, clock, rate=1000.0).run_once() is None
    assert len(outbox.sent) == 1


# --- errors from Telegram -----------------------------------------------------------------------------


async def test_blocked_user_is_unsubscribed(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """Forbidden "bot was blocked by the user" turns the subscription off, records nothing and is not retried."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    await subscribe(store, 2, "08:00", "UTC", utc(2026, 1, 14, 12))
    outbox.fail(chat_of(1), Forbidden("Forbidden: bot was blocked by the user"))
    clock.now = utc(2026, 1, 15, 8)
    result = await delivery.run_once()
    assert result is not None
    assert (result.sent, result.blocked, result.failed) == (1, 1, 0)
    sub = await store.get_subscription(1)
    assert sub is not None
    assert not sub.active
    assert await store.deliveries(1) == []
    await run_between(delivery, clock, utc(2026, 1, 15, 8, 1), utc(2026, 1, 16, 9), step=timedelta(minutes=17))
    assert outbox.attempts[chat_of(1)] == 1
    assert [s.chat_id for s in outbox.sent] == [chat_of(2), chat_of(2)]  # the other user, on both days


async def test_other_forbidden_keeps_the_subscription(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A Forbidden that does not mean "blocked" (missing rights) leaves the subscription on and records nothing."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    outbox.fail(chat_of(1), Forbidden("Forbidden: not enough rights to send text messages to the chat"))
    clock.now = utc(2026, 1, 15, 8)
    result = await delivery.run_once()
    assert result is not None
    assert (result.sent, result.blocked, result.failed) == (0, 0, 1)
    sub = await store.get_subscription(1)
    assert sub is not None
    assert sub.active
    assert await store.deliveries(1) == []


async def test_bad_request_keeps_the_subscription(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A BadRequest counts as failed: the subscription stays on and no delivery is recorded."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    outbox.fail(chat_of(1), BadRequest("Bad Request: chat not found"))
    clock.now = utc(2026, 1, 15, 8)
    result = await delivery.run_once()
    assert result is not None
    assert (result.sent, result.blocked, result.failed) == (0, 0, 1)
    assert outbox.attempts[chat_of(1)] == 1  # not resent within the pass: it would fail the same way
    sub = await store.get_subscription(1)
    assert sub is not None
    assert sub.active
    assert await store.deliveries(1) == []


async def test_network_error_is_retried_and_sent_once(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A NetworkError (a 5xx or a dropped connection) is retried within the pass and the tip sent once."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    outbox.fail(chat_of(1), NetworkError("Bad Gateway"))
    clock.now = utc(2026, 1, 15, 8)
    result = await delivery.run_once()
    assert result is not None
    assert (result.sent, result.retried) == (1, 1)
    assert outbox.attempts[chat_of(1)] == 2
    assert len(await store.deliveries(1)) == 1


async def test_a_send_that_gave_up_is_released_and_a_later_pass_sends_it_once(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A tip recorded before its send, whose send then gave up on network errors, is unrecorded and sent later."""
    delivery.broadcaster.backoff_base = 0.0
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    outbox.fail(chat_of(1), *(NetworkError("Bad Gateway") for _ in range(delivery.broadcaster.network_attempts)))
    clock.now = utc(2026, 1, 15, 8)
    result = await delivery.run_once()
    assert result is not None
    assert (result.sent, result.failed) == (0, 1)
    assert await store.deliveries(1) == []
    assert await store.seen_tip_ids(1) == set()
    clock.now = utc(2026, 1, 15, 8, 1)
    await delivery.run_once()
    await delivery.run_once()
    assert len(outbox.to(chat_of(1))) == 1
    assert len(await store.deliveries(1)) == 1


async def test_flood_control_waits_retry_after_then_sends_once(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """A 429 RetryAfter pauses the pass for retry_after seconds, then the tip goes out once."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    outbox.fail(chat_of(1), retry_after(1))
    clock.now = utc(2026, 1, 15, 8)
    started = time.monotonic()
    result = await delivery.run_once()
    assert time.monotonic() - started >= 0.9
    assert result is not None
    assert (result.sent, result.retried) == (1, 1)
    assert len(outbox.sent) == 1


async def test_a_refused_chat_is_not_retried_today_but_is_tomorrow(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """After "chat not found", later passes that day leave the chat alone; the next day's tip is tried."""
    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    outbox.fail(chat_of(1), BadRequest("Bad Request: chat not found"))
    await run_between(delivery, clock, utc(2026, 1, 15, 8), utc(2026, 1, 16, 8, 30), step=timedelta(minutes=29))
    assert outbox.attempts[chat_of(1)] == 2
    assert [s.at for s in outbox.sent] == [utc(2026, 1, 16, 8, 10)]  # the first pass after 08:00
    assert [d.local_date for d in await store.deliveries(1)] == [date(2026, 1, 16)]


async def test_more_due_than_one_batch_all_go_out_in_one_pass(store: Store, outbox: Outbox, clock: Clock) -> None:
    """With 8 due and batches of 3, one pass sends each of the 8 its tip once."""
    for user_id in range(1, 9):
        await subscribe(store, user_id, "08:00", BERLIN if user_id % 2 else "UTC", utc(2026, 1, 14, 12))
    delivery = DailyDelivery(store, lambda: FAQ, outbox, clock, rate=1000.0, batch=3)
    clock.now = utc(2026, 1, 15, 9)
    result = await delivery.run_once()
    assert result is not None
    assert result.sent == 8
    assert sorted(s.chat_id for s in outbox.sent) == [chat_of(u) for u in range(1, 9)]
    assert await delivery.run_once() is None


# --- a database from before next_due (schema v3) ---------------------------------------------------------


async def test_an_upgraded_v3_database_owes_exactly_what_it_owed_before(
    tmp_path: Path, outbox: Outbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the v4 upgrade: owed today goes now, delivered today or subscribed after today's time waits a day."""
    path = tmp_path / "bot.sqlite3"
    with monkeypatch.context() as patch:  # a v3 file, as the previous release left it
        patch.setattr(storage, "MIGRATIONS", storage.MIGRATIONS[:3])
        patch.setattr(storage, "SCHEMA_VERSION", 3)
        await (await Store.open(path)).close()
    rows = [  # user, local time, zone, active, last change (UTC), last delivery (local date)
        (1, "08:00", "UTC", 1, "2026-01-10T12:00:00", "2026-01-14"),
        (2, "08:00", "UTC", 1, "2026-01-10T12:00:00", "2026-01-15"),
        (3, "08:00", "UTC", 1, "2026-01-15T09:00:00", None),
        (4, "18:00", BERLIN, 1, "2026-01-10T12:00:00", None),
        (5, "08:00", "UTC", 0, "2026-01-10T12:00:00", None),
    ]
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        for user_id, local_time, zone, active, changed, delivered in rows:
            at = f"{changed}.000000+00:00"
            conn.execute("INSERT INTO users VALUES (?, ?, ?)", (user_id, at, at))
            conn.execute(
                "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, chat_of(user_id), local_time, zone, active, at),
            )
            if delivered:
                conn.execute("INSERT INTO deliveries VALUES (?, ?, 'tip', ?)", (user_id, delivered, at))
    store = await Store.open(path)
    try:
        assert await store.schema_version() == 4
        delivery = DailyDelivery(store, lambda: FAQ, outbox, clock, rate=1000.0)
        await run_between(delivery, clock, utc(2026, 1, 15, 12), utc(2026, 1, 16, 9), step=timedelta(minutes=10))
    finally:
        await store.close()
    sent = {(s.chat_id - chat_of(0), s.at) for s in outbox.sent}
    assert sent == {
        (1, utc(2026, 1, 15, 12)),  # owed since 08:00 today: goes out late, the same day
        (1, utc(2026, 1, 16, 8)),
        (2, utc(2026, 1, 16, 8)),  # had today's already
        (3, utc(2026, 1, 16, 8)),  # subscribed after today's 08:00
        (4, utc(2026, 1, 15, 17)),  # 18:00 in Berlin
    }


# --- what is sent and recorded ------------------------------------------------------------------------


async def test_tip_is_the_tip_of_the_day_for_the_local_date(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """New York's 23:30 on 15 January (04:30 UTC on the 16th) carries the tip of the 15th, not the 16th."""
    assert expected_text(date(2026, 1, 15)) != expected_text(date(2026, 1, 16))  # else the test proves nothing
    await subscribe(store, 1, "23:30", NEW_YORK, utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 16, 4, 30)
    await delivery.run_once()
    assert [s.text for s in outbox.sent] == [expected_text(date(2026, 1, 15))]
    assert "Your daily tip" in outbox.sent[0].text


async def test_delivery_is_recorded_after_the_send(
    delivery: DailyDelivery, store: Store, outbox: Outbox, clock: Clock
) -> None:
    """After a send, deliveries has the (user, local date, tip, sent_at) row and the tip counts as seen."""
    await subscribe(store, 7, "08:00", BERLIN, utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 15, 7)
    assert await store.deliveries(7) == []
    await delivery.run_once()
    tip = tip_of_the_day(FAQ.tips, date(2026, 1, 15))
    assert await store.deliveries(7) == [Delivery(7, date(2026, 1, 15), tip.id, utc(2026, 1, 15, 7))]
    assert await store.delivered_on(7, date(2026, 1, 15))
    assert tip.id in await store.seen_tip_ids(7)


async def test_forget_while_a_tip_is_recorded_leaves_nothing_behind(store: Store, clock: Clock) -> None:
    """A /forget confirmed while the user's tip is being recorded leaves no row about the user."""
    forgetting: list[asyncio.Task[None]] = []

    async def send_then_forget(chat_id: int, text: str) -> None:
        # Telegram accepted the tip; the user's "Yes, delete everything" is handled right now.
        forgetting.append(asyncio.create_task(store.forget_user(1)))

    await subscribe(store, 1, "08:00", "UTC", utc(2026, 1, 14, 12))
    clock.now = utc(2026, 1, 15, 8)
    await DailyDelivery(store, lambda: FAQ, send_then_forget, clock, rate=1000.0).run_once()
    await asyncio.gather(*forgetting)
    data = await store.user_data(1)
    assert (data.first_seen, data.tips_seen_count, data.deliveries_count) == (None, 0, 0)


# --- a database that cannot be written (issue 10, defect 1) -----------------------------------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 1 MB tmpfs (skipped, with the reason, where mounting is not allowed)."""
    with small_tmpfs(tmp_path, "1m") as folder:
        yield folder


async def test_on_a_full_disk_nothing_is_sent_and_one_error_says_so(
    small_fs: Path, outbox: Outbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """A tip that cannot be recorded is not sent; the pass stops with one error; with room again, each goes once."""
    store = await Store.open(small_fs / "bot.sqlite3")
    try:
        delivery = DailyDelivery(store, lambda: FAQ, outbox, clock, rate=1000.0)
        for user_id in range(1, 6):
            await subscribe(store, user_id, "08:00", "UTC", utc(2026, 1, 14, 12))
        filler = fill(small_fs)
        clock.now = utc(2026, 1, 15, 8)
        with caplog.at_level(logging.INFO, logger="bot.delivery"):
            for _ in range(3):
                await delivery.run_once()
            assert outbox.sent == []
            errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
            assert len(errors) == 1, errors
            assert "daily tips paused" in errors[0].getMessage()
            assert "disk is full" in errors[0].getMessage()

            filler.unlink()
            for _ in range(3):
                await delivery.run_once()
            assert "daily tips resumed" in caplog.text
        assert sorted(s.chat_id for s in outbox.sent) == [chat_of(u) for u in range(1, 6)]
    finally:
        await store.close()
