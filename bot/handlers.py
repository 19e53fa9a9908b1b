"""Telegram handlers: thin adapters that turn updates into `Conversation` calls and replies into API calls."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any

import httpx
from telegram import (
    Chat,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Config
from bot.core import ADMIN_COMMANDS, COMMANDS, Conversation, Keyboard, Knowledge, Reply, Response, Sender
from bot.delivery import DailyDelivery
from bot.storage import Store

logger = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on my side. Please try again in a moment."
TEXT_ONLY = "I can only read text. Please send me your question as a message 🙂"
SEND_ATTEMPTS = 3
PUBLIC_COMMANDS = frozenset(name for name, _ in COMMANDS)


@dataclass(slots=True)
class Services:
    """What post_init opens for the handlers: the store and the conversation core over it."""

    store: Store
    conversation: Conversation


class BotData:
    """PTB's `bot_data`, typed (``ContextTypes(bot_data=BotData)``): what the handlers and jobs share.

    build_application sets the configuration (kept here only) and the FAQ to start with; post_init opens the
    services and the daily tips' own bot and delivery, and post_shutdown closes whatever was opened."""

    __slots__ = ("_config", "delivery", "knowledge", "sender", "services")

    def __init__(self) -> None:
        self._config: Config | None = None
        self.knowledge: Knowledge | None = None
        self.services: Services | None = None
        self.sender: ExtBot[None] | None = None
        self.delivery: DailyDelivery | None = None

    @property
    def config(self) -> Config:
        """The configuration the application was built with."""
        if self._config is None:
            msg = "the application has no configuration: build it with build_application"
            raise RuntimeError(msg)
        return self._config

    @config.setter
    def config(self, config: Config) -> None:
        self._config = config


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """Handler context with typed access to the configuration and the shared services."""

    @property
    def config(self) -> Config:
        """The configuration."""
        return self.bot_data.config

    @property
    def services(self) -> Services:
        """The services created in post_init."""
        services = self.bot_data.services
        if services is None:
            msg = "an update arrived before the services were opened"
            raise RuntimeError(msg)
        return services

    @property
    def conversation(self) -> Conversation:
        """The conversation core."""
        return self.services.conversation


def markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    """Return Telegram's inline keyboard for core buttons."""
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in buttons])


def sender(update: Update, context: BotContext) -> Sender:
    """Describe who sent the update: a person, or the chat that a channel post or an anonymous sender speaks for."""
    chat = update.effective_chat
    speaker = speaking_chat(update)
    if speaker is not None:
        # Keyed by the chat: every anonymous admin comes from one Telegram account, and a post has no user.
        return Sender(user_id=speaker.id, chat_id=chat.id if chat else speaker.id, as_chat=True)
    user = update.effective_user
    user_id = user.id if user else 0
    return Sender(
        user_id=user_id,
        chat_id=chat.id if chat else user_id,
        first_name=user.first_name if user else "",
        is_admin=user_id in context.config.admin_ids,
    )


def speaking_chat(update: Update) -> Chat | None:
    """The chat a message speaks for: a channel post's channel, or an anonymous admin's group or channel.

    A button press always comes from the person who pressed it, even on a channel post."""
    message = update.message or update.edited_message or update.channel_post or update.edited_channel_post
    if message is None:
        return None
    if message.sender_chat is not None:
        return message.sender_chat
    return message.chat if message.from_user is None else None


def _is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE


def maybe_delivered(exc: BaseException) -> bool:
    """True for a timeout after the request went out: Telegram may have acted on it, so it is never resent.

    A timeout waiting for a pooled connection or for the connection itself means nothing was sent.
    """
    return isinstance(exc, TimedOut) and not isinstance(exc.__cause__, httpx.PoolTimeout | httpx.ConnectTimeout)


async def _with_retries(call: Any) -> Any:
    """Run an API call, retrying network hiccups a bounded number of times (429s are the limiter's job).

    A call that timed out after it was sent is maybe-delivered and never retried: a duplicate answer is
    worse than one that may be missing (the error handler logs it)."""
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            return await call()
        except (TimedOut, NetworkError) as exc:
            if isinstance(exc, BadRequest | Forbidden | RetryAfter) or maybe_delivered(exc) or attempt == SEND_ATTEMPTS:
                raise
            await asyncio.sleep(0.5 * attempt)
    return None


async def send_response(update: Update, context: BotContext, response: Response) -> None:
    """Send (or edit in place) every reply of a response."""
    chat = update.effective_chat
    if chat is None:
        return
    query = update.callback_query
    for reply in response.replies:
        if reply.edit and query is not None and isinstance(query.message, Message):
            await _edit(query.message, reply)
        else:
            await _send(context, chat.id, reply, quote=update.effective_message if not _is_private(update) else None)


async def _send(context: BotContext, chat_id: int, reply: Reply, quote: Message | None = None) -> None:
    if reply.photo is not None:
        photo = reply.photo.read_bytes()
        await _with_retries(lambda: context.bot.send_photo(chat_id, photo=photo, caption=reply.text[:1024]))
        return
    # In groups the answer quotes the question; if it was deleted meanwhile, answer anyway.
    reply_to = ReplyParameters(quote.message_id, allow_sending_without_reply=True) if quote is not None else None
    await _with_retries(
        lambda: context.bot.send_message(
            chat_id,
            reply.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup(reply.buttons),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_parameters=reply_to,
        )
    )


async def _edit(message: Message, reply: Reply) -> None:
    try:
        await _with_retries(
            lambda: message.edit_text(
                reply.text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup(reply.buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


def command_of(message: Message) -> tuple[str, str]:
    """The command a message starts with, lower-cased, and the bot it names: ("stats", "massage_faq_bot")."""
    name, _, target = message.parse_entity(message.entities[0])[1:].partition("@")
    return name.lower(), target


async def on_command(update: Update, context: BotContext) -> None:
    """Answer one of the bot's commands (PTB's CommandHandler matched it, `/cmd@thisbot` included)."""
    message = update.effective_message
    if message is None:
        return
    name, _ = command_of(message)
    response = await context.conversation.on_command(sender(update, context), name, context.args or ())
    await send_response(update, context, response)


async def on_unknown_command(update: Update, context: BotContext) -> None:
    """Point to /help for a command the bot lacks; in a group only when it names the bot (`/weather@thisbot`).

    A bare `/weather` in a group is another bot's business. An admin command from anyone else lands here too,
    so it gets exactly what /weather gets and cannot be told apart from it."""
    message = update.effective_message
    if message is None:
        return
    name, target = command_of(message)
    if target.lower() != (context.bot.username or "").lower() and (target or not _is_private(update)):
        return
    response = await context.conversation.on_command(sender(update, context), name, (message.text or "").split()[1:])
    await send_response(update, context, response)


async def on_text(update: Update, context: BotContext) -> None:
    """Answer a question; in groups only when the bot is mentioned or replied to."""
    message = update.effective_message
    if message is None or not message.text:
        return
    text = message.text
    if not _is_private(update):
        mention = f"@{context.bot.username}".lower()
        replied = message.reply_to_message
        to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id
        if mention not in text.lower() and not to_bot:
            return
        text = re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE).strip()
        if not text:
            response = await context.conversation.on_command(sender(update, context), "help")
            await send_response(update, context, response)
            return
    response = await context.conversation.on_text(sender(update, context), text)
    await send_response(update, context, response)


async def on_other_message(update: Update, context: BotContext) -> None:
    """Ask for text when someone sends a sticker, photo, voice note or the like in a private chat."""
    if _is_private(update) and update.effective_chat is not None:
        await _send(context, update.effective_chat.id, Reply(TEXT_ONLY))


async def on_button(update: Update, context: BotContext) -> None:
    """Handle an inline button press; every press is answered, even a stale or tampered one."""
    query = update.callback_query
    if query is None:
        return
    notice: str | None = None
    try:
        response = await context.conversation.on_button(sender(update, context), query.data)
        notice = response.notice
        await send_response(update, context, response)
    finally:
        await query.answer(notice[:200] if notice else None)


async def on_inline_query(update: Update, context: BotContext) -> None:
    """Offer up to 10 ranked answers for `@bot question`, or popular topics for an empty query."""
    query = update.inline_query
    if query is None:
        return
    results = [
        InlineQueryResultArticle(
            id=answer.id,
            title=answer.title,
            description=answer.description,
            input_message_content=InputTextMessageContent(
                answer.text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            ),
        )
        for answer in context.conversation.inline(query.query)
    ]
    await query.answer(results, cache_time=300)


async def on_my_chat_member(update: Update, context: BotContext) -> None:
    """Turn the daily tip off when a user blocks the bot or removes it from a chat."""
    change: ChatMemberUpdated | None = update.my_chat_member
    if change is None:
        return
    if change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT):
        count = await context.services.store.deactivate_chat(change.chat.id, context.conversation.clock())
        logger.info("bot removed from chat %s; %d subscription(s) turned off", change.chat.id, count)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure with the update id, and apologise to the user; the bot keeps running."""
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(context.error, Forbidden):
        logger.warning("update %s: Telegram refused the reply: %s", update_id, context.error)
        return
    if context.error is not None and maybe_delivered(context.error):
        # No apology either: the answer may well have arrived, and a second message would contradict it.
        logger.warning("update %s: Telegram did not answer in time; the reply may have arrived, not resent", update_id)
        return
    logger.error("update %s: handler failed", update_id, exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None and update.inline_query is None:
        try:
            await context.bot.send_message(update.effective_chat.id, APOLOGY)
        except Exception:  # noqa: BLE001 - the apology is best effort; the original error is logged above
            logger.warning("update %s: could not send the apology", update_id)


def register(application: Application[Any, BotContext, Any, Any, BotData, Any]) -> None:
    """Add every handler to the application; admin commands answer only the configured admins."""
    from telegram.ext import (
        CallbackQueryHandler,
        ChatMemberHandler,
        CommandHandler,
        InlineQueryHandler,
        MessageHandler,
        filters,
    )

    posts = filters.UpdateType.MESSAGES | filters.UpdateType.CHANNEL_POSTS  # new and edited, chats and channels
    admins = filters.User(user_id=application.bot_data.config.admin_ids)
    application.add_handler(CommandHandler(PUBLIC_COMMANDS, on_command, filters=posts))
    application.add_handler(CommandHandler(ADMIN_COMMANDS, on_command, filters=posts & admins))
    application.add_handler(MessageHandler(filters.COMMAND, on_unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    application.add_handler(
        MessageHandler(~filters.TEXT & ~filters.StatusUpdate.ALL & filters.UpdateType.MESSAGES, on_other_message)
    )
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(InlineQueryHandler(on_inline_query))
    application.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(on_error)
