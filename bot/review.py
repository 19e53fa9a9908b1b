"""The operator's review queue: what went unanswered, grouped, for one-tap labelling.

Pure functions over the store's rows and the FAQ; `bot.core` wires them to /review and its buttons.

- The queue is computed from the logged questions (declined, "did you mean", low-confidence answers and
  answers rated 👎), so /forget and the retention purge empty it like the questions themselves. Messages
  already decided (labelled, skipped, or marked "no entry fits") leave it.
- Groups: messages with the same normalised text are one; groups whose matcher top entry is the same and
  whose words are close (rapidfuzz token-set ratio) merge. Most frequent first.
- A decision stores each message's text masked (e-mail addresses, phone numbers, long digit runs) and with
  no user id, so an example can never lead back to who wrote it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz

from bot.storage import ReviewCandidate, ReviewLabel, Store
from faq.examples import MAX_EXAMPLE_CHARS, OFF_TOPIC, Example, dump_examples, parse_examples
from faq.matcher import ANSWER_SCORE, Matcher
from faq.models import Faq
from faq.text import normalise

Vector = npt.NDArray[np.float32]
SKIP = ":skip"
UNCOVERED = ":uncovered"  # "Other entry…" with no fitting entry: a new entry for the owner to write
LOW_CONFIDENCE = ANSWER_SCORE + 6  # answers scored below this are worth a look
MERGE_RATIO = 75.0
EMBEDDING_MERGE = 0.8  # cosine of near-paraphrases ("should i shower before a massage" / "do i need to take a
# shower before my massage" 0.95, "how much does a massage cost" / "is massage expensive" 0.85); looser
# neighbours ("can i bring my dog" / "...my puppy along") stay apart at 0.69: a wrong merge mislabels
EXAMPLES_PER_GROUP = 3
GUESSES = 3

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_DIGITS = re.compile(r"\d{5,}")


def mask(text: str) -> str:
    """Return text with e-mail addresses, phone numbers and runs of 5+ digits replaced by placeholders."""
    text = _EMAIL.sub("[email]", text)
    text = _PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group()) >= 7 else m.group(), text)
    return _DIGITS.sub("[number]", text)


def norm(text: str) -> str:
    """The key a message is labelled under: the matcher's normalised text."""
    return normalise(text)


@dataclass(slots=True)
class Group:
    """Similar messages shown as one item of the queue."""

    key: int  # the id of its most recent question: what its buttons carry
    top_entry: str | None
    norms: dict[str, str] = field(default_factory=dict)  # normalised text -> the newest masked text
    raw: dict[str, str] = field(default_factory=dict)  # normalised text -> the newest text as typed (never stored)
    ids: set[int] = field(default_factory=set)  # every question in it, so a button still finds a grown group
    size: int = 0
    guesses: tuple[str, ...] = ()

    @property
    def examples(self) -> list[str]:
        """Up to 3 example texts, masked."""
        return list(self.norms.values())[:EXAMPLES_PER_GROUP]


def undecided(candidates: Sequence[ReviewCandidate], decided: Iterable[str]) -> dict[str, list[ReviewCandidate]]:
    """The candidates no decision covers yet, by normalised text (each list newest first, as given)."""
    done = set(decided)
    by_norm: dict[str, list[ReviewCandidate]] = {}
    for c in candidates:
        n = norm(c.text)
        if n and n not in done:
            by_norm.setdefault(n, []).append(c)
    return by_norm


def build_queue(
    candidates: Sequence[ReviewCandidate],
    decided: Iterable[str],
    matcher: Matcher,
    vectors: Mapping[str, Vector] | None = None,
) -> list[Group]:
    """Group the undecided candidates (newest first in) and return the groups, most frequent first.

    Two messages share a group when the matcher's top entry is the same and their words are close, or, given
    `vectors` (normalised text -> unit sentence embedding, from the learned layer's model), when their
    embeddings are close (cosine EMBEDDING_MERGE or more) whatever their words.
    """
    groups: list[Group] = []
    for n, rows in sorted(undecided(candidates, decided).items(), key=lambda item: (-len(item[1]), -item[1][0].id)):
        ranked = matcher.rank(rows[0].text)
        top = ranked[0] if ranked else rows[0].entry_id
        mine = None if vectors is None else vectors.get(n)

        def close(g: Group, n: str = n, top: str | None = top, mine: Vector | None = mine) -> bool:
            first = next(iter(g.norms))
            if g.top_entry == top and fuzz.token_set_ratio(n, first) >= MERGE_RATIO:
                return True
            theirs = None if vectors is None else vectors.get(first)
            return mine is not None and theirs is not None and float(mine @ theirs) >= EMBEDDING_MERGE

        home = next((g for g in groups if close(g)), None)
        if home is None:
            home = Group(key=rows[0].id, top_entry=top, guesses=tuple(ranked[:GUESSES]))
            groups.append(home)
        home.norms[n] = mask(rows[0].text)
        home.raw[n] = rows[0].text
        home.ids.update(c.id for c in rows)
        home.size += len(rows)
        home.key = max(home.key, rows[0].id)
    groups.sort(key=lambda g: -g.size)
    return groups


def embed_new(
    candidates: Sequence[ReviewCandidate],
    decided: Iterable[str],
    known: dict[str, Vector],
    embed: Callable[[Sequence[str]], npt.NDArray[np.float32]],
) -> dict[str, Vector]:
    """Return the sentence embeddings of the undecided candidates, embedding only texts `known` lacks.

    `known` is updated (and pruned to the candidates), so each text is embedded once while it is in the queue.
    Blocking: call it off the event loop.
    """
    by_norm = undecided(candidates, decided)
    new = [n for n in by_norm if n not in known]
    if new:
        for n, vector in zip(new, embed([by_norm[n][0].text for n in new]), strict=True):
            known[n] = vector
    for n in [n for n in known if n not in by_norm]:
        del known[n]
    return {n: known[n] for n in by_norm}


@dataclass(frozen=True, slots=True)
class Uncovered:
    """A group of questions the FAQ does not cover: what the owner could write an entry for next."""

    count: int
    examples: tuple[str, ...]  # masked, up to 3
    reviewed: bool  # True: an admin said no entry fits; False: declined and not labelled (or skipped)


UNCOVERED_SHOWN = 10


def uncovered(
    candidates: Sequence[ReviewCandidate], labels: Sequence[ReviewLabel], matcher: Matcher
) -> list[Uncovered]:
    """Return the questions the FAQ does not cover, most asked first: groups an admin labelled "no entry
    fits", and groups of declined questions nobody labelled (skipped ones included)."""
    counts: dict[str, int] = {}
    for c in candidates:
        n = norm(c.text)
        counts[n] = counts.get(n, 0) + 1
    batches: dict[int, list[ReviewLabel]] = {}
    for row in labels:
        if row.label == UNCOVERED:
            batches.setdefault(row.batch, []).append(row)
    # A labelled text counts as often as it is still in the log, and at least once (the log may be purged).
    found = [
        Uncovered(
            sum(max(counts.get(r.norm, 0), 1) for r in rows), tuple(r.text for r in rows[:EXAMPLES_PER_GROUP]), True
        )
        for rows in batches.values()
    ]
    decided = [row.norm for row in labels if row.label != SKIP]
    declined = [c for c in candidates if c.tier == "none"]
    found += [Uncovered(g.size, tuple(g.examples), False) for g in build_queue(declined, decided, matcher)]
    found.sort(key=lambda u: (-u.count, not u.reviewed))
    return found[:UNCOVERED_SHOWN]


def find_group(groups: Sequence[Group], key: int) -> Group | None:
    """Return the group holding the question a button names (it may have grown since), or None once it was
    decided or purged."""
    return next((g for g in groups if key in g.ids), None)


def refusal(group: Group, label: str, safe_labels: Iterable[str], caught: Callable[[str], str | None]) -> str | None:
    """Return why a label is refused, or None: a message the safety layer catches keeps its safety answer.

    `caught` returns the safety reason the bot answers a text with (None when it does not); only the safety
    entries (`safe_labels`) may label such a message.
    """
    if label in set(safe_labels):
        return None
    for n, text in group.raw.items():
        reason = caught(text)
        if reason is not None:
            return (
                f"“{group.norms[n][:80]}” names a warning sign ({reason}), so it cannot be labelled as "
                "anything but a warning sign: a label never takes the safety answer away."
            )
    return None


def usable_examples(labels: Sequence[ReviewLabel], faq: Faq) -> tuple[tuple[Example, ...], tuple[ReviewLabel, ...]]:
    """Split stored decisions into examples for the FAQ as it is and labels naming an entry it no longer has."""
    examples: list[Example] = []
    missing: list[ReviewLabel] = []
    for row in labels:
        if row.label in (SKIP, UNCOVERED):
            continue
        if row.label == OFF_TOPIC or row.label in faq.by_id:
            examples.append(Example(row.text, row.label))
        else:
            missing.append(row)
    return tuple(examples), tuple(missing)


def _fit(text: str) -> str:
    """Cut a text to the examples file's length limit, at a word boundary."""
    if len(text) <= MAX_EXAMPLE_CHARS:
        return text
    cut = text[:MAX_EXAMPLE_CHARS]
    return cut[: cut.rfind(" ")] if " " in cut else cut


async def stored_examples(database: Path, faq: Faq) -> tuple[tuple[Example, ...], tuple[ReviewLabel, ...]]:
    """Read the review labels of a database: examples for `faq`, and labels naming an entry it lacks."""
    store = await Store.open(database)
    try:
        labels = await store.review_labels()
    finally:
        await store.close()
    return usable_examples(labels, faq)


def write_examples(examples: Sequence[Example], faq: Faq, path: Path) -> int:
    """Write examples to `path` in the examples-file format; return how many the loader reads back.

    The text is validated against `faq` with the loader (raising ExamplesError) before it replaces anything
    at `path`, and it replaces the file in one rename, so a reader never sees half of it.
    """
    text = dump_examples(Example(_fit(e.text), e.label) for e in examples)
    written = parse_examples(text, path, faq)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(written)
