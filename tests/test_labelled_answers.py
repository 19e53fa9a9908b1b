"""Labelled examples asked again get their label, on the real FAQ, through the bot's Knowledge."""

from __future__ import annotations

from bot.core import Knowledge
from faq.examples import Example
from faq.models import DEFAULT_FAQ_PATH


def test_a_labelled_message_asked_again_gets_its_label() -> None:
    """An entry label answers with that entry, off-topic declines, a safety label gives the safety answer."""
    base = Knowledge.load(DEFAULT_FAQ_PATH)
    knowledge = base.with_examples(
        (
            Example("my spine has been grumbling since the move", "back-pain-benefits"),
            Example("does massage help with back pain", "off-topic"),
            Example("my feet feel like cardboard lately", "see-a-doctor"),
        )
    )
    answered = knowledge.match("My spine has been grumbling since the move!")
    assert (answered.tier, answered.entry_id, answered.safety_reason) == ("answer", "back-pain-benefits", None)
    assert knowledge.match("does massage help with back pain").tier == "none"
    warned = knowledge.match("my feet feel like cardboard lately")
    assert (warned.entry_id, warned.safety_reason) == ("see-a-doctor", "a warning sign")


def test_a_label_for_a_missing_entry_is_set_aside() -> None:
    """A label naming an entry the FAQ lacks is reported as ignored and never applied."""
    stale = Example("what about reflexology", "reflexology")
    knowledge = Knowledge.load(DEFAULT_FAQ_PATH).with_examples((stale,))
    assert knowledge.ignored == (stale,)
    assert knowledge.examples == ()
    assert knowledge.match("what about reflexology").entry_id != "reflexology"


def test_a_warning_sign_the_rules_catch_keeps_the_safety_answer_whatever_its_label() -> None:
    """A label cannot take the safety answer away from a message the warning-sign rules catch."""
    text = "i have lost control of my bladder and my back hurts"
    knowledge = Knowledge.load(DEFAULT_FAQ_PATH).with_examples((Example(text, "cost"),))
    assert knowledge.match(text).entry_id == "see-a-doctor"
