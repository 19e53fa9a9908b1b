"""End-to-end: the daily tip from a real `run_bot.py` against the loopback Bot API fake.

One scenario, run once for the module because it waits for a real UTC minute: 40 users and one more
subscribe for the next minute; that one then removes the bot (my_chat_member "kicked"); the bot is
SIGKILLed and restarted on the same SQLite file; 3 of the 40 have blocked the bot and the first sendMessage
calls at the minute get 429 retry_after=1. The tests below each check one part of what happened.
"""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.delivery import daily_tip_text
from faq.loader import load_faq
from faq.tips import tip_of_the_day
from tests.botproc import BotProcess
from tests.fake_telegram import Call, FakeTelegram

USERS = tuple(range(710_001, 710_041))  # 40 subscribers, private chats (chat id = user id)
BLOCKED = USERS[-3:]  # these blocked the bot before the minute
LIVE = USERS[:-3]
KICKED = 710_100  # subscribes, then removes the bot: my_chat_member "kicked"
PROBE = 710_999  # talks to the restarted bot to see that it answers
INJECTED_429S = 6
MIN_LEAD = 15.0  # seconds needed between choosing the minute and reaching it
SETTLE = 4.0  # seconds to keep watching after the last tip, for duplicates
BOT_ENV = {"DELIVERY_INTERVAL": "0.5", "BROADCAST_RATE": "50"}


@dataclass(frozen=True)
class Outcome:
    """What the scenario observed; every time is wall-clock UTC."""

    minute: datetime
    confirmations: dict[int, list[Call]]
    tips: dict[int, list[Call]]  # sendMessage calls carrying a daily tip, per chat, successful only
    tip_times: dict[int, list[datetime]]
    flood_times: list[datetime]  # when each injected 429 was answered
    send_times: list[datetime]  # when each sendMessage of the minute arrived, whatever its answer
    blocked_attempts: dict[int, int]
    kicked_off_before_kill: bool
    kill_code: int
    active: dict[int, int]  # subscriptions.active per user, read after the bot stopped
    delivered: dict[int, list[str]]  # deliveries.local_date per user
    violations: list[str]


def next_minute(now: datetime) -> datetime:
    """The next whole UTC minute at least MIN_LEAD seconds away."""
    minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    if (minute - now).total_seconds() < MIN_LEAD:
        minute += timedelta(minutes=1)
    return minute


def read_db(path: Path, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one query on the bot's SQLite file, read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql, params).fetchall()


def wall_clock() -> tuple[float, float]:
    """(time.time(), time.monotonic()) taken together, to turn a Call.time into wall-clock time."""
    return time.time(), time.monotonic()


def to_utc(monotonic: float, anchor: tuple[float, float]) -> datetime:
    """Convert a monotonic reading into an aware UTC datetime."""
    wall, mono = anchor
    return datetime.fromtimestamp(wall + (monotonic - mono), UTC)


def wait_until_utc(moment: datetime) -> None:
    """Sleep until the wall clock reaches `moment`."""
    while (remaining := (moment - datetime.now(UTC)).total_seconds()) > 0:
        time.sleep(min(remaining, 1.0))


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """Run the whole scenario once and return what happened."""
    workdir = tmp_path_factory.mktemp("daily-e2e")
    database = workdir / "bot.sqlite3"
    env = {**BOT_ENV, "DATABASE_PATH": str(database)}
    with FakeTelegram() as tg:
        first = BotProcess(tg, workdir, env=env, name="first")
        try:
            first.start()
            minute = next_minute(datetime.now(UTC))
            hhmm = minute.strftime("%H:%M")
            for user_id in (*USERS, KICKED):
                tg.push_message(user_id, f"/daily {hhmm} UTC")
            confirmations = {user_id: [tg.wait_for_message(user_id, timeout=20)] for user_id in (*USERS, KICKED)}

            tg.push_my_chat_member(KICKED, "kicked")  # also makes the fake refuse sends to that chat
            kicked_off = _wait_for_inactive(database, KICKED)
            for chat_id in BLOCKED:
                tg.block_chat(chat_id)
            tg.wait_until(lambda: tg.pending_updates == 0, what="every update confirmed")
        finally:
            kill_code = first.kill()

        with BotProcess(tg, workdir, env=env, name="second") as second:
            # The fake may still hold the killed bot's long poll, so wait for a real answer.
            tg.push_message(PROBE, "/start")
            tg.wait_for_message(PROBE, timeout=30)
            assert datetime.now(UTC) < minute - timedelta(seconds=1), (
                f"setup ran past the chosen minute {minute:%H:%M:%S}; the machine is too slow for this test"
            )
            tg.fail_next("sendMessage", 429, retry_after=1, count=INJECTED_429S)
            anchor = wall_clock()
            before_minute = len(tg.calls)

            wait_until_utc(minute)
            tg.wait_until(lambda: all(_tips(tg, chat_id) for chat_id in LIVE), timeout=30, what="a tip to every user")
            time.sleep(SETTLE)
            minute_calls = [c for c in tg.calls[before_minute:] if c.method == "sendMessage"]
            blocked_attempts = {int(k): v for k, v in tg.blocked_attempts.items()}
            tips = {chat_id: _tips(tg, chat_id) for chat_id in (*USERS, KICKED)}
            violations = tg.violations
        assert second.returncode == 0, second.log_text()

    ids = (*USERS, KICKED)
    marks = ",".join("?" * len(ids))
    sql = f"SELECT user_id, active FROM subscriptions WHERE user_id IN ({marks})"  # noqa: S608 placeholders only
    active: dict[int, int] = dict(read_db(database, sql, ids))
    delivered: dict[int, list[str]] = {}
    for user_id, local_date in read_db(database, "SELECT user_id, local_date FROM deliveries ORDER BY local_date"):
        delivered.setdefault(user_id, []).append(local_date)
    return Outcome(
        minute=minute,
        confirmations=confirmations,
        tips=tips,
        tip_times={chat_id: [to_utc(c.time, anchor) for c in calls] for chat_id, calls in tips.items()},
        flood_times=[to_utc(c.time, anchor) for c in minute_calls if c.status == 429],
        send_times=[to_utc(c.time, anchor) for c in minute_calls],
        blocked_attempts=blocked_attempts,
        kicked_off_before_kill=kicked_off,
        kill_code=kill_code,
        active=active,
        delivered=delivered,
        violations=violations,
    )


def _tips(tg: FakeTelegram, chat_id: int) -> list[Call]:
    """Successful sendMessage calls to a chat that carry a daily tip."""
    return [c for c in tg.sent_messages(chat_id) if c.method == "sendMessage" and "Your daily tip" in (c.text or "")]


def _wait_for_inactive(database: Path, user_id: int, timeout: float = 10.0) -> bool:
    """Poll the SQLite file until the user's subscription is off; False if it stays on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if read_db(database, "SELECT active FROM subscriptions WHERE user_id = ?", (user_id,)) == [(0,)]:
            return True
        time.sleep(0.05)
    return False


# --- the tests ----------------------------------------------------------------------------------------


def test_every_subscriber_gets_a_confirmation(outcome: Outcome) -> None:
    """`/daily HH:MM UTC` is confirmed to each of the 41 users with the time and zone they chose."""
    hhmm = outcome.minute.strftime("%H:%M")
    for user_id, (reply, *_) in outcome.confirmations.items():
        assert reply.text is not None
        assert reply.text.startswith("✅ Done!"), (user_id, reply.text)
        assert f"{hhmm} every day, UTC" in reply.text


def test_each_live_subscriber_gets_exactly_one_tip(outcome: Outcome) -> None:
    """After a SIGKILL and restart, each of the 37 users who did not block the bot gets exactly one tip."""
    assert outcome.kill_code == -signal.SIGKILL
    assert {chat_id: len(outcome.tips[chat_id]) for chat_id in LIVE} == dict.fromkeys(LIVE, 1)


def test_tip_text_is_the_tip_of_the_day(outcome: Outcome) -> None:
    """The tip sent is the tip of the day for the subscriber's local (UTC) date, as daily_tip_text renders it."""
    expected = daily_tip_text(tip_of_the_day(load_faq().tips, outcome.minute.date()))
    assert {call.text for chat_id in LIVE for call in outcome.tips[chat_id]} == {expected}


def test_tips_go_out_at_the_minute_not_before(outcome: Outcome) -> None:
    """No tip arrives before the chosen minute, and all arrive within 15 s after it despite the 429s."""
    times = [t for chat_id in LIVE for t in outcome.tip_times[chat_id]]
    assert min(times) >= outcome.minute
    # Each injected 429 pauses every send for 1 s; 40 sends at 50/s take under 1 s more.
    assert max(times) <= outcome.minute + timedelta(seconds=15)


def test_flood_control_answers_are_waited_out(outcome: Outcome) -> None:
    """Every injected 429 reached the bot, and no send followed one within most of its retry_after=1 s."""
    assert len(outcome.flood_times) == INJECTED_429S
    for flood in outcome.flood_times:
        # Sends already in flight when the 429 came back may land a little later; after that, silence.
        quiet = (flood + timedelta(seconds=0.5), flood + timedelta(seconds=0.9))
        too_soon = [t for t in outcome.send_times if quiet[0] < t < quiet[1]]
        assert too_soon == [], f"sends {too_soon} came less than 0.9 s after a 429 at {flood}"


def test_blocked_users_are_tried_at_most_three_times_and_unsubscribed(outcome: Outcome) -> None:
    """Users who blocked the bot get 1 to 3 refused attempts, no tip, and their subscriptions end up off."""
    for chat_id in BLOCKED:
        assert 1 <= outcome.blocked_attempts.get(chat_id, 0) <= 3, outcome.blocked_attempts
        assert outcome.tips[chat_id] == []
        assert outcome.active[chat_id] == 0
        assert chat_id not in outcome.delivered


def test_kicked_update_turns_the_subscription_off(outcome: Outcome) -> None:
    """A my_chat_member "kicked" update turns the subscription off at once, so no send is even tried."""
    assert outcome.kicked_off_before_kill
    assert outcome.active[KICKED] == 0
    assert outcome.blocked_attempts.get(KICKED, 0) == 0
    assert outcome.tips[KICKED] == []


def test_deliveries_are_recorded_once_per_live_user(outcome: Outcome) -> None:
    """The SQLite file has one delivery row per live user, for the minute's date; their subscriptions stay on."""
    today = outcome.minute.date().isoformat()
    assert {user_id: outcome.delivered.get(user_id) for user_id in LIVE} == {user_id: [today] for user_id in LIVE}
    assert {user_id: outcome.active[user_id] for user_id in LIVE} == dict.fromkeys(LIVE, 1)


def test_no_api_violations(outcome: Outcome) -> None:
    """Every call both bot processes made was valid Bot API."""
    assert outcome.violations == []
