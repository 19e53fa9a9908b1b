"""Run the FAQ bot: on Telegram (polling or webhook), in the terminal (--console), or print a report."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from dotenv import load_dotenv

from bot.config import Config, ConfigError
from bot.core import Knowledge
from faq.loader import FaqError


class RedactSecrets(logging.Filter):
    """Replace secrets in every log record, as a last line of defence behind quiet HTTP loggers."""

    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        """Return `text` with every secret replaced."""
        for secret in self.secrets:
            text = text.replace(secret, "[REDACTED]")
        return text

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
    for noisy in ("httpx", "httpcore", "apscheduler", "tornado"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen mode; return the exit code."""
    parser = argparse.ArgumentParser(prog="python run_bot.py", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--console", action="store_true", help="chat in the terminal; no token needed")
    mode.add_argument("--report", action="store_true", help="print usage statistics and write a chart")
    mode.add_argument(
        "--export-examples",
        metavar="PATH",
        type=Path,
        help="write the labels given in /review as a labelled-examples YAML file (the format of faq/examples.yaml)",
    )
    args = parser.parse_args(argv)
    load_dotenv(Path.cwd() / ".env")

    try:
        config = Config.from_env(require_token=not (args.console or args.report or args.export_examples))
    except ConfigError as exc:
        hint = " Set it in the environment or in .env (see .env.example), or try: python run_bot.py --console"
        return _fail(f"{exc}.{hint}")
    if args.console or args.report:
        logging.basicConfig(level=logging.WARNING)
        logging.getLogger("faq.training").setLevel(logging.INFO)  # a cold build says what it is doing
    else:
        setup_logging(config)
    try:
        # Validated, indexed and trained once, then handed to the mode (a report needs no learned layer).
        knowledge = Knowledge.load(config.faq_path, learned=not args.report)
    except FaqError as exc:
        # One problem is one line; several are listed one a line beneath the count.
        if len(exc.errors) == 1:
            return _fail(f"the FAQ file is invalid: {exc.errors[0]}")
        return _fail(f"the FAQ file has {len(exc.errors)} problems:\n" + "\n".join(exc.errors))
    try:
        config.database_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _fail(f"DATABASE_PATH cannot be used: cannot create {config.database_path.parent} ({exc.strerror})")

    if args.console:
        from bot.console import run_console

        return asyncio.run(run_console(config, knowledge, sys.stdin, sys.stdout))
    if args.report:
        from bot.report import print_report

        return asyncio.run(print_report(config, sys.stdout, knowledge.matcher))
    if args.export_examples:
        return _export_examples(config, knowledge, args.export_examples)

    redact = RedactSecrets([config.token, config.webhook.secret if config.webhook else ""]).redact
    _route_uncaught_errors(redact)
    from bot import instance

    try:
        lock = instance.acquire(config.database_path)
    except instance.AlreadyRunning as exc:
        return _fail(f"{exc}; stop it first, or give this one its own DATABASE_PATH")
    except OSError as exc:
        return _fail(f"DATABASE_PATH cannot be used: cannot lock {config.database_path} ({exc.strerror})")
    try:
        return _run_telegram(config, knowledge, redact)
    finally:
        os.close(lock)


def _export_examples(config: Config, knowledge: Knowledge, path: Path) -> int:
    """Write the review labels to `path` as labelled examples; report labels for entries the FAQ lacks."""
    from bot.review import stored_examples, write_examples
    from faq.examples import ExamplesError

    try:
        examples, missing = asyncio.run(stored_examples(config.database_path, knowledge.faq))
        count = write_examples(examples, knowledge.faq, path)
    except ExamplesError as exc:
        return _fail("the exported examples do not validate:\n" + "\n".join(exc.errors), 1)
    except sqlite3.Error as exc:
        return _fail(f"DATABASE_PATH cannot be used: {config.database_path}: {exc}")
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    if missing:
        gone = ", ".join(sorted({m.label for m in missing}))
        print(f"warning: left out {len(missing)} label(s) naming entries the FAQ lacks: {gone}", file=sys.stderr)
    print(f"Exported {count} labelled example(s) to {path}")
    return 0


def _run_telegram(config: Config, knowledge: Knowledge, redact: Callable[[str], str]) -> int:
    """Run the bot on Telegram; every failure is one line on stderr, never with the token in it."""
    from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, TelegramError

    from bot.app import Lifeline, StartupError, build_application, serve

    lifeline = Lifeline()
    try:
        application = build_application(config, knowledge, lifeline)
        return asyncio.run(serve(application, lifeline))
    except InvalidToken:
        # PTB's message quotes the whole token, so it is not printed.
        return _fail("Telegram rejected TELEGRAM_BOT_TOKEN (revoked or mistyped?). Check it with @BotFather.")
    except StartupError as exc:
        return _fail(redact(str(exc)), 1)
    except (BadRequest, Forbidden) as exc:  # PTB counts these as NetworkErrors, but Telegram answered
        return _fail(redact(f"Telegram refused to start the bot: {exc}"), 1)
    except NetworkError as exc:
        where = config.api_base_url or "https://api.telegram.org/bot"
        return _fail(redact(f"cannot reach Telegram at {where}: {exc}"), 1)
    except TelegramError as exc:
        return _fail(redact(f"Telegram refused to start the bot: {exc}"), 1)
    except Exception as exc:
        logging.getLogger("run_bot").debug("startup failed", exc_info=exc)  # the log filter redacts it
        return _fail(redact(f"the bot stopped on an unexpected error: {type(exc).__name__}: {exc}"), 1)


def _route_uncaught_errors(redact: Callable[[str], str]) -> None:
    """Send uncaught exceptions (main thread and others) through the redacting log, never raw to stderr."""
    log = logging.getLogger("run_bot")

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.critical("uncaught %s: %s", kind.__name__, redact(str(value)), exc_info=(kind, value, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook


if __name__ == "__main__":
    raise SystemExit(main())
