"""The callback_data scheme: every button fits Telegram's 64 bytes and decodes back; anything else is None."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.callbacks import DAILY_PRESETS, MAX_CALLBACK_BYTES, Action, Press, decode, encode
from faq.loader import load_faq

FAQ = load_faq()
ENTRY_IDS = [e.id for e in FAQ.entries]
FIXED: list[Action] = ["topics", "benefits", "tip", "another_tip", "daily"]
OWNED: list[Action] = ["forget_yes", "forget_no", "daily_off"]
OWNERS = [729_001, -1_009_000_000_001, 0]  # a user, a channel (a chat speaking for itself), the no-user fallback
ENTRY_ACTIONS: list[Action] = ["answer", "feedback_up", "feedback_down"]


def every_press() -> list[Press]:
    """Every press the bot can put on a button with the real FAQ."""
    presses = [Press(action) for action in FIXED]
    presses += [Press(action, entry_id) for action in ENTRY_ACTIONS for entry_id in ENTRY_IDS]
    presses += [Press("topic", topic) for topic in FAQ.topics_by_id]
    presses += [Press("daily_set", preset, owner=owner) for preset in DAILY_PRESETS for owner in OWNERS]
    presses += [Press(action, owner=owner) for action in OWNED for owner in OWNERS]
    return presses


@pytest.mark.parametrize("press", every_press(), ids=lambda p: f"{p.action}:{p.arg}")
def test_every_button_round_trips_within_64_bytes(press: Press) -> None:
    """Each button's data fits in 64 bytes and decodes to the same press."""
    data = encode(press.action, press.arg, owner=press.owner)
    assert 1 <= len(data.encode()) <= MAX_CALLBACK_BYTES
    assert decode(data, FAQ) == press


def test_every_button_has_distinct_data() -> None:
    """No two different presses share callback data."""
    datas = [encode(p.action, p.arg, owner=p.owner) for p in every_press()]
    assert len(set(datas)) == len(datas)


def test_data_is_compact() -> None:
    """The scheme is short and readable, e.g. `a:circulation` for an answer."""
    assert encode("answer", "circulation") == "a:circulation"
    assert encode("topics") == "m"
    assert encode("daily_set", "08:00", owner=729_001) == "d:08:00:729001"
    assert encode("forget_yes", owner=-1_009_000_000_001) == "fg:yes:-1009000000001"


def test_encode_refuses_data_over_64_bytes() -> None:
    """A button that would not fit Telegram's limit fails loudly when built, not when sent."""
    with pytest.raises(ValueError, match="64 bytes"):
        encode("answer", "x" * 63)


@pytest.mark.parametrize("action", ["forget_yes", "forget_no", "daily_off"])
def test_a_button_on_the_askers_own_data_cannot_be_built_without_the_asker(action: Action) -> None:
    """A delete or daily-tip button that names nobody fails when built, so no such button can reach a group."""
    with pytest.raises(ValueError, match="asker's id"):
        encode(action)


TAMPERED = [
    None,
    "",
    "zzz",
    "a",
    "a:",
    "a:does-not-exist",
    "a:Circulation",
    "a:circulation ",
    " a:circulation",
    "a:circulation\n",
    "a:circ",
    "A:circulation",
    "f+:does-not-exist",
    "f-:",
    "f*:circulation",
    "t:",
    "t:nope",
    "t:Benefits",
    "d:",
    "d:07:30",
    "d:25:99",
    "d:on",
    "m:",
    "m:extra",
    "tip:x",
    "fg:maybe",
    "fg:yes",  # a confirmation that names no asker (as buttons sent before they named one)
    "fg:yes:",
    "fg:yes:abc",
    "fg:yes:007",
    "fg:yes:-0",
    "fg:yes:1:2",
    "fg:yes:" + "9" * 20,
    "d:08:00",  # a time button that names no asker
    "d:off",
    "d:08:00:x",
    "d:07:31:5",
    "a:circulation:5",  # only the buttons on the asker's own data name one
    "m:5",
    "a:../../etc/passwd",
    "a:circulation:extra",
    "x" * 64,
    "é" * 32,
    "a:" + "b" * 63,
    "\x00",
    "\ud800",  # a lone surrogate, as a broken client could send
]


@pytest.mark.parametrize("data", TAMPERED)
def test_unknown_or_tampered_data_decodes_to_none(data: str | None) -> None:
    """Data the bot never made, or naming something the FAQ lacks, is rejected."""
    assert decode(data, FAQ) is None


def test_press_for_a_removed_entry_is_stale() -> None:
    """After an FAQ edit removes an entry, its old buttons decode to None instead of crashing."""
    smaller = dataclasses.replace(FAQ, entries=tuple(e for e in FAQ.entries if e.id != "circulation"))
    assert decode("a:circulation", FAQ) == Press("answer", "circulation")
    assert decode("a:circulation", smaller) is None


@given(st.text(max_size=80))
@example("a:sleep")
@example("d:off:5")
@example("d:08:00:5")
@example("fg:yes:-1009000000001")
@example("fg:yes:007")
def test_decode_never_raises_and_only_accepts_what_encode_makes(data: str) -> None:
    """For any text, decode returns None or a press that encodes back to exactly that text."""
    press = decode(data, FAQ)
    if press is not None:
        assert encode(press.action, press.arg, press.group, press.owner) == data


def test_source_button_names_an_entry_and_goes_stale_with_it() -> None:
    """A 📖 Source button carries its entry's id; once the entry is gone, the press is stale, not a crash."""
    assert encode("source", "waste-products") == "s:waste-products"
    assert decode("s:waste-products", FAQ) == Press("source", "waste-products")
    assert decode("s:no-such-entry", FAQ) is None
