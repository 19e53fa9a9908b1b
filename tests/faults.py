"""Real faults for tests: a small filesystem that can be filled (a tmpfs; we may run as root, so chmod alone
does not stop writes)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def mount(*args: str) -> subprocess.CompletedProcess[str]:
    """Run mount(8) with `args`."""
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


@contextmanager
def small_tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (mount's notation, e.g. 512k) at tmp_path/small; skips the test, with the reason, where
    mounting is not allowed."""
    folder = tmp_path / "small"
    folder.mkdir()
    done = mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path) -> Path:
    """Write a file into `folder` until its filesystem is full; return the file. Unbuffered, so that closing it
    has nothing left to flush and cannot raise ENOSPC itself."""
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        try:
            while True:
                out.write(bytes(4096))
        except OSError:
            pass
    return filler
