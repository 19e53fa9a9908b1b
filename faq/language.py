"""Is a message in English? The bot understands English only, and says so rather than guess.

A message is taken as English unless most of its letters are outside the Latin alphabet, or it has at least
three words and few of them are everyday English words or words of the FAQ. Typos and slang still leave
enough known words ("dose masage help with bak pain" knows four of six), whereas "el masaje ayuda con el
dolor de espalda" knows one or two.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

from faq.matcher import COMMON_WORDS
from faq.text import tokens

MIN_WORDS = 3
MIN_KNOWN_SHARE = 0.4


def _latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    latin = sum(1 for c in letters if c.isascii() or "LATIN" in unicodedata.name(c, ""))
    return latin / len(letters)


def is_english(text: str, vocabulary: Collection[str] = ()) -> bool:
    """Return False when a message is clearly written in another language."""
    text = unicodedata.normalize("NFKC", text)  # styled letters (𝐌𝐚𝐬𝐬𝐚𝐠𝐞) are Latin letters
    if _latin_share(text) < 0.5:
        return False
    words = [w for w in tokens(text) if w.isalpha()]
    if len(words) < MIN_WORDS:
        return True
    known = sum(1 for w in words if w in COMMON_WORDS or w in vocabulary)
    return known / len(words) >= MIN_KNOWN_SHARE
