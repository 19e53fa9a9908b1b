"""The warning-sign check: runs before matching, so symptoms that need a doctor are never answered with a tip.

The concepts (numbness, bladder control, pregnancy, blood thinners...) and the words that change what they
mean are data, in the FAQ file's `safety:` section (`faq.models.Safety`). A concept is said in one of its
phrasings; each phrasing is words on normalised text (lowercase, no punctuation, "can't" is "cant"):

- ``word`` is that word; ``word*`` any word that starts so (``tingl*``: tingle, tingling);
- ``a|b|c`` any one of these words (each may end in ``*``);
- ``...`` up to three other words; ``_`` any one word; ``<n>`` a number (``<n>kg``: 10kg).

A phrasing found in a message raises the flag unless its context says otherwise, read the way NegEx and
medspaCy's ConText read clinical notes:

- **negation** before it, within a few words, whose scope has not ended: "no fever" is set aside, but in
  "nothing serious, no fall, but both legs tingle" the scope of "no" ends at "but" (or "and", "just",
  "now"...), so the tingling counts. Pseudo-negations ("not sure", "no idea") negate nothing.
- **passed**: a symptom that went away ("it went away once I stood up", "years ago"), unless the concept
  counts in the past too (a history of cancer), or it came back ("again", "still"); words that only look so
  ("can I still book", "my tests came back normal": `pseudo_recurred`) say nothing came back.
- **not the user**: the nearest subject before it is an animal or a thing ("my horse fell"), not "I" or "my";
  or another person ("my aunt had cancer"), unless the message asks about their care ("can she", "his legs").
  "I'm not" right after it keeps it another's ("my husband is on warfarin, I'm not": `self_denial`), and a
  person the user says they are is the user ("I'm a teacher on blood thinners").
- **ordinary use**: a phrase that uses the words in another sense ("fell asleep", "a heart attack at the
  price", "on pins and needles").
- **explained**: a harmless cause the concept itself lists, said right beside it ("my foot went numb from
  sitting cross legged", "legs like jelly after leg day"), unless it came back or goes on.

A statement that a check found nothing ("my GP checked me over, no red flags, it's just muscular": `cleared`) is
no concept; `without_cleared` gives the reader the message without it, since its words ("doctor", "serious")
are not what the message asks.

Messages come normalised, without punctuation, so scope ends are words, never commas. A false alarm costs a
user one extra sentence, a miss could cost far more: the concepts are broad, the context rules narrow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from faq.models import DEFAULT_FAQ_PATH, Faq, Safety, SafetyConcept
from faq.text import normalise

SEE_A_DOCTOR = "see-a-doctor"  # the shipped FAQ's entries for the two roles (benchmarks and tests name them)
CONTRAINDICATIONS = "contraindications"
SafetyEntry = Literal["see-a-doctor", "contraindications"]

GAP = 3  # words `...` may skip
NEGATION_WINDOW = 5  # a negation reaches this many words ahead, unless its scope ends sooner
PASSED_AFTER = 12  # a "went away" this many words after a symptom says it passed
PASSED_BEFORE = 6  # "years ago I ..." this many words before
SUBJECT_WINDOW = 6  # how far back to look for who the symptom belongs to
CAUSE_AFTER = 8  # a harmless cause ("from sitting cross legged") this many words after a symptom explains it
CAUSE_BEFORE = 4  # "after leg day my legs are jelly": this many words before
# Where a message's statements end, on the raw text: sentence punctuation, commas, and the words that turn to
# something else ("nothing serious but my leg is numb").
_CLAUSE = re.compile(r"([.!?;,\n]+)|\b(?:but|though|although|however|except|whereas)\b", re.IGNORECASE)

_ALTERNATIVE = r"(?:_|<n>[a-z]*|[a-z0-9]+\*?)"
_TOKEN = re.compile(rf"^(?:\.\.\.|{_ALTERNATIVE}(?:\|{_ALTERNATIVE})*)$")


class PhrasingError(ValueError):
    """A phrasing is not in the phrasing syntax."""


def phrasing_error(phrasing: str) -> str | None:
    """Return what is wrong with a phrasing, or None when it compiles."""
    words = phrasing.split()
    if not words:
        return "is empty"
    bad = [w for w in words if not _TOKEN.match(w)]
    if bad:
        return f"has {bad[0]!r}, which is not a word, word*, a|b, ..., _ or <n>"
    if words[0] == "..." or words[-1] == "...":
        return "starts or ends with '...'"
    return None


def _alternative(option: str) -> str:
    if option == "_":
        return r"\w+"
    if option.startswith("<n>"):
        return r"\d+" + re.escape(option[3:])
    return re.escape(option[:-1]) + r"\w*" if option.endswith("*") else re.escape(option)


def _word(token: str) -> str:
    options = [_alternative(t) for t in token.split("|")]
    return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"


def compile_phrasings(phrasings: tuple[str, ...]) -> re.Pattern[str] | None:
    """Return one pattern matching any of the phrasings as whole words, or None for none."""
    alternatives = []
    for phrasing in phrasings:
        problem = phrasing_error(phrasing)
        if problem is not None:
            msg = f"phrasing {phrasing!r} {problem}"
            raise PhrasingError(msg)
        out, gap = "", False
        for token in phrasing.split():
            if token == "...":  # noqa: S105  (a gap, not a password)
                gap = True
                continue
            if out:
                out += rf"(?: \w+){{0,{GAP}}} " if gap else " "
            out += _word(token)
            gap = False
        alternatives.append(out)
    if not alternatives:
        return None
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


@dataclass(frozen=True, slots=True)
class SafetyFlag:
    """Why a message was routed to a safety entry."""

    entry_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Reading:
    """What the rules read in one message: the flag raised, if any, and the concepts set aside for context."""

    flag: SafetyFlag | None
    set_aside: tuple[tuple[str, str], ...] = ()  # (concept reason, why: negated, passed, not the user, ordinary)
    spans: tuple[tuple[int, int], ...] = ()  # word ranges of each set-aside concept with the words that set it aside
    passed: bool = False  # the message says something passed ("the pain went away"), whatever it was

    def remainder(self, normalised: str) -> str:
        """The message without the set-aside concepts and their cues: what it asks once those are read."""
        drop = {i for first, last in self.spans for i in range(first, last + 1)}
        return " ".join(w for i, w in enumerate(normalised.split(" ")) if i not in drop)


@dataclass(frozen=True, slots=True)
class _Concept:
    entry_id: str
    reason: str
    phrasings: tuple[tuple[re.Pattern[str], bool], ...]  # each with: does it spell a negation itself?
    counts_in_past: bool
    explained_by: re.Pattern[str] | None  # harmless causes said beside it ("from sitting cross legged")


class SafetyRules:
    """The safety section of one FAQ, compiled; `check` and `read` take normalised text."""

    def __init__(self, safety: Safety, warning_entry: str = SEE_A_DOCTOR, contra_entry: str = CONTRAINDICATIONS):
        entry = {"warning_signs": warning_entry, "contraindications": contra_entry}
        # Checked in file order, so the owner decides which concept speaks first (warning signs, mostly).
        ordered: list[SafetyConcept] = list(safety.concepts)
        context = safety.context
        words = {w for n in context.negation if " " not in n for w in n.split("|")}  # single-word negations
        self._concepts = [
            _Concept(
                entry[c.role],
                c.reason,
                tuple(_phrasing(p, words) for p in c.phrasings),
                c.counts_in_past,
                compile_phrasings(c.explained_by),
            )
            for c in ordered
        ]
        self._any = compile_phrasings(tuple(p for c in ordered for p in c.phrasings))
        self._negation = compile_phrasings(context.negation)
        self._negation_after = compile_phrasings(context.negation_after)
        self._pseudo = compile_phrasings(context.pseudo_negation)
        self._scope_ends = frozenset(context.scope_ends)
        self._passed = compile_phrasings(context.passed)
        self._recurred = compile_phrasings(context.recurred)
        self._pseudo_recurred = compile_phrasings(context.pseudo_recurred)
        self._ordinary = compile_phrasings(context.ordinary)
        self._others = frozenset(context.not_the_user)
        self._user = frozenset(context.the_user)
        self._someone = frozenset(context.someone_else)
        self._clause_ends = self._scope_ends - self._user  # "but", "now": not "I", which starts most clauses
        self._their_care = compile_phrasings(context.their_care)
        self._self_denial = compile_phrasings(context.self_denial)
        self._comparers = self._user | {"we", "it", "they"}  # "like I used to", "than we did"
        self._cleared = compile_phrasings(context.cleared)

    @classmethod
    def for_faq(cls, faq: Faq) -> SafetyRules:
        """The rules of one FAQ, routed to its own safety entries."""
        return cls(faq.safety, faq.roles.warning_signs, faq.roles.contraindications)

    def check(self, normalised: str) -> SafetyFlag | None:
        """Return the safety entry a message must get, or None; warning signs outrank contraindications."""
        return self.read(normalised).flag

    def read(self, normalised: str) -> Reading:
        """Return the flag the message raises and the concepts its context set aside."""
        if self._any is None or self._any.search(normalised) is None:
            return Reading(None, passed=self._says_passed(normalised))
        words = normalised.split(" ")
        starts = _word_starts(normalised)
        pseudo = _spans(self._pseudo, normalised, starts)
        negations = _without(pseudo, _spans(self._negation, normalised, starts))
        cues = _Cues(
            ordinary=_spans(self._ordinary, normalised, starts),
            negations=negations,
            denied=_spans(self._negation_after, normalised, starts),
            disowned=_without(pseudo, _spans(self._self_denial, normalised, starts)),
            passed=self._passings(normalised, starts, negations),
            recurred=self._recurrences(normalised, starts),
            theirs=self._their_care is not None and self._their_care.search(normalised) is not None,
        )
        aside: list[tuple[str, str]] = []
        spans: list[tuple[int, int]] = []
        for concept in self._concepts:
            found_spans = sorted(
                (starts[m.start()], starts[m.end() - 1], spells_negation)
                for pattern, spells_negation in concept.phrasings
                for m in pattern.finditer(normalised)
            )
            causes = _spans(concept.explained_by, normalised, starts) if found_spans else []
            for first, last, spells_negation in found_spans:
                inside = [] if spells_negation else [n for n in negations if first < n[0] and n[1] <= last]
                if inside:  # "the pain isn't getting worse": a negation in the gap of the phrasing
                    aside.append((concept.reason, "negated"))
                    spans.append((first, last))
                    continue
                why = self._set_aside(words, first, last, concept, causes, cues)
                if why is None:
                    return Reading(SafetyFlag(concept.entry_id, concept.reason), tuple(aside), tuple(spans))
                aside.append((concept.reason, why[0]))
                spans.append(why[1])
        return Reading(None, tuple(aside), tuple(spans), passed=bool(cues.passed) and not cues.recurred)

    @staticmethod
    def clauses(text: str) -> list[str]:
        """The statements of a message (raw text), split at sentence punctuation, commas and contrast words."""
        return [clause for clause, _ in _statements(text)]

    def without_cleared(self, text: str) -> str | None:
        """The message (raw text) without its statements that a check found nothing ("my GP checked me over, no red
        flags, says it's just muscular"), or None if it makes none. A question ("is that just muscular?") is no
        such statement."""
        if self._cleared is None or self._cleared.search(normalise(text)) is None:
            return None
        statements = _statements(text)
        kept = [c for c, end in statements if "?" in end or self._cleared.search(normalise(c)) is None]
        return None if len(kept) == len(statements) else " ".join(kept)

    def _says_passed(self, normalised: str) -> bool:
        """True when the message says something passed, and nothing negates that or says it came back."""
        if self._passed is None or self._passed.search(normalised) is None:
            return False
        starts = _word_starts(normalised)
        negations = self._negations(normalised, starts)
        return bool(self._passings(normalised, starts, negations)) and not self._recurrences(normalised, starts)

    def _recurrences(self, text: str, starts: list[int]) -> list[tuple[int, int]]:
        """Where the message says something came back or goes on ("still", "came back"), less the words that
        only look so ("is it still ok to book", "my tests came back normal")."""
        return _without(_spans(self._pseudo_recurred, text, starts), _spans(self._recurred, text, starts))

    def _passings(self, text: str, starts: list[int], negations: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Where the message says something passed; "won't go away", "hasn't gone away" are no passing, nor is a
        comparison with the past ("can't hold my wee like I used to")."""
        words = text.split(" ")
        return [
            p
            for p in _spans(self._passed, text, starts)
            if not any(0 < p[0] - n[1] <= 2 for n in negations) and not self._compares(words, p[0])
        ]

    def _compares(self, words: list[str], start: int) -> bool:
        """True when the words before `start` compare with the past: "like I", "as I", "than we"."""
        return start >= 2 and words[start - 1] in self._comparers and words[start - 2] in ("like", "as", "than")

    def _negations(self, text: str, starts: list[int]) -> list[tuple[int, int]]:
        return _without(_spans(self._pseudo, text, starts), _spans(self._negation, text, starts))

    def _explained(
        self, words: list[str], first: int, last: int, causes: list[tuple[int, int]], cues: _Cues
    ) -> tuple[int, int] | None:
        """The words that put one of the concept's harmless causes (`causes`: where they are in the message) right
        beside it ("legs like jelly after leg day", "after leg day my legs are jelly"), unless the symptom came
        back or goes on ("still", "ever since")."""
        for start, end in causes:
            if start > 0 and words[start - 1] in ("like", "as"):
                continue  # "numb, like after the dentist" is a likeness, not a cause
            if any(0 <= start - n[1] <= 2 for n in cues.negations):
                continue  # "numb, and not from sitting cross legged", "I'm not on a diet": a cause denied
            after = last < start <= last + CAUSE_AFTER
            before = 0 < first - end <= CAUSE_BEFORE and not self._clause_ends & set(words[end + 1 : first])
            if (after or before) and not any(abs(r[0] - last) <= PASSED_AFTER for r in cues.recurred):
                return min(first, start), max(last, end)
        return None

    def _on_a_thing(self, words: list[str], last: int) -> bool:
        """True when a thing comes right after the concept: "a hairline crack in my phone screen"."""
        after = words[last + 1 : last + 4]
        if len(after) < 2 or after[0] not in ("in", "on", "of"):
            return False
        determiner = after[1] in ("my", "the", "a", "an", "our", "his", "her", "their")
        noun = after[2] if determiner and len(after) > 2 else after[1]
        return _one_of(noun, self._others)

    def _describes_user(self, words: list[str], i: int) -> bool:
        """True when the word at i is how the user describes themself: "im a student on warfarin", "grandad here,
        78. tripped over the cat"."""
        if i + 1 < len(words) and words[i + 1] == "here":
            return True
        return i >= 2 and words[i - 1] in ("a", "an") and (words[i - 2] in self._user or words[i - 2] == "am")

    def _set_aside(
        self,
        words: list[str],
        first: int,
        last: int,
        concept: _Concept,
        causes: list[tuple[int, int]],
        cues: _Cues,
    ) -> tuple[str, tuple[int, int]] | None:
        """Why a concept found at words first..last does not count, with the words that say so; or None."""
        for span in cues.ordinary:
            if _overlap((first, last), span):
                return "ordinary use", (min(first, span[0]), max(last, span[1]))
        for start, end in cues.negations:
            if end < first and first - end <= NEGATION_WINDOW and not self._scope_ends & set(words[end + 1 : first]):
                return "negated", (start, last)
        for start, end in cues.denied:
            # "bladder fine, bowels normal"; but "on warfarin, ok to have a massage?" asks whether it is fine
            if start == last + 1 and words[end + 1 : end + 2] not in (["to"], ["for"], ["with"], ["if"], ["or"]):
                return "negated", (first, end)
        for start, end in cues.disowned:
            if last < start <= last + PASSED_AFTER and self._someone & set(words[last + 1 : start]):
                return "someone else", (first, end)  # "the warfarin I pick up is for my mum, not me"
        explained = self._explained(words, first, last, causes, cues)
        if explained is not None:
            return "explained", explained
        if not concept.counts_in_past:
            passed = cues.passed
            # "surgery 15 years ago": a passing that ends the concept's own words counts as one after it
            after = [s for s in passed if last < s[0] <= last + PASSED_AFTER or (first < s[0] and s[1] == last)]
            before = [  # "years ago I broke my wrist"; but not "the pain settled but now my legs are numb"
                s
                for s in passed
                if 0 < first - s[1] <= PASSED_BEFORE
                and not self._clause_ends & set(words[s[1] + 1 : first])
                and not (words[s[1]] == "gone" and s[1] + 1 == first)  # "it's gone numb" is what it became
            ]
            if (after or before) and not any(last < r[0] <= last + PASSED_AFTER + 4 for r in cues.recurred):
                return "passed", (min([first, *(s[0] for s in before)]), max([last, *(s[1] for s in after)]))
        if self._on_a_thing(words, last):
            return "not the user", (first, last + 3)
        following = [w for w in words[last + 1 : last + 2] if w not in self._clause_ends]
        if any(start == last + 1 for start, _ in cues.disowned):
            following = []  # "my husband is on warfarin, I'm not": the user after it says it is not theirs
        if self._user & {*words[first : last + 1], *following}:
            return None  # "my dog knocked me over", "the shelf fell on me": the user is in it
        for i in range(first - 1, max(first - SUBJECT_WINDOW, 0) - 1, -1):
            if words[i] in self._user or self._describes_user(words, i):
                break
            if _one_of(words[i], self._others):
                return "not the user", (i, last)
            if _one_of(words[i], self._someone):
                return None if cues.theirs else ("someone else", (i, last))
        return None


@dataclass(frozen=True, slots=True)
class _Cues:
    """Where one message's context words are (word ranges), found once and read for each concept."""

    ordinary: list[tuple[int, int]]  # "fell asleep": the words in another sense
    negations: list[tuple[int, int]]  # "no", "without", before a concept
    denied: list[tuple[int, int]]  # "fine", "normal", right after one
    disowned: list[tuple[int, int]]  # "not me", "im not on anything", after one
    passed: list[tuple[int, int]]  # "went away", "years ago"
    recurred: list[tuple[int, int]]  # "came back", "still"
    theirs: bool  # the message asks about another person's care ("can she")


def _statements(text: str) -> list[tuple[str, str]]:
    """The statements of a message (raw text), each with the punctuation that ends it ("" at a contrast word or
    the end), blank ones left out."""
    parts = _CLAUSE.split(text)  # with its group: statement, punctuation (None at a contrast word), statement...
    ends = [end or "" for end in parts[1::2]] + [""]
    return [(" ".join(c.split()), end) for c, end in zip(parts[::2], ends, strict=True) if c and c.strip()]


def _without(pseudo: list[tuple[int, int]], found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans that no pseudo-negation ("not sure", "no idea") overlaps."""
    return [n for n in found if not any(_overlap(n, p) for p in pseudo)]


def _one_of(word: str, words: frozenset[str]) -> bool:
    """True when the word, or the word without an "s" ("my mum's" is "mums" once normalised), is one of these."""
    return word in words or (len(word) > 3 and word.endswith("s") and word[:-1] in words)


def _phrasing(phrasing: str, negation_words: set[str]) -> tuple[re.Pattern[str], bool]:
    pattern = compile_phrasings((phrasing,))
    assert pattern is not None  # one valid phrasing compiles to one pattern
    spells = any(option in negation_words for token in phrasing.split() for option in token.split("|"))
    return pattern, spells


def _word_starts(text: str) -> list[int]:
    """For each character of `text`, the index of the word it belongs to (a space belongs to the next)."""
    index, out = 0, []
    for char in text:
        out.append(index)
        if char == " ":
            index += 1
            out[-1] = index
    return out


def _spans(pattern: re.Pattern[str] | None, text: str, starts: list[int]) -> list[tuple[int, int]]:
    if pattern is None:
        return []
    return [(starts[m.start()], starts[m.end() - 1]) for m in pattern.finditer(text)]


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


@cache
def _shipped() -> SafetyRules:
    from faq.loader import load_faq  # the loader imports this module: import it only when first needed

    return SafetyRules.for_faq(load_faq(DEFAULT_FAQ_PATH))


def check(normalised: str) -> SafetyFlag | None:
    """The shipped FAQ's rules on one normalised message (code that holds an Faq uses SafetyRules.for_faq)."""
    return _shipped().check(normalised)
