"""The daily tip: find who is owed one, send it within Telegram's limits, record it.

SQLite is the source of truth, not in-memory jobs: every run asks the store which active subscriptions
have no delivery for their local date yet, so a restart (even after SIGKILL) simply picks up where the
last run stopped, and a tip that fell due while the bot was down goes out at start, the same local day.

At most once: each tip is recorded (committed) before it is sent, and released again only when the send
certainly failed. A tip that cannot be recorded is never sent, so a database that cannot be written
(a full disk, a read-only filesystem) cannot make the bot repeat itself, in this process or after a
restart. The price: if the process dies between the commit and Telegram's answer, or a failed send cannot
be released because the store just broke, that user misses that day's tip. See README "Daily tips when
the database cannot be written" for why.

When a record fails, the pass stops there: the rest of the due tips are not attempted, and one error
says so (not one per user). Later passes try again; the first tip recorded says the tips resumed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfoNotFoundError

from telegram.error import BadRequest, Forbidden

from bot import daily, schedule
from bot.broadcast import Broadcaster, BroadcastItem, BroadcastResult, SendFn
from bot.render import esc
from bot.storage import Store, Subscription
from faq.models import Faq, Tip
from faq.tips import tip_of_the_day

logger = logging.getLogger(__name__)

DUE_BATCH = 1000  # subscriptions read per query; a pass reads batch after batch while they come full


def daily_tip_text(tip: Tip) -> str:
    """Return the HTML of a daily tip message."""
    return f"💡 <b>Your daily tip</b>\n\n{esc(tip.text)}\n\n<i>Send /daily off to stop these.</i>"


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where a tip's subscription goes next: `retry_at` if the send failed, `next_at` once it is done."""

    retry_at: datetime
    next_at: datetime
    recorded_at: datetime | None = None


class DailyDelivery:
    """One pass of the scheduler at a time: pick the due subscriptions, broadcast, record."""

    def __init__(
        self,
        store: Store,
        faq: Callable[[], Faq],
        send: SendFn,
        clock: Callable[[], datetime],
        rate: float = 25.0,
        batch: int = DUE_BATCH,
    ) -> None:
        self.store = store
        self.faq = faq
        self.clock = clock
        self.batch = batch
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[BroadcastResult | None] | None = None
        self._raw_send = send
        self._refused: set[int] = set()  # chats that refused a tip during the current batch
        self._plans: dict[tuple[int, date], _Plan] = {}  # the current batch's tips, by (user, local date)
        self._halted = False  # this pass met a store that cannot be written: claim nothing more
        self.store_unwritable = False  # the last record failed; cleared by the next one that works
        self._lost = 0  # tips recorded but not sent that could not be released (missed that day)
        self.broadcaster = Broadcaster(
            self._send,
            claim=self._claim,
            on_unsent=self._unsent,
            on_blocked=self._blocked,
            rate=rate,
        )

    def start_pass(self) -> None:
        """Start a pass in the background unless one is still running; answers never wait for it."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run_once(), name="daily-tips")
            self._task.add_done_callback(_log_failure)

    async def close(self, grace: float = 2.0) -> None:
        """Let a running pass finish for up to `grace` seconds, then cancel it (see the module notes)."""
        task = self._task
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> BroadcastResult | None:
        """Send every tip that is due now, `batch` subscriptions at a time; None if nothing was due to send."""
        if self._lock.locked():
            return None
        async with self._lock:
            self._halted = False
            results: list[BroadcastResult] = []
            while not self._halted:
                now = self.clock()
                subs = await self.store.due_subscriptions(now, self.batch)
                result = await self._send_batch(subs, now)
                if result is not None:
                    results.append(result)
                # A full batch means more may be due; a failed send is left for the next pass.
                if len(subs) < self.batch or (result is not None and result.failed):
                    break
            if self._lost:
                logger.error("%d recorded tips were not sent and could not be released: missed today", self._lost)
                self._lost = 0
            return _combined(results)  # the broadcaster has logged each batch's summary

    async def _send_batch(self, subs: list[Subscription], now: datetime) -> BroadcastResult | None:
        """Send the tips owed among `subs` (read as due) and move the others' next due moment on."""
        due = daily.due_deliveries(subs, _nothing_delivered, now)
        owed = {sub.user_id for sub, _ in due}
        moved: list[tuple[int, datetime | None]] = []
        for sub in subs:
            if sub.user_id not in owed:
                # Due by the index but owed nothing now: a day missed while the bot was down, or a bad row.
                try:
                    next_due = schedule.first_due(sub.local_time, sub.timezone, max(now, sub.updated_at))
                except (ZoneInfoNotFoundError, ValueError):
                    logger.warning("subscription of user %s has a bad time or zone; it is never due", sub.user_id)
                    next_due = None
                moved.append((sub.user_id, next_due))
        if moved:
            try:
                await self.store.reschedule(moved)
            except sqlite3.Error as exc:
                self._halt(exc)
                return None
            self._wrote()
        if not due:
            return None
        tips = self.faq().tips
        items = []
        self._plans.clear()
        for sub, local_date in due:
            tip = tip_of_the_day(tips, local_date)
            items.append(BroadcastItem(sub.chat_id, sub.user_id, daily_tip_text(tip), local_date, tip.id))
            self._plans[(sub.user_id, local_date)] = _Plan(
                retry_at=daily.due_instant(sub, local_date),
                next_at=schedule.after_delivery(sub.local_time, sub.timezone, local_date),
            )
        self._refused.clear()
        try:
            return await self.broadcaster.broadcast(item for item in items if not self._halted)
        finally:
            self._plans.clear()

    async def _claim(self, item: BroadcastItem) -> bool:
        """Record the tip before it is sent; False (send nothing) if it cannot be, or is already recorded."""
        plan = self._plans.get((item.user_id, item.local_date))
        if self._halted or plan is None:
            return False
        at = self.clock()
        try:
            recorded = await self.store.record_delivery(item.user_id, item.local_date, item.tip_id, at, plan.next_at)
        except sqlite3.Error as exc:
            self._halt(exc)
            return False
        self._wrote()
        if recorded:
            self._plans[(item.user_id, item.local_date)] = replace(plan, recorded_at=at)
        return recorded  # False: already recorded (its next due moment moved on all the same), or forgotten

    async def _unsent(self, item: BroadcastItem) -> None:
        """Release the record of a tip that was not sent: retried by the next pass, or tomorrow if refused."""
        plan = self._plans.get((item.user_id, item.local_date))
        if plan is None or plan.recorded_at is None:
            return
        # Refused ("chat not found", no rights) fails the same way all day; a block ended the subscription.
        next_due = plan.next_at if item.chat_id in self._refused else plan.retry_at
        try:
            await self.store.release_delivery(item.user_id, item.local_date, item.tip_id, plan.recorded_at, next_due)
        except sqlite3.Error as exc:
            self._halt(exc)
            self._lost += 1  # at most once: this user misses today's tip rather than risk a second one

    def _wrote(self) -> None:
        """A write worked: end a pause, saying so."""
        if self.store_unwritable:
            self.store_unwritable = False
            logger.warning("daily tips resumed: the database can be written again")

    def _halt(self, exc: sqlite3.Error) -> None:
        """Stop this pass after a failed write; say so once per outage, not once per user."""
        self._halted = True
        if not self.store_unwritable:
            self.store_unwritable = True
            logger.error(
                "daily tips paused: the database cannot be written (%s); no tip is sent until it can be recorded first",
                exc,
            )

    async def _send(self, chat_id: int, text: str) -> None:
        try:
            await self._raw_send(chat_id, text)
        except (BadRequest, Forbidden):
            # Not worth retrying this pass or the next ones today ("chat not found" and the like);
            # a "blocked" Forbidden also ends the subscription, via the broadcaster's on_blocked.
            self._refused.add(chat_id)
            raise

    async def _blocked(self, chat_id: int) -> None:
        count = await self.store.deactivate_chat(chat_id, self.clock())
        logger.info("chat %s blocked the bot; %d subscription(s) turned off", chat_id, count)


def _nothing_delivered(user_id: int, local_date: date) -> bool:
    """A subscription read as due has no delivery for that day: recording one moves its next due moment on."""
    return False


def _combined(results: list[BroadcastResult]) -> BroadcastResult | None:
    """Add up the batches of one pass."""
    if not results:
        return None
    return BroadcastResult(
        sent=sum(r.sent for r in results),
        blocked=sum(r.blocked for r in results),
        failed=sum(r.failed for r in results),
        retried=sum(r.retried for r in results),
        elapsed=sum(r.elapsed for r in results),
        skipped=sum(r.skipped for r in results),
    )


def _log_failure(task: asyncio.Task[BroadcastResult | None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("daily tip pass failed; the next pass retries", exc_info=task.exception())
