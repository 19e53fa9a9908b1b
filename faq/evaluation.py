"""Score the matcher on a labelled set of messages (the format of shared/eval/dev.yaml)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from faq.matcher import MatchResult


class Reader(Protocol):
    """Anything that reads a message into a verdict: the lexical Matcher, or the combined Understanding."""

    def match(self, text: str) -> MatchResult:
        """Return the verdict on one message."""
        ...


SAFETY_KIND = "safety"


@dataclass(frozen=True, slots=True)
class Case:
    """One labelled message: the acceptable entry ids, or none where the bot must decline."""

    q: str
    expect: tuple[str, ...]
    kind: str

    def is_right(self, result: MatchResult) -> bool:
        """True when the matcher answered with an accepted id, or declined an out-of-scope message."""
        if not self.expect:
            return result.tier == "none"
        return result.tier == "answer" and result.entry_id in self.expect


@dataclass(frozen=True, slots=True)
class Miss:
    """A case the matcher got wrong, with what it did instead."""

    case: Case
    result: MatchResult


@dataclass(frozen=True, slots=True)
class EvalReport:
    """Accuracy per kind and for the three headline groups."""

    by_kind: dict[str, tuple[int, int]]
    in_domain: tuple[int, int]
    out_of_scope: tuple[int, int]
    red_flags: tuple[int, int]
    misses: tuple[Miss, ...]


def load_cases(path: Path | str) -> list[Case]:
    """Read labelled cases from YAML; raise ValueError naming the file on a bad shape."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, list):
        msg = f"{path}: expected a list of cases with q, expect and kind"
        raise ValueError(msg)
    cases: list[Case] = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict) or not isinstance(item.get("q"), str) or not isinstance(item.get("expect"), list):
            msg = f"{path}: case #{n} needs q (text) and expect (a list of ids)"
            raise ValueError(msg)
        cases.append(Case(item["q"], tuple(str(i) for i in item["expect"]), str(item.get("kind", "unlabelled"))))
    return cases


def evaluate(matcher: Reader, cases: list[Case]) -> EvalReport:
    """Run every case through the matcher (or the combined reader) and tally the results."""
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misses: list[Miss] = []
    for case in cases:
        result = matcher.match(case.q)
        right = case.is_right(result)
        group = "out" if not case.expect else "flags" if case.kind == SAFETY_KIND else "in"
        for tally in (by_kind[case.kind], groups[group]):
            tally[0] += right
            tally[1] += 1
        if not right:
            misses.append(Miss(case, result))
    return EvalReport(
        by_kind={k: (v[0], v[1]) for k, v in sorted(by_kind.items())},
        in_domain=(groups["in"][0], groups["in"][1]),
        out_of_scope=(groups["out"][0], groups["out"][1]),
        red_flags=(groups["flags"][0], groups["flags"][1]),
        misses=tuple(misses),
    )


def percent(tally: tuple[int, int]) -> float:
    """Return right/total as a percentage (100 for an empty tally)."""
    right, total = tally
    return 100.0 * right / total if total else 100.0


SAFETY_ENTRIES = frozenset({"see-a-doctor", "contraindications"})
GROUPS = ("in", "out", "warn", "contra", "benign", "flags")


def group_of(case: Case) -> str:
    """The headline a case counts in: in-domain, declined, warning sign, contraindication, benign near-miss,
    or a question about safety itself ("flags": an ordinary kind of message whose answer is a safety entry)."""
    if case.kind == SAFETY_KIND:
        return "warn"
    if case.kind == "contra":
        return "contra"
    if case.kind == "nearmiss":
        return "benign"
    if not case.expect:
        return "out"
    return "flags" if set(case.expect) & SAFETY_ENTRIES else "in"


def score(reader: Reader, cases: list[Case]) -> dict[str, tuple[int, int]]:
    """Right and total per headline group (only the groups the cases have), in GROUPS order."""
    tally: dict[str, list[int]] = {g: [0, 0] for g in GROUPS}
    for case in cases:
        counts = tally[group_of(case)]
        counts[0] += case.is_right(reader.match(case.q))
        counts[1] += 1
    return {g: (v[0], v[1]) for g, v in tally.items() if v[1]}
