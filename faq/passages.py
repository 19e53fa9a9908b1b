"""The material an FAQ is built on, kept beside it as `material.txt`, and the passages its answers rest on.

An entry's `source` is a verbatim phrase of the material; `passage` widens it to the whole sentence (or
sentences) it sits in, which is what a reader wants to see when they ask where an answer comes from.
"""

from __future__ import annotations

import re
from pathlib import Path

MATERIAL_NAME = "material.txt"
# A sentence ends at . ! or ? followed by white space and a capital letter or a digit ("e.g. prescription"
# does not end one), or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+(?=[A-Z0-9\"“‘'])|\n+")
# A sentence that opens by pointing back ("These activities...", "It is therefore...") reads only with the
# sentence before it, so that one is shown too.
_POINTS_BACK = re.compile(r"^(?:these|this|that|those|it|they|when (?:these|this|that))\b", re.IGNORECASE)


def material_path(faq_path: Path) -> Path:
    """Return where the material of the FAQ at `faq_path` lives: beside it."""
    return faq_path.with_name(MATERIAL_NAME)


def read_material(faq_path: Path) -> str | None:
    """Return the material beside an FAQ file, or None when there is none."""
    try:
        return material_path(faq_path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def passage(material: str, source: str) -> str | None:
    """Return the sentences of `material` that contain the verbatim `source`, or None if it is not there."""
    start = material.find(source)
    if start < 0:
        return None
    end = start + len(source)
    begins = [0]  # where each sentence up to the source's own starts
    stop = len(material)
    for cut in _SENTENCE_END.finditer(material):
        if cut.end() <= start:
            begins.append(cut.end())
        elif cut.start() >= end:
            stop = cut.start()
            break
    begin = begins[-1]
    if _POINTS_BACK.match(material[begin:]) and len(begins) > 1 and "\n" not in material[begins[-2] : begin].strip():
        begin = begins[-2]
    return material[begin:stop].strip()
