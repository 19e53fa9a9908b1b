"""End-to-end: privacy (/mydata, /forget), feedback, question logging and the admin commands (/stats,
/reload) of a real `run_bot.py` against the loopback Bot API fake, checked in its SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.storage import Store
from faq.loader import load_faq
from faq.models import DEFAULT_FAQ_PATH
from tests.botproc import BotProcess
from tests.fake_telegram import Call, FakeTelegram

ADMIN = 729_001
FORGETFUL = 720_417_733  # an id that no other value in the database can equal by accident
BYSTANDER = 720_417_734  # stored next to FORGETFUL; must survive FORGETFUL's /forget
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SEEDED_AT = datetime(2026, 1, 1, 8, tzinfo=UTC)
REPORT_DAYS = 14  # the window /stats reports on (Store.report's default)
ANSWERED = "does massage help back pain"  # the back-pain-benefits entry, word for word
UNANSWERABLE = "what is the capital of france"
_next_user = iter(range(720_001, 720_400))


@dataclass
class Module:
    """The module's fake, bot and files."""

    tg: FakeTelegram
    bot: BotProcess
    database: Path
    faq_path: Path


@pytest.fixture(scope="module")
def module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Module]:
    """One bot for the module, with a copy of the real FAQ it can reload and a database seeded with deliveries."""
    workdir = tmp_path_factory.mktemp("admin-privacy")
    faq_path = workdir / "faq.yaml"
    shutil.copyfile(DEFAULT_FAQ_PATH, faq_path)
    database = workdir / "bot.sqlite3"
    asyncio.run(_seed(database))
    env = {"DATABASE_PATH": str(database), "FAQ_PATH": str(faq_path), "ADMIN_IDS": f"{ADMIN}, 729002"}
    with FakeTelegram() as tg, BotProcess(tg, workdir, env=env) as bot:
        yield Module(tg, bot, database, faq_path)


async def _seed(database: Path) -> None:
    """Give FORGETFUL and BYSTANDER a past daily tip, which the bot could only send at a real minute."""
    store = await Store.open(database)
    try:
        for user_id in (FORGETFUL, BYSTANDER):
            await store.subscribe(user_id, user_id, "08:00", "UTC", SEEDED_AT)
            assert await store.record_delivery(user_id, date(2026, 1, 1), "tip-water", SEEDED_AT)
            await store.mark_tip_seen(user_id, "tip-water", SEEDED_AT)
            await store.log_question(user_id, ANSWERED, "back-pain-benefits", "answer", 100.0, SEEDED_AT)
            await store.add_feedback(user_id, "back-pain-benefits", True, SEEDED_AT)
    finally:
        await store.close()


@pytest.fixture
def tg(module: Module) -> FakeTelegram:
    """The fake Bot API the module's bot polls."""
    return module.tg


def read_db(module: Module, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Run one query on the running bot's SQLite file, read-only."""
    with contextlib.closing(sqlite3.connect(f"file:{module.database}?mode=ro", uri=True, timeout=5)) as conn:
        return conn.execute(sql, params).fetchall()


def rows_mentioning(module: Module, value: int) -> dict[str, int]:
    """Count, per table of sqlite_master, the rows with `value` in any column."""
    found: dict[str, int] = {}
    for (table,) in read_db(module, "SELECT name FROM sqlite_master WHERE type = 'table'"):
        name = table
        columns = [row[1] for row in read_db(module, f'PRAGMA table_info("{name}")')]
        where = " OR ".join(f'"{column}" = ?' for column in columns)
        (count,) = read_db(module, f'SELECT count(*) FROM "{name}" WHERE {where}', (value,) * len(columns))[0]  # noqa: S608 names come from sqlite_master
        found[name] = count
    return found


def say(tg: FakeTelegram, user_id: int, text: str, timeout: float = 15.0) -> Call:
    """Send a private message as the user and return the bot's next message to them."""
    tg.push_message(user_id, text)
    return tg.wait_for_message(user_id, timeout=timeout)


def press(tg: FakeTelegram, user_id: int, data: str) -> Call:
    """Press a button on the bot's last message to the user; return the answerCallbackQuery call."""
    query_id = tg.push_callback(user_id, data)
    return tg.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id, timeout=15
    )


def button(call: Call, label_start: str) -> str:
    """The callback data of the button whose label starts with `label_start`."""
    found = [b["callback_data"] for b in call.inline_buttons if str(b["text"]).startswith(label_start)]
    assert len(found) == 1, call.inline_buttons
    return str(found[0])


# --- privacy ------------------------------------------------------------------------------------------


def test_mydata_shows_the_subscription_and_questions(module: Module, tg: FakeTelegram) -> None:
    """/mydata lists the daily-tip time and zone, the question count and the recent questions."""
    user = next(_next_user)
    assert "Done!" in (say(tg, user, "/daily 07:30 Europe/Berlin").text or "")
    say(tg, user, ANSWERED)
    say(tg, user, UNANSWERABLE)
    text = say(tg, user, "/mydata").text or ""
    assert f"User id: <code>{user}</code>" in text
    assert "Daily tip: 07:30 every day, Europe/Berlin time" in text
    assert "Questions asked: 2" in text
    assert "Feedback given: 0" in text
    assert f"• {ANSWERED}" in text
    assert f"• {UNANSWERABLE}" in text
    assert "/forget" in text
    say(tg, user, "/daily off")
    assert "Daily tip: off" in (say(tg, user, "/mydata").text or "")
    assert tg.violations == []


def test_mydata_in_a_group_is_shown_only_in_private(module: Module, tg: FakeTelegram) -> None:
    """A member's /mydata in a group shows the group none of their data and points to a private chat."""
    user, group = next(_next_user), -1_009_000_000_401
    say(tg, user, "/daily 06:10 Europe/Berlin")
    say(tg, user, ANSWERED)
    tg.push_message(user, "/mydata", chat_id=group, chat_type="supergroup")
    shown = tg.wait_for_message(group, timeout=15).text or ""
    assert "private chat" in shown
    assert ANSWERED not in shown
    assert "06:10" not in shown
    assert str(user) not in shown
    assert ANSWERED in (say(tg, user, "/mydata").text or "")
    assert tg.violations == []


def test_forget_deletes_every_row_about_the_user(module: Module, tg: FakeTelegram) -> None:
    """/forget then "Yes" leaves no row with the user's id in any table, and other users' rows untouched."""
    say(tg, FORGETFUL, "/daily 09:15 UTC")
    say(tg, FORGETFUL, UNANSWERABLE)
    answer = say(tg, FORGETFUL, "will a rubdown help me sleep")
    press(tg, FORGETFUL, button(answer, "👍"))
    tip = say(tg, FORGETFUL, "/tip")
    press(tg, FORGETFUL, button(tip, "🔄"))
    tg.wait_for_message(FORGETFUL)  # the other tip
    before = rows_mentioning(module, FORGETFUL)
    bystander_before = rows_mentioning(module, BYSTANDER)
    for table in ("users", "subscriptions", "deliveries", "questions", "feedback", "tips_seen"):
        assert before[table] >= 1, f"nothing about the user in {table}, so the test would prove nothing: {before}"

    prompt = say(tg, FORGETFUL, "/forget")
    assert "Are you sure?" in (prompt.text or "")
    answered = press(tg, FORGETFUL, button(prompt, "🗑"))
    assert answered.params.get("text") == "Deleted"
    edit = tg.wait_for(lambda c: c.method == "editMessageText" and c.chat_id == FORGETFUL)
    assert (edit.text or "").startswith("Done: everything I stored about you is deleted.")

    assert rows_mentioning(module, FORGETFUL) == dict.fromkeys(before, 0)
    assert rows_mentioning(module, BYSTANDER) == bystander_before
    assert tg.violations == []


def test_forget_cancel_keeps_everything(module: Module, tg: FakeTelegram) -> None:
    """/forget then "Cancel" deletes nothing."""
    user = next(_next_user)
    say(tg, user, "/daily 10:00 UTC")
    say(tg, user, ANSWERED)
    prompt = say(tg, user, "/forget")
    before = rows_mentioning(module, user)
    assert press(tg, user, button(prompt, "Cancel")).params.get("text") == "Cancelled"
    edit = tg.wait_for(lambda c: c.method == "editMessageText" and c.chat_id == user)
    assert edit.text == "Nothing was deleted."
    assert rows_mentioning(module, user) == before
    assert before["subscriptions"] == before["questions"] == 1
    assert tg.violations == []


# --- channels and anonymous senders -------------------------------------------------------------------

CHANNEL_A = -1_009_000_000_001
CHANNEL_B = -1_009_000_000_002
CHANNEL_C = -1_009_000_000_003
GROUP_A = -1_009_000_000_101
GROUP_B = -1_009_000_000_102


def post(tg: FakeTelegram, channel: int, text: str) -> str:
    """Post in a channel and return the text of the bot's next message there."""
    tg.push_channel_post(channel, text)
    return tg.wait_for_message(channel, timeout=15).text or ""


def anonymous(tg: FakeTelegram, group: int, text: str) -> str:
    """Send as the group's anonymous admin and return the text of the bot's next message there."""
    tg.push_anonymous_message(group, text)
    return tg.wait_for_message(group, timeout=15).text or ""


def test_two_channels_keep_their_own_data(module: Module, tg: FakeTelegram) -> None:
    """Channel B's /daily leaves channel A's; /mydata in A shows only A's; /forget in A leaves B's data."""
    assert "Done!" in post(tg, CHANNEL_A, "/daily 08:00 UTC")
    assert "Done!" in post(tg, CHANNEL_B, "/daily 21:00 Europe/Berlin")
    post(tg, CHANNEL_A, f"@{tg.bot_username} {ANSWERED}")
    post(tg, CHANNEL_B, f"@{tg.bot_username} {UNANSWERABLE}")
    subscriptions = "SELECT chat_id, local_time FROM subscriptions WHERE chat_id IN (?, ?) AND active ORDER BY chat_id"
    assert read_db(module, subscriptions, (CHANNEL_A, CHANNEL_B)) == [(CHANNEL_B, "21:00"), (CHANNEL_A, "08:00")]

    mine = post(tg, CHANNEL_A, "/mydata")
    assert "Daily tip: 08:00 every day, UTC" in mine
    assert f"• {ANSWERED}" in mine
    assert "Questions asked: 1" in mine
    assert "21:00 every day" not in mine  # (a "Last seen" time may be 21:00 too)
    assert UNANSWERABLE not in mine

    assert "Are you sure?" in post(tg, CHANNEL_A, "/forget")
    assert post(tg, CHANNEL_A, "/forget yes").startswith("Done: everything I stored")
    assert read_db(module, subscriptions, (CHANNEL_A, CHANNEL_B)) == [(CHANNEL_B, "21:00")]
    theirs = post(tg, CHANNEL_B, "/mydata")
    assert "Daily tip: 21:00 every day, Europe/Berlin time" in theirs
    assert f"• {UNANSWERABLE}" in theirs
    assert read_db(module, "SELECT count(*) FROM users WHERE user_id = 0") == [(0,)]
    assert tg.violations == []


def test_anonymous_admins_of_two_groups_keep_their_own_data(module: Module, tg: FakeTelegram) -> None:
    """Anonymous admins all come from one Telegram account, yet each group (and a channel posting in it) keeps its own
    daily tip and /forget."""
    assert "Done!" in anonymous(tg, GROUP_A, "/daily 07:00 UTC")
    assert "Done!" in anonymous(tg, GROUP_B, "/daily 19:00 UTC")
    mine = anonymous(tg, GROUP_A, "/mydata")
    assert "Daily tip: 07:00 every day, UTC" in mine
    assert "19:00 every day" not in mine  # (a "Last seen" time may be 19:00 too)
    assert anonymous(tg, GROUP_B, "/forget yes").startswith("Done: everything I stored")
    assert "Daily tip: 07:00 every day, UTC" in anonymous(tg, GROUP_A, "/mydata")
    kept = read_db(module, "SELECT user_id, chat_id FROM subscriptions WHERE chat_id IN (?, ?)", (GROUP_A, GROUP_B))
    assert kept == [(GROUP_A, GROUP_A)]
    tg.push_anonymous_message(GROUP_A, "/daily 05:00 UTC", sender_chat_id=CHANNEL_C)  # posted as a channel
    assert "Done!" in (tg.wait_for_message(GROUP_A, timeout=15).text or "")
    kept = read_db(module, "SELECT user_id, local_time FROM subscriptions WHERE chat_id = ? ORDER BY 2", (GROUP_A,))
    assert kept == [(CHANNEL_C, "05:00"), (GROUP_A, "07:00")]
    assert tg.violations == []


# --- feedback and question log ------------------------------------------------------------------------


def test_thumbs_up_is_stored(module: Module, tg: FakeTelegram) -> None:
    """👍 on an answer stores helpful=1 for that entry and thanks the user in the button notice."""
    user = next(_next_user)
    answer = say(tg, user, ANSWERED)
    data = button(answer, "👍")
    assert data == "f+:back-pain-benefits"
    assert press(tg, user, data).params.get("text") == "Thanks, glad it helped!"
    assert read_db(module, "SELECT entry_id, helpful FROM feedback WHERE user_id = ?", (user,)) == [
        ("back-pain-benefits", 1)
    ]
    assert tg.sent_messages(user) == [answer]  # a 👍 sends no new message
    assert tg.violations == []


def test_thumbs_down_is_stored_and_offers_the_topics(module: Module, tg: FakeTelegram) -> None:
    """👎 stores helpful=0 for that entry and sends a message offering every topic as a button."""
    user = next(_next_user)
    answer = say(tg, user, "will a rubdown help me sleep")
    assert press(tg, user, button(answer, "👎")).params.get("text") == "Thanks for telling me."
    offer = tg.wait_for_message(user)
    assert (offer.text or "").startswith("Sorry that didn't help.")
    assert [b["callback_data"] for b in offer.inline_buttons] == [
        "t:basics",
        "t:benefits",
        "t:practical",
        "t:self-care",
        "t:safety",
        "t:bot",
    ]
    assert read_db(module, "SELECT entry_id, helpful FROM feedback WHERE user_id = ?", (user,)) == [("sleep", 0)]
    assert tg.violations == []


def test_unanswered_question_is_logged_with_tier_none(module: Module, tg: FakeTelegram) -> None:
    """A question the FAQ cannot answer gets the polite decline and is stored with tier none and no entry."""
    user = next(_next_user)
    reply = say(tg, user, UNANSWERABLE)
    assert (reply.text or "").startswith("Sorry, I'm not sure about that one")
    # The log is written just after the answer goes out, so give it a moment.
    logged = tg.wait_until(
        lambda: read_db(module, "SELECT text, tier, entry_id FROM questions WHERE user_id = ?", (user,)) or None,
        what="the question to be logged",
    )
    assert logged == [(UNANSWERABLE, "none", None)]
    assert tg.violations == []


# --- admin commands -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/stats", "/reload", "/STATS", "/reload now"])
def test_non_admin_gets_the_unknown_command_answer(module: Module, tg: FakeTelegram, command: str) -> None:
    """For a non-admin, an admin command gets exactly the reply to /nonsense, and nothing more."""
    user = next(_next_user)
    unknown = say(tg, user, "/nonsense")
    reply = say(tg, user, command)
    assert reply.method == unknown.method == "sendMessage"
    assert reply.params == unknown.params
    assert len(tg.sent_messages(user)) == 2
    assert tg.violations == []


def test_group_admin_command_from_a_non_admin_is_like_any_unknown_command(module: Module, tg: FakeTelegram) -> None:
    """In a group, a non-admin's bare /stats is ignored like /weather, and /stats@bot gets /weather@bot's reply."""
    user, group = next(_next_user), -1_009_000_000_201
    in_group = {"chat_id": group, "chat_type": "supergroup"}
    bare = [tg.push_message(user, command, **in_group)["message"]["message_id"] for command in ("/stats", "/reload")]
    tg.push_message(user, "/weather", **in_group)
    tg.push_message(user, f"/weather@{tg.bot_username}", **in_group)
    unknown = tg.wait_for_message(group, timeout=15)
    tg.push_message(user, f"/stats@{tg.bot_username}", **in_group)
    addressed = tg.wait_for_message(group, timeout=15)
    assert addressed.text == unknown.text
    assert addressed.reply_markup == unknown.reply_markup
    quoted = [call.params.get("reply_parameters", {}).get("message_id") for call in tg.sent_messages(group)]
    assert not set(quoted) & set(bare), "a bare admin command got an answer, so it is told apart from /weather"
    assert len(tg.sent_messages(group)) == 2
    assert tg.violations == []


def press_in_group(tg: FakeTelegram, user: int, message: Call, label_start: str) -> Call:
    """Press, as `user`, a button of the bot's group `message`; return the answerCallbackQuery call."""
    data = button(message, label_start)
    query_id = tg.push_callback(user, data, message.result["message_id"], chat_id=message.chat_id)
    return tg.wait_for(
        lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id, timeout=15
    )


def test_group_daily_time_button_acts_only_for_the_asker(module: Module, tg: FakeTelegram) -> None:
    """In a group, B pressing A's 08:00 is told it is not theirs and subscribes nobody; A's own press subscribes A."""
    asker, other, group = next(_next_user), next(_next_user), -1_009_000_000_302
    tg.push_message(asker, "/daily", chat_id=group, chat_type="supergroup")
    prompt = tg.wait_for_message(group, timeout=15)
    subscribed = "SELECT user_id, chat_id, local_time FROM subscriptions WHERE user_id IN (?, ?) AND active"

    refused = press_in_group(tg, other, prompt, "08:00")
    assert str(refused.params.get("text")).startswith("That button is for the person who asked.")
    assert read_db(module, subscribed, (asker, other)) == []
    assert tg.sent_messages(group) == [prompt]

    assert press_in_group(tg, asker, prompt, "08:00").params.get("text") == "Daily tip at 08:00"
    assert read_db(module, subscribed, (asker, other)) == [(asker, group, "08:00")]
    assert tg.violations == []


def test_group_forget_button_acts_only_for_the_asker(module: Module, tg: FakeTelegram) -> None:
    """In a group, B pressing A's "Yes, delete everything" is told it is not theirs; only A's own press deletes."""
    asker, other, group = next(_next_user), next(_next_user), -1_009_000_000_301
    in_group = {"chat_id": group, "chat_type": "supergroup"}
    for user in (asker, other):
        tg.push_message(user, "/daily 06:45 UTC", **in_group)
        tg.wait_for_message(group, timeout=15)
    tg.push_message(asker, "/forget", **in_group)
    prompt = tg.wait_for_message(group, timeout=15)
    before = {user: rows_mentioning(module, user) for user in (asker, other)}
    assert before[asker]["subscriptions"] == before[other]["subscriptions"] == 1

    refused = press_in_group(tg, other, prompt, "🗑")
    assert str(refused.params.get("text")).startswith("That button is for the person who asked.")
    assert [c for c in tg.calls_to("editMessageText") if c.chat_id == group] == []
    assert {user: rows_mentioning(module, user) for user in (asker, other)} == before

    assert press_in_group(tg, asker, prompt, "🗑").params.get("text") == "Deleted"
    edits = [c for c in tg.calls_to("editMessageText") if c.chat_id == group]
    assert [c.params.get("message_id") for c in edits] == [prompt.result["message_id"]]
    assert (edits[0].text or "").startswith("Done: everything I stored about you is deleted.")
    assert rows_mentioning(module, asker) == dict.fromkeys(before[asker], 0)
    assert rows_mentioning(module, other) == before[other]
    assert tg.violations == []


def test_admin_stats_reports_numbers_and_a_png_chart(module: Module, tg: FakeTelegram) -> None:
    """/stats by an admin sends the users, subscribers and answer rate found in the database, then a PNG."""
    asker = next(_next_user)
    say(tg, asker, ANSWERED)
    say(tg, asker, UNANSWERABLE)
    report = say(tg, ADMIN, "/stats")
    chart = tg.wait_for_message(ADMIN, timeout=30)  # matplotlib's first import is slow

    users = read_db(module, "SELECT count(*) FROM users")[0][0]
    subscribers = read_db(module, "SELECT count(*) FROM subscriptions WHERE active = 1")[0][0]
    window_start = (datetime.now(UTC).date() - timedelta(days=REPORT_DAYS - 1)).isoformat()
    asked, answered = read_db(
        module, "SELECT count(*), sum(tier = 'answer') FROM questions WHERE asked_at >= ?", (window_start,)
    )[0]
    assert asked >= 2
    text = report.text or ""
    assert text.startswith("<pre>Usage report:")
    assert re.search(rf"^Users\s+{users}$", text, re.MULTILINE), text
    assert re.search(rf"^Active subscribers\s+{subscribers}$", text, re.MULTILINE), text
    assert re.search(rf"^Questions\s+{asked}$", text, re.MULTILINE), text
    assert re.search(rf"^Answered\s+{answered}\s+\({100 * answered / asked:.1f}%\)$", text, re.MULTILINE), text

    assert chart.method == "sendPhoto"
    assert chart.files["photo"].data.startswith(PNG_SIGNATURE)
    assert chart.text == "Questions per day and answer rate"
    assert tg.violations == []


def _one_bad_topic(text: str) -> str:
    return text.replace("topic: benefits", "topic: gossip", 1)


def _every_topic_bad(text: str) -> str:
    return re.sub(r"topic: \w+", "topic: gossip", text)


def _yaml_syntax_error(text: str) -> str:
    return text.replace("entries:", "entries: [", 1)


def _empty(text: str) -> str:
    return ""


@pytest.mark.parametrize(
    ("breakage", "error"),
    [
        (_one_bad_topic, "entry 'back-pain-benefits': field 'topic' must be one of"),
        (_every_topic_bad, "entry 'what-is-massage': field 'topic' must be one of"),  # 20 errors in one reply
        (_yaml_syntax_error, "YAML syntax error"),
        (_empty, "top level must be a mapping"),
    ],
    ids=["one-bad-topic", "every-topic-bad", "yaml-syntax", "empty"],
)
def test_admin_reload_of_a_broken_faq_keeps_the_old_one(
    module: Module, tg: FakeTelegram, breakage: Callable[[str], str], error: str
) -> None:
    """/reload of a broken FAQ file shows the admin its errors and the old FAQ keeps answering."""
    original = module.faq_path.read_text(encoding="utf-8")
    user = next(_next_user)
    try:
        module.faq_path.write_text(breakage(original), encoding="utf-8")
        refused = say(tg, ADMIN, "/reload").text or ""
        assert refused.startswith("❌ The FAQ file has errors, so I kept the old one:\n<pre>")
        assert error in refused
        assert str(module.faq_path) in refused
        assert (say(tg, user, ANSWERED).text or "").startswith("<b>Can massage help with back pain?</b>")
    finally:
        module.faq_path.write_text(original, encoding="utf-8")
    assert tg.violations == []


def test_admin_reload_of_a_fixed_faq_uses_it(module: Module, tg: FakeTelegram) -> None:
    """After a refused /reload, fixing the file and sending /reload again says Reloaded and serves the new text."""
    original = module.faq_path.read_text(encoding="utf-8")
    shipped = load_faq(DEFAULT_FAQ_PATH)
    reloaded = f"✅ Reloaded: {len(shipped.entries)} entries, {len(shipped.tips)} tips."
    user = next(_next_user)
    try:
        module.faq_path.write_text(_one_bad_topic(original), encoding="utf-8")
        assert (say(tg, ADMIN, "/reload").text or "").startswith("❌")
        changed = original.replace("It can help many people.", "It can, says the edited file.", 1)
        assert changed != original
        module.faq_path.write_text(changed, encoding="utf-8")
        assert say(tg, ADMIN, "/reload").text == reloaded
        assert "It can, says the edited file." in (say(tg, user, ANSWERED).text or "")
    finally:
        module.faq_path.write_text(original, encoding="utf-8")
    assert say(tg, ADMIN, "/reload").text == reloaded
    assert "It can help many people." in (say(tg, user, ANSWERED).text or "")
    assert tg.violations == []
