"""Pick the learned layer's warning-sign threshold (`Thresholds.safety`) by 5-fold cross-validation.

Run from the repository root: `python bench/pick_safety_threshold.py` (under a minute on a warm cache).

The examples file (faq/examples.yaml) is split into five folds. For each fold the layer is trained on the FAQ's
phrasings and the other four folds, and predicts the held-out fold. The learned opinion matters only where
the rules say nothing, so messages the rules flag, or whose concepts they set aside, are left out. For each
threshold t a held-out message counts as flagged when the layer's best label is a safety entry with
probability >= t:

- caught: safety-labelled messages flagged;
- false alarms: other messages (entries and off-topic) flagged.

The threshold printed last maximises caught rate minus false-alarm rate (Youden's J), ties to the higher
threshold, among those whose false alarms stay within MAX_FALSE_ALARMS of ordinary messages: a see-a-doctor
answer to every hundredth ordinary question ("should I shower before a massage?") would teach people to
ignore it. It is measured on the examples file only, never on a set reported as blind.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from faq.embedding import Embedder  # noqa: E402  (needs the path above)
from faq.examples import examples_path_for, load_examples  # noqa: E402
from faq.learned import EmbeddingCache, LearnedLayer, default_cache_dir, fit, training_pairs  # noqa: E402
from faq.loader import load_faq  # noqa: E402
from faq.models import DEFAULT_FAQ_PATH  # noqa: E402
from faq.safety import SafetyRules  # noqa: E402
from faq.text import normalise  # noqa: E402
from faq.understanding import DEFAULT_THRESHOLDS  # noqa: E402

FOLDS = 5
SEED = 20261202
MAX_FALSE_ALARMS = 0.01
GRID = [round(0.3 + 0.05 * i, 2) for i in range(14)]  # 0.30 .. 0.95


def main() -> int:
    """Cross-validate and print the curve and the pick."""
    faq = load_faq(DEFAULT_FAQ_PATH)
    examples = list(load_examples(examples_path_for(DEFAULT_FAQ_PATH), faq))
    rules = SafetyRules.for_faq(faq)
    safety = {faq.roles.warning_signs, faq.roles.contraindications}
    embedder = Embedder()
    cache = EmbeddingCache(default_cache_dir(), embedder.fingerprint)
    random.Random(SEED).shuffle(examples)
    held: list[tuple[bool, str, float]] = []  # (is a safety label, best label, its probability)
    for fold in range(FOLDS):
        test = examples[fold::FOLDS]
        train = [e for n, e in enumerate(examples) if n % FOLDS != fold]
        pairs = training_pairs(faq, train)
        labels = sorted({label for _, label in pairs} | {"off-topic"})
        index = {label: i for i, label in enumerate(labels)}
        x = cache.vectors(embedder, [t for t, _ in pairs])
        y = np.array([index[label] for _, label in pairs], dtype=np.int64)
        weights, bias = fit(x, y, len(labels), [index[label] for label in faq.roles.safety_entries])
        layer = LearnedLayer(embedder, labels, weights, bias)
        readings = [rules.read(normalise(e.text)) for e in test]
        quiet = [e for e, r in zip(test, readings, strict=True) if r.flag is None and not r.set_aside]
        vectors = cache.vectors(embedder, [e.text for e in quiet])
        for example, vector in zip(quiet, vectors, strict=True):
            p = layer.predict_vector(vector, top=1)
            held.append((example.label in safety, p.best, p.confidence))
        print(f"fold {fold + 1}/{FOLDS}: {len(quiet)} of {len(test)} held-out messages left to the learned layer")
    cache.save()
    positives = sum(1 for s, _, _ in held if s)
    negatives = len(held) - positives
    print(f"\n{positives} safety-labelled and {negatives} other messages the rules say nothing about")
    print(f"  {'threshold':>9}  {'caught':>14}  {'false alarms':>14}  {'J':>6}")
    best_t, best_j = GRID[0], -1.0
    for t in GRID:
        caught = sum(1 for s, label, p in held if s and label in safety and p >= t)
        alarms = sum(1 for s, label, p in held if not s and label in safety and p >= t)
        j = caught / max(positives, 1) - alarms / max(negatives, 1)
        print(f"  {t:>9.2f}  {caught:>5}/{positives:<4} {100 * caught / max(positives, 1):4.0f}%"
              f"  {alarms:>5}/{negatives:<4} {100 * alarms / max(negatives, 1):4.1f}%  {j:6.3f}")
        if j >= best_j and alarms / max(negatives, 1) <= MAX_FALSE_ALARMS:
            best_t, best_j = t, j
    cap = f"false alarms <= {MAX_FALSE_ALARMS:.0%}"
    print(f"\npicked: {best_t:.2f} (J {best_j:.3f}, {cap}); in use: Thresholds.safety = {DEFAULT_THRESHOLDS.safety}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
