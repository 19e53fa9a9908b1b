"""HTML for Telegram, and plain text for the console, from the same replies.

All FAQ and user text is escaped here, and no message ever exceeds Telegram's 4,096 characters.
"""

from __future__ import annotations

import html
import re

MAX_MESSAGE_CHARS = 4096
MAX_BUTTON_CHARS = 60

_TAG = re.compile(r"</?[a-z][a-z0-9-]*(?:\s[^<>]*)?>")


def esc(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def visible_length(markup: str) -> int:
    """Return the length Telegram counts for an HTML message: tags removed, entities as one character."""
    return len(html.unescape(_TAG.sub("", markup)))


def fit(markup: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Cut an HTML message to `limit` visible characters, on a line boundary, without breaking tags."""
    if visible_length(markup) <= limit:
        return markup
    lines = markup.split("\n")
    while lines and visible_length("\n".join(lines)) > limit - 2:
        lines.pop()
    if not lines:
        return esc(to_plain(markup)[: limit - 1]) + "…"
    kept = "\n".join(lines)
    return kept + "\n…" + _closing_tags(kept)


def _closing_tags(markup: str) -> str:
    """Return the end tags for the tags `markup` leaves open (a cut inside a multi-line <pre>)."""
    open_tags: list[str] = []
    for tag in _TAG.finditer(markup):
        name = tag.group().strip("</>").split()[0]
        if not tag.group().startswith("</"):
            open_tags.append(name)
        elif open_tags and open_tags[-1] == name:
            open_tags.pop()
    return "".join(f"</{name}>" for name in reversed(open_tags))


def to_plain(markup: str) -> str:
    """Return the text a reader sees: tags stripped, entities decoded (for the console)."""
    return html.unescape(_TAG.sub("", markup))


def button_label(text: str) -> str:
    """Shorten a label to fit comfortably on a button."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_BUTTON_CHARS else text[: MAX_BUTTON_CHARS - 1] + "…"
