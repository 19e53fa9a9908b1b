"""Console mode: chat with the bot in the terminal, no token needed.

Buttons show as numbered options; typing the number presses the button. Commands work as in Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import io
import os
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.config import Config
from bot.core import Button, Conversation, Knowledge, Response, Sender, Settings
from bot.render import to_plain
from bot.storage import Store

CONSOLE_USER_ID = 1


class Console:
    """Reads lines, feeds them to the conversation core, prints the replies."""

    def __init__(self, conversation: Conversation, out: TextIO, who: Sender) -> None:
        self.conversation = conversation
        self.out = out
        self.who = who
        self.buttons: list[Button] = []

    def show(self, response: Response, *, pressed: bool = False) -> None:
        """Print replies as plain text with numbered buttons (and the notice a button press shows)."""
        if pressed and response.notice:
            self.out.write(f"({response.notice})\n")
        for reply in response.replies:
            if reply.photo is not None:
                self.out.write(f"[chart saved to {reply.photo}]\n")
            self.out.write(to_plain(reply.text).strip() + "\n")
            if reply.buttons:
                self.buttons = [b for row in reply.buttons for b in row]
                for n, button in enumerate(self.buttons, 1):
                    self.out.write(f"  [{n}] {button.label}\n")
            self.out.write("\n")
        self.out.flush()

    def no_button(self, number: str) -> str:
        """Say that a typed number matches no button, and which numbers do."""
        if not self.buttons:
            return f"There is no button {number[:12]} to press. Type a question, or /help."
        last = len(self.buttons)
        choice = "1" if last == 1 else f"1 to {last}"
        return f"There is no button {number[:12]}: type {choice} to press one, or type a question."

    async def handle(self, line: str) -> None:
        """React to one line of input."""
        text = line.strip()
        if not text:
            return
        if text.isdecimal():  # a number presses a button, and only a button
            number = int(text) if len(text) <= 6 else 0
            if 1 <= number <= len(self.buttons):
                response = await self.conversation.on_button(self.who, self.buttons[number - 1].data)
                self.show(response, pressed=True)
            else:
                self.out.write(self.no_button(text) + "\n\n")
                self.out.flush()
            return
        if text.startswith("/"):
            name, _, rest = text[1:].partition(" ")
            response = await self.conversation.on_command(self.who, name.split("@")[0], rest.split())
        else:
            response = await self.conversation.on_text(self.who, text)
        self.show(response)


INTERRUPTED = 130  # the shell's code for a process ended by Ctrl-C (128 + SIGINT)


class LineReader:
    """Lines of stdin, read by a daemon thread so that nothing waits on a blocked read at exit: Ctrl-C at the
    prompt ends the console at once instead of when Enter is next pressed."""

    def __init__(self, stdin: TextIO) -> None:
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:
            # OSError, ValueError: stdin closed or unreadable, the same as its end. RuntimeError: the console
            # has ended and its loop is closed, so nobody is waiting for the line.
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                for line in iter(stdin.readline, ""):
                    loop.call_soon_threadsafe(self.lines.put_nowait, line)
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self.lines.put_nowait, "")

        threading.Thread(target=read, name="console-stdin", daemon=True).start()

    async def next(self) -> str:
        """Return the next line, or "" at the end of input."""
        return await self.lines.get()


def _on_interrupt(stop: asyncio.Event) -> Callable[[], object]:
    """Route Ctrl-C to `stop` for the life of the console; return the function that restores the default."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
        return lambda: None
    return lambda: loop.remove_signal_handler(signal.SIGINT)


def _quiet(stdout: TextIO) -> None:
    """Point a stdout whose reader went away at /dev/null, so the exit flush raises nothing either."""
    try:
        fd = stdout.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


async def _first(*waits: Awaitable[object]) -> None:
    """Wait until the first of `waits` is done and cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def run_console(config: Config, knowledge: Knowledge, stdin: TextIO, stdout: TextIO) -> int:
    """Chat on stdin/stdout until EOF or Ctrl-C; return the exit code.

    Ctrl-C says goodbye and ends with 130; a reader that closed the output pipe (`| head -1`) ends it quietly.
    """
    store = await Store.open(config.database_path)
    stop = asyncio.Event()
    restore = _on_interrupt(stop)
    try:
        settings = Settings(config.default_timezone, config.faq_path, config.database_path.parent)
        conversation = Conversation(knowledge, store, settings)
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            name = ""
        console = Console(conversation, stdout, Sender(CONSOLE_USER_ID, CONSOLE_USER_ID, name, is_admin=True))
        farewell = conversation.faq.wording.farewell
        try:
            console.show(await conversation.on_command(console.who, "start"))
            interactive = stdin.isatty()
            reader = LineReader(stdin)
            while not stop.is_set():
                if interactive:
                    stdout.write("> ")
                    stdout.flush()
                line = asyncio.ensure_future(reader.next())
                await _first(line, stop.wait())
                if stop.is_set():
                    break
                if not line.result():
                    if interactive:
                        stdout.write(f"\n{farewell}\n")
                    break
                await console.handle(line.result())
            if stop.is_set():
                stdout.write(f"\n{farewell}\n")
            stdout.flush()
        except BrokenPipeError:
            _quiet(stdout)
        await conversation.drain()
        return INTERRUPTED if stop.is_set() else 0
    finally:
        restore()
        await store.close()
