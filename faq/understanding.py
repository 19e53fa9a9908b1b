"""One decision from two layers: the lexical matcher and the learned classifier.

- The lexical matcher (`faq.matcher`) is good at typos, very short messages and the FAQ's own phrasings,
  and it runs the rule-based warning-sign check (`faq.safety`), which always wins.
- The learned layer (`faq.learned`) reads paraphrase, and declines what is not about the subject, because
  it was trained with an explicit off-topic class on labelled examples.

The thresholds below were picked by cross-validation on the development data (the examples file's
messages, held out fold by fold), never on a set reported as blind. A guess that neither layer is confident
of becomes "Did you mean…" or a decline, never a confident wrong answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from faq import language
from faq.embedding import Embedder, ModelError
from faq.examples import OFF_TOPIC, Example, LabelledAnswers
from faq.learned import LearnedLayer, Prediction, Progress, default_cache_dir
from faq.matcher import ANSWER_SCORE, SUGGEST_SCORE, Matcher, MatchResult
from faq.models import Faq
from faq.safety import SafetyFlag
from faq.text import normalise

logger = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True)
class Thresholds:
    """Where the two layers' confidences turn into answers, suggestions and declines."""

    answer: float = 0.7  # the learned layer answers on its own from this probability
    agree: float = 0.25  # the learned layer backs the lexical answer if it gives the entry this much
    lexical_strong: float = 80.0  # a lexical score this high answers unless the learned layer says off-topic
    off_topic: float = 0.6  # the learned layer declines from this off-topic probability
    # ...and from this one even where the lexical score is strong: a message sharing the FAQ's words ("a couples
    # therapist who takes my insurance") scores on them, but a learned layer this sure is right far more often
    # (on the untrained development rows, 0.95 down to 0.7 lost no in-domain message).
    off_topic_sure: float = 0.85
    # The learned layer's second opinion on a warning sign. bench/pick_safety_threshold.py picks 0.6 by
    # cross-validation on the examples file; with the safety classes weighted (learned.SAFETY_WEIGHT) 0.5 caught
    # more warning signs on the untrained development rows and cost no benign near-miss there.
    safety: float = 0.5
    suggest: float = 0.35  # a candidate worth offering in "Did you mean…"
    # Where the lexical matcher declined for sure (score 0: no word of the subject, or an off-topic word), the
    # learned layer needs this much more before it answers, or offers anything: "bitcoin price" is not about cost.
    over_decline: float = 0.92
    # Where the rules read a warning sign, the learned layer overrules them only on a short message it reads as
    # plainly about something else: safety under veto_safety, and an entry or off-topic at veto_confidence.
    # "my car keeps overheating like it's got a fever", "legs like jelly after leg day, does massage flush
    # lactic acid". The answer still names the sign (MatchResult.caveat). Long messages are never overruled:
    # there the learned layer reads the question asked and misses a sign mentioned in passing.
    veto_words: int = 25
    veto_safety: float = 0.05
    veto_confidence: float = 0.7
    # A contraindication matters to someone asking about a massage. A message with no word for the subject (no
    # massage, no back, no therapist) that the learned layer reads as off-topic above all is declined, the sign
    # kept as a caveat: "how do you treat sunburn", "burnt my hand on the oven tray, what should I put on it".
    # Warning signs are never declined so.
    veto_off_subject_safety: float = 0.1
    # ...and never where a flagged statement of the message, read alone, is this sure to be a safety matter
    # (Understanding._clause_says_safety): on the untrained development rows 0.9 kept 106 of 108 overrules that
    # fixed a false alarm and undid one that had hidden a warning sign.
    veto_clause_safety: float = 0.9
    # What the rules leave of a message once they set a sign aside keeps the learned layer's safety opinion from
    # this probability (Understanding._rest_reading); 0.6 there cost near-misses, 0.9 caught fewer signs.
    rest_safety: float = 0.8


DEFAULT_THRESHOLDS = Thresholds()
MIN_REST_WORDS = 3  # what the rules leave of a message is read instead of it only from this many words
SUBJECT_ONLY_WORDS = 2  # a message of at most this many words, all of them the subject's, describes no sign


class Understanding:
    """Reads a message with both layers; `match` and `rank` have the lexical matcher's signatures."""

    def __init__(
        self,
        faq: Faq,
        learned: LearnedLayer | None = None,
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        labelled: Iterable[Example] = (),
        cache_dir: Path | None = None,
        lexical: Matcher | None = None,
        trained_on: Iterable[Example] | None = None,
    ) -> None:
        self.faq = faq
        self.lexical = lexical if lexical is not None and lexical.faq is faq else Matcher(faq)
        self.learned = learned
        self.thresholds = thresholds
        self.cache_dir = cache_dir
        self.examples = tuple(labelled)
        # What the learned layer was trained on: `examples` may be newer (`with_labels`) until it retrains.
        self.trained_on = self.examples if trained_on is None else tuple(trained_on)
        # A message an operator (or the examples file) labelled gets that label when asked again verbatim.
        self.labels = LabelledAnswers(faq, self.examples)

    @classmethod
    def build(
        cls,
        faq: Faq,
        examples: Iterable[Example] = (),
        *,
        embedder: Embedder | None = None,
        cache_dir: Path | None = None,
        progress: Progress | None = None,
        learned: bool = True,
        lexical: Matcher | None = None,
    ) -> Understanding:
        """Train the learned layer (from cache when it can) and return the combined reader.

        Without the model (`learned=False`, or a model that is missing or fails its checksum) the lexical
        matcher decides alone, and one warning says why: the bot still answers, with the older accuracy.
        """
        examples = tuple(examples)
        layer = None
        if learned:
            try:
                embedder = embedder or Embedder(cache_dir=cache_dir)
                layer = LearnedLayer.train(faq, examples, embedder, cache_dir, progress)
            except ModelError as exc:
                logger.warning("the learned layer is off, the lexical matcher answers alone: %s", exc)
        return cls(faq, layer, labelled=examples, cache_dir=cache_dir, lexical=lexical)

    @classmethod
    def for_faq(
        cls, faq: Faq, examples: Iterable[Example], *, learned: bool = True, progress: Progress | None = None
    ) -> Understanding:
        """The reader the bot and the CLI use: learned beside lexical, cached in `default_cache_dir()`.

        The learned layer needs off-topic examples to be able to decline at all: without any (a new FAQ with
        no examples file yet) the lexical matcher answers alone, and a warning says so.
        """
        examples = tuple(examples)
        use_learned = learned and any(e.is_off_topic for e in examples)
        if learned and not use_learned:
            logger.warning("no off-topic examples for %s: the lexical matcher answers alone", faq.path or "the FAQ")
        return cls.build(faq, examples, cache_dir=default_cache_dir(), progress=progress, learned=use_learned)

    def with_examples(self, examples: Iterable[Example], progress: Progress | None = None) -> Understanding:
        """Return a reader for the same FAQ retrained on `examples` (blocking; `self` is unchanged).

        The model is reused, and texts embedded before come from the cache, so only new texts are embedded.
        A reader without the learned layer stays without it: the model is not tried again.
        """
        examples = tuple(examples)
        if examples == self.examples == self.trained_on:
            return self
        if self.learned is None:
            return Understanding(self.faq, None, self.thresholds, examples, self.cache_dir, self.lexical)
        layer = LearnedLayer.train(self.faq, examples, self.learned.embedder, self.cache_dir, progress)
        return Understanding(self.faq, layer, self.thresholds, examples, self.cache_dir, self.lexical)

    def with_labels(self, examples: Iterable[Example]) -> Understanding:
        """Return a reader that gives `examples` their labels when asked again verbatim, at once (cheap).

        The learned layer is this one, not retrained: `with_examples` does that, and only it generalises
        a label to other wordings. The review loop swaps this in first, then retrains in the background.
        """
        return Understanding(
            self.faq, self.learned, self.thresholds, examples, self.cache_dir, self.lexical, self.trained_on
        )

    def predict(self, text: str) -> Prediction | None:
        """The learned layer's view of a message, or None without it."""
        return None if self.learned is None else self.learned.predict(text)

    def match(self, text: str) -> MatchResult:
        """Return the best entry for `text`, some candidates, or a decline. Never raises."""
        lexical = self.lexical.match(text)
        if lexical.safety_reason is not None:
            return self._overruled(text, lexical) or lexical  # the warning-sign rules win, with one exception
        labelled = self.labels.verdict(text, lexical.query)
        if labelled is not None:
            return labelled
        if lexical.tier == "answer" and self.lexical.phrasing_of(text) == lexical.entry_id:
            # One of the FAQ's own phrasings. A long message can also score 100 (its matched words are capped),
            # and that is only a strong lexical score, which the learned layer may outvote.
            return lexical
        english = language.is_english(text, self.lexical.vocabulary)
        if self.learned is None:
            return lexical if english else replace(_decline(lexical), english=False)
        roles = self.faq.roles
        safety = roles.safety_entries
        normalised = normalise(text)
        reading = self.lexical.safety.read(normalised)
        if reading.set_aside:
            # The rules read a warning sign here and set it aside for its context ("no numbness, just a stiff back",
            # "it went away", "my horse fell"): reading context is their job. The learned layer reads the whole
            # message without its safety labels, and what is left of it once the set-aside words are gone.
            rest = reading.remainder(normalised)
            enough = len(rest.split()) >= MIN_REST_WORDS  # "not pregnant" alone leaves nothing worth reading
            # The surer reading wins: the rest alone can lose the question ("could massage help me [avoid surgery]"),
            # the whole can be led by the words set aside.
            prediction = self.learned.predict(text).without(safety)
            if enough:
                prediction = max(prediction, self._rest_reading(rest), key=_sureness)
            if lexical.entry_id in safety and enough:
                # The lexical matcher picked a safety entry for the words the rules set aside ("not pregnant,
                # no medication"): it reads what is left, as the learned layer does.
                lexical = self._reread(lexical, rest)
        elif reading.passed:
            # "The pain went away after a couple of days": whatever it was has passed, so it is no warning sign.
            prediction = self.learned.predict(text).without(safety)
        else:
            prediction = self.learned.predict(text)
            past_check = self.lexical.safety.without_cleared(text)
            if past_check is not None and len(past_check.split()) >= MIN_REST_WORDS:
                # "My GP checked me over, no red flags, it's just muscular. How many sessions?": the words of the
                # check ("doctor", "serious") are not the question, and they lead both layers to the safety
                # entries. The learned layer's safety opinion comes from the rest alone; the surer of its two
                # readings wins (the rest alone can lose the question).
                prediction = max(prediction.without(safety), self.learned.predict(past_check), key=_sureness)
                if lexical.entry_id in safety:
                    lexical = self._reread(lexical, past_check)
        if 0 < self.lexical.subject_words_only(text) <= SUBJECT_ONLY_WORDS:
            # "my back hurts", "back pain?", "pain": the subject's own words and nothing more. The learned layer has
            # met them mostly in warning-sign messages, which all say them too, but nothing here describes a sign.
            # (Longer messages of the subject's words are often questions about the safety entries themselves:
            # "when should I see a doctor about my back instead of a massage".)
            prediction = prediction.without(safety)
        return decide(lexical, prediction, english, self.thresholds, safety)

    def _clause_says_safety(self, text: str) -> bool:
        """True when a statement of the message that the rules flag, read alone, is plainly a safety matter to the
        learned layer: "probably nothing, but I've wet myself a couple of times since the back thing started.
        Anyway, is Swedish or deep tissue better?" reads, whole, as a question about kinds of massage."""
        assert self.learned is not None
        clauses = self.lexical.safety.clauses(text)
        if len(clauses) < 2:
            return False  # the whole message, which the caller has read
        for clause in clauses:
            if self.lexical.safety.check(normalise(clause)) is None:
                continue
            prediction = self.learned.predict(clause, top=len(self.learned.labels))
            if _safety_p(prediction, self.faq.roles.safety_entries) >= self.thresholds.veto_clause_safety:
                return True
        return False

    def _reread(self, lexical: MatchResult, rest: str) -> MatchResult:
        """The lexical matcher's reading of what is left of a message, shown as the whole; the first reading
        stands if the rest raises a warning sign of its own."""
        again = self.lexical.match(rest)
        return lexical if again.safety_reason is not None else replace(again, query=lexical.query)

    def _rest_reading(self, rest: str) -> Prediction:
        """The learned layer's reading of what the rules left of a message once they set a sign aside. Its safety
        opinion stands only where it is sure of it: the sign the rules set aside is gone from `rest`, so a sure
        safety reading is another sign the rules do not know ("no numbness, no fever. The only thing is it hurts
        just as much lying still in bed"), or one they set aside wrongly ("the kids brought impetigo home and
        I've got a patch of it")."""
        assert self.learned is not None
        prediction = self.learned.predict(rest)
        if prediction.best in self.faq.roles.safety_entries and prediction.confidence >= self.thresholds.rest_safety:
            return prediction
        return prediction.without(self.faq.roles.safety_entries)

    def _overruled(self, text: str, flagged: MatchResult) -> MatchResult | None:
        """The learned layer's reading of a short message the rules flagged, where it is sure the message is about
        something else and sees no safety in it; None (the rules stand) otherwise. The reason stays as a caveat."""
        t = self.thresholds
        if self.learned is None or len(text.split()) > t.veto_words:
            return None
        if flagged.entry_id is None or flagged.safety_reason is None:
            return None
        if not language.is_english(text, self.lexical.vocabulary):
            return None
        prediction = self.learned.predict(text, top=len(self.learned.labels))  # every label: no safety p hidden
        roles = self.faq.roles
        safety_p = _safety_p(prediction, roles.safety_entries)
        best = prediction.best
        caveat = SafetyFlag(flagged.entry_id, flagged.safety_reason)
        if (
            flagged.entry_id == roles.contraindications
            and best == OFF_TOPIC
            and safety_p < t.veto_off_subject_safety
            and not self.lexical.names_the_subject(text)
        ):
            return replace(_decline(flagged), score=0.0, caveat=caveat)
        if safety_p >= t.veto_safety or best in roles.safety_entries:
            return None
        if prediction.confidence < t.veto_confidence:
            return None
        if self._clause_says_safety(text):
            return None
        if best == OFF_TOPIC:
            return replace(_decline(flagged), score=0.0, caveat=caveat)
        if not self.lexical.rank(text, 1):
            # The learned layer alone reads an entry where the lexical matcher finds none at all: "how long does
            # numbness in my legs last" is framed like "how long does a session last", and nothing of it is about the
            # first session. Where the lexical matcher sees an entry too ("what should I wear to my first massage"),
            # the sign may be a word in passing.
            return None
        return MatchResult(flagged.query, "answer", best, round(100 * prediction.confidence, 1), caveat=caveat)

    def rank(self, text: str, limit: int = 10) -> list[str]:
        """Return entry ids that could answer `text`, best first (for inline mode); never raises."""
        ids = self.lexical.rank(text, limit)
        if self.learned is not None:
            learned = [i for i, p in _entries(self.learned.predict(text, top=limit)) if p >= self.thresholds.suggest]
            ids = list(dict.fromkeys([*learned[:2], *ids, *learned]))
        return ids[:limit]


def _sureness(prediction: Prediction) -> float:
    return prediction.confidence


def _safety_p(prediction: Prediction, safety: tuple[str, str]) -> float:
    """The learned layer's probability for the likelier of the two safety entries."""
    return max(prediction.prob(label) for label in safety)


def _entries(prediction: Prediction) -> list[tuple[str, float]]:
    return [(label, p) for label, p in zip(prediction.labels, prediction.probs, strict=True) if label != OFF_TOPIC]


def _decline(lexical: MatchResult) -> MatchResult:
    return MatchResult(lexical.query, "none", None, lexical.score)


# The reasons the learned layer gives for a safety answer. The reply reads "You mentioned <reason>", so each is
# a phrase that fits there: the layer knows the message resembles warning signs, not which sign it names.
LEARNED_WARNING = "something that can be a warning sign"
LEARNED_CONTRA = "something that calls for care"
UNCLEAR_SYMPTOM = "a symptom I can't judge"


def decide(
    lexical: MatchResult, prediction: Prediction, english: bool, t: Thresholds, safety: tuple[str, str]
) -> MatchResult:
    """Combine the lexical result (no rule-based warning sign in it) with the learned prediction.

    `safety` names the FAQ's warning-sign entry and its contraindications entry (`faq.roles`).
    """
    shown = lexical.query
    warning_signs = safety[0]
    best, confidence = prediction.best, prediction.confidence
    safety_p = _safety_p(prediction, safety)
    # Likelier a safety matter than anything else: the best label is a safety entry, and the two together reach
    # the threshold (they split on "is this a warning sign or a reason to avoid massage?").
    if best in safety and sum(prediction.prob(label) for label in safety) >= t.safety:
        if lexical.tier == "answer" and lexical.entry_id in safety and lexical.score >= t.lexical_strong:
            # A question about the safety entries themselves ("who should not get a massage"), which both layers
            # read as one of them: the answer the lexical matcher is sure of, without telling the person they
            # mentioned a warning sign. (The learned layer reads the two alike; "is there a list of conditions
            # where massage is a bad idea, or where I should check with my GP first" names both.)
            return lexical
        # The learned second opinion: a warning sign in words the rules do not know.
        reason = LEARNED_WARNING if best == warning_signs else LEARNED_CONTRA
        return MatchResult(shown, "answer", best, round(100 * confidence, 1), safety_reason=reason)
    if not english:
        return replace(_decline(lexical), english=False)
    if best == OFF_TOPIC and (
        confidence >= t.off_topic_sure or (confidence >= t.off_topic and lexical.score < t.lexical_strong)
    ):
        return _decline(lexical)
    lexical_answer = lexical.tier == "answer" and lexical.entry_id is not None
    if lexical_answer and (best == lexical.entry_id or prediction.prob(lexical.entry_id or "") >= t.agree):
        return lexical
    # Only a decline the lexical matcher is sure of (an off-topic word, no word of the subject: score 0) asks more
    # of the learned layer; a message it merely scored low on is the learned layer's to read.
    declined = lexical.tier == "none"
    sure_decline = declined and lexical.score <= 0.0
    if best != OFF_TOPIC and confidence >= (t.over_decline if sure_decline else t.answer):
        return MatchResult(shown, "answer", best, round(100 * confidence, 1))
    if lexical_answer and lexical.score >= t.lexical_strong:
        return lexical
    if declined and confidence < t.over_decline and safety_p < t.safety:
        return _decline(lexical)
    if not lexical_answer and (best in safety or (safety_p >= t.suggest and best != OFF_TOPIC)):
        # Someone describing a symptom that nothing recognises with confidence: the doctor, not a guess. Where the
        # lexical matcher answers (a question about bathing before a session), a middling safety guess is no symptom.
        entry = best if best in safety else warning_signs
        return MatchResult(shown, "answer", entry, round(100 * safety_p, 1), safety_reason=UNCLEAR_SYMPTOM)
    candidates = [label for label, p in _entries(prediction) if p >= t.suggest]
    if lexical.entry_id is not None and lexical.score >= SUGGEST_SCORE:
        candidates.append(lexical.entry_id)
    candidates = list(dict.fromkeys(candidates))[:3]
    if best == OFF_TOPIC and confidence >= t.off_topic:
        return _decline(lexical)
    if len(candidates) >= 2 or (candidates and (lexical.score >= ANSWER_SCORE or confidence >= t.suggest)):
        return MatchResult(shown, "suggest", candidates[0], round(100 * confidence, 1), suggestions=tuple(candidates))
    return _decline(lexical)

