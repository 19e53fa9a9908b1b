"""Measure the warning-sign rule layer (`faq.safety.check`) on labelled messages, beside the old regex layer.

Run from the repository root:

    python bench/bench_safety.py ../shared/training/safety_examples.yaml bench/data/holdout*.yaml

Each file is either a list of `{q, label}` (label: see-a-doctor, contraindications, an entry id or off-topic)
or an eval set of `{q, expect, kind}` (tests/data/dev.yaml's format). A message is

- a warning sign when see-a-doctor is the only label it may get (or one of only safety ids, see below);
- a contraindication when contraindications is;
- benign when it may get no safety entry at all.

In eval sets an expect of both safety ids accepts either, and a case that also accepts an ordinary entry
("can I see a therapist about my clot, and which one") is left out: neither flagging it nor not is wrong.

Three rates per file, for the rule layer alone (`check` on the normalised message):

- warning signs caught: routed to see-a-doctor (or to an accepted safety id);
- contraindications caught: routed to an accepted safety id;
- benign not flagged: no safety flag at all.

The baseline is the regex layer as it stood at BASELINE_COMMIT, read from git and run in the same process,
so both columns come from the same run on the same messages. `--misses` lists what the new layer got wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq import safety  # noqa: E402  (needs the path above)
from faq.text import normalise  # noqa: E402

BASELINE_COMMIT = "0f2d2d94c91523425b21658e7984a54ab671f945"  # the last regex-in-code safety layer
SAFETY_IDS = frozenset({safety.SEE_A_DOCTOR, safety.CONTRAINDICATIONS})
WARNING, CONTRA, BENIGN = "warning signs caught", "contraindications caught", "benign not flagged"


@dataclass(frozen=True, slots=True)
class Message:
    """One labelled message: the safety ids it may get (empty: benign) and which rate it counts in."""

    q: str
    accept: frozenset[str]
    group: str


def load_messages(path: Path) -> list[Message]:
    """Read a labelled file in either format; raise ValueError naming the file on a bad shape."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, list):
        msg = f"{path}: expected a list of messages"
        raise ValueError(msg)
    out: list[Message] = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict) or not isinstance(item.get("q"), str):
            msg = f"{path}: item #{n} needs q (text)"
            raise ValueError(msg)
        if "label" in item:
            labels = {str(item["label"])}
        elif isinstance(item.get("expect"), list):
            labels = {str(i) for i in item["expect"]}
        else:
            msg = f"{path}: item #{n} needs label or expect"
            raise ValueError(msg)
        safe = labels & SAFETY_IDS
        if not safe:
            out.append(Message(item["q"], frozenset(), BENIGN))
        elif safe == labels:
            group = CONTRA if safe == {safety.CONTRAINDICATIONS} else WARNING
            out.append(Message(item["q"], frozenset(safe), group))
        # else: a safety id or an ordinary entry is acceptable; no rate counts it
    return out


def old_check(commit: str) -> Callable[[str], object | None] | None:
    """Return the check() of faq/safety.py at `commit`, or None when git cannot show it."""
    try:
        source = subprocess.run(
            ["git", "show", f"{commit}:faq/safety.py"],  # noqa: S607
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(source)
    spec = importlib.util.spec_from_file_location("old_safety", handle.name)
    if spec is None or spec.loader is None:
        return None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules["old_safety"] = module
    spec.loader.exec_module(module)
    Path(handle.name).unlink()
    check: Callable[[str], object | None] = module.check
    return check


def routed(check: Callable[[str], object | None], text: str) -> str | None:
    """The safety id `check` routes the message to, or None."""
    flag = check(normalise(text))
    return None if flag is None else str(getattr(flag, "entry_id", flag))


def is_right(message: Message, got: str | None) -> bool:
    """True when the rule layer did what the label asks."""
    return got is None if message.group == BENIGN else got in message.accept


def rates(check: Callable[[str], object | None], messages: list[Message]) -> dict[str, tuple[int, int]]:
    """Right and total per group."""
    out: dict[str, tuple[int, int]] = {}
    for group in (WARNING, CONTRA, BENIGN):
        subset = [m for m in messages if m.group == group]
        out[group] = (sum(is_right(m, routed(check, m.q)) for m in subset), len(subset))
    return out


def cell(right: int, total: int) -> str:
    """`right/total (pct%)`, or a dash for an empty group."""
    return f"{right}/{total} ({100 * right / total:.1f}%)" if total else "-"


def main(argv: list[str] | None = None) -> int:
    """Print the three rates per file and over all files, new layer beside the old."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--baseline", default=BASELINE_COMMIT, help="git revision of the old faq/safety.py")
    parser.add_argument("--misses", action="store_true", help="list the messages the new layer got wrong")
    args = parser.parse_args(argv)
    old = old_check(args.baseline)
    every: list[Message] = []
    for path in args.files:
        messages = load_messages(path)
        every += messages
        report(str(path), messages, old)
        if args.misses:
            for m in messages:
                got = routed(safety.check, m.q)
                if not is_right(m, got):
                    print(f"    MISS [{m.group.split()[0]}] got={got}: {m.q}")
    if len(args.files) > 1:
        report("all files", every, old)
    return 0


def report(name: str, messages: list[Message], old: Callable[[str], object | None] | None) -> None:
    """Print one file's table."""
    new = rates(safety.check, messages)
    before = rates(old, messages) if old is not None else None
    print(f"{name}: {len(messages)} messages")
    for group in (WARNING, CONTRA, BENIGN):
        line = f"  {group:<26} now {cell(*new[group]):<20}"
        if before is not None:
            line += f" old {cell(*before[group])}"
        print(line)


if __name__ == "__main__":
    raise SystemExit(main())
