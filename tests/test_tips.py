"""Tests for faq.tips: the tip of the day and the unseen tip."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from faq.models import Faq
from faq.tips import cycle_order, tip_of_the_day, unseen_tip

DAY = date(2026, 11, 25)


def test_tip_of_the_day_is_the_same_all_day(faq: Faq) -> None:
    """The same date gives the same tip, whatever order the tips come in."""
    shuffled = list(faq.tips)
    random.Random(1).shuffle(shuffled)

    assert tip_of_the_day(faq.tips, DAY) == tip_of_the_day(faq.tips, DAY) == tip_of_the_day(shuffled, DAY)


@pytest.mark.parametrize("start", [DAY, date(2000, 1, 1), date(2031, 7, 19)])
def test_tip_of_the_day_shows_every_tip_before_repeating(faq: Faq, start: date) -> None:
    """Over len(tips) consecutive days every tip comes up once; the next day starts the cycle again."""
    n = len(faq.tips)
    days = [tip_of_the_day(faq.tips, start + timedelta(days=k)) for k in range(n)]

    assert len({t.id for t in days}) == n
    assert tip_of_the_day(faq.tips, start + timedelta(days=n)) == days[0]


def test_cycle_order_is_fixed(faq: Faq) -> None:
    """Every process agrees on the cycle: the order depends only on the tip ids."""
    assert [t.id for t in cycle_order(faq.tips)] == [t.id for t in cycle_order(list(reversed(faq.tips)))]
    assert sorted(t.id for t in cycle_order(faq.tips)) == sorted(t.id for t in faq.tips)


def test_tip_of_the_day_needs_tips() -> None:
    """With no tips there is nothing to choose from: a ValueError says so."""
    with pytest.raises(ValueError, match="no tips"):
        tip_of_the_day([], DAY)


def test_unseen_tip_returns_only_unseen_tips(faq: Faq) -> None:
    """Asking again and again, marking each tip seen, walks through every tip once, then gives None."""
    rng = random.Random(7)
    seen: set[str] = set()
    for _ in faq.tips:
        tip = unseen_tip(faq.tips, seen, rng)
        assert tip is not None
        assert tip.id not in seen
        seen.add(tip.id)

    assert seen == {t.id for t in faq.tips}
    assert unseen_tip(faq.tips, seen, rng) is None


def test_unseen_tip_picks_the_last_one_left(faq: Faq) -> None:
    """When all but one tip have been seen, that one is returned."""
    last = faq.tips[-1]
    seen = [t.id for t in faq.tips[:-1]]

    assert unseen_tip(faq.tips, seen) == last


def test_unseen_tip_ignores_unknown_ids(faq: Faq) -> None:
    """Ids of tips that no longer exist in `seen` do not stop the remaining tips from coming up."""
    tip = unseen_tip(faq.tips, {"tip-removed-long-ago"}, random.Random(3))

    assert tip in faq.tips
