"""Tests for bot.report: the plain-text report and the PNG chart."""

from __future__ import annotations

import asyncio
import struct
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.report import format_report, render_chart
from bot.storage import DayStats, EntryRating, Report, Store, UnansweredQuestion
from tests.botproc import RUN_BOT, clean_env

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def make_report(counts: list[tuple[int, int]]) -> Report:
    """Build a report whose days end today, from (questions, answered) pairs, oldest first."""
    first = NOW.date() - timedelta(days=len(counts) - 1)
    return Report(
        generated_at=NOW,
        days=len(counts),
        users=12,
        active_subscribers=5,
        per_day=tuple(DayStats(first + timedelta(days=n), q, a) for n, (q, a) in enumerate(counts)),
        top_unanswered=(UnansweredQuestion("how much does it cost", 4), UnansweredQuestion("hot stones", 1)),
        worst_rated=(EntryRating("practical-price", 0, 3), EntryRating("basics-what", 2, 3)),
    )


def png_size(path: Path) -> tuple[int, int]:
    """Return (width, height) from a PNG's header, checking the signature on the way."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_format_report_shows_totals_days_and_rankings() -> None:
    """The text report lists totals, one aligned row per day and both rankings in order."""
    text = format_report(make_report([(0, 0), (4, 2), (10, 9)]))
    lines = text.splitlines()

    assert "Usage report: 2025-03-08 to 2025-03-10 (3 days, UTC)" in lines[0]
    assert any(line.startswith("Users") and line.endswith("12") for line in lines)
    assert any(line.startswith("Active subscribers") and line.endswith("5") for line in lines)
    assert any(line.startswith("Answered") and line.endswith("11  (78.6%)") for line in lines)
    day_rows = [line for line in lines if line.startswith("  2025-03-")]
    assert [row.split() for row in day_rows] == [
        ["2025-03-08", "0", "0", "—"],
        ["2025-03-09", "4", "2", "50.0%"],
        ["2025-03-10", "10", "9", "90.0%"],
    ]
    assert len({len(row) for row in day_rows}) == 1
    assert text.index("how much does it cost") < text.index("hot stones")
    assert text.index("practical-price") < text.index("basics-what")


def test_format_report_without_data_says_none() -> None:
    """An empty period gives dashes for rates and '(none)' for both rankings and the uncovered questions."""
    empty = Report(NOW, 1, 0, 0, (DayStats(NOW.date(), 0, 0),), (), ())
    text = format_report(empty)
    assert "(0.0%)" not in text
    assert text.count("(none)") == 3
    assert "—" in text


def test_format_report_cuts_long_questions() -> None:
    """A long unanswered question is cut so the table stays readable."""
    report = make_report([(1, 0)])
    long_question = UnansweredQuestion("why " * 100, 1)
    text = format_report(Report(NOW, 1, 1, 0, report.per_day, (long_question,), ()))
    (row,) = [line for line in text.splitlines() if "why why" in line]
    assert row.endswith("…")
    assert len(row) < 100


@pytest.mark.parametrize(
    "counts",
    [[(3, 2), (0, 0), (8, 8), (5, 1)] * 4, [(0, 0)] * 14, [(1, 0)]],
    ids=["busy", "no-questions", "one-day"],
)
def test_render_chart_writes_a_png(tmp_path: Path, counts: list[tuple[int, int]]) -> None:
    """render_chart writes a real, non-trivial PNG, also for a period without questions."""
    target = tmp_path / "charts" / "report.png"
    assert render_chart(make_report(counts), target) == target
    assert png_size(target) == (1000, 450)
    assert target.stat().st_size > 10_000


async def test_render_chart_from_a_stored_report(tmp_path: Path) -> None:
    """A report read from a real store renders to a PNG."""
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await store.log_question(1, "Is massage safe?", "safety-1", "answer", 91.0, NOW)
        await store.log_question(1, "Hot stones?", None, "none", 10.0, NOW - timedelta(days=2))
        report = await store.report(NOW)
    finally:
        await store.close()
    assert report.per_day[-1].day == date(2025, 3, 10)
    assert "Hot stones" not in format_report(report)
    assert "hot stones" in format_report(report)
    assert png_size(render_chart(report, tmp_path / "r.png")) == (1000, 450)


def test_report_mode_prints_the_numbers_and_writes_the_chart(tmp_path: Path) -> None:
    """`run_bot.py --report` needs no token, prints users and questions, and writes the PNG beside the database."""
    database = tmp_path / "data" / "bot.sqlite3"

    async def seed() -> None:
        store = await Store.open(database)
        now = datetime.now(UTC)
        await store.log_question(7, "does massage help", "back-pain-benefits", "answer", 90.0, now)
        await store.log_question(8, "bitcoin price", None, "none", 0.0, now)
        await store.close()

    asyncio.run(seed())
    done = subprocess.run(
        [sys.executable, str(RUN_BOT), "--report"],
        env=clean_env() | {"DATABASE_PATH": str(database)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "bitcoin price" in done.stdout
    assert (tmp_path / "data" / "questions-per-day.png").read_bytes().startswith(b"\x89PNG")
