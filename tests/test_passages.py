"""The material beside the FAQ, and the passages the 📖 Source button quotes from it."""

from __future__ import annotations

from pathlib import Path

from faq.passages import passage, read_material
from tests.conftest import MATERIAL

TEXT = MATERIAL.read_text(encoding="utf-8")


def test_a_phrase_widens_to_its_whole_sentence() -> None:
    """A source phrase in mid-sentence is shown as the full sentence it sits in, word for word."""
    shown = passage(TEXT, "get filtered out by the liver and kidney")
    assert shown == (
        "A massage can help rejuvenate the body by enabling waste products to move through the body "
        "and get filtered out by the liver and kidney."
    )


def test_an_abbreviation_does_not_end_a_sentence() -> None:
    """'e.g. prescription medicine' stays inside its sentence."""
    shown = passage(TEXT, "A massage is a cheaper alternative")
    assert shown is not None
    assert shown.endswith("e.g. prescription medicine.")


def test_a_sentence_that_points_back_brings_the_one_before() -> None:
    """'It is therefore considered...' only reads with the sentence that says why."""
    shown = passage(TEXT, "It is therefore considered a primary means")
    assert shown is not None
    assert shown.startswith("Massage therapy does not need one to use any kind of medication")


def test_a_phrase_not_in_the_material_has_no_passage() -> None:
    """A made-up source gives no passage rather than a wrong one."""
    assert passage(TEXT, "massage cures everything") is None


def test_the_material_is_read_from_beside_the_faq_file(tmp_path: Path) -> None:
    """The FAQ's material is the material.txt in the same folder; none there means none."""
    faq = tmp_path / "faq.yaml"
    assert read_material(faq) is None
    (tmp_path / "material.txt").write_text("Hello.", encoding="utf-8")
    assert read_material(faq) == "Hello."
