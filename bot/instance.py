"""One bot per database: an advisory lock on a file beside it, held for the process's life.

`flock` locks belong to the open file, so the kernel releases them whenever the process ends, SIGKILL and
crashes included: a restart after a crash always starts, while a second bot on the same database cannot.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class AlreadyRunning(Exception):
    """Another process holds the database's lock; `pid` is what it wrote there (may be empty)."""

    def __init__(self, lock_path: Path, pid: str) -> None:
        self.lock_path = lock_path
        self.pid = pid
        super().__init__(f"another bot (pid {pid or 'unknown'}) is already running on this database ({lock_path})")


def lock_path_for(database_path: Path) -> Path:
    """The lock file beside `database_path`."""
    return database_path.with_name(database_path.name + ".lock")


def acquire(database_path: Path) -> int:
    """Lock the database for this process and write our pid into the lock file; return the file descriptor.

    Raise AlreadyRunning if another process holds it, OSError if the file cannot be created or written.
    Keep the descriptor open for the process's life; the lock goes with it.
    """
    path = lock_path_for(database_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise AlreadyRunning(path, pid) from None
    except OSError:
        os.close(fd)
        raise
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
    except OSError:
        os.close(fd)
        raise
    return fd
