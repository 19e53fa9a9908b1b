"""The Telegram-free conversation core, with a real SQLite store in tmp_path and the real FAQ.

Every reply is checked the way Telegram would check it: the fake Bot API's HTML parser must accept the
text, it must fit 4,096 characters, and every button's data must fit 64 bytes and decode.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import callbacks
from bot.callbacks import MAX_CALLBACK_BYTES, decode
from bot.core import COMMANDS, Conversation, Knowledge, Reply, Response, Sender, Settings
from bot.render import MAX_MESSAGE_CHARS, esc
from bot.storage import Store
from faq import embedding
from faq.examples import Example, examples_path_for
from faq.models import DEFAULT_FAQ_PATH
from tests.fake_telegram import parse_html

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
USER = Sender(user_id=101, chat_id=101, first_name="Ada")
ADMIN = Sender(user_id=1, chat_id=1, first_name="Op", is_admin=True)
KNOWLEDGE = Knowledge.load(DEFAULT_FAQ_PATH)
FAQ = KNOWLEDGE.faq
UNKNOWN = "I don't know that command"
EXAMPLES_PATH = examples_path_for(DEFAULT_FAQ_PATH)
SLEEP_FAQ = Path(__file__).with_name("data") / "sleep" / "faq.yaml"


@pytest.fixture
def faq_copy(tmp_path: Path) -> Path:
    """A copy of the real FAQ that a test may break or edit, as an operator would."""
    path = tmp_path / "faq.yaml"
    shutil.copyfile(DEFAULT_FAQ_PATH, path)
    return path


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A real SQLite store in tmp_path."""
    opened = await Store.open(tmp_path / "core.sqlite3")
    yield opened
    await opened.close()


@pytest.fixture
def conversation(store: Store, faq_copy: Path, tmp_path: Path) -> Conversation:
    """The core over the real FAQ (reloadable from faq_copy), at a fixed time, with a seeded rng."""
    settings = Settings(default_timezone="Europe/Berlin", faq_path=faq_copy, chart_dir=tmp_path)
    # The shared KNOWLEDGE is never mutated: /reload replaces the conversation's reference to it.
    return Conversation(KNOWLEDGE, store, settings, clock=lambda: NOW, rng=random.Random(7))


def check_reply(reply: Reply) -> str:
    """Assert a reply is what Telegram accepts; return the text the user reads."""
    shown, _ = parse_html(reply.text)
    assert shown.strip()
    assert len(shown) <= MAX_MESSAGE_CHARS
    for row in reply.buttons:
        assert 1 <= len(row) <= 8
        for button in row:
            assert button.label.strip()
            assert 1 <= len(button.data.encode()) <= MAX_CALLBACK_BYTES
            assert decode(button.data, FAQ) is not None, f"button {button.label!r} has undecodable data"
    return shown


def check(response: Response) -> list[str]:
    """Check every reply and the notice of a response; return the texts shown."""
    if response.notice is not None:
        assert 0 < len(response.notice) <= 200
    return [check_reply(reply) for reply in response.replies]


def data_of(reply: Reply) -> list[str]:
    """All callback data of a reply, row by row."""
    return [b.data for row in reply.buttons for b in row]


def rewrite(path: Path, old: str | None, new: str) -> None:
    """Edit the FAQ file as an operator would: replace `old` with `new`, or the whole file when old is None."""
    text = path.read_text(encoding="utf-8")
    assert old is None or old in text
    path.write_text(new if old is None else text.replace(old, new), encoding="utf-8")


def heading(entry_id: str) -> str:
    """How an answer starts: the entry's question in bold."""
    return f"<b>{esc(FAQ.by_id[entry_id].question)}</b>"


# ------------------------------------------------------------------------------------------ tiers


@pytest.mark.parametrize("question", ["does masage help with bak pain", "Will a rubdown help me sleep?", "therapist"])
async def test_answer_tier_shape(conversation: Conversation, question: str) -> None:
    """An answer is one message: the question in bold, the answer, the tip, related, 👍/👎 and a way back."""
    result = KNOWLEDGE.match(question)
    assert result.tier == "answer"
    assert result.entry_id is not None
    entry = FAQ.by_id[result.entry_id]
    (reply,) = (await conversation.on_text(USER, question)).replies
    shown = check_reply(reply)
    assert reply.text.startswith(heading(entry.id))
    assert entry.answer.strip()[:40] in shown
    if entry.tip:
        assert f"💡 Tip: {entry.tip}" in shown
    assert data_of(reply) == [
        *(f"a:{r}" for r in entry.related[:3]),
        f"f+:{entry.id}",
        f"f-:{entry.id}",
        f"t:{entry.topic}",
        *([] if entry.is_general_guidance else [f"s:{entry.id}"]),
    ]


MATERIAL_TEXT = DEFAULT_FAQ_PATH.with_name("material.txt").read_text(encoding="utf-8")
ARTICLE_ENTRIES = [e.id for e in FAQ.entries if not e.is_general_guidance]


@pytest.mark.parametrize("entry_id", [e.id for e in FAQ.entries])
def test_answers_never_talk_about_the_material(entry_id: str) -> None:
    """No answer, tip or menu says "the material": a person in Telegram has no idea what that is."""
    entry = FAQ.by_id[entry_id]
    for text in (entry.answer, entry.tip or ""):
        assert "material" not in text.lower()
    assert not any("material" in tip.text.lower() for tip in FAQ.tips)


@pytest.mark.parametrize("entry_id", ARTICLE_ENTRIES)
async def test_the_source_button_quotes_the_passage_word_for_word(conversation: Conversation, entry_id: str) -> None:
    """Every answer from the article has a 📖 Source button showing, verbatim, the sentence it rests on."""
    (answer,) = (await conversation.on_button(USER, f"a:{entry_id}")).replies
    source = [b for row in answer.buttons for b in row if b.label == "📖 Source"]
    assert [b.data for b in source] == [f"s:{entry_id}"]

    response = await conversation.on_button(USER, f"s:{entry_id}")
    (reply,) = response.replies
    shown = check_reply(reply)
    assert not reply.edit, "the answer stays on screen; the source comes as a message of its own"
    quoted = shown.split("word for word:", 1)[1].strip()
    assert FAQ.by_id[entry_id].source in quoted
    assert quoted in MATERIAL_TEXT
    assert quoted.endswith((".", "!", "?")), "a whole sentence, not a fragment"
    assert quoted[0].isupper()
    assert "article the bot is built on" in shown
    assert "/about" in shown


async def test_general_guidance_answers_have_no_source_button(conversation: Conversation) -> None:
    """Safety and other general-guidance answers are not from the article, so they offer no Source button."""
    for entry in FAQ.entries:
        if entry.is_general_guidance:
            (reply,) = (await conversation.on_button(USER, f"a:{entry.id}")).replies
            assert not any(b.data.startswith("s:") for row in reply.buttons for b in row), entry.id


async def test_about_explains_the_article_and_its_source_buttons(conversation: Conversation) -> None:
    """/about names the article the answers come from, the Source button, and says where evidence is thin."""
    (reply,) = (await conversation.on_command(USER, "about")).replies
    shown = check_reply(reply)
    assert "article" in shown
    assert "📖 Source" in shown
    assert "evidence is thin" in shown
    assert "general guidance" in shown
    assert "not medical advice" in shown


@pytest.mark.parametrize("entry_id", ["waste-products", "heart-health", "circulation", "body-health"])
def test_claims_research_does_not_back_are_the_articles_claim(entry_id: str) -> None:
    """Claims not well established (waste products, heart health) are the article's, with the evidence called thin."""
    answer = FAQ.by_id[entry_id].answer
    assert "The article this bot is built on" in answer
    assert "evidence" in answer
    assert "thin" in answer


def test_the_heal_claim_is_hedged() -> None:
    """'Massage can heal' is the article's claim, set against what research finds (short-term relief)."""
    answer = FAQ.by_id["back-pain-benefits"].answer
    assert "article" in answer
    assert "heal" in answer
    assert "short-term relief" in answer


async def test_a_reloaded_faq_without_its_material_has_no_source_buttons(
    conversation: Conversation, faq_copy: Path
) -> None:
    """An FAQ file with no material.txt beside it still answers, just without Source buttons."""
    assert (await conversation.on_command(ADMIN, "reload")).replies[0].text.startswith("✅")
    (reply,) = (await conversation.on_button(USER, "a:circulation")).replies
    assert not any(b.data.startswith("s:") for row in reply.buttons for b in row)


async def test_reload_refuses_a_source_that_is_not_in_the_material(conversation: Conversation, faq_copy: Path) -> None:
    """With the material beside the FAQ, /reload checks grounding: a made-up source is refused, old FAQ kept."""
    shutil.copyfile(DEFAULT_FAQ_PATH.with_name("material.txt"), faq_copy.with_name("material.txt"))
    rewrite(faq_copy, FAQ.by_id["circulation"].source, "Massage cures every back in one session.")
    (reply,) = (await conversation.on_command(ADMIN, "reload")).replies
    assert "does not occur in the material" in reply.text
    (answer,) = (await conversation.on_button(USER, "a:circulation")).replies
    assert "s:circulation" in data_of(answer)


async def test_general_guidance_answers_carry_the_disclaimer(conversation: Conversation) -> None:
    """Answers resting on general guidance (not the article) say so and repeat the disclaimer."""
    (reply,) = (await conversation.on_button(USER, "a:contraindications")).replies
    assert "General guidance. General information, not medical advice." in check_reply(reply)
    (reply,) = (await conversation.on_button(USER, "a:circulation")).replies
    assert "General guidance" not in check_reply(reply)


GENERAL_GUIDANCE_QUESTIONS = [
    ("Isn't physiotherapy or exercise better than massage?", "vs-physio-exercise"),
    ("Is there any evidence it works?", "evidence"),
    ("What happens at a first session?", "first-session"),
    ("Is it normal to be sore the next day?", "soreness-after"),
    ("Which kind of massage for my back?", "kinds-of-massage"),
    ("Can I massage my own back at home?", "self-massage"),
    ("tips for lifting my toddler without hurting my back", "lifting-posture"),
]


@pytest.mark.parametrize(("question", "entry_id"), GENERAL_GUIDANCE_QUESTIONS)
async def test_everyday_questions_get_a_general_guidance_answer(
    conversation: Conversation, question: str, entry_id: str
) -> None:
    """The questions people with sore backs ask every day get their own answer, marked general guidance, with a
    tip and related questions."""
    entry = FAQ.by_id[entry_id]
    (reply,) = (await conversation.on_text(USER, question)).replies
    shown = check_reply(reply)

    assert shown.startswith(entry.question)
    assert "💡 Tip:" in shown
    assert "General guidance. General information, not medical advice." in shown
    assert [b.data for row in reply.buttons[: len(entry.related)] for b in row] == [f"a:{r}" for r in entry.related]
    assert len(entry.variants) >= 8


def test_the_evidence_and_soreness_answers_are_honest_about_their_limits() -> None:
    """The evidence answer calls the effect modest and short term; soreness says what is normal and when to see
    a doctor; physio and exercise are complementary."""
    evidence = FAQ.by_id["evidence"].answer
    assert "modest" in evidence
    assert "short term" in evidence
    soreness = FAQ.by_id["soreness-after"].answer
    assert "a day or two" in soreness
    assert "see a doctor" in soreness
    assert "work well together" in FAQ.by_id["vs-physio-exercise"].answer


def test_the_new_entries_have_daily_tips() -> None:
    """The daily tips grew with the new entries: evidence, moving, soreness, self-massage and posture."""
    assert {"tip-evidence", "tip-keep-moving", "tip-soreness", "tip-tennis-ball", "tip-next-posture"} <= set(
        FAQ.tips_by_id
    )


async def test_every_benefits_answer_carries_the_warning_sign_check(conversation: Conversation) -> None:
    """Each answer to "will massage help my back" and its neighbours ends with the one-line warning-sign check."""
    reminder = FAQ.safety.reminder
    assert reminder
    for entry in FAQ.topic_entries(FAQ.roles.benefits):
        (reply,) = (await conversation.on_button(USER, f"a:{entry.id}")).replies
        assert reminder in check_reply(reply), entry.id
    (typed,) = (await conversation.on_text(USER, "will massage help my back")).replies
    assert reminder in check_reply(typed)


async def test_suggest_tier_shape(conversation: Conversation) -> None:
    """An unclear question gets "Did you mean…" with one button per candidate and a Topics button."""
    question = next(
        (
            q
            for q in ("my back is killing me rn would a massage even do anything", "massage oil", "back things")
            if KNOWLEDGE.match(q).tier == "suggest"
        ),
        None,
    )
    assert question is not None, "no candidate lands in the suggest tier any more"
    result = KNOWLEDGE.match(question)
    (reply,) = (await conversation.on_text(USER, question)).replies
    assert "Did you mean" in check_reply(reply)
    assert data_of(reply) == [*(f"a:{i}" for i in (result.suggestions or (result.entry_id,))), "m"]


async def test_none_tier_declines_and_names_what_it_knows(conversation: Conversation) -> None:
    """An off-topic question is declined without a guess, listing the topics it does know."""
    (reply,) = (await conversation.on_text(USER, "what is the capital of france")).replies
    shown = check_reply(reply)
    assert "I'd rather not guess" in shown
    assert "benefits for back pain" in shown
    assert data_of(reply) == ["m"]


async def test_red_flag_answer_leads_with_the_warning(conversation: Conversation) -> None:
    """A red flag puts the warning sign and "doctor" first, then the see-a-doctor answer."""
    (reply,) = (await conversation.on_text(USER, "numb legs and I lost bladder control, would massage help")).replies
    shown = check_reply(reply)
    first_line = shown.split("\n", 1)[0]
    assert first_line.startswith("⚠️ You mentioned")
    assert "doctor" in first_line
    assert FAQ.by_id["see-a-doctor"].question in shown
    assert data_of(reply)[-1] == "m"


async def test_a_sign_the_learned_layer_overruled_is_still_named_above_the_answer(conversation: Conversation) -> None:
    """'I'm expecting a parcel today, what should I wear to my first massage?' gets the first-session answer, led
    by a line naming what 'expecting' can point to and telling them to check with a doctor, with a button to the
    safety answer the rules gave (who should avoid massage); inline mode lists that answer second."""
    message = "I'm expecting a parcel today, what should I wear to my first massage?"
    (reply,) = (await conversation.on_text(USER, message)).replies
    shown = check_reply(reply)
    first_line = shown.split("\n", 1)[0]
    assert first_line.startswith("⚠️ Some of your words can point to pregnancy")
    assert "doctor" in first_line
    assert FAQ.by_id["first-session"].question in shown
    assert data_of(reply)[0] == callbacks.encode("answer", "contraindications")
    assert [a.id for a in conversation.inline(message)][:2] == ["first-session", "contraindications"]


async def test_a_first_aid_question_is_declined_and_still_names_the_contraindication(
    conversation: Conversation,
) -> None:
    """'How do you treat sunburn' is no massage question: the decline, led by the line that a burn calls for a
    doctor's word before any massage, with a button to who should avoid massage."""
    (reply,) = (await conversation.on_text(USER, "how do you treat sunburn")).replies
    shown = check_reply(reply)
    first_line = shown.split("\n", 1)[0]
    assert first_line.startswith("⚠️ Some of your words can point to")
    assert "I'd rather not guess" in shown
    assert callbacks.encode("answer", "contraindications") in data_of(reply)


async def test_questions_are_logged_with_their_tier(conversation: Conversation, store: Store) -> None:
    """Each question is stored for the user (for /mydata and the report)."""
    await conversation.on_text(USER, "can massage help me sleep")
    await conversation.on_text(USER, "what is the capital of france")
    await conversation.drain()
    data = await store.user_data(USER.user_id)
    assert data.question_count == 2


# ------------------------------------------------------------------------------------------ every reply


async def test_every_reachable_reply_is_valid_for_telegram(conversation: Conversation) -> None:
    """Every command, and every button reachable from them, yields valid HTML within limits and good buttons."""
    pending: list[str] = []
    for name, _ in COMMANDS:
        for reply in (await conversation.on_command(USER, name)).replies:
            check_reply(reply)
            pending += data_of(reply)
    for question in ("does massage help with back pain", "heart stress", "what is the capital of france"):
        for reply in (await conversation.on_text(USER, question)).replies:
            pending += data_of(reply)
    pressed: set[str] = set()
    while pending:
        data = pending.pop()
        if data in pressed:
            continue
        pressed.add(data)
        response = await conversation.on_button(USER, data)
        check(response)
        assert response.replies or response.notice, f"pressing {data!r} did nothing"
        for reply in response.replies:
            pending += data_of(reply)
    every_answer = {f"a:{e.id}" for e in FAQ.entries}
    assert every_answer <= pressed, "every entry is reachable by buttons"
    assert {f"t:{t}" for t in FAQ.topics_by_id if FAQ.topic_entries(t)} <= pressed


async def test_browsing_buttons_edit_in_place(conversation: Conversation) -> None:
    """Topic lists and answers opened by buttons replace the pressed message instead of piling up."""
    for data in ("m", "t:benefits", "a:circulation"):
        (reply,) = (await conversation.on_button(USER, data)).replies
        assert reply.edit, data
    (reply,) = (await conversation.on_command(USER, "topics")).replies
    assert not reply.edit


@pytest.mark.parametrize("data", [None, "", "zzz", "a:does-not-exist", "t:nope", "x" * 65, "d:07:31"])
async def test_tampered_press_gets_only_a_notice(conversation: Conversation, data: str | None) -> None:
    """A stale or tampered button gets a short notice and no message."""
    response = await conversation.on_button(USER, data)
    assert response.replies == ()
    assert response.notice is not None
    assert "out of date" in response.notice


# ------------------------------------------------------------------------------------------ escaping


async def test_first_name_with_markup_is_escaped(conversation: Conversation) -> None:
    """A user named `<b>Eve</b> & co` is greeted literally."""
    who = Sender(user_id=5, chat_id=5, first_name="<b>Eve</b> & co")
    (reply,) = (await conversation.on_command(who, "start")).replies
    assert "Hi, <b>Eve</b> & co!" in check_reply(reply)


async def test_typed_markup_is_escaped_in_mydata(conversation: Conversation) -> None:
    """What the user typed is echoed in /mydata as text, never as markup."""
    await conversation.on_text(USER, "<script>alert('x')</script> &amp; <b>back</b>")
    (reply,) = (await conversation.on_command(USER, "mydata")).replies
    assert "<script>alert('x')</script> &amp; <b>back</b>" in check_reply(reply)


@pytest.mark.parametrize("args", [["<b>"], ["25:00"], ["08:00", "Mars/<i>Base</i>"], ["&", "&amp;"]])
async def test_daily_usage_errors_are_escaped(conversation: Conversation, args: list[str]) -> None:
    """A bad /daily argument is explained in a valid message, whatever the user typed."""
    (reply,) = (await conversation.on_command(USER, "daily", args)).replies
    check_reply(reply)


async def test_long_question_gets_a_valid_reply(conversation: Conversation) -> None:
    """A 5,000-character question is answered or declined within Telegram's limits."""
    (reply,) = (await conversation.on_text(USER, ("massage for my back? " * 300)[:5000])).replies
    check_reply(reply)


# ------------------------------------------------------------------------------------------ tips, feedback, privacy


async def test_another_tip_walks_every_tip_before_repeating(conversation: Conversation) -> None:
    """Pressing "Another tip" never repeats a tip until all were seen, then says so and starts over."""
    today = conversation.tip_for_today().text
    seen = {today}
    for _ in range(len(FAQ.tips) - 1):
        (reply,) = (await conversation.on_button(USER, "tn")).replies
        shown = check_reply(reply)
        assert shown.startswith("💡 Another tip")
        body = shown.split("\n\n", 1)[1]
        assert body not in seen
        seen.add(body)
    assert seen == {t.text for t in FAQ.tips}
    (reply,) = (await conversation.on_button(USER, "tn")).replies
    assert f"You've seen all {len(FAQ.tips)} tips" in check_reply(reply)


async def test_feedback_is_recorded_and_acknowledged(conversation: Conversation, store: Store) -> None:
    """👍 is acknowledged with a notice only; 👎 also offers the topics; a changed vote replaces the old one."""
    up = await conversation.on_button(USER, "f+:sleep")
    assert up.replies == ()
    assert up.notice == "Thanks, glad it helped!"
    down = await conversation.on_button(USER, "f-:stress")
    (reply,) = down.replies
    assert all(d.startswith("t:") for d in data_of(reply))
    assert (await store.user_data(USER.user_id)).feedback_count == 2
    await conversation.on_button(USER, "f-:sleep")
    assert (await store.user_data(USER.user_id)).feedback_count == 2


async def test_forget_deletes_everything_after_confirmation(conversation: Conversation, store: Store) -> None:
    """/forget asks first; "Yes" deletes the user's data, "Cancel" keeps it."""
    await conversation.on_text(USER, "can massage help me sleep")
    (prompt,) = (await conversation.on_command(USER, "forget")).replies
    assert data_of(prompt) == ["fg:yes:101", "fg:no:101"]
    cancelled = await conversation.on_button(USER, "fg:no:101")
    assert cancelled.notice == "Cancelled"
    assert (await store.user_data(USER.user_id)).question_count == 1
    done = await conversation.on_button(USER, "fg:yes:101")
    assert done.notice == "Deleted"
    assert (await store.user_data(USER.user_id)).question_count == 0


async def test_forget_button_pressed_by_someone_else_deletes_nothing(conversation: Conversation, store: Store) -> None:
    """Another user's press on the asker's "Yes" gets a not-your-button notice and changes nothing of either."""
    other = Sender(user_id=202, chat_id=101, first_name="Bob")
    await conversation.on_text(USER, "can massage help me sleep")
    await conversation.on_text(other, "can massage help me sleep")
    (prompt,) = (await conversation.on_command(USER, "forget")).replies
    refused = await conversation.on_button(other, data_of(prompt)[0])
    assert refused.replies == ()
    assert (refused.notice or "").startswith("That button is for the person who asked.")
    assert (await store.user_data(USER.user_id)).question_count == 1
    assert (await store.user_data(other.user_id)).question_count == 1


async def test_a_chat_confirms_forget_and_sets_its_daily_by_command(conversation: Conversation, store: Store) -> None:
    """A channel gets no buttons any reader could press: /forget and /daily explain the command instead."""
    channel = Sender(user_id=-1_009_000_000_001, chat_id=-1_009_000_000_001, as_chat=True)
    await conversation.on_command(channel, "daily", ["08:00"])
    (prompt,) = (await conversation.on_command(channel, "forget")).replies
    (state,) = (await conversation.on_command(channel, "daily")).replies
    assert prompt.buttons == state.buttons == ()
    assert "/forget yes" in prompt.text
    assert "/daily 07:30 Europe/Berlin" in state.text
    (done,) = (await conversation.on_command(channel, "forget", ["yes"])).replies
    assert done.text.startswith("Done: everything I stored about this chat is deleted.")
    assert await store.get_subscription(channel.user_id) is None


# ------------------------------------------------------------------------------------------ inline


@pytest.mark.parametrize("query", ["can massage help me sleep", "therapist", "is massage expensive", "back"])
def test_inline_results_are_ranked_with_the_answer_first(conversation: Conversation, query: str) -> None:
    """Inline results are at most 10, unique, valid, and start with the matcher's answer."""
    answers = conversation.inline(query)
    assert 1 <= len(answers) <= 10
    assert len({a.id for a in answers}) == len(answers)
    result = KNOWLEDGE.match(query)
    if result.tier == "answer":
        assert answers[0].id == result.entry_id
    for answer in answers:
        shown, _ = parse_html(answer.text)
        assert len(shown) <= MAX_MESSAGE_CHARS
        assert answer.title == FAQ.by_id[answer.id].question


def test_empty_inline_query_lists_popular_questions(conversation: Conversation) -> None:
    """An empty inline query offers benefits and practical questions."""
    answers = conversation.inline("   ")
    assert answers
    assert {FAQ.by_id[a.id].topic for a in answers} <= {"benefits", "practical"}


# ------------------------------------------------------------------------------------------ admin


@pytest.mark.parametrize("command", ["stats", "reload"])
async def test_admin_commands_are_unknown_to_other_users(conversation: Conversation, command: str) -> None:
    """A non-admin's /stats or /reload gets the unknown-command answer, revealing nothing."""
    (reply,) = (await conversation.on_command(USER, command)).replies
    assert UNKNOWN in reply.text


async def test_reload_with_a_broken_faq_keeps_the_old_one(conversation: Conversation, faq_copy: Path) -> None:
    """An admin's /reload of a broken file lists its errors and keeps answering from the old FAQ."""
    rewrite(faq_copy, "  - id: circulation\n", "  - id: Circulation!\n")
    (reply,) = (await conversation.on_command(ADMIN, "reload")).replies
    shown = check_reply(reply)
    assert "The FAQ file has errors, so I kept the old one" in shown
    assert str(faq_copy) in shown
    assert "Circulation!" in shown
    (answer,) = (await conversation.on_button(USER, "a:circulation")).replies
    assert answer.text.startswith(heading("circulation"))

    rewrite(faq_copy, None, "entries: [\n")
    (reply,) = (await conversation.on_command(ADMIN, "reload")).replies
    assert "YAML syntax error" in check_reply(reply)
    assert conversation.faq.by_id.keys() == FAQ.by_id.keys()


async def test_reload_with_a_good_faq_switches_to_it(conversation: Conversation, faq_copy: Path) -> None:
    """An admin's /reload of an edited file answers from the new text at once."""
    rewrite(faq_copy, "Can massage help me sleep better?", "Will massage help me sleep?")
    (reply,) = (await conversation.on_command(ADMIN, "reload")).replies
    assert reply.text == f"✅ Reloaded: {len(FAQ.entries)} entries, {len(FAQ.tips)} tips."
    (answer,) = (await conversation.on_text(USER, "can massage help me sleep")).replies
    assert answer.text.startswith("<b>Will massage help me sleep?</b>")


async def test_reload_retrains_in_a_worker_while_the_old_knowledge_answers(
    conversation: Conversation, faq_copy: Path
) -> None:
    """While /reload waits on a slow examples file, questions get the old answers; then the new labels hold."""
    examples = faq_copy.with_name("examples.yaml")
    os.mkfifo(examples)  # a read that blocks until the test writes: a reload that takes as long as we like
    relabelled = EXAMPLES_PATH.read_text(encoding="utf-8") + "- text: is massage expensive\n  label: off-topic\n"
    once = threading.Lock()

    def feed() -> None:
        if once.acquire(blocking=False):
            examples.write_text(relabelled, encoding="utf-8")

    watchdog = threading.Timer(20, feed)  # unblocks a reload that blocked the event loop, so the test fails
    watchdog.start()
    reload = asyncio.create_task(conversation.on_command(ADMIN, "reload"))
    await asyncio.sleep(0.05)
    (meanwhile,) = (await conversation.on_text(USER, "is massage expensive")).replies
    assert meanwhile.text.startswith(heading("cost"))
    assert not reload.done()
    watchdog.cancel()
    await asyncio.to_thread(feed)
    (reply,) = (await reload).replies
    assert reply.text.startswith("✅ Reloaded")
    assert conversation.knowledge.learned
    (after,) = (await conversation.on_text(USER, "is massage expensive")).replies
    assert "I'd rather not guess" in check_reply(after)


async def test_reload_with_a_broken_examples_file_keeps_the_old_knowledge(
    conversation: Conversation, faq_copy: Path
) -> None:
    """A label naming no entry in the examples file is listed, and the old FAQ and reader stay in use."""
    await conversation.on_text(USER, "is massage expensive")
    before = conversation.knowledge
    faq_copy.with_name("examples.yaml").write_text(
        "version: 1\nexamples:\n- text: what about reflexology\n  label: reflexology\n", encoding="utf-8"
    )
    (reply,) = (await conversation.on_command(ADMIN, "reload")).replies
    shown = check_reply(reply)
    assert "kept the old one" in shown
    assert "'reflexology' is not an entry id" in shown
    assert conversation.knowledge is before


def test_without_the_model_the_bot_answers_lexically_after_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A tokenizer that fails its checksum leaves the lexical matcher answering, with one warning saying why."""
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    monkeypatch.setattr(embedding, "TOKENIZER_PATH", bad)
    with caplog.at_level(logging.WARNING):
        knowledge = Knowledge.load(DEFAULT_FAQ_PATH)
        relabelled = knowledge.with_examples((Example("my spine grumbles", "back-pain-benefits"),))
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "lexical matcher answers alone" in warnings[0]
    assert "sha256" in warnings[0]
    assert not knowledge.learned
    assert knowledge.match("is massage expensive").entry_id == "cost"
    assert relabelled.match("my spine grumbles").entry_id == "back-pain-benefits"


def test_a_warm_start_trains_nothing_and_a_cold_one_logs_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With the cache from an earlier start nothing is embedded; an empty cache logs how far training got."""
    with caplog.at_level(logging.INFO, logger="faq.training"):
        Knowledge.load(DEFAULT_FAQ_PATH)
    assert not [r for r in caplog.records if r.name == "faq.training"]

    small = tmp_path / "faq.yaml"  # a small FAQ, so that a cold build takes a second, not half a minute
    shutil.copyfile(SLEEP_FAQ, small)
    small.with_name("examples.yaml").write_text(
        "version: 1\nexamples:\n- text: what is the capital of peru\n  label: off-topic\n"
        "- text: coffee late at night keeps me awake\n  label: caffeine\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("FAQ_CACHE_DIR", str(tmp_path / "cold"))
    with caplog.at_level(logging.INFO, logger="faq.training"):
        cold = Knowledge.load(small)
    progress = [r.getMessage() for r in caplog.records if r.name == "faq.training"]
    assert cold.learned
    assert progress
    assert progress[-1].startswith("training the learned layer: ")
    assert " texts embedded" in progress[-1]
    assert any((tmp_path / "cold").glob("classifier-*.npz"))


async def test_a_message_in_another_language_is_told_the_bot_reads_english(conversation: Conversation) -> None:
    """A Spanish question gets a short English reply saying the bot understands English only."""
    (reply,) = (await conversation.on_text(USER, "el masaje ayuda con el dolor de espalda por favor")).replies
    assert "I understand English only" in check_reply(reply)


async def test_admin_stats_sends_the_report_and_a_chart(conversation: Conversation, tmp_path: Path) -> None:
    """An admin's /stats shows the usage report as preformatted text and attaches the chart."""
    await conversation.on_text(USER, "can massage help me sleep")
    text_reply, chart_reply = (await conversation.on_command(ADMIN, "stats")).replies
    shown = check_reply(text_reply)
    assert text_reply.text.startswith("<pre>")
    assert "Questions" in shown
    assert chart_reply.photo is not None
    assert chart_reply.photo.parent == tmp_path
    assert chart_reply.photo.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("message", "start"),
    [
        ("hi", "👋 Hi!"),
        ("Hello there!", "👋 Hi!"),
        ("thanks!", "You're welcome!"),
        ("thank you so much", "You're welcome!"),
        ("bye", "Take care of your back!"),
        ("ok cool", "👍 Anything else?"),
    ],
)
async def test_small_talk_gets_a_friendly_reply_not_a_decline(
    conversation: Conversation, store: Store, message: str, start: str
) -> None:
    """Greetings, thanks, goodbyes and acknowledgements get a friendly reply with the menu, and are not logged."""
    (reply,) = (await conversation.on_text(USER, message)).replies

    assert reply.text.startswith(start)
    assert reply.buttons
    await conversation.drain()
    assert (await store.user_data(USER.user_id)).question_count == 0


def small_talk_reply(kind: str) -> str:
    """The reply the shipped FAQ file gives to one kind of small talk."""
    return next(k.reply for k in FAQ.small_talk.kinds if k.kind == kind)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Thank you…", "thanks"),
        ("thanks so much x", "thanks"),
        ("lmaooo k thx bye", "bye"),
        ("Goodbye!", "bye"),
        ("ok", "ok"),
        ("lol", "laugh"),
        ("who are you", "bot"),
        ("are you a bot?", "bot"),
        ("byeee", "bye"),
        ("Thank you so much for your help x", "thanks"),
        ("Thanks, that's helpful!", "thanks"),
        ("cheers, brilliant", "thanks"),
    ],
)
async def test_the_small_talk_people_type_gets_its_reply_from_the_faq_file(
    conversation: Conversation, store: Store, message: str, kind: str
) -> None:
    """Thanks, goodbyes, "ok", "lol" and "are you a bot", as people type them, get the FAQ file's short reply,
    not a decline or a "did you mean", and are not logged as questions."""
    (reply,) = (await conversation.on_text(USER, message)).replies

    assert check_reply(reply) == small_talk_reply(kind)
    await conversation.drain()
    assert (await store.user_data(USER.user_id)).question_count == 0


@pytest.mark.parametrize(
    ("message", "heading"),
    [
        ("thanks, also my legs are numb", "⚠️ You mentioned"),
        ("ok thanks bye, oh and I had a fall yesterday", "⚠️ You mentioned"),
        ("thanks! how much is a massage", f"<b>{FAQ.by_id['cost'].question}</b>"),
        ("ok so who should not get a massage", f"<b>{FAQ.by_id['contraindications'].question}</b>"),
    ],
)
async def test_small_talk_never_swallows_a_question_or_a_warning_sign(
    conversation: Conversation, message: str, heading: str
) -> None:
    """A thank-you or goodbye with a question or a warning sign in it gets the answer (the safety one first)."""
    (reply,) = (await conversation.on_text(USER, message)).replies

    assert heading in reply.text
    assert not [k.reply for k in FAQ.small_talk.kinds if k.reply in reply.text]


async def test_small_talk_is_the_faq_files_to_change(conversation: Conversation, faq_copy: Path) -> None:
    """An operator who rewords a small-talk reply or adds a word in the FAQ file sees it after /reload."""
    rewrite(faq_copy, small_talk_reply("thanks"), "Any time! Mind your back.")
    rewrite(faq_copy, "words: thanks thank thx", "words: danke thanks thank thx")
    assert (await conversation.on_command(ADMIN, "reload")).replies[0].text.startswith("✅")

    (reply,) = (await conversation.on_text(USER, "danke!")).replies
    assert reply.text == "Any time! Mind your back."


async def test_a_greeting_with_a_question_is_answered(conversation: Conversation) -> None:
    """ "hi, can massage help me sleep" is a question, not small talk."""
    (reply,) = (await conversation.on_text(USER, "hi, can massage help me sleep")).replies

    assert reply.text.startswith(f"<b>{FAQ.by_id['sleep'].question}</b>")


async def test_asking_who_should_avoid_massage_is_not_told_it_mentioned_a_warning_sign(
    conversation: Conversation,
) -> None:
    """A general question about who should avoid massage gets that answer, without a "You mentioned…" lead."""
    (reply,) = (await conversation.on_text(USER, "ok so who should not get a massage")).replies

    assert FAQ.by_id[FAQ.roles.contraindications].question in reply.text
    assert "You mentioned" not in reply.text
