"""Tests for bot.storage against a real SQLite file in tmp_path."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import storage
from bot.storage import (
    QUESTION_TEXT_LIMIT,
    SCHEMA_VERSION,
    EntryRating,
    Store,
    Subscription,
    UnansweredQuestion,
)

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
TODAY = NOW.date()

# The schema exactly as version 1 shipped it: a frozen copy, so a later edit of MIGRATIONS[0] cannot
# quietly make this test agree with itself.
V1_DDL = """
CREATE TABLE users (
    user_id    INTEGER PRIMARY KEY,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);
CREATE TABLE subscriptions (
    user_id    INTEGER PRIMARY KEY REFERENCES users(user_id) ON DELETE CASCADE,
    chat_id    INTEGER NOT NULL,
    local_time TEXT NOT NULL CHECK (local_time GLOB '[0-2][0-9]:[0-5][0-9]'),
    timezone   TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    updated_at TEXT NOT NULL
);
CREATE INDEX subscriptions_active ON subscriptions(active);
CREATE TABLE deliveries (
    user_id    INTEGER NOT NULL REFERENCES subscriptions(user_id) ON DELETE CASCADE,
    local_date TEXT NOT NULL,
    tip_id     TEXT NOT NULL,
    sent_at    TEXT NOT NULL,
    UNIQUE (user_id, local_date)
);
CREATE TABLE questions (
    id       INTEGER PRIMARY KEY,
    asked_at TEXT NOT NULL,
    user_id  INTEGER REFERENCES users(user_id) ON DELETE CASCADE,
    text     TEXT NOT NULL,
    entry_id TEXT,
    tier     TEXT NOT NULL CHECK (tier IN ('answer', 'suggest', 'none'))
);
CREATE INDEX questions_asked_at ON questions(asked_at);
PRAGMA user_version = 1;
"""


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Return a database path inside a folder that does not exist yet."""
    return tmp_path / "data" / "bot.sqlite3"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    """Open a fresh store on a real file and close it after the test."""
    store = await Store.open(db_path)
    yield store
    await store.close()


def write_v1_database(path: Path) -> None:
    """Create a version-1 database with a little data in it, as an older release would have left it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.executescript(V1_DDL)
        conn.execute(
            "INSERT INTO users VALUES (?, ?, ?)",
            (7, "2024-12-01T08:00:00.000000+00:00", "2025-01-05T09:30:00.000000+00:00"),
        )
        conn.execute(
            "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?)",
            (7, 700, "08:30", "Europe/Berlin", 1, "2024-12-02T10:00:00.000000+00:00"),
        )
        conn.execute(
            "INSERT INTO deliveries VALUES (?, ?, ?, ?)",
            (7, "2025-01-05", "tip-stretch", "2025-01-05T07:30:00.000000+00:00"),
        )
        conn.executemany(
            "INSERT INTO questions (asked_at, user_id, text, entry_id, tier) VALUES (?, ?, ?, ?, ?)",
            [
                ("2025-01-05T09:00:00.000000+00:00", 7, "Does massage help back pain?", "benefits-1", "answer"),
                ("2025-01-05T09:30:00.000000+00:00", 7, "How much is it?", None, "none"),
            ],
        )
    conn.close()


def schema_of(path: Path) -> dict[str, str]:
    """Return name → normalised CREATE statement for every table and index in the file."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    conn.close()
    return {name: " ".join(sql.replace("(", " ( ").replace(")", " ) ").split()) for name, sql in rows}


async def seed_user(store: Store, user_id: int, chat_id: int) -> None:
    """Give a user a row in every table the store keeps."""
    await store.touch_user(user_id, NOW)
    await store.subscribe(user_id, chat_id, "09:00", "Europe/Berlin", NOW)
    await store.record_delivery(user_id, TODAY, "tip-1", NOW)
    await store.mark_tip_seen(user_id, "tip-1", NOW)
    await store.add_feedback(user_id, "entry-1", helpful=False, now=NOW)
    await store.log_question(user_id, "Is massage safe?", "safety-1", "answer", 91.0, NOW)


async def test_open_creates_folder_and_uses_wal(db_path: Path) -> None:
    """Opening creates the missing folder and a WAL-mode file at the current schema version."""
    store = await Store.open(str(db_path))
    try:
        assert await store.schema_version() == SCHEMA_VERSION == len(storage.MIGRATIONS)
    finally:
        await store.close()
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_reopen_keeps_data_and_close_twice_is_harmless(db_path: Path) -> None:
    """Data survives a close and reopen, and a second close does nothing."""
    store = await Store.open(db_path)
    await store.subscribe(1, 10, "07:15", "Asia/Tokyo", NOW)
    await store.close()
    await store.close()
    store = await Store.open(db_path)
    try:
        sub = await store.get_subscription(1)
        assert sub is not None
        assert sub.local_time == "07:15"
    finally:
        await store.close()


async def test_migrates_v1_database_and_keeps_its_data(db_path: Path) -> None:
    """A version-1 file is upgraded in place: old rows survive and the v2 tables and column exist."""
    write_v1_database(db_path)
    store = await Store.open(db_path)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await store.get_subscription(7) == Subscription(
            user_id=7,
            chat_id=700,
            local_time="08:30",
            timezone="Europe/Berlin",
            active=True,
            updated_at=datetime(2024, 12, 2, 10, 0, tzinfo=UTC),
        )
        assert await store.delivered_on(7, date(2025, 1, 5))
        data = await store.user_data(7)
        assert data.first_seen == datetime(2024, 12, 1, 8, 0, tzinfo=UTC)
        assert data.question_count == 2
        assert [q.text for q in data.recent_questions] == ["How much is it?", "Does massage help back pain?"]
        # The v2 tables work on the upgraded file.
        await store.add_feedback(7, "benefits-1", helpful=True, now=NOW)
        await store.mark_tip_seen(7, "tip-stretch", NOW)
        assert await store.seen_tip_ids(7) == {"tip-stretch"}
        assert (await store.user_data(7)).feedback_count == 1
    finally:
        await store.close()

    with sqlite3.connect(db_path) as conn:
        scores = conn.execute("SELECT text, score FROM questions ORDER BY id").fetchall()
    conn.close()
    assert scores == [("Does massage help back pain?", 0.0), ("How much is it?", 0.0)]

    fresh = db_path.with_name("fresh.sqlite3")
    await (await Store.open(fresh)).close()
    assert schema_of(db_path) == schema_of(fresh)


async def test_refuses_a_newer_schema(db_path: Path) -> None:
    """A file written by a newer release is refused rather than misread."""
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this code"):
        await Store.open(db_path)


async def test_failed_migration_step_leaves_the_file_untouched(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration step that fails half-way is rolled back whole, version bump included."""
    await (await Store.open(db_path)).close()
    broken_step = ("CREATE TABLE half_done (user_id INTEGER)", "INSERT INTO no_such_table VALUES (1)")
    monkeypatch.setattr(storage, "MIGRATIONS", (*storage.MIGRATIONS, broken_step))
    monkeypatch.setattr(storage, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await Store.open(db_path)
    monkeypatch.undo()

    store = await Store.open(db_path)
    try:
        assert await store.schema_version() == SCHEMA_VERSION
    finally:
        await store.close()
    assert "half_done" not in schema_of(db_path)


async def test_concurrent_writes_share_one_connection_safely(store: Store) -> None:
    """Many handlers writing at once neither clash inside a transaction nor lose a row."""
    writes = []
    for user_id in range(50):
        writes += [
            store.touch_user(user_id, NOW),
            store.log_question(user_id, f"question {user_id}", None, "none", 0.0, NOW),
            store.subscribe(user_id, user_id, "09:00", "UTC", NOW),
            store.mark_tip_seen(user_id, "tip-a", NOW),
        ]
    await asyncio.gather(*writes)
    report = await store.report(NOW, days=1)
    assert (report.users, report.active_subscribers, report.total_questions) == (50, 50, 50)


async def test_subscribe_unsubscribe_resubscribe(store: Store) -> None:
    """Unsubscribing deactivates once; subscribing again reactivates with the new time and zone."""
    later = NOW + timedelta(hours=1)
    first = await store.subscribe(1, 100, "09:00", "Europe/Berlin", NOW)
    assert first == Subscription(1, 100, "09:00", "Europe/Berlin", active=True, updated_at=NOW)
    assert await store.count_active_subscriptions() == 1

    assert await store.unsubscribe(1, later) is True
    assert await store.unsubscribe(1, later) is False
    assert await store.unsubscribe(2, later) is False
    assert await store.get_subscription(1) == Subscription(
        1, 100, "09:00", "Europe/Berlin", active=False, updated_at=later
    )
    assert await store.active_subscriptions() == []

    again = await store.subscribe(1, 101, "21:45", "America/New_York", later)
    assert again.active
    assert await store.active_subscriptions() == [again]
    assert await store.get_subscription(1) == again


async def test_subscription_times_are_aware_utc(store: Store) -> None:
    """A non-UTC aware time is stored and returned as the same instant in UTC."""
    moscow = timezone(timedelta(hours=3))
    await store.subscribe(1, 100, "09:00", "Europe/Moscow", datetime(2025, 3, 10, 15, 0, tzinfo=moscow))
    sub = await store.get_subscription(1)
    assert sub is not None
    assert sub.updated_at == NOW
    assert sub.updated_at.tzinfo is UTC


async def test_naive_datetime_is_refused(store: Store) -> None:
    """A naive datetime is an error, not silently taken as local or UTC."""
    with pytest.raises(ValueError, match="aware"):
        await store.touch_user(1, datetime(2025, 3, 10, 12, 0))


@pytest.mark.parametrize(
    ("local_time", "zone"),
    [("9:00", "Europe/Berlin"), ("24:00", "Europe/Berlin"), ("09:60", "UTC"), ("09:00", "Mars/Olympus")],
)
async def test_subscribe_rejects_bad_time_or_zone(store: Store, local_time: str, zone: str) -> None:
    """Only a 24-hour HH:MM and a known IANA zone are stored, so the scheduler never meets bad ones."""
    with pytest.raises(ValueError, match=r"local_time|timezone"):
        await store.subscribe(1, 100, local_time, zone, NOW)
    assert await store.get_subscription(1) is None


async def test_deactivate_chat_stops_only_that_chat(store: Store) -> None:
    """A blocked or kicked chat deactivates its subscriptions and reports how many."""
    await store.subscribe(1, 100, "09:00", "UTC", NOW)
    await store.subscribe(2, 200, "09:00", "UTC", NOW)
    assert await store.deactivate_chat(100, NOW) == 1
    assert await store.deactivate_chat(100, NOW) == 0
    assert [s.user_id for s in await store.active_subscriptions()] == [2]


async def test_due_subscriptions_returns_only_what_is_due_earliest_first(store: Store) -> None:
    """The pass reads the active subscriptions due by `now`, earliest first, at most `limit` of them."""
    midnight = NOW.replace(hour=0)
    await store.subscribe(1, 100, "11:00", "UTC", midnight)  # due today 11:00
    await store.subscribe(2, 200, "10:00", "UTC", midnight)  # due today 10:00
    await store.subscribe(3, 300, "13:00", "UTC", midnight)  # not yet
    await store.subscribe(4, 400, "09:00", "UTC", midnight)
    await store.unsubscribe(4, midnight)
    assert [s.user_id for s in await store.due_subscriptions(NOW, 10)] == [2, 1]
    assert [s.user_id for s in await store.due_subscriptions(NOW, 1)] == [2]
    await store.record_delivery(2, TODAY, "tip-a", NOW, next_due=NOW + timedelta(days=1))
    assert [s.user_id for s in await store.due_subscriptions(NOW, 10)] == [1]


async def test_the_due_and_blocked_chat_lookups_search_an_index(store: Store, db_path: Path) -> None:
    """A pass and a blocked chat's lookup read through an index, so they cost what they find, not the table."""
    await store.subscribe(1, 100, "09:00", "UTC", NOW)
    queries = {
        "SELECT user_id FROM subscriptions WHERE active = 1 AND next_due <= 0 ORDER BY next_due LIMIT 5": "due",
        "UPDATE subscriptions SET active = 0 WHERE chat_id = 100 AND active = 1": "chat",
        "DELETE FROM deliveries WHERE local_date < '2025-01-01'": "local_date",
    }
    with sqlite3.connect(db_path) as conn:
        for sql, index in queries.items():
            plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "USING INDEX" in plan, (sql, plan)
            assert index in plan, (sql, plan)
    conn.close()


async def test_purge_deliveries_removes_only_older_days(store: Store) -> None:
    """Deliveries before the cutoff date go, in small commits; that day and later ones stay."""
    for user_id in range(1, 8):
        await store.subscribe(user_id, user_id, "09:00", "UTC", NOW)
        for days_ago in range(3):
            await store.record_delivery(user_id, TODAY - timedelta(days=days_ago), "tip", NOW)
    assert await store.purge_deliveries_before(TODAY - timedelta(days=1), chunk=3) == 7
    assert {d.local_date for d in await store.deliveries(5)} == {TODAY, TODAY - timedelta(days=1)}
    assert await store.purge_deliveries_before(TODAY - timedelta(days=1)) == 0


async def test_record_delivery_once_per_user_and_date(store: Store) -> None:
    """A delivery is recorded once per user and local date; the repeat reports False."""
    await store.subscribe(1, 100, "09:00", "UTC", NOW)
    assert await store.record_delivery(1, TODAY, "tip-a", NOW) is True
    assert await store.record_delivery(1, TODAY, "tip-b", NOW) is False
    assert await store.record_delivery(1, TODAY + timedelta(days=1), "tip-b", NOW) is True
    assert [(d.local_date, d.tip_id) for d in await store.deliveries(1)] == [
        (TODAY, "tip-a"),
        (TODAY + timedelta(days=1), "tip-b"),
    ]


async def test_record_delivery_without_subscription_is_refused(store: Store) -> None:
    """No delivery is recorded for a user without a subscription row (e.g. one who just ran /forget)."""
    assert await store.record_delivery(5, TODAY, "tip-a", NOW) is False
    assert (await store.user_data(5)).is_empty


async def test_delivered_lookups(store: Store) -> None:
    """The scheduler sees exactly the active subscriptions still lacking today's tip in their zone."""
    berlin_today, tokyo_today = TODAY, TODAY + timedelta(days=1)
    await store.subscribe(1, 100, "09:00", "Europe/Berlin", NOW)
    await store.subscribe(2, 200, "09:00", "Europe/Berlin", NOW)
    await store.subscribe(3, 300, "07:00", "Asia/Tokyo", NOW)
    await store.subscribe(4, 400, "07:00", "Asia/Tokyo", NOW)
    await store.subscribe(5, 500, "07:00", "Asia/Tokyo", NOW)
    await store.unsubscribe(5, NOW)
    await store.record_delivery(1, berlin_today, "tip-a", NOW)
    await store.record_delivery(3, berlin_today, "tip-a", NOW)  # yesterday in Tokyo: still owed today

    assert await store.delivered_on(1, berlin_today)
    assert not await store.delivered_on(2, berlin_today)
    assert await store.active_timezones() == {"Europe/Berlin", "Asia/Tokyo"}

    due = await store.undelivered_active({"Europe/Berlin": berlin_today, "Asia/Tokyo": tokyo_today})
    assert [s.user_id for s in due] == [2, 3, 4]
    only_berlin = await store.undelivered_active({"Europe/Berlin": berlin_today})
    assert [s.user_id for s in only_berlin] == [2]
    assert await store.undelivered_active({}) == []
    # The same facts as a map, for callers that decide "due" themselves; inactive user 5 is left out.
    await store.record_delivery(5, berlin_today, "tip-a", NOW)
    await store.record_delivery(1, berlin_today - timedelta(days=5), "tip-b", NOW)
    assert await store.delivered_dates(berlin_today - timedelta(days=1)) == {
        1: {berlin_today},
        3: {berlin_today},
    }


async def test_forget_user_leaves_no_row_in_any_table(store: Store, db_path: Path) -> None:
    """After /forget no table holds a row with that user_id, and other users are untouched."""
    await seed_user(store, 1, 100)
    await seed_user(store, 2, 200)
    await store.forget_user(1)

    assert (await store.user_data(1)).is_empty
    assert (await store.user_data(2)).deliveries_count == 1
    with sqlite3.connect(db_path) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        # Reviewed examples are anonymous by design: no user id to forget (bot/review.py masks their text).
        assert "user_id" not in {row[1] for row in conn.execute("SELECT * FROM pragma_table_info('review_labels')")}
        tables.remove("review_labels")
        assert len(tables) == 6
        for table in tables:
            columns = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
            assert "user_id" in columns, f"{table} has no user_id: decide how forget_user covers it"
            quoted = '"' + table.replace('"', '""') + '"'
            count_sql = f"SELECT count(*) FROM {quoted} WHERE user_id = ?"  # noqa: S608 name from sqlite_master
            assert conn.execute(count_sql, (1,)).fetchone()[0] == 0, table
            assert conn.execute(count_sql, (2,)).fetchone()[0] > 0, table
    conn.close()


async def test_user_data_summarises_one_user(store: Store) -> None:
    """/mydata sees the user's times, subscription, counts and newest questions first."""
    await store.touch_user(1, NOW - timedelta(days=3))
    await store.subscribe(1, 100, "09:00", "UTC", NOW)
    for n in range(7):
        await store.log_question(1, f"question {n}", None, "none", 10.0, NOW + timedelta(minutes=n))
    await store.log_question(2, "someone else", None, "none", 10.0, NOW)
    await store.touch_user(1, NOW + timedelta(hours=1))

    data = await store.user_data(1)
    assert data.first_seen == NOW - timedelta(days=3)
    assert data.last_seen == NOW + timedelta(hours=1)
    assert data.subscription is not None
    assert data.subscription.local_time == "09:00"
    assert data.question_count == 7
    assert [q.text for q in data.recent_questions] == [f"question {n}" for n in (6, 5, 4, 3, 2)]
    assert data.recent_questions[0].asked_at == NOW + timedelta(minutes=6)
    assert (data.feedback_count, data.tips_seen_count, data.deliveries_count) == (0, 0, 0)
    assert not data.is_empty


async def test_touch_user_keeps_first_seen_and_moves_last_seen(store: Store) -> None:
    """first_seen is set once; last_seen only moves forward, even if calls arrive out of order."""
    await store.touch_user(1, NOW)
    await store.touch_user(1, NOW + timedelta(days=1))
    await store.touch_user(1, NOW - timedelta(days=1))
    data = await store.user_data(1)
    assert (data.first_seen, data.last_seen) == (NOW, NOW + timedelta(days=1))


async def test_purge_removes_only_older_questions(store: Store) -> None:
    """The retention job deletes questions asked before the cutoff and keeps the rest."""
    cutoff = NOW - timedelta(days=30)
    await store.log_question(1, "old", None, "none", 0.0, cutoff - timedelta(microseconds=1))
    await store.log_question(1, "at cutoff", None, "none", 0.0, cutoff)
    await store.log_question(1, "new", None, "none", 0.0, NOW)
    assert await store.purge_questions_before(cutoff) == 1
    assert await store.purge_questions_before(cutoff) == 0
    data = await store.user_data(1)
    assert [q.text for q in data.recent_questions] == ["new", "at cutoff"]


async def test_question_text_is_cut_to_500_characters(store: Store) -> None:
    """A long question is stored cut to 500 characters."""
    await store.log_question(1, "x" * 2000, None, "none", 0.0, NOW)
    (question,) = (await store.user_data(1)).recent_questions
    assert question.text == "x" * QUESTION_TEXT_LIMIT
    assert QUESTION_TEXT_LIMIT == 500


async def test_anonymous_question_is_logged(store: Store) -> None:
    """A question without a user (console mode) counts in the report without creating a user."""
    await store.log_question(None, "What is massage?", "basics-1", "answer", 88.5, NOW)
    report = await store.report(NOW, days=1)
    assert (report.users, report.total_questions, report.total_answered) == (0, 1, 1)


async def test_log_question_rejects_unknown_tier(store: Store) -> None:
    """Only the three matcher tiers are accepted."""
    with pytest.raises(ValueError, match="tier"):
        await store.log_question(1, "hi", None, "maybe", 0.0, NOW)


async def test_statements_are_parameterised(store: Store, db_path: Path) -> None:
    """SQL in user text is stored verbatim and every table survives it."""
    nasty = "'); DROP TABLE users;--"
    await store.touch_user(1, NOW)
    await store.log_question(1, nasty, None, "none", 0.0, NOW)
    await store.add_feedback(1, nasty, helpful=False, now=NOW)
    await store.mark_tip_seen(1, nasty, NOW)
    with pytest.raises(ValueError, match="timezone"):
        await store.subscribe(1, 100, "09:00", nasty, NOW)

    data = await store.user_data(1)
    assert [q.text for q in data.recent_questions] == [nasty]
    assert await store.seen_tip_ids(1) == {nasty}
    report = await store.report(NOW)
    assert report.users == 1
    assert report.top_unanswered == (UnansweredQuestion("); drop table users;--", 1),)
    assert report.worst_rated == (EntryRating(nasty, 0, 1),)
    with sqlite3.connect(db_path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables >= {"users", "subscriptions", "deliveries", "questions", "feedback", "tips_seen"}


async def test_feedback_latest_press_wins(store: Store) -> None:
    """One row per user and entry: a later press replaces the earlier one, an older one does not."""
    await store.add_feedback(1, "entry-1", helpful=True, now=NOW)
    await store.add_feedback(1, "entry-1", helpful=False, now=NOW + timedelta(seconds=5))
    await store.add_feedback(1, "entry-1", helpful=True, now=NOW - timedelta(seconds=5))
    assert (await store.user_data(1)).feedback_count == 1
    assert (await store.report(NOW)).worst_rated == (EntryRating("entry-1", 0, 1),)


async def test_seen_tips_mark_and_reset(store: Store) -> None:
    """Seen tips accumulate per user without duplicates and reset to empty."""
    await store.mark_tip_seen(1, "tip-a", NOW)
    await store.mark_tip_seen(1, "tip-a", NOW)
    await store.mark_tip_seen(1, "tip-b", NOW)
    await store.mark_tip_seen(2, "tip-c", NOW)
    assert await store.seen_tip_ids(1) == {"tip-a", "tip-b"}
    await store.reset_seen_tips(1)
    assert await store.seen_tip_ids(1) == set()
    assert await store.seen_tip_ids(2) == {"tip-c"}


async def test_report_numbers_on_seeded_data(store: Store) -> None:
    """The report counts users, subscribers and questions per day, ranks unanswered and worst-rated."""
    day = timedelta(days=1)
    await store.subscribe(1, 100, "09:00", "UTC", NOW)
    await store.subscribe(2, 200, "09:00", "UTC", NOW)
    await store.unsubscribe(2, NOW)
    await store.touch_user(3, NOW)
    # Today: 3 answered of 5; the two unanswered are near-repeats of each other.
    for n in range(3):
        await store.log_question(1, f"answered {n}", "entry-a", "answer", 90.0, NOW)
    await store.log_question(1, "How much does it cost?", None, "none", 20.0, NOW)
    await store.log_question(2, "  how much  does it COST ", "entry-p", "suggest", 60.0, NOW)
    # Yesterday: 1 answered of 2.
    await store.log_question(3, "Hot stones?", None, "none", 5.0, NOW - day)
    await store.log_question(3, "answered", "entry-a", "answer", 95.0, NOW - day)
    # Outside a 3-day window: neither counted nor ranked.
    for _ in range(5):
        await store.log_question(3, "old question", None, "none", 5.0, NOW - 3 * day)
    # Feedback: entry-b is worst (0 up, 2 down), entry-c next (1 up, 2 down), entry-d has no 👎.
    for user, entry, helpful in [
        (1, "entry-b", False),
        (2, "entry-b", False),
        (1, "entry-c", True),
        (2, "entry-c", False),
        (3, "entry-c", False),
        (1, "entry-d", True),
        (2, "entry-e", True),
        (3, "entry-e", False),
    ]:
        await store.add_feedback(user, entry, helpful=helpful, now=NOW)

    report = await store.report(NOW, days=3)

    assert (report.users, report.active_subscribers) == (3, 1)
    assert report.generated_at == NOW
    assert [(d.day, d.questions, d.answered) for d in report.per_day] == [
        (TODAY - 2 * day, 0, 0),
        (TODAY - day, 2, 1),
        (TODAY, 5, 3),
    ]
    assert [d.answer_rate for d in report.per_day] == [None, 0.5, 0.6]
    assert (report.total_questions, report.total_answered) == (7, 4)
    assert report.answer_rate == pytest.approx(4 / 7)
    assert report.top_unanswered == (
        UnansweredQuestion("how much does it cost", 2),
        UnansweredQuestion("hot stones", 1),
    )
    assert report.worst_rated == (
        EntryRating("entry-b", 0, 2),
        EntryRating("entry-c", 1, 2),
        EntryRating("entry-e", 1, 1),
    )


async def test_report_on_empty_database(store: Store) -> None:
    """With no data the report has one zero row per day and no rates."""
    report = await store.report(NOW)
    assert len(report.per_day) == 14
    assert report.per_day[-1].day == TODAY
    assert all(d.questions == 0 and d.answer_rate is None for d in report.per_day)
    assert (report.total_questions, report.answer_rate) == (0, None)
    assert report.top_unanswered == ()
    assert report.worst_rated == ()
    with pytest.raises(ValueError, match="days"):
        await store.report(NOW, days=0)
