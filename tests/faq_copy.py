"""A copy of the shipped FAQ, its material and its examples in a folder of a test's own."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import yaml

from faq.models import DEFAULT_FAQ_PATH


def copy_faq(folder: Path, *, leave_out: Iterable[str] = (), unlabelled: Iterable[str] = ()) -> Path:
    """Copy faq.yaml, material.txt and examples.yaml into `folder`; return the FAQ's path there.

    Examples whose text holds any of the words in `leave_out`, or whose label is one of `unlabelled`, stay out of
    the copy, so the bot meets questions its owner has not labelled yet, as a review test needs, however the
    shipped examples file grows.
    """
    faq_path = folder / DEFAULT_FAQ_PATH.name
    shutil.copyfile(DEFAULT_FAQ_PATH, faq_path)
    shutil.copyfile(DEFAULT_FAQ_PATH.with_name("material.txt"), folder / "material.txt")
    examples = DEFAULT_FAQ_PATH.with_name("examples.yaml")
    words = tuple(w.lower() for w in leave_out)
    labels = set(unlabelled)
    if not words and not labels:
        shutil.copyfile(examples, folder / examples.name)
        return faq_path
    data = yaml.safe_load(examples.read_text(encoding="utf-8"))
    data["examples"] = [
        e for e in data["examples"] if e["label"] not in labels and not any(w in e["text"].lower() for w in words)
    ]
    (folder / examples.name).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return faq_path
