"""Benchmark the FAQ matcher against a plain rapidfuzz baseline, on the shipped FAQ and on 10,000 entries.

Run from the repository root: `python bench/bench_matcher.py` (a minute or two, most of it the baseline's
queries on the large FAQ). Every figure for the project's Matcher is printed beside the baseline's, measured
in the same run, and beside its target. Times are wall-clock, so a busy machine inflates them.

The baseline is what one would write first: `process.extractOne(q, every question and variant,
scorer=fuzz.WRatio, processor=utils.default_process)`. It answers with the owner of the best phrasing when
the score is at least BASELINE_CUTOFF (80) and declines below it; it has no safety check.

Queries on the shipped FAQ: the dev set's messages repeated DEV_REPEATS times, then every question and
variant. The synthetic FAQ holds the shipped entries, shuffled in among generated ones that recombine the
shipped words with made-up ones (8 to 10 unique variants each); it is written out as YAML and read back with
`parse_faq`, so load and validation time are real. Its queries: the dev set repeated, plus as many of its
own phrasings as the shipped FAQ has, and separately LARGE_QUERIES of its phrasings with a letter dropped.
There the baseline takes about a tenth of a second a query, so it runs BASELINE_SAMPLE of each set.
"""

from __future__ import annotations

import argparse
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
from faq.models import DEFAULT_FAQ_PATH, TOPICS, Faq  # noqa: E402
from faq.text import normalise  # noqa: E402

DEV_SET = ROOT / "tests" / "data" / "dev.yaml"
BASELINE_CUTOFF = 80.0
DEV_REPEATS = 5
LARGE_ENTRIES = 10_000
LARGE_QUERIES = 400
BASELINE_SAMPLE = 150  # the baseline takes a tenth of a second a query at 10,000 entries
SEED = 20261125
T = TypeVar("T")

TARGET_P99_SHIPPED_MS = 1.0
TARGET_P99_LARGE_MS = 20.0
TARGET_LOAD_LARGE_S = 2.0

SYLLABLES = "ba be bi bo da de di do fa fe fi ka ke ki ko la le li lo ma me mi mo na ne ni no pa pe pi po ra re ri ro "
SYLLABLES += "sa se si so ta te ti to va ve vi vo za ze zi zo bar ber dor fen kin lan mor nel pol ros sen tar vin zel"
TEMPLATES = (
    "what is {a} {b}",
    "{a} {b} {w}",
    "does {a} help with {w} {v}",
    "how do i {w} my {b}",
    "is {a} {b} good for {w}",
    "{w} and {a} {b}",
    "can {b} {w} {v}",
    "where can i find {a} {b} near me",
    "{a} {b} for {w} {v} {u}",
    "i have been wondering whether {a} {b} could help with {w} or {v} at all",
)


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


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    """Return `count` distinct made-up words of two or three syllables."""
    syllables = SYLLABLES.split()
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(syllables) for _ in range(rng.choice((2, 3, 3)))))
    return sorted(words)


def synthetic_yaml(shipped: Faq, entries: int, seed: int = SEED) -> str:
    """Return FAQ YAML with the shipped entries plus generated ones, `entries` in all, every phrasing unique."""
    rng = random.Random(seed)
    phrases = [normalise(p) for e in shipped.entries for p in (e.question, *e.variants)]
    real = sorted({w for p in phrases for w in p.split() if len(w) >= 4})
    made_up = pseudo_words(rng, 4000)
    answers = [s.strip() + "." for e in shipped.entries for s in e.answer.split(".") if len(s.strip()) > 20]
    seen = set(phrases)
    items: list[dict[str, object]] = [
        {
            "id": e.id,
            "topic": e.topic,
            "question": e.question,
            "variants": list(e.variants),
            "answer": e.answer,
            "source": e.source,
        }
        for e in shipped.entries
    ]
    for n in range(entries - len(items)):
        a, b = rng.sample(made_up, 2)
        variants: list[str] = []
        while len(variants) < rng.randint(8, 10):
            if rng.random() < 0.25:  # a shipped phrasing with one word swapped for this entry's subject
                words = rng.choice(phrases).split()
                words[rng.randrange(len(words))] = f"{a} {b}"
                text = " ".join(words)
            else:
                w, v, u = (rng.choice(real if rng.random() < 0.6 else made_up) for _ in range(3))
                text = rng.choice(TEMPLATES).format(a=a, b=b, w=w, v=v, u=u)
            if normalise(text) not in seen:
                seen.add(normalise(text))
                variants.append(text)
        question = f"What should I know about {a} {b} {n}?"
        seen.add(normalise(question))
        items.append(
            {
                "id": f"syn-{n:05d}",
                "topic": rng.choice(TOPICS),
                "question": question,
                "variants": variants,
                "answer": " ".join(rng.sample(answers, 2))[:600],
                "source": "general guidance",
            }
        )
    rng.shuffle(items)  # the shipped entries go anywhere: nothing may profit from coming first
    tips = [{"id": t.id, "text": t.text, "source": t.source} for t in shipped.tips]
    data = {"version": 1, "synonyms": dict(shipped.synonyms), "entries": items, "tips": tips}
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(data, Dumper=dumper, sort_keys=False, allow_unicode=True, width=1000))


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=LARGE_ENTRIES, help="size of the synthetic FAQ")
    args = parser.parse_args()
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

    large_text = synthetic_yaml(faq, args.entries)
    start = time.perf_counter()
    big = parse_faq(large_text, "<synthetic>")
    parse_big = time.perf_counter() - start
    parse_big_c = float("nan")
    if yaml.__with_libyaml__:
        _, parse_big_c = timed(lambda: yaml.load(large_text, Loader=yaml.CSafeLoader))
    big_matcher, index_big_ours = timed(lambda: Matcher(big))
    big_baseline, index_big_base = timed(lambda: Baseline(big))
    big_own = [p for e in big.entries for p in (e.question, *e.variants)]
    big_queries = [c.q for c in cases] * DEV_REPEATS + rng.sample(big_own, len(own))
    typo_queries = [with_typo(p, rng) for p in rng.sample(big_own, LARGE_QUERIES)]
    ours_big = time_queries(big_matcher.match, big_queries)
    ours_typo = time_queries(big_matcher.match, typo_queries)
    base_sample = rng.sample(big_queries, BASELINE_SAMPLE)
    base_big = time_queries(big_baseline.match, base_sample)
    base_typo = time_queries(big_baseline.match, typo_queries[:BASELINE_SAMPLE])
    acc_big, acc_big_base = accuracy(big_matcher.match, cases), accuracy(big_baseline.match, cases)

    n_big = sum(1 + len(e.variants) for e in big.entries)
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
        "",
        f"synthetic FAQ: {len(big.entries):,} entries (the shipped ones among them), {n_big:,} phrasings, "
        f"{len(large_text) / 1e6:.1f} MB of YAML",
        row("parse + validate (shared)", f"{parse_big:.2f} s", f"{parse_big:.2f} s"),
        row("  of which YAML (libyaml)", f"{parse_big_c:.2f} s", "", "(the loader's parser)"),
        row("index", f"{index_big_ours:.2f} s", f"{index_big_base:.2f} s"),
        row(
            "load + index",
            f"{parse_big + index_big_ours:.2f} s",
            f"{parse_big + index_big_base:.2f} s",
            f"<= {TARGET_LOAD_LARGE_S:g} s",
            check(parse_big + index_big_ours, TARGET_LOAD_LARGE_S),
        ),
        f"  {len(big_queries)} queries: dev set x{DEV_REPEATS} + {len(own)} of its own phrasings "
        f"(baseline: {BASELINE_SAMPLE} of them)",
        row("p50 per query", ms(ours_big.p50), ms(base_big.p50)),
        row(
            "p99 per query",
            ms(ours_big.p99),
            ms(base_big.p99),
            f"<= {TARGET_P99_LARGE_MS:g} ms",
            check(ours_big.p99, TARGET_P99_LARGE_MS),
        ),
        f"  {LARGE_QUERIES} of its own phrasings with one letter dropped (baseline: {BASELINE_SAMPLE} of them)",
        row("p50 per query", ms(ours_typo.p50), ms(base_typo.p50)),
        row(
            "p99 per query",
            ms(ours_typo.p99),
            ms(base_typo.p99),
            f"<= {TARGET_P99_LARGE_MS:g} ms",
            check(ours_typo.p99, TARGET_P99_LARGE_MS),
        ),
        row("dev in-domain top-1", pct(acc_big.in_domain), pct(acc_big_base.in_domain)),
        row("dev out-of-scope declined", pct(acc_big.out_of_scope), pct(acc_big_base.out_of_scope)),
        row("dev red flags", pct(acc_big.red_flags), pct(acc_big_base.red_flags)),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
