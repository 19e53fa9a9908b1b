"""Typed, frozen records for the FAQ; built and validated by `faq.loader`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from faq.text import normalise

GENERAL_GUIDANCE = "general guidance"
DEFAULT_FAQ_PATH = Path(__file__).with_name("faq.yaml")


@dataclass(frozen=True, slots=True)
class Topic:
    """A group of entries, browsed with /topics; declared in the FAQ file's `topics:` section."""

    id: str
    title: str
    popular: bool = False  # its questions are offered for an empty inline query
    about_bot: bool = False  # about the bot itself, not the subject: left out when the bot says what it knows


@dataclass(frozen=True, slots=True)
class Roles:
    """The entries and topics the bot's code relies on, named once in the FAQ file's `roles:` section.

    The loader checks that each role names an entry (or a topic) of the file, so code reads `faq.roles`
    instead of spelling ids, and a file without them is rejected rather than failing on the first user.
    """

    warning_signs: str  # entry: the answer to a message that describes a warning sign (see a doctor first)
    contraindications: str  # entry: the answer to a message that names a reason not to have the treatment
    benefits: str  # topic: what /benefits and the menu's Benefits button list

    @property
    def safety_entries(self) -> tuple[str, str]:
        """The two safety entries: the warning-sign answer and the contraindications answer."""
        return (self.warning_signs, self.contraindications)


ENTRY_ROLES = ("warning_signs", "contraindications")
TOPIC_ROLES = ("benefits",)


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Word lists that steer the matcher, from the FAQ file's `vocabulary:` section (each optional)."""

    stopwords: frozenset[str] = frozenset()  # filler words: never evidence, yet typo targets ("abot" -> about)
    filler: frozenset[str] = frozenset()  # interjections the whole-wording fallback ignores ("wait who are u")
    references: frozenset[str] = frozenset()  # words standing in for the subject in a follow-up ("is it safe")
    warning_words: frozenset[str] = frozenset()  # a typo becomes one of these only with one edit, first letter kept


SafetyRole = Literal["warning_signs", "contraindications"]


@dataclass(frozen=True, slots=True)
class SafetyConcept:
    """One warning sign or contraindication, from the FAQ file's `safety.concepts` (see `faq.safety`)."""

    id: str
    role: SafetyRole  # which safety entry answers it: the warning-signs entry or the contraindications entry
    reason: str  # how the bot names it: "You mentioned <reason>"
    phrasings: tuple[str, ...]  # lay ways of saying it, in the phrasing syntax of `faq.safety`
    counts_in_past: bool = False  # a history of it counts too (cancer); otherwise "years ago" sets it aside
    explained_by: tuple[str, ...] = ()  # harmless causes said beside it: "numb from sitting cross legged"


@dataclass(frozen=True, slots=True)
class SafetyContext:
    """Words around a concept that change what it means, from `safety.context` (see `faq.safety`)."""

    negation: tuple[str, ...] = ()  # "no", "without", "never had"
    negation_after: tuple[str, ...] = ()  # right after a concept, these negate it: "bladder fine", "bowels normal"
    pseudo_negation: tuple[str, ...] = ()  # negate nothing: "not sure", "no idea"
    scope_ends: tuple[str, ...] = ()  # single words that end a negation's scope: "but", "and", "now"
    passed: tuple[str, ...] = ()  # "went away", "years ago"
    recurred: tuple[str, ...] = ()  # "again", "came back": it did not pass after all
    pseudo_recurred: tuple[str, ...] = ()  # say nothing came back: "is it still ok", "tests came back normal"
    ordinary: tuple[str, ...] = ()  # the words in another sense: "fell asleep", "heart attack at the price"
    not_the_user: tuple[str, ...] = ()  # single words for animals and things: "horse", "car", "phone"
    the_user: tuple[str, ...] = ()  # single words for the user: "i", "my", "me"
    someone_else: tuple[str, ...] = ()  # single words for another person: "aunt", "friend", "she"
    their_care: tuple[str, ...] = ()  # a message about another person's care: "can she", "his legs"
    self_denial: tuple[str, ...] = ()  # after a concept, the user says it is not theirs: "not me", "im not on any"
    cleared: tuple[str, ...] = ()  # a check found nothing: "the doctor said it's just muscular", "no red flags"


@dataclass(frozen=True, slots=True)
class Safety:
    """The FAQ file's `safety:` section: the concepts and the words that change them."""

    concepts: tuple[SafetyConcept, ...] = ()
    context: SafetyContext = SafetyContext()
    reminder: str | None = None  # a one-line warning-sign check every answer of the benefits topic carries


@dataclass(frozen=True, slots=True)
class SmallTalkKind:
    """One kind of small talk (thanks, goodbye, ...): the words that make a message this kind, and the reply."""

    kind: str
    words: frozenset[str]
    reply: str


@dataclass(frozen=True, slots=True)
class SmallTalk:
    """The FAQ file's `small_talk:` section. A message made only of these words, with at least one word of a
    kind among them, gets that kind's reply; kinds are tried in file order, so "ok thanks bye" is a goodbye."""

    kinds: tuple[SmallTalkKind, ...] = ()
    along: frozenset[str] = frozenset()  # words that may come along with any kind ("thank you so much x")
    max_words: int = 8  # a longer message is a question, whatever its words

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every word a small-talk message may be made of."""
        return self.along.union(*(k.words for k in self.kinds))


@dataclass(frozen=True, slots=True)
class Wording:
    """What the bot says that depends on the subject, from the FAQ file's `wording:` section.

    Each field is plain text (the bot escapes it); the loader fills a missing one with a default that reads
    right for any subject, so a FAQ on sleep never talks about backs.
    """

    about: str  # the body of /about: where the answers come from and how sure they are (blank lines part it)
    about_caveat: str  # after the disclaimer in /about: who the bot is not, and when to see someone
    start_note: str  # after the disclaimer on /start ("" for none)
    benefits_command: str  # /benefits in the command menu and /help
    benefits_heading: str  # the heading of /benefits
    benefits_intro: str  # the line under it, before the questions
    benefits_button: str  # the menu button that opens /benefits
    farewell: str  # what the console says when the user leaves


@dataclass(frozen=True, slots=True)
class Entry:
    """One question the bot can answer."""

    id: str
    topic: str  # a topic id
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
    """The whole knowledge base: topics, entries, tips, the roles the bot relies on and the word lists."""

    version: int
    synonyms: dict[str, str]
    topics: tuple[Topic, ...]
    roles: Roles
    entries: tuple[Entry, ...]
    tips: tuple[Tip, ...]
    subject: str  # what the FAQ is about, as the bot names it: "massage therapy for back pain"
    wording: Wording  # what the bot says that depends on the subject
    examples: tuple[str, ...] = ()  # questions the bot suggests trying
    vocabulary: Vocabulary = Vocabulary()
    small_talk: SmallTalk = SmallTalk()
    path: Path | None = None
    anchors: frozenset[str] = frozenset()  # words that tie a message to the FAQ's subject (see the matcher)
    off_topic: frozenset[str] = frozenset()  # words that mark a message as about something else
    safety: Safety = Safety()  # the warning-sign concepts and their context words
    by_id: dict[str, Entry] = field(init=False, repr=False, compare=False)
    tips_by_id: dict[str, Tip] = field(init=False, repr=False, compare=False)
    topics_by_id: dict[str, Topic] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topics_by_id", {t.id: t for t in self.topics})
        object.__setattr__(self, "by_id", {e.id: e for e in self.entries})
        object.__setattr__(self, "tips_by_id", {t.id: t for t in self.tips})

    def entry(self, entry_id: str) -> Entry | None:
        """Return the entry with this id, or None."""
        return self.by_id.get(entry_id)

    def topic_entries(self, topic: str) -> tuple[Entry, ...]:
        """Return the entries of one topic (by id), in file order."""
        return tuple(e for e in self.entries if e.topic == topic)

    def title(self, topic: str) -> str:
        """Return a topic's title (its id, for an id the file does not declare)."""
        known = self.topics_by_id.get(topic)
        return known.title if known else topic

    @property
    def warning_signs(self) -> Entry:
        """The entry that answers a message describing a warning sign."""
        return self.by_id[self.roles.warning_signs]

    @property
    def contraindications(self) -> Entry:
        """The entry that answers a message naming a reason not to have the treatment."""
        return self.by_id[self.roles.contraindications]
