"""The conversation core: turns a user's text, command or button press into replies.

It uses the `faq` domain and the store, and knows nothing of Telegram: the Telegram handlers and the
console are thin adapters over `Conversation`. Replies are HTML (Telegram's parse mode) with buttons
as rows of (label, callback data).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot import callbacks, daily, review
from bot.background import in_background_thread
from bot.callbacks import DAILY_PRESETS, Press
from bot.render import button_label, esc, fit
from bot.storage import ReviewLabel, Store
from faq.embedding import Embedder
from faq.examples import OFF_TOPIC, Example, ExamplesError, LabelledAnswers, examples_path_for, load_examples
from faq.loader import FaqError, load_faq
from faq.matcher import Matcher, MatchResult
from faq.models import Entry, Faq, Tip
from faq.passages import passage, read_material
from faq.safety import SafetyFlag
from faq.small_talk import small_talk_kind
from faq.tips import tip_of_the_day, unseen_tip
from faq.understanding import Understanding

logger = logging.getLogger(__name__)
training_log = logging.getLogger("faq.training")  # a cold build's progress; the console shows it too

Clock = Callable[[], datetime]
DISCLAIMER = "General information, not medical advice."
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Welcome and main menu"),
    ("help", "What I can do, with examples"),
    ("topics", "Browse questions by topic"),
    ("benefits", "Benefits"),  # the FAQ file's wording names them (see command_menu)
    ("tip", "Tip of the day"),
    ("daily", "Get a tip every day at a time you choose"),
    ("about", "Where the answers come from"),
    ("mydata", "See what I store about you"),
    ("forget", "Delete everything I store about you"),
)
ADMIN_COMMANDS = frozenset({"stats", "reload", "review"})
MYDATA_IN_PRIVATE = (
    "🔒 What I store about you is for your eyes only, so I show it in a private chat: "
    "send me /mydata there."
)
NOT_YOUR_BUTTON = "That button is for the person who asked."
ENGLISH_ONLY = "Sorry, I understand English only. Please ask me again in English, or browse the topics."
REVIEW_KEPT = (
    "Questions an admin reviews may be kept anonymously as examples that teach the bot: "
    "with no user id, and with e-mails and numbers masked."
)


def command_menu(faq: Faq) -> tuple[tuple[str, str], ...]:
    """Return the public commands and what each does, in the FAQ's own words where they name its subject."""
    own = {"benefits": faq.wording.benefits_command}
    return tuple((name, own.get(name, text)) for name, text in COMMANDS)


def utc_now() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: a label and its callback data."""

    label: str
    data: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to show. `edit` asks to replace the message whose button was pressed."""

    text: str
    buttons: Keyboard = ()
    edit: bool = False
    photo: Path | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """Everything one event produces: messages, and the short notice that answers a button press."""

    replies: tuple[Reply, ...] = ()
    notice: str | None = None


@dataclass(frozen=True, slots=True)
class Sender:
    """Who is talking to the bot, and where."""

    user_id: int  # a person's id, or with `as_chat` the id of the chat they speak for
    chat_id: int
    first_name: str = ""
    is_admin: bool = False
    as_chat: bool = False  # a channel post or an anonymous admin: the data belongs to that chat


@dataclass(frozen=True, slots=True)
class InlineAnswer:
    """One inline-mode result."""

    id: str
    title: str
    description: str
    text: str


class Knowledge:
    """The FAQ, its reader and the operator's labelled examples; replaced as a whole (by /reload or a new
    label), so readers never see half of each.

    The reader is `faq.understanding.Understanding`: the lexical matcher and the learned layer, trained on
    the FAQ's phrasings, the examples file beside the FAQ (`examples.yaml`) and the operator's labels.

    The interface the review loop relies on, for any matcher behind it:

    - ``match(text)`` is the bot's verdict on a message. The safety layer wins (except on a short message the
      learned layer plainly reads as about something else: its verdict then carries the sign as a caveat);
      then a labelled example asked again (same normalised text) gets its label: an entry id answers with that
      entry, ``off-topic`` declines, a safety entry gives the safety answer.
    - ``with_examples(examples)`` returns a new Knowledge for the same FAQ that honours `examples`. It may
      be slow (the learned layer retrains here), so the core calls it in a worker thread
      (``asyncio.to_thread``) and swaps the result in with one assignment. It must not change `self`.
    - ``examples`` are the labelled examples in use; labels naming an entry the FAQ lacks are dropped
      into ``ignored`` instead, never an error.
    """

    def __init__(
        self,
        faq: Faq,
        material: str | None = None,
        examples: tuple[Example, ...] = (),
        reader: Understanding | None = None,
        file_examples: tuple[Example, ...] = (),
        *,
        retrain: bool = True,
    ) -> None:
        self.faq = faq
        self.material = material  # the article the FAQ is built on, when it lies beside the FAQ file
        self.file_examples = file_examples  # the examples file beside the FAQ, which the owner keeps
        self.labels = LabelledAnswers(faq, examples)
        # The operator's labels come after the file's, so a label given in review wins over the file's.
        wanted = (*file_examples, *self.labels.used)
        if reader is None:
            reader = Understanding(faq, labelled=wanted)
        elif reader.faq is faq and not retrain:
            reader = reader if reader.examples == wanted else reader.with_labels(wanted)
        elif reader.faq is not faq or reader.examples != wanted or reader.trained_on != wanted:
            reader = reader.with_examples(wanted)
        self.reader = reader

    @classmethod
    def load(cls, path: Path, *, learned: bool = True) -> Knowledge:
        """Load and index an FAQ file and the examples beside it, and train the learned layer (raises FaqError).

        The sources are checked against the material beside the FAQ. The learned layer comes from the disk
        cache when the FAQ, the examples and the model are unchanged; otherwise it is trained (tens of seconds,
        with progress in the log). Without an examples file that has off-topic messages the learned layer
        could not decline, so the lexical matcher answers alone.
        """
        material = read_material(path)
        faq = load_faq(path, material=material)
        try:
            file_examples = load_examples(examples_path_for(path), faq)
        except ExamplesError as exc:
            raise FaqError(exc.path, exc.errors) from exc
        started = time.perf_counter()
        reader = Understanding.for_faq(faq, file_examples, learned=learned, progress=_log_progress())
        if reader.learned is not None:
            logger.debug("learned layer ready in %.1f s", time.perf_counter() - started)
        return cls(faq, material, (), reader, file_examples)

    def passage(self, entry: Entry) -> str | None:
        """Return the passage of the material an entry's answer rests on, or None (general guidance, no material)."""
        if entry.is_general_guidance or self.material is None:
            return None
        return passage(self.material, entry.source)

    def with_examples(self, examples: tuple[Example, ...]) -> Knowledge:
        """Return a Knowledge for the same FAQ that honours `examples` (blocking: call it off the event loop)."""
        return Knowledge(self.faq, self.material, examples, self.reader, self.file_examples)

    def with_labels(self, examples: tuple[Example, ...]) -> Knowledge:
        """Return a Knowledge that gives `examples` their labels asked again verbatim, without retraining (fast).

        The learned layer stays as it is (`retrained` is False) until `with_examples` retrains it.
        """
        return Knowledge(self.faq, self.material, examples, self.reader, self.file_examples, retrain=False)

    @property
    def embedder(self) -> Embedder | None:
        """The learned layer's sentence embedder (the review queue groups by it), or None without the layer."""
        learned = self.reader.learned
        return None if learned is None else learned.embedder

    @property
    def retrained(self) -> bool:
        """True when the learned layer has been trained on every example in use."""
        return self.reader.trained_on == self.reader.examples

    @property
    def matcher(self) -> Matcher:
        """The lexical matcher (the review queue groups messages by its top entry)."""
        return self.reader.lexical

    @property
    def learned(self) -> bool:
        """True when the learned layer reads messages beside the lexical matcher."""
        return self.reader.learned is not None

    @property
    def examples(self) -> tuple[Example, ...]:
        """The labelled examples in use."""
        return self.labels.used

    @property
    def ignored(self) -> tuple[Example, ...]:
        """Labels naming an entry the FAQ lacks: reported, never applied."""
        return self.labels.ignored

    def match(self, text: str) -> MatchResult:
        """Return the verdict on a message: safety first, then the labelled examples, then both layers."""
        return self.reader.match(text)

    def rank(self, text: str, limit: int = 10) -> list[str]:
        """Return entry ids that could answer `text`, best first (inline mode)."""
        return self.reader.rank(text, limit)


def _reloaded(path: Path, labels: Sequence[ReviewLabel]) -> tuple[Knowledge, tuple[ReviewLabel, ...]]:
    """Load the FAQ at `path` with the stored review labels applied (blocking); also return unusable labels."""
    fresh = Knowledge.load(path)
    examples, missing = review.usable_examples(labels, fresh.faq)
    return (fresh.with_examples(examples) if examples else fresh), missing


def _log_progress() -> Callable[[int, int], None]:
    """A progress callback for a cold build: one log line per quarter of the texts embedded."""
    started = time.perf_counter()
    logged = [0]

    def report(done: int, total: int) -> None:
        quarter = 4 * done // max(total, 1)
        if done == total or quarter > logged[0]:
            logged[0] = quarter
            elapsed = time.perf_counter() - started
            training_log.info("training the learned layer: %d of %d texts embedded (%.0f s)", done, total, elapsed)

    return report


@dataclass(frozen=True, slots=True)
class Settings:
    """What the core needs from the configuration."""

    default_timezone: str = "UTC"
    faq_path: Path | None = None
    chart_dir: Path = Path("data")


class Conversation:
    """The bot's behaviour, independent of Telegram."""

    def __init__(
        self,
        knowledge: Knowledge,
        store: Store,
        settings: Settings | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.store = store
        self.settings = settings or Settings()
        self.clock = clock
        self.rng = rng or random.Random()
        self._pending: set[asyncio.Task[None]] = set()
        self._labels_loaded = False
        self._relabel = asyncio.Lock()  # one rebuild with examples at a time, in label order
        self._retraining: asyncio.Task[None] | None = None  # the learned layer catching up with the labels
        self._vectors: dict[str, review.Vector] = {}  # sentence embeddings of the queued texts, by norm

    @property
    def faq(self) -> Faq:
        """The FAQ currently in use."""
        return self.knowledge.faq

    # --- events ------------------------------------------------------------------------------

    async def on_command(self, who: Sender, name: str, args: Sequence[str] = ()) -> Response:
        """Handle `/name args`."""
        await self.drain()  # so /mydata, /forget and /stats see (or delete) every question logged so far
        await self.load_labels()
        await self.store.touch_user(who.user_id, self.clock())
        name = name.lower()
        if name in ADMIN_COMMANDS and not who.is_admin:
            return self._unknown_command()
        handler = {
            "start": self._start,
            "help": self._help,
            "topics": self._topics,
            "benefits": self._benefits,
            "about": self._about,
        }.get(name)
        if handler is not None:
            return handler(who)
        if name == "tip":
            return Response((self._tip_of_the_day(),))
        if name == "daily":
            return await self._daily(who, args)
        if name == "mydata":
            return await self._mydata(who)
        if name == "forget":
            if [a.lower() for a in args] == ["yes"]:
                return await self._forget(who, edit=False)
            return self._forget_prompt(who)
        if name == "stats":
            return await self._stats()
        if name == "reload":
            return await self._reload()
        if name == "review":
            return Response((await self._review_reply(),))
        return self._unknown_command()

    async def on_text(self, who: Sender, text: str) -> Response:
        """Answer a question typed in the user's own words."""
        now = self.clock()
        chat = small_talk_kind(self.faq.small_talk, text, self.knowledge.matcher.safety)
        if chat is not None:
            return Response((Reply(esc(chat.reply), self._menu()),))
        await self.load_labels()
        result = self.knowledge.match(text)
        # The log is written after the answer is on its way: a question never waits for SQLite.
        self._later(self.store.log_question(who.user_id, text, result.entry_id, result.tier, result.score, now))
        return Response(self._result_replies(result))

    def _later(self, write: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(write)
        self._pending.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("could not store a question", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the writes still in flight (before closing the store)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def on_button(self, who: Sender, data: str | None) -> Response:
        """Handle a button press; unknown or tampered data gets a short notice and nothing else."""
        press = callbacks.decode(data, self.faq)
        if press is None:
            return Response(notice="That button is out of date. Send /topics to start again.")
        if press.action.startswith("review") and not who.is_admin:
            return Response(notice="That button is out of date. Send /topics to start again.")
        if press.owner is not None and press.owner != who.user_id:
            yours = "/daily to set your own daily tip" if press.action.startswith("daily") else "/forget yourself"
            return Response(notice=f"{NOT_YOUR_BUTTON} Send {yours}.")
        await self.drain()
        await self.load_labels()
        await self.store.touch_user(who.user_id, self.clock())
        return await self._press(who, press)

    def inline(self, query: str, limit: int = 10) -> list[InlineAnswer]:
        """Return inline-mode results: ranked matches, or the popular topics for an empty query."""
        entries: list[Entry]
        if query.strip():
            result = self.knowledge.match(query)
            ids = [result.entry_id] if result.tier == "answer" and result.entry_id else []
            if result.caveat is not None:
                ids.append(result.caveat.entry_id)  # the sign the learned layer overruled is one tap away
            ids += [i for i in self.knowledge.rank(query) if i not in ids]
            entries = [e for e in (self.faq.entry(i) for i in ids) if e is not None]
        else:
            popular = {t.id for t in self.faq.topics if t.popular}
            entries = [e for e in self.faq.entries if e.topic in popular]
        return [
            InlineAnswer(
                id=entry.id,
                title=entry.question,
                description=button_label(entry.answer),
                text=self._answer_text(entry),
            )
            for entry in entries[:limit]
        ]

    # --- button presses ------------------------------------------------------------------------

    async def _press(self, who: Sender, press: Press) -> Response:
        if press.action.startswith("review"):
            return await self._review_press(press)
        if press.action == "answer":
            entry = self.faq.by_id[press.arg]
            return Response((self._answer(entry, edit=True),))
        if press.action == "source":
            return Response((self._source_reply(self.faq.by_id[press.arg]),))
        if press.action == "topics":
            return Response((self._topics_reply(edit=True),))
        if press.action == "topic":
            return Response((self._topic_reply(press.arg, edit=True),))
        if press.action == "benefits":
            return Response((self._benefits_reply(edit=False),))
        if press.action == "tip":
            return Response((self._tip_of_the_day(),))
        if press.action == "another_tip":
            return Response((await self._another_tip(who),))
        if press.action == "daily":
            return Response((await self._daily_state(who),))
        if press.action == "daily_set":
            return await self._subscribe(who, press.arg, await self._zone(who))
        if press.action == "daily_off":
            return await self._unsubscribe(who)
        if press.action in ("feedback_up", "feedback_down"):
            return await self._feedback(who, press)
        if press.action == "forget_yes":
            return await self._forget(who, edit=True)
        return Response((Reply("Nothing was deleted.", edit=True),), notice="Cancelled")

    async def _feedback(self, who: Sender, press: Press) -> Response:
        helpful = press.action == "feedback_up"
        await self.store.add_feedback(who.user_id, press.arg, helpful, self.clock())
        if helpful:
            return Response(notice="Thanks, glad it helped!")
        reply = Reply("Sorry that didn't help. Try asking in other words, or browse the topics:", self._topic_buttons())
        return Response((reply,), notice="Thanks for telling me.")

    # --- replies ---------------------------------------------------------------------------------

    def _result_replies(self, result: MatchResult) -> tuple[Reply, ...]:
        replies = self._plain_replies(result)
        if result.caveat is None:
            return replies
        return tuple(self._with_caveat(reply, result.caveat) for reply in replies)

    def _with_caveat(self, reply: Reply, caveat: SafetyFlag) -> Reply:
        """The reply with a line naming the warning sign the message mentions and a button to the safety answer
        the rules gave: the learned layer read the message as about something else, but a sign is never dropped
        without a word."""
        line = (
            f"⚠️ Some of your words can point to <b>{esc(caveat.reason)}</b>. If you have that now, please check "
            "with a doctor before any massage."
        )
        safety = self.faq.by_id.get(caveat.entry_id)
        rows = reply.buttons
        if safety is not None:
            rows = ((Button(button_label(safety.question), callbacks.encode("answer", safety.id)),), *rows)
        return replace(reply, text=fit(line + "\n\n" + reply.text), buttons=rows)

    def _plain_replies(self, result: MatchResult) -> tuple[Reply, ...]:
        if result.tier == "answer" and result.entry_id:
            entry = self.faq.by_id[result.entry_id]
            if result.safety_reason:
                return (self._safety_answer(entry, result),)
            return (self._answer(entry),)
        if not result.english:
            return (Reply(ENGLISH_ONLY, (self._topics_row(),)),)
        if result.tier == "suggest":
            ids = result.suggestions or ((result.entry_id,) if result.entry_id else ())
            rows = tuple(
                (Button(button_label(self.faq.by_id[i].question), callbacks.encode("answer", i)),) for i in ids
            )
            return (Reply("I'm not quite sure what you mean. Did you mean…", (*rows, self._topics_row())),)
        return (self._decline(),)

    def _answer_text(self, entry: Entry) -> str:
        answer = entry.answer.strip()
        reminder = self.faq.safety.reminder
        if reminder and entry.topic == self.faq.roles.benefits and reminder not in answer:
            answer += f" {reminder}"  # "will massage help my back" always comes with the warning-sign check
        parts = [f"<b>{esc(entry.question)}</b>", "", esc(answer)]
        if entry.tip:
            parts += ["", f"💡 <i>Tip:</i> {esc(entry.tip)}"]
        if entry.is_general_guidance:
            parts += ["", f"<i>General guidance. {DISCLAIMER}</i>"]
        return fit("\n".join(parts))

    def _answer(self, entry: Entry, *, edit: bool = False) -> Reply:
        related = [self.faq.by_id[r] for r in entry.related if r in self.faq.by_id][:3]
        rows: list[tuple[Button, ...]] = [
            (Button(button_label(r.question), callbacks.encode("answer", r.id)),) for r in related
        ]
        rows.append(
            (
                Button("👍 Helpful", callbacks.encode("feedback_up", entry.id)),
                Button("👎 Not helpful", callbacks.encode("feedback_down", entry.id)),
            )
        )
        last = [Button(f"⬅️ {self.faq.title(entry.topic)}", callbacks.encode("topic", entry.topic))]
        if self.knowledge.passage(entry) is not None:
            last.append(Button("📖 Source", callbacks.encode("source", entry.id)))
        rows.append(tuple(last))
        return Reply(self._answer_text(entry), tuple(rows), edit=edit)

    def _source_reply(self, entry: Entry) -> Reply:
        quoted = self.knowledge.passage(entry)
        if quoted is None:  # an answer that was reloaded into general guidance since the button was sent
            text = (
                f"📖 <b>Source</b>\nThe answer to <i>{esc(entry.question)}</i> is general guidance, "
                "not a passage of the article. /about says more."
            )
            return Reply(text)
        text = (
            f"📖 <b>Source</b> for <i>{esc(entry.question)}</i>\n"
            "This answer rests on this passage of the article the bot is built on (/about describes it), "
            f"quoted word for word:\n\n<blockquote>{esc(quoted)}</blockquote>"
        )
        return Reply(fit(text))

    def _safety_answer(self, entry: Entry, result: MatchResult) -> Reply:
        lead = (
            f"⚠️ You mentioned <b>{esc(result.safety_reason or 'a warning sign')}</b>. "
            "Please check with a doctor first."
        )
        if entry.id == self.faq.roles.warning_signs:
            lead = (
                f"⚠️ You mentioned <b>{esc(result.safety_reason or 'a warning sign')}</b>. "
                "That needs a doctor's attention first."
            )
        rows: list[tuple[Button, ...]] = []
        if result.also and result.also in self.faq.by_id:
            other = self.faq.by_id[result.also]
            rows.append((Button(button_label(f"Also: {other.question}"), callbacks.encode("answer", other.id)),))
        rows.append(self._topics_row())
        return Reply(fit(lead + "\n\n" + self._answer_text(entry)), tuple(rows))

    def _decline(self) -> Reply:
        titles = ", ".join(t.title.lower() for t in self.faq.topics if not t.about_bot)
        example = f"e.g. <i>{esc(self.faq.examples[0])}</i>, " if self.faq.examples else ""
        text = (
            "Sorry, I'm not sure about that one, and I'd rather not guess. "
            f"I know about {esc(self.faq.subject)}: {esc(titles)}.\n\n"
            f"Try asking another way, {example}or browse the topics."
        )
        return Reply(text, (self._topics_row(),))

    def _topics_row(self) -> tuple[Button, ...]:
        return (Button("📚 Topics", callbacks.encode("topics")),)

    def _topic_buttons(self) -> Keyboard:
        return tuple(
            (Button(t.title, callbacks.encode("topic", t.id)),) for t in self.faq.topics if self.faq.topic_entries(t.id)
        )

    def _topics_reply(self, *, edit: bool = False) -> Reply:
        return Reply("📚 <b>Topics</b>\nPick a topic to see its questions:", self._topic_buttons(), edit=edit)

    def _topic_reply(self, topic: str, *, edit: bool = False) -> Reply:
        entries = [e for e in self.faq.entries if e.topic == topic]
        rows = tuple((Button(button_label(e.question), callbacks.encode("answer", e.id)),) for e in entries)
        back = (Button("⬅️ Back", callbacks.encode("topics")),)
        title = self.faq.title(topic)
        return Reply(f"<b>{esc(title)}</b>\nPick a question:", (*rows, back), edit=edit)

    def _benefits_reply(self, *, edit: bool = False) -> Reply:
        entries = self.faq.topic_entries(self.faq.roles.benefits)
        rows = tuple((Button(button_label(e.question), callbacks.encode("answer", e.id)),) for e in entries)
        wording = self.faq.wording
        text = f"<b>{esc(wording.benefits_heading)}</b>\n{esc(wording.benefits_intro)}"
        return Reply(text, (*rows, self._topics_row()), edit=edit)

    def _menu(self) -> Keyboard:
        return (
            (
                Button(self.faq.wording.benefits_button, callbacks.encode("benefits")),
                Button("📚 Topics", callbacks.encode("topics")),
            ),
            (Button("💡 Tip of the day", callbacks.encode("tip")), Button("⏰ Daily tip", callbacks.encode("daily"))),
        )

    def _start(self, who: Sender) -> Response:
        name = f", {esc(who.first_name)}" if who.first_name else ""
        example = f"for example <i>{esc(self.faq.examples[0])}</i>, " if self.faq.examples else ""
        text = (
            f"👋 Hi{name}! I answer questions about <b>{esc(self.faq.subject)}</b>, "
            "from a curated knowledge base.\n\n"
            f"Ask me anything in your own words, {example}or use the menu below.\n\n"
            f"<i>{esc(' '.join(filter(None, (DISCLAIMER, self.faq.wording.start_note))))}</i>"
        )
        return Response((Reply(text, self._menu()),))

    def _help(self, who: Sender) -> Response:
        commands = "\n".join(f"/{name} — {esc(text)}" for name, text in command_menu(self.faq))
        examples = "\n".join(f"• <i>{esc(e)}</i>" for e in self.faq.examples)
        text = (
            "<b>What I can do</b>\n"
            f"Ask a question about {esc(self.faq.subject)} in your own words, typos welcome. "
            "I answer from a curated FAQ and add a practical tip. "
            "If you describe warning signs, I'll tell you to see a doctor.\n\n"
            f"<b>Try asking</b>\n{examples}\n\n<b>Commands</b>\n{commands}\n\n"
            "In groups, mention me or reply to my message. Inline: type my @username and a question in any chat."
        )
        return Response((Reply(text, self._menu()),))

    def _topics(self, who: Sender) -> Response:
        return Response((self._topics_reply(),))

    def _benefits(self, who: Sender) -> Response:
        return Response((self._benefits_reply(),))

    def _about(self, who: Sender) -> Response:
        wording = self.faq.wording
        paragraphs = [esc(p.strip()) for p in wording.about.split("\n") if p.strip()]
        text = "\n\n".join(
            [
                "<b>About this bot</b>\n" + paragraphs[0],
                *paragraphs[1:],
                f"<b>{DISCLAIMER}</b> {esc(wording.about_caveat)}",
                REVIEW_KEPT,
            ]
        )
        return Response((Reply(fit(text), (self._topics_row(),)),))

    @staticmethod
    def _unknown_command() -> Response:
        return Response((Reply("I don't know that command. Send /help to see what I can do."),))

    # --- tips ------------------------------------------------------------------------------------

    def today(self) -> datetime:
        """Return now in the bot's timezone."""
        return self.clock().astimezone(ZoneInfo(self.settings.default_timezone))

    def tip_for_today(self) -> Tip:
        """Return the tip of the day in the bot's timezone."""
        return tip_of_the_day(self.faq.tips, self.today().date())

    def _tip_reply(self, heading: str, tip: Tip) -> Reply:
        buttons = (
            (Button("🔄 Another tip", callbacks.encode("another_tip")),),
            (Button("⏰ Daily tip", callbacks.encode("daily")),),
        )
        return Reply(f"💡 <b>{esc(heading)}</b>\n\n{esc(tip.text)}", buttons)

    def _tip_of_the_day(self) -> Reply:
        return self._tip_reply("Tip of the day", self.tip_for_today())

    async def _another_tip(self, who: Sender) -> Reply:
        seen = await self.store.seen_tip_ids(who.user_id)
        seen.add(self.tip_for_today().id)
        tip = unseen_tip(self.faq.tips, seen, self.rng)
        heading = "Another tip"
        if tip is None:
            await self.store.reset_seen_tips(who.user_id)
            tip = unseen_tip(self.faq.tips, {self.tip_for_today().id}, self.rng) or self.tip_for_today()
            heading = f"You've seen all {len(self.faq.tips)} tips, so here they come again"
        await self.store.mark_tip_seen(who.user_id, tip.id, self.clock())
        return self._tip_reply(heading, tip)

    # --- daily tip -------------------------------------------------------------------------------

    async def _zone(self, who: Sender) -> str:
        """Return the zone the user chose for their daily tip (kept when it is off), or the bot's default."""
        sub = await self.store.get_subscription(who.user_id)
        return sub.timezone if sub is not None else self.settings.default_timezone

    async def _daily(self, who: Sender, args: Sequence[str]) -> Response:
        try:
            command = daily.parse_daily_args(args, await self._zone(who))
        except daily.DailyUsageError as exc:
            return Response((Reply(esc(str(exc))),))
        if isinstance(command, daily.DailyOff):
            return await self._unsubscribe(who)
        if isinstance(command, daily.DailySubscribe):
            return await self._subscribe(who, command.local_time, command.timezone)
        return Response((await self._daily_state(who),))

    async def _daily_state(self, who: Sender) -> Reply:
        sub = await self.store.get_subscription(who.user_id)
        zone = sub.timezone if sub is not None else self.settings.default_timezone
        if sub is not None and sub.active:
            state = f"✅ You get a tip at {esc(daily.describe(sub.local_time, sub.timezone, self.clock()))}."
        else:
            state = "You don't get a daily tip yet."
        if who.as_chat:  # anyone who reads a channel could press time buttons: a chat sets its time by command
            return Reply(
                f"⏰ <b>Daily tip</b>\n{state}\n\nSend e.g. <code>/daily 07:30 Europe/Berlin</code> "
                "to pick a time and zone, or <code>/daily off</code> to stop."
            )
        text = (
            f"⏰ <b>Daily tip</b>\n{state}\n\n"
            f"Pick a time ({esc(zone)}), or send e.g. "
            "<code>/daily 07:30 Europe/Berlin</code> for your own time and zone."
        )
        presets = tuple(Button(t, callbacks.encode("daily_set", t, owner=who.user_id)) for t in DAILY_PRESETS)
        return Reply(text, (presets, (Button("🔕 Off", callbacks.encode("daily_off", owner=who.user_id)),)))

    async def _subscribe(self, who: Sender, local_time: str, timezone: str) -> Response:
        now = self.clock()
        await self.store.subscribe(who.user_id, who.chat_id, local_time, timezone, now)
        when = daily.describe(local_time, timezone, now)
        text = f"✅ Done! You'll get a tip at {esc(when)}.\nSend /daily off to stop."
        return Response((Reply(text),), notice=f"Daily tip at {local_time}")

    async def _unsubscribe(self, who: Sender) -> Response:
        was_on = await self.store.unsubscribe(who.user_id, self.clock())
        text = (
            "🔕 Daily tips are off. Send /daily to turn them back on."
            if was_on
            else ("You had no daily tip, so nothing changed. Send /daily to set one up.")
        )
        return Response((Reply(text),), notice="Daily tips off")

    # --- privacy -------------------------------------------------------------------------------

    async def _mydata(self, who: Sender) -> Response:
        if who.chat_id != who.user_id and not who.as_chat:  # a member in a group: the others would read it
            return Response((Reply(MYDATA_IN_PRIVATE),))
        data = await self.store.user_data(who.user_id)
        sub = data.subscription
        lines = [
            "🗂 <b>What I store about this chat</b>" if who.as_chat else "🗂 <b>What I store about you</b>",
            f"{'Chat' if who.as_chat else 'User'} id: <code>{who.user_id}</code>",
            f"First seen: {_when(data.first_seen)}",
            f"Last seen: {_when(data.last_seen)}",
            "Daily tip: "
            + (esc(daily.describe(sub.local_time, sub.timezone, self.clock())) if sub and sub.active else "off"),
            f"Questions asked: {data.question_count} (texts are deleted after the retention period)",
            f"Feedback given: {data.feedback_count}",
            f"Tips seen: {data.tips_seen_count}, daily tips sent: {data.deliveries_count}",
        ]
        if data.recent_questions:
            lines.append("\nRecent questions:")
            lines += [f"• {esc(q.text[:100])}" for q in data.recent_questions[:5]]
        lines.append(f"\n{REVIEW_KEPT}")
        lines.append("\nSend /forget to delete all of it.")
        return Response((Reply(fit("\n".join(lines))),))

    @staticmethod
    def _forget_prompt(who: Sender) -> Response:
        if who.as_chat:
            # Anyone who reads a channel can press its buttons, so a chat confirms in its own name.
            text = (
                "This deletes everything I store about this chat: questions, tips seen and its daily tip. "
                "Are you sure? Send <code>/forget yes</code> to confirm."
            )
            return Response((Reply(text),))
        buttons = (
            (
                Button("🗑 Yes, delete everything", callbacks.encode("forget_yes", owner=who.user_id)),
                Button("Cancel", callbacks.encode("forget_no", owner=who.user_id)),
            ),
        )
        text = (
            "This deletes everything I store about you: questions, feedback, tips seen and your daily tip. "
            "Are you sure?"
        )
        return Response((Reply(text, buttons),))

    async def _forget(self, who: Sender, *, edit: bool) -> Response:
        await self.store.forget_user(who.user_id)
        whom = "this chat" if who.as_chat else "you"
        text = f"Done: everything I stored about {whom} is deleted. Say hi any time."
        return Response((Reply(text, edit=edit),), notice="Deleted")

    # --- admin ---------------------------------------------------------------------------------

    async def _stats(self) -> Response:
        from bot.report import format_report, render_chart, uncovered_questions  # matplotlib loads only when asked

        report = await self.store.report(self.clock())
        missing = await uncovered_questions(self.store, self.knowledge.matcher)
        # Rendering a chart is blocking CPU work; keep the event loop answering others meanwhile.
        chart = await asyncio.to_thread(render_chart, report, self.settings.chart_dir / "questions-per-day.png")
        text = f"<pre>{esc(format_report(report, missing))}</pre>"
        return Response((Reply(fit(text)), Reply("Questions per day and answer rate", photo=chart)))

    async def _reload(self) -> Response:
        path = self.settings.faq_path or self.faq.path
        if path is None:
            return Response((Reply("No FAQ file to reload from."),))
        # Loading and retraining take seconds (tens on a cold cache): a worker thread does them, and the old
        # Knowledge answers everyone meanwhile; it stays if anything goes wrong.
        async with self._relabel:
            labels = await self.store.review_labels()
            try:
                fresh, missing = await asyncio.to_thread(_reloaded, path, labels)
            except FaqError as exc:
                errors = "\n".join(esc(e) for e in exc.errors[:20])
                text = f"❌ The FAQ file has errors, so I kept the old one:\n<pre>{errors}</pre>"
                return Response((Reply(fit(text)),))
            except Exception:
                logger.exception("reloading %s failed; the old FAQ stays in use", path)
                return Response((Reply("❌ Reloading failed (see the log), so I kept the old FAQ."),))
            self.knowledge = fresh
            self._labels_loaded = True
        logger.info("FAQ reloaded: %d entries, %d tips", len(fresh.faq.entries), len(fresh.faq.tips))
        text = f"✅ Reloaded: {len(fresh.faq.entries)} entries, {len(fresh.faq.tips)} tips."
        if missing:
            gone = ", ".join(sorted({m.label for m in missing}))
            text += (
                f"\n⚠️ {len(missing)} reviewed example(s) point at entries the FAQ no longer has "
                f"({esc(gone)}); they are ignored until those entries come back."
            )
            logger.warning("%d review labels name missing entries: %s", len(missing), gone)
        return Response((Reply(fit(text)),))

    # --- review queue (bot/review.py) ------------------------------------------------------------

    async def load_labels(self) -> None:
        """Apply the stored review labels once, on the first event (a no-op afterwards)."""
        if self._labels_loaded:
            return
        async with self._relabel:
            if not self._labels_loaded:
                await self._apply_labels()

    async def _apply_labels(self) -> None:
        """Make every stored label live and retrain in the background (hold _relabel).

        First the labels themselves: a labelled text asked again gets its label as soon as this returns (a
        cheap rebuild, in a worker thread all the same). Then the learned layer retrains on them in a worker
        thread, which takes seconds, and is swapped in when done; answers never wait for either.
        """
        labels = await self.store.review_labels()
        examples, missing = review.usable_examples(labels, self.faq)
        if missing:
            logger.warning("%d review labels name entries the FAQ no longer has; ignored", len(missing))
        base = self.knowledge
        fresh = await asyncio.to_thread(base.with_labels, examples)
        if self.knowledge is base:  # a /reload meanwhile applied the labels itself
            self.knowledge = fresh
        self._labels_loaded = True
        if not self.knowledge.retrained and (self._retraining is None or self._retraining.done()):
            self._retraining = asyncio.get_running_loop().create_task(self._retrain())

    async def _retrain(self) -> None:
        """Retrain the learned layer on the labels in use until it has caught up with the newest ones."""
        while not self.knowledge.retrained:
            base = self.knowledge
            started = time.perf_counter()
            try:
                fresh = await in_background_thread(base.with_examples, base.examples)
            except Exception:
                logger.exception("retraining on the review labels failed; the labels still answer verbatim")
                return
            if self.knowledge is base:
                self.knowledge = fresh
            elif self.knowledge.faq is base.faq:
                # Newer labels came meanwhile: keep them (verbatim) on the layer just trained, and go again.
                self.knowledge = fresh.with_labels(self.knowledge.examples)
            # else a /reload came meanwhile, and trained on every label itself
            took = time.perf_counter() - started
            logger.info("learned layer retrained on %d review labels in %.1f s", len(base.examples), took)

    async def retrained(self) -> None:
        """Wait until the learned layer has been retrained on every label given so far."""
        while self._retraining is not None and not self._retraining.done():
            await asyncio.shield(self._retraining)

    def _safety_reason(self, text: str) -> str | None:
        """Why the bot gives `text` the safety answer now, or None."""
        result = self.knowledge.match(text)
        if result.caveat is not None:
            return result.caveat.reason  # a sign the learned layer overruled is still one to the rules
        return result.safety_reason

    async def _queue(self) -> list[review.Group]:
        candidates = await self.store.review_candidates(review.LOW_CONFIDENCE)
        decided = [label.norm for label in await self.store.review_labels()]
        vectors = None
        embedder = self.knowledge.embedder
        if embedder is not None:
            # Each queued text is embedded once (a first /review of 2,000 new texts takes seconds): at low
            # priority, so answers come first. Without vectors the groups are the matcher's alone.
            try:
                vectors = await in_background_thread(
                    lambda known: review.embed_new(candidates, decided, known, embedder.embed), self._vectors
                )
            except Exception:
                logger.exception("cannot embed the review queue; grouping it by the matcher alone")
        # Grouping 2,000 questions takes a few tenths of a second: off the event loop, so answers never wait.
        return await asyncio.to_thread(review.build_queue, candidates, decided, self.knowledge.matcher, vectors)

    async def _review_reply(self, notice: str = "", *, edit: bool = False) -> Reply:
        groups = await self._queue()
        head = f"{notice}\n\n" if notice else ""
        undo = (Button("↩️ Undo last", callbacks.encode("review_undo")),)
        if not groups:
            return Reply(head + "🗂 <b>Review queue</b>\nNothing to review. 🎉", (undo,), edit=edit)
        group = groups[0]
        lines = [
            f"🗂 <b>Review queue</b>: {len(groups)} group(s), {sum(g.size for g in groups)} message(s)",
            "",
            f"<b>This group: asked {group.size} time(s)</b>",
            *(f"• {esc(t[:200])}" for t in group.examples),
            "",
            "What did they mean?",
        ]
        rows: list[tuple[Button, ...]] = [
            (Button(button_label(self.faq.by_id[i].question), callbacks.encode("review_label", i, group.key)),)
            for i in group.guesses
            if i in self.faq.by_id
        ]
        rows.append((Button("📚 Other entry…", callbacks.encode("review_other", group=group.key)),))
        rows.append(
            (
                Button("🚫 Off-topic", callbacks.encode("review_label", "~off", group.key)),
                Button("⚠️ Warning sign", callbacks.encode("review_label", "~warn", group.key)),
            )
        )
        rows.append((Button("⏭ Skip", callbacks.encode("review_skip", group=group.key)), *undo))
        return Reply(fit(head + "\n".join(lines)), tuple(rows), edit=edit)

    async def _review_press(self, press: Press) -> Response:
        if press.action == "review":
            return Response((await self._review_reply(edit=True),))
        if press.action == "review_undo":
            async with self._relabel:
                undone = await self.store.undo_review_batch()
                await self._apply_labels()
            notice = f"↩️ Undid the last decision ({undone} message(s))." if undone else "Nothing to undo."
            return Response((await self._review_reply(notice, edit=True),), notice="Undone" if undone else None)
        group = review.find_group(await self._queue(), press.group)
        if group is None:
            return Response((await self._review_reply("That group was already handled.", edit=True),))
        back = (Button("⬅️ Back to the queue", callbacks.encode("review")),)
        if press.action == "review_other":
            rows = tuple(
                (Button(t.title, callbacks.encode("review_topic", t.id, group.key)),)
                for t in self.faq.topics
                if self.faq.topic_entries(t.id)
            )
            new = (Button("✍️ No entry fits (a new one to write)", callbacks.encode("review_label", "~new", group.key)),)
            return Response((Reply("Pick a topic:", (*rows, new, back), edit=True),))
        if press.action == "review_topic":
            entries = [e for e in self.faq.entries if e.topic == press.arg]
            rows = tuple(
                (Button(button_label(e.question), callbacks.encode("review_label", e.id, group.key)),) for e in entries
            )
            other = (Button("⬅️ Topics", callbacks.encode("review_other", group=group.key)),)
            return Response((Reply("Pick the entry they meant:", (*rows, other, back), edit=True),))
        roles = self.faq.roles
        label = {"~off": OFF_TOPIC, "~warn": roles.warning_signs, "~new": review.UNCOVERED}.get(press.arg, press.arg)
        if press.action == "review_skip":
            label = review.SKIP
        safe = (roles.warning_signs, roles.contraindications)
        caught = self._safety_reason
        reason = review.refusal(group, label, safe, caught) if label != review.SKIP else None
        if reason is not None:
            return Response((Reply(f"❌ Refused: {esc(reason)}", (back,)),), notice="Refused")
        async with self._relabel:
            await self.store.add_review_labels(list(group.norms.items()), label, self.clock())
            if label not in (review.SKIP, review.UNCOVERED):
                await self._apply_labels()
        said = {
            OFF_TOPIC: "off-topic",
            roles.warning_signs: "a warning sign",
            review.SKIP: "skipped",
            review.UNCOVERED: "not covered by the FAQ (see /stats)",
        }.get(label) or f"“{self.faq.by_id[label].question}”"
        notice = f"✅ {group.size} message(s) labelled {esc(said)}."
        return Response((await self._review_reply(notice, edit=True),), notice="Labelled")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Return the moment before which question texts are purged."""
    return now - timedelta(days=days)
