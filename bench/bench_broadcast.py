"""Benchmark the daily-tip broadcast: 5,000 subscribers fall due at once against a fake that enforces L messages/s.

Run from the repository root: `python bench/bench_broadcast.py` (about a minute at L = 200). Options:
`--limit L` (the fake's overall limit, messages/s), `--broadcast-rate` (the bot's BROADCAST_RATE, default L),
`--subscribers`, `--questions`, `--question-rate`.

Setup: a fresh SQLite file is seeded through bot.storage.Store before the bot starts: every subscriber has
chat_id = user_id, time zone UTC, local_time = the last whole minute before now (UTC) and updated_at one
minute before that, so bot/daily.py due_deliveries owes each of them today's tip at once (due instant <= now
and >= updated_at, nothing delivered today). The fake (tests/fake_telegram.py) answers sendMessage beyond L/s
overall with 429 retry_after=1 (a token bucket holding one second's worth). Then `run_bot.py` starts with
BROADCAST_RATE and DELIVERY_INTERVAL=1; its first tick (0.5 s) starts the broadcast.

While the broadcast runs, other users (their own chat ids, a range apart) ask questions at a steady rate
(default 200 at 20/s, from the bench_bot mix), starting once the broadcast has sent 5% of the tips. When
the broadcast is over, the same number of questions is asked again at the same rate: the no-broadcast
baseline, in the same bot process and the same run. Question latency = arrival of the first successful
reply at the fake - the moment getUpdates handed the update out. A reply that PTB's rate limiter had to
retry after a 429 counts from the hand-out to the retry that succeeded.

Tips and answers are both sendMessage: a tip is a successful sendMessage to a subscriber's chat whose text
is bot/delivery.py daily_tip_text(tip) for some FAQ tip. Achieved rate = (tips - 1) / (last tip - first tip
attempt). Lost = subscribers without a tip message, duplicated = subscribers with more than one; both are
cross-checked against the deliveries table after the bot has stopped. Peak memory = VmHWM of the bot.

Targets: achieved rate >= 0.9 L; 0 lost, 0 duplicated; question p99 during the broadcast <= 2 x the p99
without it; peak RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_bot import (  # noqa: E402  (bench/ is on sys.path when this file runs)
    PhaseResult,
    Runner,
    TimedFake,
    cpu_seconds,
    pct,
    question_mix,
    running,
)

from bot.delivery import daily_tip_text  # noqa: E402
from bot.storage import Store  # noqa: E402
from faq.loader import load_faq  # noqa: E402
from faq.models import DEFAULT_FAQ_PATH  # noqa: E402

LIMIT = 200.0
SUBSCRIBERS = 5_000
QUESTIONS = 200
QUESTION_RATE = 20.0
SUBSCRIBER_BASE = 500_000_000  # subscriber user id = chat id = SUBSCRIBER_BASE + 1 .. + n
QUESTION_USER_BASE = 700_000_000  # askers: far from the subscribers' range
START_QUESTIONS_AT = 0.05  # share of tips sent before the questions start

TARGET_RATE_SHARE = 0.9
TARGET_LATENCY_FACTOR = 2.0
TARGET_RSS_MB = 150.0

_SUMMARY = re.compile(r"broadcast done: (\d+) sent, (\d+) blocked, (\d+) failed, (\d+) retries in ([\d.]+)s")


# --------------------------------------------------------------------------------------------- seeding


def due_now_schedule(now: datetime) -> tuple[str, datetime]:
    """Return (local_time, updated_at) that make a UTC subscription due at `now` and owed today's tip."""
    due = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    return due.strftime("%H:%M"), due - timedelta(minutes=1)


def wait_for_safe_minute() -> None:
    """Keep the whole run inside one UTC day, at least two minutes after midnight."""
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if now.hour == 0 and now.minute < 2:
        wait = (now.replace(minute=2, second=1) - now).total_seconds()
    elif midnight - now < timedelta(minutes=5):
        wait = (midnight - now).total_seconds() + 121
    else:
        return
    print(f"waiting {wait:.0f}s so that the run stays within one UTC day")
    time.sleep(wait)


async def seed(path: Path, subscribers: int) -> tuple[str, float]:
    """Subscribe `subscribers` users (chat_id = user_id) due now; return (local_time, seconds taken)."""
    started = time.monotonic()
    local_time, updated_at = due_now_schedule(datetime.now(UTC))
    store = await Store.open(path)
    try:
        for user_id in range(SUBSCRIBER_BASE + 1, SUBSCRIBER_BASE + subscribers + 1):
            await store.subscribe(user_id, user_id, local_time, "UTC", updated_at)
    finally:
        await store.close()
    return local_time, time.monotonic() - started


# --------------------------------------------------------------------------------------------- checks


def tip_texts() -> set[str]:
    """Every text bot/delivery.py can send as a daily tip."""
    return {daily_tip_text(tip) for tip in load_faq(DEFAULT_FAQ_PATH).tips}


def deliveries_table(path: Path, local_date: str) -> Counter[int]:
    """Rows per user in the deliveries table for `local_date` (read after the bot stopped)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT user_id FROM deliveries WHERE local_date = ?", (local_date,)).fetchall()
    return Counter(int(user_id) for (user_id,) in rows)


def _sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=LIMIT, help="the fake's overall limit L, messages/s")
    parser.add_argument("--broadcast-rate", type=float, default=None, help="the bot's BROADCAST_RATE (default: L)")
    parser.add_argument("--subscribers", type=int, default=SUBSCRIBERS)
    parser.add_argument("--questions", type=int, default=QUESTIONS, help="questions during, and again after")
    parser.add_argument("--question-rate", type=float, default=QUESTION_RATE, help="questions/s")
    parser.add_argument("--bot-script", default="run_bot.py", help="script to run instead of run_bot.py (diagnostics)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _sigterm)
    limit = args.limit
    broadcast_rate = args.broadcast_rate if args.broadcast_rate is not None else limit
    n = args.subscribers
    first_sub, last_sub = SUBSCRIBER_BASE + 1, SUBSCRIBER_BASE + n

    wait_for_safe_minute()
    texts = tip_texts()
    print(
        f"bench_broadcast: {n} subscribers due at once; fake limit L = {limit:g} messages/s (429 retry_after=1 "
        f"beyond it); BROADCAST_RATE={broadcast_rate:g}, DELIVERY_INTERVAL=1; {args.questions} questions at "
        f"{args.question_rate:g}/s during the broadcast, then {args.questions} more after it"
    )
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

    with tempfile.TemporaryDirectory(prefix="bench_broadcast_") as tmp, TimedFake() as tg:
        workdir = Path(tmp)
        db = workdir / "bot.sqlite3"
        local_time, seeded_in = asyncio.run(seed(db, n))
        today = datetime.now(UTC).date().isoformat()
        print(f"seeded {n} subscriptions (local_time {local_time} UTC) through Store in {seeded_in:.1f}s")

        tg.rate_limit(per_second=limit)
        runner = Runner(tg)
        runner.next_user = QUESTION_USER_BASE
        during = question_mix(args.questions, seed=7)
        after = question_mix(args.questions, seed=8)
        env = {"DATABASE_PATH": str(db), "BROADCAST_RATE": f"{broadcast_rate:g}", "DELIVERY_INTERVAL": "1"}
        expected_span = n / min(limit, broadcast_rate)

        def tip_calls() -> list:  # every sendMessage attempt to a subscriber chat with a tip text
            return [
                c for c in tg.calls_to("sendMessage")
                if first_sub <= (c.chat_id or 0) <= last_sub and c.text in texts
            ]

        with running(tg, "real", [args.bot_script], workdir, env) as bot:
            cpu_start = cpu_seconds(bot.proc.pid)
            # Questions start once the broadcast is under way.
            tg.wait_for_calls("sendMessage", max(1, round(START_QUESTIONS_AT * n)), timeout=60)
            asked_during = runner.paced(during, args.question_rate, timeout=60 + expected_span)
            # Wait for the broadcast to finish: the bot logs its summary line.
            deadline = time.monotonic() + 3 * expected_span + 60
            while (summary := _SUMMARY.search(bot.log_tail(100_000))) is None:
                if time.monotonic() > deadline or bot.proc.poll() is not None:
                    msg = f"the broadcast did not finish in time:\n{bot.log_tail()}"
                    raise RuntimeError(msg)
                time.sleep(0.2)
            time.sleep(1.5)  # a tick or two after the broadcast, as in steady state
            asked_after = runner.paced(after, args.question_rate)
            rss = bot.peak_rss_mb()
            bot_cpu = cpu_seconds(bot.proc.pid) - cpu_start
            attempts = tip_calls()
        log = bot.log_tail(100_000)
        table = deliveries_table(db, today)

    # --- figures
    ok_tips = [c for c in attempts if c.ok]
    per_chat = Counter(int(c.chat_id) for c in ok_tips)
    lost = n - len(per_chat)
    duplicated = sum(1 for count in per_chat.values() if count > 1)
    table_lost = n - sum(1 for uid in range(first_sub, last_sub + 1) if table.get(uid))
    table_dup = sum(1 for count in table.values() if count > 1)
    mismatched = sum(1 for uid in range(first_sub, last_sub + 1) if (per_chat.get(uid, 0) > 0) != (uid in table))
    tip_429 = sum(1 for c in attempts if c.status == 429)
    answer_429 = sum(
        1 for c in tg.calls_to("sendMessage") if c.status == 429 and (c.chat_id or 0) >= QUESTION_USER_BASE
    )
    first_attempt = min(c.time for c in attempts) if attempts else float("nan")
    last_ok = max(c.time for c in ok_tips) if ok_tips else float("nan")
    span = last_ok - first_attempt
    achieved = (len(ok_tips) - 1) / span if len(ok_tips) > 1 and span > 0 else float("nan")
    # Pacing: how much of the span went in stalls (gaps between consecutive tips of 4+ slots of 1/BROADCAST_RATE).
    times = sorted(c.time for c in ok_tips)
    slot = 1 / broadcast_rate
    stalls = [b - a for a, b in pairwise(times) if b - a >= 4 * slot]
    stalled = sum(gap - slot for gap in stalls)
    p99_during, p99_after = pct(asked_during.from_handout, 99), pct(asked_after.from_handout, 99)
    summary_text = summary.group(0) if summary else "(no summary line)"
    warnings = len(re.findall(r"flood control: pausing", log))

    rows = [
        ("achieved tip rate, tips/s", f"{achieved:.1f}", f"{achieved / limit:.2f} L",
         f">= {TARGET_RATE_SHARE:g} L = {TARGET_RATE_SHARE * limit:g}", verdict(achieved >= TARGET_RATE_SHARE * limit)),
        ("  tips sent / broadcast span", f"{len(ok_tips)}", f"{span:.1f} s", f"(ideal {n / limit:.1f} s at L)", ""),
        ("  429s: tips / answers", f"{tip_429}", f"{answer_429}", f"(flood pauses logged: {warnings})", ""),
        ("  stalls >= 4 slots: count / time lost", f"{len(stalls)}", f"{stalled:.1f} s",
         f"(slot = 1/BROADCAST_RATE = {1000 * slot:.1f} ms)", ""),
        ("tips lost (messages)", f"{lost}", "", "0", verdict(lost == 0)),
        ("tips duplicated (messages)", f"{duplicated}", "", "0", verdict(duplicated == 0)),
        ("deliveries table: missing / dup rows", f"{table_lost}", f"{table_dup}", "0 / 0",
         verdict(table_lost == 0 and table_dup == 0)),
        ("  table vs messages disagree", f"{mismatched}", "", "0", verdict(mismatched == 0)),
        ("question latency ms, p50", f"{pct(asked_during.from_handout, 50):.1f}",
         f"{pct(asked_after.from_handout, 50):.1f}", "(during / without broadcast)", ""),
        ("question latency ms, p99", f"{p99_during:.1f}", f"{p99_after:.1f}",
         f"during <= 2 x without = {TARGET_LATENCY_FACTOR * p99_after:.1f}",
         verdict(p99_during <= TARGET_LATENCY_FACTOR * p99_after)),
        ("  max ms", f"{max(asked_during.from_handout):.1f}", f"{max(asked_after.from_handout):.1f}", "", ""),
        ("peak RSS MB (VmHWM) / bot CPU s", f"{rss:.1f}", f"{bot_cpu:.1f}", f"<= {TARGET_RSS_MB:g} MB",
         verdict(rss <= TARGET_RSS_MB)),
    ]
    print(f"\n{'':38} {'':>10} {'':>10}   target")
    for label, a, b, target, ok in rows:
        print(f"{label:38} {a:>10} {b:>10}   {target:<36} {ok}".rstrip())
    print(f"bot's summary: {summary_text}")
    if args.bot_script != "run_bot.py":
        print("bot's output after the summary:", log[log.index(summary_text) + len(summary_text):][-3000:], sep="\n")
    overlapped = sum(1 for t in asked_during.replied_at if first_attempt <= t <= last_ok)
    print(f"'during' questions answered between the first and the last tip: {overlapped} of {asked_during.n}")
    if tg.violations:
        print("violations:", *tg.violations[:5], sep="\n  ")
    _report_slow(asked_during)
    return 0 if all(row[4] != "MISSED" for row in rows) else 1


def _report_slow(result: PhaseResult) -> None:
    """Show how the slow 'during' answers are distributed (429 retries take >= 1 s)."""
    slow = sorted(x for x in result.from_handout if x >= 1000)
    if slow:
        print(f"'during' answers slower than 1 s: {len(slow)} of {result.n} (from {slow[0]:.0f} to {slow[-1]:.0f} ms)")


if __name__ == "__main__":
    raise SystemExit(main())
