"""Configuration: Config.from_env parsing and errors, secrets kept out of repr, and how run_bot.py reports a
bad setting (exit 2, one line naming the variable, a pointer to --console, no traceback)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Config, ConfigError, WebhookConfig
from faq.models import DEFAULT_FAQ_PATH
from tests.botproc import CONFIG_VARIABLES, RUN_BOT, SENTINEL_SECRET, SENTINEL_TOKEN, clean_env

TOKEN = SENTINEL_TOKEN


def env(**values: str) -> dict[str, str]:
    """A settings mapping with a valid token plus `values`."""
    return {"TELEGRAM_BOT_TOKEN": TOKEN, **values}


# ------------------------------------------------------------------------------------------ from_env


def test_defaults_with_only_a_token() -> None:
    """With only a token set, every other setting has its documented default."""
    config = Config.from_env(env())
    assert config.token == TOKEN
    assert config.api_base_url is None
    assert config.database_path == Path("data/bot.sqlite3")
    assert config.default_timezone == "UTC"
    assert config.admin_ids == frozenset()
    assert config.log_level == "INFO"
    assert config.webhook is None
    assert config.broadcast_rate == 25.0
    assert config.retention_days == 90
    assert config.faq_path == DEFAULT_FAQ_PATH
    assert config.delivery_interval == 20.0


def test_every_setting_is_read() -> None:
    """Each variable lands in its field, parsed and trimmed."""
    config = Config.from_env(
        env(
            TELEGRAM_API_BASE_URL="http://127.0.0.1:8081/bot",
            DATABASE_PATH="/var/lib/bot/db.sqlite3",
            DEFAULT_TIMEZONE=" Europe/Berlin ",
            ADMIN_IDS="1, 22 ,333",
            LOG_LEVEL="debug",
            WEBHOOK_URL="https://bot.example.com/telegram/hook",
            WEBHOOK_SECRET="s3cret_-X",
            WEBHOOK_LISTEN="0.0.0.0",
            WEBHOOK_PORT="8080",
            BROADCAST_RATE="10.5",
            RETENTION_DAYS="30",
            FAQ_PATH="/srv/bot/faq.yaml",
            DELIVERY_INTERVAL="5",
        )
    )
    assert config.api_base_url == "http://127.0.0.1:8081/bot"
    assert config.database_path == Path("/var/lib/bot/db.sqlite3")
    assert config.default_timezone == "Europe/Berlin"
    assert config.admin_ids == frozenset({1, 22, 333})
    assert config.log_level == "DEBUG"
    assert config.webhook == WebhookConfig(
        url="https://bot.example.com/telegram/hook", secret="s3cret_-X", listen="0.0.0.0", port=8080
    )
    assert config.webhook.path == "telegram/hook"
    assert config.broadcast_rate == 10.5
    assert config.retention_days == 30
    assert config.faq_path == Path("/srv/bot/faq.yaml")
    assert config.delivery_interval == 5.0


def test_webhook_defaults_to_loopback_port_8443() -> None:
    """WEBHOOK_URL and WEBHOOK_SECRET alone listen on 127.0.0.1:8443 (behind a reverse proxy)."""
    config = Config.from_env(env(WEBHOOK_URL="https://bot.example.com/hook", WEBHOOK_SECRET="abc"))
    assert config.webhook is not None
    assert (config.webhook.listen, config.webhook.port, config.webhook.path) == ("127.0.0.1", 8443, "hook")


def test_console_and_report_need_no_token() -> None:
    """Without require_token, a missing or malformed token is accepted."""
    assert Config.from_env({}, require_token=False).token == ""
    assert Config.from_env({"TELEGRAM_BOT_TOKEN": "nonsense"}, require_token=False).token == "nonsense"


BAD_SETTINGS = [
    ("TELEGRAM_BOT_TOKEN", {"TELEGRAM_BOT_TOKEN": ""}),
    ("TELEGRAM_BOT_TOKEN", {"TELEGRAM_BOT_TOKEN": "   "}),
    ("TELEGRAM_BOT_TOKEN", {"TELEGRAM_BOT_TOKEN": "hunter2-not-a-token"}),
    ("TELEGRAM_BOT_TOKEN", {"TELEGRAM_BOT_TOKEN": "123456789:short"}),
    ("TELEGRAM_BOT_TOKEN", {"TELEGRAM_BOT_TOKEN": "123456789:SENTINEL sentinel SENTINEL sentinel"}),
    ("TELEGRAM_API_BASE_URL", {"TELEGRAM_API_BASE_URL": "ftp://127.0.0.1/bot"}),
    ("DEFAULT_TIMEZONE", {"DEFAULT_TIMEZONE": "Mars/Olympus_Mons"}),
    ("DEFAULT_TIMEZONE", {"DEFAULT_TIMEZONE": "../../etc/passwd"}),
    ("DEFAULT_TIMEZONE", {"DEFAULT_TIMEZONE": "Europe/Berlin/Mitte"}),
    ("ADMIN_IDS", {"ADMIN_IDS": "alice,bob"}),
    ("ADMIN_IDS", {"ADMIN_IDS": "1;2"}),
    ("ADMIN_IDS", {"ADMIN_IDS": "1.5"}),
    ("LOG_LEVEL", {"LOG_LEVEL": "LOUD"}),
    ("WEBHOOK_URL", {"WEBHOOK_URL": "bot.example.com/hook", "WEBHOOK_SECRET": "abc"}),
    ("WEBHOOK_SECRET", {"WEBHOOK_URL": "https://bot.example.com/hook"}),
    ("WEBHOOK_SECRET", {"WEBHOOK_URL": "https://bot.example.com/hook", "WEBHOOK_SECRET": "has space"}),
    ("WEBHOOK_SECRET", {"WEBHOOK_URL": "https://bot.example.com/hook", "WEBHOOK_SECRET": "pässword"}),
    ("WEBHOOK_SECRET", {"WEBHOOK_URL": "https://bot.example.com/hook", "WEBHOOK_SECRET": "x" * 257}),
    ("WEBHOOK_PORT", {"WEBHOOK_URL": "https://b.example.com/h", "WEBHOOK_SECRET": "a", "WEBHOOK_PORT": "99999"}),
    ("WEBHOOK_PORT", {"WEBHOOK_URL": "https://b.example.com/h", "WEBHOOK_SECRET": "a", "WEBHOOK_PORT": "http"}),
    ("BROADCAST_RATE", {"BROADCAST_RATE": "fast"}),
    ("BROADCAST_RATE", {"BROADCAST_RATE": "0"}),
    ("BROADCAST_RATE", {"BROADCAST_RATE": "nan"}),
    ("BROADCAST_RATE", {"BROADCAST_RATE": "inf"}),
    ("RETENTION_DAYS", {"RETENTION_DAYS": "-1"}),
    ("DELIVERY_INTERVAL", {"DELIVERY_INTERVAL": "0.01"}),
]


@pytest.mark.parametrize(
    ("variable", "values"), BAD_SETTINGS, ids=[f"{v}={list(d.values())[-1][:20]!r}" for v, d in BAD_SETTINGS]
)
def test_bad_setting_names_its_variable_and_not_its_value(variable: str, values: dict[str, str]) -> None:
    """A bad setting raises ConfigError naming the variable; the message never repeats a secret value."""
    with pytest.raises(ConfigError) as caught:
        Config.from_env(env(**values))
    assert caught.value.variable == variable
    message = str(caught.value)
    assert message.startswith(variable)
    if variable in ("TELEGRAM_BOT_TOKEN", "WEBHOOK_SECRET"):
        for value in values.values():
            if value.strip() and not value.startswith("https://"):
                assert value not in message


def test_repr_never_shows_the_token_or_the_webhook_secret() -> None:
    """repr() and str() of the config, as a log line or traceback would show it, hide both secrets."""
    config = Config.from_env(env(WEBHOOK_URL="https://bot.example.com/hook", WEBHOOK_SECRET="webhookSECRETvalue"))
    for shown in (repr(config), str(config), f"{config}", repr(config.webhook)):
        assert TOKEN not in shown
        assert SENTINEL_SECRET not in shown
        assert "webhookSECRETvalue" not in shown
    assert "bot.example.com" in repr(config), "the rest stays visible for debugging"


def test_config_is_frozen() -> None:
    """Settings cannot be changed after loading."""
    config = Config.from_env(env())
    with pytest.raises(AttributeError):
        config.token = "other"  # type: ignore[misc]


# ------------------------------------------------------------------------------------------ run_bot.py


def run_bot(tmp_path: Path, values: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `python run_bot.py` with exactly these settings (in tmp_path, so no .env is found)."""
    return subprocess.run(
        [sys.executable, str(RUN_BOT)],
        env=clean_env({"DATABASE_PATH": str(tmp_path / "bot.sqlite3"), **values}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


STARTUP_ERRORS = [
    ("TELEGRAM_BOT_TOKEN", {}),
    ("TELEGRAM_BOT_TOKEN", {"TELEGRAM_BOT_TOKEN": "hunter2"}),
    ("DEFAULT_TIMEZONE", {"TELEGRAM_BOT_TOKEN": TOKEN, "DEFAULT_TIMEZONE": "Mars/Olympus_Mons"}),
    ("ADMIN_IDS", {"TELEGRAM_BOT_TOKEN": TOKEN, "ADMIN_IDS": "alice"}),
    (
        "WEBHOOK_SECRET",
        {"TELEGRAM_BOT_TOKEN": TOKEN, "WEBHOOK_URL": "https://b.example.com/h", "WEBHOOK_SECRET": "a b"},
    ),
    ("LOG_LEVEL", {"TELEGRAM_BOT_TOKEN": TOKEN, "LOG_LEVEL": "chatty"}),
    (
        "WEBHOOK_PORT",
        {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "WEBHOOK_URL": "https://b.example.com/h",
            "WEBHOOK_SECRET": "a",
            "WEBHOOK_PORT": "0",
        },
    ),
]


@pytest.mark.parametrize(
    ("variable", "values"), STARTUP_ERRORS, ids=[f"{v}-{i}" for i, (v, _) in enumerate(STARTUP_ERRORS)]
)
def test_run_bot_with_a_bad_setting_exits_2_with_one_clear_line(
    tmp_path: Path, variable: str, values: dict[str, str]
) -> None:
    """run_bot.py exits 2 with one stderr line naming the variable and suggesting --console; no traceback."""
    done = run_bot(tmp_path, values)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: {variable} ")
    assert "python run_bot.py --console" in lines[0]
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stderr
    assert not (tmp_path / "bot.sqlite3").exists(), "nothing was started"


def test_run_bot_with_a_broken_faq_exits_2_listing_the_problems(tmp_path: Path) -> None:
    """An invalid FAQ_PATH file stops the start with exit 2 and the file's errors, no traceback."""
    broken = tmp_path / "faq.yaml"
    broken.write_text("version: 1\nentries: [\n", encoding="utf-8")
    for path in (broken, tmp_path / "missing.yaml"):
        done = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "FAQ_PATH": str(path)})
        assert done.returncode == 2
        assert done.stderr.startswith("error: the FAQ file is invalid:")
        assert str(path) in done.stderr
        assert "Traceback" not in done.stderr


def test_help_describes_the_modes(tmp_path: Path) -> None:
    """`run_bot.py --help` names the console and report modes and exits 0 without any setting."""
    done = subprocess.run(
        [sys.executable, str(RUN_BOT), "--help"],
        env=clean_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert "--console" in done.stdout
    assert "--report" in done.stdout


@pytest.mark.parametrize("mode", [[], ["--console"]], ids=["telegram", "console"])
def test_run_bot_with_an_unusable_database_path_exits_2(tmp_path: Path, mode: list[str]) -> None:
    """A DATABASE_PATH whose folder cannot be created is reported in one line naming it, not a traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(RUN_BOT), *mode],
        env=clean_env(
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",  # nothing listens: never reach the network
                "DATABASE_PATH": str(blocker / "db" / "bot.sqlite3"),
            }
        ),
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: DATABASE_PATH ")


def test_run_bot_reads_dot_env_in_the_working_directory(tmp_path: Path) -> None:
    """Settings in ./.env are used (a bad one there is reported like one from the environment)."""
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nADMIN_IDS=alice\n", encoding="utf-8")
    done = run_bot(tmp_path, {})
    assert done.returncode == 2
    assert done.stderr.startswith("error: ADMIN_IDS ")


def test_environment_wins_over_dot_env(tmp_path: Path) -> None:
    """A variable set in the environment overrides the same one in ./.env."""
    (tmp_path / ".env").write_text(f"TELEGRAM_BOT_TOKEN={TOKEN}\nLOG_LEVEL=fine\n", encoding="utf-8")
    # BROADCAST_RATE is checked after LOG_LEVEL, so its error shows only if LOG_LEVEL=fine was overridden.
    done = run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "LOG_LEVEL": "INFO", "BROADCAST_RATE": "fast"})
    assert done.returncode == 2
    assert done.stderr.startswith("error: BROADCAST_RATE "), done.stderr


def test_env_example_documents_every_setting_and_parses() -> None:
    """.env.example names every variable the bot reads, and with a token filled in it is a valid config."""
    example = RUN_BOT.parent / ".env.example"
    text = example.read_text(encoding="utf-8")
    for variable in CONFIG_VARIABLES:
        assert f"{variable}=" in text, f"{variable} is not documented in .env.example"
    values = dict(
        line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
    values["TELEGRAM_BOT_TOKEN"] = TOKEN
    assert Config.from_env(values).token == TOKEN


def test_log_filter_redacts_secrets_in_messages_and_tracebacks() -> None:
    """The bot's log handler hides the token and webhook secret, in messages and in exception tracebacks."""
    from run_bot import RedactSecrets

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecrets([TOKEN, "hookSECRET", ""]))
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling %s/bot%s/getMe with %s", "http://x", TOKEN, "hookSECRET")
        try:
            msg = f"The token `{TOKEN}` was rejected by the server."
            raise ValueError(msg)
        except ValueError:
            logger.exception("startup failed")
    finally:
        logger.removeHandler(handler)
    text = out.getvalue()
    assert "[REDACTED]" in text
    assert "startup failed" in text
    assert "was rejected by the server" in text, "the traceback itself is still shown"
    assert SENTINEL_SECRET not in text
    assert "hookSECRET" not in text


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:99999/bot", "http://[::1/bot", "http://127.0.0.1:0/bot", "http:///bot"]
)
def test_a_base_url_the_http_client_would_reject_is_a_config_error(url: str) -> None:
    """A port out of range or a broken host is refused at load, naming the variable, before the token is appended."""
    with pytest.raises(ConfigError) as error:
        Config.from_env(env(TELEGRAM_API_BASE_URL=url))
    assert error.value.variable == "TELEGRAM_API_BASE_URL"
    assert TOKEN not in str(error.value)
