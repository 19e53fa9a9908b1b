"""The bot's transport is PTB's own HTTPXRequest: how its timeouts and errors read to the bot.

A timeout after the request went out may still have been delivered (never resent); a timeout waiting for a
free pooled connection means nothing was sent. A refused connection never quotes the token.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.request import HTTPXRequest

from bot.handlers import maybe_delivered
from tests.fake_telegram import FakeTelegram

TOKEN = "123456:HTTP-transport-sentinel-token"
CHAT = 5150

pytestmark = pytest.mark.usefixtures("loopback_env")


async def test_a_send_that_outlives_the_timeout_is_maybe_delivered(tg: FakeTelegram) -> None:
    """A sendMessage slower than the read timeout raises TimedOut, counts as maybe-delivered, and did arrive."""
    tg.delay("sendMessage", 1.0)
    async with Bot(TOKEN, base_url=tg.base_url, request=HTTPXRequest(read_timeout=0.3)) as bot:
        with pytest.raises(TimedOut) as timed_out:
            await bot.send_message(CHAT, "hi")
    assert maybe_delivered(timed_out.value)
    tg.wait_for_message(CHAT)  # Telegram acted on it: resending would duplicate it


async def test_waiting_for_a_pooled_connection_is_not_a_delivery(tg: FakeTelegram) -> None:
    """With the only connection busy, a second call times out in the pool: it was never sent."""
    tg.delay("sendMessage", 1.0)
    request = HTTPXRequest(connection_pool_size=1, pool_timeout=0.2, read_timeout=5.0)
    async with Bot(TOKEN, base_url=tg.base_url, request=request) as bot:
        first = asyncio.create_task(bot.send_message(CHAT, "first"))
        await asyncio.sleep(0.1)
        with pytest.raises(TimedOut) as waited:
            await bot.send_message(CHAT + 1, "second")
        await first
    assert not maybe_delivered(waited.value)
    assert tg.sent_messages(CHAT + 1) == []


async def test_an_unreachable_server_is_a_network_error_without_the_token() -> None:
    """With nothing listening, a call fails as NetworkError and its message does not quote the token."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{port}/bot", request=HTTPXRequest())
    with pytest.raises(NetworkError) as failure:
        await bot.initialize()
    assert not maybe_delivered(failure.value)
    assert TOKEN not in str(failure.value)
    assert TOKEN.partition(":")[2] not in repr(failure.value.__cause__)
