"""Configuration from the environment (and `.env`), in one frozen dataclass.

The token is never printed: it is excluded from repr, and errors name the variable, not its value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from faq.models import DEFAULT_FAQ_PATH

_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting is missing or invalid; `variable` names it."""

    def __init__(self, variable: str, problem: str) -> None:
        self.variable = variable
        super().__init__(f"{variable} {problem}")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Webhook mode: Telegram posts updates to `url`; the bot listens on `listen:port`."""

    url: str
    secret: str = field(repr=False)
    listen: str = "127.0.0.1"
    port: int = 8443

    @property
    def path(self) -> str:
        """The URL path the bot serves, taken from the public URL."""
        after_host = self.url.split("://", 1)[-1]
        return after_host.partition("/")[2]


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting the bot reads."""

    token: str = field(repr=False)
    api_base_url: str | None = None
    database_path: Path = Path("data/bot.sqlite3")
    default_timezone: str = "UTC"
    admin_ids: frozenset[int] = frozenset()
    log_level: str = "INFO"
    webhook: WebhookConfig | None = None
    broadcast_rate: float = 25.0
    retention_days: int = 90
    faq_path: Path = DEFAULT_FAQ_PATH
    delivery_interval: float = 20.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, require_token: bool = True) -> Config:
        """Read the settings; raise ConfigError naming the first bad variable."""
        env = os.environ if env is None else env

        def get(name: str) -> str:
            return env.get(name, "").strip()

        token = get("TELEGRAM_BOT_TOKEN")
        if require_token:
            if not token:
                raise ConfigError("TELEGRAM_BOT_TOKEN", "is not set")
            if not _TOKEN.match(token):
                raise ConfigError("TELEGRAM_BOT_TOKEN", "does not look like a bot token (digits:letters)")

        base_url = get("TELEGRAM_API_BASE_URL") or None
        if base_url and not _is_http_url(base_url):
            raise ConfigError("TELEGRAM_API_BASE_URL", "must be an http(s) URL such as http://127.0.0.1:8081/bot")

        timezone = get("DEFAULT_TIMEZONE") or "UTC"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError("DEFAULT_TIMEZONE", "must be an IANA time zone such as Europe/Berlin") from exc

        try:
            admin_ids = frozenset(int(part) for part in get("ADMIN_IDS").replace(" ", "").split(",") if part)
        except ValueError as exc:
            raise ConfigError("ADMIN_IDS", "must be comma-separated numeric user ids") from exc

        log_level = (get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError("LOG_LEVEL", f"must be one of {', '.join(LOG_LEVELS)}")

        return cls(
            token=token,
            api_base_url=base_url,
            database_path=Path(get("DATABASE_PATH") or "data/bot.sqlite3"),
            default_timezone=timezone,
            admin_ids=admin_ids,
            log_level=log_level,
            webhook=_webhook(get),
            broadcast_rate=_number(get, "BROADCAST_RATE", 25.0, 0.1, 1000.0),
            retention_days=int(_number(get, "RETENTION_DAYS", 90, 1, 36500, whole=True)),
            faq_path=Path(get("FAQ_PATH") or DEFAULT_FAQ_PATH),
            delivery_interval=_number(get, "DELIVERY_INTERVAL", 20.0, 0.2, 60.0),
        )


def _is_http_url(url: str) -> bool:
    """True for an http(s) URL with a host and, if given, a port from 1 to 65535 (the token is appended to
    the API's base URL, so a URL that the HTTP client rejects later would put it in the error)."""
    if any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0


def _number(
    get: Callable[[str], str], name: str, default: float, low: float, high: float, *, whole: bool = False
) -> float:
    raw = get(name)
    if not raw:
        return default
    try:
        value = float(int(raw)) if whole else float(raw)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ConfigError(name, f"must be {kind} from {low:g} to {high:g}")
    return value


def _webhook(get: Callable[[str], str]) -> WebhookConfig | None:
    url = get("WEBHOOK_URL")
    if not url:
        return None
    if not _is_http_url(url):
        raise ConfigError("WEBHOOK_URL", "must be a URL such as https://bot.example.com/telegram")
    secret = get("WEBHOOK_SECRET")
    if not re.match(r"^[A-Za-z0-9_-]{1,256}$", secret):
        raise ConfigError(
            "WEBHOOK_SECRET", "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (required with WEBHOOK_URL)"
        )
    port = int(_number(get, "WEBHOOK_PORT", 8443, 1, 65535, whole=True))
    return WebhookConfig(url=url, secret=secret, listen=get("WEBHOOK_LISTEN") or "127.0.0.1", port=port)
