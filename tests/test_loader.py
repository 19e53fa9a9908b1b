"""Tests for faq.loader: every validation error names the file, entry and field; the shipped FAQ is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from faq.loader import MAX_ANSWER_CHARS, FaqError, load_faq, parse_faq
from faq.models import DEFAULT_FAQ_PATH, Faq
from tests.conftest import MATERIAL

REQUIRED_IDS = (
    "what-is-massage history back-pain-benefits no-medication cost circulation waste-products heart-health "
    "stiff-muscles back-pain-causes sleep stress choosing-therapist how-often see-a-doctor contraindications "
    "disclaimer about-bot"
).split()
MATERIAL_PHRASE = "Massage therapy has been there for over 3000 years now."


def entry(ident: str, **fields: object) -> dict[str, object]:
    """Return a valid entry mapping; keyword arguments replace fields (None removes one)."""
    data: dict[str, object] = {
        "id": ident,
        "topic": "basics",
        "question": f"What about {ident}?",
        "variants": [f"{ident} one", f"{ident} two"],
        "answer": f"An answer about {ident}.",
        "source": "general guidance",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


TOPICS = [{"id": "basics", "title": "Basics"}, {"id": "safety", "title": "Safety"}]
ROLES = {"warning_signs": "alpha", "contraindications": "beta", "benefits": "basics"}


def faq_yaml(*entries: dict[str, object], **header: object) -> str:
    """Return FAQ YAML text with the given entries (two valid ones by default), one tip, two topics and roles
    naming alpha and beta; keyword arguments replace header sections (None removes one)."""
    items = list(entries) or [entry("alpha"), entry("beta")]
    tips = [{"id": "tip-one", "text": "Drink water.", "source": "general guidance"}]
    data: dict[str, object] = {
        "version": 1,
        "subject": "massage",
        "topics": TOPICS,
        "roles": ROLES,
        "synonyms": {"rubdown": "massage"},
        "entries": items,
        "tips": tips,
    }
    data.update(header)
    return yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False)


def errors_of(tmp_path: Path, text: str, material: str | None = None) -> list[str]:
    """Write `text` to a file, load it and return the errors it raises."""
    path = tmp_path / "faq.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FaqError) as info:
        load_faq(path, material=material)
    assert info.value.path == path
    assert all(str(path) in error for error in info.value.errors)
    return info.value.errors


def test_a_valid_file_loads_into_frozen_records(tmp_path: Path) -> None:
    """A small valid file loads, with entries, variants, tips and synonyms in place."""
    path = tmp_path / "faq.yaml"
    path.write_text(faq_yaml(), encoding="utf-8")

    faq = load_faq(path)

    assert [e.id for e in faq.entries] == ["alpha", "beta"]
    assert faq.by_id["alpha"].variants == ("alpha one", "alpha two")
    assert faq.by_id["alpha"].is_general_guidance
    assert [t.id for t in faq.tips] == ["tip-one"]
    assert faq.synonyms == {"rubdown": "massage"}
    assert faq.path == path


def test_parse_faq_reads_a_string() -> None:
    """parse_faq validates YAML held in a string, naming the given path in errors."""
    assert len(parse_faq(faq_yaml()).entries) == 2
    with pytest.raises(FaqError, match=r"^inline\.yaml: entry 'alpha': duplicate id"):
        parse_faq(faq_yaml(entry("alpha"), entry("alpha", question="Other?", variants=["x y"])), "inline.yaml")


def test_malformed_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    """A YAML syntax error is reported with the file and the line it is on."""
    text = "version: 1\nentries:\n  - id: alpha\n    question: [unclosed\n    answer: x\n"

    [error] = errors_of(tmp_path, text)

    assert error.startswith(f"{tmp_path / 'faq.yaml'}:5: YAML syntax error: ")  # where the parser gives up


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    """A file that does not exist raises FaqError naming it."""
    with pytest.raises(FaqError, match="cannot read"):
        load_faq(tmp_path / "nope.yaml")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    """A list at the top level is rejected with a message saying what is expected."""
    [error] = errors_of(tmp_path, "- one\n- two\n")

    assert "top level must be a mapping" in error


def test_duplicate_id(tmp_path: Path) -> None:
    """Two entries with the same id are reported against that id."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha"), entry("alpha", question="Else?", variants=["else"])))

    assert any("entry 'alpha': duplicate id" in e for e in errors)


def test_unknown_related_id(tmp_path: Path) -> None:
    """A related id that names no entry is reported with both ids."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha", related=["ghost"]), entry("beta")))

    assert errors == [f"{tmp_path / 'faq.yaml'}: entry 'alpha': field 'related' names unknown entry 'ghost'"]


@pytest.mark.parametrize("field", ["question", "answer", "source", "variants"])
def test_missing_field(tmp_path: Path, field: str) -> None:
    """A missing required field is reported with the entry id and the field name."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha", **{field: None}), entry("beta")))

    assert any(e.startswith(f"{tmp_path / 'faq.yaml'}: entry 'alpha': field '{field}'") for e in errors), errors
    assert any("missing" in e or "non-empty list" in e for e in errors)


@pytest.mark.parametrize(("field", "value"), [("question", "   "), ("answer", ""), ("source", " ")])
def test_empty_field(tmp_path: Path, field: str, value: str) -> None:
    """An empty or blank text field is reported as needing non-empty text."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha", **{field: value}), entry("beta")))

    assert f"{tmp_path / 'faq.yaml'}: entry 'alpha': field '{field}' must be non-empty text" in errors


def test_empty_variant(tmp_path: Path) -> None:
    """A blank item in the variants list is reported."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha", variants=["fine", "  "]), entry("beta")))

    assert any("entry 'alpha': field 'variants' holds an empty or non-text item" in e for e in errors)


def test_answer_over_the_limit(tmp_path: Path) -> None:
    """An answer longer than 1,000 characters is reported with its length and the limit."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha", answer="x" * (MAX_ANSWER_CHARS + 1)), entry("beta")))

    assert errors == [f"{tmp_path / 'faq.yaml'}: entry 'alpha': field 'answer' is 1001 characters; the limit is 1000"]


def test_an_answer_of_exactly_the_limit_is_fine() -> None:
    """An answer of exactly 1,000 characters is accepted."""
    faq = parse_faq(faq_yaml(entry("alpha", answer="x" * MAX_ANSWER_CHARS), entry("beta")))

    assert len(faq.by_id["alpha"].answer) == MAX_ANSWER_CHARS


def test_the_same_variant_in_two_entries_after_normalising(tmp_path: Path) -> None:
    """A phrasing that normalises to another entry's phrasing is reported, naming both entries."""
    errors = errors_of(
        tmp_path, faq_yaml(entry("alpha", variants=["What's a massage?"]), entry("beta", variants=["whats a  MASSAGE"]))
    )

    assert errors == [
        f"{tmp_path / 'faq.yaml'}: entry 'beta': field 'variants': 'whats a  MASSAGE' is already a question "
        "or variant of entry 'alpha'"
    ]


def test_source_not_in_the_material(tmp_path: Path) -> None:
    """With material given, a quoted source that does not occur in it verbatim is reported."""
    material = MATERIAL.read_text(encoding="utf-8")
    made_up = "Massage cures every kind of back pain overnight."
    text = faq_yaml(entry("alpha", source=MATERIAL_PHRASE), entry("beta", source=made_up))

    errors = errors_of(tmp_path, text, material=material)

    assert errors == [
        f"{tmp_path / 'faq.yaml'}: entry 'beta': field 'source' does not occur in the material: {made_up!r}"
    ]
    assert len(parse_faq(text).entries) == 2  # without material, sources are not checked


def test_source_length_is_checked(tmp_path: Path) -> None:
    """A quoted source shorter than 10 characters is reported."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha", source="short"), entry("beta")))

    assert any("entry 'alpha': field 'source' must be 10-120 characters" in e for e in errors)


def test_wrong_topic(tmp_path: Path) -> None:
    """A topic outside the known list is reported, listing the allowed topics."""
    errors = errors_of(tmp_path, faq_yaml(entry("alpha", topic="gossip"), entry("beta")))

    assert errors == [
        f"{tmp_path / 'faq.yaml'}: entry 'alpha': field 'topic' must be one of the topics: basics, safety"
    ]


def test_anchors_must_be_single_words(tmp_path: Path) -> None:
    """The optional anchors list holds single words; anything else is reported."""
    text = faq_yaml().replace("version: 1", "version: 1\nanchors: [massage, two words]")

    assert errors_of(tmp_path, text) == [f"{tmp_path / 'faq.yaml'}: field 'anchors': must be a list of single words"]


def test_off_topic_words_must_be_single_words(tmp_path: Path) -> None:
    """The optional off_topic list holds single words too, and says so by name when it does not."""
    text = faq_yaml().replace("version: 1", "version: 1\noff_topic: [dog, {a: b}]")

    assert errors_of(tmp_path, text) == [f"{tmp_path / 'faq.yaml'}: field 'off_topic': must be a list of single words"]


def test_anchors_load_normalised() -> None:
    """Anchors load lowercased into a set, and the shipped FAQ names massage among them."""
    faq = parse_faq(faq_yaml().replace("version: 1", "version: 1\nanchors: [Massage, BACK]"))

    assert faq.anchors == frozenset({"massage", "back"})
    assert "massage" in load_faq(DEFAULT_FAQ_PATH).anchors


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Several broken entries give one error each, in one FaqError."""
    text = faq_yaml(
        entry("alpha", topic="gossip"),
        entry("beta", answer=None),
        entry("gamma", related=["ghost"]),
        entry("Bad Id"),
    )

    errors = errors_of(tmp_path, text)

    assert len(errors) == 4
    assert [e.split(": ")[1] for e in errors] == ["entry 'alpha'", "entry 'beta'", "entry 'Bad Id'", "entry 'gamma'"]


def test_the_shipped_faq_validates_against_the_material(faq: Faq) -> None:
    """faq/faq.yaml loads cleanly with every quoted source checked against the material."""
    assert faq.path == DEFAULT_FAQ_PATH
    material = MATERIAL.read_text(encoding="utf-8")
    quoted = [x.source for x in (*faq.entries, *faq.tips) if x.source != "general guidance"]
    assert quoted
    assert all(source in material for source in quoted)


def test_the_shipped_faq_has_every_required_entry(faq: Faq) -> None:
    """All entries the bot relies on exist."""
    assert [i for i in REQUIRED_IDS if i not in faq.by_id] == []


def test_every_shipped_entry_has_at_least_8_variants(faq: Faq) -> None:
    """Each shipped entry has eight or more variants."""
    assert {e.id: len(e.variants) for e in faq.entries if len(e.variants) < 8} == {}


def test_the_shipped_faq_has_at_least_20_tips(faq: Faq) -> None:
    """There are at least 20 tips, with unique ids."""
    assert len(faq.tips) >= 20
    assert len({t.id for t in faq.tips}) == len(faq.tips)


def test_safety_entries_rest_on_general_guidance(faq: Faq) -> None:
    """Safety entries are marked general guidance, since the material says nothing about safety."""
    safety = faq.topic_entries("safety")

    assert {"see-a-doctor", "contraindications"} <= {e.id for e in safety}
    assert all(e.is_general_guidance for e in safety)


def test_roles_name_the_shipped_safety_entries_and_benefits_topic(faq: Faq) -> None:
    """The shipped FAQ declares, in one place, the entries and topic the bot relies on."""
    assert (faq.roles.warning_signs, faq.roles.contraindications, faq.roles.benefits) == (
        "see-a-doctor",
        "contraindications",
        "benefits",
    )
    assert faq.warning_signs.id == "see-a-doctor"
    assert faq.topic_entries(faq.roles.benefits)


def test_a_role_naming_a_missing_entry_is_reported_by_name(tmp_path: Path) -> None:
    """A role whose entry is not in the file is one error naming the role, the entry and what it is for."""
    roles = {**ROLES, "warning_signs": "see-a-doctor"}

    errors = errors_of(tmp_path, faq_yaml(roles=roles))

    assert errors == [
        f"{tmp_path / 'faq.yaml'}: roles: 'warning_signs': names entry 'see-a-doctor', which the file does not have "
        "(the answer to a message that describes a warning sign)"
    ]


def test_a_role_naming_a_missing_topic_is_reported(tmp_path: Path) -> None:
    """The benefits role must name a declared topic."""
    errors = errors_of(tmp_path, faq_yaml(roles={**ROLES, "benefits": "perks"}))

    assert errors == [
        f"{tmp_path / 'faq.yaml'}: roles: 'benefits': names topic 'perks', which the file does not have "
        "(the topic /benefits lists)"
    ]


def test_missing_and_unknown_roles_are_reported(tmp_path: Path) -> None:
    """A file without roles says which it needs; a missing or misspelt role is named."""
    [missing] = errors_of(tmp_path, faq_yaml(roles=None))
    partial = errors_of(tmp_path, faq_yaml(roles={"warning_sign": "alpha", "contraindications": "beta"}))

    assert missing.endswith("field 'roles': is missing; it must name warning_signs, contraindications, benefits")
    assert any("roles: 'warning_sign': is not a role the bot uses" in e for e in partial)
    assert any("roles: 'warning_signs': is missing; it must name the entry that is the answer to" in e for e in partial)
    assert any("roles: 'benefits': is missing; it must name the topic" in e for e in partial)


def test_topics_are_declared_with_titles(tmp_path: Path) -> None:
    """Topics load in file order with their titles and flags; a topic without a title or with a non-boolean
    flag is reported; a file without topics says it needs them."""
    faq = parse_faq(faq_yaml(topics=[*TOPICS, {"id": "bot", "title": "About", "about_bot": True}]))
    no_title = errors_of(tmp_path, faq_yaml(topics=[*TOPICS, {"id": "extra"}]))
    bad_flag = errors_of(tmp_path, faq_yaml(topics=[*TOPICS, {"id": "extra", "title": "X", "popular": "yes please"}]))

    assert [(t.id, t.title, t.about_bot) for t in faq.topics][-1] == ("bot", "About", True)
    assert faq.title("basics") == "Basics"
    assert no_title == [f"{tmp_path / 'faq.yaml'}: topic 'extra': field 'title' is missing"]
    assert bad_flag == [f"{tmp_path / 'faq.yaml'}: topic 'extra': field 'popular' must be true or false"]
    assert any("field 'topics': must be a non-empty list" in e for e in errors_of(tmp_path, faq_yaml(topics=None)))


def test_vocabulary_lists_load_as_word_sets(tmp_path: Path) -> None:
    """The vocabulary's lists load from space-separated words or YAML lists; an unknown list is reported."""
    faq = parse_faq(faq_yaml(vocabulary={"stopwords": "the a  an\nof", "references": ["it", "this"]}))
    errors = errors_of(tmp_path, faq_yaml(vocabulary={"stopword": "the"}))

    assert faq.vocabulary.stopwords == frozenset({"the", "a", "an", "of"})
    assert faq.vocabulary.references == frozenset({"it", "this"})
    assert faq.vocabulary.filler == frozenset()
    assert errors == [
        f"{tmp_path / 'faq.yaml'}: vocabulary: 'stopword': is not a known list; they are stopwords, filler, "
        "references, warning_words"
    ]


def test_the_subject_is_required(tmp_path: Path) -> None:
    """A file without `subject` is reported: the bot names it when it says what it knows about."""
    errors = errors_of(tmp_path, faq_yaml(subject=None))

    assert errors == [f"{tmp_path / 'faq.yaml'}: header: field 'subject' is missing"]


SMALL_TALK = {
    "along": "you so much",
    "kinds": [
        {"kind": "bye", "words": "bye goodbye", "reply": "Take care!"},
        {"kind": "thanks", "words": ["thanks", "thx"], "reply": "You're welcome!"},
    ],
}


def test_small_talk_loads_its_kinds_in_order_with_their_words_and_replies() -> None:
    """`small_talk:` loads each kind with its words and reply, in file order, and the words that may come along."""
    talk = parse_faq(faq_yaml(small_talk=SMALL_TALK)).small_talk

    assert [(k.kind, k.words, k.reply) for k in talk.kinds] == [
        ("bye", frozenset({"bye", "goodbye"}), "Take care!"),
        ("thanks", frozenset({"thanks", "thx"}), "You're welcome!"),
    ]
    assert talk.along == frozenset({"you", "so", "much"})


def test_a_file_without_small_talk_has_none() -> None:
    """Small talk is optional: without the section no message is small talk."""
    assert parse_faq(faq_yaml()).small_talk.kinds == ()


def test_small_talk_errors_name_the_kind_and_the_field(tmp_path: Path) -> None:
    """A kind without words or reply, a duplicate kind, an unknown field and a warning-sign word (of the file's
    own safety section) are each reported by name."""
    broken = {
        "along": "you numb",
        "kinds": [
            {"kind": "bye", "words": "bye"},
            {"kind": "bye", "words": "later", "reply": "Later!"},
            {"kind": "thanks", "reply": "You're welcome!"},
        ],
        "extra": "x",
    }
    path = tmp_path / "faq.yaml"
    numbness = {"concepts": [{"id": "numbness", "role": "warning_signs", "reason": "numbness", "says": ["numb"]}]}
    errors = [e.removeprefix(f"{path}: ") for e in errors_of(tmp_path, faq_yaml(small_talk=broken, safety=numbness))]

    assert errors == [
        "small_talk: 'extra': is not a known field; they are along, kinds",
        "small-talk kind 'bye': field 'reply' is missing",
        "small-talk kind 'bye': duplicate id",
        "small-talk kind 'thanks': field 'words' must list at least one word",
        "small_talk: 'numb' is a warning-sign word: small talk must never hide one",
    ]


def test_wording_defaults_name_the_files_own_subject_and_benefits_topic() -> None:
    """Without `wording:`, /about names the file's subject and /benefits its benefits topic, nothing else."""
    wording = parse_faq(faq_yaml(subject="houseplant care")).wording

    assert "houseplant care" in wording.about
    assert (wording.benefits_heading, wording.benefits_button, wording.benefits_command) == ("Basics",) * 3
    assert wording.start_note == ""


def test_wording_fields_load_and_an_unknown_one_is_reported(tmp_path: Path) -> None:
    """`wording:` texts replace the defaults; a misspelt field is one error listing the fields there are."""
    faq = parse_faq(faq_yaml(wording={"farewell": "Bye! Water your plants.", "benefits_button": "🌱 Benefits"}))
    errors = errors_of(tmp_path, faq_yaml(wording={"farwell": "Bye"}))

    assert faq.wording.farewell == "Bye! Water your plants."
    assert faq.wording.benefits_button == "🌱 Benefits"
    assert len(errors) == 1
    assert "wording: 'farwell': is not a text the bot uses; they are about, about_caveat, start_note" in errors[0]
