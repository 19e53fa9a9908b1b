"""Tests for faq.safety and its place in matching: warning signs always get the safety answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from faq import safety
from faq.loader import FaqError, load_faq, parse_faq
from faq.matcher import Matcher
from faq.models import DEFAULT_FAQ_PATH, Faq
from faq.text import normalise

SHIPPED_RULES = safety.SafetyRules.for_faq(load_faq())  # the shipped FAQ's rules, compiled once
RED_FLAGS = {
    "numbness": [
        "my leg has gone numb since my back started hurting",
        "numbness in my foot and lower back pain",
        "i have tingling down my left leg",
        "pins and needles in my feet with back ache",
        "i can't feel my toes and my back hurts",
    ],
    "weakness in the legs": [
        "my legs feel weak since my back pain started",
        "weakness in my legs and a sore back",
        "my knees keep buckling and my back hurts",
        "my leg gives way when i walk",
        "my legs are getting weaker",
    ],
    "loss of bladder or bowel control": [
        "i lost control of my bladder and my back hurts",
        "trouble controlling my bowels since my back went out",
        "i wet myself this morning and my lower back is killing me",
        "incontinence and back pain",
        "i can't hold my pee since the back pain started",
    ],
    "fever": [
        "i have a fever and back pain",
        "back pain with a high temperature",
        "feverish and my back aches",
        "i've got chills and a sore back",
    ],
    "recent fall or accident": [
        "i fell down the stairs yesterday and my back hurts",
        "back pain after a car accident",
        "i had a bad fall last week",
        "i was in a car crash and now my back is sore",
        "whiplash from a collision",
        "i got hit by a car last month and my back still hurts",
    ],
    "unexplained weight loss": [
        "unexplained weight loss and back ache",
        "i've lost a lot of weight without trying and my back hurts",
        "i lost 10 kg without dieting and my back hurts",
        "losing weight for no reason plus lower back pain",
    ],
    "chest pain": [
        "chest pain and back pain",
        "my chest hurts and my upper back aches",
        "pain in my chest going into my back",
        "tightness in my chest and back pain",
    ],
    "severe or worsening pain": [
        "my back pain is getting worse every day",
        "the pain is unbearable",
        "severe back pain",
        "excruciating lower back pain",
        "my back pain keeps getting worse and worse",
        "my back hurts more and more each day",
    ],
}
RED_FLAG_CASES = [(sign, text) for sign, texts in RED_FLAGS.items() for text in texts]
MASSAGE_QUESTIONS = ["how much does a massage cost", "can a massage help my back", "how often should i get a massage"]

CONTRAINDICATIONS = {
    "pregnancy": [
        "i'm pregnant, can i get a back massage",
        "is massage safe during pregnancy",
        "massage in the third trimester",
    ],
    "blood clots": [
        "i had a blood clot last year, can i have a massage",
        "i have dvt, is massage safe",
        "history of deep vein thrombosis and back pain",
    ],
    "blood thinners": [
        "i'm on blood thinners, is massage ok",
        "i take warfarin, can i have a back massage",
        "can i get a massage on anticoagulants",
    ],
    "open wounds": [
        "i have a cut on my back that hasn't healed, can they massage around it",
        "is massage ok with an unhealed graze",
    ],
    "fractures": [
        "i have a fractured vertebra, can i get a massage",
        "i broke my rib last month, is massage safe",
        "massage with a broken bone in my back",
    ],
}
CONTRAINDICATION_CASES = [(kind, text) for kind, texts in CONTRAINDICATIONS.items() for text in texts]

# How people put warning signs in their own words; each must still reach its safety entry.
EVERYDAY_WORDING = [
    ("see-a-doctor", "lost feeling in my foot, can massage help my back"),
    ("see-a-doctor", "i keep tripping because my foot drags, back pain too"),
    ("see-a-doctor", "i can barely walk because of my back"),
    ("see-a-doctor", "having trouble peeing and my lower back hurts"),
    ("see-a-doctor", "i feel hot and cold and my back hurts"),
    ("see-a-doctor", "came off my bike yesterday and my back hurts"),
    ("see-a-doctor", "got rear-ended last week, back is stiff now"),
    ("see-a-doctor", "dropped a lot of weight without trying, back pain"),
    ("see-a-doctor", "short of breath and my upper back hurts"),
    ("see-a-doctor", "my back is in agony, can massage fix it"),
    ("see-a-doctor", "i cant lift my foot properly and my back aches"),
    ("see-a-doctor", "burning up and my back hurts, massage?"),
    ("see-a-doctor", "took a tumble down the steps, back is sore"),
    ("see-a-doctor", "pain in my upper back and down my left arm"),
    ("see-a-doctor", "worst back pain of my life, will a massage help"),
    ("see-a-doctor", "i cant get out of bed with this back"),
    ("contraindications", "im expecting, can i have a back massage"),
    ("contraindications", "i have low bone density, is massage safe"),
    ("contraindications", "bad sunburn on my back, can i still get a massage"),
    ("contraindications", "my calf is swollen and my back hurts, massage ok?"),
    ("contraindications", "baby on the way, massage for back pain?"),
    ("contraindications", "on rivaroxaban, is deep tissue ok"),
    ("contraindications", "cracked a rib a few weeks back, fine to have my back massaged?"),
    ("contraindications", "i have cellulitis, massage ok?"),
    ("contraindications", "i have varicose veins, is leg massage ok"),
    ("see-a-doctor", "i had back surgery in march, is massage ok now"),
    ("contraindications", "having an operation on my spine next week, massage before that?"),
    ("contraindications", "my op was three weeks ago, can i get a massage"),
]

NEGATED = [
    "no fever, just a stiff back",
    "i can't fall asleep because of my back",
    "can massage help me fall asleep",
    "i don't have numbness, just an ache",
    "my back hurts but no injury or accident",
    "without any fever or chills, is a massage fine",
    "i have not had a fall, just tight muscles",
    "the pain isn't getting worse, can i get a massage",
    "is massage a way to avoid surgery on my back",
    "could massage be an alternative to an operation",
    "i would rather not have an operation or swallow tablets, is massage another way",
    "the family wants something that doesnt mean more drugs or an operation",
    "how does money circulation affect inflation",
    "that sounds like a lot, is massage enough on its own",
    "what's the right number of sessions",
    "what's the right numbr of sessions",
]


@pytest.mark.parametrize(("sign", "message"), RED_FLAG_CASES)
def test_red_flags_get_see_a_doctor(matcher: Matcher, sign: str, message: str) -> None:
    """Each warning sign, in several phrasings, is answered with see-a-doctor and a reason."""
    result = matcher.match(message)

    assert (result.tier, result.entry_id, result.score) == ("answer", "see-a-doctor", 100.0)
    assert result.safety_reason is not None


@pytest.mark.parametrize(("sign", "message"), RED_FLAG_CASES[::2])
@pytest.mark.parametrize("question", MASSAGE_QUESTIONS)
def test_red_flags_win_over_a_massage_question(matcher: Matcher, sign: str, message: str, question: str) -> None:
    """A warning sign mixed with an ordinary massage question still gets see-a-doctor."""
    for text in (f"{message}, {question}?", f"{question}? {message}"):
        result = matcher.match(text)
        assert (result.tier, result.entry_id) == ("answer", "see-a-doctor"), text


def test_the_other_topic_of_a_red_flag_message_is_kept(matcher: Matcher) -> None:
    """With a warning sign, the entry the message would otherwise match is kept in `also`."""
    result = matcher.match("i have a fever, how much does a massage cost")

    assert (result.entry_id, result.safety_reason, result.also) == ("see-a-doctor", "fever", "cost")


@pytest.mark.parametrize(
    "message", ["i fell down the stairs and my back hurts", "back pain with a fever", "severe back pain, worse daily"]
)
def test_no_other_topic_is_kept_when_none_would_be_answered(matcher: Matcher, message: str) -> None:
    """`also` stays empty when the next entry's own score would not earn an answer."""
    result = matcher.match(message)

    assert (result.entry_id, result.also) == ("see-a-doctor", None)


@pytest.mark.parametrize(("kind", "message"), CONTRAINDICATION_CASES)
def test_contraindications_get_the_safety_entry(matcher: Matcher, kind: str, message: str) -> None:
    """Pregnancy, blood clots, blood thinners and fractures are answered with contraindications."""
    result = matcher.match(message)

    assert (result.tier, result.entry_id) == ("answer", "contraindications")
    assert result.safety_reason is not None


@pytest.mark.parametrize(("entry_id", "message"), EVERYDAY_WORDING)
def test_warning_signs_in_everyday_words_get_the_safety_entry(matcher: Matcher, entry_id: str, message: str) -> None:
    """'my foot drags', 'came off my bike', 'baby on the way' are caught as surely as the textbook words."""
    result = matcher.match(message)

    assert (result.tier, result.entry_id) == ("answer", entry_id)
    assert result.safety_reason is not None


def test_red_flags_outrank_contraindications(matcher: Matcher) -> None:
    """A message with both a warning sign and a contraindication gets see-a-doctor."""
    result = matcher.match("i'm pregnant and have had a fever since yesterday")

    assert (result.entry_id, result.safety_reason) == ("see-a-doctor", "fever")


@pytest.mark.parametrize("message", NEGATED)
def test_negations_and_look_alikes_do_not_raise_a_flag(matcher: Matcher, message: str) -> None:
    """'no fever', 'can't fall asleep', 'number of sessions' and the like raise no safety flag."""
    assert safety.check(normalise(message)) is None
    assert matcher.match(message).safety_reason is None


def test_a_negation_only_covers_the_words_right_after_it() -> None:
    """A symptom further on in a message still raises the flag after an unrelated 'no'."""
    flag = safety.check(normalise("no idea why but since the car accident my back hurts"))

    assert flag is not None
    assert flag.entry_id == safety.SEE_A_DOCTOR


def test_a_typo_fix_cannot_hide_a_warning_sign(matcher: Matcher) -> None:
    """The check also reads the message as typed, so correcting 'weaker' or 'losing' to other words hides nothing."""
    for message in ("my legs are getting weaker", "losing weight for no reason"):
        assert matcher.match(message).safety_reason is not None


def test_check_returns_none_for_ordinary_questions() -> None:
    """Ordinary massage questions raise no flag."""
    for message in ("is massage expensive", "can massage help me sleep", "how do i choose a therapist"):
        assert safety.check(normalise(message)) is None


# ------------------------------------------------------------------------- context, read from the FAQ's data


@pytest.mark.parametrize(
    "message",
    [
        "nothing serious, no fall, but both legs tingle since Monday",
        "no fever and my legs have gone numb",
        "no numbness or anything, I just fell off my bike and my back aches",
        "pins and needles in both feet that won't go away, and my back is stiff",
        "my dog knocked me over and now my back really hurts",
        "my mum is pregnant, can she have a back massage",
        "I had cancer ten years ago, is massage ok for my back now",
        "the pain settled down but now both my legs are numb",
    ],
)
def test_context_that_does_not_cancel_a_warning_sign(matcher: Matcher, message: str) -> None:
    """A negation whose scope ended, a symptom that stays, the user in the event, another person's care and a
    past that counts still raise the flag."""
    result = matcher.match(message)
    assert result.safety_reason is not None, result


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("no numbness, no fever, just a stiff lower back from gardening", "negated"),
        ("the pain isn't getting worse, can i get a massage", "negated"),
        ("my leg went numb on the bus but it went away once I stood up", "passed"),
        ("my leg went numb from sitting cross-legged but it went away once I stood up", "explained"),
        ("broke my wrist 10 years ago, totally healed", "passed"),
        ("my horse fell over at a jump last week", "not the user"),
        ("my cat fell off the shelf and is limping a bit", "not the user"),
        ("my uncle was just diagnosed with lung cancer, how do I support him", "someone else"),
        ("I nearly had a heart attack at the price of a deep tissue massage", "ordinary use"),
        ("why do we say on pins and needles", "ordinary use"),
        ("I feel emotionally numb from work stress", "ordinary use"),
    ],
)
def test_context_sets_a_concept_aside(matcher: Matcher, message: str, why: str) -> None:
    """Negation, a symptom that passed or that a harmless cause explains, an animal or another person, and
    figurative use raise no flag, and the reading says which context set the concept aside."""
    reading = matcher.safety.read(normalise(message))
    assert reading.flag is None
    assert why in [w for _, w in reading.set_aside]
    assert matcher.match(message).safety_reason is None


def test_the_concepts_are_data_in_the_faq_file(faq: Faq, tmp_path: Path) -> None:
    """A concept added to the FAQ file's safety section is caught, with its reason, in a message."""
    text = DEFAULT_FAQ_PATH.read_text(encoding="utf-8").replace(
        "  concepts:\n",
        "  concepts:\n    - id: hiccups\n      role: warning_signs\n      reason: endless hiccups\n"
        "      says: [hiccup* ... for days|weeks]\n",
        1,
    )
    edited = parse_faq(text, tmp_path / "faq.yaml")
    result = Matcher(edited).match("I have had hiccups for days and my back hurts")
    assert (result.entry_id, result.safety_reason) == (edited.roles.warning_signs, "endless hiccups")
    assert Matcher(faq).match("I have had hiccups for days and my back hurts").safety_reason is None


def test_a_bad_safety_section_is_refused_naming_the_concept(tmp_path: Path) -> None:
    """A phrasing outside the syntax and an unknown role are load errors that name the concept and field."""
    text = DEFAULT_FAQ_PATH.read_text(encoding="utf-8").replace(
        "  concepts:\n",
        "  concepts:\n    - id: broken-one\n      role: emergencies\n      reason: something\n"
        "      says: ['numb (arm)']\n",
        1,
    )
    with pytest.raises(FaqError) as caught:
        parse_faq(text, tmp_path / "faq.yaml")
    errors = "\n".join(caught.value.errors)
    assert "safety concept 'broken-one': field 'role' must be one of warning_signs, contraindications" in errors
    assert "safety concept 'broken-one': field 'says': 'numb (arm)'" in errors


@pytest.mark.parametrize(
    "message",
    [
        "bladder fine, bowels fine, just a tight lower back after moving house. is massage a good idea?",
        "my bowels are normal and my back is stiff, would a massage help",
        "my wife is pregnant so I'm doing all the heavy lifting now and my back is sore, tips for lifting?",
        "my dog's back legs are getting weak, can I massage him?",
        "a broken ankle years back that healed fine, could that be why my back hurts now?",
    ],
)
def test_a_concept_denied_after_it_or_about_someone_else_raises_no_flag(matcher: Matcher, message: str) -> None:
    """'bladder fine', a pregnant wife before 'so I'm…', a dog's weak legs before 'can I' and a fracture that
    healed are no warning sign of the user's."""
    assert safety.check(normalise(message)) is None
    assert matcher.match(message).entry_id not in (safety.SEE_A_DOCTOR, safety.CONTRAINDICATIONS)


@pytest.mark.parametrize(
    "message",
    [
        "my bladder is fine but my legs are numb",
        "my leg is numb, is it ok to get a massage",
        "the shelf fell on me and now my back hurts",
        "my dog knocked me over yesterday and my back hurts",
        "my wound hasnt healed, can i still get a massage",
        "my wife is pregnant, can she get a back massage",
    ],
)
def test_the_users_own_warning_sign_still_raises_its_flag_beside_those_cues(message: str) -> None:
    """A denial ends at 'but', 'is it ok' denies nothing, the user hit by a falling thing counts, a wound that
    has not healed counts, and a pregnant wife asking about her own massage gets the safety answer."""
    assert safety.check(normalise(message)) is not None


def test_a_fall_in_a_place_is_a_fall() -> None:
    """'a fall in the bathroom' is a fall (not 'fall in love'), for the user or a parent they ask about."""
    assert safety.check(normalise("i had a fall in the garden yesterday and my back hurts")) is not None
    mum = "Mum had a fall in the bathroom on Sunday and her back hurts. Can I give her a little massage?"
    assert safety.check(normalise(mum)) is not None


def test_feeling_as_if_hit_by_a_bus_is_a_figure_of_speech_being_hit_is_not() -> None:
    """'feel like I've been hit by a bus' the day after a massage is soreness; 'I got hit by a car' is trauma."""
    assert safety.check(normalise("had one yesterday and feel like I've been hit by a bus, is that normal")) is None
    assert safety.check(normalise("today I feel like I got hit by a truck")) is None
    assert safety.check(normalise("i got hit by a car last week and my back hurts")) is not None


@pytest.mark.parametrize(
    "message",
    [
        "my husband is on warfarin, I'm not sure if he can have a massage",
        "I'm a teacher on blood thinners, is a massage ok?",
        "I'm a student and my legs went numb again this morning",
        "had tingling in my feet, it was gone for a week but it came back again",
        "my wife fell on the ice and I'm not ok either, my back is killing me after I fell too",
    ],
)
def test_the_cues_for_others_and_for_the_past_do_not_hide_the_users_own_sign(message: str) -> None:
    """'I'm not sure' disowns nothing, a person the user says they are ('I'm a teacher') is the user, and a
    symptom that came back counts."""
    assert safety.check(normalise(message)) is not None


@pytest.mark.parametrize(
    "message",
    [
        "I volunteer at a cancer charity shop and lift boxes all day, how should I lift?",
        "I fell head over heels for shiatsu, how often can I go?",
        "I love to feel the burn at the gym, does massage help recovery?",
        "my star sign is cancer, does that matter for massage lol",
        "I'm an oncology nurse and stand all day, is massage good for my back?",
    ],
)
def test_a_concepts_words_in_a_job_a_charity_or_an_idiom_raise_no_flag(message: str) -> None:
    """A cancer charity, an oncology nurse, 'head over heels', 'feel the burn' and a star sign are no warning
    sign."""
    assert safety.check(normalise(message)) is None


def test_a_charity_or_an_idiom_beside_the_users_own_sign_still_flags() -> None:
    """The user's own cancer, or their own fall, still counts beside a charity or an idiom."""
    assert safety.check(normalise("I had cancer two years ago and now I run for a cancer charity")) is not None
    assert safety.check(normalise("I fell head over heels down the stairs yesterday")) is not None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("didn't make it to the loo in time twice this week and my back hurts", "loss of bladder or bowel control"),
        ("my foot feels like cotton wool and I can't feel the floor", "numbness or tingling"),
        ("my left foot flops when I walk and I keep catching my toes", "weakness in the legs"),
        ("had the big c a few years back, is massage ok", "cancer history"),
        ("I'm 20 weeks along and my back aches", "pregnancy"),
        ("I had my hip replaced three weeks ago, can I book a massage", "recent surgery"),
        ("I bruise easily and nosebleeds won't stop for ages", "a bleeding disorder"),
        ("my back pain wakes me up in the night and is worse lying down", "severe or worsening pain"),
        ("my partner says I've got thinner and my jeans are looser, not dieting", "unexplained weight loss"),
        ("my back wakes me up at 4am every night", "severe or worsening pain"),
        ("a crushing feeling in my chest when I climb stairs", "chest pain"),
        ("I had my knee operated on last month", "recent surgery"),
        ("had an accident and didn't even feel I needed to go", "loss of bladder or bowel control"),
    ],
)
def test_warning_signs_in_lay_words_from_the_lexicon_raise_their_flag(message: str, reason: str) -> None:
    """Lay descriptions (the loo in time, cotton wool, a foot that flops, the big c, weeks along, a replaced
    hip, easy bruising, pain that wakes at night) raise the concept's flag, named for the user."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert flag.reason == reason


def test_feeling_beaten_up_after_a_session_is_soreness_being_beaten_up_is_trauma() -> None:
    """'feel like I got beaten up' after deep tissue is a figure of speech; 'I got beaten up' is trauma."""
    assert safety.check(normalise("why do i feel like i got beaten up after my deep tissue session")) is None
    assert safety.check(normalise("i got beaten up on saturday and my back is killing me")) is not None


def test_a_fever_with_a_bug_going_round_is_a_warning_sign_not_just_being_ill() -> None:
    """A temperature and chills with back pain, put down to a bug, gets see-a-doctor: warning signs come first."""
    flag = safety.check(normalise("back hurts and ive had a temperature and chills, probably a bug going round"))
    assert flag is not None
    assert (flag.entry_id, flag.reason) == (safety.SEE_A_DOCTOR, "fever")


def test_another_persons_concept_is_theirs_unless_the_message_is_about_their_body_or_care() -> None:
    """'her yoga spot' is no question about a pregnant friend's care, 'her back' is; 'for my mum, not me' puts
    the warfarin with the mum."""
    friend = "my friend is pregnant so I'm taking her yoga spot, I just have a stiff back. would massage help?"
    assert safety.check(normalise(friend)) is None
    assert safety.check(normalise("my friend is pregnant and her back is sore, is a massage ok")) is not None
    mum = "the warfarin I pick up every month is for my mum, not me. is deep tissue too intense?"
    assert safety.check(normalise(mum)) is None
    assert safety.check(normalise("the warfarin I take every day makes me bruise, is deep tissue ok")) is not None


@pytest.mark.parametrize(
    "message",
    [
        "my foot went numb from sitting cross legged, anyway how much is a massage",
        "legs felt like jelly after leg day, does massage help tight hamstrings",
        "chest is sore from bench press, would a massage loosen it",
        "I was sweating at night because the heating was on, can massage help me sleep",
    ],
)
def test_a_symptom_explained_by_a_harmless_cause_beside_it_raises_no_flag(message: str) -> None:
    """Numbness from sitting cross-legged, jelly legs after leg day, a sore chest from bench press and night
    sweats from the heating are explained by the causes their concepts list."""
    assert safety.check(normalise(message)) is None


@pytest.mark.parametrize(
    "message",
    [
        "my groin feels numb, like after the dentist",
        "my legs are still weak after leg day last week",
        "my legs have been numb since Monday and I sat cross legged once",
    ],
)
def test_a_likeness_or_a_symptom_that_goes_on_is_not_explained(message: str) -> None:
    """'like after the dentist' is a likeness, 'still weak' goes on, and a cause far from the symptom explains
    nothing."""
    assert safety.check(normalise(message)) is not None


def test_a_bad_harmless_cause_is_refused_naming_the_concept(tmp_path: Path) -> None:
    """An explained_by phrasing that is not in the phrasing syntax is a load error naming the concept."""
    text = DEFAULT_FAQ_PATH.read_text(encoding="utf-8").replace(
        "explained_by: [from|after sitting cross legged,", "explained_by: [from (sitting),", 1
    )
    with pytest.raises(FaqError) as caught:
        parse_faq(text, DEFAULT_FAQ_PATH)
    assert "safety concept 'numbness': field 'explained_by'" in str(caught.value)


def test_a_concept_on_a_thing_or_as_a_topic_raises_no_flag_on_the_user_it_does() -> None:
    """A burn on a laptop, cancer trial data and a brain gone numb at a desk are no sign of the user's; a burn
    on the user's arm, and their own cancer, are."""
    assert safety.check(normalise("there is a burn on my laptop lid, does massage help stress")) is None
    assert safety.check(normalise("I analyse cancer trial data for a living, what does research say")) is None
    assert safety.check(normalise("my brain goes numb by 3pm at my desk, how should I sit")) is None
    assert safety.check(normalise("a burn on my arm from the oven, can I get a massage")) is not None
    assert safety.check(normalise("I had cancer and now I analyse trial data")) is not None


@pytest.mark.parametrize(
    "message",
    [
        "I have cancer and back pain, can I get a massage",
        "I had breast cancer and my back hurts",
        "had cancer and chemo last year, massage ok?",
    ],
)
def test_cancer_and_another_word_is_the_users_cancer_not_a_star_sign(message: str) -> None:
    """'cancer and <anything>' was taken for the zodiac ('cancer and leo'); only star signs after it are."""
    assert safety.check(normalise(message)) is not None
    assert safety.check(normalise("is cancer and leo a good match")) is None


@pytest.mark.parametrize(
    "message",
    [
        "had a clot on my lung last year, all settled now, is a back massage ok?",
        "had back surgery three weeks ago, can I book a massage",
        "wake up every night around 2 with my back throbbing, what massage helps",
        "my bum and my privates feel like they're wrapped in cotton wool since my back went",
    ],
)
def test_a_past_clot_recent_surgery_night_pain_and_saddle_numbness_raise_a_flag(message: str) -> None:
    """A clot counts even when it settled ('have or have had blood clots'), surgery weeks ago is recent, and
    waking every night or a numb bottom in lay words are warning signs."""
    assert safety.check(normalise(message)) is not None


@pytest.mark.parametrize(
    "message",
    [
        "had back surgery 15 years ago and been totally fine since, is a relaxing massage a good idea?",
        "fell off my bike when I was 12, nothing since. does massage help back pain?",
        "had chest pain last year, turned out to be heartburn and it's all sorted. is massage good for the heart?",
        "my legs feel weak after a 20km hike, would a sports massage help?",
    ],
)
def test_a_sign_long_past_or_explained_by_a_long_hike_raises_no_flag(message: str) -> None:
    """Surgery '15 years ago' (the passing inside the concept's own words), a fall 'when I was 12', chest pain
    'all sorted' and weak legs after a 20 km hike are no warning sign now."""
    assert safety.check(normalise(message)) is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ("its gone numb down my left leg since this morning", "numbness or tingling"),
        ("when i wipe i cant really feel it, like its gone dead down there", "numbness or tingling"),
        ("a couple of accidents in my pants this week and my back is wrecked", "loss of bladder or bowel control"),
        ("I can't always tell when I need the toilet anymore, and my back hurts", "loss of bladder or bowel control"),
        ("jaw and left arm aching along with my back and I came out in a cold sweat", "chest pain"),
    ],
)
def test_a_sign_that_has_gone_numb_and_more_lay_words_raise_the_right_flag(message: str, reason: str) -> None:
    """'It's gone numb' says what it became, not that it passed; accidents in the pants, not telling when the
    toilet is needed, and jaw and arm pain with a cold sweat (a warning sign before 'being ill') are named."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert flag.reason == reason


@pytest.mark.parametrize(
    "message",
    [
        "My wife's pregnant so I'm doing all the heavy lifting, how do I lift boxes?",
        "my mum's in chemo so I'm her carer and the stress is getting to me",
        "whats the best fracture resistant phone case",
        "had my appendix out back in 2009, what happens at a first session?",
    ],
)
def test_a_possessive_another_persons_concept_a_product_and_an_old_operation_raise_no_flag(message: str) -> None:
    """'my wife's' is another person once normalised ('wifes'), a fracture-resistant case is a product, and an
    operation 'back in 2009' has passed."""
    assert safety.check(normalise(message)) is None


@pytest.mark.parametrize(
    "message",
    [
        "can't always hold my water like I used to, and my back is crook",
        "when I wipe after the loo I can barely feel anything down there",
        "it went from a little niggle to a 9 out of 10 in a week",
        "as soon as I lie down to sleep it throbs and wakes me up",
        "my legs feel heavy and floppy like jelly going up stairs since my back went",
    ],
)
def test_a_comparison_with_the_past_is_no_passing_and_more_lay_words_flag(message: str) -> None:
    """'like I used to' compares with the past, it does not say the symptom passed; barely feeling anything
    down there, a 9 out of 10, pain that wakes and floppy legs are warning signs."""
    assert safety.check(normalise(message)) is not None
    assert safety.check(normalise("I used to wet myself as a kid, I'm fine now")) is None


def test_not_getting_to_the_loo_in_time_flags_being_pregnant_with_excitement_does_not() -> None:
    """'trouble getting to the loo in time' is a bladder warning sign; 'pregnant with excitement' is an idiom,
    while 'pregnant with twins' is a pregnancy."""
    bladder = safety.check(normalise("I've had a little trouble getting to the loo in time lately"))
    assert bladder is not None
    assert bladder.reason == "loss of bladder or bowel control"
    assert safety.check(normalise("im pregnant with excitement for my holiday lol")) is None
    assert safety.check(normalise("I'm pregnant with twins, is a back massage ok?")) is not None


@pytest.mark.parametrize(
    "message",
    [
        "had a disc op three weeks ago, back still tight, thinking of booking a sports massage",
        "lumbar fusion last month, can I get a massage on my back yet",
        "I had a microdiscectomy in October, is deep tissue ok now?",
        "they put rods in my spine in the summer, would massage help the stiffness?",
        "I had surgery on my upper back in May, can I get a massage now",
        "the operation on my spine was a fortnight ago, is a gentle massage ok",
    ],
)
def test_recent_surgery_on_the_back_or_spine_is_a_warning_sign(message: str) -> None:
    """An operation on the spine weeks or months ago needs the surgeon's or doctor's word first: the warning-sign
    answer, not the general 'check first' one that other recent surgery gets."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert (flag.entry_id, flag.reason) == (safety.SEE_A_DOCTOR, "recent surgery on your back or spine")


@pytest.mark.parametrize(
    ("message", "entry_id"),
    [
        ("had my gallbladder out two weeks ago, is a back massage ok", safety.CONTRAINDICATIONS),
        ("my doctor says I might need back surgery down the line, can massage help me avoid it?", None),
        ("had back surgery 15 years ago and been fine since, how often should I get a massage?", None),
        ("I'm booked in for a spinal fusion next month, is a massage before it ok?", safety.CONTRAINDICATIONS),
    ],
)
def test_other_surgery_stays_a_contraindication_and_spine_surgery_one_may_need_one_day_is_none(
    message: str, entry_id: str | None
) -> None:
    """Surgery elsewhere is still the contraindication, as is spine surgery booked for later; back surgery
    someone may need one day, or had long ago, raises no flag."""
    flag = safety.check(normalise(message))
    assert (flag.entry_id if flag else None) == entry_id


def test_an_illness_totally_or_completely_recovered_from_has_passed() -> None:
    """'Had flu in March, completely recovered now' and 'totally recovered' say the illness passed, as 'fully
    recovered' did."""
    assert safety.check(normalise("had flu in march, completely recovered now, is a massage good for my back")) is None
    assert safety.check(normalise("had covid in the summer, totally recovered, how often should I get one")) is None
    assert safety.check(normalise("had flu in march and still not recovered, is a massage ok")) is not None


@pytest.mark.parametrize(
    "message",
    [
        "had sciatica with numb legs years ago, can I still get a massage",
        "had pins and needles in my feet years ago, my nerve tests came back normal, which massage is best",
        "my legs felt weak and wobbly after my first ever marathon, is a sports massage good for that",
    ],
)
def test_a_question_with_still_or_a_result_that_came_back_does_not_undo_a_passing(message: str) -> None:
    """'Can I still get a massage' and 'my tests came back normal' say nothing came back (pseudo_recurred), so a
    sign 'years ago' stays passed; weak legs after 'my first ever marathon' are explained by it."""
    assert safety.check(normalise(message)) is None


@pytest.mark.parametrize(
    "message",
    [
        "my leg went numb yesterday and it is still numb",
        "had numb feet years ago and the numbness came back this week",
    ],
)
def test_a_sign_that_is_still_there_or_came_back_still_flags(message: str) -> None:
    """'Still numb' and 'came back this week' are the sign going on, whatever passed before."""
    assert safety.check(normalise(message)) is not None



@pytest.mark.parametrize(
    ("message", "rest"),
    [
        ("my GP checked me over, no red flags, says it's just muscular. how many sessions do I need?",
         "how many sessions do I need"),
        ("the scan came back normal. which massage is best for a stiff back?",
         "which massage is best for a stiff back"),
        ("nothing serious I think, but I keep dribbling when I stand up", "I keep dribbling when I stand up"),
    ],
)
def test_a_statement_that_a_check_found_nothing_is_read_past(message: str, rest: str) -> None:
    """The statements that a check found nothing ('no red flags', 'the scan came back normal') are dropped clause
    by clause, and what follows a 'but' stays: the rest is what the message asks or tells."""
    assert SHIPPED_RULES.without_cleared(message) == rest


@pytest.mark.parametrize(
    "message", ["is it just muscular? how often should I go", "my back hurts. how often should I go"]
)
def test_a_question_whether_it_is_just_muscular_is_no_statement_that_a_check_found_nothing(message: str) -> None:
    """'Is it just muscular?' asks; nothing is read past, and a message without such a statement is left whole."""
    assert SHIPPED_RULES.without_cleared(message) is None


@pytest.mark.parametrize(
    "message", ["my back hurts after coming off my scooter yesterday", "came off the bike at the weekend"]
)
def test_coming_off_a_bike_or_a_scooter_is_a_fall(message: str) -> None:
    """'Coming off my scooter' is a fall, as 'came off my bike' is."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert flag.reason == "a recent fall or accident"


@pytest.mark.parametrize(
    "message", ["came off the pill last month, can I get a massage", "coming off my meds, massage ok?"]
)
def test_coming_off_the_pill_or_medication_is_no_fall(message: str) -> None:
    """'Came off the pill' stops a medicine; it is not a fall."""
    assert safety.check(normalise(message)) is None


@pytest.mark.parametrize(
    "message",
    [
        "my foot went to sleep from sitting cross legged at yoga, came back after a few seconds. posture tips?",
        "I've deliberately lost 6kg for my wedding and my back feels better, would massage help more?",
        "lost a stone on slimming world this year, how often should I get a massage?",
    ],
)
def test_a_numb_foot_whose_feeling_came_back_or_weight_lost_on_purpose_is_no_warning_sign(message: str) -> None:
    """A foot's feeling that 'came back after a few seconds' passed, and weight lost 'deliberately' or on a
    slimming plan is explained: no flag."""
    assert safety.check(normalise(message)) is None


@pytest.mark.parametrize(
    "message",
    [
        "the numbness in my leg went away but came back after a few days",
        "I lost a stone, not on purpose, and my back aches",
        "been losing weight and I'm not on a diet or anything, back hurts",
        "dropped 5kg since the summer without trying, massage ok?",
        "my leg is numb and not from sitting cross legged",
    ],
)
def test_numbness_that_returned_days_later_or_weight_lost_not_on_purpose_still_flags(message: str) -> None:
    """A numbness back days later came back; weight lost 'not on purpose', or beside a denied cause ('not on a
    diet', 'not from sitting cross legged'), and '5kg' dropped without trying are warning signs."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert flag.entry_id == "see-a-doctor"


@pytest.mark.parametrize(
    ("message", "flags"),
    [
        ("when I was pregnant with my daughter my back ached, she's 4 now. which massage is best?", False),
        ("I was pregnant two years ago and my back never recovered, how often should I go?", False),
        ("I'm pregnant and my back hurts, is massage ok?", True),
    ],
)
def test_a_pregnancy_in_the_past_tense_is_over(message: str, flags: bool) -> None:
    """'When I was pregnant' is over; 'I'm pregnant' is now, and names the contraindication."""
    assert (safety.check(normalise(message)) is not None) is flags


@pytest.mark.parametrize(
    ("message", "rest"),
    [
        ("bloods came back all normal and my GP isnt worried. which massage is best for a tight back?",
         "which massage is best for a tight back"),
        ("my physio is happy with my back, how often should I book a massage?", "how often should I book a massage"),
    ],
)
def test_a_clinician_who_is_not_worried_is_a_check_that_found_nothing(message: str, rest: str) -> None:
    """'My GP isn't worried', 'my physio is happy' are checks that found nothing: read past them."""
    assert SHIPPED_RULES.without_cleared(message) == rest


@pytest.mark.parametrize(
    "message", ["I'm on apixaban, okay for a back massage?", "on warfarin, ok to have a deep tissue massage?"]
)
def test_a_blood_thinner_followed_by_ok_to_asks_and_is_not_denied(message: str) -> None:
    """'On warfarin, ok to have a massage?' asks whether it is fine; only 'bladder fine, bowels normal' denies."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert flag.reason == "blood thinners"


@pytest.mark.parametrize(
    "message",
    [
        "since my back flared up I can't always hold it in when I need a poo, would a massage help",
        "my back is worse when I'm lying still than when I'm walking about, odd right?",
        "resting in bed actually makes it worse, moving helps. massage?",
    ],
)
def test_losing_bowel_control_and_pain_worse_at_rest_in_everyday_words_flag(message: str) -> None:
    """'Can't always hold it in when I need a poo' is bowel control; pain 'worse when I'm lying still' or made
    worse by rest is pain at rest: both warning signs."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert flag.entry_id == "see-a-doctor"


@pytest.mark.parametrize(
    "message",
    [
        "Nan here, 81. Went down hard on the bathroom floor on Tuesday and my back has been awful since. Massage?",
        "dad here, tripped over the dog yesterday and landed on my back. can a massage help?",
    ],
)
def test_a_user_who_introduces_themself_as_someone_is_the_user(message: str) -> None:
    """'Nan here' is the user saying who they are, not another person: her fall is a warning sign."""
    flag = safety.check(normalise(message))
    assert flag is not None
    assert flag.reason == "a recent fall or accident"
