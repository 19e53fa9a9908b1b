"""Shared fixtures: the real FAQ file and a matcher on it, built once per test session; the loopback fake.

The learned layer's cache (FAQ_CACHE_DIR) is one folder for the tests, set before any test module loads and
kept between runs (its files are keyed by the hashes of the FAQ, the examples and the model, so a changed
file is trained afresh, never read stale): the layer trains once, every later Knowledge and every bot
started as a subprocess (which inherits the variable) starts warm, and a developer's own cache is never
touched.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from faq.examples import examples_path_for, load_examples
from faq.learned import CACHE_ENV
from faq.loader import load_faq
from faq.matcher import Matcher
from faq.models import DEFAULT_FAQ_PATH, Faq
from faq.understanding import Understanding
from tests.fake_telegram import FakeTelegram

TEST_CACHE = Path(tempfile.gettempdir()) / "massage-faq-bot-test-cache"
os.environ[CACHE_ENV] = str(TEST_CACHE)

DATA = Path(__file__).with_name("data")
DEV_SET = DATA / "dev.yaml"  # a copy of shared/eval/dev.yaml
MATERIAL = DEFAULT_FAQ_PATH.with_name("material.txt")  # the article the FAQ is built on, beside it


@pytest.fixture(scope="session", autouse=True)
def _warm_learned_cache() -> None:
    """Train the learned layer for the shipped FAQ before any test, so every bot a test starts is warm."""
    faq = load_faq()
    Understanding.for_faq(faq, load_examples(examples_path_for(DEFAULT_FAQ_PATH), faq))


@pytest.fixture(scope="session")
def faq() -> Faq:
    """The shipped FAQ, loaded and validated against the committed copy of the source material."""
    return load_faq(DEFAULT_FAQ_PATH, material=MATERIAL.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def matcher(faq: Faq) -> Matcher:
    """A matcher over the shipped FAQ; it only caches typo corrections, so sharing it is safe."""
    return Matcher(faq)


@pytest.fixture
def loopback_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep HTTP clients off any proxy and let PTB return timedeltas without deprecation warnings."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    """A fresh loopback fake of the Bot API, stopped after the test."""
    with FakeTelegram() as fake:
        yield fake
