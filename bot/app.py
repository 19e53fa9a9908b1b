"""Wiring: build the Telegram Application with its handlers, services and jobs."""

from __future__ import annotations

import logging
from typing import Any

from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, ExtBot

from bot.config import Config
from bot.core import COMMANDS, Conversation, Knowledge, Settings, retention_cutoff, utc_now
from bot.delivery import DailyDelivery
from bot.handlers import BotContext, Services, register
from bot.http import AiohttpRequest
from bot.storage import Store

logger = logging.getLogger(__name__)

REPLY_RETRIES = 3  # a 429 on an answer is retried this many times by PTB's rate limiter
RETENTION_INTERVAL = 24 * 3600.0
CONCURRENT_UPDATES = 32  # answers in flight: ~300 replies/s at Telegram's ~100 ms round trip
SENDER_CONNECTIONS = 8  # enough for BROADCAST_RATE tips/s at Telegram's ~100 ms round trip, up to ~80/s

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def build_application(config: Config, knowledge: Knowledge) -> AnyApplication:
    """Return a ready-to-run Application for `config`, answering from `knowledge`."""
    builder = (
        ApplicationBuilder()
        .token(config.token)
        .context_types(ContextTypes(context=BotContext))
        .concurrent_updates(CONCURRENT_UPDATES)
        # One connection per answer in flight, on aiohttp (bot/http.py); long polling has its own.
        .request(AiohttpRequest(CONCURRENT_UPDATES, pool_timeout=10.0))
        .get_updates_request(AiohttpRequest(1))
        # No overall cap on answers (the broadcaster paces itself on its own connection); 429s are
        # retried a few times, and group chats keep PTB's 20-per-minute limit.
        .rate_limiter(AIORateLimiter(overall_max_rate=0, max_retries=REPLY_RETRIES))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if config.api_base_url:
        builder = builder.base_url(config.api_base_url).base_file_url(config.api_base_url.replace("/bot", "/file/bot"))
    application = builder.build()
    application.bot_data["config"] = config
    application.bot_data["knowledge"] = knowledge
    register(application)
    return application


async def _post_init(application: AnyApplication) -> None:
    config: Config = application.bot_data["config"]
    store = await Store.open(config.database_path)
    knowledge: Knowledge = application.bot_data["knowledge"]
    settings = Settings(
        default_timezone=config.default_timezone,
        faq_path=config.faq_path,
        chart_dir=config.database_path.parent,
    )
    conversation = Conversation(knowledge, store, settings)
    application.bot_data["services"] = Services(config=config, store=store, conversation=conversation)
    await application.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])

    # Daily tips go out on a bot of their own without the reply rate limiter: the broadcaster paces
    # and retries itself, and its flood pauses never stall answers to people asking questions.
    # A bot's default HTTP pool is one connection, which would cap tips at one round trip each.
    sender: ExtBot[None] = ExtBot(
        config.token,
        base_url=config.api_base_url or "https://api.telegram.org/bot",
        request=AiohttpRequest(SENDER_CONNECTIONS, pool_timeout=10.0),
    )
    await sender.initialize()
    application.bot_data["sender"] = sender

    async def send(chat_id: int, text: str) -> None:
        await sender.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
        )

    delivery = DailyDelivery(store, lambda: conversation.faq, send, utc_now, rate=config.broadcast_rate)
    application.bot_data["delivery"] = delivery

    async def tick(context: Any) -> None:
        delivery.start_pass()

    async def purge(context: Any) -> None:
        removed = await store.purge_questions_before(retention_cutoff(utc_now(), config.retention_days))
        if removed:
            logger.info("retention: purged %d question texts older than %d days", removed, config.retention_days)

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


async def _post_shutdown(application: AnyApplication) -> None:
    delivery: DailyDelivery | None = application.bot_data.get("delivery")
    if delivery is not None:
        await delivery.close()
    sender = application.bot_data.get("sender")
    if sender is not None:
        await sender.shutdown()
    services: Services | None = application.bot_data.get("services")
    if services is not None:
        await services.conversation.drain()
        await services.store.close()
