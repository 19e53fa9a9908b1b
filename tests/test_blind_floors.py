"""The first figures measured on the blind sets of 2026-12-02 are floors the bot's reader must not fall below.

Those sets (bench/data/blind-2026-12-02) were measured once, before anyone read them, and the figures were
recorded in first_learned.txt. They are development data now, so a higher figure proves little; a lower one
is a regression.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.core import Knowledge
from faq.evaluation import load_cases, percent, score
from faq.models import DEFAULT_FAQ_PATH

BLIND = Path(__file__).resolve().parent.parent / "bench" / "data" / "blind-2026-12-02"
FIGURE = re.compile(r"(\w+)=([\d.]+)%\((\d+)/(\d+)\)")


def first_figures() -> dict[str, dict[str, float]]:
    """The recorded first figures: set file -> group -> percent."""
    out: dict[str, dict[str, float]] = {}
    for line in (BLIND / "first_learned.txt").read_text(encoding="utf-8").splitlines():
        name, _, rest = line.partition(" ")
        out[name] = {group: float(value) for group, value, _, _ in FIGURE.findall(rest)}
    return out


FLOORS = first_figures()


@pytest.fixture(scope="module")
def knowledge() -> Knowledge:
    """The bot's reader on the shipped FAQ and examples (from the tests' shared cache)."""
    return Knowledge.load(DEFAULT_FAQ_PATH)


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_the_reader_stays_at_or_above_the_first_blind_figures(knowledge: Knowledge, name: str) -> None:
    """In-domain, declined, warning signs, contraindications, benign near-misses and safety questions on each
    blind set score at least what they scored when first measured."""
    got = score(knowledge, load_cases(BLIND / name))
    assert set(FLOORS[name]) <= set(got)
    now = {g: round(percent(got[g]), 1) for g in FLOORS[name]}  # the file records one decimal
    below = {g: (now[g], floor) for g, floor in FLOORS[name].items() if now[g] < floor}
    assert not below, f"{name}: (now, floor) {below}"
