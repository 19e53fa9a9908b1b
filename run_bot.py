"""Run the massage FAQ bot: on Telegram (polling or webhook), in the terminal (--console), or print a report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from dotenv import load_dotenv

from bot.config import Config, ConfigError
from bot.core import Knowledge
from faq.loader import FaqError


class RedactSecrets(logging.Filter):
    """Replace secrets in every log record, as a last line of defence behind quiet HTTP loggers."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "[REDACTED]")
            record.msg, record.args = message, None
        # Tracebacks too: PTB's InvalidToken message quotes the whole token.
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and any(s in record.exc_text for s in self.secrets):
            for secret in self.secrets:
                record.exc_text = record.exc_text.replace(secret, "[REDACTED]")
        return True


def setup_logging(config: Config) -> None:
    """Log to stderr at the configured level; HTTP libraries stay at WARNING so URLs (and the token) never show."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets([config.token, config.webhook.secret if config.webhook else ""]))
    logging.basicConfig(level=config.log_level, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "aiohttp", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen mode; return the exit code."""
    parser = argparse.ArgumentParser(prog="python run_bot.py", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--console", action="store_true", help="chat in the terminal; no token needed")
    mode.add_argument("--report", action="store_true", help="print usage statistics and write a chart")
    args = parser.parse_args(argv)
    load_dotenv(Path.cwd() / ".env")

    try:
        config = Config.from_env(require_token=not (args.console or args.report))
    except ConfigError as exc:
        hint = " Set it in the environment or in .env (see .env.example), or try: python run_bot.py --console"
        return _fail(f"{exc}.{hint}")
    try:
        knowledge = Knowledge.load(config.faq_path)  # validated and indexed once, then handed to the mode
    except FaqError as exc:
        return _fail("the FAQ file is invalid:\n" + "\n".join(exc.errors))
    try:
        config.database_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"DATABASE_PATH cannot be used: cannot create {config.database_path.parent} ({exc.strerror})")

    if args.console:
        logging.basicConfig(level=logging.WARNING)
        from bot.console import run_console

        return asyncio.run(run_console(config, knowledge, sys.stdin, sys.stdout))
    if args.report:
        from bot.report import print_report

        return asyncio.run(print_report(config, sys.stdout))

    setup_logging(config)
    from telegram import Update
    from telegram.error import InvalidToken

    from bot.app import build_application

    application = build_application(config, knowledge)
    try:
        if config.webhook is not None:
            hook = config.webhook
            application.run_webhook(
                listen=hook.listen,
                port=hook.port,
                url_path=hook.path,
                webhook_url=hook.url,
                secret_token=hook.secret,
                allowed_updates=Update.ALL_TYPES,
                close_loop=False,
            )
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
    except InvalidToken:
        # PTB's message quotes the whole token, so it is not printed.
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?). Check it with @BotFather.")
    finally:
        # A start that failed (say, a rejected token) leaves the HTTP sessions open: PTB shuts down only
        # what finished initialising. Close them on the bot's own loop, then the loop.
        loop = asyncio.get_event_loop()
        loop.run_until_complete(application.bot.shutdown())
        loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
