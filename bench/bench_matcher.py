"""Benchmark the FAQ matcher against a plain rapidfuzz baseline on the shipped FAQ.

Run from the repository root: `python bench/bench_matcher.py` (a few seconds). Every figure for the project's
Matcher is printed beside the baseline's, measured in the same run, and beside its target. Times are
wall-clock, so a busy machine inflates them.

The baseline is what one would write first: `process.extractOne(q, every question and variant,
scorer=fuzz.WRatio, processor=utils.default_process)`. It answers with the owner of the best phrasing when
the score is at least BASELINE_CUTOFF (80) and declines below it; it has no safety check.

Queries: the dev set's messages repeated DEV_REPEATS times, then every question and variant, then every
question and variant with one letter dropped (typo correction is the matcher's costliest step).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import rapidfuzz
import yaml
from rapidfuzz import fuzz, process, utils

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.evaluation import SAFETY_KIND, Case, load_cases, percent  # noqa: E402  (needs the path above)
from faq.loader import parse_faq  # noqa: E402
from faq.matcher import Matcher, MatchResult  # noqa: E402
from faq.models import DEFAULT_FAQ_PATH, Faq  # noqa: E402

DEV_SET = ROOT / "tests" / "data" / "dev.yaml"
BASELINE_CUTOFF = 80.0
DEV_REPEATS = 5
SEED = 20261125
T = TypeVar("T")

TARGET_P99_SHIPPED_MS = 1.0

@dataclass(frozen=True, slots=True)
class Timings:
    """Per-query times in milliseconds."""

    p50: float
    p99: float


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Dev-set accuracy for the three headline groups, in percent."""

    in_domain: float
    out_of_scope: float
    red_flags: float


class Baseline:
    """extractOne over every phrasing with WRatio; answers at BASELINE_CUTOFF or above."""

    def __init__(self, faq: Faq) -> None:
        self.phrases = [p for e in faq.entries for p in (e.question, *e.variants)]
        self.owner = [e.id for e in faq.entries for _ in (e.question, *e.variants)]

    def match(self, text: str) -> MatchResult:
        """Return the owner of the closest phrasing, or a decline below the cutoff."""
        found = process.extractOne(text, self.phrases, scorer=fuzz.WRatio, processor=utils.default_process)
        if found is None or found[1] < BASELINE_CUTOFF:
            return MatchResult(text, "none", None, found[1] if found else 0.0)
        return MatchResult(text, "answer", self.owner[found[2]], found[1])


def timed(build: Callable[[], T]) -> tuple[T, float]:
    """Return what `build` returns and the seconds it took."""
    start = time.perf_counter()
    value = build()
    return value, time.perf_counter() - start


def time_queries(match: Callable[[str], MatchResult], queries: Sequence[str]) -> Timings:
    """Run every query once, in order; return p50 and p99 in milliseconds."""
    times: list[float] = []
    for query in queries:
        start = time.perf_counter_ns()
        match(query)
        times.append((time.perf_counter_ns() - start) / 1e6)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return Timings(p50=statistics.median(times), p99=cuts[98])


def accuracy(match: Callable[[str], MatchResult], cases: Sequence[Case]) -> Accuracy:
    """Score a matcher on the dev set the way `faq.evaluation.evaluate` does."""
    groups: dict[str, list[int]] = {"in": [0, 0], "out": [0, 0], "flags": [0, 0]}
    for case in cases:
        group = "out" if not case.expect else "flags" if case.kind == SAFETY_KIND else "in"
        groups[group][0] += case.is_right(match(case.q))
        groups[group][1] += 1
    g = {k: (v[0], v[1]) for k, v in groups.items()}
    return Accuracy(percent(g["in"]), percent(g["out"]), percent(g["flags"]))


def row(label: str, ours: str, base: str, target: str = "", verdict: str = "") -> str:
    """Format one table row."""
    return f"  {label:<30}{ours:>12}{base:>12}   {target:<10}{verdict}"


def check(value: float, limit: float) -> str:
    """Return 'ok' or 'MISSED' for a value that must not exceed `limit`."""
    return "ok" if value <= limit else "MISSED"


def with_typo(text: str, rng: random.Random) -> str:
    """Drop one letter from one word of five letters or more (or return `text` unchanged)."""
    words = text.split()
    long = [n for n, word in enumerate(words) if len(word) >= 5]
    if not long:
        return text
    n = rng.choice(long)
    cut = rng.randrange(1, len(words[n]) - 1)
    words[n] = words[n][:cut] + words[n][cut + 1 :]
    return " ".join(words)


def main() -> int:
    """Run the benchmark and print the table."""
    rng = random.Random(SEED)
    ms, pct = "{:.3f} ms".format, "{:.1f}%".format

    cases = load_cases(DEV_SET)
    shipped_text = DEFAULT_FAQ_PATH.read_text(encoding="utf-8")
    start = time.perf_counter()
    faq = parse_faq(shipped_text, DEFAULT_FAQ_PATH)
    parse_small = time.perf_counter() - start
    matcher, index_ours = timed(lambda: Matcher(faq))
    baseline, index_base = timed(lambda: Baseline(faq))
    own = [p for e in faq.entries for p in (e.question, *e.variants)]
    queries = [c.q for c in cases] * DEV_REPEATS + own
    ours_small = time_queries(matcher.match, queries)
    base_small = time_queries(baseline.match, queries)
    acc_ours, acc_base = accuracy(matcher.match, cases), accuracy(baseline.match, cases)

    typo_queries = [with_typo(p, rng) for p in own]
    ours_typo = time_queries(matcher.match, typo_queries)
    base_typo = time_queries(baseline.match, typo_queries)

    lines = [
        "Matcher vs baseline (extractOne over every phrasing, WRatio, default_process, "
        f"answer at >= {BASELINE_CUTOFF:.0f})",
        f"python {sys.version.split()[0]}, rapidfuzz {rapidfuzz.__version__}, PyYAML {yaml.__version__}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "",
        row("", "Matcher", "baseline", "target"),
        f"shipped FAQ: {len(faq.entries)} entries, {len(own)} phrasings; "
        f"{len(queries)} queries (dev set x{DEV_REPEATS} + its own phrasings)",
        row("parse + validate (shared)", f"{parse_small * 1000:.1f} ms", f"{parse_small * 1000:.1f} ms"),
        row("index", f"{index_ours * 1000:.1f} ms", f"{index_base * 1000:.1f} ms"),
        row("p50 per query", ms(ours_small.p50), ms(base_small.p50)),
        row(
            "p99 per query",
            ms(ours_small.p99),
            ms(base_small.p99),
            f"<= {TARGET_P99_SHIPPED_MS:g} ms",
            check(ours_small.p99, TARGET_P99_SHIPPED_MS),
        ),
        row("dev in-domain top-1", pct(acc_ours.in_domain), pct(acc_base.in_domain)),
        row("dev out-of-scope declined", pct(acc_ours.out_of_scope), pct(acc_base.out_of_scope)),
        row("dev red flags", pct(acc_ours.red_flags), pct(acc_base.red_flags)),
        f"  {len(typo_queries)} of its own phrasings with one letter dropped",
        row("p50 per query", ms(ours_typo.p50), ms(base_typo.p50)),
        row(
            "p99 per query",
            ms(ours_typo.p99),
            ms(base_typo.p99),
            f"<= {TARGET_P99_SHIPPED_MS:g} ms",
            check(ours_typo.p99, TARGET_P99_SHIPPED_MS),
        ),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
