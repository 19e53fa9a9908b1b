"""SQLite store (aiosqlite): the only module that holds SQL. Every statement is parameterised."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiosqlite

from bot import schedule

QUESTION_TEXT_LIMIT = 500
RECENT_QUESTIONS = 5
TOP_UNANSWERED = 20
WORST_RATED = 10
TIERS = frozenset({"answer", "suggest", "none"})
_LOCAL_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
_QUESTION_PUNCTUATION = "?!.,;:…¡¿\"'«»“”"

# Each step moves the schema up one version and runs in its own transaction. Append only: a released
# step is never edited, because databases out there already ran it.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # v1: who we saw, daily-tip subscriptions and deliveries, and the questions asked.
    (
        """CREATE TABLE users (
            user_id    INTEGER PRIMARY KEY,
            first_seen TEXT NOT NULL,
            last_seen  TEXT NOT NULL
        )""",
        """CREATE TABLE subscriptions (
            user_id    INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
            chat_id    INTEGER NOT NULL,
            local_time TEXT NOT NULL CHECK (local_time GLOB '[0-2][0-9]:[0-5][0-9]'),
            timezone   TEXT NOT NULL,
            active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX subscriptions_active ON subscriptions(active)",
        """CREATE TABLE deliveries (
            user_id    INTEGER NOT NULL REFERENCES subscriptions(user_id) ON DELETE CASCADE,
            local_date TEXT NOT NULL,
            tip_id     TEXT NOT NULL,
            sent_at    TEXT NOT NULL,
            UNIQUE (user_id, local_date)
        )""",
        """CREATE TABLE questions (
            id       INTEGER PRIMARY KEY,
            asked_at TEXT NOT NULL,
            user_id  INTEGER REFERENCES users(user_id) ON DELETE CASCADE,
            text     TEXT NOT NULL,
            entry_id TEXT,
            tier     TEXT NOT NULL CHECK (tier IN ('answer', 'suggest', 'none'))
        )""",
        "CREATE INDEX questions_asked_at ON questions(asked_at)",
    ),
    # v2: the matcher's score per question, 👍/👎 feedback per entry, and tips already shown.
    (
        "ALTER TABLE questions ADD COLUMN score REAL NOT NULL DEFAULT 0",
        "CREATE INDEX questions_user_id ON questions(user_id)",
        """CREATE TABLE feedback (
            user_id  INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
            entry_id TEXT NOT NULL,
            helpful  INTEGER NOT NULL CHECK (helpful IN (0, 1)),
            at       TEXT NOT NULL,
            PRIMARY KEY (user_id, entry_id)
        )""",
        """CREATE TABLE tips_seen (
            user_id INTEGER NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
            tip_id  TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (user_id, tip_id)
        )""",
    ),
    # v3: the operator's review decisions (bot/review.py). Texts are masked before they get here and carry
    # no user id: a labelled message is an anonymous example, kept beyond question retention. `label` is an
    # entry id, 'off-topic', ':skip' (not now) or ':uncovered' (no entry fits: a new entry to write).
    (
        """CREATE TABLE review_labels (
            id          INTEGER PRIMARY KEY,
            batch       INTEGER NOT NULL,
            norm        TEXT NOT NULL UNIQUE,
            text        TEXT NOT NULL,
            label       TEXT NOT NULL,
            labelled_at TEXT NOT NULL
        )""",
        "CREATE INDEX review_labels_batch ON review_labels(batch)",
    ),
    # v4: daily tips at scale. `next_due` is the UTC moment (Unix seconds) from which the subscription may be
    # owed a tip, so a pass reads what is due through an index instead of every subscription; NULL means
    # never (filled in by _backfill_next_due right after these statements). Deliveries are purged by local
    # date, and a blocked chat's subscriptions are found by chat id.
    (
        "ALTER TABLE subscriptions ADD COLUMN next_due INTEGER",
        "CREATE INDEX subscriptions_due ON subscriptions(next_due) WHERE active = 1",
        "CREATE INDEX subscriptions_chat ON subscriptions(chat_id) WHERE active = 1",
        "DROP INDEX subscriptions_active",  # the partial indexes above serve every `active = 1` query
        "CREATE INDEX deliveries_local_date ON deliveries(local_date)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
NEXT_DUE_VERSION = 4  # the step after which _backfill_next_due runs, in the same transaction

REVIEW_CANDIDATES = 2000  # the newest questions /review looks at


@dataclass(frozen=True, slots=True)
class ReviewCandidate:
    """A logged question that may need a human: no user id, only what the review queue needs."""

    id: int
    text: str
    entry_id: str | None
    tier: str
    score: float
    rated_down: bool


@dataclass(frozen=True, slots=True)
class ReviewLabel:
    """One stored review decision: a masked text and what the operator said it meant."""

    batch: int
    norm: str
    text: str
    label: str


# Writes that create a child row first make sure the user row exists, so callers need not order calls.
_ENSURE_USER = """
    INSERT INTO users (user_id, first_seen, last_seen) VALUES (?, ?, ?)
    ON CONFLICT (user_id) DO NOTHING
"""

_SET_NEXT_DUE = "UPDATE subscriptions SET next_due = ? WHERE user_id = ?"

_TOUCH_USER = """
    INSERT INTO users (user_id, first_seen, last_seen) VALUES (?, ?, ?)
    ON CONFLICT (user_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)
"""

Params = Sequence[object] | Mapping[str, object]
Row = tuple[Any, ...]  # SQLite hands back untyped values; each is converted where it is read


@dataclass(frozen=True, slots=True)
class Subscription:
    """A user's daily-tip subscription: deliver at `local_time` (HH:MM) in `timezone` (IANA)."""

    user_id: int
    chat_id: int
    local_time: str
    timezone: str
    active: bool
    updated_at: datetime  # UTC, aware; a tip whose moment came before this is not owed


@dataclass(frozen=True, slots=True)
class Delivery:
    """One daily tip that went out."""

    user_id: int
    local_date: date
    tip_id: str
    sent_at: datetime


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """One logged question as the user typed it (cut to 500 characters)."""

    text: str
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class UserData:
    """Everything stored about one user, for /mydata."""

    user_id: int
    first_seen: datetime | None
    last_seen: datetime | None
    subscription: Subscription | None
    question_count: int
    recent_questions: tuple[AskedQuestion, ...]  # newest first
    feedback_count: int
    tips_seen_count: int
    deliveries_count: int

    @property
    def is_empty(self) -> bool:
        """True when nothing at all is stored about the user."""
        return self.first_seen is None and self.question_count == 0 and self.subscription is None


@dataclass(frozen=True, slots=True)
class DayStats:
    """Questions asked on one UTC day and how many got an answer."""

    day: date
    questions: int
    answered: int

    @property
    def answer_rate(self) -> float | None:
        """Share of questions answered (0..1), or None on a day without questions."""
        return self.answered / self.questions if self.questions else None


@dataclass(frozen=True, slots=True)
class UnansweredQuestion:
    """A normalised question text that got no direct answer, and how often it was asked."""

    text: str
    count: int


@dataclass(frozen=True, slots=True)
class EntryRating:
    """Feedback totals for one FAQ entry."""

    entry_id: str
    up: int
    down: int


@dataclass(frozen=True, slots=True)
class Report:
    """Usage numbers for the operator: totals and per-day counts over the last `days` UTC days."""

    generated_at: datetime
    days: int
    users: int
    active_subscribers: int
    per_day: tuple[DayStats, ...]  # oldest first, one row per day, days without questions included
    top_unanswered: tuple[UnansweredQuestion, ...]  # within the window, most asked first
    worst_rated: tuple[EntryRating, ...]  # all time, only entries with a 👎, worst first

    @property
    def total_questions(self) -> int:
        """Questions asked within the window."""
        return sum(d.questions for d in self.per_day)

    @property
    def total_answered(self) -> int:
        """Questions answered within the window."""
        return sum(d.answered for d in self.per_day)

    @property
    def answer_rate(self) -> float | None:
        """Share of questions answered within the window (0..1), or None without questions."""
        total = self.total_questions
        return self.total_answered / total if total else None


def _to_db(moment: datetime) -> str:
    """Return an aware datetime as a fixed-width UTC ISO-8601 string, so text order is time order."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        msg = f"expected an aware datetime, got naive {moment.isoformat()}"
        raise ValueError(msg)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _epoch(moment: datetime) -> int:
    """Return an aware datetime as whole Unix seconds (due instants fall on whole minutes)."""
    return int(moment.timestamp())


def _from_db(text: str) -> datetime:
    """Parse a stored UTC ISO-8601 string back into an aware UTC datetime."""
    return datetime.fromisoformat(text).astimezone(UTC)


def _normalise_question(text: str) -> str:
    """Lowercase, collapse whitespace and drop surrounding punctuation, so near-repeats group together."""
    return " ".join(text.lower().split()).strip(_QUESTION_PUNCTUATION + " ")


def _subscription(row: Row) -> Subscription:
    """Build a Subscription from a (user_id, chat_id, local_time, timezone, active, updated_at) row."""
    user_id, chat_id, local_time, timezone, active, updated_at = row
    return Subscription(
        user_id=int(user_id),
        chat_id=int(chat_id),
        local_time=str(local_time),
        timezone=str(timezone),
        active=bool(active),
        updated_at=_from_db(updated_at),
    )


def _check_local_time(local_time: str) -> None:
    """Raise ValueError unless `local_time` is a 24-hour HH:MM."""
    if not _LOCAL_TIME.fullmatch(local_time):
        msg = f"local_time must be HH:MM (00:00-23:59), got {local_time!r}"
        raise ValueError(msg)


def _check_timezone(timezone: str) -> None:
    """Raise ValueError unless `timezone` is a known IANA zone, so the scheduler never meets a bad one."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        msg = f"unknown IANA timezone {timezone!r}"
        raise ValueError(msg) from exc


class Store:
    """The bot's SQLite database: one aiosqlite connection in WAL mode, writes serialised by a lock."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        """Wrap an open connection; use `await Store.open(path)` instead."""
        self._conn = conn
        self.path = path
        # One connection is shared by every handler; the lock keeps one coroutine's statements from
        # landing inside another's open transaction.
        self._write_lock = asyncio.Lock()
        self._closed = False

    # --- lifecycle ---------------------------------------------------------------------------------

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        """Open (creating folder and file if missing) and migrate the database at `path`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: single statements commit themselves, transactions are explicit BEGIN/COMMIT.
        conn = await aiosqlite.connect(path, isolation_level=None)
        store = cls(conn, path)
        try:
            await store._configure()
            await store._migrate()
        except BaseException:
            await conn.close()
            raise
        return store

    async def close(self) -> None:
        """Wait for a running write, let SQLite refresh its planner statistics, then close (idempotent).

        The connection is closed even when the refresh fails (a full disk, a read-only file): an open
        aiosqlite connection keeps a thread that would hold the process up at exit.
        """
        async with self._write_lock:
            if self._closed:
                return
            self._closed = True
            try:
                await self._execute("PRAGMA optimize")
            except sqlite3.Error:
                pass  # only statistics: the data is committed already
            finally:
                await self._conn.close()

    async def schema_version(self) -> int:
        """Return the schema version recorded in the file (`PRAGMA user_version`)."""
        return await self._scalar("PRAGMA user_version")

    async def _configure(self) -> None:
        """Set the per-connection pragmas and register the SQL helper function."""
        await self._execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode survives an application crash; only a power cut may lose the last commits.
        await self._execute("PRAGMA synchronous = NORMAL")
        await self._execute("PRAGMA foreign_keys = ON")
        # Wait up to 5 s for another process (a CLI report, a backup) instead of failing at once.
        await self._execute("PRAGMA busy_timeout = 5000")
        await self._conn.create_function("normalise_question", 1, _normalise_question, deterministic=True)

    async def _migrate(self) -> None:
        """Apply the missing steps of `MIGRATIONS`, each in its own transaction with its version bump."""
        while True:
            async with self._transaction():
                # Read inside the write transaction, so two processes opening at once cannot both migrate.
                version = await self._scalar("PRAGMA user_version")
                if version > SCHEMA_VERSION:
                    msg = f"{self.path} has schema version {version}, newer than this code ({SCHEMA_VERSION})"
                    raise RuntimeError(msg)
                if version == SCHEMA_VERSION:
                    return
                for statement in MIGRATIONS[version]:
                    await self._execute(statement)
                if version + 1 == NEXT_DUE_VERSION:
                    await self._backfill_next_due()
                # PRAGMA takes no parameters; the value is an int computed here, never user input.
                await self._execute(f"PRAGMA user_version = {int(version) + 1}")

    async def _backfill_next_due(self) -> None:
        """Give every active subscription its next due moment: the first one after its last change and delivery.

        That moment may lie days back; the first pass then sends today's tip if it is owed (late, the same
        local day, as before) and moves the others on, so the upgrade owes nobody more or less than before.
        """
        rows = await self._fetchall(
            """
            SELECT s.user_id, s.local_time, s.timezone, s.updated_at, max(d.local_date)
            FROM subscriptions AS s LEFT JOIN deliveries AS d ON d.user_id = s.user_id
            WHERE s.active = 1 GROUP BY s.user_id
            """
        )
        updates: list[tuple[int | None, int]] = []
        for user_id, local_time, timezone, updated_at, last_date in rows:
            try:
                due = schedule.first_due(local_time, timezone, _from_db(updated_at))
                if last_date is not None:
                    due = max(due, schedule.after_delivery(local_time, timezone, date.fromisoformat(last_date)))
                updates.append((_epoch(due), user_id))
            except (ZoneInfoNotFoundError, ValueError):
                updates.append((None, user_id))  # a bad row is never due, as the old scan skipped it
        await self._conn.executemany(_SET_NEXT_DUE, updates)

    # --- low-level helpers -------------------------------------------------------------------------

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[None]:
        """Run the body as one write transaction: all of it commits, or none of it."""
        async with self._write_lock:
            await self._execute("BEGIN IMMEDIATE")
            try:
                yield
                await self._execute("COMMIT")
            except BaseException:
                # Also after a failed COMMIT, so the shared connection is never left inside a transaction.
                if self._conn.in_transaction:
                    await self._execute("ROLLBACK")
                raise

    async def _execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement and return the number of rows it changed."""
        cursor = await self._conn.execute(sql, params)
        try:
            return cursor.rowcount
        finally:
            await cursor.close()

    async def _write(self, sql: str, params: Params = ()) -> int:
        """Run one write statement on its own (it commits by itself) and return the rows it changed."""
        async with self._write_lock:
            return await self._execute(sql, params)

    async def _fetchall(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one query and return every row."""
        return [tuple(row) for row in await self._conn.execute_fetchall(sql, params)]

    async def _scalar(self, sql: str, params: Params = ()) -> int:
        """Run a query that yields one integer (NULL counts as 0)."""
        rows = await self._fetchall(sql, params)
        value = rows[0][0] if rows else None
        return int(value) if value is not None else 0

    # --- users -------------------------------------------------------------------------------------

    async def touch_user(self, user_id: int, now: datetime) -> None:
        """Record that the user was seen at `now` (first_seen is set once, last_seen moves forward)."""
        at = _to_db(now)
        await self._write(_TOUCH_USER, (user_id, at, at))

    async def user_data(self, user_id: int) -> UserData:
        """Return everything stored about the user (all empty for an unknown user)."""
        rows = await self._fetchall(
            """
            SELECT u.first_seen, u.last_seen,
                   (SELECT count(*) FROM questions WHERE user_id = :user_id),
                   (SELECT count(*) FROM feedback WHERE user_id = :user_id),
                   (SELECT count(*) FROM tips_seen WHERE user_id = :user_id),
                   (SELECT count(*) FROM deliveries WHERE user_id = :user_id)
            FROM (SELECT :user_id AS user_id) AS wanted
            LEFT JOIN users AS u ON u.user_id = wanted.user_id
            """,
            {"user_id": user_id},
        )
        first_seen, last_seen, questions, feedback, tips_seen, deliveries = rows[0]
        recent = await self._fetchall(
            """
            SELECT text, asked_at FROM questions WHERE user_id = ?
            ORDER BY asked_at DESC, id DESC LIMIT ?
            """,
            (user_id, RECENT_QUESTIONS),
        )
        return UserData(
            user_id=user_id,
            first_seen=_from_db(first_seen) if first_seen is not None else None,
            last_seen=_from_db(last_seen) if last_seen is not None else None,
            subscription=await self.get_subscription(user_id),
            question_count=int(questions),
            recent_questions=tuple(AskedQuestion(str(text), _from_db(at)) for text, at in recent),
            feedback_count=int(feedback),
            tips_seen_count=int(tips_seen),
            deliveries_count=int(deliveries),
        )

    async def forget_user(self, user_id: int) -> None:
        """Delete every row about the user from every table, in one transaction."""
        async with self._transaction():
            # Children first; the foreign keys would cascade anyway, but this does not rely on them.
            for sql in (
                "DELETE FROM deliveries WHERE user_id = ?",
                "DELETE FROM tips_seen WHERE user_id = ?",
                "DELETE FROM feedback WHERE user_id = ?",
                "DELETE FROM questions WHERE user_id = ?",
                "DELETE FROM subscriptions WHERE user_id = ?",
                "DELETE FROM users WHERE user_id = ?",
            ):
                await self._execute(sql, (user_id,))

    # --- questions and feedback --------------------------------------------------------------------

    async def log_question(
        self, user_id: int | None, text: str, entry_id: str | None, tier: str, score: float, now: datetime
    ) -> None:
        """Log one question with the matcher's verdict and mark the user seen; the text is cut to 500 characters."""
        if tier not in TIERS:
            msg = f"tier must be one of {sorted(TIERS)}, got {tier!r}"
            raise ValueError(msg)
        at = _to_db(now)
        async with self._transaction():
            if user_id is not None:
                await self._execute(_TOUCH_USER, (user_id, at, at))
            await self._execute(
                """
                INSERT INTO questions (asked_at, user_id, text, entry_id, tier, score)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                (at, user_id, text[:QUESTION_TEXT_LIMIT], entry_id, tier, float(score)),
            )

    # --- review labels (bot/review.py) ----------------------------------------------------------------

    async def review_candidates(self, low_score: float, limit: int = REVIEW_CANDIDATES) -> list[ReviewCandidate]:
        """Return the newest questions that were declined, got "did you mean", scored low or were rated 👎."""
        rows = await self._fetchall(
            """
            SELECT q.id, q.text, q.entry_id, q.tier, q.score,
                   EXISTS (SELECT 1 FROM feedback AS f WHERE f.user_id = q.user_id AND f.entry_id = q.entry_id
                           AND f.helpful = 0)
            FROM questions AS q
            WHERE q.tier != 'answer' OR q.score < ?
               OR EXISTS (SELECT 1 FROM feedback AS f WHERE f.user_id = q.user_id AND f.entry_id = q.entry_id
                          AND f.helpful = 0)
            ORDER BY q.id DESC LIMIT ?
            """,
            (float(low_score), limit),
        )
        return [
            ReviewCandidate(int(i), str(t), None if e is None else str(e), str(tier), float(sc), bool(down))
            for i, t, e, tier, sc, down in rows
        ]

    async def review_labels(self) -> list[ReviewLabel]:
        """Return every stored review decision, oldest first."""
        rows = await self._fetchall("SELECT batch, norm, text, label FROM review_labels ORDER BY id")
        return [ReviewLabel(int(b), str(n), str(t), str(lab)) for b, n, t, lab in rows]

    async def add_review_labels(self, items: Sequence[tuple[str, str]], label: str, now: datetime) -> int:
        """Store (normalised text, masked text) pairs under `label` as one batch; return the batch number."""
        at = _to_db(now)
        async with self._transaction():
            batch = await self._scalar("SELECT coalesce(max(batch), 0) + 1 FROM review_labels")
            for norm, text in items:
                await self._execute(
                    """
                    INSERT INTO review_labels (batch, norm, text, label, labelled_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (norm) DO UPDATE SET batch = excluded.batch, text = excluded.text,
                        label = excluded.label, labelled_at = excluded.labelled_at
                    """,
                    (batch, norm, text, label, at),
                )
        return batch

    async def undo_review_batch(self) -> int:
        """Delete the newest batch of review decisions; return how many rows went."""
        async with self._transaction():
            batch = await self._scalar("SELECT coalesce(max(batch), 0) FROM review_labels")
            return await self._execute("DELETE FROM review_labels WHERE batch = ?", (batch,))

    async def purge_questions_before(self, cutoff: datetime) -> int:
        """Delete questions asked before `cutoff` and return how many went."""
        return await self._write("DELETE FROM questions WHERE asked_at < ?", (_to_db(cutoff),))

    async def add_feedback(self, user_id: int, entry_id: str, helpful: bool, now: datetime) -> None:
        """Store the user's 👍/👎 on an entry; a later press replaces an earlier one."""
        at = _to_db(now)
        async with self._transaction():
            await self._execute(_ENSURE_USER, (user_id, at, at))
            await self._execute(
                """
                INSERT INTO feedback (user_id, entry_id, helpful, at) VALUES (?, ?, ?, ?)
                ON CONFLICT (user_id, entry_id) DO UPDATE SET helpful = excluded.helpful, at = excluded.at
                WHERE excluded.at >= feedback.at
                """,
                (user_id, entry_id, int(helpful), at),
            )

    # --- tips --------------------------------------------------------------------------------------

    async def seen_tip_ids(self, user_id: int) -> set[str]:
        """Return the ids of the tips the user has already been shown."""
        rows = await self._fetchall("SELECT tip_id FROM tips_seen WHERE user_id = ?", (user_id,))
        return {str(tip_id) for (tip_id,) in rows}

    async def mark_tip_seen(self, user_id: int, tip_id: str, now: datetime) -> None:
        """Remember that the user has been shown this tip (marking twice keeps the first time)."""
        at = _to_db(now)
        async with self._transaction():
            await self._execute(_ENSURE_USER, (user_id, at, at))
            await self._execute(
                """
                INSERT INTO tips_seen (user_id, tip_id, seen_at) VALUES (?, ?, ?)
                ON CONFLICT (user_id, tip_id) DO NOTHING
                """,
                (user_id, tip_id, at),
            )

    async def reset_seen_tips(self, user_id: int) -> None:
        """Forget which tips the user has seen, so the rotation starts over."""
        await self._write("DELETE FROM tips_seen WHERE user_id = ?", (user_id,))

    # --- subscriptions -----------------------------------------------------------------------------

    async def subscribe(
        self, user_id: int, chat_id: int, local_time: str, timezone: str, now: datetime
    ) -> Subscription:
        """Create or replace the user's subscription, active from `now`."""
        _check_local_time(local_time)
        _check_timezone(timezone)
        at = _to_db(now)
        next_due = _epoch(schedule.first_due(local_time, timezone, now))
        async with self._transaction():
            await self._execute(_ENSURE_USER, (user_id, at, at))
            await self._execute(
                """
                INSERT INTO subscriptions (user_id, chat_id, local_time, timezone, active, updated_at, next_due)
                VALUES (?, ?, ?, ?, 1, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET
                    chat_id = excluded.chat_id, local_time = excluded.local_time,
                    timezone = excluded.timezone, active = 1, updated_at = excluded.updated_at,
                    next_due = excluded.next_due
                """,
                (user_id, chat_id, local_time, timezone, at, next_due),
            )
        return Subscription(user_id, chat_id, local_time, timezone, active=True, updated_at=_from_db(at))

    async def unsubscribe(self, user_id: int, now: datetime) -> bool:
        """Deactivate the user's subscription; True if it was active."""
        changed = await self._write(
            "UPDATE subscriptions SET active = 0, updated_at = ? WHERE user_id = ? AND active = 1",
            (_to_db(now), user_id),
        )
        return changed > 0

    async def deactivate_chat(self, chat_id: int, now: datetime) -> int:
        """Deactivate every active subscription delivering to a chat (bot blocked or kicked)."""
        return await self._write(
            "UPDATE subscriptions SET active = 0, updated_at = ? WHERE chat_id = ? AND active = 1",
            (_to_db(now), chat_id),
        )

    async def get_subscription(self, user_id: int) -> Subscription | None:
        """Return the user's subscription, active or not, or None."""
        rows = await self._fetchall(
            """
            SELECT user_id, chat_id, local_time, timezone, active, updated_at
            FROM subscriptions WHERE user_id = ?
            """,
            (user_id,),
        )
        return _subscription(rows[0]) if rows else None

    async def active_subscriptions(self) -> list[Subscription]:
        """Return every active subscription, by user id, in one query."""
        rows = await self._fetchall(
            """
            SELECT user_id, chat_id, local_time, timezone, active, updated_at
            FROM subscriptions WHERE active = 1 ORDER BY user_id
            """
        )
        return [_subscription(row) for row in rows]

    async def count_active_subscriptions(self) -> int:
        """Return how many subscriptions are active."""
        return await self._scalar("SELECT count(*) FROM subscriptions WHERE active = 1")

    async def active_timezones(self) -> set[str]:
        """Return the distinct timezones of the active subscriptions (input for `undelivered_active`)."""
        rows = await self._fetchall("SELECT DISTINCT timezone FROM subscriptions WHERE active = 1")
        return {str(tz) for (tz,) in rows}

    async def due_subscriptions(self, now: datetime, limit: int) -> list[Subscription]:
        """Return up to `limit` active subscriptions whose next due moment is at or before `now`, earliest first."""
        # The partial index on next_due (active rows only) makes this cost what is due, not what is stored.
        rows = await self._fetchall(
            """
            SELECT user_id, chat_id, local_time, timezone, active, updated_at
            FROM subscriptions WHERE active = 1 AND next_due <= ?
            ORDER BY next_due LIMIT ?
            """,
            (_epoch(now), limit),
        )
        return [_subscription(row) for row in rows]

    async def reschedule(self, next_due: Sequence[tuple[int, datetime | None]]) -> None:
        """Set each (user id, next due moment) in one transaction; None means never due."""
        params = [(None if at is None else _epoch(at), user_id) for user_id, at in next_due]
        async with self._transaction():
            await self._conn.executemany("UPDATE subscriptions SET next_due = ? WHERE user_id = ?", params)

    async def undelivered_active(self, local_dates: Mapping[str, date]) -> list[Subscription]:
        """Return active subscriptions with no delivery yet for their zone's date in `local_dates`.

        The pre-v4 way to find who is due (it reads every active subscription); kept as the baseline that
        bench/bench_scale.py measures `due_subscriptions` against.
        """
        # One query for any number of subscribers: the zone→date map travels as a single JSON parameter,
        # and the anti-join probes the UNIQUE(user_id, local_date) index once per subscriber. A zone
        # missing from the map is skipped, so callers pass every zone from `active_timezones()`.
        dates = json.dumps({tz: day.isoformat() for tz, day in local_dates.items()})
        rows = await self._fetchall(
            """
            WITH today (timezone, local_date) AS (SELECT key, value FROM json_each(?))
            SELECT s.user_id, s.chat_id, s.local_time, s.timezone, s.active, s.updated_at
            FROM subscriptions AS s
            JOIN today AS t ON t.timezone = s.timezone
            WHERE s.active = 1
              AND NOT EXISTS (
                  SELECT 1 FROM deliveries AS d
                  WHERE d.user_id = s.user_id AND d.local_date = t.local_date
              )
            ORDER BY s.user_id
            """,
            (dates,),
        )
        return [_subscription(row) for row in rows]

    # --- deliveries --------------------------------------------------------------------------------

    async def delivered_on(self, user_id: int, local_date: date) -> bool:
        """True if the user's tip for `local_date` is already recorded."""
        found = await self._scalar(
            "SELECT count(*) FROM deliveries WHERE user_id = ? AND local_date = ?",
            (user_id, local_date.isoformat()),
        )
        return found > 0

    async def delivered_dates(self, since: date) -> dict[int, set[date]]:
        """Map each active subscriber with deliveries on or after `since` to those local dates."""
        # One query driven by the active subscriptions, each probing the UNIQUE(user_id, local_date)
        # index for its recent dates, so the cost follows subscribers, not the growing history.
        rows = await self._fetchall(
            """
            SELECT d.user_id, d.local_date
            FROM subscriptions AS s
            JOIN deliveries AS d ON d.user_id = s.user_id AND d.local_date >= ?
            WHERE s.active = 1
            """,
            (since.isoformat(),),
        )
        delivered: dict[int, set[date]] = {}
        for user_id, day in rows:
            delivered.setdefault(int(user_id), set()).add(date.fromisoformat(day))
        return delivered

    async def record_delivery(
        self, user_id: int, local_date: date, tip_id: str, sent_at: datetime, next_due: datetime | None = None
    ) -> bool:
        """Record the user's tip for `local_date` and mark the tip seen, in one commit; False if already recorded.

        With `next_due`, the subscription's next due moment moves there in the same commit, recorded or not.
        """
        # Also False when the subscription row is gone (the user ran /forget meanwhile): nothing is owed,
        # and no row about a forgotten user comes back. Both rows go in one transaction under that same
        # check, so a /forget can never land between them and leave a "tip seen" row behind.
        at = _to_db(sent_at)
        async with self._transaction():
            changed = await self._execute(
                """
                INSERT OR IGNORE INTO deliveries (user_id, local_date, tip_id, sent_at)
                SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM subscriptions WHERE user_id = ?)
                """,
                (user_id, local_date.isoformat(), tip_id, at, user_id),
            )
            if changed > 0:
                await self._execute(
                    """
                    INSERT INTO tips_seen (user_id, tip_id, seen_at) VALUES (?, ?, ?)
                    ON CONFLICT (user_id, tip_id) DO NOTHING
                    """,
                    (user_id, tip_id, at),
                )
            if next_due is not None:
                await self._execute(_SET_NEXT_DUE, (_epoch(next_due), user_id))
        return changed > 0

    async def release_delivery(
        self, user_id: int, local_date: date, tip_id: str, recorded_at: datetime, next_due: datetime | None = None
    ) -> bool:
        """Undo `record_delivery` for a tip recorded before sending and then not sent; True if undone.

        With `next_due`, the subscription's next due moment moves there in the same commit.
        """
        # The "tip seen" row goes only if this same record made it (same tip, same moment): a tip the user
        # had already been shown stays seen.
        at = _to_db(recorded_at)
        async with self._transaction():
            changed = await self._execute(
                "DELETE FROM deliveries WHERE user_id = ? AND local_date = ? AND tip_id = ? AND sent_at = ?",
                (user_id, local_date.isoformat(), tip_id, at),
            )
            if changed > 0:
                await self._execute(
                    "DELETE FROM tips_seen WHERE user_id = ? AND tip_id = ? AND seen_at = ?", (user_id, tip_id, at)
                )
            if next_due is not None:
                await self._execute(_SET_NEXT_DUE, (_epoch(next_due), user_id))
        return changed > 0

    async def purge_deliveries_before(self, local_date: date, chunk: int = 5000) -> int:
        """Delete deliveries for local dates before `local_date`, `chunk` rows per commit; return how many went."""
        # Small commits let questions' writes in between, however many rows a day of a big bot leaves.
        removed = 0
        while True:
            changed = await self._write(
                """
                DELETE FROM deliveries WHERE rowid IN (
                    SELECT rowid FROM deliveries WHERE local_date < ? LIMIT ?
                )
                """,
                (local_date.isoformat(), chunk),
            )
            removed += changed
            if changed < chunk:
                return removed

    async def deliveries(self, user_id: int) -> list[Delivery]:
        """Return the user's recorded deliveries, oldest first."""
        rows = await self._fetchall(
            "SELECT local_date, tip_id, sent_at FROM deliveries WHERE user_id = ? ORDER BY local_date",
            (user_id,),
        )
        return [
            Delivery(user_id, date.fromisoformat(day), str(tip_id), _from_db(sent_at))
            for day, tip_id, sent_at in rows
        ]

    # --- report ------------------------------------------------------------------------------------

    async def report(self, now: datetime, days: int = 14) -> Report:
        """Return the operator's report for the `days` UTC days up to and including `now`'s day."""
        if days < 1:
            msg = f"days must be at least 1, got {days}"
            raise ValueError(msg)
        today = now.astimezone(UTC).date()
        first = today - timedelta(days=days - 1)
        # Stored times are fixed-width ISO strings, so a bare date compares as that day's midnight.
        window = (first.isoformat(), (today + timedelta(days=1)).isoformat())

        totals = await self._fetchall(
            "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM subscriptions WHERE active = 1)"
        )
        users, active = totals[0]
        per_day_rows = await self._fetchall(
            """
            SELECT substr(asked_at, 1, 10) AS day, count(*), sum(tier = 'answer')
            FROM questions WHERE asked_at >= ? AND asked_at < ?
            GROUP BY day
            """,
            window,
        )
        counts = {str(day): (int(n), int(ok)) for day, n, ok in per_day_rows}
        per_day = []
        for offset in range(days):
            day = first + timedelta(days=offset)
            questions, answered = counts.get(day.isoformat(), (0, 0))
            per_day.append(DayStats(day, questions, answered))

        unanswered = await self._fetchall(
            """
            SELECT normalise_question(text) AS norm, count(*) AS n
            FROM questions WHERE tier != 'answer' AND asked_at >= ? AND asked_at < ?
            GROUP BY norm HAVING norm != ''
            ORDER BY n DESC, norm
            LIMIT ?
            """,
            (*window, TOP_UNANSWERED),
        )
        ratings = await self._fetchall(
            """
            SELECT entry_id, sum(helpful) AS up, sum(1 - helpful) AS down
            FROM feedback GROUP BY entry_id HAVING down > 0
            ORDER BY down - up DESC, CAST(down AS REAL) / (up + down) DESC, entry_id
            LIMIT ?
            """,
            (WORST_RATED,),
        )
        return Report(
            generated_at=now.astimezone(UTC),
            days=days,
            users=int(users),
            active_subscribers=int(active),
            per_day=tuple(per_day),
            top_unanswered=tuple(UnansweredQuestion(str(text), int(n)) for text, n in unanswered),
            worst_rated=tuple(
                EntryRating(str(entry_id), int(up), int(down)) for entry_id, up, down in ratings
            ),
        )
