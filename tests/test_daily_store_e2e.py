"""End-to-end: the daily-tip store under a real run_bot.py: old deliveries are purged by the daily retention job."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.storage import Store
from tests.botproc import BotProcess
from tests.fake_telegram import FakeTelegram


def test_deliveries_older_than_the_retention_period_are_purged(tmp_path: Path) -> None:
    """With RETENTION_DAYS=30, the retention job at start deletes 40-day-old deliveries and keeps yesterday's."""
    database = tmp_path / "bot.sqlite3"
    now = datetime.now(UTC)

    async def seed() -> None:
        store = await Store.open(database)
        try:
            for user_id in (1, 2):
                await store.subscribe(user_id, user_id, "03:00", "UTC", now - timedelta(days=50))
                for days_ago in (40, 1):
                    day = (now - timedelta(days=days_ago)).date()
                    await store.record_delivery(user_id, day, "tip", now - timedelta(days=days_ago))
        finally:
            await store.close()

    asyncio.run(seed())
    env = {"DATABASE_PATH": str(database), "RETENTION_DAYS": "30"}
    with FakeTelegram() as tg, BotProcess(tg, tmp_path, env=env) as bot:
        bot.wait_for_log("retention: purged 2 daily-tip deliveries older than 30 days", timeout=20)
    with contextlib.closing(sqlite3.connect(database)) as conn:
        days = {day for (day,) in conn.execute("SELECT local_date FROM deliveries")}
    # Yesterday's stay; today's tip (due at 03:00 UTC) may have gone out meanwhile.
    assert days - {now.date().isoformat()} == {(now - timedelta(days=1)).date().isoformat()}
