"""Webhook mode end to end: run_bot.py with WEBHOOK_URL registers the hook on the fake and serves it.

Telegram proves a webhook request is genuine with the `X-Telegram-Bot-Api-Secret-Token` header; a request
without it, or with the wrong one, must be refused before the bot acts on it.
"""

from __future__ import annotations

import http.client
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.botproc import SENTINEL_SECRET, SENTINEL_TOKEN, BotProcess, free_port
from tests.fake_telegram import FakeTelegram

SECRET = "s3cret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_ids = itertools.count(1)


@dataclass
class Webhook:
    """A running webhook bot and how to reach it."""

    tg: FakeTelegram
    bot: BotProcess
    port: int

    @property
    def url(self) -> str:
        """The public webhook URL the bot registers."""
        return f"http://127.0.0.1:{self.port}/hook"

    def post(self, update: dict[str, Any], secret: str | None, path: str = "/hook") -> int:
        """POST an update as Telegram would; return the HTTP status."""
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", path, body=json.dumps(update).encode(), headers=headers)
            response = conn.getresponse()
            response.read()
            return response.status
        finally:
            conn.close()


def message_update(user_id: int, text: str) -> dict[str, Any]:
    """A private text message update, as Telegram posts it."""
    n = next(_ids)
    message: dict[str, Any] = {
        "message_id": n,
        "from": {"id": user_id, "is_bot": False, "first_name": "Hook", "username": f"hook{user_id}"},
        "chat": {"id": user_id, "type": "private", "first_name": "Hook"},
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": 500_000 + n, "message": message}


@pytest.fixture(scope="module")
def webhook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webhook]:
    """The bot in webhook mode on a free loopback port, URL path `hook`, secret `s3cret`, at DEBUG."""
    port = free_port()
    env = {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "WEBHOOK_SECRET": SECRET,
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
    }
    with FakeTelegram() as tg, BotProcess(tg, tmp_path_factory.mktemp("webhook"), env=env, log_level="DEBUG") as bot:
        yield Webhook(tg, bot, port)
        assert tg.violations == []


def test_bot_registers_its_webhook_with_the_secret(webhook: Webhook) -> None:
    """At start the bot calls setWebhook with its URL and secret, and never long-polls."""
    (call,) = webhook.tg.calls_to("setWebhook")
    assert call.params["url"] == webhook.url
    assert call.params["secret_token"] == SECRET
    assert "callback_query" in call.params["allowed_updates"]
    assert webhook.tg.calls_to("getUpdates") == []
    assert webhook.tg.commands, "the command menu is registered in webhook mode too"


@pytest.mark.parametrize("secret", [None, "wrong", "S3CRET", ""], ids=["no-header", "wrong", "case", "empty"])
def test_update_without_the_right_secret_is_refused(webhook: Webhook, secret: str | None) -> None:
    """A POST without the secret header, or with a wrong one, gets 403 and the bot does not act on it."""
    user = 900 + next(_ids)
    assert webhook.post(message_update(user, "/start"), secret) == 403
    assert webhook.post(message_update(user, "/about"), SECRET) == 200
    reply = webhook.tg.wait_for_message(user)
    assert "About this bot" in reply.params["text"]
    assert len(webhook.tg.sent_messages(user)) == 1, "the refused /start got no reply"


def test_update_with_the_secret_is_answered(webhook: Webhook) -> None:
    """A POST with the right secret gets 200, and the bot answers through sendMessage."""
    user = 800 + next(_ids)
    assert webhook.post(message_update(user, "can massage help me sleep"), SECRET) == 200
    reply = webhook.tg.wait_for_message(user)
    assert reply.params["text"].startswith("<b>Can massage help me sleep better?</b>")


def test_other_paths_are_not_served(webhook: Webhook) -> None:
    """Only the URL path of WEBHOOK_URL takes updates."""
    assert webhook.post(message_update(700, "/start"), SECRET, path="/other") == 404


def test_webhook_secret_and_token_never_appear_in_the_log(webhook: Webhook) -> None:
    """At DEBUG, the log shows neither the bot token nor the webhook secret."""
    user = 600 + next(_ids)
    assert webhook.post(message_update(user, "/help"), SECRET) == 200
    webhook.tg.wait_for_message(user)
    log = webhook.bot.log_text()
    assert "Received Update" in log, "the bot really logged at DEBUG"
    assert SENTINEL_TOKEN not in log
    assert SENTINEL_SECRET not in log
    assert SECRET not in log


def test_sigterm_stops_the_webhook_bot(webhook: Webhook) -> None:
    """SIGTERM stops the webhook server within 5 s with exit code 0."""
    before = len(webhook.bot.log_text())
    assert webhook.bot.terminate(timeout=5) == 0
    assert "Traceback" not in webhook.bot.log_text()[before:], "the shutdown itself logged no error"
