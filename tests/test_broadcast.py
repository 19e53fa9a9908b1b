"""Tests for bot.broadcast: rate limits, per-chat spacing and Telegram error handling, against a real fake send."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.broadcast import Broadcaster, BroadcastItem

DAY = date(2026, 1, 15)
FAST = {"rate": 1000.0, "per_chat_interval": 0.01, "backoff_base": 0.01}  # limits out of the way


class FakeSend:
    """Stands in for `bot.send_message`: records every call and raises scripted Telegram errors."""

    def __init__(
        self,
        script: dict[int, list[Exception]] | None = None,
        always: dict[int, Callable[[], Exception]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`script[chat]` is raised on that chat's first calls in order; `always[chat]` on every call."""
        self.script = {chat: list(errors) for chat, errors in (script or {}).items()}
        self.always = always or {}
        self.clock = clock
        self.calls: list[tuple[float, int]] = []
        self.delivered: list[tuple[float, int, str]] = []

    async def __call__(self, chat_id: int, text: str) -> None:
        """Record the attempt, then fail as scripted or deliver."""
        now = self.clock()
        self.calls.append((now, chat_id))
        if chat_id in self.always:
            raise self.always[chat_id]()
        if self.script.get(chat_id):
            raise self.script[chat_id].pop(0)
        await asyncio.sleep(0)  # a real send yields to the loop
        self.delivered.append((now, chat_id, text))

    def times(self, chat_id: int) -> list[float]:
        """When each attempt to `chat_id` started."""
        return [at for at, chat in self.calls if chat == chat_id]


class Callbacks:
    """Records what the broadcaster reports back (the lead wires these to the store)."""

    def __init__(self, fail_on_sent_for: int | None = None) -> None:
        """Optionally make `on_sent` raise for one chat, like a database hiccup."""
        self.sent: list[BroadcastItem] = []
        self.blocked: list[int] = []
        self.fail_on_sent_for = fail_on_sent_for

    async def on_sent(self, item: BroadcastItem) -> None:
        """Record a delivery."""
        if item.chat_id == self.fail_on_sent_for:
            msg = "database is locked"
            raise RuntimeError(msg)
        self.sent.append(item)

    async def on_blocked(self, chat_id: int) -> None:
        """Record a chat that blocked the bot."""
        self.blocked.append(chat_id)


class VirtualClock:
    """Monotonic time that only moves when slept on; exact for a single worker."""

    def __init__(self) -> None:
        """Start at zero."""
        self.now = 0.0

    def __call__(self) -> float:
        """The current virtual time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Advance time instantly, still yielding to the loop."""
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def flood(retry_after: int | timedelta) -> RetryAfter:
    """A RetryAfter as PTB raises it for a 429, built without PTB 22's int-deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return RetryAfter(retry_after=retry_after)


def make_items(chats: list[int]) -> list[BroadcastItem]:
    """One tip per chat id (a chat may repeat)."""
    return [BroadcastItem(chat_id=c, user_id=c, text=f"tip for {c}", local_date=DAY, tip_id="t1") for c in chats]


def make_broadcaster(send: FakeSend, callbacks: Callbacks, **options: float) -> Broadcaster:
    """A broadcaster wired to the fakes."""
    return Broadcaster(send, on_sent=callbacks.on_sent, on_blocked=callbacks.on_blocked, **options)  # type: ignore[arg-type]


async def test_overall_rate_is_respected() -> None:
    """At rate 100, 150 messages take about 1.5 s and no one-second window holds more than 101 sends."""
    send, callbacks = FakeSend(), Callbacks()
    result = await make_broadcaster(send, callbacks, rate=100.0).broadcast(make_items(list(range(150))))
    assert result.sent == 150
    assert result.elapsed >= 1.45
    starts = sorted(at for at, _ in send.calls)
    assert max(sum(1 for t in starts if s <= t < s + 1.0) for s in starts) <= 101
    # A late wake-up may catch up one slot, never more: any three sends span at least one interval.
    assert min(c - a for a, c in zip(starts, starts[2:], strict=False)) >= 0.01 - 0.002


async def test_one_message_per_chat_per_second() -> None:
    """Two items for the same chat go out at least 1 s apart, without holding up other chats."""
    send, callbacks = FakeSend(), Callbacks()
    broadcaster = make_broadcaster(send, callbacks, rate=100.0)
    result = await broadcaster.broadcast(make_items([1, 1, 2, 3, 4, 5, 6, 7, 8]))
    first, second = send.times(1)
    assert second - first >= 1.0 - 0.005
    others = [at for at, chat in send.calls if chat != 1]
    assert max(others) < second
    assert result.sent == 9


async def test_retry_after_pauses_all_sending_then_delivers() -> None:
    """A RetryAfter stops every send for retry_after seconds, then the message goes out."""
    send = FakeSend(script={5: [flood(timedelta(seconds=0.5))]})
    callbacks = Callbacks()
    result = await make_broadcaster(send, callbacks, rate=50.0, per_chat_interval=0.0).broadcast(
        make_items(list(range(20)))
    )
    flood_at = send.times(5)[0]
    later = [at for at, _ in send.calls if at > flood_at]
    assert later
    assert min(later) >= flood_at + 0.5 - 0.005
    assert [chat for _, chat, _ in send.delivered].count(5) == 1
    assert (result.sent, result.retried, result.failed) == (20, 1, 0)


async def test_retry_after_in_whole_seconds_with_virtual_clock() -> None:
    """Telegram's usual 'retry after 7' pauses 7 s of (virtual) time, and pacing is exactly 1/rate."""
    clock = VirtualClock()
    send, callbacks = FakeSend(script={3: [flood(7)]}, clock=clock), Callbacks()
    broadcaster = Broadcaster(send, on_sent=callbacks.on_sent, rate=25.0, workers=1, clock=clock, sleep=clock.sleep)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PTBDeprecationWarning)  # reading retry_after must not warn
        result = await broadcaster.broadcast(make_items([0, 1, 2, 3, 4, 5]))
    starts = [at for at, _ in send.calls]
    assert starts[:4] == pytest.approx([0.0, 0.04, 0.08, 0.12])
    assert starts[4] == pytest.approx(0.12 + 7.0)  # the retried chat 3, after the pause
    assert starts[5:] == pytest.approx([7.16, 7.20])
    assert result.elapsed == pytest.approx(7.20)
    assert [item.chat_id for item in callbacks.sent] == [0, 1, 2, 3, 4, 5]


async def test_repeated_retry_after_gives_up_after_bounded_attempts() -> None:
    """A message that keeps hitting flood control is dropped after `flood_attempts` tries."""
    clock = VirtualClock()
    send = FakeSend(always={3: lambda: flood(2)}, clock=clock)
    callbacks = Callbacks()
    broadcaster = Broadcaster(send, on_sent=callbacks.on_sent, workers=1, clock=clock, sleep=clock.sleep)
    result = await broadcaster.broadcast(make_items([3, 4]))
    assert len(send.times(3)) == 5
    assert (result.sent, result.failed, result.retried) == (1, 1, 4)


@pytest.mark.parametrize(
    "error",
    [NetworkError("Bad Gateway"), NetworkError("httpx.ConnectError: connection reset")],
    ids=["5xx", "connection"],
)
async def test_network_errors_are_retried_then_delivered(error: Exception) -> None:
    """A 5xx or a dropped connection is retried with backoff and the message arrives once."""
    send = FakeSend(script={3: [error, NetworkError("Bad Gateway")]})
    callbacks = Callbacks()
    result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items([1, 2, 3, 4]))
    assert len(send.times(3)) == 3
    assert sorted(item.chat_id for item in callbacks.sent) == [1, 2, 3, 4]
    assert (result.sent, result.retried, result.failed) == (4, 2, 0)


async def test_timed_out_send_counts_as_sent_and_is_never_resent() -> None:
    """A send that timed out may have been delivered: it is not retried and is recorded as sent."""
    send = FakeSend(script={3: [TimedOut()]})
    callbacks = Callbacks()
    result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items([1, 2, 3]))
    assert len(send.times(3)) == 1
    assert sorted(item.chat_id for item in callbacks.sent) == [1, 2, 3]
    assert (result.sent, result.retried, result.failed) == (3, 0, 0)


async def test_persistent_network_failure_gives_up_after_bounded_attempts(caplog: pytest.LogCaptureFixture) -> None:
    """A chat that always fails is tried network_attempts times with growing waits, then logged and dropped."""
    send = FakeSend(always={3: lambda: NetworkError("Bad Gateway")})
    callbacks = Callbacks()
    broadcaster = make_broadcaster(send, callbacks, rate=1000.0, per_chat_interval=0.0, backoff_base=0.02)
    with caplog.at_level(logging.ERROR, logger="bot.broadcast"):
        result = await broadcaster.broadcast(make_items([1, 2, 3, 4]))
    attempts = send.times(3)
    assert len(attempts) == 4
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.02 - 0.002
    assert gaps[1] >= 0.04 - 0.002
    assert gaps[2] >= 0.08 - 0.002
    assert (result.sent, result.failed, result.blocked) == (3, 1, 0)
    assert callbacks.blocked == []
    assert any("chat 3" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(
    "text",
    [
        "Forbidden: bot was blocked by the user",
        "Forbidden: user is deactivated",
        "Forbidden: bot was kicked from the group chat",
    ],
)
async def test_blocked_chat_is_reported_once_and_not_retried(text: str) -> None:
    """Forbidden for a blocked, deactivated or kicked chat calls on_blocked once and never resends."""
    send, callbacks = FakeSend(script={3: [Forbidden(text)]}), Callbacks()
    result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items([1, 2, 3, 4]))
    assert len(send.times(3)) == 1
    assert callbacks.blocked == [3]
    assert 3 not in [item.chat_id for item in callbacks.sent]
    assert (result.sent, result.blocked, result.failed, result.retried) == (3, 1, 0, 0)


async def test_second_item_for_a_blocked_chat_is_not_sent() -> None:
    """Once a chat has blocked the bot, later items for it in the same broadcast are skipped."""
    send, callbacks = FakeSend(script={3: [Forbidden("Forbidden: bot was blocked by the user")]}), Callbacks()
    result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items([3, 1, 3]))
    assert len(send.times(3)) == 1
    assert callbacks.blocked == [3]
    assert (result.sent, result.blocked) == (1, 2)


async def test_pacing_state_stays_bounded_for_many_chats() -> None:
    """Per-chat pacing entries are swept once idle, so a broadcast to many chats does not keep them all."""
    send, callbacks = FakeSend(), Callbacks()
    broadcaster = make_broadcaster(send, callbacks, rate=100_000.0, per_chat_interval=0.001)
    result = await broadcaster.broadcast(make_items(list(range(3000))))
    assert result.sent == 3000
    assert len(broadcaster._chats) < 1000


async def test_other_forbidden_does_not_end_the_subscription() -> None:
    """A Forbidden that is not about blocking is logged as a failure, without on_blocked."""
    send = FakeSend(script={3: [Forbidden("Forbidden: not enough rights to send text messages to the chat")]})
    callbacks = Callbacks()
    result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items([3]))
    assert callbacks.blocked == []
    assert (result.failed, result.blocked) == (1, 0)


async def test_bad_request_is_not_retried_and_keeps_the_subscription() -> None:
    """BadRequest (a NetworkError subclass in PTB) is logged once: no retry, no on_blocked."""
    send, callbacks = FakeSend(script={3: [BadRequest("Bad Request: message is too long")]}), Callbacks()
    result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items([1, 3, 4]))
    assert len(send.times(3)) == 1
    assert callbacks.blocked == []
    assert (result.sent, result.failed, result.retried) == (2, 1, 0)


async def test_crashing_send_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    """A RuntimeError from one send is logged with its chat id; every other item still goes out."""
    send = FakeSend(script={7: [RuntimeError("boom")]})
    callbacks = Callbacks()
    with caplog.at_level(logging.ERROR, logger="bot.broadcast"):
        result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items(list(range(20))))
    assert sorted(item.chat_id for item in callbacks.sent) == [c for c in range(20) if c != 7]
    assert (result.sent, result.failed) == (19, 1)
    assert any("chat 7" in record.getMessage() and record.exc_info for record in caplog.records)


async def test_failing_on_sent_is_logged_and_the_broadcast_continues(caplog: pytest.LogCaptureFixture) -> None:
    """If recording a delivery fails, the message still counts as sent and the rest carry on."""
    send, callbacks = FakeSend(), Callbacks(fail_on_sent_for=2)
    with caplog.at_level(logging.ERROR, logger="bot.broadcast"):
        result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items([1, 2, 3]))
    assert result.sent == 3
    assert [item.chat_id for item in callbacks.sent] == [1, 3]
    assert any("on_sent failed for chat 2" in record.getMessage() for record in caplog.records)


async def test_every_deliverable_item_is_sent_exactly_once() -> None:
    """Under a mix of flood control, network errors and blocks, each non-blocked item arrives exactly once."""
    script: dict[int, list[Exception]] = {
        5: [flood(timedelta(milliseconds=50))],
        11: [NetworkError("Bad Gateway")],
        12: [NetworkError("connection reset"), NetworkError("connection reset")],
        30: [flood(timedelta(milliseconds=50)), NetworkError("Bad Gateway")],
        40: [Forbidden("Forbidden: bot was blocked by the user")],
    }
    send, callbacks = FakeSend(script=script), Callbacks()
    chats = list(range(60))
    result = await make_broadcaster(send, callbacks, **FAST).broadcast(make_items(chats))
    delivered = Counter(chat for _, chat, _ in send.delivered)
    assert delivered == Counter(c for c in chats if c != 40)
    assert sorted(item.chat_id for item in callbacks.sent) == [c for c in chats if c != 40]
    assert callbacks.blocked == [40]
    assert (result.sent, result.blocked, result.failed, result.retried) == (59, 1, 0, 6)


async def test_event_loop_stays_responsive_during_a_broadcast() -> None:
    """While a broadcast runs, other coroutines (answers to questions) keep getting the loop within ms."""
    send, callbacks = FakeSend(), Callbacks()
    broadcaster = make_broadcaster(send, callbacks, rate=200.0)
    broadcast = asyncio.create_task(broadcaster.broadcast(make_items(list(range(150)))))
    worst = 0.0
    while not broadcast.done():
        before = time.monotonic()
        await asyncio.sleep(0.005)
        worst = max(worst, time.monotonic() - before - 0.005)
    assert (await broadcast).sent == 150
    assert worst < 0.1


async def test_items_are_pulled_lazily_through_a_bounded_queue() -> None:
    """A generator of items is consumed as workers free up, so memory stays bounded by the queue."""
    produced = 0
    at_first_send: list[int] = []

    def items() -> Iterator[BroadcastItem]:
        nonlocal produced
        for item in make_items(list(range(500))):
            produced += 1
            yield item

    class CountingSend(FakeSend):
        async def __call__(self, chat_id: int, text: str) -> None:
            if not at_first_send:
                at_first_send.append(produced)
            await super().__call__(chat_id, text)

    send, callbacks = CountingSend(), Callbacks()
    broadcaster = make_broadcaster(send, callbacks, rate=100_000.0, per_chat_interval=0.0)
    result = await broadcaster.broadcast(items())
    assert result.sent == 500
    assert at_first_send[0] <= 3 * broadcaster.workers + 1


async def test_cancelling_a_broadcast_stops_its_workers() -> None:
    """Cancelling the broadcast (bot shutdown) leaves no worker tasks running."""
    send, callbacks = FakeSend(), Callbacks()
    task = asyncio.create_task(make_broadcaster(send, callbacks, rate=20.0).broadcast(make_items(list(range(100)))))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    leftovers = [t for t in asyncio.all_tasks() if t.get_name().startswith("broadcast-worker")]
    assert leftovers == []
    sent_so_far = len(send.calls)
    await asyncio.sleep(0.2)
    assert len(send.calls) == sent_so_far


def test_invalid_limits_are_refused() -> None:
    """A zero rate or zero attempt budget is a configuration error, caught at construction."""
    send = FakeSend()
    with pytest.raises(ValueError, match="rate"):
        Broadcaster(send, rate=0)
    with pytest.raises(ValueError, match="attempt"):
        Broadcaster(send, network_attempts=0)


async def test_a_declined_claim_skips_the_item_and_a_failed_claimed_one_is_handed_back() -> None:
    """`claim` False means the item is never sent; a claimed item that failed or was blocked goes to `on_unsent`."""
    refused, blocked = BadRequest("Bad Request: chat not found"), Forbidden("Forbidden: bot was blocked by the user")
    send = FakeSend(script={3: [refused], 4: [blocked]})
    unsent: list[int] = []

    async def claim(item: BroadcastItem) -> bool:
        return item.chat_id != 2

    async def on_unsent(item: BroadcastItem) -> None:
        unsent.append(item.chat_id)

    broadcaster = Broadcaster(send, claim=claim, on_unsent=on_unsent, **FAST)
    result = await broadcaster.broadcast(make_items([1, 2, 3, 4]))
    assert 2 not in {chat for _, chat in send.calls}
    assert (result.sent, result.skipped, result.failed, result.blocked) == (1, 1, 1, 1)
    assert sorted(unsent) == [3, 4]
