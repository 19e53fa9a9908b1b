"""Match a user's message to an FAQ entry: typo-tolerant, weighted by rarity, and willing to decline.

How a message is scored:
1. Normalise it (`faq.text`), keep the first few hundred characters, split into words.
2. Rewrite the synonym table's phrases ("how much" -> cost), map each word through it; a word the FAQ never
   uses is typo-corrected against the FAQ's vocabulary with rapidfuzz (`extract` + `score_cutoff`), then
   mapped again and stemmed. An everyday English word (faq/common_words.txt) is never "corrected" into an
   FAQ word: "seat" is not "set".
3. Drop filler words. The rest are weighted by inverse entry frequency, so "back" or "massage", which
   every entry mentions, barely count, while "kidney" or "sleep" decide.
4. Keyword coverage: the share of the message's weight that an entry's vocabulary explains. Words the
   FAQ does not know count against every entry, which is what declines "kidney beans recipe". A message
   with several topic words but none of the FAQ's anchors (massage, back, therapist, ...) and no "it"
   standing in for one is about another subject ("cost of living in london") and is declined, as is one
   with an off-topic word from the FAQ file (a massage chair, a career, a pet).
5. Fuzzy similarity of the whole message against every phrasing of every entry, with rapidfuzz
   `process.extract`, catches word order and near-misses that keywords alone would not.
6. The blend decides the tier: answer, suggest (close candidates) or none.
A red-flag check (`faq.safety`) runs before all of this and always wins.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from faq import safety
from faq.models import Faq
from faq.text import normalise, stem

Tier = Literal["answer", "suggest", "none"]
COMMON_WORDS_PATH = Path(__file__).with_name("common_words.txt")

ANSWER_SCORE = 52.0
SUGGEST_SCORE = 45.0
KEYWORD_WEIGHT = 0.7
UNKNOWN_WORD_WEIGHT = 2.5
MAX_UNKNOWN_WORDS = 4  # a long, chatty message is not declined just for its chatter
CORRECTED_WORD_FACTOR = 0.85
FUZZY_CANDIDATES = 40
TOP = 5  # entries `_rank` returns
FALLBACK_SCORE = 86.0
EVIDENCE_CAP = 9.0
WORDING_MAX_WORDS = 12  # messages up to this long are also compared word for word with every phrasing
MIN_EVIDENCE = 1.0

@dataclass(frozen=True, slots=True)
class MatchResult:
    """What the matcher concluded about one message."""

    query: str
    tier: Tier
    entry_id: str | None
    score: float
    suggestions: tuple[str, ...] = ()
    safety_reason: str | None = None
    also: str | None = None  # with a safety answer: the entry the message would otherwise have matched
    english: bool = True  # False: the message is in another language, which the bot says it cannot read
    # A warning sign the rules read but the learned layer overruled (`faq.understanding`), with the safety entry
    # the rules answered it with: the answer keeps a line naming it, so that a sign the rules were right about is
    # never dropped without a word.
    caveat: safety.SafetyFlag | None = None

    def as_dict(self) -> dict[str, object]:
        """Return the JSON shape used by `python -m faq match --json`."""
        return {
            "q": self.query,
            "id": self.entry_id,
            "tier": self.tier,
            "score": round(self.score, 1),
            "suggestions": list(self.suggestions),
        }


@dataclass(slots=True)
class _Query:
    words: list[str] = field(default_factory=list)  # content words, after synonyms, correction, stemming
    corrected: set[str] = field(default_factory=set)
    unknown_words: list[str] = field(default_factory=list)

    @property
    def unknown(self) -> int:
        """How many words of the message the FAQ never uses."""
        return len(self.unknown_words)

    text: str = ""  # normalised text with corrections applied, for the safety check
    normalised: str = ""  # the message normalised, nothing else: for the exact-phrasing lookup and safety
    typed: str = ""  # normalised text as typed, before phrases are rewritten: the user's own wording


class Matcher:
    """An index over one Faq; build once, then call `match` as often as needed."""

    def __init__(self, faq: Faq) -> None:
        self.faq = faq
        self._index(faq)

    def _index(self, faq: Faq) -> None:
        self._ids = [e.id for e in faq.entries]
        self._stopwords = faq.vocabulary.stopwords
        self._filler = faq.vocabulary.filler
        self._references = faq.vocabulary.references
        self._warning_words = faq.vocabulary.warning_words
        # The FAQ's own warning-sign concepts, routed to its own safety entries.
        self.safety = safety.SafetyRules.for_faq(faq)
        self._synonyms = {k: v.split() for k, v in faq.synonyms.items() if " " not in k}
        self._shorthand = {k: v[0] for k, v in self._synonyms.items() if len(v) == 1 and v[0] in self._stopwords}
        # Phrases ("how much", "nod off") are rewritten as a whole before words are looked at, longest first;
        # each word may carry an ending ("breaking the bank"). Keyed by the forms of their first word.
        phrases = sorted((k for k in faq.synonyms if " " in k), key=lambda p: (len(p.split()), len(p)), reverse=True)
        self._phrases: dict[str, list[tuple[tuple[frozenset[str], ...], list[str]]]] = defaultdict(list)
        for phrase in phrases:
            forms = [frozenset(word + ending for ending in _ENDINGS) for word in phrase.split()]
            for first in forms[0]:
                self._phrases[first].append((tuple(forms[1:]), faq.synonyms[phrase].split()))
        # First words are often common ("how", "in"); last words seldom are, so both are looked for at once.
        self._phrase_ends = frozenset(
            word + ending for phrase in phrases for word in phrase.split()[-1:] for ending in _ENDINGS
        )
        self._corrections: dict[str, str | None] = {}
        self._near: dict[tuple[str, int, float], list[str]] = {}

        doc_words: list[list[str]] = []
        doc_owner: list[int] = []
        full_text: list[str] = []
        entry_words: list[set[str]] = [set() for _ in faq.entries]
        surface: set[str] = set(self._synonyms)
        surface.update(word for phrase in phrases for word in phrase.split())  # so typos in them are corrected
        for index, entry in enumerate(faq.entries):
            vocabulary = entry_words[index]
            for text in entry.keys:
                raw = self._rephrased_words(text)
                surface.update(raw)
                words = self._content(raw)
                full_text.append(text)
                doc_words.append(words)
                doc_owner.append(index)
                vocabulary.update(words)
        self._uses = Counter(itertools.chain.from_iterable(map(str.split, full_text)))  # how often each word is used
        self._anchors = frozenset(stem(word) for word in faq.anchors)
        self._off_topic = faq.off_topic
        for values in self._synonyms.values():
            surface.update(values)
        surface.update(self._warning_words)

        self._vocabulary = sorted(w for w in surface if len(w) > 2 and w not in self._stopwords)
        self.vocabulary = frozenset(surface | self._stopwords)  # every word the FAQ uses, as written, and fillers
        # Stopwords are correction targets too, so "abot" reads as "about", not the content word "bot". They
        # come first because extractOne keeps the first of equal scores, and a misspelt word is far more
        # often a common one: "wolud" is "would", not "wound".
        self._targets = sorted(w for w in self._stopwords if len(w) > 2) + self._vocabulary
        self._target_positions: dict[int, list[int]] = defaultdict(list)  # by length, for `_targets_near`
        for position, target in enumerate(self._targets):
            self._target_positions[len(target)].append(position)
        # A synonym key's stem leads nowhere ("massags" -> "massag"), so it must not count as known: the word
        # is then corrected to the key instead ("massages" -> massage).
        indexed = surface - set(self._synonyms)
        self._known = frozenset(surface | {stem(w) for w in indexed})
        frequency = Counter(itertools.chain.from_iterable(entry_words))
        n = max(len(faq.entries), 1)
        self._idf = {word: math.log(1 + n / df) for word, df in frequency.items()}
        self._postings: dict[str, list[int]] = defaultdict(list)
        for index, vocabulary in enumerate(entry_words):
            for word in vocabulary:
                self._postings[word].append(index)
        self._doc_text = [" ".join(sorted(words)) for words in doc_words]
        self._doc_owner = doc_owner
        self._full_text = full_text
        # The loader guarantees a normalised phrasing belongs to one entry only.
        self._exact = {text: self._ids[owner] for text, owner in zip(full_text, doc_owner, strict=True) if text}
        self._fallbacks: dict[str, list[tuple[str, float]]] = {}

    def _rephrased_words(self, text: str) -> list[str]:
        """Return the words of normalised text, the synonym table's phrases rewritten ("how much" -> "cost")."""
        words = text.split()
        phrases = self._phrases
        if phrases.keys().isdisjoint(words) or self._phrase_ends.isdisjoint(words):
            return words
        result: list[str] = []
        done = 0  # words before this are in `result` or were part of a phrase
        for at in [at for at, word in enumerate(words) if word in phrases]:
            if at < done:
                continue
            for rest, replacement in phrases[words[at]]:
                end = at + 1 + len(rest)
                following = words[at + 1 : end]
                if len(following) == len(rest) and all(map(frozenset.__contains__, rest, following)):
                    result += words[done:at]
                    result += replacement
                    done = end
                    break
        if not done:
            return words
        result += words[done:]
        return result

    def _mapped(self, word: str) -> list[str]:
        """Return the FAQ's words for `word`; an inflected synonym ("masages") maps like its stem."""
        return self._synonyms.get(word) or self._synonyms.get(stem(word)) or [word]

    def _content(self, raw: list[str]) -> list[str]:
        words: list[str] = []
        for word in raw:
            for mapped in self._mapped(word):
                if mapped not in self._stopwords:
                    words.append(stem(mapped))
        return words

    def _correct(self, word: str) -> str | None:
        if word in self._corrections:
            return self._corrections[word]
        best: tuple[str, float, int] | None = None
        if len(word) in (3, 4) and word.isalpha():
            # Three or four letters: only a missing or extra letter ("bak" -> "back", "hart" -> "heart"); a
            # changed letter too often makes another real word ("bank" -> "back", "lost" -> "cost").
            best = process.extractOne(word, self._targets_near(len(word), 85.0), scorer=fuzz.ratio, score_cutoff=85.0)
            if best is None:
                # Two letters swapped keeps every letter, so it cannot make another word the way a changed
                # letter does ("thsi" -> "this", "bakc" -> "back").
                letters = sorted(word)
                found = process.extract(
                    word, self._targets_within(len(word), 0), scorer=OSA.distance, score_cutoff=1, limit=None
                )
                best = next((hit for hit in found if sorted(hit[0]) == letters), None)
        elif len(word) > 4 and word.isalpha():
            # One edit, or two in long words; swapped letters count as one edit ("anceint", "realx").
            edits = 1 if len(word) <= 8 else 2
            found = process.extract(
                word, self._targets_within(len(word), edits), scorer=OSA.distance, score_cutoff=edits, limit=8
            )
            # A warning sign needs a closer typo: one edit, not on the first letter, which turns everyday
            # words into one ("inflation" is not "infection", "sounds" is not "wounds").
            careful = self._warning_words
            found = [hit for hit in found if hit[0] not in careful or (hit[1] <= 1 and hit[0][0] == word[0])]
            # Among equally near words, a dropped or doubled letter beats a changed one ("masage" is "massage",
            # not "manage"), then the word the FAQ uses most; stopwords stay first on a full tie.
            best = min(
                found, key=lambda hit: (hit[1], -fuzz.ratio(word, hit[0]), -self._uses.get(hit[0], 0)), default=None
            )
        result = best[0] if best else None
        if len(self._corrections) < 50_000:
            self._corrections[word] = result
        return result

    def _targets_within(self, size: int, edits: int) -> list[str]:
        """Return the correction targets, in order, whose length is within `edits` of `size`."""
        return self._targets_of_lengths(("edits", size, edits), lambda n: abs(n - size) <= edits)

    def _targets_near(self, size: int, cutoff: float) -> list[str]:
        """Return the correction targets, in order, whose length lets `fuzz.ratio` with a word this long reach
        `cutoff`: it is at most 200 * shorter / (sum of lengths)."""
        return self._targets_of_lengths(
            ("ratio", size, cutoff), lambda n: 200 * min(size, n) / (size + n) >= cutoff - 1e-9
        )

    def _targets_of_lengths(self, key: tuple[str, int, float], keep: Callable[[int], bool]) -> list[str]:
        """Return (and cache under `key`) the correction targets whose length `keep` accepts, in order."""
        near = self._near.get(key)
        if near is None:
            positions = sorted(p for n, ps in self._target_positions.items() if keep(n) for p in ps)
            near = self._near[key] = [self._targets[p] for p in positions]
        return near

    def _parse(self, text: str) -> _Query:
        normalised = normalise(text)
        raw = self._rephrased_words(normalised)
        query = self._read(raw)
        words = query.text.split()
        if words != raw and self._phrases:
            # A typo inside a phrase ("side efects", "how mcuh") hid it: read the corrected words once more.
            rephrased = self._rephrased_words(query.text)
            if rephrased != words:
                again = self._read(rephrased)
                again.corrected |= query.corrected
                query = again
        query.normalised = normalised
        query.typed = " ".join(self._shorthand.get(word, word) for word in normalised.split())  # "r u": "are you"
        return query

    def _read(self, raw: list[str]) -> _Query:
        """Turn a message's words into the query: corrected, mapped through the synonyms, stemmed."""
        query = _Query()
        fixed: list[str] = []
        previous = ""
        for word in raw:
            negated, previous = previous in NEGATIONS, word
            if negated and word in self._warning_words:
                fixed.append(word)  # "no fall or anything" is not about falls
                continue
            word = self._shorthand.get(word, word)  # "u" -> "you", so the whole-wording fallback sees real words
            if word in self._stopwords:
                fixed.append(word)
                continue
            if word not in self._known and stem(word) not in self._known:
                correction = self._correct(word)
                if word in COMMON_WORDS and correction not in self._stopwords:
                    # An everyday word is meant as typed ("seat" is not "set"), unless it is a slip for a filler
                    # word ("dose" for "does"): the FAQ just does not use it.
                    correction = None
                if correction is None:
                    query.unknown_words.append(stem(word))
                    fixed.append(word)
                    continue
                if correction in self._stopwords:
                    fixed.append(correction)  # a misspelt filler word ("abot", "thsi") reads as the word
                    continue
                query.corrected.add(correction)
                word = correction
            fixed.append(word)
            for mapped in self._mapped(word):
                if mapped not in self._stopwords:
                    query.words.append(stem(mapped))
        query.text = " ".join(fixed)
        return query

    def match(self, text: str) -> MatchResult:
        """Return the best entry for `text`, some candidates, or a decline. Never raises."""
        shown = text[:200]
        query = self._parse(text)
        normalised = query.normalised
        # The message as typed first: its own words carry the context ("emotionally numb"). The typo-corrected
        # text is read only when the typed one names no warning sign at all ("numbnes" -> "numbness").
        typed = self.safety.read(normalised)
        flag = typed.flag
        if flag is None and not typed.set_aside and query.text != normalised:
            flag = self.safety.check(query.text)
        if flag is None:
            exact = self._exact.get(normalised)
            if exact is not None:
                # The message is one of the FAQ's own phrasings: no blend of scores should outvote that.
                return MatchResult(shown, "answer", exact, 100.0)
        ranked = self._rank(query)
        if flag is not None:
            answer = flag.entry_id
            # The other entry must earn an answer on its own score, not on the safety entry's.
            other = next((i for i, s in ranked if i != answer and s >= ANSWER_SCORE), None)
            return MatchResult(shown, "answer", answer, 100.0, safety_reason=flag.reason, also=other)
        if not ranked:
            return MatchResult(shown, "none", None, 0.0)
        best_id, best = ranked[0]
        best = min(best, 100.0)  # a message matching more than EVIDENCE_CAP of an entry's words scores past 100
        if best >= ANSWER_SCORE:
            return MatchResult(shown, "answer", best_id, best)
        close = tuple(i for i, s in ranked[:3] if s >= max(SUGGEST_SCORE, best) - 8)
        if best >= SUGGEST_SCORE and len(close) >= 2:
            # "Did you mean" needs a real choice, candidates nearly as good as the best: one weak candidate
            # alone is a decline, not a question.
            return MatchResult(shown, "suggest", best_id, best, suggestions=close)
        return MatchResult(shown, "none", None, best)

    def phrasing_of(self, text: str) -> str | None:
        """The entry one of whose own phrasings `text` is, after normalising, or None."""
        return self._exact.get(normalise(text))

    def names_the_subject(self, text: str) -> bool:
        """True when the message has a word for the subject itself, one of the FAQ's anchors (massage, back,
        therapist...), typos corrected; always True for an FAQ without anchors."""
        return not self._anchors or not self._anchors.isdisjoint(self._parse(text).words)

    def subject_words_only(self, text: str) -> int:
        """How many words the message has beyond the little words when every one of them is one of the FAQ's
        anchors (typos corrected, synonyms applied: "my back hurts" has two, back and pain); 0 otherwise."""
        query = self._parse(text)
        words = [*query.words, *query.unknown_words]
        return len(words) if self._anchors and all(w in self._anchors for w in words) else 0

    def rank(self, text: str, limit: int = 10) -> list[str]:
        """Return entry ids that could answer `text`, best first (for inline mode); never raises."""
        ids = [entry_id for entry_id, score in self._rank(self._parse(text)) if score >= SUGGEST_SCORE / 2]
        return ids[:limit]

    def _rank(self, query: _Query) -> list[tuple[str, float]]:
        if not query.words:
            return self._fallback(query.text) if query.unknown == 0 else []
        said = query.text.split()
        if not self._off_topic.isdisjoint(said):
            return []  # a career, a gadget, a pet: not what the FAQ is about, whatever else the message says
        if self._anchors and not self._anchors.intersection(query.words):
            refers = not self._references.isdisjoint(said)  # "it", "one", "you": a follow-up, or the bot itself
            if query.unknown >= len(query.words) and not refers:
                return []  # words the FAQ never uses, and nothing about massage or backs: another subject
            if len(set(query.words)) >= 2 and not refers:
                # Several topic words, yet no word for massage or backs and no "it" standing in for one:
                # "tell me about the history of china" is about China, "cost of living" about living.
                return []
        unique = list(dict.fromkeys(query.words))
        weights = {w: self._idf.get(w, 0.0) * (CORRECTED_WORD_FACTOR if w in query.corrected else 1.0) for w in unique}
        total = sum(weights.values()) + UNKNOWN_WORD_WEIGHT * min(query.unknown, MAX_UNKNOWN_WORDS)
        total = min(total, EVIDENCE_CAP)  # past this much matched weight, a long message is not diluted further
        # A message of words every entry uses ("how long does a massage last") has little evidence for any
        # one entry, however completely an entry "covers" it.
        total = max(total, MIN_EVIDENCE)
        if total <= 0:
            return []
        coverage: dict[int, float] = defaultdict(float)
        for word in unique:
            for index in self._postings.get(word, ()):
                coverage[index] += weights[word]
        if not coverage:
            return []
        # Unknown words stay in the fuzzy needle: "therapist near me" is not "therapist".
        needle = " ".join(sorted(query.words + query.unknown_words[:MAX_UNKNOWN_WORDS]))
        # Short messages also compare word for word, so "what is a massage" finds "What is massage?".
        wording_text = query.typed if len(query.typed.split()) <= WORDING_MAX_WORDS else None
        ranked = self._top(coverage, total, needle, wording_text)
        return [(self._ids[i], s) for i, s in ranked]

    def _top(
        self, coverage: dict[int, float], total: float, needle: str, wording_text: str | None
    ) -> list[tuple[int, float]]:
        """Blend keyword coverage with fuzzy similarity to the FAQ's best phrasings; return the top five."""
        fuzzy: dict[int, float] = {}
        wording: dict[int, float] = {}
        for score, doc in self._closest(needle, FUZZY_CANDIDATES, 30, wording=False):
            owner = self._doc_owner[doc]
            fuzzy[owner] = max(fuzzy.get(owner, 0.0), score)
        if wording_text is not None:
            for score, doc in self._closest(wording_text, 10, 60, wording=True):
                owner = self._doc_owner[doc]
                fuzzy[owner] = max(fuzzy.get(owner, 0.0), score)
                wording[owner] = max(wording.get(owner, 0.0), score)
        scores = {
            index: 100 * KEYWORD_WEIGHT * (cov / total) + (1 - KEYWORD_WEIGHT) * fuzzy.get(index, 0.0)
            for index, cov in coverage.items()
        }
        # On equal scores the closer whole wording wins, not the earlier entry in the file: "how much is a
        # massagge" and "what is a massage" share their one content word, but only the first is about cost.
        return sorted(scores.items(), key=lambda item: (-item[1], -wording.get(item[0], 0.0)))[:TOP]

    def _closest(self, query: str, limit: int, cutoff: float, *, wording: bool) -> list[tuple[float, int]]:
        """Return (score, phrasing) for the `limit` phrasings closest to `query`.

        Compares with the whole wording of each phrasing, or with its content words.
        """
        texts = self._full_text if wording else self._doc_text
        found = process.extract(query, texts, scorer=fuzz.ratio, processor=None, limit=limit, score_cutoff=cutoff)
        return [(score, doc) for _, score, doc in found]

    def _fallback(self, text: str) -> list[tuple[str, float]]:
        """Score a message made only of common words ("what can you do") by its whole wording."""
        if not text:
            return []
        text = " ".join(w for w in text.split() if w not in self._filler)
        known = self._fallbacks.get(text)
        if known is not None:  # the same few messages come back ("help", "who are you")
            return known
        found = process.extractOne(text, self._full_text, scorer=fuzz.ratio, processor=None, score_cutoff=60)
        result: list[tuple[str, float]] = []
        if found is not None:
            _, score, doc = found
            result = [(self._ids[self._doc_owner[doc]], score * ANSWER_SCORE / FALLBACK_SCORE)]
        if len(self._fallbacks) < 10_000:
            self._fallbacks[text] = result
        return result


# The most frequent English words (tools/gen_common_words.py): never typo-corrected into an FAQ word.
COMMON_WORDS = frozenset(
    line for line in COMMON_WORDS_PATH.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")
)

NEGATIONS = frozenset("no not without never nor".split())

_ENDINGS = ("", "s", "es", "ed", "ing")  # a synonym phrase's words may carry one of these
