"""The operator's usage report: a plain-text table for the terminal and a PNG chart of questions per day.

`print_report` is `python run_bot.py --report`; `/stats` sends the same text and chart to admins.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.config import Config
from bot.review import LOW_CONFIDENCE, Uncovered, uncovered
from bot.storage import Report, Store
from faq.matcher import Matcher

QUESTION_WIDTH = 70
ENTRY_WIDTH = 32
MAX_DATE_LABELS = 14
BAR_COLOUR = "#4c72b0"
RATE_COLOUR = "#dd8452"


def _percent(rate: float | None) -> str:
    """Format a 0..1 share as a percentage, or a dash when there is nothing to divide."""
    return f"{rate * 100:.1f}%" if rate is not None else "—"


def _clip(text: str, width: int) -> str:
    """Cut text to `width` characters, marking the cut with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def format_report(report: Report, uncovered: Sequence[Uncovered] = ()) -> str:
    """Return the report as plain text with aligned columns, for a terminal.

    `uncovered` are the questions the FAQ does not cover (`bot.review.uncovered`): what to write next.
    """
    period = f"{report.per_day[0].day} to {report.per_day[-1].day}" if report.per_day else "no days"
    lines = [
        f"Usage report: {period} ({report.days} days, UTC)",
        f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC",
        "",
        f"{'Users':<20}{report.users:>8}",
        f"{'Active subscribers':<20}{report.active_subscribers:>8}",
        f"{'Questions':<20}{report.total_questions:>8}",
        f"{'Answered':<20}{report.total_answered:>8}  ({_percent(report.answer_rate)})",
        "",
        "Per day",
        f"  {'date':<12}{'questions':>10}{'answered':>10}{'rate':>9}",
    ]
    lines += [
        f"  {d.day.isoformat():<12}{d.questions:>10}{d.answered:>10}{_percent(d.answer_rate):>9}"
        for d in report.per_day
    ]
    lines += ["", "Top unanswered questions"]
    if report.top_unanswered:
        lines.append(f"  {'count':>5}  question")
        lines += [f"  {q.count:>5}  {_clip(q.text, QUESTION_WIDTH)}" for q in report.top_unanswered]
    else:
        lines.append("  (none)")
    lines += ["", "Questions the FAQ does not cover (no entry fits, or still unanswered)"]
    if uncovered:
        lines.append(f"  {'count':>5}  examples")
        for group in uncovered:
            said = "no entry fits" if group.reviewed else "unanswered"
            lines.append(f"  {group.count:>5}  {said}: {_clip(group.examples[0], QUESTION_WIDTH)}")
            lines += [f"  {'':>5}  {'':>{len(said)}}  {_clip(e, QUESTION_WIDTH)}" for e in group.examples[1:]]
    else:
        lines.append("  (none)")
    lines += ["", "Worst-rated entries"]
    if report.worst_rated:
        lines.append(f"  {'entry':<{ENTRY_WIDTH}}{'up':>6}{'down':>6}")
        lines += [
            f"  {_clip(r.entry_id, ENTRY_WIDTH):<{ENTRY_WIDTH}}{r.up:>6}{r.down:>6}"
            for r in report.worst_rated
        ]
    else:
        lines.append("  (none)")
    return "\n".join(lines) + "\n"


async def uncovered_questions(store: Store, matcher: Matcher) -> list[Uncovered]:
    """Group the questions the FAQ does not cover, from the store's log and review labels."""
    candidates = await store.review_candidates(LOW_CONFIDENCE)
    labels = await store.review_labels()
    return await asyncio.to_thread(uncovered, candidates, labels, matcher)  # grouping is CPU work: off the loop


def render_chart(report: Report, path: Path) -> Path:
    """Write a PNG of questions per day (bars) and the answer rate (line, right axis); return the path."""
    # Object-oriented API on the Agg canvas: no pyplot, no global figure state, no display needed.
    # Rendering takes tens of milliseconds; call it from the bot via asyncio.to_thread.
    figure = Figure(figsize=(10, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    days = report.per_day
    positions = list(range(len(days)))
    counts = [d.questions for d in days]
    rates = [d.answer_rate * 100 if d.answer_rate is not None else math.nan for d in days]

    axes = figure.add_subplot()
    bars = axes.bar(positions, counts, color=BAR_COLOUR, label="questions")
    axes.set_ylim(0, max([1, *counts]) * 1.15)  # a floor of 1 keeps the axis sane on an empty period
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("questions")
    step = max(1, math.ceil(len(days) / MAX_DATE_LABELS))
    axes.set_xticks(positions[::step], [d.day.strftime("%m-%d") for d in days[::step]])
    axes.set_xlabel("day (UTC)")
    axes.set_title(f"Questions per day and answer rate, last {report.days} days")

    rate_axes = axes.twinx()
    # Days without questions have no rate: NaN leaves a gap instead of drawing a false 0 %.
    (line,) = rate_axes.plot(positions, rates, color=RATE_COLOUR, marker="o", label="answer rate")
    rate_axes.set_ylim(0, 105)
    rate_axes.yaxis.set_major_formatter(PercentFormatter())
    rate_axes.set_ylabel("answer rate")
    axes.legend(handles=[bars, line], loc="upper left")
    if report.total_questions == 0:
        axes.text(0.5, 0.5, "no questions in this period", transform=axes.transAxes, ha="center", va="center")

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


CHART_NAME = "questions-per-day.png"


async def print_report(config: Config, out: TextIO, matcher: Matcher | None = None) -> int:
    """`python run_bot.py --report`: print the report for the configured database and write the chart.

    With `matcher`, the report also groups the questions the FAQ does not cover.
    """
    store = await Store.open(config.database_path)
    try:
        report = await store.report(datetime.now(UTC))
        missing = await uncovered_questions(store, matcher) if matcher is not None else []
    finally:
        await store.close()
    out.write(format_report(report, missing) + "\n")
    chart = render_chart(report, config.database_path.parent / CHART_NAME)
    out.write(f"\nChart written to {chart}\n")
    return 0
