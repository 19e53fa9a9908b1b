"""Console mode: chat with the bot in the terminal, no token needed.

Buttons show as numbered options; typing the number presses the button. Commands work as in Telegram.
"""

from __future__ import annotations

import asyncio
import getpass
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

    async def handle(self, line: str) -> None:
        """React to one line of input."""
        text = line.strip()
        if not text:
            return
        if text.isdigit() and 1 <= int(text) <= len(self.buttons):
            response = await self.conversation.on_button(self.who, self.buttons[int(text) - 1].data)
            self.show(response, pressed=True)
            return
        if text.startswith("/"):
            name, _, rest = text[1:].partition(" ")
            response = await self.conversation.on_command(self.who, name.split("@")[0], rest.split())
        else:
            response = await self.conversation.on_text(self.who, text)
        self.show(response)


async def run_console(config: Config, knowledge: Knowledge, stdin: TextIO, stdout: TextIO) -> int:
    """Chat on stdin/stdout until EOF; return the exit code."""
    store = await Store.open(config.database_path)
    try:
        settings = Settings(config.default_timezone, config.faq_path, config.database_path.parent)
        conversation = Conversation(knowledge, store, settings)
        try:
            name = getpass.getuser()
        except (OSError, KeyError):
            name = ""
        console = Console(conversation, stdout, Sender(CONSOLE_USER_ID, CONSOLE_USER_ID, name, is_admin=True))
        console.show(await conversation.on_command(console.who, "start"))
        interactive = stdin.isatty()
        while True:
            if interactive:
                stdout.write("> ")
                stdout.flush()
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            await console.handle(line)
        if interactive:
            stdout.write(f"\n{conversation.faq.wording.farewell}\n")
        await conversation.drain()
        return 0
    finally:
        await store.close()
