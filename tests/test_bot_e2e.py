"""End to end: `python run_bot.py` as a subprocess, polling a FakeTelegram, driven like a user would.

One bot process serves the whole module (LOG_LEVEL=DEBUG, a sentinel token); each test talks from its
own user id or group, so tests do not see each other's messages. Every test ends with no Bot API
contract violation and every button press answered.
"""

from __future__ import annotations

import html
import itertools
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bot.core import COMMANDS, Knowledge
from faq.models import DEFAULT_FAQ_PATH
from tests.botproc import SENTINEL_SECRET, SENTINEL_TOKEN, BotProcess
from tests.fake_telegram import DEFAULT_BOT_USERNAME, Call, FakeTelegram

READER = Knowledge.load(DEFAULT_FAQ_PATH)  # what the bot answers with: both layers and the examples file
FAQ = READER.faq
BOT = DEFAULT_BOT_USERNAME
STALE_NOTICE = "out of date"
APOLOGY = "something went wrong"
TEXT_ONLY = "only read text"

_user_ids = itertools.count(10_001)


# ------------------------------------------------------------------------------------------ helpers


def buttons(call: Call) -> list[str]:
    """The callback data of every inline button of a sent or edited message."""
    return [b["callback_data"] for b in call.inline_buttons]


def labels(call: Call) -> list[str]:
    """The label of every inline button."""
    return [b["text"] for b in call.inline_buttons]


def visible(call: Call) -> str:
    """The text as the user reads it: what Telegram stored after parsing the HTML."""
    result = call.result
    assert isinstance(result, dict), f"{call.method} failed: {call.description}"
    return str(result["text"])


def answer_heading(entry_id: str) -> str:
    """How an answer message starts: the entry's question in bold."""
    return f"<b>{html.escape(FAQ.by_id[entry_id].question, quote=False)}</b>"


class Chat:
    """One user's conversation with the bot, in private or in a group, through the fake."""

    def __init__(self, tg: FakeTelegram, user_id: int, chat_id: int | None = None, chat_type: str = "private") -> None:
        self.tg = tg
        self.user_id = user_id
        self.chat_id = user_id if chat_id is None else chat_id
        self.chat_type = chat_type
        self.pressed: list[str] = []

    def send(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """Push a text message from this user; return the update."""
        kwargs.setdefault("first_name", f"User{self.user_id}")
        if self.chat_type != "private":
            kwargs.update(chat_id=self.chat_id, chat_type=self.chat_type)
        return self.tg.push_message(self.user_id, text, **kwargs)

    def next_message(self, timeout: float = 10.0) -> Call:
        """The next message the bot sends to this chat."""
        return self.tg.wait_for_message(self.chat_id, timeout=timeout)

    def ask(self, text: str, **kwargs: Any) -> Call:
        """Send a message and return the bot's reply."""
        self.send(text, **kwargs)
        return self.next_message()

    def press(self, data: str, message: Call | None = None) -> str:
        """Press a button with `data` on `message` (a sent message); return the callback query id."""
        message_id = message.result["message_id"] if message is not None else None
        query_id = self.tg.push_callback(
            self.user_id, data, message_id, chat_id=self.chat_id if self.chat_type != "private" else None
        )
        self.pressed.append(query_id)
        return query_id

    def answer_to(self, query_id: str, timeout: float = 10.0) -> Call:
        """The answerCallbackQuery call for a press."""
        return self.tg.wait_for(
            lambda c: c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == query_id, timeout
        )

    def edit_of(self, message: Call, since: float, timeout: float = 10.0) -> Call:
        """The first successful edit of `message` made after `since` (time.monotonic())."""
        message_id = message.result["message_id"]
        return self.tg.wait_for(
            lambda c: (
                c.method == "editMessageText"
                and c.ok
                and c.time >= since
                and c.chat_id == self.chat_id
                and c.params.get("message_id") == message_id
            ),
            timeout,
        )

    def press_and_edit(self, data: str, message: Call) -> Call:
        """Press a button on `message` and return the edit it causes."""
        since = time.monotonic()
        self.press(data, message)
        return self.edit_of(message, since)

    def messages(self) -> list[Call]:
        """Every message the bot sent to this chat so far."""
        return self.tg.sent_messages(self.chat_id)


def pick_message(tier: str, candidates: list[str]) -> str | None:
    """The first candidate the matcher puts in `tier`, without a red flag."""
    for text in candidates:
        result = READER.match(text)
        if result.tier == tier and not result.safety_reason:
            return text
    return None


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def tg() -> Iterator[FakeTelegram]:
    """The fake Bot API the module's bot polls."""
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture(scope="module")
def bot(tg: FakeTelegram, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BotProcess]:
    """One bot process for the whole module, at DEBUG so the token check sees every log line."""
    with BotProcess(tg, tmp_path_factory.mktemp("e2e"), log_level="DEBUG") as process:
        yield process


@pytest.fixture(autouse=True)
def no_violations(tg: FakeTelegram) -> Iterator[None]:
    """Fail a test during which the bot broke the Bot API contract."""
    before = len(tg.violations)
    yield
    assert tg.violations[before:] == []


@pytest.fixture
def new_chat(tg: FakeTelegram, bot: BotProcess) -> Iterator[Callable[..., Chat]]:
    """Make chats with fresh user ids; afterwards, check that every button press was answered."""
    made: list[Chat] = []

    def make(chat_type: str = "private") -> Chat:
        user_id = next(_user_ids)
        chat_id = None if chat_type == "private" else -1_002_000_000_000 - user_id
        chat = Chat(tg, user_id, chat_id, chat_type)
        made.append(chat)
        return chat

    yield make
    for chat in made:
        for query_id in chat.pressed:
            chat.answer_to(query_id)


@pytest.fixture
def chat(new_chat: Callable[..., Chat]) -> Chat:
    """A private chat with a user the bot has not seen."""
    return new_chat()


@pytest.fixture
def group(new_chat: Callable[..., Chat]) -> Chat:
    """A supergroup the bot is in, with one talking member."""
    return new_chat("supergroup")


# ------------------------------------------------------------------------------------------ menus and commands


def test_commands_are_registered_at_start(tg: FakeTelegram, bot: BotProcess) -> None:
    """On start the bot registers its command menu with setMyCommands."""
    names = [c["command"] for c in tg.commands]
    assert names == [name for name, _ in COMMANDS]
    assert {"start", "help", "topics", "benefits", "tip", "daily", "about"} <= set(names)
    assert all(c["description"] for c in tg.commands)


def test_start_welcomes_by_name_with_disclaimer_and_menu(chat: Chat) -> None:
    """/start greets the user by name, states the disclaimer and shows the four menu buttons."""
    reply = chat.ask("/start", first_name="Ada")
    text = visible(reply)
    assert "Hi, Ada!" in text
    assert "General information, not medical advice." in text
    assert buttons(reply) == ["b", "m", "tip", "d"]
    assert [label.split(" ", 1)[1] for label in labels(reply)] == ["Benefits", "Topics", "Tip of the day", "Daily tip"]


def test_help_lists_commands_and_example_questions(chat: Chat) -> None:
    """/help explains what to ask, with examples and every command."""
    text = visible(chat.ask("/help"))
    assert "Try asking" in text
    assert "Does massage help with back pain?" in text
    for name, _ in COMMANDS:
        assert f"/{name}" in text


def test_topics_browse_and_back_edit_one_message_in_place(chat: Chat) -> None:
    """Topics → topic → question → back to the topic → back to topics all edit the same message."""
    menu = chat.ask("/topics")
    assert buttons(menu) == [f"t:{t}" for t in FAQ.topics_by_id]
    assert "Pick a topic" in visible(menu)

    topic = chat.press_and_edit("t:benefits", menu)
    benefit_ids = [e.id for e in FAQ.topic_entries("benefits")]
    assert visible(topic).startswith(FAQ.title("benefits"))
    assert buttons(topic) == [f"a:{i}" for i in benefit_ids] + ["m"]
    assert labels(topic)[-1] == "⬅️ Back"

    answer = chat.press_and_edit("a:circulation", menu)
    assert answer.params["text"].startswith(answer_heading("circulation"))
    assert "t:benefits" in buttons(answer)

    back = chat.press_and_edit("t:benefits", menu)
    assert buttons(back) == buttons(topic)

    top = chat.press_and_edit("m", menu)
    assert buttons(top) == [f"t:{t}" for t in FAQ.topics_by_id]
    assert len(chat.messages()) == 1, "browsing sends no new messages"


def test_benefits_buttons_lead_to_answers(chat: Chat) -> None:
    """Every button under /benefits opens that benefit's answer."""
    menu = chat.ask("/benefits")
    entry_buttons = [d for d in buttons(menu) if d.startswith("a:")]
    assert entry_buttons == [f"a:{e.id}" for e in FAQ.topic_entries("benefits")]
    assert buttons(menu)[-1] == "m"
    for data in entry_buttons:
        edit = chat.press_and_edit(data, menu)
        assert edit.params["text"].startswith(answer_heading(data[2:]))


def test_another_tip_gives_a_different_tip(chat: Chat) -> None:
    """/tip shows the tip of the day; "Another tip" twice brings two more, all different."""
    tips = {t.text for t in FAQ.tips}
    day = chat.ask("/tip")
    assert visible(day).startswith("💡 Tip of the day")
    assert buttons(day) == ["tn", "d"]
    bodies = [visible(day).split("\n\n", 1)[1]]
    for _ in range(2):
        chat.press("tn", day)
        another = chat.next_message()
        assert visible(another).startswith("💡 Another tip")
        bodies.append(visible(another).split("\n\n", 1)[1])
    assert set(bodies) <= tips
    assert len(set(bodies)) == 3


def test_about_names_the_source_and_the_disclaimer(chat: Chat) -> None:
    """/about says where answers come from and that the bot is not a doctor."""
    reply = chat.ask("/about")
    assert "come from one short article" in visible(reply)
    assert "not a doctor" in visible(reply)
    assert buttons(reply) == ["m"]


@pytest.mark.parametrize("command", ["/frobnicate", "/stats", "/reload", "/START_NOW"])
def test_unknown_command_points_to_help(chat: Chat, command: str) -> None:
    """An unknown command (and an admin command from a non-admin) gets a pointer to /help."""
    assert "Send /help" in visible(chat.ask(command))


# ------------------------------------------------------------------------------------------ questions


@pytest.mark.parametrize(
    "question", ["does masage help with bak pain", "Will a rubdown help me sleep?", "how do i choose a therapist"]
)
def test_typed_question_gets_answer_tip_related_and_feedback_buttons(chat: Chat, question: str) -> None:
    """A question the FAQ covers gets its answer, the entry's tip, related questions and 👍/👎."""
    result = READER.match(question)
    assert result.tier == "answer"
    assert result.entry_id is not None
    entry = FAQ.by_id[result.entry_id]
    reply = chat.ask(question)
    assert reply.params["text"].startswith(answer_heading(entry.id))
    if entry.tip:
        assert f"Tip: {entry.tip}" in visible(reply)
    related = [f"a:{r}" for r in entry.related[:3]]
    source = [] if entry.is_general_guidance else [f"s:{entry.id}"]
    assert buttons(reply) == [*related, f"f+:{entry.id}", f"f-:{entry.id}", f"t:{entry.topic}", *source]
    assert labels(reply)[len(related) : len(related) + 2] == ["👍 Helpful", "👎 Not helpful"]


def test_thumbs_up_is_acknowledged_without_a_new_message(chat: Chat) -> None:
    """Pressing 👍 answers the button with a thank-you and sends nothing else."""
    reply = chat.ask("can massage help me sleep better")
    up = next(d for d in buttons(reply) if d.startswith("f+:"))
    ack = chat.answer_to(chat.press(up, reply))
    assert "Thanks" in ack.params["text"]
    assert len(chat.messages()) == 1


def test_thumbs_down_is_acknowledged_and_offers_topics(chat: Chat) -> None:
    """Pressing 👎 answers the button and offers the topics to browse instead."""
    reply = chat.ask("can massage help me sleep better")
    down = next(d for d in buttons(reply) if d.startswith("f-:"))
    ack = chat.answer_to(chat.press(down, reply))
    assert "Thanks for telling me" in ack.params["text"]
    offer = chat.next_message()
    assert "other words" in visible(offer)
    assert all(d.startswith("t:") for d in buttons(offer))


SUGGEST_CANDIDATES = [
    "my back is killing me rn would a massage even do anything",
    "massage oil",
    "heart stress",
    "help me",
    "how does it work",
    "does it work",
    "back things",
]


def test_unclear_question_asks_did_you_mean_with_buttons(chat: Chat) -> None:
    """A question between two entries gets "Did you mean…" with a button per candidate, which answers."""
    question = pick_message("suggest", SUGGEST_CANDIDATES)
    assert question is not None, f"the matcher puts none of {SUGGEST_CANDIDATES} in the suggest tier any more"
    result = READER.match(question)
    reply = chat.ask(question)
    assert "Did you mean" in visible(reply)
    suggested = [f"a:{i}" for i in (result.suggestions or (result.entry_id,))]
    assert buttons(reply) == [*suggested, "m"]
    edit = chat.press_and_edit(suggested[0], reply)
    assert edit.params["text"].startswith(answer_heading(suggested[0][2:]))


@pytest.mark.parametrize("question", ["what is the capital of france", "kidney beans recipe"])
def test_out_of_scope_question_is_declined_with_topics_button(chat: Chat, question: str) -> None:
    """A question the FAQ does not cover is declined politely, with a Topics button, not guessed at."""
    assert READER.match(question).tier == "none"
    reply = chat.ask(question)
    assert "rather not guess" in visible(reply)
    assert buttons(reply) == ["m"]


def test_red_flag_puts_see_a_doctor_first(chat: Chat) -> None:
    """Warning signs (numb legs, lost bladder control) get "see a doctor" before anything about massage."""
    reply = chat.ask("numb legs and I lost bladder control, would massage help")
    text = visible(reply)
    assert text.startswith("⚠️ You mentioned")
    assert "doctor" in text.split("\n", 1)[0]
    assert FAQ.by_id["see-a-doctor"].question in text
    assert "m" in buttons(reply)


def test_edited_message_is_answered_as_a_new_question(chat: Chat) -> None:
    """Editing a sent message into a better question gets an answer to the edited text."""
    first = chat.ask("what is the capital of france")
    assert "rather not guess" in visible(first)
    chat.tg.push_edited_message(chat.user_id, "can massage help me sleep better?")
    edited = chat.next_message()
    assert edited.params["text"].startswith(answer_heading("sleep"))


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice"])
def test_non_text_message_asks_for_text(chat: Chat, kind: str) -> None:
    """A sticker, photo or voice note gets a request to send the question as text."""
    push: Callable[[int], object] = getattr(chat.tg, f"push_{kind}")
    push(chat.user_id)
    reply = chat.next_message()
    assert TEXT_ONLY in visible(reply)


# ------------------------------------------------------------------------------------------ inline mode


@pytest.mark.parametrize("query", ["can massage help me sleep", "therapist", "is massage expensive"])
def test_inline_query_offers_ranked_articles(tg: FakeTelegram, bot: BotProcess, query: str) -> None:
    """An inline query gets up to 10 article results, the matcher's answer first."""
    user = next(_user_ids)
    query_id = tg.push_inline_query(user, query)
    call = tg.wait_for(lambda c: c.method == "answerInlineQuery" and c.params["inline_query_id"] == query_id)
    assert call.ok
    results = call.params["results"]
    assert 1 <= len(results) <= 10
    assert {r["type"] for r in results} == {"article"}
    assert len({r["id"] for r in results}) == len(results)
    expected = READER.match(query)
    assert expected.tier == "answer"
    assert results[0]["id"] == expected.entry_id
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert content["message_text"].startswith(answer_heading(results[0]["id"]))


def test_empty_inline_query_offers_popular_topics(tg: FakeTelegram, bot: BotProcess) -> None:
    """An empty inline query lists popular questions (benefits and practical ones)."""
    query_id = tg.push_inline_query(next(_user_ids), "")
    call = tg.wait_for(lambda c: c.method == "answerInlineQuery" and c.params["inline_query_id"] == query_id)
    results = call.params["results"]
    assert 1 <= len(results) <= 10
    popular = {e.id for e in FAQ.entries if FAQ.topics_by_id[e.topic].popular}
    assert {r["id"] for r in results} <= popular


# ------------------------------------------------------------------------------------------ groups


def test_group_chatter_is_ignored_but_a_mention_is_answered(group: Chat) -> None:
    """In a group, plain chatter and stickers get no reply; `@bot question` gets an answer quoting it."""
    group.send("does massage help with back pain")
    group.tg.push_sticker(group.user_id, chat_id=group.chat_id, chat_type="supergroup")
    update = group.send(f"@{BOT} does massage help with back pain")
    reply = group.next_message()
    assert reply.params["text"].startswith(answer_heading("back-pain-benefits"))
    assert reply.params["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert len(group.messages()) == 1, "only the mention was answered"


def test_group_reply_to_the_bot_is_answered(group: Chat) -> None:
    """In a group, replying to the bot's message counts as talking to it."""
    first = group.ask(f"@{BOT} can massage help me sleep")
    assert first.params["text"].startswith(answer_heading("sleep"))
    reply = group.ask("and is it expensive?", reply_to_message_id=first.result["message_id"])
    assert reply.params["text"].startswith(answer_heading("cost"))


def test_small_talk_gets_a_warm_reply_in_private_and_in_groups(chat: Chat, group: Chat) -> None:
    """'lmaooo k thx bye' in private and '@bot thanks so much x' in a group each get the FAQ file's short reply."""
    bye = chat.ask("lmaooo k thx bye")
    thanks = group.ask(f"@{BOT} thanks so much x")

    assert visible(bye).startswith("Take care of your back!")
    assert visible(thanks).startswith("You're welcome!")


def test_group_command_addressed_to_the_bot_is_answered_other_bots_ignored(group: Chat) -> None:
    """`/help@massage_faq_bot` is answered in a group; `/help@otherbot` is left to the other bot."""
    group.send("/help@otherbot")
    reply = group.ask(f"/help@{BOT}")
    assert "What I can do" in visible(reply)
    assert len(group.messages()) == 1, "/help@otherbot got no reply"


def test_group_command_addressed_in_any_case_gets_its_arguments(group: Chat) -> None:
    """`/daily@MASSAGE_FAQ_BOT off` in a group reaches /daily with its argument, whatever the case of the name."""
    assert visible(group.ask(f"/daily@{BOT.upper()} off")).startswith("You had no daily tip, so nothing changed.")


def test_group_unknown_command_is_left_to_other_bots(group: Chat) -> None:
    """In a group, `/weather` without @ is another bot's business; `/weather@massage_faq_bot` gets the pointer."""
    group.send("/weather")
    reply = group.ask(f"/weather@{BOT}")
    assert "/help" in visible(reply)
    assert len(group.messages()) == 1, "/weather got no reply"


def test_bare_mention_in_group_shows_help(group: Chat) -> None:
    """Mentioning the bot with nothing else shows what it can do."""
    assert "What I can do" in visible(group.ask(f"@{BOT}"))


# ------------------------------------------------------------------------------------------ bad input


def test_very_long_message_gets_one_reply_within_limits(chat: Chat) -> None:
    """A 5,000-character message is answered or declined in one message of at most 4,096 characters."""
    text = ("does massage help with back pain? " * 160)[:5000]
    reply = chat.ask(text)
    assert 0 < len(visible(reply)) <= 4096


def test_html_like_question_is_escaped_everywhere(chat: Chat) -> None:
    """Text like `<b>&amp; <script>` never reaches Telegram unescaped, not even in /mydata's echo."""
    question = "<b>&amp; <script>alert(1)</script> massage"  # already lowercase: /mydata lists it as stored
    chat.ask(question)
    mydata = chat.ask("/mydata")
    assert question in visible(mydata), "the user sees their question as typed"
    assert "&lt;b&gt;&amp;amp; &lt;script&gt;" in mydata.params["text"]


def test_html_like_first_name_is_escaped_in_the_greeting(chat: Chat) -> None:
    """A first name with markup is greeted literally, not interpreted as HTML."""
    reply = chat.ask("/start", first_name="<i>Bob</i> & Co")
    assert "Hi, <i>Bob</i> & Co!" in visible(reply)


ODD_UNICODE = [
    "\u200fdoes massage help with back pain?\u200e",  # RTL and LTR marks
    "does\u200b mas\u200csage\u200d help with back\ufeff pain",  # zero-width characters
    "💆‍♀️💆🏽 massage for my back 🙏🏻",  # emoji with ZWJ and skin tones
    "mas\u0301sa\u0308ge he\u0327lp ba\u0323ck pa\u0303in",  # combining marks
    "\u202edoes massage help\u202c",  # bidi override
    "\u0645\u0633\u0627\u062c \u0644\u0644\u0638\u0647\u0631",  # Arabic: "massage for the back"
    "\U0001d40c\U0001d41a\U0001d42c\U0001d42c\U0001d41a\U0001d420\U0001d41e",  # mathematical bold letters
    "\x00\x07 massage \x1b[31m",  # control characters
]


@pytest.mark.parametrize("text", ODD_UNICODE)
def test_odd_unicode_gets_exactly_one_valid_reply(chat: Chat, text: str) -> None:
    """RTL marks, zero-width and control characters, emoji and combining marks get one valid reply."""
    reply = chat.ask(text)
    assert reply.ok
    result = READER.match(text)
    if result.tier == "answer" and result.entry_id and not result.safety_reason:
        assert reply.params["text"].startswith(answer_heading(result.entry_id))
    chat.tg.wait_for_delivery()
    assert len(chat.messages()) == 1


TAMPERED = [
    "a:does-not-exist",
    "zzz",
    "a:",
    "t:nope",
    "d:25:99",
    "f+:../../etc/passwd",
    "A:CIRCULATION",
    "x" * 64,
    "é" * 32,  # 64 bytes
    "a:" + "b" * 70,  # over 64 bytes
    "\x00\xff\ufffd" * 10,
]


@pytest.mark.parametrize("data", TAMPERED)
def test_tampered_button_gets_a_short_notice_and_nothing_else(chat: Chat, data: str) -> None:
    """A press with unknown or tampered data is answered with a short notice; nothing is sent or edited."""
    menu = chat.ask("/topics")
    since = time.monotonic()
    ack = chat.answer_to(chat.press(data, menu))
    assert STALE_NOTICE in ack.params["text"]
    assert len(ack.params["text"]) <= 200
    assert len(chat.messages()) == 1
    assert not [c for c in chat.tg.calls_to("editMessageText") if c.time >= since and c.chat_id == chat.chat_id]
    assert "Pick a topic" in visible(chat.ask("/topics")), "the bot still answers"


# ------------------------------------------------------------------------------------------ robustness


def test_429_on_a_reply_is_retried_and_the_reply_arrives(chat: Chat) -> None:
    """When Telegram says "retry after 1" to a reply, the reply still arrives after the wait."""
    chat.tg.fail_next("sendMessage", 429, retry_after=1, chat_id=chat.chat_id)
    reply = chat.ask("/about")
    assert "About this bot" in visible(reply)
    refused = [c for c in chat.tg.failed_calls() if c.chat_id == chat.chat_id]
    assert [c.status for c in refused] == [429]
    assert reply.time - refused[0].time >= 1.0


def test_500_on_a_reply_is_retried(chat: Chat) -> None:
    """A server error on a reply is retried, and the user gets the answer."""
    chat.tg.fail_next("sendMessage", 500, chat_id=chat.chat_id)
    reply = chat.ask("/about")
    assert "About this bot" in visible(reply)
    assert [c.status for c in chat.tg.failed_calls() if c.chat_id == chat.chat_id] == [500]


def test_403_on_a_reply_is_logged_and_others_still_get_answers(new_chat: Callable[..., Chat], bot: BotProcess) -> None:
    """A user who blocked the bot is logged (with the update id), and other users are still answered."""
    blocker, other = new_chat(), new_chat()
    blocker.tg.fail_next("sendMessage", 403, chat_id=blocker.chat_id)
    update = blocker.send("/about")
    log = bot.wait_for_log(f"update {update['update_id']}: Telegram refused the reply")
    assert "Forbidden" in log
    assert "About this bot" in visible(other.ask("/about"))
    assert blocker.messages() == []


def test_handler_crash_is_logged_and_the_user_gets_an_apology(chat: Chat, bot: BotProcess) -> None:
    """When a reply fails unexpectedly, the error is logged with the update id and the user gets an apology."""
    menu = chat.ask("/topics")
    chat.tg.fail_next("editMessageText", 400, description="Bad Request: message can't be edited", chat_id=chat.chat_id)
    query_id = f"crash-{chat.user_id}"
    update_id = chat.tg.push_raw(
        {
            "callback_query": {
                "id": query_id,
                "from": {"id": chat.user_id, "is_bot": False, "first_name": "Crash"},
                "chat_instance": "1",
                "data": "t:benefits",
                "message": chat.tg.message(chat.chat_id, menu.result["message_id"]),
            }
        }
    )
    chat.pressed.append(query_id)
    apology = chat.next_message()
    assert APOLOGY in visible(apology)
    log = bot.wait_for_log(f"update {update_id}: handler failed")
    assert "message can't be edited" in log.lower()
    assert "Pick a topic" in visible(chat.ask("/topics")), "the bot keeps answering"


def test_token_never_appears_in_the_output(new_chat: Callable[..., Chat], bot: BotProcess) -> None:
    """At LOG_LEVEL=DEBUG, through replies, errors and retries, neither the token nor its secret half is printed."""
    chat = new_chat()
    tg = chat.tg
    tg.fail_next("sendMessage", 400, description="Bad Request: chat not found", chat_id=chat.chat_id)
    chat.send("/help")
    assert APOLOGY in visible(chat.next_message())
    tg.fail_next("sendMessage", 401, chat_id=chat.chat_id)
    chat.send("/about")
    assert APOLOGY in visible(chat.next_message())
    tg.fail_next("answerInlineQuery", 502)
    query_id = tg.push_inline_query(chat.user_id, "sleep")
    tg.wait_for(lambda c: c.method == "answerInlineQuery" and c.params["inline_query_id"] == query_id)
    reply = chat.ask("does massage help with back pain")
    chat.answer_to(chat.press("f+:back-pain-benefits", reply))
    bot.wait_for_log("handler failed")
    log = bot.log_text()
    assert "DEBUG" in log, "the bot really logged at DEBUG"
    assert SENTINEL_TOKEN not in log
    assert SENTINEL_SECRET not in log
    assert SENTINEL_SECRET.lower() not in log.lower()


# ------------------------------------------------------------------------------------------ stopping


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_bot_cleanly_within_5_seconds(tmp_path: Any, signum: signal.Signals) -> None:
    """SIGTERM (systemd, docker stop) and SIGINT (Ctrl+C) each stop the bot within 5 s with exit code 0."""
    with FakeTelegram() as fake, BotProcess(fake, tmp_path) as process:
        fake.push_message(7, "/start")
        assert "Hi" in visible(fake.wait_for_message(7))
        started = time.monotonic()
        try:
            code = process.send_signal(signum, timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the bot did not stop within 5 s of {signum.name}:\n{process.log_text()}")
        assert code == 0, process.log_text()
        assert time.monotonic() - started < 5
        assert "Traceback" not in process.log_text()
        assert fake.violations == []


def test_rejected_token_exits_2_with_a_clear_line_and_never_prints_it(tmp_path: Any) -> None:
    """When Telegram rejects the token (revoked), the bot exits 2 saying so, and the token is not printed."""
    with FakeTelegram() as fake:
        fake.fail_next("getMe", 401, count=10)
        process = BotProcess(fake, tmp_path).start(wait=False)
        try:
            code = process.wait(timeout=30)
        finally:
            process.stop()
    log = process.log_text()
    assert code == 2, log
    assert log.rstrip().splitlines()[-1].startswith("error: Telegram rejected TELEGRAM_BOT_TOKEN")
    assert SENTINEL_TOKEN not in log
    assert SENTINEL_SECRET not in log
