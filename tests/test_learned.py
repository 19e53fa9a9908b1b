"""The learned layer and the combined decision, on the real FAQ, the real model and the real examples file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from faq import embedding, language
from faq.embedding import Embedder, ModelError
from faq.examples import load_examples
from faq.loader import load_faq
from faq.understanding import Understanding


@pytest.fixture(scope="module")
def understanding(tmp_path_factory: pytest.TempPathFactory) -> Understanding:
    """The combined reader, trained once for this module into a fresh cache folder."""
    faq = load_faq()
    examples = load_examples(Path(faq.path or "").with_name("examples.yaml"), faq)
    return Understanding.build(faq, examples, cache_dir=tmp_path_factory.mktemp("cache"))


def test_paraphrase_is_answered(understanding: Understanding) -> None:
    """A paraphrase sharing few words with the FAQ still gets the entry about sleep."""
    result = understanding.match("would getting rubbed down help me drift off at night")
    assert (result.tier, result.entry_id) == ("answer", "sleep")


def test_off_topic_is_declined(understanding: Understanding) -> None:
    """A message about another subject is declined, not answered."""
    assert understanding.match("what is the capital of portugal").tier == "none"


def test_rule_warning_sign_always_wins(understanding: Understanding) -> None:
    """A warning sign the rules know gets the see-a-doctor answer."""
    result = understanding.match("my back hurts and I have lost control of my bladder")
    assert (result.tier, result.entry_id) == ("answer", "see-a-doctor")


def test_other_language_is_flagged() -> None:
    """A Spanish message is not taken as English, a typo-ridden English one is."""
    assert not language.is_english("el masaje ayuda con el dolor de espalda por favor")
    assert language.is_english("dose masage help with bak pain")


def test_warm_start_reuses_the_cache(tmp_path: Path) -> None:
    """A second build with the same FAQ and examples reads the cache instead of embedding again."""
    faq = load_faq()
    Understanding.build(faq, (), cache_dir=tmp_path)
    assert any(tmp_path.glob("classifier-*.npz"))
    assert any(tmp_path.glob("embeddings-*.npz"))


def test_tampered_tokenizer_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tokenizer file that fails its checksum stops the embedder with a clear error."""
    bad = tmp_path / "tokenizer.json"
    shutil.copy(embedding.TOKENIZER_PATH, bad)
    with bad.open("a") as f:
        f.write(" ")
    monkeypatch.setattr(embedding, "TOKENIZER_PATH", bad)
    with pytest.raises(ModelError, match="sha256"):
        Embedder()


def test_without_the_model_the_lexical_matcher_answers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the model fails its check, the bot still answers through the lexical matcher."""
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{}")
    monkeypatch.setattr(embedding, "TOKENIZER_PATH", bad)
    reader = Understanding.build(load_faq(), (), cache_dir=tmp_path)
    assert reader.learned is None
    assert reader.match("does massage help with back pain").tier == "answer"
