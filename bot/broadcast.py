"""Send many messages (the due daily tips) within Telegram's flood limits, without blocking the bot.

Limits: at most `rate` messages per second overall, paced evenly (no burst), and one message per chat
per `per_chat_interval`. A fixed pool of worker tasks pulls from a bounded queue, so memory stays
O(queue) for any number of items and the event loop keeps answering questions in between.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum
from typing import TypeAlias, TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBDeprecationWarning

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

DEFAULT_RATE = 25.0  # Telegram allows about 30/s per bot; the rest is headroom for live answers
MAX_WORKERS = 32
MIN_PRUNE_AT = 256  # per-chat pacing entries kept before idle ones are swept
# Forbidden texts meaning the chat will never accept a message again, so the subscription should end.
BLOCKED_MARKERS = (
    "bot was blocked",
    "user is deactivated",
    "bot was kicked",
    "bot is not a member",
    "bot can't initiate conversation",
)


@dataclass(frozen=True, slots=True)
class BroadcastItem:
    """One message to send; `user_id`, `local_date` and `tip_id` are for the `on_sent` callback."""

    chat_id: int
    user_id: int
    text: str
    local_date: date
    tip_id: str


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    """What one `broadcast` call did; `retried` counts extra attempts, `elapsed` is in seconds."""

    sent: int
    blocked: int
    failed: int
    retried: int
    elapsed: float
    skipped: int = 0  # items the `claim` callback declined: never sent

    @property
    def total(self) -> int:
        """Items handled, whatever the outcome."""
        return self.sent + self.blocked + self.failed + self.skipped


SendFn: TypeAlias = Callable[[int, str], Awaitable[None]]
ItemCallback: TypeAlias = Callable[[BroadcastItem], Awaitable[None]]
ClaimCallback: TypeAlias = Callable[[BroadcastItem], Awaitable[bool]]
ChatCallback: TypeAlias = Callable[[int], Awaitable[None]]
Clock: TypeAlias = Callable[[], float]
Sleep: TypeAlias = Callable[[float], Awaitable[None]]


class _Outcome(Enum):
    """How one item ended."""

    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(slots=True)
class _Tally:
    """Running counts for one `broadcast` call."""

    sent: int = 0
    blocked: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    blocked_chats: set[int] = field(default_factory=set)

    def add(self, outcome: _Outcome) -> None:
        """Count one finished item."""
        if outcome is _Outcome.SENT:
            self.sent += 1
        elif outcome is _Outcome.BLOCKED:
            self.blocked += 1
        elif outcome is _Outcome.SKIPPED:
            self.skipped += 1
        else:
            self.failed += 1


@dataclass(slots=True)
class _ChatState:
    """Per-chat pacing: sends to one chat go one at a time, `per_chat_interval` apart."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_attempt: float = -math.inf
    users: int = 0


def retry_after_seconds(exc: RetryAfter) -> float:
    """Return how long Telegram asked us to wait, whether PTB reports it as seconds or a timedelta."""
    with warnings.catch_warnings():
        # PTB 22 warns that `retry_after` becomes a timedelta; both forms are handled below.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def is_blocked(exc: Forbidden) -> bool:
    """True if a Forbidden error means the chat is gone for good (blocked, deactivated, kicked)."""
    text = exc.message.lower()
    return any(marker in text for marker in BLOCKED_MARKERS)


class Broadcaster:
    """Deliver messages at a bounded rate, retrying what Telegram says is worth retrying.

    One instance can serve many `broadcast` calls; the overall pace and any flood-control pause are
    shared between calls that overlap, because Telegram's limits are per bot.
    """

    def __init__(
        self,
        send: SendFn,
        *,
        on_sent: ItemCallback | None = None,
        on_blocked: ChatCallback | None = None,
        claim: ClaimCallback | None = None,
        on_unsent: ItemCallback | None = None,
        rate: float = DEFAULT_RATE,
        per_chat_interval: float = 1.0,
        workers: int | None = None,
        flood_attempts: int = 5,
        network_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_max: float = 8.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Configure the limits; `send` and the callbacks are awaited, never retried blindly.

        `claim` runs once per item before its first send: False (or an exception) skips the item unsent,
        so a caller can record a message before it goes out. `on_unsent` runs for a claimed item that
        ended blocked or failed, so that record can be released.
        """
        if rate <= 0 or per_chat_interval < 0:
            msg = f"rate must be > 0 and per_chat_interval >= 0, got {rate} and {per_chat_interval}"
            raise ValueError(msg)
        if flood_attempts < 1 or network_attempts < 1:
            msg = f"attempt limits must be >= 1, got {flood_attempts} and {network_attempts}"
            raise ValueError(msg)
        self._send = send
        self._on_sent = on_sent
        self._on_blocked = on_blocked
        self._claim = claim
        self._on_unsent = on_unsent
        self.rate = rate
        self.per_chat_interval = per_chat_interval
        self.workers = max(1, workers if workers is not None else min(math.ceil(rate), MAX_WORKERS))
        self.flood_attempts = flood_attempts
        self.network_attempts = network_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._clock = clock
        self._sleep = sleep
        self._interval = 1.0 / rate
        self._next_slot = -math.inf
        self._pace_lock = asyncio.Lock()
        self._paused_until = -math.inf
        self._chats: dict[int, _ChatState] = {}
        self._prune_at = MIN_PRUNE_AT

    async def broadcast(self, items: Iterable[BroadcastItem]) -> BroadcastResult:
        """Send every item once (retrying within bounds) and return the counts; never raises per item."""
        started = self._clock()
        self._forget_idle_chats()
        tally = _Tally()
        queue: asyncio.Queue[BroadcastItem | None] = asyncio.Queue(maxsize=2 * self.workers)
        tasks = [
            asyncio.create_task(self._worker(queue, tally), name=f"broadcast-worker-{n}") for n in range(self.workers)
        ]
        try:
            for item in items:
                await queue.put(item)
            for _ in tasks:
                await queue.put(None)
            await asyncio.gather(*tasks)
        finally:
            # Reached early only if the caller is cancelled or `items` raised: stop the workers too.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        result = BroadcastResult(
            sent=tally.sent,
            blocked=tally.blocked,
            failed=tally.failed,
            retried=tally.retried,
            elapsed=self._clock() - started,
            skipped=tally.skipped,
        )
        logger.info(
            "broadcast done: %d sent, %d blocked, %d failed, %d skipped, %d retries in %.1fs",
            result.sent,
            result.blocked,
            result.failed,
            result.skipped,
            result.retried,
            result.elapsed,
        )
        return result

    async def _worker(self, queue: asyncio.Queue[BroadcastItem | None], tally: _Tally) -> None:
        """Deliver items until the end-of-queue marker."""
        while (item := await queue.get()) is not None:
            try:
                tally.add(await self._deliver(item, tally))
            except Exception:
                # `_deliver` handles send errors itself; this is a bug guard so one item never stops the rest.
                logger.exception("daily tip to chat %s crashed", item.chat_id)
                tally.add(_Outcome.FAILED)

    async def _deliver(self, item: BroadcastItem, tally: _Tally) -> _Outcome:
        """Claim and send one item; a claimed item that did not go out is handed to `on_unsent`."""
        if item.chat_id in tally.blocked_chats:
            return _Outcome.BLOCKED  # a second item for a chat that just blocked us: don't knock again
        if self._claim is not None:
            try:
                claimed = await self._claim(item)
            except Exception:
                logger.exception("claim failed for chat %s; not sent", item.chat_id)
                claimed = False
            if not claimed:
                return _Outcome.SKIPPED
        outcome = await self._send_claimed(item, tally)
        if outcome is not _Outcome.SENT:
            await self._notify(self._on_unsent, item, item.chat_id, "on_unsent")
        return outcome

    async def _send_claimed(self, item: BroadcastItem, tally: _Tally) -> _Outcome:
        """Send one item, retrying flood control and network errors within bounds; return its outcome."""
        flood_hits = 0
        network_failures = 0
        while True:
            if item.chat_id in tally.blocked_chats:
                return _Outcome.BLOCKED  # a second item for a chat that just blocked us: don't knock again
            try:
                await self._attempt(item)
            except RetryAfter as exc:
                flood_hits += 1
                wait = retry_after_seconds(exc)
                # Telegram's flood limit is per bot, so every worker waits, not just this one.
                self._paused_until = max(self._paused_until, self._clock() + wait)
                if flood_hits >= self.flood_attempts:
                    logger.error("gave up on chat %s after %d flood-control waits", item.chat_id, flood_hits)
                    return _Outcome.FAILED
                logger.warning("flood control: pausing all sends for %.1fs (chat %s)", wait, item.chat_id)
            except Forbidden as exc:
                if not is_blocked(exc):
                    logger.error("daily tip to chat %s refused: %s", item.chat_id, exc.message)
                    return _Outcome.FAILED
                logger.info("chat %s blocked the bot or is gone: %s", item.chat_id, exc.message)
                tally.blocked_chats.add(item.chat_id)
                await self._notify(self._on_blocked, item.chat_id, item.chat_id, "on_blocked")
                return _Outcome.BLOCKED
            except BadRequest as exc:
                # Checked before NetworkError, which PTB makes its base class; resending would fail again.
                logger.error("daily tip to chat %s rejected: %s", item.chat_id, exc.message)
                return _Outcome.FAILED
            except TimedOut:
                # Checked before NetworkError, its base class: the request may have reached Telegram and
                # the message been delivered, so it is never sent again; `on_sent` records it as sent.
                logger.warning("daily tip to chat %s timed out; it may have arrived, so it is not resent", item.chat_id)
                await self._notify(self._on_sent, item, item.chat_id, "on_sent")
                return _Outcome.SENT
            except NetworkError as exc:  # the 5xx answers and lost connections PTB raises as NetworkError
                network_failures += 1
                if network_failures >= self.network_attempts:
                    logger.error(
                        "gave up on chat %s after %d network errors, last: %s",
                        item.chat_id,
                        network_failures,
                        exc.message,
                    )
                    return _Outcome.FAILED
                delay = min(self.backoff_base * 2 ** (network_failures - 1), self.backoff_max)
                logger.warning("network error for chat %s (%s), retrying in %.2fs", item.chat_id, exc, delay)
                await self._sleep(delay)
            except TelegramError as exc:
                logger.error("daily tip to chat %s failed: %s: %s", item.chat_id, type(exc).__name__, exc)
                return _Outcome.FAILED
            except Exception:
                logger.exception("daily tip to chat %s crashed", item.chat_id)
                return _Outcome.FAILED
            else:
                await self._notify(self._on_sent, item, item.chat_id, "on_sent")
                return _Outcome.SENT
            tally.retried += 1

    async def _attempt(self, item: BroadcastItem) -> None:
        """Wait for this chat's turn and an overall slot, then call `send` once."""
        if len(self._chats) >= self._prune_at:
            # Amortised sweep: the map holds only chats touched within the last interval plus those in flight.
            self._forget_idle_chats()
            self._prune_at = max(MIN_PRUNE_AT, 2 * len(self._chats))
        state = self._chats.setdefault(item.chat_id, _ChatState())
        state.users += 1
        try:
            async with state.lock:
                await self._sleep_until(state.last_attempt + self.per_chat_interval)
                await self._acquire_slot()
                state.last_attempt = self._clock()
                await self._send(item.chat_id, item.text)
        finally:
            state.users -= 1

    async def _acquire_slot(self) -> None:
        """Wait, in arrival order, until `1/rate` after the previous send and past any flood-control pause."""
        async with self._pace_lock:
            # A RetryAfter that arrives while we wait moves `ready` and we keep waiting.
            while (ready := max(self._next_slot, self._paused_until)) > (now := self._clock()):
                await self._sleep(ready - now)
            # The next slot counts from the slot we waited for when the wake-up was merely late (less
            # than a slot), so sleep overshoot does not erode the rate; after idling, from now.
            self._next_slot = (ready if now - ready < self._interval else now) + self._interval

    async def _sleep_until(self, moment: float) -> None:
        """Sleep until the clock reaches `moment` (sleeps can end a hair early, so check again)."""
        while (remaining := moment - self._clock()) > 0:
            await self._sleep(remaining)

    def _forget_idle_chats(self) -> None:
        """Drop pacing state of chats with nothing in flight whose interval has passed."""
        now = self._clock()
        for chat_id in [
            chat_id
            for chat_id, state in self._chats.items()
            if state.users == 0 and state.last_attempt + self.per_chat_interval <= now
        ]:
            del self._chats[chat_id]

    async def _notify(self, callback: Callable[[_T], Awaitable[None]] | None, arg: _T, chat_id: int, name: str) -> None:
        """Await a callback; its failure is logged, never allowed to stop the broadcast."""
        if callback is None:
            return
        try:
            await callback(arg)
        except Exception:
            logger.exception("%s failed for chat %s", name, chat_id)
