"""Wiring: build the Telegram Application with its handlers, services and jobs."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
from typing import Any, cast

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, ExtBot, JobQueue
from telegram.request import HTTPXRequest

from bot.config import Config
from bot.core import Conversation, Knowledge, Settings, command_menu, retention_cutoff, utc_now
from bot.delivery import DailyDelivery
from bot.handlers import BotContext, BotData, Services, register
from bot.storage import Store
from bot.updates import UpdatesRequest
from bot.webhook import WebhookServer

logger = logging.getLogger(__name__)

REPLY_RETRIES = 3  # a 429 on an answer is retried this many times by PTB's rate limiter
RETENTION_INTERVAL = 24 * 3600.0
CONCURRENT_UPDATES = 16  # answers in flight: ~160 replies/s at Telegram's ~100 ms round trip
# One connection per answer in flight, plus the apologies and button answers that may overlap them.
ANSWER_CONNECTIONS = CONCURRENT_UPDATES + 4
SENDER_CONNECTIONS = 8  # enough for BROADCAST_RATE tips/s at Telegram's ~100 ms round trip, up to ~80/s
POLLING_STOP_TIMEOUT = 3.0
SHUTDOWN_TIMEOUT = 8.0  # every shutdown ends within 10 s, even when the store or Telegram misbehaves


class StartupError(Exception):
    """The bot cannot start; the message is one line for the operator, with no secret in it."""


class Lifeline:
    """Why and when the bot stops: a signal (exit 0) or a lost update feed (exit 1)."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """Stop cleanly (SIGTERM, SIGINT)."""
        self._stop.set()

    def lost(self, reason: str) -> None:
        """Stop because no update can arrive any more; the process exits non-zero."""
        if self.reason is None:
            self.reason = reason
            logger.critical("%s", reason)
        self._stop.set()

    async def wait(self) -> None:
        """Block until a stop was asked for."""
        await self._stop.wait()

BotApplication = Application[ExtBot[None], BotContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[BotContext]]


def build_application(config: Config, knowledge: Knowledge, lifeline: Lifeline | None = None) -> BotApplication:
    """Return a ready-to-run Application for `config`, answering from `knowledge`; a lost feed goes to `lifeline`."""
    lifeline = lifeline or Lifeline()
    builder = (
        ApplicationBuilder()
        .token(config.token)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .concurrent_updates(CONCURRENT_UPDATES)
        # PTB's own transport; long polling has its own connection, which also skips poisoned updates.
        .request(HTTPXRequest(connection_pool_size=ANSWER_CONNECTIONS, pool_timeout=10.0))
        .get_updates_request(UpdatesRequest(lifeline.lost, connection_pool_size=1))
        # No overall cap on answers (the broadcaster paces itself on its own connection); 429s are
        # retried a few times, and group chats keep PTB's 20-per-minute limit.
        .rate_limiter(AIORateLimiter(overall_max_rate=0, max_retries=REPLY_RETRIES))
    )
    if config.api_base_url:
        builder = builder.base_url(config.api_base_url).base_file_url(config.api_base_url.replace("/bot", "/file/bot"))
    # PTB's builder types lose the bot's type argument on the way (the rate limiter); the context types hold.
    application = cast("BotApplication", builder.build())
    application.bot_data.config = config
    application.bot_data.knowledge = knowledge
    register(application)
    return application


async def _post_init(application: BotApplication) -> None:
    data = application.bot_data
    config = data.config
    try:
        store = await Store.open(config.database_path)
    except (sqlite3.Error, OSError) as exc:
        msg = f"DATABASE_PATH cannot be used: {config.database_path}: {exc}"
        raise StartupError(msg) from exc
    knowledge = data.knowledge
    if knowledge is None:  # pragma: no cover - build_application sets it
        msg = "the application has no FAQ: build it with build_application"
        raise StartupError(msg)
    settings = Settings(
        default_timezone=config.default_timezone,
        faq_path=config.faq_path,
        chart_dir=config.database_path.parent,
    )
    conversation = Conversation(knowledge, store, settings)
    await conversation.load_labels()  # the operator's review labels are live from the first answer
    data.services = Services(store=store, conversation=conversation)
    data.knowledge = None  # the conversation holds it (and /reload replaces it there)
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in command_menu(knowledge.faq)])

    # Daily tips go out on a bot of their own without the reply rate limiter: the broadcaster paces
    # and retries itself, and its flood pauses never stall answers to people asking questions.
    # A bot's default HTTP pool is one connection, which would cap tips at one round trip each.
    sender: ExtBot[None] = ExtBot(
        config.token,
        base_url=config.api_base_url or "https://api.telegram.org/bot",
        request=HTTPXRequest(connection_pool_size=SENDER_CONNECTIONS, pool_timeout=10.0),
    )
    await sender.initialize()
    data.sender = sender

    async def send(chat_id: int, text: str) -> None:
        await sender.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
        )

    delivery = DailyDelivery(store, lambda: conversation.faq, send, utc_now, rate=config.broadcast_rate)
    data.delivery = delivery

    async def tick(context: Any) -> None:
        delivery.start_pass()

    async def purge(context: Any) -> None:
        cutoff = retention_cutoff(utc_now(), config.retention_days)
        removed = await store.purge_questions_before(cutoff)
        if removed:
            logger.info("retention: purged %d question texts older than %d days", removed, config.retention_days)
        removed = await store.purge_deliveries_before(cutoff.date())
        if removed:
            logger.info("retention: purged %d daily-tip deliveries older than %d days", removed, config.retention_days)

    job_queue = application.job_queue
    if job_queue is None:  # pragma: no cover - the job-queue extra is a requirement
        msg = "python-telegram-bot[job-queue] is required"
        raise RuntimeError(msg)
    job_queue.run_repeating(tick, interval=config.delivery_interval, first=0.5, name="daily-tips")
    job_queue.run_repeating(purge, interval=RETENTION_INTERVAL, first=5, name="retention")
    logger.info(
        "bot @%s ready: %d FAQ entries, %d tips, store %s",
        application.bot.username,
        len(knowledge.faq.entries),
        len(knowledge.faq.tips),
        config.database_path,
    )


async def _post_shutdown(application: BotApplication) -> None:
    data = application.bot_data
    if data.delivery is not None:
        await data.delivery.close()
    if data.sender is not None:
        await data.sender.shutdown()
    services = data.services
    if services is not None:
        await services.conversation.drain()
        await services.store.close()


async def serve(application: BotApplication, lifeline: Lifeline) -> int:
    """Run the bot until SIGTERM/SIGINT (exit 0) or until no update can arrive (exit 1).

    Startup failures raise (StartupError, or PTB's InvalidToken, NetworkError, TelegramError) after
    whatever started has been shut down again. The shutdown is bounded by SHUTDOWN_TIMEOUT.
    """
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, lifeline.stop)
    server: WebhookServer | None = None
    try:
        await application.initialize()
        await _post_init(application)
        hook = application.bot_data.config.webhook
        if hook is not None:
            server = WebhookServer(
                hook.listen, hook.port, hook.path, hook.secret, application.bot, application.update_queue
            )
            server.start()
            await application.bot.set_webhook(
                hook.url, secret_token=hook.secret, allowed_updates=Update.ALL_TYPES, max_connections=40
            )
        else:
            updater = application.updater
            if updater is None:  # pragma: no cover - the builder always makes one
                msg = "the application has no updater"
                raise StartupError(msg)
            await updater.start_polling(allowed_updates=Update.ALL_TYPES, error_callback=_polling_error)
        await application.start()
        await lifeline.wait()
    finally:
        try:
            await asyncio.wait_for(_shutdown(application, server), SHUTDOWN_TIMEOUT)
        except TimeoutError:
            logger.error("shutdown took longer than %.0f s; exiting anyway", SHUTDOWN_TIMEOUT)
    return 1 if lifeline.reason else 0


def _polling_error(exc: Exception) -> None:
    # PTB retries these itself, with growing pauses; a feed that is gone for good is the Lifeline's job.
    logger.warning("getUpdates failed: %s: %s", type(exc).__name__, exc)


async def _shutdown(application: BotApplication, server: WebhookServer | None) -> None:
    """Stop everything that started, in reverse order; one failing step never skips the others."""

    async def step(what: str, action: Any) -> None:
        try:
            await action()
        except Exception as exc:  # noqa: BLE001 - shutting down: log and go on with the next step
            logger.error("shutdown: %s failed: %s: %s", what, type(exc).__name__, exc)

    updater = application.updater
    if updater is not None and updater.running:
        # PTB's stop waits out the polling loop's back-off pause (up to 30 s after errors): bound it.
        await step("stopping the polling", lambda: asyncio.wait_for(updater.stop(), POLLING_STOP_TIMEOUT))
    if server is not None:
        await step("stopping the webhook server", server.stop)
    if application.running:
        await step("stopping the application", application.stop)
    await step("closing the services", lambda: _post_shutdown(application))
    await step("closing the HTTP connections", application.shutdown)
