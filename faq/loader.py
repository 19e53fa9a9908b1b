"""Load `faq.yaml` into frozen records, validating everything at load time.

Every problem is collected and reported at once; each message names the file, the entry id and the
field (and the line, for YAML syntax errors), so a broken edit is quick to find.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml

from faq.models import (
    DEFAULT_FAQ_PATH,
    ENTRY_ROLES,
    GENERAL_GUIDANCE,
    TOPIC_ROLES,
    Entry,
    Faq,
    Roles,
    Safety,
    SafetyConcept,
    SafetyContext,
    SafetyRole,
    SmallTalk,
    SmallTalkKind,
    Tip,
    Topic,
    Vocabulary,
    Wording,
)
from faq.safety import SafetyRules, phrasing_error
from faq.text import normalise

MAX_ANSWER_CHARS = 1000
MIN_SOURCE_CHARS = 10
MAX_SOURCE_CHARS = 120
_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_WORD = re.compile(r"^[a-z0-9]+$")
# What the bot does with each role, for the error that names a missing one.
ROLE_USES = {
    "warning_signs": "the answer to a message that describes a warning sign",
    "contraindications": "the answer to a message that names a reason not to have the treatment",
    "benefits": "the topic /benefits lists",
}
VOCABULARY_LISTS = ("stopwords", "filler", "references", "warning_words")
WORDING_FIELDS = tuple(Wording.__dataclass_fields__)
SMALL_TALK_FIELDS = ("along", "kinds")
SAFETY_ROLES: tuple[SafetyRole, ...] = ("warning_signs", "contraindications")
CONTEXT_PHRASES = (
    "negation",
    "negation_after",
    "pseudo_negation",
    "passed",
    "recurred",
    "pseudo_recurred",
    "ordinary",
    "their_care",
    "self_denial",
    "cleared",
)
CONTEXT_WORDS = ("scope_ends", "not_the_user", "the_user", "someone_else")
CONCEPT_KEYS = frozenset({"id", "role", "reason", "says", "counts_in_past", "explained_by"})


class FaqError(Exception):
    """The FAQ file cannot be used; `errors` lists every problem found."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        self.path = Path(path)
        self.errors = errors
        super().__init__("\n".join(errors))


def load_faq(path: Path | str = DEFAULT_FAQ_PATH, material: str | None = None) -> Faq:
    """Read, parse and validate an FAQ file; raise FaqError listing every problem.

    With `material` (the source text), each `source` phrase must occur in it verbatim.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FaqError(path, [f"{path}: cannot read: {exc}"]) from exc
    return parse_faq(text, path, material)


def parse_faq(text: str, path: Path | str = "<string>", material: str | None = None) -> Faq:
    """Parse and validate FAQ YAML held in a string."""
    path = Path(path)
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)  # libyaml, safe schema
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise FaqError(path, [f"{where}: YAML syntax error: {problem}"]) from exc
    return _Validator(path, material).build(data)


class _Validator:
    """Turns parsed YAML into an Faq, collecting every error on the way."""

    def __init__(self, path: Path, material: str | None) -> None:
        self.path = path
        self.material = material
        self.errors: list[str] = []
        self.declared: dict[str, set[str]] = {"entry": set(), "topic": set()}  # ids written, valid or not

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{self.path}: {where}: {message}")

    def build(self, data: object) -> Faq:
        if not isinstance(data, Mapping):
            raise FaqError(self.path, [f"{self.path}: top level must be a mapping with 'entries' and 'tips'"])
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            self.error("field 'version'", "must be an integer")
            version = 0
        subject = self._text(data, "subject", "header")
        examples = self._strings(data, "examples", "header", required=False)
        synonyms = self._synonyms(data.get("synonyms", {}))
        anchors = self._words(data.get("anchors", []), "anchors")
        off_topic = self._words(data.get("off_topic", []), "off_topic")
        vocabulary = self._vocabulary(data.get("vocabulary"))
        topics = self._topics(data.get("topics"))
        entries = self._entries(data.get("entries"), [t.id for t in topics])
        tips = self._tips(data.get("tips"))
        self._cross_check(entries)
        roles = self._roles(data.get("roles"))
        safety = self._safety(data.get("safety"))
        small_talk = self._small_talk(data.get("small_talk"), SafetyRules(safety))
        if self.errors or roles is None or subject is None:
            raise FaqError(self.path, self.errors)
        wording = self._wording(data.get("wording"), subject, next(t.title for t in topics if t.id == roles.benefits))
        if self.errors:
            raise FaqError(self.path, self.errors)
        return Faq(
            version=version,
            synonyms=synonyms,
            topics=tuple(topics),
            roles=roles,
            entries=tuple(entries),
            tips=tuple(tips),
            subject=subject,
            wording=wording,
            examples=tuple(examples),
            small_talk=small_talk,
            vocabulary=vocabulary,
            path=self.path,
            anchors=anchors,
            off_topic=off_topic,
            safety=safety,
        )

    def _topics(self, raw: object) -> list[Topic]:
        topics: list[Topic] = []
        seen: set[str] = set()
        for n, item in enumerate(self._list(raw, "topics"), 1):
            ident = self._id(item, "topic", n, seen)
            where = f"topic {ident!r}" if ident else f"topic #{n}"
            title = self._text(item, "title", where)
            flags = {name: item.get(name, False) for name in ("popular", "about_bot")}
            for name, value in flags.items():
                if not isinstance(value, bool):
                    self.error(where, f"field '{name}' must be true or false")
            if ident and title:
                topics.append(Topic(ident, title, flags["popular"] is True, flags["about_bot"] is True))
        return topics

    def _roles(self, raw: object) -> Roles | None:
        """Check that each role the code relies on names an entry (or topic) of this file."""
        wanted = (*ENTRY_ROLES, *TOPIC_ROLES)
        if raw is None:
            self.error("field 'roles'", f"is missing; it must name {', '.join(wanted)}")
            return None
        if not isinstance(raw, Mapping):
            self.error("field 'roles'", "must be a mapping of role: entry id (or topic id)")
            return None
        found: dict[str, str] = {}
        for role in raw:
            if role not in wanted:
                self.error(f"roles: {role!r}", f"is not a role the bot uses; the roles are {', '.join(wanted)}")
        for role in wanted:
            value = raw.get(role)
            kind = "entry" if role in ENTRY_ROLES else "topic"
            use = ROLE_USES[role]
            if not isinstance(value, str) or not value:
                self.error(f"roles: {role!r}", f"is missing; it must name the {kind} that is {use}")
            elif value not in self.declared[kind]:
                self.error(f"roles: {role!r}", f"names {kind} {value!r}, which the file does not have ({use})")
            else:
                found[role] = value
        return Roles(**found) if len(found) == len(wanted) else None

    def _wording(self, raw: object, subject: str, benefits_title: str) -> Wording:
        """Read `wording:`; a missing field gets a default that names no subject but this file's own."""
        defaults = {
            "about": (
                f"I'm a FAQ bot, not a person. I answer common questions about {subject} from a curated FAQ, "
                "and answers that rest on general guidance say so."
            ),
            "about_caveat": (
                "I can't examine you or diagnose anything. If you are worried about your health, see a doctor."
            ),
            "start_note": "",
            "benefits_command": benefits_title,
            "benefits_heading": benefits_title,
            "benefits_intro": "Tap one to read more:",
            "benefits_button": benefits_title,
            "farewell": "Bye!",
        }
        if raw is None:
            return Wording(**defaults)
        if not isinstance(raw, Mapping):
            self.error("field 'wording'", f"must be a mapping with the texts {', '.join(WORDING_FIELDS)}")
            return Wording(**defaults)
        for name in raw:
            if name not in WORDING_FIELDS:
                self.error(f"wording: {name!r}", f"is not a text the bot uses; they are {', '.join(WORDING_FIELDS)}")
        texts = {name: self._text(raw, name, "wording", required=False) for name in defaults}
        return Wording(**{name: text or defaults[name] for name, text in texts.items()})

    def _small_talk(self, raw: object, rules: SafetyRules) -> SmallTalk:
        """Read `small_talk:`, the words of thanks, goodbyes and the like, each kind with its reply."""
        if raw is None:
            return SmallTalk()
        if not isinstance(raw, Mapping):
            self.error("field 'small_talk'", "must be a mapping with 'along' (words) and 'kinds' (a list)")
            return SmallTalk()
        for name in raw:
            if name not in SMALL_TALK_FIELDS:
                self.error(f"small_talk: {name!r}", f"is not a known field; they are {', '.join(SMALL_TALK_FIELDS)}")
        along = self._words(raw.get("along"), "small_talk.along")
        kinds: list[SmallTalkKind] = []
        seen: set[str] = set()
        for n, item in enumerate(self._list(raw.get("kinds"), "small_talk.kinds"), 1):
            ident = self._id(item, "small-talk kind", n, seen, field="kind")
            where = f"small-talk kind {ident!r}" if ident else f"small-talk kind #{n}"
            words = self._words(item.get("words"), f"small_talk {ident or n}: words")
            if not words:
                self.error(where, "field 'words' must list at least one word")
            reply = self._text(item, "reply", where)
            if ident and words and reply:
                kinds.append(SmallTalkKind(ident, words, reply))
        for word in sorted(along.union(*(k.words for k in kinds))):
            if rules.check(word) is not None:
                self.error("small_talk", f"{word!r} is a warning-sign word: small talk must never hide one")
        return SmallTalk(tuple(kinds), along)

    def _safety(self, raw: object) -> Safety:
        """Read the warning-sign concepts and their context words; every phrasing must compile."""
        if raw is None:
            return Safety()
        if not isinstance(raw, Mapping):
            self.error("field 'safety'", "must be a mapping with 'concepts', 'context' and 'reminder'")
            return Safety()
        for key in raw:
            if key not in ("concepts", "context", "reminder"):
                self.error(f"safety: {key!r}", "is not known; the keys are concepts, context, reminder")
        reminder = raw.get("reminder")
        if reminder is not None and (not isinstance(reminder, str) or not reminder.strip()):
            self.error("safety: 'reminder'", "must be one line of text")
            reminder = None
        concepts: list[SafetyConcept] = []
        seen: set[str] = set()
        for n, item in enumerate(self._list(raw.get("concepts"), "safety.concepts"), 1):
            ident = self._id(item, "safety concept", n, seen)
            where = f"safety concept {ident!r}" if ident else f"safety concept #{n}"
            for key in item:
                if key not in CONCEPT_KEYS:
                    self.error(where, f"field {key!r} is not known; the fields are {', '.join(sorted(CONCEPT_KEYS))}")
            role = item.get("role")
            if role not in SAFETY_ROLES:
                self.error(where, f"field 'role' must be one of {', '.join(SAFETY_ROLES)}")
            reason = self._text(item, "reason", where)
            says = tuple(self._phrasings(item.get("says"), f"{where}: field 'says'", required=True))
            past = item.get("counts_in_past", False)
            if not isinstance(past, bool):
                self.error(where, "field 'counts_in_past' must be true or false")
            explained = tuple(
                self._phrasings(item.get("explained_by"), f"{where}: field 'explained_by'", required=False)
            )
            if ident and reason and says and role in SAFETY_ROLES:
                concepts.append(SafetyConcept(ident, cast(SafetyRole, role), reason, says, past is True, explained))
        context = raw.get("context") or {}
        if not isinstance(context, Mapping):
            self.error("safety: 'context'", "must be a mapping of lists")
            context = {}
        known = (*CONTEXT_PHRASES, *CONTEXT_WORDS)
        for key in context:
            if key not in known:
                self.error(f"safety.context: {key!r}", f"is not known; the lists are {', '.join(known)}")
        lists: dict[str, tuple[str, ...]] = {}
        for name in CONTEXT_PHRASES:
            lists[name] = tuple(self._phrasings(context.get(name), f"safety.context: {name!r}", required=False))
        for name in CONTEXT_WORDS:
            lists[name] = tuple(sorted(self._words(context.get(name), f"safety.context.{name}")))
        return Safety(tuple(concepts), SafetyContext(**lists), reminder.strip() if reminder else None)

    def _phrasings(self, raw: object, where: str, *, required: bool) -> list[str]:
        if raw is None and not required:
            return []
        if not isinstance(raw, list) or (required and not raw):
            self.error(where, "must be a non-empty list of phrasings" if required else "must be a list of phrasings")
            return []
        out: list[str] = []
        for value in raw:
            phrasing = " ".join(value.lower().split()) if isinstance(value, str) else ""
            problem = phrasing_error(phrasing) if phrasing else "is empty or not text"
            if problem is None:
                out.append(phrasing)
            else:
                self.error(where, f"{value!r} {problem}")
        return out

    def _vocabulary(self, raw: object) -> Vocabulary:
        if raw is None:
            return Vocabulary()
        if not isinstance(raw, Mapping):
            self.error("field 'vocabulary'", f"must be a mapping with the lists {', '.join(VOCABULARY_LISTS)}")
            return Vocabulary()
        for name in raw:
            if name not in VOCABULARY_LISTS:
                self.error(f"vocabulary: {name!r}", f"is not a known list; they are {', '.join(VOCABULARY_LISTS)}")
        lists = {name: self._words(raw.get(name), f"vocabulary.{name}") for name in VOCABULARY_LISTS}
        return Vocabulary(**lists)

    def _words(self, raw: object, field: str) -> frozenset[str]:
        if raw is None:
            return frozenset()
        if isinstance(raw, str):
            raw = raw.split()  # a block of words separated by spaces or lines
        if not isinstance(raw, list) or not all(isinstance(a, str) and _WORD.match(normalise(a)) for a in raw):
            self.error(f"field '{field}'", "must be a list of single words")
            return frozenset()
        return frozenset(normalise(a) for a in raw)

    def _synonyms(self, raw: object) -> dict[str, str]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.error("field 'synonyms'", "must be a mapping of word: word")
            return {}
        result: dict[str, str] = {}
        for key, value in raw.items():
            k, v = normalise(str(key)), normalise(str(value))
            if not all(_WORD.match(w) for w in k.split()) or not k or not v:
                self.error(f"synonym {key!r}", "must map a word or phrase to a non-empty word or phrase")
            elif k == v:
                self.error(f"synonym {key!r}", "maps a word to itself")
            else:
                result[k] = v
        return result

    def _text(self, item: Mapping[str, Any], field: str, where: str, *, required: bool = True) -> str | None:
        value = item.get(field)
        if value is None:
            if required:
                self.error(where, f"field '{field}' is missing")
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool) or not str(value).strip():
            self.error(where, f"field '{field}' must be non-empty text")
            return None
        return str(value).strip()

    def _source(self, item: Mapping[str, Any], where: str) -> str | None:
        source = self._text(item, "source", where)
        if source is None or source == GENERAL_GUIDANCE:
            return source
        if not MIN_SOURCE_CHARS <= len(source) <= MAX_SOURCE_CHARS:
            self.error(
                where,
                f"field 'source' must be {MIN_SOURCE_CHARS}-{MAX_SOURCE_CHARS} characters "
                f"or '{GENERAL_GUIDANCE}' (got {len(source)})",
            )
        elif self.material is not None and source not in self.material:
            self.error(where, f"field 'source' does not occur in the material: {source!r}")
        return source

    def _list(self, raw: object, name: str) -> list[Mapping[str, Any]]:
        if not isinstance(raw, list) or not raw:
            self.error(f"field '{name}'", "must be a non-empty list")
            return []
        items: list[Mapping[str, Any]] = []
        for n, item in enumerate(raw, 1):
            if isinstance(item, Mapping):
                items.append(cast(Mapping[str, Any], item))
            else:
                self.error(f"{name} #{n}", "must be a mapping")
        return items

    def _id(self, item: Mapping[str, Any], kind: str, n: int, seen: set[str], field: str = "id") -> str | None:
        ident = self._text(item, field, f"{kind} #{n}")
        if ident is None:
            return None
        if not _ID.match(ident):
            self.error(f"{kind} {ident!r}", f"field '{field}' must be lowercase letters, digits and dashes")
        if ident in seen:
            self.error(f"{kind} {ident!r}", "duplicate id")
        seen.add(ident)
        self.declared.setdefault(kind, set()).add(ident)
        return ident

    def _entries(self, raw: object, topic_ids: list[str]) -> list[Entry]:
        entries: list[Entry] = []
        seen: set[str] = set()
        for n, item in enumerate(self._list(raw, "entries"), 1):
            ident = self._id(item, "entry", n, seen)
            where = f"entry {ident!r}" if ident else f"entry #{n}"
            topic = item.get("topic")
            if topic not in topic_ids:
                self.error(where, f"field 'topic' must be one of the topics: {', '.join(topic_ids)}")
            question = self._text(item, "question", where)
            answer = self._text(item, "answer", where)
            if answer is not None and len(answer) > MAX_ANSWER_CHARS:
                self.error(where, f"field 'answer' is {len(answer)} characters; the limit is {MAX_ANSWER_CHARS}")
            tip = self._text(item, "tip", where, required=False)
            source = self._source(item, where)
            variants = self._strings(item, "variants", where, required=True)
            related = self._strings(item, "related", where, required=False)
            if ident and ident in related:
                self.error(where, "field 'related' names the entry itself")
            if ident and question and answer and source and isinstance(topic, str) and topic in topic_ids:
                entries.append(
                    Entry(
                        id=ident,
                        topic=topic,
                        question=question,
                        variants=tuple(variants),
                        answer=answer,
                        source=source,
                        tip=tip,
                        related=tuple(related),
                    )
                )
        return entries

    def _strings(self, item: Mapping[str, Any], field: str, where: str, *, required: bool) -> list[str]:
        raw = item.get(field)
        if raw is None and not required:
            return []
        if not isinstance(raw, list) or (required and not raw):
            self.error(
                where, f"field '{field}' must be a non-empty list" if required else f"field '{field}' must be a list"
            )
            return []
        values: list[str] = []
        for value in raw:
            text = value.strip() if isinstance(value, str) else str(value) if isinstance(value, int | float) else ""
            if text:
                values.append(text)
            else:
                self.error(where, f"field '{field}' holds an empty or non-text item")
        return values

    def _tips(self, raw: object) -> list[Tip]:
        tips: list[Tip] = []
        seen: set[str] = set()
        for n, item in enumerate(self._list(raw, "tips"), 1):
            ident = self._id(item, "tip", n, seen)
            where = f"tip {ident!r}" if ident else f"tip #{n}"
            text = self._text(item, "text", where)
            source = self._source(item, where)
            if ident and text and source:
                tips.append(Tip(id=ident, text=text, source=source))
        return tips

    def _cross_check(self, entries: list[Entry]) -> None:
        ids = {e.id for e in entries}
        owner: dict[str, str] = {}
        for entry in entries:
            for rel in entry.related:
                if rel not in ids:
                    self.error(f"entry {entry.id!r}", f"field 'related' names unknown entry {rel!r}")
            for phrase, key in zip(entry.phrasings, entry.keys, strict=True):
                other = owner.setdefault(key, entry.id)
                if other != entry.id:
                    self.error(
                        f"entry {entry.id!r}",
                        f"field 'variants': {phrase!r} is already a question or variant of entry {other!r}",
                    )
