"""The process fails safe: nothing sent twice, one bot per database, no silent outage, no leaked token.

Each test runs the real run_bot.py against the loopback fake with a real fault: a response slower than the
timeout, a second process and SIGKILL, a revoked token, another getUpdates consumer, a full filesystem, a
malformed update, an oversized or unauthenticated webhook POST.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.botproc import RUN_BOT, SENTINEL_SECRET, SENTINEL_TOKEN, BotProcess, clean_env, free_port
from tests.fake_telegram import FakeTelegram
from tests.faults import fill, small_tmpfs


def assert_no_token(text: str) -> None:
    """Neither the token nor its secret half appears in `text`."""
    assert SENTINEL_TOKEN not in text
    assert SENTINEL_SECRET not in text


# ------------------------------------------------------------------------------------------ defect 3


def test_an_answer_that_timed_out_is_not_sent_again(tg: FakeTelegram, tmp_path: Path) -> None:
    """A sendMessage that outlives the 5 s timeout may have arrived: the bot neither resends nor apologises."""
    tg.delay("sendMessage", 6.0)
    with BotProcess(tg, tmp_path) as bot:
        tg.push_message(4242, "can massage help me sleep")
        bot.wait_for_log("Telegram did not answer in time", timeout=20)
        tg.delay("sendMessage", 0)  # a retry or an apology would now arrive at once
        time.sleep(2.0)
        texts = [call.params["text"] for call in tg.sent_messages(4242)]
    assert len(texts) == 1, texts
    assert texts[0].startswith("<b>Can massage help me sleep better?</b>")


# ------------------------------------------------------------------------------------------ defect 4


def test_a_second_bot_on_the_same_database_exits_2_naming_the_first(tg: FakeTelegram, tmp_path: Path) -> None:
    """While a bot runs, a second one on its DATABASE_PATH exits 2 with one line naming the first's pid;
    after the first is SIGKILLed, a new one starts."""
    first = BotProcess(tg, tmp_path, name="first").start()
    try:
        env = {"DATABASE_PATH": str(first.database_path)}
        second = BotProcess(tg, tmp_path, name="second", env=env).start(wait=False)
        assert second.wait(timeout=30) == 2
        lines = second.log_text().strip().splitlines()
        assert len(lines) == 1, lines
        assert first.process is not None
        assert f"pid {first.process.pid}" in lines[0]
        assert first.running, "the first bot keeps running"
        first.kill()
        with BotProcess(tg, tmp_path, name="third", env=env) as third:
            assert third.running
    finally:
        first.stop()


# ------------------------------------------------------------------------------------------ defect 5


def test_a_revoked_token_mid_run_exits_non_zero(tg: FakeTelegram, tmp_path: Path) -> None:
    """When getUpdates starts answering 401, the bot exits non-zero within 30 s instead of idling."""
    with BotProcess(tg, tmp_path) as bot:
        tg.fail_next("getUpdates", 401, count=10_000)
        code = bot.wait(timeout=30)
    assert code != 0
    assert "rejected the bot token" in bot.log_text()
    assert_no_token(bot.log_text())


def test_another_getupdates_consumer_makes_the_bot_exit_non_zero(tg: FakeTelegram, tmp_path: Path) -> None:
    """When getUpdates keeps answering 409 Conflict, the bot exits non-zero within 30 s."""
    with BotProcess(tg, tmp_path) as bot:
        tg.fail_next("getUpdates", 409, count=10_000)
        code = bot.wait(timeout=30)
    assert code != 0
    assert "409 Conflict" in bot.log_text()


def test_a_webhook_that_cannot_be_set_exits_non_zero(tg: FakeTelegram, tmp_path: Path) -> None:
    """If setWebhook fails at start, the bot exits non-zero with one line."""
    port = free_port()
    env = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_SECRET": "s3cret", "WEBHOOK_PORT": str(port)}
    tg.fail_next("setWebhook", 400, description="Bad Request: bad webhook: HTTPS url must be provided for webhook")
    bot = BotProcess(tg, tmp_path, env=env).start(wait=False)
    try:
        code = bot.wait(timeout=30)
    finally:
        bot.stop()
    assert code != 0
    assert "Traceback" not in bot.log_text()
    assert "bad webhook" in bot.log_text().lower()


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs (skipped where mounting is not allowed); fill it to make the disk full."""
    with small_tmpfs(tmp_path, "8m") as folder:
        yield folder


CLOSE_AFTER_WRITE_ERROR = """
import asyncio, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from bot.storage import Store

async def main(folder):
    now = datetime.now(UTC)
    store = await Store.open(folder / "bot.sqlite3")
    for n in range(300):  # enough rows, read through their indexes, that PRAGMA optimize wants to ANALYZE
        await store.log_question(n, "can massage help", None, "none", 0.0, now)
    await store.user_data(5)
    await store.purge_questions_before(now - timedelta(days=400))
    with (folder / "filler").open("wb", buffering=0) as out:
        try:
            while True:
                out.write(bytes(65536))
        except OSError:
            pass
    try:
        for n in range(10000):
            await store.log_question(n, "one more " * 50, None, "none", 0.0, now)
    except Exception as exc:
        print("write failed:", exc)
    try:
        await store.close()
    except Exception as exc:
        print("close failed:", exc)

asyncio.run(main(Path(sys.argv[1])))
print("done")
"""


def test_the_store_closes_after_a_write_error_so_the_process_can_exit(small_fs: Path) -> None:
    """On a full disk, Store.close() still closes the connection, so the process exits instead of hanging."""
    done = subprocess.run(
        [sys.executable, "-c", CLOSE_AFTER_WRITE_ERROR, str(small_fs)],
        cwd=RUN_BOT.parent,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert "write failed: database or disk is full" in done.stdout, done.stdout + done.stderr
    assert done.stdout.strip().endswith("done")
    assert done.returncode == 0


def test_sigterm_after_database_write_errors_stops_within_10_s(
    tg: FakeTelegram, tmp_path: Path, small_fs: Path
) -> None:
    """After writes failed on a full disk, SIGTERM still ends the bot within 10 s."""
    env = {"DATABASE_PATH": str(small_fs / "bot.sqlite3")}
    with BotProcess(tg, tmp_path, env=env) as bot:
        fill(small_fs)
        for n in range(5):
            tg.push_message(7000 + n, f"can massage help me sleep {'x' * 400}")
        tg.wait_for_message(7004, timeout=15)
        assert bot.terminate(timeout=10) is not None


# ------------------------------------------------------------------------------------------ defect 5/6


def start_and_fail(env: dict[str, str], cwd: Path, timeout: float = 30) -> tuple[int, str]:
    """Run run_bot.py with the sentinel token and `env`; return its exit code and everything it printed."""
    full = clean_env({"TELEGRAM_BOT_TOKEN": SENTINEL_TOKEN, "DATABASE_PATH": str(cwd / "bot.sqlite3"), **env})
    done = subprocess.run(
        [sys.executable, str(RUN_BOT)], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout, check=False
    )
    return done.returncode, done.stdout + done.stderr


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "base_url",
    ["http://127.0.0.1:99999/bot", "http://[::1/bot", "refused"],
    ids=["port-out-of-range", "broken-ipv6", "refused-connection"],
)
def test_startup_failures_print_one_line_without_the_token(tmp_path: Path, base_url: str) -> None:
    """A malformed or unreachable TELEGRAM_API_BASE_URL fails with one line that never contains the token."""
    if base_url == "refused":
        base_url = f"http://127.0.0.1:{closed_port()}/bot"
    code, output = start_and_fail({"TELEGRAM_API_BASE_URL": base_url}, tmp_path)
    assert code != 0
    assert_no_token(output)
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


def test_a_rejected_token_at_start_is_one_line_without_it(tg: FakeTelegram, tmp_path: Path) -> None:
    """A 401 from getMe at start: one line, exit non-zero, no token in stderr or the log."""
    tg.fail_next("getMe", 401, count=10)
    code, output = start_and_fail({"TELEGRAM_API_BASE_URL": tg.base_url, "NO_PROXY": "127.0.0.1"}, tmp_path)
    assert code != 0
    assert_no_token(output)
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


def test_starting_on_a_full_disk_is_one_line_without_the_token(
    tg: FakeTelegram, tmp_path: Path, small_fs: Path
) -> None:
    """With the database's filesystem full, the bot exits non-zero with one line and no token."""
    fill(small_fs)
    env = {"TELEGRAM_API_BASE_URL": tg.base_url, "DATABASE_PATH": str(small_fs / "bot.sqlite3")}
    code, output = start_and_fail(env, tmp_path)
    assert code != 0
    assert_no_token(output)
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert "DATABASE_PATH" in lines[0]


def test_an_unwritable_database_folder_is_one_line(tg: FakeTelegram, tmp_path: Path) -> None:
    """A DATABASE_PATH inside a file (so its folder cannot exist) fails with one line."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {"TELEGRAM_API_BASE_URL": tg.base_url, "DATABASE_PATH": str(blocker / "bot.sqlite3")}
    code, output = start_and_fail(env, tmp_path)
    assert code != 0
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output


# ------------------------------------------------------------------------------------------ defect 8


def webhook_bot(tg: FakeTelegram, tmp_path: Path) -> tuple[BotProcess, int]:
    port = free_port()
    env = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_SECRET": "s3cret", "WEBHOOK_PORT": str(port)}
    return BotProcess(tg, tmp_path, env=env).start(), port


def headers_only(port: int, secret: str, length: int) -> int:
    """Send a POST's headers declaring `length` bytes, but no body; return the status the bot answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            (
                f"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\nContent-Length: {length}\r\n\r\n"
            ).encode()
        )
        head = sock.recv(200).decode(errors="replace")  # times out if the bot waits for the body first
    return int(head.split()[1])


def test_the_webhook_refuses_a_wrong_secret_before_reading_the_body(tg: FakeTelegram, tmp_path: Path) -> None:
    """A POST announcing 90 MB with a wrong secret gets 403 before any of the body is sent."""
    bot, port = webhook_bot(tg, tmp_path)
    try:
        assert headers_only(port, "wrong", 90 * 1024 * 1024) == 403
    finally:
        bot.stop()


def test_the_webhook_caps_the_body_at_1_mb(tg: FakeTelegram, tmp_path: Path) -> None:
    """With the right secret, a body over 1 MB is refused (413) without being read; a normal one works."""
    bot, port = webhook_bot(tg, tmp_path)
    try:
        assert headers_only(port, "s3cret", 2 * 1024 * 1024) == 413
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        update = (
            b'{"update_id": 9, "message": {"message_id": 1, "date": 1700000000, "text": "/about",'
            b' "chat": {"id": 31, "type": "private"}, "from": {"id": 31, "is_bot": false, "first_name": "A"},'
            b' "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}'
        )
        conn.request("POST", "/hook", body=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
        assert conn.getresponse().status == 200
        conn.close()
        tg.wait_for_message(31)
    finally:
        bot.stop()


# ------------------------------------------------------------------------------------------ defect 9


def test_a_poisoned_update_is_skipped_once_and_polling_moves_on(tg: FakeTelegram, tmp_path: Path) -> None:
    """A message without `date` is logged once and skipped; the question after it is answered."""
    with BotProcess(tg, tmp_path) as bot:
        tg.push_raw({"message": {"message_id": 1, "chat": {"id": 55, "type": "private"}, "text": "no date here"}})
        tg.push_message(56, "can massage help me sleep")
        tg.wait_for_message(56, timeout=15)
        time.sleep(1.0)
        log = bot.log_text()
    assert log.count("skipping update") == 1, log
    assert len(tg.calls_to("getUpdates")) < 50, "polling did not spin on the poisoned update"


def test_lock_file_is_beside_the_database(tg: FakeTelegram, tmp_path: Path) -> None:
    """The lock lives next to the database and holds the running bot's pid."""
    with BotProcess(tg, tmp_path) as bot:
        lock = bot.database_path.with_name(bot.database_path.name + ".lock")
        assert bot.process is not None
        assert lock.read_text().strip() == str(bot.process.pid)
