"""The README's commands work in a fresh clone: every file they name is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_faq_commands_name_only_files_inside_the_repository() -> None:
    """`python -m faq validate --material ...` and `python -m faq eval ...` point at files the clone has."""
    paths = re.findall(r"python -m faq (?:validate --material|eval) ([^\s`]+)", README)
    assert paths
    for path in paths:
        assert ".." not in path, path
        assert (ROOT / path).is_file(), path
