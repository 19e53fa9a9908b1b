"""`python -m faq`: match questions, validate the FAQ file and score the matcher from the terminal."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from faq.evaluation import evaluate, load_cases, percent
from faq.examples import ExamplesError, examples_path_for, load_examples
from faq.loader import FaqError, load_faq
from faq.matcher import Matcher, MatchResult
from faq.models import DEFAULT_FAQ_PATH, Faq
from faq.understanding import Understanding


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--faq", type=Path, default=argparse.SUPPRESS, help="FAQ file (default: faq/faq.yaml)")
    common.add_argument(
        "--lexical", action="store_true", default=argparse.SUPPRESS, help="the lexical matcher alone (no learned layer)"
    )
    parser = argparse.ArgumentParser(prog="python -m faq", description=__doc__, parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, metavar="{match,validate,eval}")

    match = sub.add_parser("match", parents=[common], help="match one question, or one per line of stdin")
    match.add_argument("question", nargs="?", help="the question to match")
    mode = match.add_mutually_exclusive_group()
    mode.add_argument("--json", action="store_true", help="print one JSON object")
    mode.add_argument("--jsonl", action="store_true", help="read one message per stdin line, write JSON lines")

    validate = sub.add_parser("validate", parents=[common], help="check an FAQ file")
    validate.add_argument("path", nargs="?", type=Path, help="FAQ file to check (default: the --faq file)")
    validate.add_argument("--material", type=Path, help="source text every quoted source must occur in")

    ev = sub.add_parser("eval", parents=[common], help="score the matcher on a labelled YAML set")
    ev.add_argument("path", type=Path, help="labelled cases, in the format of shared/eval/dev.yaml")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    faq_path: Path = getattr(args, "faq", DEFAULT_FAQ_PATH)
    try:
        if args.command == "validate":
            return _validate(args.path or faq_path, args.material)
        faq = load_faq(faq_path)
        reader = _reader(faq, faq_path, lexical=getattr(args, "lexical", False))
        if args.command == "match":
            return _match(parser, reader, args)
        return _eval(reader, args.path)
    except (FaqError, ExamplesError) as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _reader(faq: Faq, faq_path: Path, *, lexical: bool) -> Matcher | Understanding:
    """The bot's reader: the lexical matcher and the learned layer (trained on the examples beside the FAQ)."""
    if lexical:
        return Matcher(faq)
    examples = load_examples(examples_path_for(faq_path), faq)

    def progress(done: int, total: int) -> None:
        print(f"\rtraining the learned layer: {done}/{total} texts embedded", end="\n" if done == total else "",
              file=sys.stderr, flush=True)

    return Understanding.for_faq(faq, examples, learned=not lexical, progress=progress)


def _validate(path: Path, material_path: Path | None) -> int:
    material = material_path.read_text(encoding="utf-8") if material_path else None
    faq: Faq = load_faq(path, material=material)
    print(f"OK: {len(faq.entries)} entries, {len(faq.tips)} tips")
    return 0


def _match(parser: argparse.ArgumentParser, matcher: Matcher | Understanding, args: argparse.Namespace) -> int:
    if args.jsonl:
        if args.question is not None:
            parser.error("--jsonl reads questions from stdin; give no question argument")
        for line in sys.stdin:
            result = matcher.match(line.rstrip("\n"))
            print(json.dumps(_jsonl(result, line.rstrip("\n")), ensure_ascii=False), flush=False)
        sys.stdout.flush()
        return 0
    if args.question is None:
        parser.error("match needs a question (or --jsonl to read stdin)")
    result = matcher.match(args.question)
    if args.json:
        print(json.dumps(_jsonl(result, args.question), ensure_ascii=False))
        return 0
    print(_human(matcher, result))
    return 0


def _jsonl(result: MatchResult, query: str) -> dict[str, object]:
    shape = result.as_dict()
    shape["q"] = query
    return shape


def _human(matcher: Matcher | Understanding, result: MatchResult) -> str:
    lines = [f"tier:  {result.tier}", f"id:    {result.entry_id or '-'}", f"score: {result.score:.1f}"]
    if result.safety_reason:
        lines.append(f"safety: {result.safety_reason}")
    if result.caveat:
        lines.append(f"caveat: mentions {result.caveat.reason} (the learned layer read it as about something else)")
    if result.suggestions:
        lines.append(f"did you mean: {', '.join(result.suggestions)}")
    entry = matcher.faq.entry(result.entry_id) if result.entry_id else None
    if entry is not None:
        lines += ["", entry.question, entry.answer.strip()]
        if entry.tip:
            lines += ["", f"Tip: {entry.tip}"]
    return "\n".join(lines)


def _eval(matcher: Matcher | Understanding, path: Path) -> int:
    report = evaluate(matcher, load_cases(path))
    print("accuracy per kind:")
    for kind, tally in report.by_kind.items():
        print(f"  {kind:<16} {tally[0]:>3}/{tally[1]:<3} {percent(tally):5.1f}%")
    print(f"in-domain top-1:       {percent(report.in_domain):5.1f}%  ({report.in_domain[0]}/{report.in_domain[1]})")
    print(
        f"out-of-scope declined: {percent(report.out_of_scope):5.1f}%  "
        f"({report.out_of_scope[0]}/{report.out_of_scope[1]})"
    )
    print(f"red flags:             {percent(report.red_flags):5.1f}%  ({report.red_flags[0]}/{report.red_flags[1]})")
    if report.misses:
        print(f"\nmisses ({len(report.misses)}):")
        for miss in report.misses:
            r = miss.result
            got = f"{r.tier} {r.entry_id or '-'} {r.score:.1f}"
            print(
                f"  [{miss.case.kind}] {miss.case.q!r}\n      expected {list(miss.case.expect) or 'decline'}, got {got}"
            )
    return 0
