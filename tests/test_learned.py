"""The learned layer and the combined decision, on the real FAQ, the real model and the real examples file."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from faq import embedding, language, safety
from faq.embedding import Embedder, ModelError
from faq.examples import load_examples
from faq.learned import Prediction, fit
from faq.loader import load_faq
from faq.matcher import MatchResult
from faq.models import Faq
from faq.safety import CONTRAINDICATIONS, SEE_A_DOCTOR
from faq.text import normalise
from faq.understanding import (
    DEFAULT_THRESHOLDS,
    LEARNED_CONTRA,
    LEARNED_WARNING,
    UNCLEAR_SYMPTOM,
    Understanding,
    decide,
)


@pytest.fixture(scope="module")
def understanding() -> Understanding:
    """The combined reader the bot uses, from the tests' shared cache (trained once per change of the data)."""
    faq = load_faq()
    examples = load_examples(Path(faq.path or "").with_name("examples.yaml"), faq)
    return Understanding.for_faq(faq, examples)


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


def test_a_warning_sign_set_aside_by_its_context_gets_the_answer_it_asked_for(understanding: Understanding) -> None:
    """'No numbness, no fever, just a stiff back' is about stiff muscles, not a doctor: the learned layer's
    safety opinion does not override the rules' reading of the negation."""
    result = understanding.match("no numbness, no fever, just a stiff lower back from gardening. would massage help?")
    assert result.entry_id not in (SEE_A_DOCTOR, CONTRAINDICATIONS)
    assert result.safety_reason is None


def test_a_message_in_another_language_that_names_a_warning_sign_gets_the_safety_answer(
    understanding: Understanding,
) -> None:
    """Spanish naming a blood thinner gets the contraindications answer; plain Spanish is marked not English."""
    warned = understanding.match("me duele la espalda y tomo warfarin todos los dias, puedo recibir un masaje")
    assert (warned.entry_id, warned.safety_reason) == (CONTRAINDICATIONS, "blood thinners")
    plain = understanding.match("el masaje ayuda con el dolor de espalda por favor")
    assert (plain.tier, plain.english) == ("none", False)


def test_a_symptom_nothing_is_sure_of_goes_to_the_doctor(faq: Faq) -> None:
    """When the learned layer leans to a warning sign but is sure of nothing, the answer is see-a-doctor,
    not a decline or an unrelated entry."""
    lexical = MatchResult("my legs feel odd", "suggest", "stiff-muscles", 48.0, suggestions=("stiff-muscles",))
    unsure = Prediction(("see-a-doctor", "stiff-muscles", "off-topic"), (0.4, 0.35, 0.25))
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    result = decide(lexical, unsure, True, DEFAULT_THRESHOLDS, safety)
    assert (result.tier, result.entry_id, result.safety_reason) == ("answer", "see-a-doctor", UNCLEAR_SYMPTOM)


def test_a_middling_safety_guess_beside_a_lexical_answer_is_no_symptom(faq: Faq) -> None:
    """'do i need to bathe first before getting a massage', which the lexical matcher answers and the learned
    layer half-reads as a contraindication, gets no 'a symptom I can't judge' warning."""
    lexical = MatchResult("do i need to bathe first", "answer", "history", 59.4)
    # Middling: under Thresholds.safety (0.5), where the learned layer's second opinion would be an answer itself.
    unsure = Prediction(("contraindications", "first-session", "off-topic"), (0.45, 0.4, 0.15))
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    result = decide(lexical, unsure, True, DEFAULT_THRESHOLDS, safety)
    assert result.safety_reason is None
    assert not (result.tier == "answer" and result.entry_id in safety)



@pytest.mark.parametrize(
    "text",
    ["do i need to bathe first before getting a massage", "is it ok to keep my contact lenses in during a massage"],
)
def test_practical_questions_about_the_appointment_get_no_safety_answer(
    understanding: Understanding, text: str
) -> None:
    """'Is it ok to...' about the appointment itself is a practical question: no 'something that calls for care'."""
    assert understanding.labels.verdict(text, normalise(text)) is None
    result = understanding.match(text)
    assert result.safety_reason is None
    assert (result.tier, result.entry_id) == ("answer", "first-session")


def test_a_question_about_the_safety_entries_read_as_the_other_one_gets_the_lexical_answer(faq: Faq) -> None:
    """'Is there a list of conditions where massage is a bad idea, or where I should check with my GP first?': the
    lexical matcher is sure of contraindications, the learned layer leans to see-a-doctor; the answer is the
    contraindications entry, with no 'you mentioned' lead."""
    question = "is there a list of conditions where massage is a bad idea"
    asked = MatchResult(question, "answer", "contraindications", 100.0)
    leaning = Prediction(("see-a-doctor", "contraindications", "body-health"), (0.53, 0.19, 0.12))
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    result = decide(asked, leaning, True, DEFAULT_THRESHOLDS, safety)
    assert (result.tier, result.entry_id, result.safety_reason) == ("answer", "contraindications", None)


def test_a_question_about_the_safety_entry_itself_gets_no_warning_lead(faq: Faq) -> None:
    """When both layers read a message as the contraindications entry, it is answered as a question about it;
    the learned layer alone flagging it still gives the safety answer with its lead."""
    sure = Prediction(("contraindications", "stiff-muscles", "off-topic"), (0.9, 0.05, 0.05))
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    asked = MatchResult("ok so who should not get a massage", "answer", "contraindications", 84.4)
    result = decide(asked, sure, True, DEFAULT_THRESHOLDS, safety)
    assert (result.entry_id, result.safety_reason) == ("contraindications", None)
    told = MatchResult("my calf is swollen and hot", "suggest", "stiff-muscles", 50.0, suggestions=("stiff-muscles",))
    result = decide(told, sure, True, DEFAULT_THRESHOLDS, safety)
    assert (result.entry_id, result.safety_reason) == ("contraindications", LEARNED_CONTRA)

def test_the_weighted_classes_win_a_message_halfway_between() -> None:
    """Fitting with the safety entries weighted: a message halfway between an entry's examples and a safety
    entry's reads as the safety entry, where unweighted it is a toss-up."""
    x = np.array([[1.0, 0.0], [0.98, 0.2], [0.0, 1.0], [0.2, 0.98]])
    y = np.array([0, 0, 1, 1], dtype=np.int64)
    middle = np.array([0.7071, 0.7071])
    plain_w, plain_b = fit(x, y, 2)
    weighted_w, weighted_b = fit(x, y, 2, weighted=[1])
    plain = middle @ plain_w + plain_b
    weighted = middle @ weighted_w + weighted_b
    assert abs(plain[1] - plain[0]) < 0.05
    assert weighted[1] - weighted[0] > 0.1


SUBJECT_ONLY = ("pain", "aching back", "my back aches", "back sore")


def test_the_subject_named_and_nothing_more_is_no_warning_sign(understanding: Understanding) -> None:
    """'pain', 'my back aches': the learned layer, which met these words mostly in warning-sign messages, gets no
    see-a-doctor answer out of a message that says nothing else (and none of them is a labelled example)."""
    for text in SUBJECT_ONLY:
        assert understanding.labels.verdict(text, normalise(text)) is None, text
        result = understanding.match(text)
        assert result.entry_id not in (SEE_A_DOCTOR, CONTRAINDICATIONS), (text, result)
        assert result.entry_id in ("back-pain-benefits", "back-pain-causes"), (text, result)


def test_two_words_that_name_a_sign_still_go_to_the_doctor(understanding: Understanding) -> None:
    """Short messages that say more than the subject's words keep the safety answer: 'numb legs', 'back pain at
    night'."""
    for text in ("numb legs", "back pain at night", "back pain and fever"):
        assert understanding.match(text).entry_id == SEE_A_DOCTOR, text


def test_a_reading_split_between_the_two_safety_entries_is_still_safety(faq: Faq) -> None:
    """A message the learned layer reads as a safety matter, unsure only of which of the two entries, gets the
    likelier one with its warning lead: 'everyone says I look thinner, I haven't been trying, and my back aches'."""
    lexical = MatchResult("everyone says i look thinner", "answer", "back-pain-benefits", 72.0)
    split = Prediction(("see-a-doctor", "contraindications", "back-pain-benefits"), (0.45, 0.26, 0.18))
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    result = decide(lexical, split, True, DEFAULT_THRESHOLDS, safety)
    assert (result.tier, result.entry_id, result.safety_reason) == ("answer", "see-a-doctor", LEARNED_WARNING)


def test_a_symptom_that_passed_is_no_warning_sign(understanding: Understanding) -> None:
    """'The pain went away after a few days' rest' asks how often to book, not whether to see a doctor."""
    result = understanding.match("the pain went away after a couple of days rest. how often should I get a massage?")
    assert result.entry_id not in (SEE_A_DOCTOR, CONTRAINDICATIONS)


def test_a_later_start_loads_the_optimised_model_and_reads_the_same(tmp_path: Path) -> None:
    """The first start saves the optimised model with its checksum; later starts load it and embed the same,
    and a copy that fails its checksum is rebuilt rather than used."""
    texts = ["does massage help with back pain", "my legs are numb"]
    first = Embedder(cache_dir=tmp_path).embed(texts)
    (copy,) = tmp_path.glob("model-*-basic.onnx")
    checksum = copy.with_suffix(".sha256")
    assert checksum.read_text().strip() == embedding._sha256(copy)

    assert np.allclose(Embedder(cache_dir=tmp_path).embed(texts), first, atol=1e-6)

    with copy.open("ab") as f:
        f.write(b"tampered")
    assert np.allclose(Embedder(cache_dir=tmp_path).embed(texts), first, atol=1e-6)
    assert checksum.read_text().strip() == embedding._sha256(copy)


def test_an_unwritable_cache_still_gives_a_working_model(tmp_path: Path) -> None:
    """A cache folder that cannot be created (a file stands in its way) costs nothing but the saved copy."""
    blocker = tmp_path / "cache"
    blocker.write_text("not a folder")
    vectors = Embedder(cache_dir=blocker / "inner").embed(["does massage help with back pain"])
    assert vectors.shape == (1, embedding.DIMENSIONS)
    assert abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-5


def test_a_long_message_scoring_full_marks_lexically_is_not_taken_for_an_faq_phrasing(
    understanding: Understanding,
) -> None:
    """A long message whose many shared words cap the lexical score at 100 gets the entry the learned layer
    reads in it (how to lift and move), not the lexical matcher's neighbour (what causes back pain)."""
    text = (
        "I'm a nurse and I'm constantly bending over beds and moving patients. My back is starting to complain "
        "by the end of every shift. Any advice on how to move so I don't wreck it before I'm 40?"
    )
    assert understanding.lexical.match(text).score >= 100.0
    assert understanding.lexical.phrasing_of(text) is None
    assert understanding.match(text).entry_id == "lifting-posture"


def test_one_of_the_faqs_own_phrasings_is_answered_with_its_entry(understanding: Understanding) -> None:
    """Every entry's own phrasings, typed as the FAQ has them, get that entry."""
    for entry in understanding.faq.entries:
        for phrasing in entry.phrasings[:3]:
            assert understanding.lexical.phrasing_of(phrasing) == entry.id
            assert understanding.match(phrasing).entry_id == entry.id, phrasing


def test_a_message_denying_every_contraindication_is_read_for_what_it_asks(understanding: Understanding) -> None:
    """Once the rules set aside 'not on blood thinners, no clots, not pregnant', the words left are read by both
    layers, so the reply is not the contraindications entry the denied words resemble."""
    text = (
        "I'm not on blood thinners, no clots, no broken bones, not pregnant. just tight and stressed. "
        "is a weekly massage too much?"
    )
    assert understanding.lexical.match(text).entry_id == CONTRAINDICATIONS
    assert understanding.match(text).entry_id not in (SEE_A_DOCTOR, CONTRAINDICATIONS, None)


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("how many sessions before I notice a difference", "how-often"),
        ("this deadline is killing me and my shoulders are up by my ears, would a massage help?", "stress"),
    ],
)
def test_a_message_the_lexical_matcher_only_scored_low_is_answered_by_a_confident_learned_layer(
    understanding: Understanding, text: str, entry: str
) -> None:
    """A low lexical score is no sure decline: the learned layer, confident of an entry, answers with it."""
    lexical = understanding.lexical.match(text)
    assert lexical.tier == "none"
    assert lexical.score > 0
    assert understanding.match(text).entry_id == entry


def test_a_sure_lexical_decline_still_needs_a_very_confident_learned_layer(faq: Faq) -> None:
    """Where the lexical matcher declined for sure (an off-topic word: score 0), a fairly confident learned
    guess is not enough to answer ('bitcoin price' is not about cost)."""
    sure = MatchResult("bitcoin price", "none", None, 0.0)
    guess = Prediction(("cost", "off-topic", "stress"), (0.8, 0.15, 0.05))
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    assert decide(sure, guess, True, DEFAULT_THRESHOLDS, safety).tier != "answer"
    low = MatchResult("price of a session", "none", None, 40.0)
    assert decide(low, guess, True, DEFAULT_THRESHOLDS, safety).entry_id == "cost"


def test_a_low_scored_decline_with_an_unsure_learned_guess_stays_a_decline_not_a_symptom(faq: Faq) -> None:
    """'should i shower before a massage', scored low by the lexical matcher and guessed at by the learned layer
    with a middling contraindications probability, is declined: no 'a symptom I can't judge' false alarm."""
    low = MatchResult("should i shower before a massage", "none", None, 30.0)
    guess = Prediction(("first-session", "contraindications", "off-topic"), (0.45, 0.4, 0.15))
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    verdict = decide(low, guess, True, DEFAULT_THRESHOLDS, safety)
    assert verdict.tier == "none"
    assert verdict.safety_reason is None


@pytest.mark.parametrize(
    "message",
    [
        "my friend's husband is on warfarin, I'm not. what does a massage therapist actually do?",
        "my dad crashed his car last week, I wasn't in it. how much is a massage?",
        "pins and needles in my foot this morning from kneeling, completely gone now. what should I wear to a session?",
        "the heifer cut her leg open on the fence. does massage help circulation?",
        "had a chest infection a while back, got the all clear. how often should I get a massage?",
    ],
)
def test_anothers_symptom_disowned_or_one_that_is_gone_raises_no_flag(
    understanding: Understanding, message: str
) -> None:
    """'I'm not' right after another person's concept, a symptom 'completely gone now' or given the all clear,
    and a farm animal's wound are no warning sign of the user's."""
    assert safety.check(normalise(message)) is None
    assert understanding.match(message).entry_id not in (SEE_A_DOCTOR, CONTRAINDICATIONS)



def test_a_learned_layer_all_but_certain_a_message_is_off_topic_declines_it_over_a_strong_lexical_score(
    faq: Faq,
) -> None:
    """A lexical score of 85 on shared words is outvoted when the learned layer is 97% sure the message is not
    about the subject; at 80% sure the strong lexical answer stands."""
    safety = (faq.roles.warning_signs, faq.roles.contraindications)
    strong = MatchResult("is the back of the sofa comfy", "answer", "back-pain-benefits", 85.0)
    certain = Prediction(("off-topic", "back-pain-benefits", "stress"), (0.97, 0.02, 0.01))
    assert decide(strong, certain, True, DEFAULT_THRESHOLDS, safety).tier == "none"
    fairly = Prediction(("off-topic", "back-pain-benefits", "stress"), (0.8, 0.15, 0.05))
    assert decide(strong, fairly, True, DEFAULT_THRESHOLDS, safety).entry_id == "back-pain-benefits"


@pytest.mark.parametrize(
    ("message", "entry", "caveat"),
    [
        ("I'm expecting a parcel today, what should I wear to my first massage?", "first-session", "pregnancy"),
        ("my legs burn after spin class, does massage flush lactic acid out?", "waste-products",
         "an open wound or infection"),
        ("how do I get a burn mark off my kitchen worktop?", None, "an open wound or infection"),
        ("what does the word fracture mean in geology?", None, "a fracture"),
    ],
)
def test_a_short_message_the_rules_flag_and_the_learned_layer_plainly_reads_otherwise_keeps_the_sign_as_a_caveat(
    understanding: Understanding, message: str, entry: str | None, caveat: str
) -> None:
    """A word the rules read as a sign ('expecting', 'burn', 'fracture') in a short message the learned layer
    is sure is about something else, with no safety in it, gets that reading (an answer or a decline), and the
    sign the rules read stays on the verdict as a caveat."""
    assert understanding.lexical.match(message).safety_reason == caveat
    verdict = understanding.match(message)
    assert (verdict.tier, verdict.entry_id) == (("answer", entry) if entry else ("none", None))
    assert verdict.safety_reason is None
    assert verdict.caveat is not None
    assert verdict.caveat.reason == caveat


@pytest.mark.parametrize(
    "message",
    [
        "my legs have gone numb and weak since yesterday, would a massage help",
        "Quick question about what to wear to my first ever massage next week, I'm a bit nervous about it. Oh and "
        "I should say I came off my bike on Sunday and my back has hurt since.",
    ],
)
def test_a_real_sign_or_one_mentioned_in_passing_in_a_long_message_is_never_overruled(
    understanding: Understanding, message: str
) -> None:
    """A sign the learned layer also sees, and a sign in a message past the word limit (where the learned layer
    reads the question asked, here what to wear, and not the fall mentioned in passing), get the doctor."""
    verdict = understanding.match(message)
    assert (verdict.tier, verdict.entry_id) == ("answer", "see-a-doctor")
    assert verdict.safety_reason is not None
    assert verdict.caveat is None


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        ("can massage help me avoid an operation on my spine?", "no-medication"),
        ("not pregnant, not on blood thinners, just a stiff back from the office. which type of massage should I book?",
         "kinds-of-massage"),
    ],
)
def test_a_sign_set_aside_leaves_the_surer_of_the_whole_message_and_its_rest_to_answer(
    understanding: Understanding, message: str, entry: str
) -> None:
    """Where the rules set a sign aside ('avoid an operation', 'not pregnant'), the learned layer reads both the
    whole message and what is left without the sign, and the surer reading answers: the rest alone ('can
    massage help me') can lose what was asked."""
    verdict = understanding.match(message)
    assert (verdict.tier, verdict.entry_id, verdict.safety_reason) == ("answer", entry, None)


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        ("the physio examined me, no red flags, just a strained muscle. what kind of massage would you suggest?",
         "kinds-of-massage"),
        ("blood tests came back normal and the doc says it's only muscular. how should I sit at my desk?",
         "lifting-posture"),
    ],
)
def test_a_check_that_found_nothing_does_not_send_the_user_back_to_the_doctor(
    understanding: Understanding, message: str, entry: str
) -> None:
    """'No red flags, just a strained muscle' says a check found nothing: the answer is to the question asked, not
    the see-a-doctor answer the words 'physio' and 'red flags' lead to."""
    verdict = understanding.match(message)
    assert (verdict.tier, verdict.entry_id, verdict.safety_reason) == ("answer", entry, None)


def test_a_sign_told_after_a_check_that_found_nothing_still_gets_the_doctor(understanding: Understanding) -> None:
    """'The GP said it's just muscular, but...' and then a change in going to the loo: the learned layer reads what
    follows the check with its safety opinion intact."""
    verdict = understanding.match(
        "the GP said it's just muscular, but lately going to the loo feels different and I have to strain to go"
    )
    assert (verdict.tier, verdict.entry_id) == ("answer", "see-a-doctor")


@pytest.mark.parametrize("message", ["how do you treat sunburn", "how long does flu last in adults"])
def test_a_first_aid_question_with_no_word_of_massage_is_declined_with_the_sign_as_a_caveat(
    understanding: Understanding, message: str
) -> None:
    """A burn or the flu matters to a massage; a question that names neither massage nor the back, and reads as
    off-topic, gets the decline, and the reply still names the contraindication (the caveat)."""
    verdict = understanding.match(message)
    assert (verdict.tier, verdict.entry_id) == ("none", None)
    assert verdict.caveat is not None
    assert verdict.caveat.entry_id == "contraindications"


@pytest.mark.parametrize(
    ("message", "entry"),
    [
        ("Im pregnant, is that ok?", "contraindications"),
        ("on warfarin", "contraindications"),
        ("how long does numbness in both legs last", "see-a-doctor"),
    ],
)
def test_a_contraindication_the_learned_layer_sees_or_a_warning_sign_without_a_word_of_massage_still_answers(
    understanding: Understanding, message: str, entry: str
) -> None:
    """Without a word of massage, a contraindication the learned layer reads as such still gets its answer, and a
    warning sign is never declined for being off the subject."""
    verdict = understanding.match(message)
    assert (verdict.tier, verdict.entry_id) == ("answer", entry)
    assert verdict.safety_reason is not None


def test_a_sign_the_rules_do_not_know_beside_signs_they_set_aside_still_gets_the_doctor(
    understanding: Understanding,
) -> None:
    """'No tingling, no fever... the only odd thing is it aches as badly lying still': the rules set the negated
    signs aside, and what they leave, read by the learned layer, is sure to be a warning sign: the doctor."""
    verdict = understanding.match(
        "no tingling, no fever, nothing like that. the only odd thing is it aches just as badly when I'm lying "
        "completely still as when I'm moving. massage?"
    )
    assert (verdict.tier, verdict.entry_id) == ("answer", "see-a-doctor")


@pytest.mark.parametrize(
    "message",
    [
        "no numbness, just a stiff back from the office. which massage should I book?",
        "my dog fell down the stairs last week, he is fine now. how often should I get a massage for my tight back?",
    ],
)
def test_what_is_left_once_a_sign_is_set_aside_is_no_safety_answer_by_itself(
    understanding: Understanding, message: str
) -> None:
    """A negated sign, or one that befell the dog, leaves an ordinary question: no safety answer."""
    verdict = understanding.match(message)
    assert verdict.entry_id not in ("see-a-doctor", "contraindications")


@pytest.mark.parametrize(
    "message", ["can a face massage get rid of my double chin", "can you book me in for a massage tomorrow at 10"]
)
def test_massage_for_the_face_or_a_booking_is_declined(understanding: Understanding, message: str) -> None:
    """Massage for something other than the back, and a booking the bot cannot make, get the decline (the
    examples file's off-topic messages close to the subject), not a guess from the word massage."""
    assert understanding.match(message).tier == "none"


def test_a_self_massage_question_without_a_word_of_the_subject_is_answered(understanding: Understanding) -> None:
    """'The tennis ball against the wall trick' names neither massage nor the back, yet the learned layer is sure
    it is self-massage: its answer, not a decline."""
    verdict = understanding.match("does the tennis ball against the wall trick actually work")
    assert (verdict.tier, verdict.entry_id) == ("answer", "self-massage")


def test_a_sign_told_before_another_question_is_never_overruled(understanding: Understanding) -> None:
    """'...I've wet myself twice since my back went. Anyway, what should I wear?' reads, whole, as a first-session
    question; the flagged statement read alone is a warning sign, so the rules stand: the doctor."""
    verdict = understanding.match(
        "bit embarrassing, but I've wet myself twice since my back went. anyway what should I wear to my first "
        "massage?"
    )
    assert (verdict.tier, verdict.entry_id, verdict.caveat) == ("answer", "see-a-doctor", None)
