"""End-to-end: the operator's review queue (/review) of a real `run_bot.py` against the loopback Bot API fake.

Users ask questions the bot declines; an admin labels them with the queue's buttons; the same questions,
asked again, get what the admin said at once and after a restart. Checked in the chat and in the SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.render import button_label
from bot.storage import Store
from faq.loader import load_faq
from faq.models import DEFAULT_FAQ_PATH
from tests.botproc import RUN_BOT, BotProcess, clean_env
from tests.fake_telegram import Call, FakeTelegram
from tests.faq_copy import copy_faq

ADMIN = 731_001
ASKERS = (731_101, 731_102, 731_103, 731_104)  # ids no other number in a reply could equal by accident
LATER = 731_201  # asks the same questions again, after the labels
AFTER_RESTART = 731_301
SECRET_NAME = "Zebedee"
SECRET_USERNAME = "zebedee_quietly"

# The bot's copy of the FAQ has no examples about showering or bathing, and none for the first session: SHOWER
# is then a question its owner has not labelled yet, however the shipped examples file grows.
UNLABELLED = {"leave_out": ("shower", "bath"), "unlabelled": ("first-session",)}
SHOWER = (  # one group: the same top guess and close words
    "should i shower before a massage",
    "Should I shower before a massage?",
    "should i shower before the massage",
    "should i shower before my massage",
    "should i shower before a massage or after",
)
FIRST_SESSION = "What happens at a first massage session?"  # what the admin says SHOWER meant
MUSIC = "do they play music during the session"
PIZZA = "whats the best pizza in town"
FEET = "my feet feel like cardboard lately"  # a warning sign in words the safety rules do not know
PARKING = "which parking is nearest the clinic, text me on 07700 900123 or mail ann.lee@example.com, ref 12345"
DECLINE = "Sorry, I'm not sure about that one"
SAFETY = "⚠️ You mentioned"
RED_FLAG = "my legs are numb and weak since this morning"  # the warning-sign rules catch it


@dataclass
class Bot:
    """A fake Bot API, the bot polling it, and the files they share."""

    tg: FakeTelegram
    workdir: Path
    env: dict[str, str]
    process: BotProcess

    @property
    def database(self) -> Path:
        """The bot's SQLite file."""
        return self.process.database_path

    def restart(self) -> None:
        """Stop the bot (SIGTERM) and start a new process on the same database and FAQ."""
        assert self.process.stop() == 0
        self.process = BotProcess(self.tg, self.workdir, env=self.env, name="bot").start()


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    """A bot with ADMIN as its admin, on a copy of the real FAQ it can reload."""
    faq_path = copy_faq(tmp_path, **UNLABELLED)
    env = {"FAQ_PATH": str(faq_path), "ADMIN_IDS": str(ADMIN), "DATABASE_PATH": str(tmp_path / "bot.sqlite3")}
    with FakeTelegram() as tg:
        running = Bot(tg, tmp_path, env, BotProcess(tg, tmp_path, env=env, name="bot").start())
        try:
            yield running
        finally:
            running.process.stop()
        assert tg.violations == []


def read_db(bot: Bot, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one query on the bot's SQLite file, read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{bot.database}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql, params).fetchall()


def say(bot: Bot, user_id: int, text: str, **who: str) -> str:
    """Send a private message as the user; return the text of the bot's reply."""
    bot.tg.push_message(user_id, text, **who)
    return bot.tg.wait_for_message(user_id, timeout=20).text or ""


def ask_logged(bot: Bot, user_id: int, text: str, **who: str) -> str:
    """Ask a question and wait until it is in the question log (the log is written after the answer)."""
    before = read_db(bot, "SELECT count(*) FROM questions")[0][0]
    reply = say(bot, user_id, text, **who)
    bot.tg.wait_until(lambda: read_db(bot, "SELECT count(*) FROM questions")[0][0] > before or None, what="a log")
    return reply


@dataclass
class Screen:
    """What the admin sees after a command or a press: the message's text and buttons, and the notice."""

    text: str
    buttons: list[tuple[str, str]]
    notice: str | None = None

    def data(self, label_start: str) -> str:
        """The callback data of the one button whose label starts with `label_start`."""
        found = [data for label, data in self.buttons if label.startswith(label_start)]
        assert len(found) == 1, (label_start, self.buttons)
        return found[0]

    @property
    def examples(self) -> list[str]:
        """The example texts a review screen shows, one per bullet."""
        return [line[2:] for line in self.text.splitlines() if line.startswith("• ")]


def _screen(call: Call, notice: str | None = None) -> Screen:
    return Screen(call.text or "", [(str(b["text"]), str(b["callback_data"])) for b in call.inline_buttons], notice)


def command(bot: Bot, text: str) -> Screen:
    """Send a command as the admin; return the reply."""
    bot.tg.push_message(ADMIN, text)
    return _screen(bot.tg.wait_for_message(ADMIN, timeout=30))


def tap(bot: Bot, data: str, user_id: int = ADMIN) -> Screen:
    """Press a button on the user's last message; return the notice and the message it edited or sent."""
    started = time.monotonic()
    query_id = bot.tg.push_callback(user_id, data)
    answered = bot.tg.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id, timeout=30
    )  # answered after every edit and message of the press
    shown = [
        c
        for c in bot.tg.calls
        if c.time >= started and c.chat_id == user_id and c.method in ("sendMessage", "editMessageText") and c.ok
    ]
    if not shown:
        return Screen("", [], answered.params.get("text"))  # a notice and nothing else
    for c in shown:
        if c.method == "sendMessage":
            bot.tg.wait_for_message(user_id)  # keep wait_for_message's cursor in step
    return _screen(shown[-1], answered.params.get("text"))


# --- the whole loop ----------------------------------------------------------------------------------------


def test_labels_from_review_answer_at_once_and_after_a_restart(bot: Bot) -> None:
    """Declined questions labelled in /review get that entry, a decline and the safety answer, then and later."""
    for n, text in enumerate(SHOWER):
        who = {"first_name": SECRET_NAME, "username": SECRET_USERNAME} if n == 0 else {}
        assert ask_logged(bot, ASKERS[n % len(ASKERS)], text, **who).startswith(DECLINE)
    for text in (MUSIC, PIZZA, FEET, PARKING):  # the queue shows the newest first among groups of one
        assert ask_logged(bot, ASKERS[0], text).startswith(DECLINE)

    queue = command(bot, "/review")
    assert queue.text.startswith("🗂 <b>Review queue</b>: 5 group(s), 9 message(s)")
    assert "asked 5 time(s)" in queue.text  # the most frequent group first, with its size
    assert len(queue.examples) == 3
    assert all("shower" in e.lower() for e in queue.examples)
    for private in (SECRET_NAME, SECRET_USERNAME, *map(str, ASKERS)):
        assert private not in queue.text
        assert all(private not in label for label, _ in queue.buttons)
    shipped = load_faq(DEFAULT_FAQ_PATH)
    questions = {button_label(e.question): e.question for e in shipped.entries}  # a button's label: cut short
    guesses = [label for label, data in queue.buttons if data.startswith("rl:") and label in questions]
    assert len(guesses) == 3
    assert [label for label, _ in queue.buttons[3:]] == [
        "📚 Other entry…", "🚫 Off-topic", "⚠️ Warning sign", "⏭ Skip", "↩️ Undo last"
    ]

    # Someone asks it again while the admin looks: the group grows, and its buttons still act on it.
    assert ask_logged(bot, ASKERS[3], SHOWER[0]).startswith(DECLINE)

    # "Other entry…" browses topics, then a topic's entries.
    topics = tap(bot, queue.data("📚 Other entry…"))
    assert topics.text == "Pick a topic:"
    titles = [label for label, _ in topics.buttons]
    assert titles[:-2] == [t.title for t in shipped.topics if shipped.topic_entries(t.id)]
    assert titles[-2:] == ["✍️ No entry fits (a new one to write)", "⬅️ Back to the queue"]
    practical = tap(bot, topics.data("Practical questions"))
    assert [label for label, _ in practical.buttons[:-2]] == [
        button_label(e.question) for e in shipped.entries if e.topic == "practical"
    ]
    labelled = tap(bot, practical.data(FIRST_SESSION))
    assert labelled.notice == "Labelled"
    assert labelled.text.startswith(f"✅ 6 message(s) labelled “{FIRST_SESSION}”.")
    for text in SHOWER:  # live at once: no restart, no wait
        assert say(bot, LATER, text).startswith(f"<b>{FIRST_SESSION}</b>")

    # The next group: PARKING, masked. Skip leaves it declined and out of the queue.
    assert labelled.examples == [
        "which parking is nearest the clinic, text me on [phone] or mail [email], ref [number]"
    ]
    skipped = tap(bot, labelled.data("⏭ Skip"))
    assert skipped.text.startswith("✅ 1 message(s) labelled skipped.")
    assert say(bot, LATER, PARKING).startswith(DECLINE)

    assert skipped.examples == [FEET]
    warned = tap(bot, skipped.data("⚠️ Warning sign"))
    assert warned.text.startswith("✅ 1 message(s) labelled a warning sign.")
    assert say(bot, LATER, FEET).startswith(SAFETY)

    assert warned.examples == [PIZZA]
    declined = tap(bot, warned.data("🚫 Off-topic"))
    assert declined.text.startswith("✅ 1 message(s) labelled off-topic.")
    assert say(bot, LATER, PIZZA).startswith(DECLINE)

    # A best-guess button labels with that entry; Undo last takes it back, and the group returns.
    assert declined.examples == [MUSIC]
    guess_label, data = next((label, data) for label, data in declined.buttons if label in questions)
    guess = questions[guess_label]
    guessed = tap(bot, data)
    assert guessed.text.startswith(f"✅ 1 message(s) labelled “{guess}”.")
    assert "Nothing to review. 🎉" in guessed.text
    assert say(bot, LATER, MUSIC).startswith(f"<b>{guess}</b>")
    undone = tap(bot, guessed.data("↩️ Undo last"))
    assert undone.text.startswith("↩️ Undid the last decision (1 message(s)).")
    assert undone.examples == [MUSIC]
    assert say(bot, LATER, MUSIC).startswith(DECLINE)
    again = tap(bot, undone.data(guess_label))
    assert "Nothing to review. 🎉" in again.text

    # Stored anonymously and masked: no user id, no name, no phone number or e-mail address.
    stored = read_db(bot, "SELECT text, label FROM review_labels ORDER BY id")
    assert len(stored) == 8
    dump = repr(stored)
    for private in (SECRET_NAME, SECRET_USERNAME, *map(str, ASKERS), "900123", "ann.lee", "12345"):
        assert private not in dump

    bot.restart()
    assert say(bot, AFTER_RESTART, SHOWER[1]).startswith(f"<b>{FIRST_SESSION}</b>")
    assert say(bot, AFTER_RESTART, MUSIC).startswith(f"<b>{guess}</b>")
    assert say(bot, AFTER_RESTART, PIZZA).startswith(DECLINE)
    assert say(bot, AFTER_RESTART, FEET).startswith(SAFETY)
    assert say(bot, AFTER_RESTART, PARKING).startswith(DECLINE)
    assert "Nothing to review. 🎉" in command(bot, "/review").text


# --- safety ------------------------------------------------------------------------------------------------


def test_relabelling_a_message_the_safety_layer_catches_is_refused(bot: Bot) -> None:
    """A warning sign rated 👎 reaches the queue, but only "Warning sign" may label it: anything else is refused."""
    assert ask_logged(bot, ASKERS[0], RED_FLAG).startswith(SAFETY)
    # The user browses to the warning-sign answer and rates it 👎, which puts their question in the queue.
    say(bot, ASKERS[0], "/topics")
    safety_topic = tap(bot, "t:safety", ASKERS[0])
    answer = tap(bot, safety_topic.data("When should I see a doctor"), ASKERS[0])
    assert tap(bot, answer.data("👎"), ASKERS[0]).notice == "Thanks for telling me."

    queue = command(bot, "/review")
    assert queue.examples == [RED_FLAG]
    refused = tap(bot, queue.data("🚫 Off-topic"))
    assert refused.notice == "Refused"
    assert refused.text.startswith(f"❌ Refused: “{RED_FLAG}” names a warning sign (")
    assert "cannot be labelled as anything but a warning sign" in refused.text
    practical = tap(bot, tap(bot, queue.data("📚 Other entry…")).data("Practical questions"))
    assert tap(bot, practical.data("Is massage expensive?")).notice == "Refused"
    assert read_db(bot, "SELECT count(*) FROM review_labels") == [(0,)]
    assert say(bot, LATER, RED_FLAG).startswith(SAFETY)

    warned = tap(bot, command(bot, "/review").data("⚠️ Warning sign"))
    assert warned.notice == "Labelled"
    assert say(bot, LATER, RED_FLAG).startswith(SAFETY)


def test_a_message_whose_sign_the_learned_layer_overruled_still_cannot_be_labelled_harmless(bot: Bot) -> None:
    """'I'm expecting a parcel today…' gets the first-session answer led by a line about pregnancy; rated 👎 it
    reaches the queue, and a label other than "Warning sign" is refused: the rules still read a sign in it."""
    parcel = "I'm expecting a parcel today, what should I wear to my first massage?"
    reply = ask_logged(bot, ASKERS[0], parcel)
    assert reply.startswith("⚠️ Some of your words can point to <b>pregnancy</b>")
    sent = [c for c in bot.tg.calls if c.chat_id == ASKERS[0] and c.method == "sendMessage" and c.ok]
    answer = _screen(sent[-1])
    assert tap(bot, answer.data("👎"), ASKERS[0]).notice == "Thanks for telling me."

    queue = command(bot, "/review")
    assert queue.examples == [parcel]
    refused = tap(bot, queue.data("🚫 Off-topic"))
    assert refused.notice == "Refused"
    assert refused.text.startswith(f"❌ Refused: “{parcel}” names a warning sign (pregnancy)")
    assert read_db(bot, "SELECT count(*) FROM review_labels") == [(0,)]


def test_a_label_for_an_entry_removed_by_reload_is_reported_and_ignored(bot: Bot) -> None:
    """After /reload drops a labelled entry, the admin is told, the label is ignored, and nothing crashes."""
    faq_path = Path(bot.env["FAQ_PATH"])
    original = faq_path.read_text(encoding="utf-8")
    assert ask_logged(bot, ASKERS[0], SHOWER[0]).startswith(DECLINE)
    assert ask_logged(bot, ASKERS[0], MUSIC).startswith(DECLINE)
    queue = command(bot, "/review")
    assert queue.examples == [MUSIC]
    practical = tap(bot, tap(bot, queue.data("📚 Other entry…")).data("Practical questions"))
    stale_button = practical.data("Is massage expensive?")
    assert tap(bot, stale_button).notice == "Labelled"
    shower = command(bot, "/review")
    assert shower.examples == [SHOWER[0]]
    practical = tap(bot, tap(bot, shower.data("📚 Other entry…")).data("Practical questions"))
    assert tap(bot, practical.data("Is massage expensive?")).notice == "Labelled"
    assert say(bot, LATER, MUSIC).startswith("<b>Is massage expensive?</b>")

    # The owner renames the entry: its id where the FAQ names it, and the examples file's labels beside it.
    examples_path = faq_path.with_name("examples.yaml")
    examples = examples_path.read_text(encoding="utf-8")
    renamed = re.sub(r"(id: |related: \[.*)\bcost\b", r"\1price", original)
    assert renamed != original
    faq_path.write_text(renamed, encoding="utf-8")
    examples_path.write_text(examples.replace("label: cost\n", "label: price\n"), encoding="utf-8")
    reloaded = command(bot, "/reload").text
    assert reloaded.startswith("✅ Reloaded:")
    assert "⚠️ 2 reviewed example(s) point at entries the FAQ no longer has (cost)" in reloaded
    assert say(bot, LATER, MUSIC).startswith(DECLINE)  # ignored, not an error
    assert tap(bot, stale_button).notice == "That button is out of date. Send /topics to start again."
    assert "Nothing to review. 🎉" in command(bot, "/review").text

    bot.restart()  # a start with labels for a missing entry starts, and reports them in the log
    assert "2 review labels name entries the FAQ no longer has" in bot.process.wait_for_log("ignored")
    assert say(bot, LATER, MUSIC).startswith(DECLINE)

    faq_path.write_text(original, encoding="utf-8")
    examples_path.write_text(examples, encoding="utf-8")
    assert "⚠️" not in command(bot, "/reload").text
    assert say(bot, LATER, MUSIC).startswith("<b>Is massage expensive?</b>")  # back with its entry


# --- privacy -----------------------------------------------------------------------------------------------


def test_forget_removes_the_users_messages_from_the_queue(bot: Bot) -> None:
    """After /forget, nothing the user asked is in the review queue; other users' questions stay."""
    assert ask_logged(bot, ASKERS[0], PIZZA).startswith(DECLINE)
    assert ask_logged(bot, ASKERS[1], MUSIC).startswith(DECLINE)
    assert command(bot, "/review").text.startswith("🗂 <b>Review queue</b>: 2 group(s), 2 message(s)")
    bot.tg.push_message(ASKERS[1], "/forget")
    forget = bot.tg.wait_for_message(ASKERS[1], timeout=20)
    yes = next(str(b["callback_data"]) for b in forget.inline_buttons if str(b["text"]).startswith("🗑"))
    assert tap(bot, yes, ASKERS[1]).notice == "Deleted"
    queue = command(bot, "/review")
    assert queue.text.startswith("🗂 <b>Review queue</b>: 1 group(s), 1 message(s)")
    assert queue.examples == [PIZZA]


def test_retention_purges_the_queue(tmp_path: Path) -> None:
    """Questions older than RETENTION_DAYS leave the review queue when the retention purge runs at start."""
    database = tmp_path / "bot.sqlite3"
    now = datetime.now(UTC)

    async def seed() -> None:
        store = await Store.open(database)
        try:
            await store.log_question(ASKERS[0], PIZZA, None, "none", 0.0, now - timedelta(days=40))
            await store.log_question(ASKERS[1], MUSIC, None, "none", 0.0, now - timedelta(days=1))
        finally:
            await store.close()

    asyncio.run(seed())
    env = {"ADMIN_IDS": str(ADMIN), "DATABASE_PATH": str(database), "RETENTION_DAYS": "30"}
    with FakeTelegram() as tg, BotProcess(tg, tmp_path, env=env) as process:
        process.wait_for_log("retention: purged 1 question texts older than 30 days")
        bot = Bot(tg, tmp_path, env, process)
        queue = command(bot, "/review")
        assert queue.text.startswith("🗂 <b>Review queue</b>: 1 group(s), 1 message(s)")
        assert queue.examples == [MUSIC]
        assert tg.violations == []


# --- new-entry suggestions ---------------------------------------------------------------------------------

DOG = (
    "can i bring my dog to the session",
    "can I bring my dog to the session?",
    "can i bring my dog along to the session",
)


def test_questions_the_faq_does_not_cover_are_in_stats_and_the_report(bot: Bot) -> None:
    """A group labelled "No entry fits", and declined questions nobody labelled, show in /stats and --report."""
    for n, text in enumerate(DOG):
        assert ask_logged(bot, ASKERS[n], text).startswith(DECLINE)
    assert ask_logged(bot, ASKERS[3], MUSIC).startswith(DECLINE)
    assert ask_logged(bot, ASKERS[3], PIZZA).startswith(DECLINE)

    queue = command(bot, "/review")
    assert "asked 3 time(s)" in queue.text
    new = tap(bot, tap(bot, queue.data("📚 Other entry…")).data("✍️ No entry fits"))
    assert new.text.startswith("✅ 3 message(s) labelled not covered by the FAQ (see /stats).")
    assert new.examples == [PIZZA]
    tap(bot, new.data("🚫 Off-topic"))  # labelled: no longer "unanswered"
    assert ask_logged(bot, LATER, DOG[0]).startswith(DECLINE)  # "no entry fits" teaches nothing: still declined

    section = (
        "Questions the FAQ does not cover (no entry fits, or still unanswered)\n"
        "  count  examples\n"
        "      4  no entry fits: can I bring my dog to the session?\n"  # asked once more since
        "                        can i bring my dog along to the session\n"
        "      1  unanswered: do they play music during the session\n"
        "\n"
    )
    stats = command(bot, "/stats").text
    bot.tg.wait_for_message(ADMIN, timeout=30)  # the chart
    assert section in stats, stats
    assert bot.process.stop() == 0
    done = subprocess.run(
        [sys.executable, str(RUN_BOT), "--report"],
        capture_output=True,
        text=True,
        env=clean_env({"DATABASE_PATH": str(bot.database), "FAQ_PATH": bot.env["FAQ_PATH"]}),
        cwd=bot.workdir,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert section in done.stdout
