"""Shared fixtures: the real FAQ file and a matcher on it, built once per test session; the loopback fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from faq.loader import load_faq
from faq.matcher import Matcher
from faq.models import DEFAULT_FAQ_PATH, Faq
from tests.fake_telegram import FakeTelegram

DATA = Path(__file__).with_name("data")
DEV_SET = DATA / "dev.yaml"  # a copy of shared/eval/dev.yaml
MATERIAL = DEFAULT_FAQ_PATH.with_name("material.txt")  # the article the FAQ is built on, beside it


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
