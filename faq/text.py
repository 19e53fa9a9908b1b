"""Text normalisation shared by the loader, the matcher and the safety check."""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY_CHARS = 400  # only the start of a message decides what it is about

_APOSTROPHE = re.compile(r"(?<=\w)['’‘`´ʼ](?=\w)")
_WORD = re.compile(r"[^\W_]+")
# In ASCII, letters and digits are the word characters: every other byte becomes a space.
_ASCII_BREAKS = bytes(c if chr(c).isalnum() and c < 128 else 32 for c in range(256))
# Control characters become spaces; format marks (right-to-left, zero-width, BOM) vanish.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_FORMAT = re.compile(r"[\u00ad\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]+")


def normalise(text: str, limit: int = MAX_QUERY_CHARS) -> str:
    """Return `text` folded to lowercase words separated by single spaces.

    NFKC folds look-alike characters, invisible marks (right-to-left, zero-width) are dropped,
    apostrophes inside words vanish ("what's" -> "whats") and all other punctuation becomes a space.
    """
    if text.isascii():
        # NFKC and casefold leave ASCII as it is, and control characters are word breaks below anyway.
        text = text[:limit].lower()
        if "'" in text or "`" in text:
            text = _APOSTROPHE.sub("", text)
        return " ".join(text.encode().translate(_ASCII_BREAKS).decode().split())  # one C pass
    text = unicodedata.normalize("NFKC", text[: limit * 2])[:limit]
    text = _APOSTROPHE.sub("", _FORMAT.sub("", _CONTROL.sub(" ", text)).casefold())
    return " ".join(_WORD.findall(text))


def tokens(text: str, limit: int = MAX_QUERY_CHARS) -> list[str]:
    """Return the normalised words of `text`."""
    return normalise(text, limit).split()


def stem(word: str) -> str:
    """Strip the commonest English inflections, so "muscles" and "muscle" meet."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed") and not word.endswith("eed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    # A silent final e goes too, so "ache" meets "aching" and "massage" meets "massaging".
    if len(word) > 3 and word.endswith("e") and not word.endswith(("ee", "ie", "ye")):
        return word[:-1]
    return word
