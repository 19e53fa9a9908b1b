"""The subject is data: the FAQ file names the entries and topics the bot relies on, a file that lacks them is
refused at start and on /reload, and a second FAQ on another subject (sleep hygiene) runs the whole bot."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from faq.loader import load_faq
from faq.matcher import Matcher
from faq.models import DEFAULT_FAQ_PATH
from tests.botproc import RUN_BOT, BotProcess, clean_env
from tests.conftest import DATA
from tests.fake_telegram import DEFAULT_BOT_USERNAME, Call, FakeTelegram

SLEEP_FAQ = DATA / "sleep" / "faq.yaml"
ADMIN = 731_001
USER = 731_002
GROUP = -100_731_003
WARNING_SIGN = "my legs are numb and weak since this morning"
ANSWERED = "does massage help back pain"


def without_entry(entry_id: str) -> str:
    """Return the shipped FAQ's YAML with one entry deleted, and every `related` link to it, as an operator
    tidying the file would leave it."""
    data = yaml.safe_load(DEFAULT_FAQ_PATH.read_text(encoding="utf-8"))
    data["entries"] = [e for e in data["entries"] if e["id"] != entry_id]
    for entry in data["entries"]:
        if "related" in entry:
            entry["related"] = [r for r in entry["related"] if r != entry_id]
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def run_console(tmp_path: Path, faq_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    """Pipe `lines` into `python run_bot.py --console` with FAQ_PATH set; return the finished process."""
    return subprocess.run(
        [sys.executable, str(RUN_BOT), "--console"],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        env=clean_env({"DATABASE_PATH": str(tmp_path / "bot.sqlite3"), "FAQ_PATH": str(faq_path)}),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def say(tg: FakeTelegram, user_id: int, text: str) -> Call:
    """Send a private message as the user and return the bot's next message to them."""
    tg.push_message(user_id, text)
    return tg.wait_for_message(user_id, timeout=15)


# --- the FAQ's contract: the entries the bot relies on ------------------------------------------------


@pytest.mark.parametrize(
    ("entry_id", "role"), [("see-a-doctor", "warning_signs"), ("contraindications", "contraindications")]
)
def test_a_faq_without_a_safety_entry_stops_the_start_with_one_line(tmp_path: Path, entry_id: str, role: str) -> None:
    """An FAQ_PATH file without see-a-doctor (or contraindications) stops run_bot with exit 2 and one line
    naming the missing entry and its role, instead of starting a bot that fails on every warning sign."""
    broken = tmp_path / "faq.yaml"
    broken.write_text(without_entry(entry_id), encoding="utf-8")

    done = run_console(tmp_path, broken, ["does massage help back pain"])

    assert done.returncode == 2, done.stdout
    [line] = done.stderr.splitlines()
    assert line.startswith(f"error: the FAQ file is invalid: {broken}: roles: '{role}': names entry '{entry_id}'")
    assert "which the file does not have" in line
    assert done.stdout == ""


@pytest.fixture
def bot_on_a_copy(tmp_path: Path) -> Iterator[tuple[FakeTelegram, Path]]:
    """A real bot on the loopback fake, reading a copy of the shipped FAQ that the test may edit."""
    faq_path = tmp_path / "faq.yaml"
    faq_path.write_text(DEFAULT_FAQ_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    env = {"FAQ_PATH": str(faq_path), "ADMIN_IDS": str(ADMIN)}
    with FakeTelegram() as tg, BotProcess(tg, tmp_path, env=env):
        yield tg, faq_path


def test_reload_of_a_faq_without_see_a_doctor_keeps_the_old_one(bot_on_a_copy: tuple[FakeTelegram, Path]) -> None:
    """/reload of a file without see-a-doctor is refused, naming it; the old FAQ stays, so a warning sign
    still gets the see-a-doctor answer (and inline mode still answers), not "something went wrong"."""
    tg, faq_path = bot_on_a_copy
    faq_path.write_text(without_entry("see-a-doctor"), encoding="utf-8")

    refused = say(tg, ADMIN, "/reload").text or ""

    assert refused.startswith("❌ The FAQ file has errors, so I kept the old one:")
    assert "roles: 'warning_signs': names entry 'see-a-doctor', which the file does not have" in refused
    warned = say(tg, USER, WARNING_SIGN).text or ""
    assert warned.startswith("⚠️ You mentioned")
    assert "<b>When should I see a doctor about back pain?</b>" in warned
    query_id = tg.push_inline_query(USER, WARNING_SIGN)
    inline = tg.wait_for(lambda c: c.method == "answerInlineQuery" and c.params["inline_query_id"] == query_id)
    assert inline.ok
    assert inline.params["results"][0]["id"] == "see-a-doctor"
    assert (say(tg, USER, ANSWERED).text or "").startswith("<b>Can massage help with back pain?</b>")
    assert tg.violations == []


# --- a second subject, through FAQ_PATH alone -----------------------------------------------------------


def test_the_sleep_faq_loads_with_its_own_topics_and_roles() -> None:
    """tests/data/sleep/faq.yaml validates, with its own topics, and roles that name its own entries."""
    sleep = load_faq(SLEEP_FAQ)

    assert sleep.subject == "sleep hygiene"
    assert [t.id for t in sleep.topics] == ["habits", "bedroom", "trouble", "health", "about"]
    assert sleep.warning_signs.id == "sleep-warning-signs"
    assert sleep.contraindications.id == "ask-before-changing"
    assert {e.id for e in sleep.entries}.isdisjoint(load_faq().by_id)  # nothing borrowed from the shipped FAQ


@pytest.mark.parametrize("path", [DEFAULT_FAQ_PATH, SLEEP_FAQ], ids=["shipped", "sleep"])
def test_every_example_the_bot_suggests_is_answered(path: Path) -> None:
    """The questions /help and /start suggest trying are answered by their own FAQ."""
    faq = load_faq(path)
    matcher = Matcher(faq)

    assert faq.examples
    assert {q: matcher.match(q).tier for q in faq.examples} == dict.fromkeys(faq.examples, "answer")


def test_the_console_runs_on_the_sleep_faq(tmp_path: Path) -> None:
    """`FAQ_PATH=tests/data/sleep/faq.yaml run_bot.py --console` greets about sleep, answers a sleep question,
    lists the sleep topics and sends a warning sign to its own see-a-doctor entry."""
    done = run_console(
        tmp_path,
        SLEEP_FAQ,
        ["how many hours of sleep should i get", "/topics", "i get chest pain at night", "bitcoin price"],
    )

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "I answer questions about sleep hygiene" in out
    assert "How much sleep do I need?\n\nMost adults need about seven to nine hours." in out
    assert "  [1] Daily habits\n  [2] The bedroom\n  [3] Trouble sleeping\n  [4] Health and safety\n" in out
    assert "⚠️ You mentioned chest pain" in out
    assert "When should I see a doctor about my sleep?" in out
    assert "I know about sleep hygiene: daily habits, the bedroom, trouble sleeping, health and safety." in out
    assert "massage" not in out.lower()


SLEEP_WORDS_ONLY = ("massage", "back pain", "your back", "therapist", "spine")


def test_the_console_on_the_sleep_faq_speaks_of_sleep_only(tmp_path: Path) -> None:
    """On the sleep FAQ, /start, /help, /about, /benefits and small talk come from that file's wording: they
    speak of sleep and never of massage or backs."""
    done = run_console(
        tmp_path, SLEEP_FAQ, ["/help", "/about", "/benefits", "thanks so much x", "who are you", "ok", "bye"]
    )

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "For sleep problems that last for weeks, see a doctor." in out  # /start
    assert "/benefits — Daily habits for better sleep" in out  # /help
    assert "I answer common questions about sleep hygiene from a small FAQ" in out  # /about
    assert "🌙 Daily habits for better sleep\nSmall changes that make a good night more likely." in out
    assert "[1] 🌙 Habits" in out  # the menu button
    assert "You're welcome! Sleep well." in out
    assert "I'm a FAQ bot, not a person: I answer questions about sleep hygiene." in out
    assert "👍 Anything else?" in out
    assert "Good night, and sleep well!" in out
    assert not [w for w in SLEEP_WORDS_ONLY if w in out.lower()]


def test_the_telegram_bot_runs_on_the_sleep_faq(tmp_path: Path) -> None:
    """Over the loopback Bot API, the bot on the sleep FAQ answers its questions, shows its topics and
    routes its warning signs and contraindications to its own safety entries."""
    env = {"FAQ_PATH": str(SLEEP_FAQ)}
    with FakeTelegram() as tg, BotProcess(tg, tmp_path, env=env):
        answer = say(tg, USER, "is coffee in the afternoon bad for my sleep")
        topics = say(tg, USER, "/topics")
        warned = say(tg, USER, "i have chest pain when i lie down at night")
        careful = say(tg, USER, "im pregnant, can i take melatonin")
        benefits = say(tg, USER, "/benefits")
        tg.push_message(USER, f"@{DEFAULT_BOT_USERNAME} thanks so much x", chat_id=GROUP, chat_type="supergroup")
        thanked = tg.wait_for_message(GROUP, timeout=15)
        commands = {c["command"]: c["description"] for c in tg.commands}

    assert (answer.text or "").startswith("<b>Is coffee in the afternoon bad for sleep?</b>")
    assert [b["callback_data"] for b in topics.inline_buttons] == [
        "t:habits",
        "t:bedroom",
        "t:trouble",
        "t:health",
        "t:about",
    ]
    assert [b["text"] for b in topics.inline_buttons][:3] == ["Daily habits", "The bedroom", "Trouble sleeping"]
    assert "<b>When should I see a doctor about my sleep?</b>" in (warned.text or "")
    assert (warned.text or "").startswith("⚠️ You mentioned <b>chest pain")
    assert "<b>Who should ask a doctor before changing their sleep routine?</b>" in (careful.text or "")
    assert "What is sleep hygiene?" in [b["text"] for b in benefits.inline_buttons]
    assert (thanked.text or "").startswith("You're welcome! Sleep well.")  # small talk in a group
    assert commands["benefits"] == "Daily habits for better sleep"
    assert tg.violations == []
