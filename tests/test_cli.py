"""Tests for `python -m faq`, run as a subprocess from the repository root like a developer would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from faq.models import Faq
from tests.conftest import DATA, DEV_SET, MATERIAL

ROOT = Path(__file__).resolve().parent.parent
JSON_KEYS = {"q", "id", "tier", "score", "suggestions"}
SLEEP_FAQ = DATA / "sleep" / "faq.yaml"  # a small FAQ about something else entirely


def run(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m faq ARGS` in the repository root and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "faq", *map(str, args)],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        check=False,
    )


def test_match_prints_tier_id_score_and_answer(faq: Faq) -> None:
    """`match QUESTION` prints the tier, id and score, then the entry's question and answer."""
    done = run("match", "is massage expensive?")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["tier:  answer", "id:    cost", "score: 100.0"]
    assert faq.by_id["cost"].question in done.stdout
    assert faq.by_id["cost"].answer.strip() in done.stdout


def test_match_shows_the_safety_reason_and_suggestions() -> None:
    """Human output names the red flag behind a safety answer and lists suggestions for a vague message."""
    flagged = run("match", "i have a fever and my back hurts")
    vague = run("match", "back things")

    assert "id:    see-a-doctor" in flagged.stdout
    assert "safety: fever" in flagged.stdout
    assert "tier:  suggest" in vague.stdout
    offered = next(line for line in vague.stdout.splitlines() if line.startswith("did you mean: "))
    assert "back-pain-benefits" in offered.removeprefix("did you mean: ").split(", ")


def test_match_lexical_uses_the_fuzzy_matcher_alone() -> None:
    """`--lexical` leaves the learned layer out: a paraphrase it would answer gets "did you mean" instead."""
    question = "my back is killing me rn would a massage even do anything"
    both = json.loads(run("match", "--json", question).stdout)
    lexical = json.loads(run("match", "--lexical", "--json", question).stdout)

    assert (both["tier"], both["id"]) == ("answer", "back-pain-benefits")
    assert (lexical["tier"], lexical["id"]) == ("suggest", "back-pain-benefits")


def test_match_declines_with_a_dash_for_the_id() -> None:
    """A declined message prints tier none and no answer."""
    done = run("match", "best pizza in town")

    assert done.returncode == 0
    assert done.stdout.splitlines()[:2] == ["tier:  none", "id:    -"]


def test_match_json_prints_one_object() -> None:
    """`match --json` prints exactly one JSON object with the documented keys."""
    done = run("match", "--json", "how often should i get a massage")

    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert json.loads(line) == {
        "q": "how often should i get a massage",
        "id": "how-often",
        "tier": "answer",
        "score": 100.0,
        "suggestions": [],
    }


def test_match_jsonl_answers_each_stdin_line_in_order(faq: Faq) -> None:
    """`match --jsonl` writes one JSON object per stdin line, in order, with exactly the documented keys."""
    messages = [
        "is massage expensive",
        "",
        "qu'est-ce qu'un massage? 💆 ☕",
        "best pizza in town",
        "back things",
        "i have numbness in my legs",
        "   ",
    ]

    done = run("match", "--jsonl", stdin="\n".join(messages) + "\n")

    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["q"] for row in rows] == messages
    for row in rows:
        assert set(row) == JSON_KEYS
        assert row["tier"] in ("answer", "suggest", "none")
        assert (row["id"] is None) == (row["tier"] == "none")
        assert 0 <= row["score"] <= 100
        assert isinstance(row["suggestions"], list)
        assert all(s in faq.by_id for s in row["suggestions"])
    assert [(row["tier"], row["id"]) for row in rows if row["q"] != "back things"] == [
        ("answer", "cost"),
        ("none", None),
        ("none", None),
        ("none", None),
        ("answer", "see-a-doctor"),
        ("none", None),
    ]
    vague = rows[messages.index("back things")]
    assert vague["tier"] == "suggest"
    assert "back-pain-benefits" in vague["suggestions"]


def test_match_jsonl_with_no_input_prints_nothing() -> None:
    """An empty stdin gives empty output and success."""
    done = run("match", "--jsonl", stdin="")

    assert (done.returncode, done.stdout) == (0, "")


def test_validate_the_shipped_faq(faq: Faq) -> None:
    """`validate` checks faq/faq.yaml and prints OK with the counts."""
    done = run("validate")

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"OK: {len(faq.entries)} entries, {len(faq.tips)} tips"


def test_validate_against_the_material(faq: Faq) -> None:
    """`validate --material` also checks every quoted source against the material."""
    done = run("validate", "--material", MATERIAL.relative_to(ROOT))

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"OK: {len(faq.entries)} entries, {len(faq.tips)} tips"


def test_validate_a_broken_file_lists_its_errors(tmp_path: Path) -> None:
    """`validate PATH` on a broken file exits non-zero and prints every error, naming the file."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "version: 1\nsubject: tests\ntopics: [{id: basics, title: Basics}]\n"
        "roles: {warning_signs: a, contraindications: b, benefits: basics}\nentries:\n"
        "  - {id: a, topic: gossip, question: Why, variants: [v], answer: A, source: general guidance}\n"
        "  - {id: b, topic: basics, question: When, variants: [w], source: general guidance, related: [zzz]}\n"
        "tips:\n  - {id: t, text: T, source: general guidance}\n",
        encoding="utf-8",
    )

    done = run("validate", broken)

    assert done.returncode != 0
    assert done.stdout == ""
    errors = done.stderr.splitlines()
    assert f"{broken}: entry 'a': field 'topic' must be one of the topics: basics" in errors
    assert f"{broken}: entry 'b': field 'answer' is missing" in errors
    assert len(errors) == 2
    assert "Traceback" not in done.stderr


def test_validate_reports_a_yaml_syntax_error_with_its_line(tmp_path: Path) -> None:
    """A syntax error in the file is reported as FILE:LINE and a non-zero exit, without a traceback."""
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nentries: [\n  - id: a\n", encoding="utf-8")

    done = run("validate", broken)

    assert done.returncode != 0
    assert done.stderr.startswith(f"{broken}:")
    assert "YAML syntax error" in done.stderr
    assert "Traceback" not in done.stderr


def test_eval_prints_accuracy_per_kind() -> None:
    """`eval PATH` prints accuracy for each kind of message and the three headline figures."""
    done = run("eval", DEV_SET.relative_to(ROOT))

    assert done.returncode == 0, done.stderr
    kinds = {case["kind"] for case in yaml.safe_load(DEV_SET.read_text(encoding="utf-8"))}
    assert done.stdout.startswith("accuracy per kind:\n")
    for kind in kinds:
        assert any(line.split()[:1] == [kind] and line.endswith("%") for line in done.stdout.splitlines()), kind
    for headline in ("in-domain top-1:", "out-of-scope declined:", "red flags:"):
        assert headline in done.stdout


@pytest.mark.parametrize("where", ["before", "after"])
def test_faq_option_swaps_the_faq_for_match(tmp_path: Path, where: str) -> None:
    """`--faq PATH` makes match use another FAQ, given before or after the subcommand."""
    args = ["--faq", SLEEP_FAQ, "match", "--json", "is coffee bad for sleep"]
    if where == "after":
        args = ["match", "--json", "is coffee bad for sleep", "--faq", SLEEP_FAQ]

    done = run(*args)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["id"] == "caffeine"


def test_faq_option_swaps_the_faq_for_validate_and_eval(tmp_path: Path) -> None:
    """`--faq PATH` makes validate check, and eval score, the other FAQ."""
    other = SLEEP_FAQ
    cases = tmp_path / "cases.yaml"
    cases.write_text(
        yaml.safe_dump(
            [
                {"q": "how late can i drink coffee", "expect": ["caffeine"], "kind": "short"},
                {"q": "my bedroom is too hot to sleep in", "expect": ["bedroom-setup"], "kind": "paraphrase"},
            ]
        ),
        encoding="utf-8",
    )

    validated = run("--faq", other, "validate")
    scored = run("eval", cases, "--faq", other)

    assert validated.stdout.strip() == "OK: 11 entries, 3 tips"
    assert scored.returncode == 0, scored.stderr
    assert "in-domain top-1:       100.0%  (2/2)" in scored.stdout


def test_a_missing_faq_file_is_an_error_without_a_traceback(tmp_path: Path) -> None:
    """Pointing --faq at a missing file exits 1 with a one-line error."""
    done = run("--faq", tmp_path / "missing.yaml", "match", "hello")

    assert done.returncode == 1
    assert "cannot read" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["bogus"],
        ["match", "--json", "--jsonl", "x"],
        [],
        ["match"],
        ["match", "--jsonl", "a question"],
        ["eval"],
        ["validate", "--nope"],
    ],
    ids=[
        "unknown-subcommand",
        "json-and-jsonl",
        "no-args",
        "match-without-question",
        "jsonl-with-question",
        "eval-without-path",
        "unknown-option",
    ],
)
def test_bad_arguments_exit_2_with_usage(args: list[str]) -> None:
    """Bad arguments exit 2 with a usage line on stderr and no traceback."""
    done = run(*args, stdin="")

    assert done.returncode == 2
    assert done.stderr.startswith("usage: python -m faq")
    assert "error:" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
