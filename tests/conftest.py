"""Shared fixtures: the real FAQ file and a matcher on it, built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from faq.loader import load_faq
from faq.matcher import Matcher
from faq.models import DEFAULT_FAQ_PATH, Faq

DATA = Path(__file__).with_name("data")
DEV_SET = DATA / "dev.yaml"  # a copy of shared/eval/dev.yaml
MATERIAL = DATA / "material.txt"  # a copy of shared/material/back-pain-massage.txt


@pytest.fixture(scope="session")
def faq() -> Faq:
    """The shipped FAQ, loaded and validated against the committed copy of the source material."""
    return load_faq(DEFAULT_FAQ_PATH, material=MATERIAL.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def matcher(faq: Faq) -> Matcher:
    """A matcher over the shipped FAQ; it only caches typo corrections, so sharing it is safe."""
    return Matcher(faq)
