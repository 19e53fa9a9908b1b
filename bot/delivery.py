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
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram.error import BadRequest, Forbidden

from bot import daily
from bot.broadcast import Broadcaster, BroadcastItem, BroadcastResult, SendFn
from bot.render import esc
from bot.storage import Store
from faq.models import Faq, Tip
from faq.tips import tip_of_the_day

logger = logging.getLogger(__name__)


def daily_tip_text(tip: Tip) -> str:
    """Return the HTML of a daily tip message."""
    return f"💡 <b>Your daily tip</b>\n\n{esc(tip.text)}\n\n<i>Send /daily off to stop these.</i>"


class DailyDelivery:
    """One pass of the scheduler at a time: pick the due subscriptions, broadcast, record."""

    def __init__(
        self,
        store: Store,
        faq: Callable[[], Faq],
        send: SendFn,
        clock: Callable[[], datetime],
        rate: float = 25.0,
    ) -> None:
        self.store = store
        self.faq = faq
        self.clock = clock
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[BroadcastResult | None] | None = None
        self._raw_send = send
        self._refused: set[int] = set()  # chats that refused a tip during the current pass
        self._given_up: set[tuple[int, date]] = set()  # (user, local date) not to retry today
        self._recorded_at: dict[tuple[int, date], datetime] = {}  # tips recorded, not yet sent or released
        self._halted = False  # this pass met a store that cannot be written: claim nothing more
        self.store_unwritable = False  # the last record failed; cleared by the next one that works
        self.lost = 0  # tips recorded but not sent that could not be released (missed that day)
        self.broadcaster = Broadcaster(
            self._send,
            claim=self._claim,
            on_sent=self._sent,
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
        """Send every tip that is due now; None if a previous pass is still sending."""
        if self._lock.locked():
            return None
        async with self._lock:
            now = self.clock()
            local_dates = {}
            for zone in await self.store.active_timezones():
                try:
                    local_dates[zone] = now.astimezone(ZoneInfo(zone)).date()
                except (ZoneInfoNotFoundError, ValueError):
                    logger.warning("skipping subscriptions with unknown time zone %r", zone)
            pending = await self.store.undelivered_active(local_dates)
            due = daily.due_deliveries(pending, lambda user, day: (user, day) in self._given_up, now)
            if not due:
                return None
            tips = self.faq().tips
            items = []
            for sub, local_date in due:
                tip = tip_of_the_day(tips, local_date)
                items.append(BroadcastItem(sub.chat_id, sub.user_id, daily_tip_text(tip), local_date, tip.id))
            self._refused.clear()
            self._halted = False
            result = await self.broadcaster.broadcast(item for item in items if not self._halted)
            today = {item.local_date for item in items}
            self._given_up = {(u, d) for u, d in self._given_up if d in today}  # older days are never owed
            self._given_up.update((item.user_id, item.local_date) for item in items if item.chat_id in self._refused)
            self._recorded_at.clear()
            if self.lost:
                logger.error("%d recorded tips were not sent and could not be released: missed today", self.lost)
                self.lost = 0
            return result  # the broadcaster has logged its summary

    async def _claim(self, item: BroadcastItem) -> bool:
        """Record the tip before it is sent; False (send nothing) if it cannot be, or is already recorded."""
        if self._halted:
            return False
        at = self.clock()
        try:
            recorded = await self.store.record_delivery(item.user_id, item.local_date, item.tip_id, at)
        except sqlite3.Error as exc:
            self._halt(exc)
            return False
        if self.store_unwritable:
            self.store_unwritable = False
            logger.warning("daily tips resumed: the database can be written again")
        if recorded:
            self._recorded_at[(item.user_id, item.local_date)] = at
        return recorded  # False: already recorded, or the user ran /forget meanwhile

    async def _sent(self, item: BroadcastItem) -> None:
        """The tip went out (or may have: a timeout); its record stays."""
        self._recorded_at.pop((item.user_id, item.local_date), None)

    async def _unsent(self, item: BroadcastItem) -> None:
        """Release the record of a tip that was not sent, so a later pass may try again."""
        at = self._recorded_at.pop((item.user_id, item.local_date), None)
        if at is None:
            return
        try:
            await self.store.release_delivery(item.user_id, item.local_date, item.tip_id, at)
        except sqlite3.Error as exc:
            self._halt(exc)
            self.lost += 1  # at most once: this user misses today's tip rather than risk a second one

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


def _log_failure(task: asyncio.Task[BroadcastResult | None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("daily tip pass failed; the next pass retries", exc_info=task.exception())
