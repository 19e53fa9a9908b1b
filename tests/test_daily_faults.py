"""Daily tips on a database that cannot be written (issue 10, defect 1): no tip is ever sent twice.

A real run_bot.py against the loopback fake, its database on a small tmpfs. Six subscribers are due when
the bot starts; tips go out one at a time (BROADCAST_RATE=1) and Telegram answers each 2 s late, so the
test can fill the disk while the first tip is in flight. Then the bot is restarted three times: on the
still-full disk, on the same filesystem remounted read-only, and once more with room again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.storage import Store
from tests.botproc import BotProcess
from tests.fake_telegram import FakeTelegram
from tests.faults import fill, mount, small_tmpfs

USERS = tuple(range(720_001, 720_007))
TIP_MARK = "Your daily tip"
BOT_ENV = {"DELIVERY_INTERVAL": "0.5", "BROADCAST_RATE": "1"}
WATCH = 4.0  # seconds of passes (one every 0.5 s) watched for repeats after each step
PAUSED_LINE = "daily tips paused"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 512 kB tmpfs (skipped, with the reason, where mounting is not allowed)."""
    with small_tmpfs(tmp_path, "512k") as folder:
        yield folder


def zone_past_midnight(now: datetime) -> str:
    """A fixed-offset zone whose local time is at least ten minutes past midnight at `now`."""
    for zone in ("UTC", "Etc/GMT-12", "Etc/GMT+12"):
        local = now.astimezone(ZoneInfo(zone))
        if local.hour * 60 + local.minute >= 10:
            return zone
    msg = "unreachable: three zones 12 h apart cannot all be near midnight"
    raise AssertionError(msg)


def seed(database: Path) -> None:
    """Subscribe USERS two days ago for 00:00 local time, so today's tip is due now for each."""

    async def run() -> None:
        now = datetime.now(UTC)
        zone = zone_past_midnight(now)
        store = await Store.open(database)
        try:
            for user_id in USERS:
                await store.subscribe(user_id, user_id, "00:00", zone, now - timedelta(days=2))
        finally:
            await store.close()

    asyncio.run(run())


def tips(tg: FakeTelegram, chat_id: int) -> int:
    """How many daily tips the fake accepted for one chat."""
    return sum(TIP_MARK in (call.text or "") for call in tg.sent_messages(chat_id))


def tip_counts(tg: FakeTelegram) -> dict[int, int]:
    """Daily tips accepted per subscriber."""
    return {user_id: tips(tg, user_id) for user_id in USERS}


def run_for(tg: FakeTelegram, workdir: Path, database: Path, name: str, seconds: float) -> tuple[int | None, str]:
    """Start a bot (it may refuse to start), let it run `seconds`, stop it; return its exit code and log."""
    bot = BotProcess(tg, workdir, env={**BOT_ENV, "DATABASE_PATH": str(database)}, name=name)
    bot.start(wait=False)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and bot.running:
            time.sleep(0.1)
    finally:
        code = bot.stop(timeout=10)
    return code, bot.log_text()


def test_a_full_disk_and_restarts_never_send_a_daily_tip_twice(
    tg: FakeTelegram, tmp_path: Path, small_fs: Path
) -> None:
    """Disk full mid-pass, restarts on a full and a read-only store, then room again: each user gets one tip."""
    database = small_fs / "bot.sqlite3"
    seed(database)
    tg.delay("sendMessage", 2.0)
    first = BotProcess(tg, tmp_path, env={**BOT_ENV, "DATABASE_PATH": str(database)}, name="first")
    with first:
        tg.wait_until(lambda: tg.arrivals("sendMessage") >= 1, timeout=20, what="the first tip in flight")
        fill(small_fs)
        tg.wait_until(lambda: tg.sent_messages(), timeout=10, what="the first tip answered")
        tg.delay("sendMessage", 0)
        time.sleep(WATCH + len(USERS))  # the rest of the pass at 1 tip/s, then passes that could repeat
        during = tip_counts(tg)
        log = first.log_text()
    # Whoever got a tip got exactly one, and the pass said once that it stopped.
    assert max(during.values()) == 1, during
    assert log.count(PAUSED_LINE) == 1, log

    # Restart on the still-full disk: a full disk may let a write or two through (pages freed at the stop),
    # so someone not yet served may get a tip, but nobody a second one, and the outage is said once at most.
    _, log = run_for(tg, tmp_path, database, "full", WATCH)
    after_full = tip_counts(tg)
    assert max(after_full.values()) == 1, log
    assert all(after_full[user_id] == 1 for user_id, n in during.items() if n), log
    assert log.count(PAUSED_LINE) + log.count("DATABASE_PATH cannot be used") <= 1, log

    # Restart with the filesystem read-only: nothing is sent either.
    (small_fs / "filler").unlink()
    remounted = mount("-o", "remount,ro", str(small_fs))
    assert remounted.returncode == 0, remounted.stderr
    _, log = run_for(tg, tmp_path, database, "read-only", WATCH)
    assert tip_counts(tg) == after_full, log
    assert log.count(PAUSED_LINE) + log.count("DATABASE_PATH cannot be used") == 1, log

    # Room again: those not yet served get their tip, once; nobody gets a second one.
    assert mount("-o", "remount,rw", str(small_fs)).returncode == 0
    run_for(tg, tmp_path, database, "writable", WATCH + len(USERS))
    assert tip_counts(tg) == dict.fromkeys(USERS, 1)
