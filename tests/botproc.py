"""Run `run_bot.py` as a real subprocess against a FakeTelegram, for end-to-end tests.

    with FakeTelegram() as tg, BotProcess(tg, tmp_path) as bot:   # start() waits until the bot polls
        tg.push_message(42, "/start")
        tg.wait_for_message(42)
    assert bot.returncode == 0
    assert SENTINEL_TOKEN not in bot.log_text()

The child gets a clean configuration: every variable `Config.from_env` reads is dropped from the inherited
environment, then set from the fake (TELEGRAM_API_BASE_URL, NO_PROXY), a sentinel token, a SQLite file in
`workdir`, and whatever `env` adds. It runs in `workdir`, so a developer's `.env` is never loaded, and its
stdout and stderr go to one log file there. With WEBHOOK_URL set, start() waits for the webhook server
instead of the long poll.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
RUN_BOT = ROOT / "run_bot.py"
SENTINEL_TOKEN = "123456789:SENTINELsentinelSENTINELsentinel00"
SENTINEL_SECRET = SENTINEL_TOKEN.partition(":")[2]
CONFIG_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_BASE_URL",
    "DATABASE_PATH",
    "DEFAULT_TIMEZONE",
    "ADMIN_IDS",
    "LOG_LEVEL",
    "WEBHOOK_URL",
    "WEBHOOK_SECRET",
    "WEBHOOK_LISTEN",
    "WEBHOOK_PORT",
    "BROADCAST_RATE",
    "RETENTION_DAYS",
    "FAQ_PATH",
    "DELIVERY_INTERVAL",
)
START_TIMEOUT = 30.0


def clean_env(extra: dict[str, str] | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return `base` (default: os.environ) without any bot setting or proxy, plus `extra`."""
    source = dict(os.environ if base is None else base)
    proxies = ("http_proxy", "https_proxy", "all_proxy")
    env = {k: v for k, v in source.items() if k not in CONFIG_VARIABLES and k.lower() not in proxies}
    env["PYTHONUNBUFFERED"] = "1"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """One `python run_bot.py` child process with its own database and log file."""

    def __init__(
        self,
        tg: FakeTelegram,
        workdir: Path,
        *,
        env: dict[str, str] | None = None,
        args: Sequence[str] = (),
        token: str = SENTINEL_TOKEN,
        log_level: str = "INFO",
        name: str = "bot",
    ) -> None:
        self.tg = tg
        self.workdir = workdir
        self.args = tuple(args)
        self.log_path = workdir / f"{name}.log"
        self.env = clean_env(
            {
                "TELEGRAM_BOT_TOKEN": token,
                "TELEGRAM_API_BASE_URL": tg.base_url,
                "DATABASE_PATH": str(workdir / f"{name}.sqlite3"),
                "LOG_LEVEL": log_level,
                **(env or {}),
            }
        )
        self.database_path = Path(self.env["DATABASE_PATH"])
        self.process: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    # ------------------------------------------------------------------------------ lifecycle

    def start(self, *, wait: bool = True, timeout: float = START_TIMEOUT) -> Self:
        """Start the bot; with `wait`, block until it polls (or serves its webhook)."""
        if self.process is not None:
            msg = "this BotProcess was already started"
            raise RuntimeError(msg)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._started_at = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(RUN_BOT), *self.args],
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        """Block until the bot holds a getUpdates long poll, or in webhook mode accepts connections."""
        webhook_url = self.env.get("WEBHOOK_URL")
        deadline = time.monotonic() + timeout
        while True:
            if self.running is False:
                msg = f"the bot exited with code {self.returncode} before it was ready:\n{self.log_text()}"
                raise AssertionError(msg)
            if self._serving(webhook_url) if webhook_url else self._polling():
                return
            if time.monotonic() > deadline:
                msg = f"the bot was not ready after {timeout:g}s:\n{self.log_text()}"
                raise AssertionError(msg)
            time.sleep(0.05)

    def _called_since_start(self, method: str) -> bool:
        # A call from an earlier bot on the same fake (killed or stopped) must not count as this one's.
        return any(call.time >= self._started_at for call in self.tg.calls_to(method))

    def _polling(self) -> bool:
        # deleteWebhook is the last bootstrap step before the first getUpdates; a long poll the fake still
        # holds for a killed predecessor would satisfy wait_for_polling on its own.
        if not self._called_since_start("deleteWebhook"):
            return False
        try:
            self.tg.wait_for_polling(timeout=0.2)
        except AssertionError:
            return False
        return True

    def _serving(self, webhook_url: str) -> bool:
        if not self._called_since_start("setWebhook"):
            return False
        host = self.env.get("WEBHOOK_LISTEN") or "127.0.0.1"
        port = int(self.env.get("WEBHOOK_PORT") or urlsplit(webhook_url).port or 8443)
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the bot to exit on its own; return the exit code (raise TimeoutExpired if it runs on)."""
        return self._started().wait(timeout)

    def send_signal(self, signum: int, timeout: float = 5.0) -> int:
        """Send `signum` and wait up to `timeout` seconds for the exit code; raise TimeoutExpired if none."""
        process = self._started()
        if process.poll() is None:
            process.send_signal(signum)
        return process.wait(timeout)

    def terminate(self, timeout: float = 5.0) -> int:
        """Stop with SIGTERM; return the exit code (raise subprocess.TimeoutExpired if it hangs)."""
        return self.send_signal(signal.SIGTERM, timeout)

    def interrupt(self, timeout: float = 5.0) -> int:
        """Stop with SIGINT, as Ctrl+C would; return the exit code."""
        return self.send_signal(signal.SIGINT, timeout)

    def kill(self) -> int:
        """Stop with SIGKILL; return the exit code."""
        process = self._started()
        if process.poll() is None:
            process.kill()
        return process.wait()

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate, and kill if that takes longer than `timeout`; None if it was never started."""
        if self.process is None:
            return None
        try:
            return self.terminate(timeout)
        except subprocess.TimeoutExpired:
            return self.kill()

    def __enter__(self) -> Self:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------ inspection

    @property
    def running(self) -> bool | None:
        """True while the process runs, False once it exited, None before start()."""
        return None if self.process is None else self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        """The exit code, or None while running (or before start())."""
        return None if self.process is None else self.process.poll()

    def log_text(self) -> str:
        """Everything the bot wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_for_log(self, text: str, timeout: float = 10.0) -> str:
        """Block until `text` appears in the log; return the whole log."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.log_text()
            if text in log:
                return log
            if time.monotonic() > deadline:
                msg = f"{text!r} did not appear in the bot's log within {timeout:g}s:\n{log}"
                raise AssertionError(msg)
            time.sleep(0.05)

    def _started(self) -> subprocess.Popen[bytes]:
        if self.process is None:
            msg = "the BotProcess was not started"
            raise RuntimeError(msg)
        return self.process
