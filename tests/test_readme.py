"""The README's commands work in a fresh clone: every file they name is in the repository."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.botproc import RUN_BOT, clean_env

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_faq_commands_name_only_files_inside_the_repository() -> None:
    """`python -m faq validate --material ...` and `python -m faq eval ...` point at files the clone has."""
    paths = re.findall(r"python -m faq (?:validate --material|eval) ([^\s`]+)", README)
    assert paths
    for path in paths:
        assert ".." not in path, path
        assert (ROOT / path).is_file(), path


def test_the_readme_transcript_is_what_the_console_prints(tmp_path: Path) -> None:
    """The first conversation the README shows is, line for line, what its own printf command prints."""
    command = re.search(r"as it reads now \(`printf '([^']*)' \| python run_bot.py --console`", README)
    assert command is not None
    block = README[command.end() :].split("```text\n", 1)[1].split("```", 1)[0]
    typed = command.group(1).encode().decode("unicode_escape")
    done = subprocess.run(
        [sys.executable, str(RUN_BOT), "--console"],
        input=typed,
        capture_output=True,
        text=True,
        env=clean_env({"DATABASE_PATH": str(tmp_path / "readme.sqlite3")}),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    shown = "\n".join(line for line in block.splitlines() if not line.startswith("> "))  # what the user typed
    assert shown.strip() in done.stdout
