"""Labelled examples: messages as people really write them, with what they meant.

The file `examples.yaml` (beside the FAQ file) is data the FAQ's owner grows: by hand, or by exporting what
an operator labelled in the bot's review queue (`python run_bot.py --export-examples PATH`). The learned
layer trains on it together with the FAQ's own phrasings.

Format::

    version: 1
    examples:
      - text: my lower back has been killing me, would a massage do anything
        label: back-pain-benefits     # an entry id of the FAQ
      - text: whats the weather tomorrow
        label: off-topic              # not about the FAQ's subject: the bot declines

A warning sign is labelled with the FAQ's safety entry (``see-a-doctor`` or ``contraindications``).
Each example is one list item with two keys, so a tool can append items to the end of the file safely.
Labels must name an entry of the FAQ (or ``off-topic``); the loader reports every problem at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from faq.matcher import MatchResult
from faq.models import Faq
from faq.text import normalise

OFF_TOPIC = "off-topic"
EXAMPLES_VERSION = 1
MAX_EXAMPLE_CHARS = 400
EXAMPLES_FILENAME = "examples.yaml"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message: `label` is an entry id, or OFF_TOPIC."""

    text: str
    label: str

    @property
    def is_off_topic(self) -> bool:
        """True when the message is not about the FAQ's subject."""
        return self.label == OFF_TOPIC


class LabelledAnswers:
    """The examples in use for one FAQ, by normalised text: a labelled message asked again gets its label.

    An entry id answers with that entry (a safety entry as a warning sign), ``off-topic`` declines. Labels
    naming an entry the FAQ lacks (after a /reload removed it) are set aside in `ignored`, never an error.
    """

    def __init__(self, faq: Faq, examples: Iterable[Example]) -> None:
        valid = {*faq.by_id, OFF_TOPIC}
        examples = tuple(examples)
        self.used = tuple(e for e in examples if e.label in valid)
        self.ignored = tuple(e for e in examples if e.label not in valid)
        self._by_text = {normalise(e.text): e.label for e in self.used}
        self._safety = frozenset({faq.roles.warning_signs, faq.roles.contraindications})

    def verdict(self, text: str, query: str) -> MatchResult | None:
        """Return the labelled answer to `text` (shown as `query`), or None when no example has its text."""
        label = self._by_text.get(normalise(text)) if self._by_text else None
        if label is None:
            return None
        if label == OFF_TOPIC:
            return MatchResult(query, "none", None, 0.0)
        reason = "a warning sign" if label in self._safety else None
        return MatchResult(query, "answer", label, 100.0, safety_reason=reason)


class ExamplesError(Exception):
    """The examples file cannot be used; `errors` lists every problem found."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        self.path = Path(path)
        self.errors = errors
        super().__init__("\n".join(errors))


def examples_path_for(faq_path: Path) -> Path:
    """Return where the examples file of an FAQ file lives: beside it."""
    return faq_path.with_name(EXAMPLES_FILENAME)


def load_examples(path: Path | str, faq: Faq | None = None) -> tuple[Example, ...]:
    """Read and validate an examples file; a missing file means no examples.

    With `faq`, every label must be one of its entry ids or ``off-topic``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ()
    except (OSError, UnicodeDecodeError) as exc:
        raise ExamplesError(path, [f"{path}: cannot read: {exc}"]) from exc
    return parse_examples(text, path, faq)


def parse_examples(text: str, path: Path | str = "<string>", faq: Faq | None = None) -> tuple[Example, ...]:
    """Parse and validate examples YAML held in a string."""
    path = Path(path)
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ExamplesError(path, [f"{where}: YAML syntax error: {getattr(exc, 'problem', None) or exc}"]) from exc
    errors: list[str] = []
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ExamplesError(path, [f"{path}: expected a mapping with 'version' and 'examples'"])
    unknown = set(data) - {"version", "examples"}
    if unknown:
        errors.append(f"{path}: unknown keys: {', '.join(sorted(map(str, unknown)))}")
    if data.get("version", EXAMPLES_VERSION) != EXAMPLES_VERSION:
        errors.append(f"{path}: version must be {EXAMPLES_VERSION}")
    raw = data.get("examples") or []
    if not isinstance(raw, list):
        raise ExamplesError(path, [*errors, f"{path}: 'examples' must be a list"])
    labels = None if faq is None else {*faq.by_id, OFF_TOPIC}
    out: list[Example] = []
    seen: dict[tuple[str, str], int] = {}
    for n, item in enumerate(raw, 1):
        where = f"{path}: example {n}"
        if not isinstance(item, dict) or set(item) != {"text", "label"}:
            errors.append(f"{where}: must have exactly the keys 'text' and 'label'")
            continue
        text_, label = item["text"], item["label"]
        if not isinstance(text_, str) or not text_.strip():
            errors.append(f"{where}: 'text' must be non-empty text")
            continue
        if len(text_) > MAX_EXAMPLE_CHARS:
            errors.append(f"{where}: 'text' is longer than {MAX_EXAMPLE_CHARS} characters")
            continue
        if not isinstance(label, str) or (labels is not None and label not in labels):
            errors.append(f"{where}: label {label!r} is not an entry id of the FAQ or {OFF_TOPIC!r}")
            continue
        key = (" ".join(text_.lower().split()), label)
        if key in seen:
            continue  # the same example twice teaches nothing more
        seen[key] = n
        out.append(Example(text_.strip(), label))
    if errors:
        raise ExamplesError(path, errors)
    return tuple(out)


def dump_examples(examples: Iterable[Example]) -> str:
    """Return examples as YAML in the format `parse_examples` reads."""
    items = [{"text": e.text, "label": e.label} for e in examples]
    body = yaml.safe_dump({"version": EXAMPLES_VERSION, "examples": items}, sort_keys=False, allow_unicode=True,
                          width=1000)
    return "# Labelled examples (see faq/examples.py for the format).\n" + body
