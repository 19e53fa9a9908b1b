"""Console mode: `python run_bot.py --console` chats on stdin/stdout with numbered buttons, no token needed."""

from __future__ import annotations

import io
import os
import pty
import select
import signal
import subprocess
import sys
from pathlib import Path

from bot.config import Config
from bot.console import CONSOLE_USER_ID, Console, run_console
from bot.core import Conversation, Knowledge, Sender
from bot.storage import Store
from tests.botproc import RUN_BOT, clean_env
from tests.faq_copy import copy_faq


def run_console_process(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    """Pipe `lines` into `python run_bot.py --console` without a token; return the finished process."""
    env = clean_env({"DATABASE_PATH": str(tmp_path / "console.sqlite3")})
    return subprocess.run(
        [sys.executable, str(RUN_BOT), "--console"],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=30,
        check=False,
    )


async def chat(tmp_path: Path, lines: list[str]) -> str:
    """Run the console in-process on `lines`; return everything it printed."""
    out = io.StringIO()
    config = Config(token="", database_path=tmp_path / "console.sqlite3")
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    assert await run_console(config, Knowledge.load(config.faq_path), stdin, out) == 0
    return out.getvalue()


def test_piped_session_prints_replies_and_numbered_buttons_and_exits_0_at_eof(tmp_path: Path) -> None:
    """A piped session answers a question, presses buttons by number, handles commands and exits 0 at EOF."""
    done = run_console_process(
        tmp_path,
        ["does massage help with back pain", "/topics", "1", "2", "/frobnicate", "/help"],
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    # The welcome, with the menu as numbered buttons.
    assert "I answer questions about massage therapy for back pain" in out
    assert "  [1] 💆 Benefits\n  [2] 📚 Topics\n  [3] 💡 Tip of the day\n  [4] ⏰ Daily tip\n" in out
    # The typed question, answered with its tip and feedback buttons.
    assert "Can massage help with back pain?\n\nIt can help many people." in out
    assert "💡 Tip:" in out
    assert "] 👍 Helpful\n" in out
    # /topics, then "1" opens the first topic, then "2" its second question.
    assert "Massage basics\nPick a question:\n  [1] What is massage therapy?\n" in out
    assert "\nHow old is massage therapy and where does it come from?\n\nMassage therapy has been around" in out
    # An unknown command, then /help.
    assert "I don't know that command. Send /help to see what I can do." in out
    assert "What I can do" in out
    # Plain text for a terminal: no HTML markup, and no prompt when stdin is a pipe.
    assert "<b>" not in out
    assert "&amp;" not in out
    assert "> " not in out
    assert (tmp_path / "console.sqlite3").exists()


def test_console_needs_no_token_and_ignores_a_bad_one(tmp_path: Path) -> None:
    """--console starts with no TELEGRAM_BOT_TOKEN, and even with a malformed one."""
    for token in (None, "not-a-token"):
        env = clean_env({"DATABASE_PATH": str(tmp_path / "t.sqlite3")})
        if token is not None:
            env["TELEGRAM_BOT_TOKEN"] = token
        done = subprocess.run(
            [sys.executable, str(RUN_BOT), "--console"],
            input="",
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "General information, not medical advice." in done.stdout


async def test_button_press_shows_its_notice(tmp_path: Path) -> None:
    """Pressing 👍 by its number shows the short acknowledgement a Telegram user would see."""
    out = await chat(tmp_path, ["can massage help me sleep", "4"])
    assert "] 👍 Helpful\n" in out
    assert "(Thanks, glad it helped!)" in out


async def test_a_number_with_no_button_says_so(tmp_path: Path) -> None:
    """A bare number that matches no button says which numbers do, instead of being answered as a question."""
    out = await chat(tmp_path, ["99", "0", "9" * 5000, "/about", "2"])

    assert "There is no button 99: type 1 to 4 to press one, or type a question." in out
    assert "There is no button 0: type 1 to 4" in out
    assert "There is no button 999999999999: type 1 to 4" in out
    assert "There is no button 2: type 1 to press one" in out  # /about has one button
    assert "rather not guess" not in out


async def test_daily_shows_the_zone_the_user_chose(tmp_path: Path) -> None:
    """After choosing Berlin time, /daily offers its times in Europe/Berlin, and a time button keeps that zone."""
    out = await chat(tmp_path, ["/daily", "/daily 07:30 Europe/Berlin", "/daily", "2"])

    first, _, later = out.partition("/daily off to stop")
    assert "Pick a time (UTC)" in first
    assert "Pick a time (Europe/Berlin)" in later
    assert "Pick a time (UTC)" not in later
    assert "(Daily tip at 12:00)" in later  # the second time button
    assert "You'll get a tip at 12:00 every day, Europe/Berlin time" in later


HUNG = 30.0  # seconds of silence after which a console that should have exited is called hung (not a timing check)


def read_until(fd: int, text: bytes | None) -> bytes:
    """Read `fd` until `text` has appeared, or (text None) until it closes; raise TimeoutError if it hangs."""
    seen = b""
    while text is None or text not in seen:
        ready, _, _ = select.select([fd], [], [], HUNG)
        if not ready:
            msg = f"no output for {HUNG} s; so far: {seen.decode(errors='replace')[-500:]!r}"
            raise TimeoutError(msg)
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # a terminal whose other end closed: the process has exited
            break
        if not chunk:
            break
        seen += chunk
    return seen


MENU_SHOWN = "[4] ⏰ Daily tip\n".encode()


def test_ctrl_c_at_the_prompt_says_bye_at_once_with_no_traceback(tmp_path: Path) -> None:
    """Ctrl-C at the prompt of a terminal session ends it at once: "Bye!", exit code 130, no traceback."""
    env = clean_env({"DATABASE_PATH": str(tmp_path / "console.sqlite3")})
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the console, on a real terminal
        os.chdir(tmp_path)
        os.execve(sys.executable, [sys.executable, str(RUN_BOT), "--console"], env)  # noqa: S606 - no shell wanted
    try:
        shown = read_until(terminal, b"\n> ")
        os.kill(pid, signal.SIGINT)
        shown += read_until(terminal, None)
    except TimeoutError:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(terminal)
    text = shown.decode()

    assert os.waitstatus_to_exitcode(status) == 130
    assert text.rstrip().endswith("Bye! Take care of your back.")
    assert "Traceback" not in text
    assert "KeyboardInterrupt" not in text


def test_ctrl_c_while_waiting_for_piped_input_exits_quietly(tmp_path: Path) -> None:
    """SIGINT while the console waits on an open input pipe ends it with "Bye!" and nothing on stderr."""
    env = clean_env({"DATABASE_PATH": str(tmp_path / "console.sqlite3")})
    with subprocess.Popen(
        [sys.executable, str(RUN_BOT), "--console"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    ) as proc:
        assert proc.stdout is not None
        try:
            shown = read_until(proc.stdout.fileno(), MENU_SHOWN)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=HUNG)  # the input pipe stays open: only the signal can end it
        except (TimeoutError, subprocess.TimeoutExpired):
            proc.kill()
            raise

    assert proc.returncode == 130
    assert (shown + out).decode().rstrip().endswith("Bye! Take care of your back.")
    assert err == b""


def test_a_closed_output_pipe_ends_the_console_quietly(tmp_path: Path) -> None:
    """`run_bot.py --console | head -1` prints one line and the console exits 0 with no BrokenPipeError."""
    questions = tmp_path / "questions.txt"
    questions.write_text("/help\n" * 200, encoding="utf-8")  # far more output than a pipe holds
    env = clean_env({"DATABASE_PATH": str(tmp_path / "console.sqlite3")})
    done = subprocess.run(
        ["bash", "-c", f'set -o pipefail; "{sys.executable}" "{RUN_BOT}" --console < "{questions}" | head -1'],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("👋 Hi")
    assert done.stdout.count("\n") == 1
    assert done.stderr == ""


async def test_blank_lines_are_ignored(tmp_path: Path) -> None:
    """Empty and whitespace-only lines produce no reply."""
    quiet = await chat(tmp_path, [])
    assert await chat(tmp_path, ["", "   ", "\t"]) == quiet


async def test_command_with_bot_name_suffix_works(tmp_path: Path) -> None:
    """`/about@anybot` runs /about, as a copy-paste from a group would."""
    out = await chat(tmp_path, ["/about@massage_faq_bot"])
    assert "About this bot" in out


async def test_markup_typed_by_the_user_is_shown_literally(tmp_path: Path) -> None:
    """Text with HTML-like markup comes back as typed in /mydata, not interpreted."""
    out = await chat(tmp_path, ["<b>bold</b> & more", "/mydata"])
    assert "• <b>bold</b> & more" in out


async def test_console_user_is_admin_and_can_reload(tmp_path: Path) -> None:
    """The person at the console is the operator: /reload works there."""
    out = await chat(tmp_path, ["/reload"])
    assert "✅ Reloaded:" in out


async def test_the_review_queue_works_with_numbered_buttons(tmp_path: Path) -> None:
    """The operator at the console labels a declined question by typing button numbers, and it answers at once."""
    out = io.StringIO()
    store = await Store.open(tmp_path / "console.sqlite3")
    # A copy of the FAQ whose examples say nothing of music or the first session: the question below is then
    # one its owner has not labelled yet, however the shipped examples file grows.
    faq_path = copy_faq(tmp_path, leave_out=("music",), unlabelled=("first-session",))
    conversation = Conversation(Knowledge.load(faq_path), store)
    console = Console(conversation, out, Sender(CONSOLE_USER_ID, CONSOLE_USER_ID, is_admin=True))
    try:
        def number(label: str) -> str:
            found = [n for n, b in enumerate(console.buttons, 1) if b.label.startswith(label)]
            assert len(found) == 1, [b.label for b in console.buttons]
            return str(found[0])

        for line in ("do they play music during the session", "/review"):
            await console.handle(line)
        assert "This group: asked 1 time(s)\n• do they play music during the session\n" in out.getvalue()
        await console.handle(number("📚 Other entry…"))
        await console.handle(number("Practical questions"))
        await console.handle(number("Is massage expensive?"))
        assert "(Labelled)\n✅ 1 message(s) labelled “Is massage expensive?”." in out.getvalue()
        assert "Nothing to review. 🎉" in out.getvalue()
        await console.handle("do they play music during the session")
        assert "Is massage expensive?\n\n" in out.getvalue().rsplit("Nothing to review. 🎉", 1)[1]
    finally:
        await conversation.drain()
        await store.close()
