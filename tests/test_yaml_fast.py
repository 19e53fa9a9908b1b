"""Tests for faq.yaml_fast: it reads YAML into exactly what PyYAML's safe loader returns, only faster."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from faq import yaml_fast
from faq.models import DEFAULT_FAQ_PATH

DOCUMENTS = [
    "a: 1\nb: [yes, no, ~, 1.5, 0x1F, 2020-01-01, '007', \"x\", '', null, .inf, -3, +4, on]\n",
    "c: &x {d: e}\nf: *x\ng: &s hi\nh: *s\n",
    "- !!str 5\n- !!binary aGk=\n",
    "a: &a {x: 1}\nb:\n  <<: *a\n  y: 2\n",
    "",
    "--- foo\n",
    "a:\nb: |\n  two\n  lines\nc: >\n  folded\n  text\n",
    "a: 1\na: 2\n",
    "- - - x\n  - y\n- {}\n- []\n",
    "entries:\n  - id: x\n    variants: [\"what's up\", 'it''s', plain: no]\n",
]
BROKEN = ["a: [1\n", "a: *nope\n", "--- a\n--- b\n", "a: b: c\n", "\tx: 1\n", "? [a]\n: b\n", "? {a: 1}\n: 2\n"]


def safe_load(text: str) -> Any:
    """Return what PyYAML's own safe loader makes of `text`."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


@pytest.mark.parametrize("text", DOCUMENTS)
def test_documents_read_the_same_as_pyyaml(text: str) -> None:
    """Scalars of every implicit type, anchors, tags, merge keys and block text come out as PyYAML makes them."""
    assert yaml_fast.load(text) == safe_load(text)


@pytest.mark.parametrize("text", BROKEN)
def test_broken_documents_raise_pyyamls_error(text: str) -> None:
    """A document PyYAML rejects is rejected with the same kind of error, so the loader can name its line."""
    with pytest.raises(yaml.YAMLError) as expected:
        safe_load(text)
    with pytest.raises(type(expected.value)):
        yaml_fast.load(text)


def test_the_shipped_faq_reads_the_same_as_pyyaml() -> None:
    """The real FAQ file reads into the same data either way."""
    text = DEFAULT_FAQ_PATH.read_text(encoding="utf-8")
    assert yaml_fast.load(text) == safe_load(text)


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.floats(allow_nan=False))
trees = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(trees, st.booleans())
def test_any_dumped_data_reads_back_the_same(data: object, flow: bool) -> None:
    """Whatever PyYAML writes, in block or flow style, reads back as PyYAML reads it."""
    text = yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True)
    assert yaml_fast.load(text) == safe_load(text)
