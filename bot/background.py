"""Background work that must not slow the answers: retraining the learned layer on new labels.

`in_background_thread` runs a blocking function in a daemon thread of the lowest CPU priority and awaits
its result. The answers run on the event loop's thread at normal priority, so when both want a core the
kernel gives it to the answers; and a daemon thread never holds up the process's exit (SIGTERM must stop
the bot within seconds, and a retraining can take longer), which suits work whose result is disposable,
such as a retraining on labels that are safe in the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from typing import TypeVar

A = TypeVar("A")
T = TypeVar("T")
LOWEST_PRIORITY = 19  # nice(1)'s lowest: the thread gets a core only when nothing else wants it


def _lower_priority() -> None:
    """Make the calling thread the kernel's last choice for a core (Linux sets niceness per thread)."""
    with contextlib.suppress(AttributeError, OSError):  # not on this platform, or not allowed: run as is
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)


async def in_background_thread(work: Callable[[A], T], arg: A) -> T:
    """Run `work(arg)` in a low-priority daemon thread and await its result (or its exception)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
            loop.call_soon_threadsafe(outcome)

    def run() -> None:
        _lower_priority()
        try:
            result = work(arg)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine, which decides
            error = exc
            settle(lambda: None if done.done() else done.set_exception(error))
        else:
            settle(lambda: None if done.done() else done.set_result(result))

    threading.Thread(target=run, name="background", daemon=True).start()
    return await done
