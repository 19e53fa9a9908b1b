"""Small talk: thanks, goodbyes, "ok", "lol", "who are you". The words and replies are the FAQ file's data
(`small_talk:`); this module only decides whether a message is nothing but small talk.

A message is small talk when every word of it is a small-talk word and one of them belongs to a kind. Any
other word ("thanks, also my legs are numb") makes it a question, and a warning sign is never small talk.
"""

from __future__ import annotations

import re

from faq import safety
from faq.models import SmallTalk, SmallTalkKind
from faq.text import normalise

_RUN = re.compile(r"(.)\1{2,}")  # a letter typed three or more times: "lmaooo", "byeee", "thxxx"


def _spellings(word: str) -> tuple[str, ...]:
    """The word as typed, and with stretched letters cut to two and to one ("coool" -> cool, "byeee" -> bye)."""
    if _RUN.search(word) is None:
        return (word,)
    return (word, _RUN.sub(r"\1\1", word), _RUN.sub(r"\1", word))


def small_talk_kind(talk: SmallTalk, text: str, rules: safety.SafetyRules | None = None) -> SmallTalkKind | None:
    """Return the kind of small talk `text` is, or None when it is anything else (a question, a warning sign).

    `rules` are the FAQ's warning-sign rules (`Matcher.safety`); without them, the shipped FAQ's.
    """
    check = safety.check if rules is None else rules.check
    if not talk.kinds:
        return None
    said = normalise(text, limit=200)
    words = said.split()
    if not words or len(words) > talk.max_words or check(said) is not None:
        return None
    vocabulary = talk.vocabulary
    known: set[str] = set()
    for word in words:
        spelt = next((s for s in _spellings(word) if s in vocabulary), None)
        if spelt is None:
            return None
        known.add(spelt)
    return next((kind for kind in talk.kinds if not kind.words.isdisjoint(known)), None)
