"""Receiving updates safely: a poisoned update is skipped once, and a lost feed is reported, never silent.

PTB parses a getUpdates batch as a whole. One update it cannot parse (say, a message without `date`) fails
the batch, the offset never moves past it, and polling fetches the same batch again in a tight loop while
every later update waits. `UpdatesRequest` is PTB's own HTTPXRequest for the getUpdates connection that
checks each update of a batch first and replaces one that does not parse by its bare `update_id`: PTB then
confirms it like any other, no handler sees it, and it is logged once.

It also watches the answers to getUpdates. A 401/404 (token revoked) means no update will ever arrive again,
and a 409 that persists means another consumer took the feed: either is reported through `on_lost`, so the
process can exit non-zero and the service manager restart it or alert someone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.request import HTTPXRequest

logger = logging.getLogger(__name__)

CONFLICT_GRACE = 5.0  # seconds of nothing but 409s before the feed counts as taken by another consumer


def check_update(data: object) -> tuple[dict[str, Any] | None, str | None]:
    """Return (the update, None) if PTB can parse `data`, else (a bare stand-in or None, the reason)."""
    if not isinstance(data, dict):
        return None, f"not an object ({type(data).__name__})"
    try:
        Update.de_json(data, None)
    except Exception as exc:  # noqa: BLE001 - whatever PTB's parser raises, the update is unusable
        update_id = data.get("update_id")
        stand_in = {"update_id": update_id} if isinstance(update_id, int) else None
        return stand_in, f"{type(exc).__name__}: {exc}"
    return data, None


def sanitize_updates(body: bytes) -> bytes:
    """Return a getUpdates answer with every unparsable update replaced by its bare update_id (logged once)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return body  # PTB reports an unreadable answer itself
    result = payload.get("result") if isinstance(payload, dict) else None
    if not isinstance(result, list):
        return body
    kept: list[dict[str, Any]] = []
    for data in result:
        update, problem = check_update(data)
        if problem is not None:
            logger.error("skipping update %s: it cannot be read (%s)", _update_id(data), problem)
        if update is not None:
            kept.append(update)
    if len(kept) == len(result) and all(a is b for a, b in zip(kept, result, strict=True)):
        return body
    payload["result"] = kept
    return json.dumps(payload).encode()


def _update_id(data: object) -> object:
    return data.get("update_id") if isinstance(data, dict) else None


class UpdatesRequest(HTTPXRequest):
    """PTB's HTTPXRequest for the getUpdates connection: skips poisoned updates and reports a lost feed."""

    def __init__(self, on_lost: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_lost = on_lost
        self._conflict_since: float | None = None

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        """Send the call; check a getUpdates answer before PTB parses it."""
        status, body = await super().do_request(*args, **kwargs)
        url = str(kwargs.get("url", args[0] if args else ""))
        if not url.endswith("/getUpdates"):
            return status, body
        if status == 200:
            self._conflict_since = None
            return status, sanitize_updates(body)
        if status in (401, 404):
            self._on_lost("Telegram rejected the bot token while polling (revoked?); no update can arrive")
        elif status == 409:
            now = time.monotonic()
            self._conflict_since = self._conflict_since or now
            if now - self._conflict_since >= CONFLICT_GRACE:
                self._on_lost("another process is fetching this bot's updates (409 Conflict); stopping")
        return status, body
