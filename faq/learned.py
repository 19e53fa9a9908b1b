"""The learned layer: a multinomial logistic regression over sentence embeddings.

It is trained from the FAQ's own phrasings (each labelled with its entry) and the labelled-examples file
(`faq.examples`): messages as people write them, with their entry, or ``off-topic``. The off-topic class is
explicit, so the layer can decline as well as answer. Embeddings and the trained weights are cached on disk,
keyed by the hashes of the texts, the labels and the model, so a warm start embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from faq.embedding import DIMENSIONS, Embedder, Vectors
from faq.examples import OFF_TOPIC, Example
from faq.models import Faq

logger = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Progress = Callable[[int, int], None]

L2 = 1e-3  # weight decay: chosen on the development data (bench/data, tests/data), never on a blind set
EPOCHS = 400
LEARNING_RATE = 0.5
TEMPERATURE_SCALE = 20.0  # unit vectors have small dot products: scale them so the softmax can be sharp
# The safety entries' messages weigh this many times an entry's: a missed warning sign costs a user far more than
# a see-a-doctor answer to a benign message. Chosen on the untrained development rows (odd halves C-AQ): with the
# even halves of M-AQ trained on, a weight of 1 lost warning signs there and a weight of 3 cost benign near-misses.
SAFETY_WEIGHT = 2.0
CACHE_ENV = "FAQ_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where embeddings and trained weights are kept: FAQ_CACHE_DIR, else the user's cache folder."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "massage-faq-bot"


@dataclass(frozen=True, slots=True)
class Prediction:
    """The learned layer's view of one message: labels best first, with their probabilities."""

    labels: tuple[str, ...]
    probs: tuple[float, ...]

    @property
    def best(self) -> str:
        """The most likely label: an entry id or OFF_TOPIC."""
        return self.labels[0]

    @property
    def confidence(self) -> float:
        """The probability of the best label."""
        return self.probs[0]

    def without(self, labels: Iterable[str]) -> Prediction:
        """The prediction with some labels ruled out, the rest renormalised (unchanged if nothing is left)."""
        dropped = set(labels)
        kept = [(name, p) for name, p in zip(self.labels, self.probs, strict=True) if name not in dropped]
        total = sum(p for _, p in kept)
        if not kept or total <= 0.0:
            return self
        return Prediction(tuple(n for n, _ in kept), tuple(p / total for _, p in kept))

    def prob(self, label: str) -> float:
        """The probability of one label (0 if it is not among the top ones)."""
        for name, p in zip(self.labels, self.probs, strict=True):
            if name == label:
                return p
        return 0.0


def training_pairs(faq: Faq, examples: Iterable[Example]) -> list[tuple[str, str]]:
    """Return (text, label) pairs: every FAQ phrasing with its entry, then every example."""
    pairs = [(phrasing, entry.id) for entry in faq.entries for phrasing in entry.phrasings]
    pairs += [
        (example.text, example.label)
        for example in examples
        if example.label in faq.by_id or example.label == OFF_TOPIC
    ]
    return pairs


def _digest(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


class EmbeddingCache:
    """Vectors of texts already embedded, on disk, keyed by the model's fingerprint."""

    def __init__(self, folder: Path | None, fingerprint: str) -> None:
        self.path = None if folder is None else folder / f"embeddings-{fingerprint}.npz"
        self._vectors: dict[str, Vectors] = {}
        self._dirty = False
        if self.path is not None and self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as data:
                    texts = [str(t) for t in data["texts"]]
                    matrix = data["vectors"].astype(np.float32)
                self._vectors = dict(zip(texts, matrix, strict=True))
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("ignoring an unreadable embedding cache %s: %s", self.path, exc)

    def vectors(self, embedder: Embedder, texts: Sequence[str], progress: Progress | None = None) -> Vectors:
        """Return one vector per text, embedding only the texts not seen before."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, embedder.embed(missing, progress), strict=True):
                self._vectors[text] = vector
            self._dirty = True
        return np.stack([self._vectors[t] for t in texts]) if texts else np.zeros((0, DIMENSIONS), dtype=np.float32)

    def save(self) -> None:
        """Write the cache atomically; a folder that cannot be written only costs the next start time."""
        if self.path is None or not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            texts = list(self._vectors)
            with tempfile.NamedTemporaryFile(dir=self.path.parent, suffix=".npz", delete=False) as f:
                np.savez(f, texts=np.array(texts), vectors=np.stack([self._vectors[t] for t in texts]))
            os.replace(f.name, self.path)
            self._dirty = False
        except OSError as exc:
            logger.warning("cannot write the embedding cache %s: %s", self.path, exc)


def fit(
    x: Vectors, y: npt.NDArray[np.int64], classes: int, weighted: Iterable[int] = ()
) -> tuple[Floats, Floats]:
    """Fit multinomial logistic regression by full-batch gradient descent; return (weights, bias).

    The classes in `weighted` (the safety entries) weigh SAFETY_WEIGHT times the others. In float32, which is
    twice as fast as float64 and moves no probability by more than 1e-4.
    """
    n, d = x.shape
    xs = x.astype(np.float32) * np.float32(TEMPERATURE_SCALE)
    xs_t = np.ascontiguousarray(xs.T)
    counts = np.bincount(y, minlength=classes).astype(np.float64)
    # Each class weighs the same in total, so the large off-topic class cannot drown a small entry.
    class_weight = n / (classes * np.maximum(counts, 1.0))
    class_weight[list(weighted)] *= SAFETY_WEIGHT
    sample_weight = class_weight[y]
    sample_weight = (sample_weight / sample_weight.sum()).astype(np.float32)[:, None]
    onehot = np.zeros((n, classes), dtype=np.float32)
    onehot[np.arange(n), y] = 1.0
    w = np.zeros((d, classes), dtype=np.float32)
    b = np.zeros(classes, dtype=np.float32)
    mw, vw, mb, vb = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    beta1, beta2 = 0.9, 0.999
    rate = LEARNING_RATE / TEMPERATURE_SCALE
    for step in range(1, EPOCHS + 1):  # Adam: a few hundred steps converge on a few thousand texts
        z = xs @ w + b
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)  # the softmax, in place
        grad = (z - onehot) * sample_weight
        gw = xs_t @ grad + np.float32(L2) * w
        gb = grad.sum(axis=0)
        mw = beta1 * mw + (1 - beta1) * gw
        vw = beta2 * vw + (1 - beta2) * gw * gw
        mb = beta1 * mb + (1 - beta1) * gb
        vb = beta2 * vb + (1 - beta2) * gb * gb
        correction = np.sqrt(1 - beta2**step) / (1 - beta1**step)
        w -= (rate * correction * mw / (np.sqrt(vw) + 1e-8)).astype(np.float32)
        b -= (rate * correction * mb / (np.sqrt(vb) + 1e-8)).astype(np.float32)
    return (w * np.float32(TEMPERATURE_SCALE)).astype(np.float64), b.astype(np.float64)


class LearnedLayer:
    """A trained classifier over one FAQ and its examples; build with `train`, then `predict` freely."""

    def __init__(self, embedder: Embedder, labels: Sequence[str], weights: Floats, bias: Floats) -> None:
        self.embedder = embedder
        self.labels = tuple(labels)
        self._weights = weights.astype(np.float32)
        self._bias = bias.astype(np.float32)

    @classmethod
    def train(
        cls,
        faq: Faq,
        examples: Iterable[Example],
        embedder: Embedder,
        cache_dir: Path | None = None,
        progress: Progress | None = None,
    ) -> LearnedLayer:
        """Train on the FAQ's phrasings and the examples, reusing cached vectors and weights."""
        pairs = training_pairs(faq, examples)
        labels = sorted({label for _, label in pairs} | {OFF_TOPIC})
        safety = faq.roles.safety_entries
        settings = repr((L2, EPOCHS, LEARNING_RATE, TEMPERATURE_SCALE, "float32", SAFETY_WEIGHT, safety))
        key = _digest(embedder.fingerprint, json.dumps(pairs), settings)
        weights_path = None if cache_dir is None else cache_dir / f"classifier-{key[:32]}.npz"
        if weights_path is not None and weights_path.exists():
            try:
                with np.load(weights_path, allow_pickle=False) as data:
                    if [str(s) for s in data["labels"]] == labels:
                        return cls(embedder, labels, data["weights"], data["bias"])
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("ignoring an unreadable classifier cache %s: %s", weights_path, exc)
        cache = EmbeddingCache(cache_dir, embedder.fingerprint)
        x = cache.vectors(embedder, [text for text, _ in pairs], progress)
        cache.save()
        index = {label: i for i, label in enumerate(labels)}
        y = np.array([index[label] for _, label in pairs], dtype=np.int64)
        weights, bias = fit(x, y, len(labels), [index[label] for label in safety if label in index])
        if weights_path is not None:
            try:
                weights_path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=weights_path.parent, suffix=".npz", delete=False) as f:
                    np.savez(f, labels=np.array(labels), weights=weights, bias=bias)
                os.replace(f.name, weights_path)
            except OSError as exc:
                logger.warning("cannot write the classifier cache %s: %s", weights_path, exc)
        return cls(embedder, labels, weights, bias)

    def predict_vector(self, vector: Vectors, top: int = 5) -> Prediction:
        """Return the best labels for an embedded message."""
        z = vector @ self._weights + self._bias
        z = z - z.max()
        p = np.exp(z)
        p /= p.sum()
        order = np.argsort(-p)[:top]
        return Prediction(tuple(self.labels[i] for i in order), tuple(float(p[i]) for i in order))

    def predict(self, text: str, top: int = 5) -> Prediction:
        """Return the best labels for a message."""
        return self.predict_vector(self.embedder.embed_one(text), top)
