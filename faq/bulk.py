"""Building a large FAQ creates hundreds of thousands of small, long-lived objects at once."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building: it would scan the new objects again and again
    (a sixth of a 10,000-entry load) although they are all kept. Reference counting still frees garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
