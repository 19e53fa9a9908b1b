"""Rendering for Telegram's HTML mode: escaping, the 4,096-character cut, plain text for the console.

The fake Bot API's HTML parser (tests/fake_telegram.parse_html) is the independent judge of what Telegram
would accept and how many characters it would count.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.render import MAX_BUTTON_CHARS, MAX_MESSAGE_CHARS, button_label, esc, fit, to_plain, visible_length
from tests.fake_telegram import parse_html


def telegram_text(markup: str) -> str:
    """The text Telegram would store for `markup`; raises EntityParseError where it would refuse it."""
    plain, _ = parse_html(markup)
    return plain


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a < b", "a &lt; b"),
        ("a > b", "a &gt; b"),
        ("R&D", "R&amp;D"),
        ("&amp;", "&amp;amp;"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ('say "hi" it\'s', 'say "hi" it\'s'),
        ("plain", "plain"),
    ],
)
def test_esc_makes_text_literal_in_html_mode(text: str, escaped: str) -> None:
    """esc() escapes <, > and &, so Telegram shows the text exactly as typed."""
    assert esc(text) == escaped
    assert telegram_text(esc(text)) == text


@given(st.text())
def test_any_escaped_text_is_shown_verbatim(text: str) -> None:
    """Whatever a user types, once escaped Telegram parses it back to the same characters."""
    assert telegram_text(esc(text)) == text
    assert to_plain(esc(text)) == text


def test_visible_length_counts_what_the_reader_sees() -> None:
    """Tags count for nothing and an entity for one character, as Telegram counts."""
    markup = "<b>Tip</b> &amp; <i>more</i> &lt;3"
    assert visible_length(markup) == len(telegram_text(markup)) == len("Tip & more <3")


def test_fit_leaves_a_message_within_the_limit_unchanged() -> None:
    """A message that fits is sent as written."""
    markup = "<b>Title</b>\n\n" + "x" * (MAX_MESSAGE_CHARS - 7)
    assert visible_length(markup) == MAX_MESSAGE_CHARS
    assert fit(markup) == markup


def test_fit_cuts_on_a_line_boundary_and_marks_the_cut() -> None:
    """A long message loses whole lines from the end and ends with an ellipsis line."""
    lines = [f"<b>{n}</b> " + "word " * 20 for n in range(100)]
    cut = fit("\n".join(lines))
    assert visible_length(cut) <= MAX_MESSAGE_CHARS
    assert cut.endswith("\n…")
    assert cut.removesuffix("\n…").split("\n") == lines[: cut.count("\n")]


def test_fit_counts_entities_as_one_character() -> None:
    """Escaped text is measured as shown, so `&amp;` does not make a message look five times longer."""
    markup = "&amp;" * MAX_MESSAGE_CHARS
    assert fit(markup) == markup


def test_fit_cuts_a_single_huge_line_into_valid_text() -> None:
    """A message with no line breaks is cut to the limit as escaped plain text."""
    cut = fit("<b>" + "&lt;x&gt; " * 2000 + "</b>")
    shown = telegram_text(cut)
    assert len(shown) == MAX_MESSAGE_CHARS
    assert shown.startswith("<x> <x>")
    assert shown.endswith("…")


def test_fit_keeps_a_multiline_pre_block_valid() -> None:
    """Cutting inside a multi-line <pre> block (as /stats and /reload send) still closes the tag."""
    report = "\n".join(f"  {n:>5}  an unanswered question about massage" for n in range(300))
    cut = fit(f"<pre>{esc(report)}</pre>")
    assert len(telegram_text(cut)) <= MAX_MESSAGE_CHARS
    assert cut.endswith("</pre>")


@st.composite
def messages(draw: st.DrawFn) -> str:
    """HTML messages shaped like the bot's: escaped lines, some bold or italic, maybe all in <pre>."""
    lines = []
    for text in draw(st.lists(st.text(max_size=30), max_size=40)):
        text *= draw(st.integers(min_value=1, max_value=30))
        tag = draw(st.sampled_from(["", "b", "i", "code"]))
        lines.append(f"<{tag}>{esc(text)}</{tag}>" if tag else esc(text))
    markup = "\n".join(lines)
    return f"<pre>{markup}</pre>" if draw(st.booleans()) and "<" not in markup else markup


@given(messages(), st.integers(min_value=20, max_value=MAX_MESSAGE_CHARS))
def test_fit_always_yields_valid_html_within_the_limit(markup: str, limit: int) -> None:
    """Whatever is cut, Telegram can parse the result and it is at most `limit` characters."""
    cut = fit(markup, limit)
    assert len(telegram_text(cut)) <= limit
    assert visible_length(cut) <= limit
    if visible_length(markup) <= limit:
        assert cut == markup


@given(st.lists(st.text(min_size=1, max_size=60), min_size=2, max_size=80), st.integers(min_value=20, max_value=400))
def test_fit_closes_a_cut_pre_block(lines: list[str], limit: int) -> None:
    """A <pre> block cut anywhere is still closed, so Telegram accepts the message."""
    cut = fit(f"<pre>{esc(chr(10).join(lines))}</pre>", limit)
    assert len(telegram_text(cut)) <= limit


def test_to_plain_strips_tags_and_decodes_entities() -> None:
    """The console shows the same reply without markup."""
    assert to_plain("<b>Tip</b> &amp; <i>more</i> &lt;3\n<pre>x</pre>") == "Tip & more <3\nx"


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Short", "Short"),
        ("  spaced \n out  ", "spaced out"),
        ("x" * MAX_BUTTON_CHARS, "x" * MAX_BUTTON_CHARS),
        ("x" * (MAX_BUTTON_CHARS + 1), "x" * (MAX_BUTTON_CHARS - 1) + "…"),
    ],
)
def test_button_label_is_one_short_line(label: str, expected: str) -> None:
    """Button labels are single-line and at most 60 characters, cut with an ellipsis."""
    assert button_label(label) == expected
