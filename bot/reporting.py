"""`python run_bot.py --report`: print usage statistics and write the questions-per-day chart."""

from __future__ import annotations

from typing import TextIO

from bot.config import Config
from bot.core import utc_now
from bot.report import format_report, render_chart
from bot.storage import Store

CHART_NAME = "questions-per-day.png"


async def print_report(config: Config, out: TextIO) -> int:
    """Print the report for the configured database; return the exit code."""
    store = await Store.open(config.database_path)
    try:
        report = await store.report(utc_now())
    finally:
        await store.close()
    out.write(format_report(report) + "\n")
    chart = render_chart(report, config.database_path.parent / CHART_NAME)
    out.write(f"\nChart written to {chart}\n")
    return 0
