"""The review queue's domain side: masking, and `python run_bot.py --export-examples PATH` on a real database."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import Conversation, Knowledge, Response, Sender
from bot.report import uncovered_questions
from bot.review import Uncovered, mask, norm
from bot.storage import Store
from faq.examples import Example, load_examples
from faq.matcher import Matcher
from faq.models import Faq
from tests.botproc import RUN_BOT, clean_env
from tests.faq_copy import copy_faq

NOW = datetime(2026, 12, 2, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail me at ann.lee+back@example.co.uk please", "mail me at [email] please"),
        ("call 07700 900123 after six", "call [phone] after six"),
        ("my number is +44 (0)20 7946-0958", "my number is [phone]"),
        ("policy 1234567890123 pays for it", "policy [phone] pays for it"),
        ("ref 12345 on my booking", "ref [number] on my booking"),
        ("I'm 45, had 3 sessions in 2024, 60 minutes each", "I'm 45, had 3 sessions in 2024, 60 minutes each"),
    ],
)
def test_mask_hides_emails_phone_numbers_and_long_digit_runs(text: str, masked: str) -> None:
    """E-mail addresses, phone numbers and runs of 5+ digits are masked; ages, years and durations are not."""
    assert mask(text) == masked


def export(tmp_path: Path, database: Path, target: Path) -> subprocess.CompletedProcess[str]:
    """Run `python run_bot.py --export-examples target` without a token."""
    return subprocess.run(
        [sys.executable, str(RUN_BOT), "--export-examples", str(target)],
        capture_output=True,
        text=True,
        env=clean_env({"DATABASE_PATH": str(database)}),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


async def _label(database: Path, labelled: list[tuple[str, str]]) -> None:
    store = await Store.open(database)
    try:
        for text, label in labelled:
            await store.add_review_labels([(text.lower(), text)], label, NOW)
    finally:
        await store.close()


def test_exported_labels_load_as_an_examples_file(tmp_path: Path, faq: Faq) -> None:
    """--export-examples writes entry, off-topic and warning-sign labels in the examples format the loader accepts."""
    database = tmp_path / "bot.sqlite3"
    long_text = "is tipping expected " + "and so on " * 60
    labelled = [
        ("is tipping the therapist expected", "cost"),
        ("whats the best pizza in town", "off-topic"),
        ("my feet feel like cardboard lately", "see-a-doctor"),
        ("which parking is nearest the clinic", ":skip"),  # not now: no example
        ("can i bring my dog", ":uncovered"),  # no entry fits: a new entry to write, not an example
        ("what about reflexology", "reflexology"),  # an entry this FAQ does not have
        (long_text, "cost"),
    ]
    asyncio.run(_label(database, labelled))
    target = tmp_path / "exported.yaml"

    done = export(tmp_path, database, target)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Exported 4 labelled example(s) to {target}\n"
    assert done.stderr == "warning: left out 1 label(s) naming entries the FAQ lacks: reflexology\n"
    loaded = load_examples(target, faq)  # validates every label against the FAQ
    assert loaded[:3] == (
        Example("is tipping the therapist expected", "cost"),
        Example("whats the best pizza in town", "off-topic"),
        Example("my feet feel like cardboard lately", "see-a-doctor"),
    )
    assert loaded[3].label == "cost"
    assert long_text.startswith(loaded[3].text)
    assert target.read_text(encoding="utf-8").startswith("# Labelled examples")
    assert list(tmp_path.glob(".exported.yaml.*")) == []  # no temporary file left behind


def test_export_with_no_labels_writes_an_empty_examples_file(tmp_path: Path, faq: Faq) -> None:
    """Exporting from a database with no review labels writes a valid file with no examples."""
    target = tmp_path / "exported.yaml"
    done = export(tmp_path, tmp_path / "bot.sqlite3", target)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Exported 0 labelled example(s) to {target}\n"
    assert load_examples(target, faq) == ()


def test_export_to_a_missing_folder_is_one_error_line(tmp_path: Path) -> None:
    """A PATH whose folder does not exist exits 2 with one line naming it, and no traceback."""
    target = tmp_path / "no-such-folder" / "exported.yaml"
    done = export(tmp_path, tmp_path / "bot.sqlite3", target)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: cannot write {target}: ")
    assert done.stderr.count("\n") == 1


async def test_uncovered_lists_no_entry_fits_and_unlabelled_declines_most_asked_first(
    tmp_path: Path, matcher: Matcher
) -> None:
    """"No entry fits" groups and declined questions nobody labelled (or skipped) are listed; labelled ones are not."""
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        for user, text in enumerate(["can i bring my dog", "can I bring my dog?", "whats the best pizza in town"]):
            await store.log_question(user, text, None, "none", 0.0, NOW)
        for text in ["which parking is nearest the clinic"] * 3 + ["my tortoise is sad"] * 2:
            await store.log_question(9, text, None, "none", 0.0, NOW)
        for text, label in [
            ("can i bring my dog", ":uncovered"),  # "Other entry…", then "No entry fits"
            ("whats the best pizza in town", "off-topic"),
            ("my tortoise is sad", ":skip"),
        ]:
            await store.add_review_labels([(norm(text), mask(text))], label, NOW)
        found = await uncovered_questions(store, matcher)
    finally:
        await store.close()
    assert found == [
        Uncovered(3, ("which parking is nearest the clinic",), reviewed=False),
        Uncovered(2, ("can i bring my dog",), reviewed=True),
        Uncovered(2, ("my tortoise is sad",), reviewed=False),
    ]


def button(response: Response, label: str) -> str:
    """The callback data of the one button of the first reply whose label starts with `label`."""
    found = [b.data for row in response.replies[0].buttons for b in row if b.label.startswith(label)]
    assert len(found) == 1, response.replies[0].buttons
    return found[0]


def answer(response: Response) -> str:
    """The first line of the first reply: an answer's question in bold, or the start of a decline."""
    return response.replies[0].text.split("\n", 1)[0]


# The bot's copy of the FAQ has no examples about showering or bathing, and none for the first session: SHOWER
# and BATHE are then questions its owner has not labelled yet, however the shipped examples file grows.
UNLABELLED = {"leave_out": ("shower", "bath"), "unlabelled": ("first-session",)}
SHOWER = "should i shower before a massage"
SHOWER_WORDINGS = ("should I have a shower before my massage?", "do i need to shower before a massage")


async def test_a_label_answers_at_once_and_retraining_carries_it_to_other_wordings(tmp_path: Path) -> None:
    """The labelled text gets its entry as soon as the press is answered; after the background retraining,
    other wordings of it do too, and a restart keeps both."""
    admin = Sender(1, 1, is_admin=True)
    asker = Sender(2, 2)
    faq_path = copy_faq(tmp_path, **UNLABELLED)
    store = await Store.open(tmp_path / "bot.sqlite3")
    conversation = Conversation(Knowledge.load(faq_path), store)
    try:
        assert answer(await conversation.on_text(asker, SHOWER)).startswith("Sorry, I'm not sure")
        for wording in SHOWER_WORDINGS:
            assert answer(await conversation.on_text(asker, wording)).startswith("Sorry, I'm not sure")
        screen = await conversation.on_command(admin, "review")
        while SHOWER not in screen.replies[0].text:  # the wordings may be groups of their own: skip them
            screen = await conversation.on_button(admin, button(screen, "⏭ Skip"))
        topics = await conversation.on_button(admin, button(screen, "📚 Other entry…"))
        practical = await conversation.on_button(admin, button(topics, "Practical questions"))
        pressed = await conversation.on_button(admin, button(practical, "What happens at a first massage session?"))
        assert pressed.notice == "Labelled"
        first_session = "<b>What happens at a first massage session?</b>"
        assert answer(await conversation.on_text(asker, SHOWER)) == first_session

        await conversation.retrained()
        for wording in SHOWER_WORDINGS:
            assert answer(await conversation.on_text(asker, wording)) == first_session
    finally:
        await conversation.drain()
        await store.close()

    store = await Store.open(tmp_path / "bot.sqlite3")
    restarted = Conversation(Knowledge.load(faq_path), store)
    try:
        await restarted.load_labels()
        await restarted.retrained()
        for text in (SHOWER, *SHOWER_WORDINGS):
            assert answer(await restarted.on_text(asker, text)) == first_session
    finally:
        await restarted.drain()
        await store.close()


BATHE = "do i need to bathe first before getting a massage"  # a "did you mean": in the queue too


async def test_paraphrases_in_other_words_are_one_group_by_their_embeddings(tmp_path: Path) -> None:
    """Two wordings of one question that share few words are one group of 2, and one label answers both."""
    admin = Sender(1, 1, is_admin=True)
    store = await Store.open(tmp_path / "bot.sqlite3")
    conversation = Conversation(Knowledge.load(copy_faq(tmp_path, **UNLABELLED)), store)
    try:
        await conversation.on_text(Sender(2, 2), SHOWER)
        await conversation.on_text(Sender(3, 3), BATHE)
        await conversation.on_text(Sender(4, 4), "whats the best pizza in town")
        screen = await conversation.on_command(admin, "review")
        text = screen.replies[0].text
        assert "2 group(s), 3 message(s)" in text
        assert f"This group: asked 2 time(s)</b>\n• {BATHE}\n• {SHOWER}\n" in text
        topics = await conversation.on_button(admin, button(screen, "📚 Other entry…"))
        practical = await conversation.on_button(admin, button(topics, "Practical questions"))
        pressed = await conversation.on_button(admin, button(practical, "What happens at a first massage session?"))
        assert pressed.replies[0].text.startswith("✅ 2 message(s) labelled")
        for wording in (SHOWER, BATHE):
            reply = await conversation.on_text(Sender(5, 5), wording)
            assert answer(reply) == "<b>What happens at a first massage session?</b>"
    finally:
        await conversation.drain()
        await store.close()
