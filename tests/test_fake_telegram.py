"""Tests of the loopback Bot API fake, driven by PTB's real HTTP client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import http.client
import json
import math
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import (
    Bot,
    BotCommand,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest, EndPointNotFound, Forbidden, RetryAfter

from tests.fake_telegram import DEFAULT_BOT_USERNAME, EntityParseError, FakeTelegram, parse_html

TOKEN = "123456:TEST-token"
CHAT = 4242


pytestmark = pytest.mark.usefixtures("loopback_env")


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=tg.base_url) as client:
        yield client


def post_raw(tg: FakeTelegram, method: str, body: bytes = b"", query: str = "") -> tuple[int, dict[str, Any]]:
    """POST to the fake without PTB; returns (HTTP status, decoded JSON body)."""
    connection = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=40)
    try:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        connection.request("POST", f"/bot{TOKEN}/{method}{query}", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"button {d[:10]}", callback_data=d) for d in data]])


def article(result_id: str, text: str = "answer", parse_mode: str | None = None) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(result_id, "title", InputTextMessageContent(text, parse_mode=parse_mode))


# --------------------------------------------------------------------------------------------- basics


async def test_get_me_returns_configured_username(bot: Bot, tg: FakeTelegram) -> None:
    """getMe answers with the configured bot username, which PTB needs for /cmd@botname."""
    assert bot.username == DEFAULT_BOT_USERNAME
    assert bot.id == tg.bot_id
    assert [call.method for call in tg.calls] == ["getMe"]
    assert tg.calls[0].token == TOKEN


async def test_custom_username_is_served() -> None:
    """A FakeTelegram built with another username reports that one."""
    with FakeTelegram(bot_username="other_bot") as fake:
        async with Bot(TOKEN, base_url=fake.base_url) as client:
            assert client.username == "other_bot"


async def test_send_message_is_recorded_and_returns_a_message(bot: Bot, tg: FakeTelegram) -> None:
    """sendMessage is recorded with decoded params and answers a Message PTB can parse."""
    first = await bot.send_message(CHAT, "<b>Hello</b> &amp; welcome", parse_mode="HTML", reply_markup=keyboard("a"))
    second = await bot.send_message(CHAT, "again", disable_notification=True)

    assert (first.message_id, second.message_id) == (1, 2)
    assert first.text == "Hello & welcome"
    assert first.entities[0].type == "bold"
    assert first.chat.id == CHAT
    assert first.chat.type == "private"
    assert first.from_user is not None
    assert first.from_user.username == DEFAULT_BOT_USERNAME
    assert first.reply_markup == keyboard("a")

    sent = tg.sent_messages(CHAT)
    assert [call.text for call in sent] == ["<b>Hello</b> &amp; welcome", "again"]
    assert sent[0].params["chat_id"] == CHAT
    assert sent[0].inline_buttons == [{"text": "button a", "callback_data": "a"}]
    assert sent[1].params["disable_notification"] is True
    assert tg.violations == []


async def test_message_ids_are_counted_per_chat(bot: Bot) -> None:
    """Each chat has its own message_id sequence, like Telegram."""
    ids = [(await bot.send_message(chat, "hi")).message_id for chat in (1, 2, 1)]
    assert ids == [1, 1, 2]


async def test_send_photo_multipart_records_file(bot: Bot, tg: FakeTelegram) -> None:
    """A multipart upload records the file field and size and returns photo sizes."""
    message = await bot.send_photo(CHAT, b"\x89PNG" + bytes(1000), caption="<i>spine</i>", parse_mode="HTML")

    assert message.caption == "spine"
    assert message.photo[-1].file_size == 1004
    call = tg.calls_to("sendPhoto")[0]
    assert call.files["photo"].size == 1004
    assert call.params["photo"].field_name == "photo"
    assert tg.sent_messages(CHAT) == [call]
    assert tg.violations == []


def test_empty_body_and_keep_alive() -> None:
    """Bodyless POSTs work and several requests share one HTTP/1.1 connection."""
    with FakeTelegram() as fake:
        connection = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
        for method in ("getMe", "deleteWebhook", "getMe"):
            connection.request("POST", f"/bot{TOKEN}/{method}")
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Length") is not None
            assert json.loads(response.read())["ok"] is True
        connection.close()
        assert [call.method for call in fake.calls] == ["getMe", "deleteWebhook", "getMe"]


def test_unknown_method_is_404_not_found() -> None:
    """An unknown method gets Telegram's 404 "Not Found" and is a violation."""
    with FakeTelegram() as fake:
        status, body = post_raw(fake, "sendTelepathy")
        assert status == 404
        assert body == {"ok": False, "error_code": 404, "description": "Not Found"}
        assert fake.violations == ["sendTelepathy: unknown method 'sendTelepathy'"]


async def test_unknown_method_through_ptb_raises_endpoint_not_found(bot: Bot, tg: FakeTelegram) -> None:
    """PTB maps the fake's 404 for an unknown method to EndPointNotFound, as it does for real Telegram."""
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy")
    assert len(tg.violations) == 1


# --------------------------------------------------------------------------------------------- long polling


async def test_long_poll_is_held_until_an_update_arrives(bot: Bot, tg: FakeTelegram) -> None:
    """getUpdates waits for a pushed update and returns it early, well before its timeout."""
    timer = threading.Timer(0.3, tg.push_message, args=(CHAT, "/start"))
    timer.start()
    started = time.monotonic()
    updates = await bot.get_updates(timeout=5)
    elapsed = time.monotonic() - started
    timer.join()

    assert 0.25 <= elapsed < 3
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert message.text == "/start"
    assert message.entities[0].type == "bot_command"
    assert message.entities[0].length == len("/start")


async def test_long_poll_times_out_empty(bot: Bot) -> None:
    """Without updates, getUpdates answers an empty list after its timeout."""
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3


async def test_timeout_zero_returns_immediately(bot: Bot) -> None:
    """getUpdates with timeout=0 never waits."""
    started = time.monotonic()
    assert await bot.get_updates(timeout=0) == ()
    assert time.monotonic() - started < 0.5


async def test_offset_confirms_earlier_updates(bot: Bot, tg: FakeTelegram) -> None:
    """An offset drops every update below it; the rest are delivered again until confirmed."""
    ids = [tg.push_message(CHAT, f"question {n}")["update_id"] for n in range(3)]

    first = await bot.get_updates(timeout=0)
    again = await bot.get_updates(timeout=0)
    after_one = await bot.get_updates(offset=ids[0] + 1, timeout=0)
    after_all = await bot.get_updates(offset=ids[-1] + 1, timeout=0)

    assert [u.update_id for u in first] == ids
    assert [u.update_id for u in again] == ids
    assert [u.update_id for u in after_one] == ids[1:]
    assert after_all == ()
    assert tg.pending_updates == 0


async def test_limit_caps_the_batch(bot: Bot, tg: FakeTelegram) -> None:
    """getUpdates hands out at most ``limit`` updates per call."""
    for n in range(5):
        tg.push_message(CHAT, f"q{n}")
    assert len(await bot.get_updates(limit=2, timeout=0)) == 2


async def test_pushed_update_kinds_parse_in_ptb(bot: Bot, tg: FakeTelegram) -> None:
    """Every push_* helper produces an update PTB parses into the right attribute."""
    sent = await bot.send_message(CHAT, "pick one", reply_markup=keyboard("yes"))
    tg.push_message(CHAT, "hello @massage_faq_bot", chat_id=-100, chat_type="group", reply_to_bot=True)
    tg.push_edited_message(CHAT, "hello again @massage_faq_bot", chat_id=-100, chat_type="group")
    tg.push_sticker(CHAT)
    tg.push_photo(CHAT, caption="my back")
    tg.push_voice(CHAT)
    callback_id = tg.push_callback(CHAT, "yes")
    inline_id = tg.push_inline_query(CHAT, "massage")
    tg.push_my_chat_member(CHAT)

    updates = await bot.get_updates(timeout=0)

    group_message, edited, sticker, photo, voice, callback, inline, member = updates
    assert group_message.message is not None
    assert group_message.message.chat.type == "group"
    assert group_message.message.reply_to_message is not None
    assert group_message.message.reply_to_message.from_user is not None
    assert group_message.message.reply_to_message.from_user.id == bot.id
    assert group_message.message.entities[0].type == "mention"
    assert edited.edited_message is not None
    assert edited.edited_message.message_id == group_message.message.message_id
    assert sticker.message is not None
    assert sticker.message.sticker is not None
    assert photo.message is not None
    assert photo.message.photo
    assert photo.message.caption == "my back"
    assert voice.message is not None
    assert voice.message.voice is not None
    assert callback.callback_query is not None
    assert callback.callback_query.id == callback_id
    assert callback.callback_query.data == "yes"
    assert callback.callback_query.message is not None
    assert callback.callback_query.message.message_id == sent.message_id
    assert inline.inline_query is not None
    assert inline.inline_query.id == inline_id
    assert member.my_chat_member is not None
    assert member.my_chat_member.new_chat_member.status == "kicked"


async def test_chat_member_updates_need_allowed_updates(bot: Bot, tg: FakeTelegram) -> None:
    """Like Telegram, chat_member updates are only delivered when allowed_updates asks for them."""
    member = {"status": "member", "user": {"id": CHAT, "is_bot": False, "first_name": "A"}}
    chat_member = {
        "chat": {"id": -100, "type": "group", "title": "g"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "A"},
        "date": 0,
        "old_chat_member": {**member, "status": "left"},
        "new_chat_member": member,
    }
    tg.push_raw({"chat_member": chat_member})
    assert await bot.get_updates(timeout=0) == ()

    tg.push_raw({"chat_member": chat_member})
    updates = await bot.get_updates(timeout=0, allowed_updates=["chat_member"])
    assert [u.chat_member is not None for u in updates] == [True]


async def test_second_poller_ends_the_first_with_conflict(tg: FakeTelegram) -> None:
    """A newer getUpdates terminates a held one with 409, as when two bot instances run."""
    async with Bot(TOKEN, base_url=tg.base_url) as bot:
        statuses: list[int] = []

        thread = threading.Thread(target=lambda: statuses.append(post_raw(tg, "getUpdates", query="?timeout=5")[0]))
        thread.start()
        await tg.async_wait_for_polling()
        await bot.get_updates(timeout=0)
        thread.join(5)
    assert statuses == [409]


def test_stop_releases_held_long_polls() -> None:
    """Stopping the fake answers held getUpdates at once instead of after their timeout."""
    fake = FakeTelegram().start()
    outcomes: list[object] = []

    def poll() -> None:
        try:
            outcomes.append(post_raw(fake, "getUpdates", query="?timeout=30"))
        except (OSError, http.client.HTTPException) as exc:  # the connection may close before the answer
            outcomes.append(exc)

    thread = threading.Thread(target=poll)
    thread.start()
    fake.wait_for_polling()
    started = time.monotonic()
    fake.stop()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 3
    assert len(outcomes) == 1


# --------------------------------------------------------------------------------------------- faults


async def test_429_injection_raises_retry_after(bot: Bot, tg: FakeTelegram) -> None:
    """fail_next(429) makes PTB raise RetryAfter carrying the injected retry_after."""
    tg.fail_next("sendMessage", 429, retry_after=7)

    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT, "hi again")

    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    failed = tg.failed_calls()
    assert [(c.status, c.description) for c in failed] == [(429, "Too Many Requests: retry after 7")]
    assert failed[0].response["parameters"] == {"retry_after": 7}
    assert len(tg.sent_messages(CHAT)) == 1
    assert tg.violations == []


async def test_403_injection_raises_forbidden(bot: Bot, tg: FakeTelegram) -> None:
    """fail_next(403) makes PTB raise Forbidden with Telegram's "bot was blocked" text."""
    tg.fail_next("sendMessage", 403, chat_id=CHAT)

    await bot.send_message(CHAT + 1, "other chat is unaffected")
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")


async def test_500_injection_is_a_network_error(bot: Bot, tg: FakeTelegram) -> None:
    """fail_next(500, count=2) fails exactly two calls with "Internal Server Error"."""
    tg.fail_next("getMe", 500, count=2)
    outcomes = []
    for _ in range(3):
        try:
            await bot.get_me()
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001  # the test records which error PTB raised
            outcomes.append(type(exc).__name__)
    assert outcomes == ["NetworkError", "NetworkError", "ok"]


async def test_blocked_chat_refuses_every_send(bot: Bot, tg: FakeTelegram) -> None:
    """block_chat answers every send to the chat with 403 and counts the attempts."""
    tg.block_chat(CHAT)
    for _ in range(3):
        with pytest.raises(Forbidden):
            await bot.send_message(CHAT, "broadcast")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(CHAT, "typing")
    assert tg.blocked_attempts == {CHAT: 4}
    assert tg.sent_messages() == []


async def test_my_chat_member_kicked_blocks_the_chat(bot: Bot, tg: FakeTelegram) -> None:
    """push_my_chat_member(kicked) also makes later sends to that user fail, as after a real block."""
    tg.push_my_chat_member(CHAT, "kicked")
    with pytest.raises(Forbidden):
        await bot.send_message(CHAT, "still there?")


async def test_delay_slows_answers(bot: Bot, tg: FakeTelegram) -> None:
    """delay(method, s) answers that method s seconds late."""
    tg.delay("sendMessage", 0.3)
    started = time.monotonic()
    await bot.send_message(CHAT, "slow")
    assert time.monotonic() - started >= 0.3


async def test_global_rate_limit_answers_429(bot: Bot, tg: FakeTelegram) -> None:
    """rate_limit(per_second=L) lets about L sends through at once and answers the rest 429."""
    tg.rate_limit(per_second=5)
    refusals: list[RetryAfter] = []
    started = time.monotonic()
    for n in range(12):
        try:
            await bot.send_message(n + 1, "news")
        except RetryAfter as exc:
            refusals.append(exc)
    refilled = math.ceil(5 * (time.monotonic() - started))
    assert 5 <= len(tg.sent_messages()) <= 5 + refilled
    assert tg.rate_limited == len(refusals) == 12 - len(tg.sent_messages())
    assert {exc.retry_after for exc in refusals} == {dtm.timedelta(seconds=1)}


async def test_per_chat_rate_limit(bot: Bot, tg: FakeTelegram) -> None:
    """rate_limit(per_chat_per_second=1) allows one message per chat per second."""
    tg.rate_limit(per_chat_per_second=1)
    await bot.send_message(1, "first")
    await bot.send_message(2, "other chat")
    with pytest.raises(RetryAfter):
        await bot.send_message(1, "too soon")


# --------------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("5 < 6", 'Unsupported start tag ""'),
        ("line<br>break", 'Unsupported start tag "br"'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("Q&A", 'Character "&" must be escaped'),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;"'),
        ('<span class="red">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<a>link</a>", 'Tag "a" must have a non-empty attribute "href"'),
        ("x</b>", "Unexpected end tag"),
        ('<a href="http://x>x</a>', "Unclosed start tag"),
    ],
)
async def test_invalid_html_is_rejected(bot: Bot, tg: FakeTelegram, text: str, error: str) -> None:
    """Markup Telegram would refuse gets "can't parse entities" and is recorded as a violation."""
    with pytest.raises(BadRequest, match="parse entities"):
        await bot.send_message(CHAT, text, parse_mode="HTML")
    assert len(tg.violations) == 1
    assert "Bad Request: can't parse entities: " in tg.violations[0]
    assert error in tg.violations[0]
    assert tg.sent_messages() == []


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><ins>n</ins>", "bsieun"),
        ("<s>s</s><strike>t</strike><del>d</del><tg-spoiler>x</tg-spoiler>", "stdx"),
        ('<span class="tg-spoiler">sp</span> <a href="https://example.com/?a=1&amp;b=2">link</a>', "sp link"),
        ('<pre><code class="language-python">x = 1 &lt; 2</code></pre>', "x = 1 < 2"),
        ("<blockquote expandable>quote</blockquote> <code>&quot;c&quot;</code>", 'quote "c"'),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> &#128578; &#x1F642; a > b', "👍 🙂 🙂 a > b"),
        ("<B>upper case tags</B>", "upper case tags"),
    ],
)
async def test_valid_html_is_accepted(bot: Bot, tg: FakeTelegram, text: str, plain: str) -> None:
    """Every tag and entity Telegram allows passes, and the returned text is the parsed text."""
    message = await bot.send_message(CHAT, text, parse_mode="HTML")
    assert message.text == plain
    assert tg.violations == []


async def test_reply_keyboards_pass_and_are_not_echoed(bot: Bot, tg: FakeTelegram) -> None:
    """Reply keyboards, their removal and ForceReply are valid; Telegram echoes only inline keyboards."""
    sent = await bot.send_message(CHAT, "choose", reply_markup=ReplyKeyboardMarkup([["Yes", "No"]]))
    await bot.send_message(CHAT, "removed", reply_markup=ReplyKeyboardRemove())
    await bot.send_message(CHAT, "why?", reply_markup=ForceReply(input_field_placeholder="because"))
    assert sent.reply_markup is None
    assert tg.calls_to("sendMessage")[0].params["reply_markup"]["keyboard"][0][0] == {"text": "Yes"}
    assert tg.violations == []


async def test_65_byte_callback_data_is_rejected(bot: Bot, tg: FakeTelegram) -> None:
    """callback_data over 64 bytes (UTF-8) gets BUTTON_DATA_INVALID; exactly 64 bytes passes."""
    await bot.send_message(CHAT, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(CHAT, "too long", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest):
        await bot.send_message(CHAT, "multibyte", reply_markup=keyboard("ж" * 33))  # 66 bytes
    assert len(tg.violations) == 2
    assert all("BUTTON_DATA_INVALID" in v for v in tg.violations)


async def test_button_needs_exactly_one_action(bot: Bot, tg: FakeTelegram) -> None:
    """An inline button with both url and callback_data is rejected."""
    markup = {"inline_keyboard": [[{"text": "both", "url": "https://example.com", "callback_data": "x"}]]}
    with pytest.raises(BadRequest):
        await bot.send_message(CHAT, "hi", reply_markup=markup)  # type: ignore[arg-type]
    assert "exactly one" in tg.violations[0]


async def test_4097_character_text_is_rejected(bot: Bot, tg: FakeTelegram) -> None:
    """Text over 4096 characters gets "message is too long"; 4096 passes."""
    await bot.send_message(CHAT, "a" * 4096)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    assert tg.violations == ["sendMessage: Bad Request: message is too long (4097 characters after parsing)"]


async def test_length_is_counted_after_html_parsing(bot: Bot, tg: FakeTelegram) -> None:
    """Markup does not count towards 4096, decoded entities count as one character each."""
    await bot.send_message(CHAT, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(CHAT, "&amp;" * 4097, parse_mode="HTML")
    assert len(tg.violations) == 1


async def test_whitespace_only_text_is_empty(bot: Bot, tg: FakeTelegram) -> None:
    """Text that is empty after parsing gets "message text is empty"."""
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(CHAT, "<b> </b>", parse_mode="HTML")
    assert len(tg.violations) == 1


async def test_unknown_parameter_is_rejected(bot: Bot, tg: FakeTelegram) -> None:
    """A parameter the spec does not define is an error (Telegram would silently ignore it)."""
    with pytest.raises(BadRequest, match=r"(?i)unknown parameter"):
        await bot.send_message(CHAT, "hi", api_kwargs={"reply_to_message_idx": 5})
    assert tg.violations == [
        'sendMessage: Bad Request: unknown parameter "reply_to_message_idx" '
        "(sendMessage has no parameter reply_to_message_idx)"
    ]


async def test_wrong_type_and_missing_required_are_rejected(bot: Bot, tg: FakeTelegram) -> None:
    """A parameter of the wrong JSON type, or a missing required one, is a violation."""
    with pytest.raises(BadRequest, match=r"(?i)must be of type boolean"):
        await bot.send_message(CHAT, "hi", api_kwargs={"protect_content": 3})
    status, body = await asyncio.to_thread(post_raw, tg, "sendChatAction", b"action=typing")
    assert (status, body["description"]) == (400, 'Bad Request: parameter "chat_id" is required')
    assert len(tg.violations) == 2


async def test_answer_callback_text_over_200_is_rejected(bot: Bot, tg: FakeTelegram) -> None:
    """answerCallbackQuery text is limited to 200 characters."""
    callback_id = tg.push_callback(CHAT, "data")
    await bot.answer_callback_query(callback_id, "x" * 200)
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(callback_id, "x" * 201)
    assert tg.violations == [
        "answerCallbackQuery: Bad Request: MESSAGE_TOO_LONG (answerCallbackQuery text has 201 characters)"
    ]


async def test_answer_inline_query_with_51_results_is_rejected(bot: Bot, tg: FakeTelegram) -> None:
    """answerInlineQuery takes at most 50 results."""
    query_id = tg.push_inline_query(CHAT, "back pain")
    await bot.answer_inline_query(query_id, [article(str(n)) for n in range(50)])
    with pytest.raises(BadRequest, match="Results_too_much"):
        await bot.answer_inline_query(query_id, [article(str(n)) for n in range(51)])
    assert len(tg.violations) == 1


@pytest.mark.parametrize(
    ("results", "error"),
    [
        ([article("same"), article("same")], "RESULT_ID_DUPLICATE"),
        ([article("x" * 65)], "RESULT_ID_INVALID"),
        ([article("1", "<b>unclosed", parse_mode="HTML")], "can't parse entities"),
        ([article("1", "a" * 4097)], "message is too long"),
    ],
)
async def test_invalid_inline_results_are_rejected(
    bot: Bot, tg: FakeTelegram, results: list[InlineQueryResultArticle], error: str
) -> None:
    """Inline result ids must be unique and 1-64 bytes, and their message_text valid."""
    query_id = tg.push_inline_query(CHAT, "q")
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(query_id, results)
    assert len(tg.violations) == 1
    assert error in tg.violations[0]


async def test_markdown_v2_reserved_characters_are_rejected(bot: Bot, tg: FakeTelegram) -> None:
    """With MarkdownV2 an unescaped "." is refused, an escaped one passes."""
    message = await bot.send_message(CHAT, r"*Bold* and \. done\!", parse_mode="MarkdownV2")
    assert message.text == "Bold and . done!"
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(CHAT, "Done.", parse_mode="MarkdownV2")
    assert len(tg.violations) == 1


async def test_commands_round_trip_and_validation(bot: Bot, tg: FakeTelegram) -> None:
    """setMyCommands stores what getMyCommands returns; an invalid command name is refused."""
    await bot.set_my_commands([BotCommand("start", "Start"), BotCommand("help", "How to ask")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "help"]
    assert tg.commands[1] == {"command": "help", "description": "How to ask"}
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start-Now", "bad")])
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_edit_flow_and_state_errors(bot: Bot, tg: FakeTelegram) -> None:
    """Edits change the stored message; "not modified" and "not found" are 400s but not violations."""
    sent = await bot.send_message(CHAT, "Question?", reply_markup=keyboard("a", "b"))
    callback_id = tg.push_callback(CHAT, "a")
    await bot.answer_callback_query(callback_id)
    edited = await bot.edit_message_text("Answer", chat_id=CHAT, message_id=sent.message_id)
    assert not isinstance(edited, bool)
    assert edited.edit_date is not None
    stored = tg.message(CHAT, sent.message_id)
    assert stored is not None
    assert stored["text"] == "Answer"
    assert "reply_markup" not in stored
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("Answer", chat_id=CHAT, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="not found"):
        await bot.edit_message_text("Answer", chat_id=CHAT, message_id=999)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("no-such-query")
    assert tg.violations == []
    assert len(tg.failed_calls()) == 3


# --------------------------------------------------------------------------------------------- waiting


async def test_async_wait_for_message_consumes_in_order(bot: Bot, tg: FakeTelegram) -> None:
    """async_wait_for_message returns each message to a chat once, oldest first."""
    await bot.send_message(CHAT, "one")
    await bot.send_message(CHAT, "two")
    first = await tg.async_wait_for_message(CHAT, timeout=1)
    second = await tg.async_wait_for_message(CHAT, timeout=1)
    assert (first.text, second.text) == ("one", "two")
    with pytest.raises(AssertionError, match="new message to chat"):
        await tg.async_wait_for_message(CHAT, timeout=0.1)


def test_wait_for_blocks_until_a_call_arrives_from_another_thread() -> None:
    """wait_for_calls wakes as soon as a matching call is answered."""
    with FakeTelegram() as fake:
        def call_later() -> None:
            time.sleep(0.2)
            post_raw(fake, "getMe")

        thread = threading.Thread(target=call_later)
        thread.start()
        calls = fake.wait_for_calls("getMe", 1, timeout=5)
        thread.join()
        assert calls[0].ok
        assert fake.wait_for(lambda call: call.method == "getMe", timeout=0.1) is calls[0]


def test_wait_timeout_explains_what_happened() -> None:
    """A timed-out wait raises AssertionError naming the wait and dumping recent calls."""
    with FakeTelegram() as fake:
        post_raw(fake, "getMe")
        with pytest.raises(AssertionError) as caught:
            fake.wait_for_message(CHAT, timeout=0.1)
    report = str(caught.value)
    assert "a new message to chat 4242" in report
    assert "getMe [200]" in report


def test_subprocess_env_points_at_the_fake() -> None:
    """subprocess_env carries the base URL and bypasses proxies for loopback."""
    with FakeTelegram() as fake:
        env = fake.subprocess_env({"EXTRA": "1"})
        assert env["TELEGRAM_API_BASE_URL"] == fake.base_url
        assert "127.0.0.1" in env["NO_PROXY"]
        assert env["EXTRA"] == "1"


# --------------------------------------------------------------------------------------------- parser


@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    """html.escape output is always valid Telegram HTML that decodes to the original text."""
    plain, entities = parse_html(html.escape(text))
    assert plain == text
    assert entities == []


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1))
def test_entity_offsets_are_utf16(text: str) -> None:
    """Entity offsets and lengths are counted in UTF-16 code units, as the Bot API specifies."""
    plain, entities = parse_html(f"😀<b>{html.escape(text)}</b>")
    assert plain == "😀" + text
    assert entities == [{"type": "bold", "offset": 2, "length": len(text.encode("utf-16-le")) // 2}]


def test_parse_html_reports_byte_offsets() -> None:
    """Errors name the UTF-8 byte offset, like Telegram's."""
    with pytest.raises(EntityParseError, match="byte offset 3"):
        parse_html("ж <x>")
