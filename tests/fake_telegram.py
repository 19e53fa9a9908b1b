"""A real HTTP fake of the Telegram Bot API on 127.0.0.1, for tests and benchmarks.

    with FakeTelegram() as tg:
        # in-process:  telegram.Bot(token, base_url=tg.base_url)
        # subprocess:  subprocess.Popen([...], env=tg.subprocess_env())  (TELEGRAM_API_BASE_URL, NO_PROXY)
        tg.push_message(42, "/start")
        reply = tg.wait_for_message(42)
        assert tg.violations == []

What it does:
- Serves ``POST /bot<TOKEN>/<method>`` (GET works too) with form-urlencoded, multipart, JSON or empty bodies,
  over HTTP/1.1 keep-alive, from a ThreadingHTTPServer on an ephemeral port.
- Checks every call against tests/botapi_spec.json (derived from Bot API 10.1 by tools/gen_botapi_spec.py):
  known method, required parameters present, no unknown parameters, types right, nested objects too.
  On top: text/caption length after entity parsing, HTML and MarkdownV2 validity, inline keyboard buttons
  (exactly one action, callback_data 1-64 bytes), answerCallbackQuery text <= 200, answerInlineQuery
  results (<= 50, unique ids of 1-64 bytes, valid message_text), bot commands. A violation is answered
  with Telegram's 400 error and recorded in ``violations``. The fake is stricter than Telegram in two ways:
  unknown parameters are an error (Telegram ignores them), and so is a bare ``&`` in HTML (Telegram keeps it).
- Records every answered call as a ``Call`` (``calls``), and offers blocking and async waits on them.
- Queues updates pushed by the test (``push_message``, ``push_callback``, ...) for ``getUpdates`` long polling.
- Injects faults: ``fail_next``, ``block_chat``, ``delay``, ``rate_limit``.

Errors that depend on chat state (message to edit not found, message is not modified, query is too old, message
to be replied not found) are 400s like Telegram's but not violations; find them with ``failed_calls()``.
A spec method the fake has no handler for gets 501 and a violation naming it (methods returning only True
are answered generically). A getUpdates held while a newer one arrives for the same token ends with 409,
as on Telegram, unless its client has already gone (PTB cancelling the poll on shutdown).

httpx honours HTTP(S)_PROXY / ALL_PROXY: a test that talks to the fake must have NO_PROXY=127.0.0.1,localhost
(``subprocess_env()`` sets it for a child process).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import functools
import json
import math
import os
import re
import select
import socket
import threading
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "DEFAULT_BOT_USERNAME",
    "DEFAULT_GROUP_CHAT_ID",
    "MESSAGE_SENDING_METHODS",
    "RATE_LIMITED_METHODS",
    "Call",
    "EntityParseError",
    "FakeTelegram",
    "UploadedFile",
    "parse_html",
    "parse_markdown_v2",
]

SPEC_PATH = Path(__file__).with_name("botapi_spec.json")
DEFAULT_BOT_USERNAME = "massage_faq_bot"
DEFAULT_BOT_ID = 7_000_000_001
# The users Telegram puts in ``from`` of a message sent on behalf of a chat (anonymous admin, channel).
ANONYMOUS_ADMIN_ID = 1_087_968_824
CHANNEL_BOT_ID = 136_817_688
# Chat id used by push_* for a non-private chat when the test names none.
DEFAULT_GROUP_CHAT_ID = -1_001_000_000_001

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_INLINE_RESULTS = 50
MAX_COMMANDS = 100

# Methods whose successful calls put a message into a chat (sent_messages, wait_for_message).
MESSAGE_SENDING_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendSticker", "sendVoice", "sendAudio", "sendVideo",
     "sendAnimation"}
)
# Methods that count against flood limits, and that fail for a blocked chat.
RATE_LIMITED_METHODS = MESSAGE_SENDING_METHODS | frozenset(
    {"editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia", "copyMessage",
     "forwardMessage", "sendMediaGroup", "sendLocation", "sendContact", "sendPoll", "sendDice"}
)
BLOCKABLE_METHODS = RATE_LIMITED_METHODS | {"sendChatAction"}

CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
     "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note"}
)
# Telegram's default when getUpdates never named allowed_updates.
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# InlineKeyboardButton fields that are not its action ("exactly one of the other fields must be used").
BUTTON_NON_ACTION_FIELDS = frozenset({"text", "icon_custom_emoji_id", "style"})
SCALAR_TYPES = frozenset({"Integer", "String", "Boolean", "Float", "InputFile"})

ChatKey = int | str
_T = TypeVar("_T")
# The socket of the request the current handler thread is serving.
_request_context = threading.local()


# --------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field_name: str
    filename: str
    content_type: str
    size: int
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Call:
    """One answered API call. ``time`` is time.monotonic() when the request arrived."""

    method: str
    params: dict[str, Any]
    token: str
    time: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict, repr=False)
    files: dict[str, UploadedFile] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the call succeeded (HTTP 200)."""
        return self.status == 200

    @property
    def result(self) -> Any:
        """The ``result`` the fake answered with (None on error)."""
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        """The error description the fake answered with (None on success)."""
        value = self.response.get("description")
        return value if isinstance(value, str) else None

    @property
    def chat_id(self) -> ChatKey | None:
        """The call's chat_id, normalised (numeric strings become ints)."""
        value = self.params.get("chat_id")
        return None if value is None else _chat_key(value)

    @property
    def text(self) -> str | None:
        """The text or caption exactly as sent (with its HTML markup, if any)."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def reply_markup(self) -> dict[str, Any] | None:
        """The decoded reply_markup parameter."""
        value = self.params.get("reply_markup")
        return value if isinstance(value, dict) else None

    @property
    def inline_buttons(self) -> list[dict[str, Any]]:
        """All inline keyboard buttons of reply_markup, row by row."""
        markup = self.reply_markup or {}
        rows = markup.get("inline_keyboard") or []
        return [button for row in rows for button in row]


# --------------------------------------------------------------------------------------------- errors


class EntityParseError(ValueError):
    """Text whose markup Telegram would refuse (the part after "can't parse entities: ")."""


class _ApiError(Exception):
    """An error answer. ``violation`` is set when the bot broke the API contract."""

    def __init__(
        self,
        status: int,
        description: str,
        *,
        violation: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.violation = violation
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(description: str, detail: str = "") -> _ApiError:
    """A 400 caused by the bot: answered and recorded as a violation."""
    text = f"Bad Request: {description}"
    return _ApiError(400, text, violation=f"{text} ({detail})" if detail else text)


def _state_error(description: str) -> _ApiError:
    """A 400 that depends on chat state (e.g. message to edit not found): answered, not a violation."""
    return _ApiError(400, f"Bad Request: {description}")


# --------------------------------------------------------------------------------------------- text helpers


def _utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8", "surrogatepass"))


def _chat_key(value: object) -> ChatKey:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return value
    text = str(value)
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    return text


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "span": "spoiler",
    "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre", "blockquote": "blockquote",
    "tg-emoji": "custom_emoji", "tg-time": "date_time",
}
_HTML_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{0,31}));")


@dataclass
class _OpenTag:
    name: str
    begin: int  # index of "<" in the source
    start: int  # UTF-16 offset in the parsed text
    attrs: dict[str, str]


def _decode_html_entity(text: str, index: int) -> tuple[str, int]:
    match = _HTML_ENTITY.match(text, index)
    if match is None:
        msg = f'Character "&" must be escaped as "&amp;" at byte offset {_byte_offset(text, index)}'
        raise EntityParseError(msg)
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name not in _HTML_NAMED_ENTITIES:
            msg = f'Unsupported HTML entity "&{name};" at byte offset {_byte_offset(text, index)}'
            raise EntityParseError(msg)
        return _HTML_NAMED_ENTITIES[name], match.end()
    code_point = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not 0 < code_point <= 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
        msg = f"Invalid numeric HTML entity at byte offset {_byte_offset(text, index)}"
        raise EntityParseError(msg)
    return chr(code_point), match.end()


def _parse_start_tag(text: str, begin: int) -> tuple[str, dict[str, str], int]:
    """Parse ``<name attr="value" ...>`` starting at ``begin``; return name, attributes, next index."""
    n = len(text)
    i = begin + 1
    while i < n and not text[i].isspace() and text[i] != ">":
        i += 1
    name = text[begin + 1 : i].lower()
    if name not in _HTML_TAGS:
        msg = f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
        raise EntityParseError(msg)
    attrs: dict[str, str] = {}
    unclosed = f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(unclosed)
        if text[i] == ">":
            return name, attrs, i + 1
        attr_begin = i
        while i < n and not text[i].isspace() and text[i] not in "=>":
            i += 1
        attr = text[attr_begin:i].lower()
        if not attr:
            msg = f'Empty attribute name in the tag "{name}" at byte offset {_byte_offset(text, attr_begin)}'
            raise EntityParseError(msg)
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(unclosed)
        if text[i] != "=":
            if name == "blockquote" and attr == "expandable":
                attrs[attr] = ""
                continue
            msg = (
                f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                f"at byte offset {_byte_offset(text, begin)}"
            )
            raise EntityParseError(msg)
        i += 1
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(unclosed)
        quote = text[i]
        if quote in "\"'":
            i += 1
            chars: list[str] = []
            while i < n and text[i] != quote:
                if text[i] == "&":
                    decoded, i = _decode_html_entity(text, i)
                    chars.append(decoded)
                else:
                    chars.append(text[i])
                    i += 1
            if i >= n:
                raise EntityParseError(unclosed)
            i += 1
            attrs[attr] = "".join(chars)
        else:
            value_begin = i
            while i < n and (text[i].isalnum() or text[i] in ".-"):
                i += 1
            if i == value_begin:
                msg = (
                    f'Expected quote in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {_byte_offset(text, begin)}"
                )
                raise EntityParseError(msg)
            attrs[attr] = text[value_begin:i]


def _check_tag_attributes(text: str, tag: _OpenTag) -> None:
    where = f"at byte offset {_byte_offset(text, tag.begin)}"
    if tag.name == "span" and tag.attrs.get("class") != "tg-spoiler":
        msg = f'Tag "span" must have class "tg-spoiler" {where}'
        raise EntityParseError(msg)
    if tag.name == "a" and not tag.attrs.get("href"):
        msg = f'Tag "a" must have a non-empty attribute "href" {where}'
        raise EntityParseError(msg)
    if tag.name == "tg-emoji" and not tag.attrs.get("emoji-id", "").isdigit():
        msg = f'Tag "tg-emoji" must have a numeric attribute "emoji-id" {where}'
        raise EntityParseError(msg)
    if tag.name == "tg-time" and not tag.attrs.get("unix", "").isdigit():
        msg = f'Tag "tg-time" must have a numeric attribute "unix" {where}'
        raise EntityParseError(msg)


def _entity_for(tag: _OpenTag, length: int) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": _HTML_TAGS[tag.name], "offset": tag.start, "length": length}
    if tag.name == "a":
        entity["url"] = tag.attrs["href"]
    elif tag.name == "pre" and tag.attrs.get("language"):
        entity["language"] = tag.attrs["language"]
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    elif tag.name == "tg-time":
        entity["unix_time"] = int(tag.attrs["unix"])
        if tag.attrs.get("format"):
            entity["date_time_format"] = tag.attrs["format"]
    return entity


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into plain text and MessageEntity dicts, or raise EntityParseError."""
    parts: list[str] = []
    position = 0  # UTF-16 offset in the parsed text
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        special = _HTML_SPECIAL.search(text, i)
        stop = n if special is None else special.start()
        if stop > i:
            chunk = text[i:stop]
            parts.append(chunk)
            position += _utf16_len(chunk)
            i = stop
            continue
        if text[i] == "&":
            decoded, i = _decode_html_entity(text, i)
            parts.append(decoded)
            position += _utf16_len(decoded)
            continue
        if text.startswith("</", i):
            end = text.find(">", i)
            if end == -1:
                msg = f"Unclosed end tag at byte offset {_byte_offset(text, i)}"
                raise EntityParseError(msg)
            name = text[i + 2 : end].strip().lower()
            if not stack:
                msg = f'Unexpected end tag "</{name}>" at byte offset {_byte_offset(text, i)}'
                raise EntityParseError(msg)
            tag = stack.pop()
            if name != tag.name:
                msg = (
                    f'Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "</{tag.name}>", '
                    f'found "</{name}>"'
                )
                raise EntityParseError(msg)
            length = position - tag.start
            language = tag.attrs.get("class", "")
            parent = stack[-1] if stack else None
            if (
                tag.name == "code"
                and parent is not None
                and parent.name == "pre"
                and parent.start == tag.start
                and language.startswith("language-")
            ):
                parent.attrs["language"] = language.removeprefix("language-")
            elif length > 0:
                entities.append(_entity_for(tag, length))
            i = end + 1
            continue
        name, attrs, after = _parse_start_tag(text, i)
        tag = _OpenTag(name, i, position, attrs)
        _check_tag_attributes(text, tag)
        stack.append(tag)
        i = after
    if stack:
        msg = f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        raise EntityParseError(msg)
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(parts), entities


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")


def _md2_reserved_error(text: str, index: int) -> EntityParseError:
    return EntityParseError(f"Character '{text[index]}' is reserved and must be escaped with the preceding '\\'")


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 like Telegram does (minus blockquote details), or raise EntityParseError."""
    out: list[str] = []
    position = 0
    # (type, UTF-16 start, index of the opening markup)
    stack: list[tuple[str, int, int]] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)

    def emit(chunk: str) -> None:
        nonlocal position
        out.append(chunk)
        position += _utf16_len(chunk)

    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            emit(text[i + 1])
            i += 2
            continue
        inside = stack[-1][0] if stack else ""
        reserved = "`" if inside in ("code", "pre") else _MD2_RESERVED
        if char not in reserved:
            emit(char)
            i += 1
            continue
        closes = {
            "bold": char == "*",
            "italic": char == "_" and text[i + 1 : i + 2] != "_",
            "underline": text.startswith("__", i),
            "strikethrough": char == "~",
            "spoiler": text.startswith("||", i),
            "code": char == "`",
            "pre": text.startswith("```", i),
            "text_link": char == "]",
            "custom_emoji": char == "]",
        }.get(inside, False)
        if closes:
            kind, start, begin = stack.pop()
            i += {"underline": 2, "spoiler": 2, "pre": 3}.get(kind, 1)
            entity: dict[str, Any] = {"type": kind, "offset": start, "length": position - start}
            if kind in ("text_link", "custom_emoji"):
                if not text.startswith("(", i):
                    msg = f"Can't find end of a URL at byte offset {_byte_offset(text, begin)}"
                    raise EntityParseError(msg)
                end = i + 1
                url: list[str] = []
                while end < n and text[end] != ")":
                    if text[end] == "\\" and end + 1 < n:
                        end += 1
                    url.append(text[end])
                    end += 1
                if end >= n:
                    msg = f"Can't find end of a URL at byte offset {_byte_offset(text, i)}"
                    raise EntityParseError(msg)
                if kind == "text_link":
                    entity["url"] = "".join(url)
                else:
                    entity["custom_emoji_id"] = "".join(url).partition("id=")[2]
                i = end + 1
            if entity["length"] > 0:
                entities.append(entity)
            continue
        if char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # blockquote line marker
            continue
        if char == "_":
            kind, width = ("underline", 2) if text.startswith("__", i) else ("italic", 1)
        elif char == "*":
            kind, width = "bold", 1
        elif char == "~":
            kind, width = "strikethrough", 1
        elif char == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        elif char == "[":
            kind, width = "text_link", 1
        elif char == "!" and text.startswith("![", i):
            kind, width = "custom_emoji", 2
        elif char == "`" and text.startswith("```", i):
            newline = text.find("\n", i + 3)
            kind, width = "pre", (3 if newline == -1 else newline + 1 - i)
        elif char == "`":
            kind, width = "code", 1
        else:
            raise _md2_reserved_error(text, i)
        stack.append((kind, position, i))
        i += width
    if stack:
        kind, _, begin = stack[-1]
        msg = f"Can't find end of {kind} entity at byte offset {_byte_offset(text, begin)}"
        raise EntityParseError(msg)
    return "".join(out), entities


def _parse_text(text: str, parse_mode: object, entities: object) -> tuple[str, list[dict[str, Any]]]:
    """Return the text Telegram would store and its entities, or raise a 400."""
    if isinstance(entities, list) and entities:
        return text, [entity for entity in entities if isinstance(entity, dict)]
    if parse_mode is None or parse_mode == "":
        return text, []
    if not isinstance(parse_mode, str) or parse_mode.lower() not in ("html", "markdownv2", "markdown"):
        raise _bad_request("unsupported parse_mode", f"parse_mode={parse_mode!r}")
    try:
        if parse_mode.lower() == "html":
            return parse_html(text)
        if parse_mode.lower() == "markdownv2":
            return parse_markdown_v2(text)
    except EntityParseError as exc:
        raise _bad_request(f"can't parse entities: {exc}", f"text={_abbreviate(text)}") from None
    # Legacy Markdown: only its markup characters are dropped, no validation.
    return re.sub(r"(?<!\\)[*_`]", "", text), []


def _check_text(
    text: object, parse_mode: object, entities: object, *, caption: bool = False
) -> tuple[str, list[dict[str, Any]]]:
    """Apply Telegram's length rules to a message text (1-4096) or caption (0-1024) after parsing."""
    if not isinstance(text, str):
        text = ""
    plain, parsed = _parse_text(text, parse_mode, entities)
    if caption:
        if len(plain) > MAX_CAPTION_LENGTH:
            raise _bad_request("message caption is too long", f"{len(plain)} characters after parsing")
        return plain, parsed
    if not plain.strip():
        raise _bad_request("message text is empty", f"text={text!r}")
    if len(plain) > MAX_TEXT_LENGTH:
        raise _bad_request("message is too long", f"{len(plain)} characters after parsing")
    return plain, parsed


def _abbreviate(value: object, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else f"{text[:limit]}…(+{len(text) - limit})"


# --------------------------------------------------------------------------------------------- spec checks


@dataclass(frozen=True)
class _Signature:
    fields: dict[str, tuple[str, ...]]
    required: frozenset[str]
    const: dict[str, str]
    subtypes: tuple[str, ...]
    returns: tuple[str, ...]


def _signature(entry: dict[str, Any]) -> _Signature:
    return _Signature(
        fields={name: tuple(types.split(" | ")) for name, types in entry.get("fields", {}).items()},
        required=frozenset(entry.get("required", [])),
        const=dict(entry.get("const", {})),
        subtypes=tuple(entry.get("subtypes", [])),
        returns=tuple(entry.get("returns", "").split(" | ")),
    )


class _Spec:
    """The committed Bot API spec, and checks of values against it."""

    def __init__(self, path: Path) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self.methods = {name: _signature(entry) for name, entry in data["methods"].items()}
        self.types = {name: _signature(entry) for name, entry in data["types"].items()}
        self.by_lower_name = {name.lower(): name for name in self.methods}

    def decode(self, method: str, raw: dict[str, str]) -> dict[str, Any]:
        """Undo PTB's encoding: strings arrive raw, everything else as JSON."""
        signature = self.methods.get(method)
        params: dict[str, Any] = {}
        for name, value in raw.items():
            types = signature.fields.get(name) if signature else None
            if types is not None and all(t in ("String", "InputFile") for t in types):
                params[name] = value
                continue
            try:
                params[name] = json.loads(value)
            except ValueError:
                params[name] = value
        return params

    def check_method(self, method: str, params: dict[str, Any]) -> None:
        signature = self.methods[method]
        for name in sorted(signature.required - params.keys()):
            if name == "text":
                raise _bad_request("message text is empty", "parameter text is missing")
            raise _bad_request(f'parameter "{name}" is required', f"{method} without {name}")
        for name, value in params.items():
            if name not in signature.fields:
                raise _bad_request(f'unknown parameter "{name}"', f"{method} has no parameter {name}")
            self.check_value(value, signature.fields[name], name)

    def check_value(self, value: Any, types: tuple[str, ...], path: str) -> None:
        arrays = [t.removeprefix("Array of ") for t in types if t.startswith("Array of ")]
        if isinstance(value, list) and arrays:
            for index, item in enumerate(value):
                self.check_value(item, tuple(arrays), f"{path}[{index}]")
            return
        objects = self._concrete([t for t in types if t not in SCALAR_TYPES and not t.startswith("Array of ")])
        if isinstance(value, dict) and objects:
            self.check_object(value, objects, path)
            return
        if any(_scalar_matches(value, t) for t in types if t in SCALAR_TYPES):
            return
        if "KeyboardButton" in types and isinstance(value, str):
            return  # "String can be used instead of this object to specify the button text"
        expected = " or ".join(types)
        raise _bad_request(
            f'field "{path}" must be of type {expected}', f"got {type(value).__name__} {_abbreviate(value, 60)}"
        )

    def _concrete(self, names: list[str]) -> list[str]:
        out: list[str] = []
        for name in names:
            signature = self.types.get(name)
            if signature is not None and signature.subtypes:
                out.extend(self._concrete(list(signature.subtypes)))
            else:
                out.append(name)
        return out

    def check_object(self, value: dict[str, Any], candidates: list[str], path: str) -> str:
        """Check a JSON object against the fitting member of a union of types; return its type name."""
        known = [name for name in candidates if name in self.types]
        keys = value.keys()
        matching = [n for n in known if all(value.get(k) == v for k, v in self.types[n].const.items())]
        if not matching:
            consts = sorted({f"{k}={v}" for n in known for k, v in self.types[n].const.items()})
            raise _bad_request(f'field "{path}" has an unsupported type', f"expected one of {consts}")
        fitting = [
            n for n in matching if self.types[n].required <= keys and keys <= self.types[n].fields.keys()
        ]
        if fitting:
            chosen = fitting[0]
        else:
            def score(name: str) -> int:
                fields = self.types[name].fields.keys()
                return len(keys & fields) - len(keys - fields) - len(self.types[name].required - keys)

            chosen = max(matching, key=score)
        signature = self.types[chosen]
        for name in sorted(signature.required - keys):
            raise _bad_request(f'field "{path}.{name}" is required', f"{chosen} without {name}")
        for name, item in value.items():
            if name not in signature.fields:
                raise _bad_request(f'unknown field "{path}.{name}"', f"{chosen} has no field {name}")
            self.check_value(item, signature.fields[name], f"{path}.{name}")
        _check_object_semantics(chosen, value, path)
        return chosen


@functools.cache
def _load_spec(path: Path) -> _Spec:
    return _Spec(path)


def _scalar_matches(value: object, type_name: str) -> bool:
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if type_name == "Boolean":
        return isinstance(value, bool)
    return isinstance(value, UploadedFile)  # InputFile


def _check_object_semantics(type_name: str, value: dict[str, Any], path: str) -> None:
    """Rules the spec states only in prose."""
    if type_name == "InlineKeyboardButton":
        actions = sorted(value.keys() - BUTTON_NON_ACTION_FIELDS)
        if not str(value.get("text", "")).strip():
            raise _bad_request("BUTTON_TEXT_INVALID", f"{path} has an empty text")
        if len(actions) != 1:
            raise _bad_request(
                "can't parse inline keyboard button: exactly one of the optional fields must be used",
                f"{path} has {actions or 'none'}",
            )
        if "callback_data" in value:
            size = len(str(value["callback_data"]).encode("utf-8"))
            if not 1 <= size <= 64:
                raise _bad_request("BUTTON_DATA_INVALID", f"{path}.callback_data is {size} bytes, must be 1-64")
        if "url" in value and not re.match(r"(https?|tg)://", str(value["url"])):
            raise _bad_request("BUTTON_URL_INVALID", f"{path}.url={value['url']!r}")
    elif type_name == "InputTextMessageContent":
        _check_text(value.get("message_text"), value.get("parse_mode"), value.get("entities"))
    elif type_name == "BotCommand":
        command = str(value.get("command", ""))
        if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
            raise _bad_request("BOT_COMMAND_INVALID", f"{path}.command={command!r}")
        description = str(value.get("description", ""))
        if not 1 <= len(description) <= 256:
            raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID", f"{path}.description={description!r}")
    elif "caption" in value and type_name.startswith(("InlineQueryResult", "InputMedia")):
        _check_text(value["caption"], value.get("parse_mode"), value.get("caption_entities"), caption=True)


def _check_method_semantics(method: str, params: dict[str, Any]) -> None:
    editing = method in ("editMessageText", "editMessageReplyMarkup", "editMessageCaption")
    if editing and "inline_message_id" not in params:
        if "chat_id" not in params:
            raise _bad_request("chat_id is empty", f"{method} needs chat_id+message_id or inline_message_id")
        if "message_id" not in params:
            raise _bad_request("message identifier is not specified", method)
    if method == "sendMessage" or (method == "editMessageText" and "rich_message" not in params):
        _check_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
    elif "caption" in params:
        _check_text(params["caption"], params.get("parse_mode"), params.get("caption_entities"), caption=True)
    if method == "answerCallbackQuery":
        text = params.get("text", "")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG", f"answerCallbackQuery text has {len(text)} characters")
    elif method == "answerInlineQuery":
        results = params["results"]
        if len(results) > MAX_INLINE_RESULTS:
            raise _bad_request("RESULTS_TOO_MUCH", f"{len(results)} results, at most {MAX_INLINE_RESULTS}")
        seen: set[str] = set()
        for index, result in enumerate(results):
            result_id = str(result.get("id", ""))
            if not 1 <= len(result_id.encode("utf-8")) <= 64:
                raise _bad_request("RESULT_ID_INVALID", f"results[{index}].id={result_id!r}")
            if result_id in seen:
                raise _bad_request("RESULT_ID_DUPLICATE", f"results[{index}].id={result_id!r}")
            seen.add(result_id)
    elif method == "setMyCommands" and len(params["commands"]) > MAX_COMMANDS:
        raise _bad_request("BOT_COMMANDS_TOO_MUCH", f"{len(params['commands'])} commands")
    elif method == "sendChatAction" and params["action"] not in CHAT_ACTIONS:
        raise _bad_request("wrong parameter action in request", f"action={params['action']!r}")


# --------------------------------------------------------------------------------------------- state helpers


@dataclass
class _QueuedUpdate:
    update_id: int
    kind: str
    update: dict[str, Any]
    encoded: bytes


@dataclass
class _Fault:
    method: str
    chat: ChatKey | None
    remaining: int
    error: _ApiError


class _Bucket:
    """Token bucket: ``rate`` tokens per second, at most ``capacity`` saved up."""

    def __init__(self, rate: float, capacity: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = time.monotonic()

    def refill(self, now: float) -> float:
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        return self.tokens

    def wait_time(self) -> float:
        return max(0.0, (1 - self.tokens) / self.rate)


@dataclass
class _EncodedUpdates:
    updates: list[dict[str, Any]]
    encoded: list[bytes]


_CHAT_MEMBER_ADMIN_RIGHTS = (
    "can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages", "can_manage_video_chats",
    "can_restrict_members", "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories",
)


# --------------------------------------------------------------------------------------------- the fake


class FakeTelegram:
    """A loopback Bot API server. Thread-safe; use from sync tests, async tests and subprocess bots."""

    def __init__(
        self,
        *,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = "Massage FAQ",
        bot_id: int = DEFAULT_BOT_ID,
        host: str = "127.0.0.1",
        port: int = 0,
        spec_path: Path = SPEC_PATH,
    ) -> None:
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id = bot_id
        self._address = (host, port)
        self._spec = _load_spec(spec_path)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # wakes test-side waiters
        self._updates_cv = threading.Condition(self._lock)  # wakes held getUpdates
        self._stopping = False

        self._calls: list[Call] = []
        self._calls_by_method: dict[str, list[Call]] = {}
        self._sent_by_chat: dict[ChatKey, list[Call]] = {}
        self._message_cursor: dict[ChatKey, int] = {}
        self._violations: list[str] = []

        self._updates: deque[_QueuedUpdate] = deque()
        self._next_update_id = 1
        self._delivered_upto = 0
        self._poll_generation: dict[str, int] = {}
        self._pollers = 0
        self._allowed_updates: frozenset[str] | None = None
        self._webhook_url = ""

        self._chats: dict[ChatKey, dict[str, Any]] = {}
        self._message_ids: dict[ChatKey, int] = {}
        self._messages: dict[tuple[ChatKey, int], dict[str, Any]] = {}
        self._last_bot_message: dict[ChatKey, dict[str, Any]] = {}
        self._last_user_message: dict[tuple[ChatKey, int], dict[str, Any]] = {}
        self._query_counter = 0
        self._file_counter = 0
        self._callback_ids: set[str] = set()
        self._inline_query_ids: set[str] = set()
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}

        self._faults: list[_Fault] = []
        self._delays: dict[str, float] = {}
        self._arrivals: dict[str, int] = {}
        self._blocked: set[ChatKey] = set()
        self._blocked_attempts: dict[ChatKey, int] = {}
        self._global_bucket: _Bucket | None = None
        self._per_chat_rate: float | None = None
        self._chat_buckets: dict[ChatKey, _Bucket] = {}
        self._rate_limited = 0

        self._handlers: dict[str, Callable[[str, dict[str, Any]], Any]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_media,
            "sendSticker": self._send_media,
            "sendVoice": self._send_media,
            "sendAudio": self._send_media,
            "sendVideo": self._send_media,
            "sendAnimation": self._send_media,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "answerInlineQuery": self._answer_inline_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendChatAction": self._true,
        }

    # ---------------------------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Start serving on a background thread."""
        if self._server is not None:
            msg = "FakeTelegram is already running"
            raise RuntimeError(msg)
        server = _Server(self._address, _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeTelegram", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, release held long polls and close open connections."""
        server, thread = self._server, self._thread
        if server is None:
            return
        with self._lock:
            self._stopping = True
            self._updates_cv.notify_all()
            self._changed.notify_all()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            msg = "FakeTelegram is not running"
            raise RuntimeError(msg)
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as PTB's base_url: PTB appends ``<TOKEN>/<method>``."""
        return f"http://127.0.0.1:{self.port}/bot"

    def subprocess_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """os.environ plus TELEGRAM_API_BASE_URL for this fake, with proxies disabled for loopback."""
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
        env["TELEGRAM_API_BASE_URL"] = self.base_url
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        env.update(extra or {})
        return env

    # ---------------------------------------------------------------------------------- inspection

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every answered call, in the order they were answered."""
        with self._lock:
            return list(self._calls)

    @property
    def violations(self) -> list[str]:
        """Every API contract violation seen (and any internal error of the fake)."""
        with self._lock:
            return list(self._violations)

    @property
    def blocked_attempts(self) -> dict[ChatKey, int]:
        """How many sends each blocked chat refused."""
        with self._lock:
            return dict(self._blocked_attempts)

    @property
    def rate_limited(self) -> int:
        """How many calls the rate limiter answered with 429."""
        with self._lock:
            return self._rate_limited

    @property
    def pending_updates(self) -> int:
        """Updates pushed but not yet confirmed by a getUpdates offset."""
        with self._lock:
            return len(self._updates)

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The bot commands set for the default scope and language."""
        with self._lock:
            return list(self._commands.get(("", ""), []))

    def arrivals(self, method: str) -> int:
        """Calls to ``method`` that have arrived so far, including those still being answered (see ``delay``)."""
        with self._lock:
            return self._arrivals.get(method, 0)

    def calls_to(self, method: str) -> list[Call]:
        """Answered calls to ``method``."""
        with self._lock:
            return list(self._calls_by_method.get(method, []))

    def sent_messages(self, chat_id: ChatKey | None = None) -> list[Call]:
        """Successful message sends (sendMessage, sendPhoto, ... see MESSAGE_SENDING_METHODS)."""
        with self._lock:
            if chat_id is not None:
                return list(self._sent_by_chat.get(_chat_key(chat_id), []))
            return [c for c in self._calls if c.ok and c.method in MESSAGE_SENDING_METHODS]

    def failed_calls(self) -> list[Call]:
        """Calls answered with an error, injected or not."""
        with self._lock:
            return [c for c in self._calls if not c.ok]

    def message(self, chat_id: ChatKey, message_id: int) -> dict[str, Any] | None:
        """The current state of a message the fake knows (sent, pushed or edited)."""
        with self._lock:
            stored = self._messages.get((_chat_key(chat_id), message_id))
            return dict(stored) if stored is not None else None

    def clear_calls(self) -> None:
        """Forget recorded calls, violations and wait_for_message positions."""
        with self._lock:
            self._calls.clear()
            self._calls_by_method.clear()
            self._sent_by_chat.clear()
            self._message_cursor.clear()
            self._violations.clear()

    # ---------------------------------------------------------------------------------- waiting

    def wait_until(self, condition: Callable[[], _T | None], timeout: float = 10.0, what: str = "condition") -> _T:
        """Block until ``condition()`` (run under the fake's lock) is truthy; return its value."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = condition()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(self._timeout_report(what, timeout))
                self._changed.wait(remaining)

    async def async_wait_until(
        self,
        condition: Callable[[], _T | None],
        timeout: float = 10.0,  # noqa: ASYNC109  # mirrors wait_until; a deadline, not a cancellation
        what: str = "condition",
    ) -> _T:
        """Like wait_until, but polls with asyncio.sleep so the event loop keeps running."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                value = condition()
                if value:
                    return value
            if time.monotonic() >= deadline:
                with self._lock:
                    raise AssertionError(self._timeout_report(what, timeout))
            await asyncio.sleep(0.005)

    def _first_call_matching(self, predicate: Callable[[Call], bool]) -> Callable[[], Call | None]:
        scanned = 0

        def check() -> Call | None:
            nonlocal scanned
            scanned = min(scanned, len(self._calls))  # clear_calls may have run
            for call in self._calls[scanned:]:
                if predicate(call):
                    return call
            scanned = len(self._calls)
            return None

        return check

    def _n_calls(self, method: str, n: int) -> Callable[[], list[Call] | None]:
        def check() -> list[Call] | None:
            calls = self._calls_by_method.get(method, [])
            return list(calls) if len(calls) >= n else None

        return check

    def _next_message(self, chat_id: ChatKey) -> Callable[[], Call | None]:
        key = _chat_key(chat_id)

        def check() -> Call | None:
            sent = self._sent_by_chat.get(key, [])
            cursor = self._message_cursor.get(key, 0)
            if cursor >= len(sent):
                return None
            self._message_cursor[key] = cursor + 1
            return sent[cursor]

        return check

    def _polling(self) -> bool:
        return self._pollers > 0

    def _delivered(self) -> bool:
        return not self._updates or self._updates[-1].update_id <= self._delivered_upto

    def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0) -> Call:
        """Block until some answered call matches ``predicate``; return the first one that does."""
        return self.wait_until(self._first_call_matching(predicate), timeout, "a call matching the predicate")

    def wait_for_calls(self, method: str, n: int = 1, timeout: float = 10.0) -> list[Call]:
        """Block until at least ``n`` calls to ``method`` were answered; return all of them."""
        return self.wait_until(self._n_calls(method, n), timeout, f"{n} call(s) to {method}")

    def wait_for_message(self, chat_id: ChatKey, timeout: float = 10.0) -> Call:
        """Block until the next message sent to ``chat_id`` that no earlier wait_for_message returned."""
        return self.wait_until(self._next_message(chat_id), timeout, f"a new message to chat {chat_id}")

    def wait_for_polling(self, timeout: float = 10.0) -> None:
        """Block until a getUpdates long poll is being held (the bot is up and polling)."""
        self.wait_until(self._polling, timeout, "a held getUpdates request")

    def wait_for_delivery(self, timeout: float = 10.0) -> None:
        """Block until every pushed update has been handed out by getUpdates."""
        self.wait_until(self._delivered, timeout, "all pushed updates to be delivered")

    async def async_wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0) -> Call:  # noqa: ASYNC109  # see async_wait_until
        """Async wait_for."""
        return await self.async_wait_until(
            self._first_call_matching(predicate), timeout, "a call matching the predicate"
        )

    async def async_wait_for_calls(self, method: str, n: int = 1, timeout: float = 10.0) -> list[Call]:  # noqa: ASYNC109  # see async_wait_until
        """Async wait_for_calls."""
        return await self.async_wait_until(self._n_calls(method, n), timeout, f"{n} call(s) to {method}")

    async def async_wait_for_message(self, chat_id: ChatKey, timeout: float = 10.0) -> Call:  # noqa: ASYNC109  # see async_wait_until
        """Async wait_for_message."""
        return await self.async_wait_until(
            self._next_message(chat_id), timeout, f"a new message to chat {chat_id}"
        )

    async def async_wait_for_polling(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109  # see async_wait_until
        """Async wait_for_polling."""
        await self.async_wait_until(self._polling, timeout, "a held getUpdates request")

    async def async_wait_for_delivery(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109  # see async_wait_until
        """Async wait_for_delivery."""
        await self.async_wait_until(self._delivered, timeout, "all pushed updates to be delivered")

    def _timeout_report(self, what: str, timeout: float) -> str:
        lines = [f"FakeTelegram: timed out after {timeout:g}s waiting for {what}."]
        lines.append(
            f"pending updates: {len(self._updates)}, held getUpdates: {self._pollers}, "
            f"calls: {len(self._calls)}, blocked chats: {sorted(map(str, self._blocked))}"
        )
        recent = self._calls[-25:]
        if recent:
            lines.append(f"last {len(recent)} calls:")
            for call in recent:
                params = {k: v for k, v in call.params.items() if k != "reply_markup"}
                extra = "" if call.ok else f" -> {call.description}"
                lines.append(f"  {call.method} [{call.status}] {_abbreviate(params, 160)}{extra}")
        else:
            lines.append("no calls at all: is the bot running against this fake's base_url?")
        if self._violations:
            lines.append("violations:")
            lines.extend(f"  {v}" for v in self._violations[-10:])
        return "\n".join(lines)

    # ---------------------------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        status: int = 500,
        *,
        retry_after: int | None = None,
        description: str | None = None,
        chat_id: ChatKey | None = None,
        count: int = 1,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        """Answer the next ``count`` calls to ``method`` ("*" = any) with an error instead."""
        parameters: dict[str, Any] = {}
        if status == 429:
            retry_after = 1 if retry_after is None else retry_after
            description = description or f"Too Many Requests: retry after {retry_after}"
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
            description = description or "Bad Request: group chat was upgraded to a supergroup chat"
        defaults = {
            400: "Bad Request: injected failure",
            401: "Unauthorized",
            403: "Forbidden: bot was blocked by the user",
            404: "Not Found",
            409: "Conflict: terminated by other getUpdates request; make sure that only one bot instance is "
            "running",
            500: "Internal Server Error",
            502: "Bad Gateway",
        }
        error = _ApiError(
            status, description or defaults.get(status, f"Error {status}"), parameters=parameters or None
        )
        key = None if chat_id is None else _chat_key(chat_id)
        with self._lock:
            self._faults.append(_Fault(method, key, count, error))

    def block_chat(self, chat_id: ChatKey) -> None:
        """From now on every send to ``chat_id`` gets 403 (counted in blocked_attempts)."""
        with self._lock:
            self._blocked.add(_chat_key(chat_id))

    def unblock_chat(self, chat_id: ChatKey) -> None:
        """Undo block_chat."""
        with self._lock:
            self._blocked.discard(_chat_key(chat_id))

    def delay(self, method: str, seconds: float) -> None:
        """Answer every call to ``method`` ("*" = any) ``seconds`` late; 0 removes the delay."""
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def rate_limit(self, per_second: float | None = None, *, per_chat_per_second: float | None = None) -> None:
        """Answer RATE_LIMITED_METHODS beyond ``per_second`` overall or ``per_chat_per_second`` per chat
        with 429 retry_after=1. Token buckets: a burst of up to one second's worth passes. None disables."""
        with self._lock:
            self._global_bucket = (
                None if per_second is None else _Bucket(per_second, max(1.0, float(per_second)))
            )
            self._per_chat_rate = per_chat_per_second
            self._chat_buckets.clear()

    def reset_faults(self) -> None:
        """Remove every injected fault, delay, block and rate limit."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()
            self._blocked.clear()
            self._global_bucket = None
            self._per_chat_rate = None
            self._chat_buckets.clear()

    # ---------------------------------------------------------------------------------- update injection

    def push_raw(self, update: dict[str, Any]) -> int:
        """Queue an update as given; assign update_id unless it has one. Returns the update_id."""
        update = dict(update)
        kinds = [key for key in update if key != "update_id"]
        if len(kinds) != 1:
            msg = f"an update has exactly one field besides update_id, got {kinds}"
            raise ValueError(msg)
        with self._lock:
            payload = update[kinds[0]]
            if isinstance(payload, dict) and "id" in payload:
                if kinds[0] == "callback_query":
                    self._callback_ids.add(str(payload["id"]))
                elif kinds[0] == "inline_query":
                    self._inline_query_ids.add(str(payload["id"]))
            return self._enqueue(update)

    def push_message(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        username: str | None = None,
        first_name: str | None = None,
        reply_to_bot: bool = False,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Queue a text message from a user. ``entities=None`` adds bot_command and mention entities."""
        content: dict[str, Any] = {"text": text}
        found = self._auto_entities(text) if entities is None else entities
        if found:
            content["entities"] = found
        return self._push_user_message(
            "message", user_id, content, chat_id, chat_type, username, first_name, reply_to_bot,
            reply_to_message_id,
        )

    def push_channel_post(self, chat_id: int, text: str, *, title: str | None = None) -> dict[str, Any]:
        """Queue a post in a channel: no ``from``, the channel itself as ``sender_chat``."""
        with self._lock:
            chat = self._chats.get(chat_id) or {
                "id": chat_id, "type": "channel", "title": title or f"Channel {chat_id}"
            }
            self._chats[_chat_key(chat_id)] = chat
            post: dict[str, Any] = {
                "message_id": self._next_message_id(_chat_key(chat_id)),
                "sender_chat": chat,
                "chat": chat,
                "date": int(time.time()),
                "text": text,
            }
            entities = self._auto_entities(text)
            if entities:
                post["entities"] = entities
            self._messages[(_chat_key(chat_id), post["message_id"])] = post
            update: dict[str, Any] = {"channel_post": dict(post)}
            update["update_id"] = self._enqueue(update)
            return update

    def push_anonymous_message(
        self, chat_id: int, text: str, *, sender_chat_id: int | None = None, chat_type: str = "supergroup"
    ) -> dict[str, Any]:
        """Queue a group message sent on behalf of a chat: by an anonymous admin (``sender_chat`` is the
        group itself, from GroupAnonymousBot) or, with ``sender_chat_id``, as a channel (from Channel_Bot)."""
        with self._lock:
            group = self._chat_for_push(0, chat_id, chat_type, None, None)
            if sender_chat_id is None:
                speaker = group
                author = {
                    "id": ANONYMOUS_ADMIN_ID, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"
                }
            else:
                speaker = self._chats.get(sender_chat_id) or {
                    "id": sender_chat_id, "type": "channel", "title": f"Channel {sender_chat_id}"
                }
                author = {"id": CHANNEL_BOT_ID, "is_bot": True, "first_name": "Channel", "username": "Channel_Bot"}
            message: dict[str, Any] = {
                "message_id": self._next_message_id(_chat_key(chat_id)),
                "from": author,
                "sender_chat": speaker,
                "chat": group,
                "date": int(time.time()),
                "text": text,
            }
            entities = self._auto_entities(text)
            if entities:
                message["entities"] = entities
            self._messages[(_chat_key(chat_id), message["message_id"])] = message
            update: dict[str, Any] = {"message": dict(message)}
            update["update_id"] = self._enqueue(update)
            return update

    def push_edited_message(
        self,
        user_id: int,
        text: str,
        message_id: int | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        username: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """Queue an edit of the user's message ``message_id`` (default: their last one in the chat)."""
        with self._lock:
            chat = self._chat_for_push(user_id, chat_id, chat_type, username, first_name)
            key = _chat_key(chat["id"])
            if message_id is None:
                last = self._last_user_message.get((key, user_id))
                original = dict(last) if last is not None else None
            else:
                stored = self._messages.get((key, message_id))
                original = dict(stored) if stored is not None else None
            if original is None:
                original = {
                    "message_id": message_id or self._next_message_id(key),
                    "from": self._user(user_id, username, first_name),
                    "chat": chat,
                    "date": int(time.time()) - 60,
                }
            original.pop("entities", None)
            original.update(text=text, edit_date=int(time.time()))
            entities = self._auto_entities(text)
            if entities:
                original["entities"] = entities
            self._messages[(key, original["message_id"])] = original
            update = {"edited_message": dict(original)}
            self._enqueue(update)
            return update

    def push_sticker(
        self,
        user_id: int,
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        emoji: str = "👍",
        username: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """Queue a (regular, static) sticker message."""
        file_id, unique_id = self._new_file_ids("sticker")
        sticker = {
            "file_id": file_id, "file_unique_id": unique_id, "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False, "emoji": emoji, "file_size": 24_000,
        }
        return self._push_user_message(
            "message", user_id, {"sticker": sticker}, chat_id, chat_type, username, first_name, False, None
        )

    def push_photo(
        self,
        user_id: int,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        username: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """Queue a photo message (two sizes), optionally with a caption."""
        content: dict[str, Any] = {"photo": self._photo_sizes(50_000)}
        if caption is not None:
            content["caption"] = caption
        return self._push_user_message(
            "message", user_id, content, chat_id, chat_type, username, first_name, False, None
        )

    def push_voice(
        self,
        user_id: int,
        duration: int = 3,
        chat_id: int | None = None,
        chat_type: str = "private",
        *,
        username: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """Queue a voice message."""
        file_id, unique_id = self._new_file_ids("voice")
        voice = {
            "file_id": file_id, "file_unique_id": unique_id, "duration": duration, "mime_type": "audio/ogg",
            "file_size": 4_000 * duration,
        }
        return self._push_user_message(
            "message", user_id, {"voice": voice}, chat_id, chat_type, username, first_name, False, None
        )

    def push_callback(
        self,
        user_id: int,
        data: str,
        message: dict[str, Any] | int | None = None,
        chat_id: int | None = None,
        *,
        username: str | None = None,
        first_name: str | None = None,
        inline_message_id: str | None = None,
    ) -> str:
        """Queue a button press. ``message``: a Message dict, a message_id in the chat, or None for the
        bot's last message there (a synthetic one if it sent none). Returns the callback query id."""
        with self._lock:
            key = _chat_key(chat_id if chat_id is not None else user_id)
            query: dict[str, Any] = {
                "id": self._new_query_id(),
                "from": self._user(user_id, username, first_name),
                "chat_instance": str(zlib.crc32(str(key).encode())),
                "data": data,
            }
            if inline_message_id is not None:
                query["inline_message_id"] = inline_message_id
            else:
                if isinstance(message, dict):
                    target = message
                elif isinstance(message, int):
                    stored = self._messages.get((key, message))
                    if stored is None:
                        msg = f"no message {message} in chat {key}"
                        raise ValueError(msg)
                    target = stored
                else:
                    target = self._last_bot_message.get(key) or self._synthetic_bot_message(key)
                query["message"] = dict(target)
            self._callback_ids.add(query["id"])
            self._enqueue({"callback_query": query})
            return str(query["id"])

    def push_inline_query(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_type: str | None = "sender",
        username: str | None = None,
        first_name: str | None = None,
    ) -> str:
        """Queue an inline query; returns its id."""
        with self._lock:
            inline: dict[str, Any] = {
                "id": self._new_query_id(),
                "from": self._user(user_id, username, first_name),
                "query": query,
                "offset": offset,
            }
            if chat_type is not None:
                inline["chat_type"] = chat_type
            self._inline_query_ids.add(inline["id"])
            self._enqueue({"inline_query": inline})
            return str(inline["id"])

    def push_my_chat_member(
        self,
        user_id: int,
        new_status: str = "kicked",
        old_status: str = "member",
        chat_id: int | None = None,
        *,
        apply: bool = True,
    ) -> dict[str, Any]:
        """Queue a change of the bot's own membership (default: the user blocked the bot in private).
        With ``apply``, "kicked"/"left" also blocks the chat for sends and "member" unblocks it."""
        with self._lock:
            chat_type = "private" if chat_id is None or chat_id > 0 else "supergroup"
            chat = self._chat_for_push(user_id, chat_id, chat_type, None, None)
            update = {
                "my_chat_member": {
                    "chat": chat,
                    "from": self._user(user_id, None, None),
                    "date": int(time.time()),
                    "old_chat_member": self._bot_member(old_status),
                    "new_chat_member": self._bot_member(new_status),
                }
            }
            if apply:
                key = _chat_key(chat["id"])
                if new_status in ("kicked", "left"):
                    self._blocked.add(key)
                elif new_status in ("member", "administrator"):
                    self._blocked.discard(key)
            self._enqueue(update)
            return update

    # ---------------------------------------------------------------------------------- push helpers

    def _enqueue(self, update: dict[str, Any]) -> int:
        with self._lock:
            if "update_id" in update:
                update_id = int(update["update_id"])
                if update_id < self._next_update_id:
                    msg = f"update_id {update_id} is not above the last one ({self._next_update_id - 1})"
                    raise ValueError(msg)
            else:
                update_id = self._next_update_id
                update = {"update_id": update_id, **update}
            self._next_update_id = update_id + 1
            kind = next(key for key in update if key != "update_id")
            encoded = json.dumps(update, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            self._updates.append(_QueuedUpdate(update_id, kind, update, encoded))
            self._updates_cv.notify_all()
            self._changed.notify_all()
            return update_id

    def _push_user_message(
        self,
        kind: str,
        user_id: int,
        content: dict[str, Any],
        chat_id: int | None,
        chat_type: str,
        username: str | None,
        first_name: str | None,
        reply_to_bot: bool,
        reply_to_message_id: int | None,
    ) -> dict[str, Any]:
        with self._lock:
            chat = self._chat_for_push(user_id, chat_id, chat_type, username, first_name)
            key = _chat_key(chat["id"])
            message: dict[str, Any] = {
                "message_id": self._next_message_id(key),
                "from": self._user(user_id, username, first_name),
                "chat": chat,
                "date": int(time.time()),
                **content,
            }
            replied: dict[str, Any] | None = None
            if reply_to_message_id is not None:
                replied = self._messages.get((key, reply_to_message_id))
                if replied is None:
                    msg = f"no message {reply_to_message_id} in chat {key}"
                    raise ValueError(msg)
            elif reply_to_bot:
                replied = self._last_bot_message.get(key) or self._synthetic_bot_message(key)
            if replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
            self._messages[(key, message["message_id"])] = message
            self._last_user_message[(key, user_id)] = message
            update: dict[str, Any] = {kind: dict(message)}
            update["update_id"] = self._enqueue(update)
            return update

    def _auto_entities(self, text: str) -> list[dict[str, Any]]:
        entities: list[dict[str, Any]] = []
        command_end = 0
        command = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![^\s])", text)
        if command:
            entities.append({"type": "bot_command", "offset": 0, "length": _utf16_len(command.group())})
            command_end = command.end()
        for mention in re.finditer(r"(?<![\w@/])@[A-Za-z][A-Za-z0-9_]{3,31}\b", text):
            if mention.start() >= command_end:
                entities.append(
                    {
                        "type": "mention",
                        "offset": _utf16_len(text[: mention.start()]),
                        "length": _utf16_len(mention.group()),
                    }
                )
        return entities

    def _user(self, user_id: int, username: str | None, first_name: str | None) -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": first_name or f"User{user_id}",
            "username": username or f"user{user_id}",
            "language_code": "en",
        }

    def _bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.bot_first_name, "username": self.bot_username}

    def _bot_member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"status": status, "user": self._bot_user()}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            member.update(dict.fromkeys(_CHAT_MEMBER_ADMIN_RIGHTS, False))
        elif status not in ("member", "left"):
            msg = f"push_my_chat_member supports member, left, kicked and administrator, not {status!r}"
            raise ValueError(msg)
        return member

    def _chat_for_push(
        self, user_id: int, chat_id: int | None, chat_type: str, username: str | None, first_name: str | None
    ) -> dict[str, Any]:
        if chat_type == "private":
            chat: dict[str, Any] = {
                "id": user_id if chat_id is None else chat_id,
                "type": "private",
                "first_name": first_name or f"User{user_id}",
                "username": username or f"user{user_id}",
            }
        else:
            chat_id = DEFAULT_GROUP_CHAT_ID if chat_id is None else chat_id
            known = self._chats.get(chat_id)
            chat = known or {"id": chat_id, "type": chat_type, "title": f"Test {chat_type} {chat_id}"}
        self._chats[_chat_key(chat["id"])] = chat
        return chat

    def _chat_for_send(self, key: ChatKey) -> dict[str, Any]:
        known = self._chats.get(key)
        if known is not None:
            return known
        if isinstance(key, str):
            return {"id": -(10**12) - zlib.crc32(key.encode()), "type": "channel", "username": key.lstrip("@")}
        if key > 0:
            return {"id": key, "type": "private", "first_name": f"User{key}"}
        return {"id": key, "type": "supergroup" if key < -(10**12) else "group", "title": f"Chat {key}"}

    def _next_message_id(self, key: ChatKey) -> int:
        next_id = self._message_ids.get(key, 0) + 1
        self._message_ids[key] = next_id
        return next_id

    def _synthetic_bot_message(self, key: ChatKey) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self._next_message_id(key),
            "from": self._bot_user(),
            "chat": self._chat_for_send(key),
            "date": int(time.time()),
            "text": "(a message the bot sent before the test started)",
        }
        self._messages[(key, message["message_id"])] = message
        self._last_bot_message[key] = message
        return message

    def _new_query_id(self) -> str:
        self._query_counter += 1
        return str(4_000_000_000_000_000 + self._query_counter)

    def _new_file_ids(self, kind: str) -> tuple[str, str]:
        with self._lock:
            self._file_counter += 1
            return f"fake-{kind}-{self._file_counter}", f"u{kind}{self._file_counter}"

    def _photo_sizes(self, size: int, file_id: str | None = None) -> list[dict[str, Any]]:
        base, unique = self._new_file_ids("photo") if file_id is None else (file_id, f"u{file_id}")
        return [
            {"file_id": f"{base}-s", "file_unique_id": f"{unique}s", "width": 90, "height": 67, "file_size": 1_500},
            {"file_id": base, "file_unique_id": unique, "width": 1280, "height": 960, "file_size": size},
        ]

    # ---------------------------------------------------------------------------------- request handling

    def _dispatch(
        self, token: str, raw_method: str, raw_params: dict[str, Any], files: dict[str, UploadedFile], typed: bool
    ) -> tuple[int, bytes]:
        arrived = time.monotonic()
        method = self._spec.by_lower_name.get(raw_method.lower(), raw_method)
        with self._lock:
            self._arrivals[method] = self._arrivals.get(method, 0) + 1
            self._changed.notify_all()
        params: dict[str, Any] = dict(raw_params)
        response: dict[str, Any]
        body: bytes | None = None
        try:
            if method not in self._spec.methods:
                raise _ApiError(404, "Not Found", violation=f"unknown method {raw_method!r}")
            if not typed:
                params = self._spec.decode(method, raw_params)
            for name, upload in files.items():
                if name in self._spec.methods[method].fields:
                    params[name] = upload
            self._spec.check_method(method, params)
            _check_method_semantics(method, params)
            pause = self._delays.get(method, self._delays.get("*", 0.0))
            if pause:
                time.sleep(pause)
            handler = self._handlers.get(method) or self._generic_handler(method)
            with self._lock:
                self._apply_faults(method, params)
            result = handler(token, params)
            if isinstance(result, _EncodedUpdates):
                response = {"ok": True, "result": result.updates}
                body = b'{"ok":true,"result":[' + b",".join(result.encoded) + b"]}"
            else:
                response = {"ok": True, "result": result}
            status = 200
        except _ApiError as exc:
            status, response = exc.status, exc.payload()
            if exc.violation is not None:
                with self._lock:
                    self._violations.append(f"{method}: {exc.violation}")
        except Exception as exc:  # noqa: BLE001  # a bug in the fake must reach the test, not kill the server
            status = 500
            response = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {exc!r}"}
            with self._lock:
                self._violations.append(f"{method}: fake internal error: {traceback.format_exc()}")
        if body is None:
            body = json.dumps(response, ensure_ascii=False).encode("utf-8")
        self._record(Call(method, params, token, arrived, status, response, files))
        return status, body

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)
            self._calls_by_method.setdefault(call.method, []).append(call)
            if call.ok and call.method in MESSAGE_SENDING_METHODS and isinstance(call.result, dict):
                key = _chat_key(call.result["chat"]["id"]) if call.chat_id is None else call.chat_id
                self._sent_by_chat.setdefault(key, []).append(call)
            self._changed.notify_all()

    def _record_violation(self, text: str) -> None:
        with self._lock:
            self._violations.append(text)
            self._changed.notify_all()

    def _apply_faults(self, method: str, params: dict[str, Any]) -> None:
        key = _chat_key(params["chat_id"]) if "chat_id" in params else None
        for fault in self._faults:
            if fault.method in (method, "*") and (fault.chat is None or fault.chat == key):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                raise fault.error
        if key is not None and method in BLOCKABLE_METHODS and key in self._blocked:
            self._blocked_attempts[key] = self._blocked_attempts.get(key, 0) + 1
            private = isinstance(key, int) and key > 0
            description = "bot was blocked by the user" if private else "bot was kicked from the group chat"
            raise _ApiError(403, f"Forbidden: {description}")
        if method in RATE_LIMITED_METHODS:
            self._take_rate_token(key)

    def _take_rate_token(self, key: ChatKey | None) -> None:
        now = time.monotonic()
        buckets = [] if self._global_bucket is None else [self._global_bucket]
        if self._per_chat_rate is not None and key is not None:
            bucket = self._chat_buckets.get(key)
            if bucket is None:
                bucket = self._chat_buckets[key] = _Bucket(self._per_chat_rate, 1.0)
            buckets.append(bucket)
        if all(bucket.refill(now) >= 1 for bucket in buckets):
            for bucket in buckets:
                bucket.tokens -= 1
            return
        self._rate_limited += 1
        retry_after = max(1, math.ceil(max(bucket.wait_time() for bucket in buckets)))
        raise _ApiError(
            429, f"Too Many Requests: retry after {retry_after}", parameters={"retry_after": retry_after}
        )

    def _generic_handler(self, method: str) -> Callable[[str, dict[str, Any]], Any]:
        if self._spec.methods[method].returns == ("Boolean",):
            return self._true

        def unimplemented(token: str, params: dict[str, Any]) -> Any:
            self._record_violation(f"{method}: FakeTelegram has no handler for this method (add one)")
            raise _ApiError(501, f"Not Implemented: FakeTelegram has no handler for {method}")

        return unimplemented

    # ---------------------------------------------------------------------------------- method handlers

    def _true(self, token: str, params: dict[str, Any]) -> bool:
        return True

    def _get_me(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_webhook(self, token: str, params: dict[str, Any]) -> bool:
        with self._lock:
            self._webhook_url = str(params["url"])
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True

    def _delete_webhook(self, token: str, params: dict[str, Any]) -> bool:
        with self._lock:
            self._webhook_url = ""
            if params.get("drop_pending_updates"):
                self._updates.clear()
                self._changed.notify_all()
        return True

    def _get_webhook_info(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            pending = len(self._updates)
            return {"url": self._webhook_url, "has_custom_certificate": False, "pending_update_count": pending}

    def _get_updates(self, token: str, params: dict[str, Any]) -> _EncodedUpdates:
        offset = int(params.get("offset", 0))
        limit = min(100, max(1, int(params.get("limit", 100))))
        timeout = max(0.0, float(params.get("timeout", 0)))
        deadline = time.monotonic() + timeout
        with self._lock:
            if self._webhook_url:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(map(str, allowed)) if allowed else None
            generation = self._poll_generation.get(token, 0) + 1
            self._poll_generation[token] = generation
            self._updates_cv.notify_all()  # an older held request for this token ends with 409
            self._confirm(offset)
            self._pollers += 1
            self._changed.notify_all()
            try:
                while True:
                    batch = self._collect(limit)
                    if batch or timeout <= 0 or self._stopping:
                        return _EncodedUpdates([u.update for u in batch], [u.encoded for u in batch])
                    if self._poll_generation.get(token) != generation:
                        if _client_gone():  # e.g. PTB cancelled this poll on shutdown: not a conflict
                            return _EncodedUpdates([], [])
                        raise _ApiError(
                            409,
                            "Conflict: terminated by other getUpdates request; "
                            "make sure that only one bot instance is running",
                        )
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return _EncodedUpdates([], [])
                    self._updates_cv.wait(remaining)
            finally:
                self._pollers -= 1
                self._changed.notify_all()

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            while self._updates and self._updates[0].update_id < offset:
                self._updates.popleft()
        elif offset < 0:
            while len(self._updates) > -offset:
                self._updates.popleft()

    def _wanted(self, queued: _QueuedUpdate) -> bool:
        if self._allowed_updates is not None:
            return queued.kind in self._allowed_updates
        return queued.kind not in NOT_DELIVERED_BY_DEFAULT

    def _collect(self, limit: int) -> list[_QueuedUpdate]:
        # Updates the bot did not ask for are dropped, as Telegram does; popping them keeps scans short.
        while self._updates and not self._wanted(self._updates[0]):
            self._delivered_upto = max(self._delivered_upto, self._updates.popleft().update_id)
        batch: list[_QueuedUpdate] = []
        for queued in self._updates:
            if self._wanted(queued):
                batch.append(queued)
            self._delivered_upto = max(self._delivered_upto, queued.update_id)
            if len(batch) >= limit:
                break
        if batch:
            self._changed.notify_all()
        return batch

    def _reply_to(self, key: ChatKey, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            return None
        reply_key = _chat_key(reply["chat_id"]) if "chat_id" in reply else key
        stored = self._messages.get((reply_key, int(reply["message_id"])))
        if stored is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise _state_error("message to be replied not found")
        return {k: v for k, v in stored.items() if k != "reply_to_message"}

    def _store_bot_message(self, params: dict[str, Any], content: dict[str, Any]) -> dict[str, Any]:
        key = _chat_key(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": 0,
            "from": self._bot_user(),
            "chat": self._chat_for_send(key),
            "date": int(time.time()),
            **content,
        }
        replied = self._reply_to(key, params)
        if replied is not None:
            message["reply_to_message"] = replied
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        message["message_id"] = self._next_message_id(key)
        self._messages[(key, message["message_id"])] = message
        self._last_bot_message[key] = message
        return dict(message)

    def _send_message(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        text, entities = _check_text(params["text"], params.get("parse_mode"), params.get("entities"))
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        with self._lock:
            return self._store_bot_message(params, content)

    def _caption_content(self, params: dict[str, Any]) -> dict[str, Any]:
        content: dict[str, Any] = {}
        if params.get("caption"):
            caption, entities = _check_text(
                params["caption"], params.get("parse_mode"), params.get("caption_entities"), caption=True
            )
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def _send_photo(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        photo = params["photo"]
        if isinstance(photo, UploadedFile):
            sizes = self._photo_sizes(photo.size)
        else:
            sizes = self._photo_sizes(50_000, file_id=str(photo) if not str(photo).startswith("http") else None)
        content = {"photo": sizes, **self._caption_content(params)}
        with self._lock:
            return self._store_bot_message(params, content)

    def _send_media(self, token: str, params: dict[str, Any]) -> dict[str, Any]:
        kind = next(
            k for k in ("document", "sticker", "voice", "audio", "video", "animation") if k in params
        )
        source = params[kind]
        file_id, unique_id = self._new_file_ids(kind)
        media: dict[str, Any] = {"file_id": file_id, "file_unique_id": unique_id}
        if isinstance(source, UploadedFile):
            media["file_size"] = source.size
            media["file_name"] = source.filename
        if kind == "sticker":
            media.pop("file_name", None)
            media.update(type="regular", width=512, height=512, is_animated=False, is_video=False)
        elif kind in ("voice", "audio"):
            media["duration"] = 1
        elif kind in ("video", "animation"):
            media.update(width=640, height=480, duration=1)
        content = {kind: media, **self._caption_content(params)}
        with self._lock:
            return self._store_bot_message(params, content)

    def _editable_message(self, params: dict[str, Any]) -> tuple[ChatKey, dict[str, Any]] | None:
        if "inline_message_id" in params:
            return None
        key = _chat_key(params["chat_id"])
        stored = self._messages.get((key, int(params["message_id"])))
        if stored is None:
            raise _state_error("message to edit not found")
        if stored.get("from", {}).get("id") != self.bot_id:
            raise _state_error("message can't be edited")
        return key, stored

    def _edit(self, params: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | bool:
        with self._lock:
            found = self._editable_message(params)
            if found is None:
                return True
            _, stored = found
            markup = params.get("reply_markup")
            if isinstance(markup, dict) and markup.get("inline_keyboard"):
                changes["reply_markup"] = markup
            else:
                changes["reply_markup"] = None
            if all(stored.get(k) == v for k, v in changes.items()):
                raise _state_error(
                    "message is not modified: specified new message content and reply markup are exactly "
                    "the same as a current content and reply markup of the message"
                )
            for name, value in changes.items():
                if value is None:
                    stored.pop(name, None)
                else:
                    stored[name] = value
            stored["edit_date"] = int(time.time())
            return dict(stored)

    def _edit_message_text(self, token: str, params: dict[str, Any]) -> dict[str, Any] | bool:
        if "text" not in params:
            self._record_violation("editMessageText: FakeTelegram only supports edits with text")
            raise _ApiError(501, "Not Implemented: FakeTelegram only supports editMessageText with text")
        text, entities = _check_text(params["text"], params.get("parse_mode"), params.get("entities"))
        return self._edit(params, {"text": text, "entities": entities or None})

    def _edit_message_reply_markup(self, token: str, params: dict[str, Any]) -> dict[str, Any] | bool:
        return self._edit(params, {})

    def _delete_message(self, token: str, params: dict[str, Any]) -> bool:
        with self._lock:
            key = _chat_key(params["chat_id"])
            if self._messages.pop((key, int(params["message_id"])), None) is None:
                raise _state_error("message to delete not found")
        return True

    def _answer_callback_query(self, token: str, params: dict[str, Any]) -> bool:
        with self._lock:
            if params["callback_query_id"] not in self._callback_ids:
                raise _state_error("query is too old and response timeout expired or query ID is invalid")
        return True

    def _answer_inline_query(self, token: str, params: dict[str, Any]) -> bool:
        with self._lock:
            if params["inline_query_id"] not in self._inline_query_ids:
                raise _state_error("query is too old and response timeout expired or query ID is invalid")
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope")
        scope_key = "" if not scope or scope == {"type": "default"} else json.dumps(scope, sort_keys=True)
        return scope_key, str(params.get("language_code", ""))

    def _set_my_commands(self, token: str, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands[self._commands_key(params)] = list(params["commands"])
        return True

    def _get_my_commands(self, token: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._commands.get(self._commands_key(params), []))

    def _delete_my_commands(self, token: str, params: dict[str, Any]) -> bool:
        with self._lock:
            self._commands.pop(self._commands_key(params), None)
        return True


# --------------------------------------------------------------------------------------------- HTTP layer


_PATH = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]*)/?")
_NOT_FOUND = b'{"ok":false,"error_code":404,"description":"Not Found"}'


def _parse_body(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, UploadedFile], bool]:
    """Return (parameters, files, typed): ``typed`` is True when values are already JSON-decoded."""
    media_type = content_type.partition(";")[0].strip().lower()
    if not body:
        return {}, {}, False
    if media_type == "application/json":
        data = json.loads(body)
        if not isinstance(data, dict):
            msg = "a JSON body must be an object"
            raise ValueError(msg)
        return data, {}, True
    if media_type == "multipart/form-data":
        return (*_parse_multipart(content_type, body), False)
    return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)), {}, False


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    if not message.is_multipart():
        msg = "malformed multipart body"
        raise ValueError(msg)
    params: dict[str, Any] = {}
    files: dict[str, UploadedFile] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(name, filename, part.get_content_type(), len(data), data)
        else:
            params[name] = data.decode(part.get_content_charset() or "utf-8")
    return params, files


def _client_gone() -> bool:
    """Whether the client of the current request has closed its connection."""
    connection: socket.socket | None = getattr(_request_context, "connection", None)
    if connection is None:
        return False
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    fake: FakeTelegram

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Dropped connections are routine (cancelled long polls, killed bots); stay quiet about them."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep request lines (and with them bot tokens) out of the test output."""

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        body = self._read_body()
        match = _PATH.fullmatch(url.path)
        if match is None:
            fake._record_violation(f"request to unexpected path {url.path!r}: is base_url right?")
            self._send(404, _NOT_FOUND)
            return
        token, method = match.groups()
        try:
            params, files, typed = _parse_body(self.headers.get("Content-Type", ""), body)
        except (ValueError, UnicodeDecodeError) as exc:
            fake._record_violation(f"{method}: unreadable request body: {exc}")
            self._send(400, b'{"ok":false,"error_code":400,"description":"Bad Request: can\'t parse request body"}')
            return
        if url.query:
            params = {**dict(parse_qsl(url.query, keep_blank_values=True)), **params}
        _request_context.connection = self.connection
        status, payload = fake._dispatch(token, method, params, files, typed)
        self._send(status, payload)

    def _send(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

