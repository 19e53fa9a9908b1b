"""Benchmark the bot's reader (lexical + learned, faq/understanding.py) beside today's lexical matcher and
beside the matcher as it stood at BASELINE_COMMIT, all measured in the same run.

Run from the repository root: `python bench/bench_matcher.py` (a minute or two, more on a cold cache).

- **Accuracy** on the blind sets in bench/data, grouped as `faq.evaluation.score` does: in-domain top-1,
  off-topic declined, warning signs, contraindications, benign near-misses handled right. Each round was
  measured blind once (first_learned.txt beside it) and has been development data since, so these figures
  are not blind, except a newest round (FRESH) on the run that first measures it. A, B and the
  even-numbered half of every later set are in the examples file (training data); the odd halves are held
  out from training and reported pooled, general traffic apart from adversarial safety.
  The held-out sets in bench/data and tests/data/dev.yaml are in the examples file the learned layer
  trains on, so they are reported only as a check that nothing broke.
- **Time per question** on one core (onnxruntime with one thread), p50 and p99 over every message with one
  letter dropped from one word (so that none is a labelled example the reader looks up without the model).
- **Resident memory** and **warm start**: a fresh process loads the bot's Knowledge (FAQ, examples, model,
  cached classifier) and answers the messages; its RSS then, its peak RSS (onnxruntime's session set-up
  peaks above what it keeps) and the load time are read inside it. Telegram's libraries come on top in the
  bot process (bench/bench_bot.py measures that).

The old matcher is run from a `git worktree add --detach` of BASELINE_COMMIT through its own
`python -m faq match --jsonl`, with its own FAQ, so it is exactly what ran then.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.embedding import Embedder  # noqa: E402  (needs the path above)
from faq.evaluation import Case, group_of, load_cases, percent, score  # noqa: E402
from faq.examples import examples_path_for, load_examples  # noqa: E402
from faq.learned import default_cache_dir  # noqa: E402
from faq.loader import load_faq  # noqa: E402
from faq.matcher import Matcher, MatchResult  # noqa: E402
from faq.models import DEFAULT_FAQ_PATH  # noqa: E402
from faq.understanding import Understanding  # noqa: E402

BASELINE_COMMIT = "0f2d2d94c91523425b21658e7984a54ab671f945"  # main before the learned layer
DATA = ROOT / "bench" / "data"
# Every blind round: (folder, general sets, adversarial safety sets). A and B are in the examples file whole; of
# every later set the even-numbered half is, and its odd half is held out from training, to measure on.
ROUNDS = (
    ("blind-2026-12-02", ("A.yaml", "B.yaml"), ("C.yaml",)),
    ("blind-2026-12-02b", ("D.yaml", "E.yaml"), ("F.yaml",)),
    ("blind-2026-12-02c", ("G.yaml", "H.yaml"), ("I.yaml",)),
    ("blind-2026-12-03d", ("J.yaml", "K.yaml"), ("L.yaml",)),
    ("blind-2026-12-03e", ("M.yaml", "N.yaml"), ("O.yaml",)),
    ("blind-2026-12-03f", ("P.yaml", "Q.yaml"), ("R.yaml",)),
    ("blind-2026-12-03g", ("S.yaml", "T.yaml"), ("U.yaml",)),
    ("blind-2026-12-03h", ("V.yaml", "W.yaml"), ("X.yaml",)),
    ("blind-2026-12-03i", ("Y.yaml",), ("Z.yaml",)),
    ("blind-2026-12-03j", ("AA.yaml",), ("AB.yaml",)),
    ("blind-2026-12-04k", ("AC.yaml",), ("AD.yaml", "AE.yaml")),
    ("blind-2026-12-04l", ("AF.yaml",), ("AG.yaml",)),
    ("blind-2026-12-04m", ("AH.yaml",), ("AI.yaml",)),
    ("blind-2026-12-04n", ("AJ.yaml",), ("AK.yaml",)),
    ("blind-2026-12-04o", ("AL.yaml",), ("AM.yaml",)),
    ("blind-2026-12-04p", ("AN.yaml",), ("AO.yaml",)),
    ("blind-2026-12-04q", ("AP.yaml",), ("AQ.yaml",)),
    ("blind-2026-12-04r", ("AT.yaml",), ("AU.yaml",)),
    ("blind-2026-12-04s", ("AV.yaml",), ("AW.yaml",)),
)
TRAINED_WHOLE = ("A.yaml", "B.yaml")
# The newest round, never trained on: blind until its first measurement, development data after it.
FRESH = ("blind-2026-12-04t", ("AX.yaml",), ("AY.yaml",))
DEV_SETS = (ROOT / "tests" / "data" / "dev.yaml", *sorted((ROOT / "bench" / "data").glob("holdout*.yaml")))
TARGETS = {"in": 92.0, "out": 95.0, "warn": 100.0, "contra": 90.0, "benign": 85.0}
TARGET_C_WARN = 90.0
TARGET_MS = 15.0
TARGET_RSS_MB = 250.0
TARGET_WARM_S = 2.0
SEED = 20261202

_PROBE = """
import json, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
from bot.core import Knowledge
from faq.models import DEFAULT_FAQ_PATH
knowledge = Knowledge.load(DEFAULT_FAQ_PATH, learned={learned})
loaded = time.perf_counter() - start
for line in sys.stdin:
    knowledge.match(line.rstrip("\\n"))
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
rss, peak = (int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))  # VmHWM: this process's own peak
print(json.dumps({{"load_s": loaded, "rss_mb": rss, "peak_mb": peak, "learned": knowledge.learned}}))
"""


class Rows:
    """Verdicts read back from `python -m faq match --jsonl` (the old code's own CLI)."""

    def __init__(self, rows: dict[str, MatchResult]) -> None:
        self.rows = rows

    def match(self, text: str) -> MatchResult:
        """Return the verdict the old code gave `text`."""
        return self.rows[text]


def old_matcher(messages: Sequence[str], commit: str) -> Rows | None:
    """Run the matcher at `commit` on every message, from a detached worktree; None when git cannot."""
    folder = Path(tempfile.mkdtemp(prefix="bench-old-"))
    try:
        subprocess.run(["git", "worktree", "add", "--detach", str(folder), commit],  # noqa: S607
                       cwd=ROOT, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    try:
        lines = [" ".join(m.split()) for m in messages]
        done = subprocess.run(
            [sys.executable, "-m", "faq", "match", "--jsonl"],
            cwd=folder, input="\n".join(lines) + "\n", capture_output=True, text=True, check=True,
        )
        rows = {}
        for message, line in zip(messages, done.stdout.splitlines(), strict=True):
            r = json.loads(line)
            rows[message] = MatchResult(message, r["tier"], r["id"], r["score"], tuple(r["suggestions"]))
        return Rows(rows)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT,  # noqa: S607
                       check=False, capture_output=True)


def per_question_ms(match: Callable[[str], MatchResult], messages: Sequence[str]) -> tuple[float, float]:
    """p50 and p99 in milliseconds, each message once, after one warm-up pass over the first few."""
    for text in messages[:20]:
        match(text)
    times = []
    for text in messages:
        start = time.perf_counter_ns()
        match(text)
        times.append((time.perf_counter_ns() - start) / 1e6)
    return statistics.median(times), statistics.quantiles(times, n=100, method="inclusive")[98]


def with_typo(text: str, rng: random.Random) -> str:
    """Drop one letter from one word of five letters or more (or return `text` unchanged)."""
    words = text.split()
    long = [n for n, word in enumerate(words) if len(word) >= 5]
    if not long:
        return text
    n = rng.choice(long)
    cut = rng.randrange(1, len(words[n]) - 1)
    words[n] = words[n][:cut] + words[n][cut + 1 :]
    return " ".join(words)


def probe(messages: Sequence[str], *, learned: bool) -> dict[str, float]:
    """Load the bot's Knowledge in a fresh process and answer every message; return its load time and peak RSS."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(root=str(ROOT), learned=learned)],
        input="\n".join(" ".join(m.split()) for m in messages) + "\n",
        capture_output=True, text=True, check=True, env=env,
    )
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def held_out_sets() -> dict[str, tuple[list[Case], bool]]:
    """The sets to measure on, by name, each with whether it is an adversarial safety set: the newest round's
    sets whole, and every other round's general and adversarial sets pooled, odd halves only (A and B are
    trained on whole, so they are left out)."""
    out: dict[str, tuple[list[Case], bool]] = {}
    for folder, general, adversarial in (FRESH,):
        if (DATA / folder).is_dir():
            for name in (*general, *adversarial):
                out[f"{name.removesuffix('.yaml')} ({folder[6:]})"] = (
                    load_cases(DATA / folder / name),
                    name in adversarial,
                )
    pooled: dict[bool, list[Case]] = {False: [], True: []}
    for folder, general, adversarial in ROUNDS:
        for name in (*general, *adversarial):
            if name not in TRAINED_WHOLE:
                pooled[name in adversarial].extend(load_cases(DATA / folder / name)[1::2])
    out["general, odd halves C-AV"] = (pooled[False], False)
    out["adversarial, odd halves C-AW"] = (pooled[True], True)
    return out


def fmt(tally: tuple[int, int] | None) -> str:
    """'95.2 (99/104)', or '-' for a group the set lacks."""
    return "-" if tally is None else f"{percent(tally):.1f} ({tally[0]}/{tally[1]})"


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_COMMIT, help="git revision of the old matcher")
    args = parser.parse_args(argv)

    faq = load_faq(DEFAULT_FAQ_PATH)
    examples = load_examples(examples_path_for(DEFAULT_FAQ_PATH), faq)
    reader = Understanding.build(faq, examples, embedder=Embedder(threads=1), cache_dir=default_cache_dir())
    if reader.learned is None:
        print("the learned layer did not load; see the warning above", file=sys.stderr)
        return 1
    lexical = Matcher(faq)
    blind = held_out_sets()
    dev: list[Case] = [c for path in DEV_SETS for c in load_cases(path)]
    messages = [c.q for cases, _ in blind.values() for c in cases]
    old = old_matcher([*messages, *(c.q for c in dev)], args.baseline)

    readers: list[tuple[str, object]] = [("reader", reader), ("lexical", lexical)]
    if old is not None:
        readers.append((f"at {args.baseline[:7]}", old))
    names = [n for n, _ in readers]
    print(f"{len(faq.entries)} entries, {len(examples)} labelled examples; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("\nBlind sets, percent right. The newest round is never trained on (blind at its first measurement,")
    print("development data since); the earlier rounds' odd halves are held out from training, and have been")
    print("development data since their first measurement:")
    print(f"  {'set / group':<30}" + "".join(f"{n:>20}" for n in names) + "   target")
    for name, (cases, adversarial) in blind.items():
        scores = [score(r, cases) for _, r in readers]  # type: ignore[arg-type]
        for group in scores[0]:
            target = TARGET_C_WARN if (adversarial and group == "warn") else TARGETS.get(group)
            print(f"  {name + ' ' + group:<30}" + "".join(f"{fmt(s.get(group)):>20}" for s in scores)
                  + (f"   >= {target:g}" if target is not None else ""))
    dev_scores = [score(r, dev) for _, r in readers]  # type: ignore[arg-type]
    print(f"\nHeld-out and dev sets ({len(dev)} messages; in the examples file, so a check, not a measure):")
    for group in dev_scores[0]:
        print(f"  {group:<22}" + "".join(f"{fmt(s.get(group)):>20}" for s in dev_scores))

    rng = random.Random(SEED)
    typed = [with_typo(m, rng) for m in messages]
    p50, p99 = per_question_ms(reader.match, typed)
    l50, l99 = per_question_ms(lexical.match, typed)
    print(f"\nPer question, one core, {len(typed)} messages, one letter dropped:   reader        lexical     target")
    print(f"  p50                                    {p50:6.2f} ms    {l50:6.2f} ms")
    print(f"  p99                                    {p99:6.2f} ms    {l99:6.2f} ms    <= {TARGET_MS:g} ms "
          f"{'ok' if p99 <= TARGET_MS else 'MISSED'}")
    learned_probe = probe(messages, learned=True)
    lexical_probe = probe(messages, learned=False)
    rss, rss_base = learned_probe["rss_mb"], lexical_probe["rss_mb"]
    peak, peak_base = learned_probe["peak_mb"], lexical_probe["peak_mb"]
    warm, warm_base = learned_probe["load_s"], lexical_probe["load_s"]
    print("\nA fresh process: the bot's Knowledge, then every message")
    print(f"  resident memory after the messages     {rss:6.0f} MB     {rss_base:6.0f} MB    <= {TARGET_RSS_MB:g} MB "
          f"{'ok' if rss <= TARGET_RSS_MB else 'MISSED'}")
    print(f"  peak resident memory (during start)    {peak:6.0f} MB     {peak_base:6.0f} MB")
    print(f"  warm start (imports + load + train)    {warm:6.2f} s      {warm_base:6.2f} s     <= {TARGET_WARM_S:g} s "
          f"{'ok' if warm <= TARGET_WARM_S else 'MISSED'}")
    counts = {g: sum(1 for c in dev if group_of(c) == g) for g in ("in", "out", "warn")}
    print(f"\n(dev groups: {counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
