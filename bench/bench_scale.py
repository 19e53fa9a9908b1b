"""Benchmark daily tips at scale: one pass over a store of 1,000,000 active subscriptions, beside the old scan.

Run from the repository root: `python bench/bench_scale.py` (about 3 minutes; `--active 100000` for a quick run).
Options: `--active N`, `--due N` (how many are due at the pass, default 1,000), `--rate` (questions/s),
`--tip-rate` (the pass's BROADCAST_RATE), `--skip-old` (leave out the old method), `--db PATH`.

Build: bot.storage.Store creates the schema (every migration, v1 to v4). N-1,000 subscribers are then
inserted in one transaction through that schema (one users row and one subscriptions row each, as
Store.subscribe writes them; their next due moment comes from bot.schedule.first_due, the function
Store.subscribe calls); the last 1,000 go through Store.subscribe itself, and the bench checks that both
paths wrote the same next_due. Each subscriber has a random HH:MM in one of 20 IANA zones (with and without
daylight saving, fractional offsets included), and all subscribed at the same moment B. The pass moment T
is WINDOW minutes after B: each of `--due` subscribers has a time that falls within those minutes, every
other one a time later in the day, so exactly `--due` are due at T.

Figures, each beside the old method measured in the same run on the same file:
- pass read: what a pass reads before it sends, as bot/delivery.py does it: Store.due_subscriptions(T, 1000)
  and bot.daily.due_deliveries over what it returns (median of 20; the worst too). The old pass read:
  Store.active_timezones, Store.undelivered_active (every active subscription without a delivery today)
  and due_deliveries over all of them, as a pass did before schema v4.
- question p99: questions from bench/bench_bot.py's mix at `--rate`/s, each what
  bot.core.Conversation.on_text does with a question (Knowledge.match, then Store.log_question on the same
  Store), here until its log row is committed (the bot answers without waiting for it); latency counts
  from the moment the question was due to be asked. "During": for the whole of one real pass,
  bot.delivery.DailyDelivery.run_once at T with a send that Telegram accepts at once, paced at `--tip-rate`
  (BROADCAST_RATE, 25/s): the read, then each due tip recorded (one commit, moving next_due on) before its
  send. "Without": as many questions again at the same rate, no pass. p99_ratio = p99 during / p99
  without. For the old method, "during" is one old pass read (its sending part is the same).
- after the pass: how many of the tips just sent are still due (must be none), and what a delivery row
  costs on disk.
- db_mb: the database file after a checkpoint (page_count x page_size) with the subscriptions and their
  users rows, before the pass.

Targets (issue 10): pass <= 50 ms with 1,000 due among 1,000,000; p99_ratio <= 2; db_mb <= 300.
Last line: `scale: active=<n> due=<n> pass_ms=<x> p99_ratio=<x> db_mb=<x>`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_bot import pct, question_mix  # noqa: E402  (bench/ is on sys.path when this file runs)

from bot import daily, schedule  # noqa: E402
from bot.core import Knowledge  # noqa: E402
from bot.delivery import DUE_BATCH, DailyDelivery  # noqa: E402
from bot.storage import Store, Subscription  # noqa: E402
from faq.loader import load_faq  # noqa: E402

_T = TypeVar("_T")
SEED = 20261202
ZONES = (
    "UTC", "Europe/Berlin", "Europe/London", "Europe/Madrid", "Europe/Moscow", "America/New_York",
    "America/Los_Angeles", "America/Mexico_City", "America/Sao_Paulo", "America/St_Johns", "Africa/Lagos",
    "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tehran", "Asia/Dubai", "Asia/Shanghai", "Asia/Tokyo",
    "Australia/Sydney", "Pacific/Auckland", "Etc/GMT-2",
)  # fmt: skip
VIA_SUBSCRIBE = 1000  # subscribers written by Store.subscribe itself, to check the bulk rows against
PASSES = 20
TARGET_PASS_MS = 50.0
TARGET_RATIO = 2.0
TARGET_DB_MB = 300.0
B = datetime(2026, 3, 2, 9, 17, 23, tzinfo=UTC)  # when all subscribed; no zone here changes clocks within a day
WINDOW = 10  # the pass runs at T, WINDOW minutes after B's minute
T = B.replace(second=30) + timedelta(minutes=WINDOW)


def to_db(moment: datetime) -> str:
    """The store's text form of a moment (bot/storage.py _to_db)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def plan(active: int, due: int) -> list[tuple[int, str, str]]:
    """(user id, HH:MM, zone) for every subscriber, deterministic: exactly `due` fall due by T, the rest later."""
    rng = random.Random(SEED)
    owed = set(rng.sample(range(1, active + 1), due))
    people = []
    for n in range(1, active + 1):
        zone = rng.choice(ZONES)
        # Minutes after B's minute, in UTC: within the window for the owed, later in the day for the rest.
        offset = rng.randint(1, WINDOW) if n in owed else rng.randint(WINDOW + 1, 24 * 60 - 1)
        local = (B.replace(second=0) + timedelta(minutes=offset)).astimezone(schedule.zone(zone))
        people.append((n, f"{local:%H:%M}", zone))
    return people


async def build(path: Path, active: int, due: int) -> None:
    """Create the schema with Store, bulk-insert all but the last subscribers, Store.subscribe the rest."""
    await (await Store.open(path)).close()
    people = plan(active, due)
    bulk, single = people[:-VIA_SUBSCRIBE], people[-VIA_SUBSCRIBE:]
    due_cache: dict[tuple[str, str], int] = {}

    def next_due(local_time: str, zone: str) -> int:
        key = (local_time, zone)
        if key not in due_cache:
            due_cache[key] = int(schedule.first_due(local_time, zone, B).timestamp())
        return due_cache[key]

    at = to_db(B)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO users VALUES (?, ?, ?)", ((n, at, at) for n, _, _ in bulk))
        conn.executemany(
            "INSERT INTO subscriptions (user_id, chat_id, local_time, timezone, active, updated_at, next_due)"
            " VALUES (?, ?, ?, ?, 1, ?, ?)",
            ((n, n, hhmm, zone, at, next_due(hhmm, zone)) for n, hhmm, zone in bulk),
        )
        conn.execute("COMMIT")
    store = await Store.open(path)
    try:
        for n, hhmm, zone in single:
            await store.subscribe(n, n, hhmm, zone, B)
    finally:
        await store.close()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        written = conn.execute(
            "SELECT local_time, timezone, next_due FROM subscriptions WHERE user_id > ?", (bulk[-1][0] if bulk else 0,)
        ).fetchall()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    mismatched = [row for row in written if row[2] != next_due(row[0], row[1])]
    if mismatched:
        msg = f"bulk rows disagree with Store.subscribe on next_due, e.g. {mismatched[0]}"
        raise SystemExit(msg)


def db_mb(path: Path) -> float:
    """The database's size in MB after a checkpoint."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    return float(pages) / 1e6


def bytes_per_delivery(path: Path) -> float:
    """Disk bytes of the deliveries table and its indexes per row (SQLite's dbstat)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        rows = conn.execute("SELECT count(*) FROM deliveries").fetchone()[0]
        used = conn.execute(
            "SELECT sum(pgsize - unused) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name = ?)",
            ("deliveries",),
        ).fetchone()[0]
    return float(used or 0) / max(1, int(rows))


def never(user_id: int, day: object) -> bool:
    """No delivery yet (the build records none)."""
    return False


async def new_pass(store: Store, now: datetime) -> list[tuple[Subscription, object]]:
    """What bot/delivery.py reads in a pass: the due batch, then who among it is owed a tip now."""
    subs = await store.due_subscriptions(now, DUE_BATCH)
    return list(daily.due_deliveries(subs, never, now))


async def old_pass(store: Store, now: datetime) -> list[tuple[Subscription, object]]:
    """What a pass read before schema v4: every active subscription without a delivery today."""
    from zoneinfo import ZoneInfo

    local_dates = {zone: now.astimezone(ZoneInfo(zone)).date() for zone in await store.active_timezones()}
    pending = await store.undelivered_active(local_dates)
    return list(daily.due_deliveries(pending, never, now))


async def timed(action: Callable[[], Awaitable[_T]]) -> tuple[float, _T]:
    """Run `action` once; return (milliseconds, its result)."""
    started = time.perf_counter()
    result = await action()
    return (time.perf_counter() - started) * 1000, result


@dataclass(frozen=True)
class Asker:
    """Questions as the bot handles them: the verdict, then the question's log row."""

    knowledge: Knowledge
    store: Store

    async def question(self, user_id: int, text: str) -> None:
        """Match `text` and log it, as Conversation.on_text does (awaiting the write, which the bot does not)."""
        result = self.knowledge.match(text)
        await self.store.log_question(user_id, text, result.entry_id, result.tier, result.score, datetime.now(UTC))


async def ask(asker: Asker, texts: Sequence[str], rate: float, first_user: int) -> list[float]:
    """Ask `texts` at `rate`/s, each from its own user; return each question's latency in ms (until logged)."""
    latencies: list[float] = []
    start = time.perf_counter()

    async def one(n: int, text: str) -> None:
        due = start + n / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        await asker.question(first_user + n, text)
        latencies.append((time.perf_counter() - due) * 1000)

    await asyncio.gather(*(one(n, text) for n, text in enumerate(texts)))
    return latencies


async def while_asking(
    asker: Asker, rate: float, texts: Sequence[str], first_user: int, load: Awaitable[object]
) -> tuple[list[float], float]:
    """Ask questions at `rate`/s from `texts` (cycled) for as long as `load` runs; return latencies and its ms."""
    stop = asyncio.Event()
    latencies: list[float] = []

    async def questions() -> None:
        start = time.perf_counter()
        tasks = []
        n = 0
        while not stop.is_set():
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            tasks.append(asyncio.create_task(one(first_user + n, texts[n % len(texts)], due)))
            n += 1
        await asyncio.gather(*tasks)

    async def one(user_id: int, text: str, due: float) -> None:
        await asker.question(user_id, text)
        latencies.append((time.perf_counter() - due) * 1000)

    asking = asyncio.create_task(questions())
    started = time.perf_counter()
    await load
    elapsed = (time.perf_counter() - started) * 1000
    stop.set()
    await asking
    return latencies, elapsed


async def noop_send(chat_id: int, text: str) -> None:
    """Telegram's side of a tip, not measured here: accepted at once."""
    await asyncio.sleep(0)


async def measure(args: argparse.Namespace, path: Path) -> int:
    """Build, measure, print; return the exit code."""
    print(f"building {args.active:,} subscriptions in {path} ...", flush=True)
    started = time.perf_counter()
    await build(path, args.active, args.due)
    print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
    size = db_mb(path)
    moment = T

    store = await Store.open(path)
    try:
        faq = load_faq()
        asker = Asker(Knowledge(faq), store)
        texts = [text for _, text in question_mix(1000)]
        await ask(asker, texts[:50], args.rate, 10_000_000)  # warm-up: matcher caches, statements

        # The read of a pass, alone: what is due, and who among it is owed a tip now.
        times = []
        found: list[tuple[Subscription, object]] = []
        for _ in range(PASSES):
            ms, found = await timed(lambda: new_pass(store, moment))
            times.append(ms)
        pass_ms, pass_worst = statistics.median(times), max(times)

        old_ms = old_p99 = float("nan")
        due_old = 0
        if not args.skip_old:
            old_ms, old_found = await timed(lambda: old_pass(store, moment))
            due_old = len(old_found)
            old_during, _ = await while_asking(asker, args.rate, texts, 40_000_000, old_pass(store, moment))
            old_p99 = pct(old_during, 99)

        # A whole pass as the bot runs it: read, then record each tip before its (instant) send, paced at
        # --tip-rate; questions flow all along. Then as many questions again with no pass: the baseline.
        delivery = DailyDelivery(store, lambda: faq, noop_send, lambda: moment, rate=args.tip_rate)
        during, whole_ms = await while_asking(asker, args.rate, texts, 20_000_000, delivery.run_once())
        without = await ask(asker, [texts[n % len(texts)] for n in range(len(during))], args.rate, 30_000_000)
        p99_without, p99_during = pct(without, 99), pct(during, 99)
        ratio = p99_during / p99_without
        owed = {sub.user_id for sub, _ in found}
        again = owed & {sub.user_id for sub, _ in await new_pass(store, moment)}
    finally:
        await store.close()
    per_delivery = bytes_per_delivery(path)

    print()
    print(f"active subscriptions: {args.active:,}; pass at {moment:%Y-%m-%d %H:%M} UTC")
    print(f"{'':44} {'new (v4)':>14} {'old (scan)':>14}  target")
    print(f"{'due found':44} {len(found):>14,} {due_old:>14,}")
    print(f"{'pass read ms (median of 20 / worst)':44} {f'{pass_ms:.1f} / {pass_worst:.1f}':>14} {old_ms:>14.1f}"
          f"  <= {TARGET_PASS_MS:.0f}  {'ok' if pass_ms <= TARGET_PASS_MS else 'MISSED'}")
    print(f"{'question p99 ms without a pass':44} {p99_without:>14.2f} {p99_without:>14.2f}")
    print(f"{'question p99 ms during the pass':44} {p99_during:>14.2f} {old_p99:>14.2f}"
          f"  ({len(during)} questions over a {whole_ms / 1000:.1f} s pass at {args.tip_rate:g} tips/s)")
    print(f"{'p99 ratio (during / without)':44} {ratio:>14.2f} {old_p99 / p99_without:>14.2f}"
          f"  <= {TARGET_RATIO:.0f}  {'ok' if ratio <= TARGET_RATIO else 'MISSED'}")
    print(f"{'db MB (subscriptions + users)':44} {size:>14.1f} {'same file':>14}"
          f"  <= {TARGET_DB_MB:.0f}  {'ok' if size <= TARGET_DB_MB else 'MISSED'}")
    print(f"after the pass: {len(again)} of the {len(found):,} sent still due; "
          f"a delivery row costs {per_delivery:.0f} bytes with its indexes")
    print(f"scale: active={args.active} due={len(found)} pass_ms={pass_ms:.1f} p99_ratio={ratio:.2f} db_mb={size:.1f}")
    met = pass_ms <= TARGET_PASS_MS and ratio <= TARGET_RATIO and size <= TARGET_DB_MB and not again
    return 0 if met else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options and run the benchmark on a temporary file (or --db)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--active", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="questions per second")
    parser.add_argument("--tip-rate", type=float, default=25.0, help="the pass's BROADCAST_RATE, tips per second")
    parser.add_argument("--skip-old", action="store_true", help="leave out the old method")
    parser.add_argument("--db", type=Path, help="build the store here (must not exist) instead of a temp dir")
    args = parser.parse_args(argv)
    if args.active <= VIA_SUBSCRIBE or not 0 < args.due <= args.active:
        parser.error(f"--active must exceed {VIA_SUBSCRIBE} and --due lie in 1..active")
    if args.db is not None:
        if args.db.exists():
            parser.error(f"{args.db} exists")
        return asyncio.run(measure(args, args.db))
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as folder:
        return asyncio.run(measure(args, Path(folder) / "bot.sqlite3"))


if __name__ == "__main__":
    raise SystemExit(main())
