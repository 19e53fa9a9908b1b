"""The compact `callback_data` scheme for inline buttons, checked on receipt.

Every button carries at most 64 bytes, such as `a:circulation`. A press whose data does not parse, or
that names an entry or topic the FAQ no longer has, becomes `None`, and the user gets a short notice.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal

from faq.models import Faq

MAX_CALLBACK_BYTES = 64
DAILY_PRESETS = ("08:00", "12:00", "18:00", "21:00")

Action = Literal[
    "answer",  # a:<entry id>
    "source",  # s:<entry id>
    "topics",  # m
    "topic",  # t:<topic>
    "benefits",  # b
    "tip",  # tip
    "another_tip",  # tn
    "daily",  # d
    "daily_set",  # d:<HH:MM>:<asker's id>
    "daily_off",  # d:off:<asker's id>
    "feedback_up",  # f+:<entry id>
    "feedback_down",  # f-:<entry id>
    "forget_yes",  # fg:yes:<asker's id> (only the asker's press acts)
    "forget_no",  # fg:no:<asker's id>
    "review",  # r (admins: show the review queue)
    "review_undo",  # ru
    "review_label",  # rl:<group>:<entry id | ~off | ~warn | ~new>
    "review_other",  # ro:<group> (browse topics)
    "review_topic",  # rt:<group>:<topic> (browse a topic's entries)
    "review_skip",  # rs:<group>
]

_FIXED: dict[str, Action] = {
    "m": "topics",
    "b": "benefits",
    "tip": "tip",
    "tn": "another_tip",
    "d": "daily",
    "d:off": "daily_off",
    "fg:yes": "forget_yes",
    "fg:no": "forget_no",
    "r": "review",
    "ru": "review_undo",
}
_PREFIXED: dict[str, Action] = {"a": "answer", "s": "source", "t": "topic", "f+": "feedback_up", "f-": "feedback_down"}
_CODE = {action: code for code, action in _FIXED.items()} | {action: code for code, action in _PREFIXED.items()}
# Buttons that change the asker's own data end in the asker's id (`:<id>`): in a group anyone can press them,
# and only the asker's press may act.
OWNED: frozenset[Action] = frozenset({"forget_yes", "forget_no", "daily_set", "daily_off"})
_OWNER = re.compile(r"^(0|-?[1-9][0-9]{0,18})$")
_ARG = re.compile(r"^[a-z0-9-]{1,48}$")
_REVIEW: dict[str, Action] = {"rl": "review_label", "ro": "review_other", "rt": "review_topic", "rs": "review_skip"}
_REVIEW_CODE = {action: code for code, action in _REVIEW.items()}
_GROUP = re.compile(r"^[0-9]{1,12}$")
REVIEW_SPECIAL = frozenset({"~off", "~warn", "~new"})  # off-topic, warning sign, no entry fits


@dataclass(frozen=True, slots=True)
class Press:
    """A decoded button press: what to do, and on which entry, topic or time."""

    action: Action
    arg: str = ""
    group: int = 0  # review buttons: the queue group they act on
    owner: int | None = None  # buttons on the asker's own data: the asker's id (a user's, or a chat's)


def encode(action: Action, arg: str = "", group: int = 0, owner: int | None = None) -> str:
    """Return the callback data for a button; raise ValueError if it would not fit Telegram's 64 bytes,
    or if a button acting on the asker's own data names no asker."""
    if (action in OWNED) != (owner is not None):
        msg = f"a {action} button {'needs an' if action in OWNED else 'takes no'} asker's id"
        raise ValueError(msg)
    if action in _REVIEW_CODE:
        data = f"{_REVIEW_CODE[action]}:{group}" + (f":{arg}" if arg else "")
    elif action == "daily_set":
        data = f"d:{arg}"
    elif action in _PREFIXED.values():
        data = f"{_CODE[action]}:{arg}"
    else:
        data = _CODE[action]
    if owner is not None:
        data = f"{data}:{owner}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        msg = f"callback data for {action} is over {MAX_CALLBACK_BYTES} bytes: {data!r}"
        raise ValueError(msg)
    return data


def decode(data: str | None, faq: Faq) -> Press | None:
    """Parse callback data from Telegram; None for anything unknown, stale or tampered with."""
    if not data or len(data.encode("utf-8", "replace")) > MAX_CALLBACK_BYTES:
        return None
    head, _, owner = data.rpartition(":")
    owned = _decode_unowned(head, faq) if _OWNER.match(owner) else None
    if owned is not None and owned.action in OWNED:
        return dataclasses.replace(owned, owner=int(owner))
    press = _decode_unowned(data, faq)
    return None if press is None or press.action in OWNED else press  # an owned button naming no asker is stale


def _decode_unowned(data: str, faq: Faq) -> Press | None:
    if data in _FIXED:
        return Press(_FIXED[data])
    code, sep, arg = data.partition(":")
    if not sep:
        return None
    if code in _REVIEW:
        return _decode_review(_REVIEW[code], arg, faq)
    if code == "d":
        return Press("daily_set", arg) if arg in DAILY_PRESETS else None
    action = _PREFIXED.get(code)
    if action is None or not _ARG.match(arg):
        return None
    if action == "topic":
        return Press(action, arg) if arg in faq.topics_by_id else None
    return Press(action, arg) if faq.entry(arg) is not None else None


def _decode_review(action: Action, rest: str, faq: Faq) -> Press | None:
    group, _, arg = rest.partition(":")
    if not _GROUP.match(group):
        return None
    if action in ("review_other", "review_skip"):
        return Press(action, "", int(group)) if not arg else None
    if action == "review_topic":
        return Press(action, arg, int(group)) if arg in faq.topics_by_id else None
    if arg in REVIEW_SPECIAL or (_ARG.match(arg) and faq.entry(arg) is not None):
        return Press(action, arg, int(group))
    return None
