"""Choosing tips: the tip of the day, shared by everyone, and an unseen tip for "Another tip"."""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from datetime import date

from faq.models import Tip

_ORDER_SEED = 20261125  # fixed, so every process agrees on the cycle


def cycle_order(tips: Sequence[Tip]) -> list[Tip]:
    """Return the tips in the fixed, shuffled order the tip of the day walks through."""
    ordered = sorted(tips, key=lambda t: t.id)
    random.Random(_ORDER_SEED).shuffle(ordered)
    return ordered


def tip_of_the_day(tips: Sequence[Tip], day: date) -> Tip:
    """Return the tip for `day`: the same for everyone, and every tip once before any repeats."""
    if not tips:
        msg = "there are no tips to choose from"
        raise ValueError(msg)
    order = cycle_order(tips)
    return order[day.toordinal() % len(order)]


def unseen_tip(tips: Sequence[Tip], seen: Collection[str], rng: random.Random | None = None) -> Tip | None:
    """Return a random tip whose id is not in `seen`, or None once all have been seen."""
    fresh = [t for t in tips if t.id not in seen]
    if not fresh:
        return None
    return (rng or random).choice(fresh)
