"""Typed, frozen records for the FAQ; built and validated by `faq.loader`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from faq.text import normalise

Topic = Literal["basics", "benefits", "practical", "safety", "bot"]
TOPICS: tuple[Topic, ...] = ("basics", "benefits", "practical", "safety", "bot")
TOPIC_TITLES: dict[Topic, str] = {
    "basics": "Massage basics",
    "benefits": "Benefits for back pain",
    "practical": "Practical questions",
    "safety": "Safety",
    "bot": "About this bot",
}
GENERAL_GUIDANCE = "general guidance"
DEFAULT_FAQ_PATH = Path(__file__).with_name("faq.yaml")


@dataclass(frozen=True, slots=True)
class Entry:
    """One question the bot can answer."""

    id: str
    topic: Topic
    question: str
    variants: tuple[str, ...]
    answer: str
    source: str
    tip: str | None = None
    related: tuple[str, ...] = ()
    keys: tuple[str, ...] = field(init=False, repr=False, compare=False)  # the phrasings, normalised

    def __post_init__(self) -> None:
        # Normalised once here: the loader's duplicate check and the matcher's index both need them.
        object.__setattr__(self, "keys", tuple(normalise(p) for p in self.phrasings))

    @property
    def phrasings(self) -> tuple[str, ...]:
        """The question and every variant, as written."""
        return (self.question, *self.variants)

    @property
    def is_general_guidance(self) -> bool:
        """True when the answer rests on general guidance rather than the material."""
        return self.source == GENERAL_GUIDANCE


@dataclass(frozen=True, slots=True)
class Tip:
    """One short practical tip, sent as the tip of the day."""

    id: str
    text: str
    source: str


@dataclass(frozen=True, slots=True)
class Faq:
    """The whole knowledge base: entries, tips and the synonym table."""

    version: int
    synonyms: dict[str, str]
    entries: tuple[Entry, ...]
    tips: tuple[Tip, ...]
    path: Path | None = None
    anchors: frozenset[str] = frozenset()  # words that tie a message to the FAQ's subject (see the matcher)
    off_topic: frozenset[str] = frozenset()  # words that mark a message as about something else
    by_id: dict[str, Entry] = field(init=False, repr=False, compare=False)
    tips_by_id: dict[str, Tip] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {e.id: e for e in self.entries})
        object.__setattr__(self, "tips_by_id", {t.id: t for t in self.tips})

    def entry(self, entry_id: str) -> Entry | None:
        """Return the entry with this id, or None."""
        return self.by_id.get(entry_id)

    def topic_entries(self, topic: Topic) -> tuple[Entry, ...]:
        """Return the entries of one topic, in file order."""
        return tuple(e for e in self.entries if e.topic == topic)
