"""Tests for bot.http: PTB's Bot API calls over aiohttp behave as over PTB's default transport."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
from collections.abc import AsyncIterator

import pytest
from telegram import Bot
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot.http import AiohttpRequest
from tests.fake_telegram import FakeTelegram

TOKEN = "123456:HTTP-transport-sentinel-token"
CHAT = 5150


pytestmark = pytest.mark.usefixtures("loopback_env")


def make_bot(tg: FakeTelegram, connections: int = 4, read_timeout: float = 5.0) -> Bot:
    """Return a Bot that talks to the fake through AiohttpRequest."""
    return Bot(
        TOKEN,
        base_url=tg.base_url,
        request=AiohttpRequest(connections, read_timeout=read_timeout),
        get_updates_request=AiohttpRequest(1),
    )


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    async with make_bot(tg) as client:
        yield client


async def test_messages_go_out_and_come_back_parsed(bot: Bot, tg: FakeTelegram) -> None:
    """A sendMessage reaches the fake with its fields, and its answer is parsed into a Message."""
    sent = await bot.send_message(CHAT, "<b>Massage</b> &amp; sleep", parse_mode="HTML")

    assert sent.text == "Massage & sleep"
    assert sent.chat.id == CHAT
    call = tg.sent_messages(CHAT)[-1]
    assert call.params["parse_mode"] == "HTML"
    assert tg.violations == []


async def test_a_photo_is_uploaded_as_multipart(bot: Bot, tg: FakeTelegram) -> None:
    """A file upload (the /stats chart) arrives whole, with its caption."""
    png = b"\x89PNG" + bytes(2000)
    await bot.send_photo(CHAT, png, caption="Usage")

    call = tg.calls_to("sendPhoto")[-1]
    assert call.params["caption"] == "Usage"
    assert any(upload.data == png for upload in call.files.values())
    assert tg.violations == []


async def test_many_concurrent_calls_share_a_small_pool(bot: Bot, tg: FakeTelegram) -> None:
    """Fifty sends at once through four connections are all delivered, none lost or doubled."""
    await asyncio.gather(*(bot.send_message(CHAT + n, f"answer {n}") for n in range(50)))

    assert sorted(call.params["text"] for call in tg.calls_to("sendMessage")) == sorted(
        f"answer {n}" for n in range(50)
    )


async def test_telegram_errors_reach_ptb_as_its_own_exceptions(bot: Bot, tg: FakeTelegram) -> None:
    """A 429 is RetryAfter with its wait, a 403 is Forbidden and a 500 is a NetworkError."""
    tg.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as limited:
        await bot.send_message(CHAT, "hi")
    assert limited.value.retry_after == dt.timedelta(seconds=7)

    tg.fail_next("sendMessage", 403, description="Forbidden: bot was blocked by the user")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(CHAT, "hi")

    tg.fail_next("sendMessage", 500)
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "hi")


async def test_a_slow_answer_times_out(tg: FakeTelegram) -> None:
    """An answer slower than the read timeout raises TimedOut instead of hanging."""
    async with make_bot(tg, read_timeout=0.3) as client:
        tg.delay("sendMessage", 2.0)
        with pytest.raises(TimedOut):
            await client.send_message(CHAT, "hi")


async def test_an_unreachable_server_is_a_network_error_without_the_token(tg: FakeTelegram) -> None:
    """With nothing listening, a call fails as NetworkError and its message does not quote the token."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest(1)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as failure:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()
    assert not isinstance(failure.value, TimedOut)
    assert TOKEN not in str(failure.value)


async def test_calls_before_initialize_are_refused() -> None:
    """Using the transport before PTB initialised it is a clear error, not a hang."""
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest(1).do_request("http://127.0.0.1:9/x", "POST")
