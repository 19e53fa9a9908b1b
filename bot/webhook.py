"""The webhook server: Telegram POSTs updates here; the secret is checked before a byte of the body is read.

PTB's built-in webhook server reads the whole body before it looks at the secret header, so anyone can make
the bot buffer any amount of memory. This one is tornado (PTB's own webhook dependency) with a streaming
handler: the secret and the declared length are checked as soon as the headers arrive, a wrong secret gets
403 and a body over MAX_BODY gets 413 before the body is read, and the body is capped while it streams.
A body that is not an update Telegram could have sent is acknowledged (so Telegram does not resend it),
logged once and dropped.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

import tornado.httpserver
import tornado.web
from telegram import Update
from telegram.ext import ExtBot
from tornado.http1connection import HTTP1Connection

from bot.updates import check_update

logger = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Telegram's updates are a few kB; 1 MB is generous
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name, not a secret


@tornado.web.stream_request_body
class _UpdateHandler(tornado.web.RequestHandler):
    """POST /<path>: one update per request."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, secret: str, bot: ExtBot[Any], queue: asyncio.Queue[object]) -> None:
        self._secret = secret.encode()
        self._bot = bot
        self._queue = queue
        self._chunks: list[bytes] = []
        self._size = 0

    def prepare(self) -> None:
        given = self.request.headers.get(SECRET_HEADER, "").encode()
        if not given or not hmac.compare_digest(given, self._secret):
            self._refuse(403, "wrong or missing secret")
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            self._refuse(413, "body over 1 MB")
            return
        if isinstance(self.request.connection, HTTP1Connection):
            self.request.connection.set_max_body_size(MAX_BODY)

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > MAX_BODY:
            self._refuse(413, "body over 1 MB")
            return
        self._chunks.append(chunk)

    async def post(self) -> None:
        try:
            data = json.loads(b"".join(self._chunks))
        except ValueError:
            logger.warning("webhook: dropped a request whose body is not JSON")
            self.set_status(400)
            return
        update, problem = check_update(data)
        if problem is not None or update is None:
            logger.error("webhook: skipping update %s: it cannot be read (%s)", _update_id(data), problem)
            return  # 200: Telegram must not resend it
        parsed = Update.de_json(update, self._bot)
        logger.debug("Received Update %s on the webhook", parsed.update_id)
        await self._queue.put(parsed)

    def _refuse(self, status: int, why: str) -> None:
        logger.warning("webhook: refused a request from %s: %s", self.request.remote_ip, why)
        self.set_status(status)
        self.finish()

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        logger.error("webhook: request failed: %s: %s", getattr(typ, "__name__", typ), value)


def _update_id(data: object) -> object:
    return data.get("update_id") if isinstance(data, dict) else None


class WebhookServer:
    """Serve `path` on `listen:port` and put each genuine update on `queue`."""

    def __init__(self, listen: str, port: int, path: str, secret: str, bot: ExtBot[Any], queue: Any) -> None:
        routes = [(rf"/{path.strip('/')}/?", _UpdateHandler, {"secret": secret, "bot": bot, "queue": queue})]
        app = tornado.web.Application(routes, log_function=lambda handler: None)
        self._server = tornado.httpserver.HTTPServer(app, max_body_size=MAX_BODY, xheaders=True)
        self._listen = listen
        self._port = port

    def start(self) -> None:
        """Bind and start accepting requests (raises OSError if the port is taken)."""
        self._server.listen(self._port, address=self._listen)

    async def stop(self) -> None:
        """Stop accepting and close the open connections."""
        self._server.stop()
        await self._server.close_all_connections()
