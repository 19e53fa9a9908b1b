"""The red-flag check: runs before matching, so symptoms that need a doctor are never answered with a tip.

Patterns work on normalised text (see `faq.text.normalise`) and are deliberately broad: a false alarm
costs a user one extra sentence, a miss could cost far more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

SEE_A_DOCTOR = "see-a-doctor"
CONTRAINDICATIONS = "contraindications"
SafetyEntry = Literal["see-a-doctor", "contraindications"]

# A negation just before a symptom ("no injury", "without fever") does not raise the flag, nor does one
# before a pair of them ("no injury or accident", "without any fever or chills"), nor a wish to do without
# ("to avoid surgery", "instead of an operation").
_NEGATION = re.compile(
    r"\b(?:no|not|never|without|dont|didnt|havent|hasnt|isnt|nor|avoid|avoiding|instead of|rather than"
    r"|alternative to|alternatives to)\s+(?:\w+\s+)?(?:\w+\s+(?:or|nor)\s+(?:\w+\s+)?)?$"
)


@dataclass(frozen=True, slots=True)
class SafetyFlag:
    """Why a message was routed to a safety entry."""

    entry_id: SafetyEntry
    reason: str


def _p(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


RED_FLAGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "numbness or tingling",
        _p(  # not "number"
            r"numb(?!e?r)\w*",
            r"tingl\w*",
            r"pins and needles",
            r"no feeling in",
            r"cant feel my",
            r"lost (?:the |all )?feeling",
            r"no sensation",
            r"dead leg",
        ),
    ),
    (
        "weakness in the legs",
        _p(
            r"(?:leg|legs|foot|feet|knee|knees)\s+(?:\w+\s+){0,3}(?:weak|weaker|wobbly|buckl\w*|giv\w* (?:out|way))",
            r"weak\w*\s+(?:\w+\s+){0,2}(?:leg|legs|foot|feet|knees)",
            r"foot drop",
            r"(?:foot|leg) (?:\w+ )?drag\w*",
            r"drag\w* my (?:foot|leg)",
            r"cant lift my (?:foot|leg|toes)",
            r"cant (?:walk|stand)",
            r"(?:barely|hardly|struggl\w* to|trouble|difficulty|problems?) walk\w*",
        ),
    ),
    (
        "loss of bladder or bowel control",
        _p(
            r"bladder",
            r"bowel\w*",
            r"incontinen\w*",
            r"(?:wet|peed|pooped|soiled) (?:myself|my pants|the bed)",
            r"cant (?:control|hold) (?:my )?(?:pee|poo|poop|urine|wee)",
            r"(?:cant|trouble|difficulty|problems?|struggl\w* to) (?:\w+ ){0,2}(?:pee|peeing|urinat\w*|wee|weeing)",
            r"leak\w* (?:\w+\s+){0,3}(?:pee|urine|wee|poo|poop)",
            r"(?:pee|peeing|urine|wee|poo|poop)\w* (?:\w+\s+){0,2}(?:leak\w*|accident\w*|by accident|myself)",
            r"saddle",
            r"groin",
        ),
    ),
    (
        "fever",
        _p(
            r"fever\w*",
            r"feverish",
            r"(?:high|running a|have a|got a|with a) (?:high )?temp(?:erature)?",
            r"chills",
            r"night sweats",
            r"shiver\w*",
            r"burning up",
            r"temp(?:erature)? of \d+",
            r"sweat\w* (?:at|in the|during the) night",
            r"hot and cold",
        ),
    ),
    (
        "a recent fall or accident",
        _p(
            r"(?:i|we|just|recently)\s+fell(?! asleep)",
            r"fell (?:down|off|over|from|on)",
            r"(?:a|bad|the) fall\b(?! asleep)",
            r"accident",
            r"(?:car|bike|motorbike|motorcycle|cycling|ski|skiing) crash\w*",
            r"crash\w* (?:my|into|the|a)",
            r"slipp\w* (?:on|off|down|and)",
            r"tripp\w* (?:on|over|and)",
            r"landed (?:\w+\s+){0,2}(?:on|flat)",
            r"collision",
            r"whiplash",
            r"came off (?:my|a|the) \w+",
            r"rear ended",
            r"tackled",
            r"tumble",
            r"hit (?:my back|the ground|the floor)",
            r"(?:car|bike) wreck",
            r"fender bender",
            r"knocked (?:\w+ )?(?:down|over|off)",
            r"hit by",
            r"trauma",
        ),
    ),
    (
        "unexplained weight loss",
        _p(
            r"weight loss",
            r"los(?:t|ing|e) (?:\w+\s+){0,3}(?:\d+\s*)?(?:weight|kg|kgs|kilos?|pounds|lbs|stone)",
            r"dropp\w* (?:\w+\s+){0,3}(?:\d+\s*)?(?:weight|kg|kilos?|pounds|lbs)",
        ),
    ),
    (
        "chest pain",
        _p(
            r"chest\s+(?:\w+\s+){0,3}(?:pain|pains|ache|aching|tight\w*|pressure|hurts?|hurting)",
            r"(?:pain|ache|aching|tight\w*|crush\w*|pressure|heav\w*|squeez\w*)\s+(?:\w+\s+){0,4}chest",
            r"short(?:ness)? of breath",
            r"breathless\w*",
            r"(?:pain|ache|aching|hurts?)\s+(?:\w+\s+){0,8}left arm",
            r"left arm (?:\w+ ){0,3}(?:pain|ache|aching|hurts?)",
            r"(?:cant|struggl\w* to|hard to|trouble) (?:catch my )?breath\w*",
        ),
    ),
    (
        "severe or worsening pain",
        _p(
            r"getting worse",
            r"gets worse",
            r"worse (?:and worse|every|each|by the)",
            r"more and more",
            r"worsening",
            r"unbearable",
            r"excruciating",
            r"agon(?:y|i\w*)",
            r"severe",
            r"worst (?:\w+ ){0,2}pain",
            r"10 out of 10",
            r"cant get out of bed",
            r"(?:crying|scream\w*) (?:in|from|with) (?:the )?pain",
            r"cant (?:sleep|move|get up) (?:\w+\s+){0,2}(?:pain|hurts?)",
            r"nothing helps",
        ),
    ),
    ("cancer history", _p(r"cancer", r"tumou?r")),
)

CONTRAINDICATION_FLAGS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "pregnancy",
        _p(
            r"pregnan\w*",
            r"expecting a baby",
            r"(?:im|i am|were|we are|shes|she is) expecting",
            r"baby on the way",
            r"weeks (?:along|gone)",
            r"trimester",
        ),
    ),
    (
        "blood clots",
        _p(
            r"blood clots?",
            r"clots?",
            r"clotting",
            r"dvt",
            r"thrombo\w*",
            r"embolism",
            r"swollen (?:calf|leg)",
            r"(?:calf|leg) (?:is |feels |looks )?swollen",
        ),
    ),
    (
        "blood thinners",
        _p(
            r"blood thinn\w*",
            r"thinners",
            r"anticoagula\w*",
            r"warfarin",
            r"coumadin",
            r"heparin",
            r"eliquis",
            r"apixaban",
            r"xarelto",
            r"rivaroxaban",
            r"dabigatran",
            r"clopidogrel",
            r"plavix",
        ),
    ),
    (
        "a fracture",
        _p(
            r"fractur\w*",
            r"broken (?:bone|bones|rib|ribs|back|spine|vertebra\w*|leg|arm|hip|wrist|pelvis|collarbone)",
            r"broke my \w+",
            r"crack\w* (?:\w+ ){0,2}(?:bone|bones|rib|ribs|vertebra\w*|spine|hip|wrist|pelvis|collarbone)",
            r"hairline",
        ),
    ),
    ("osteoporosis", _p(r"osteoporo\w*", r"osteopenia", r"brittle bones?", r"low bone density", r"thin bones")),
    (
        "an open wound or infection",
        _p(
            r"open wounds?",
            r"wounds?(?! up)",
            r"(?:open|deep|fresh|bad|big) (?:cut|gash|graze|sore)s?",
            r"cuts? on (?:my|the|his|her|their) \w+",
            r"(?:not|hasnt|havent|never|isnt|wont|didnt) (?:\w+ ){0,2}healed",
            r"unhealed",
            r"scabs?",
            r"gash\w*",
            r"infect\w*",
            r"cellulitis",
            r"shingles",
            r"abscess\w*",
            r"boils?",
            r"rash",
            r"burns?",
            r"sunburn\w*",
        ),
    ),
    (
        # Surgery had, coming or healing; not surgery someone hopes massage spares them ("rather than an operation").
        "recent surgery",
        _p(
            r"(?:had|have had|having|need|needs|needed|getting|got|scheduled for|waiting for|booked for|recovering"
            r" from|after|since|post) (?:\w+ ){0,3}(?:surgery|surgeries|operation|operations|op)",
            r"(?:surgery|operation|op) (?:\w+ ){0,3}(?:ago|last (?:week|month|year)|next (?:week|month))",
            r"recent (?:\w+ )?(?:surgery|operation)",
            r"stitches",
            r"spinal fusion",
            r"post op",
            r"surgical (?:scar|wound|site)",
        ),
    ),
    ("varicose veins", _p(r"varicose")),
)


# Every pattern at once: most messages match none, and one search says so faster than one per pattern.
_ANY = re.compile("|".join(pattern.pattern for _, pattern in (*RED_FLAGS, *CONTRAINDICATION_FLAGS)))


def check(normalised: str) -> SafetyFlag | None:
    """Return the safety entry a message must get, or None; red flags outrank contraindications."""
    if _ANY.search(normalised) is None:
        return None
    for table, entry_id in ((RED_FLAGS, SEE_A_DOCTOR), (CONTRAINDICATION_FLAGS, CONTRAINDICATIONS)):
        for reason, pattern in table:
            for found in pattern.finditer(normalised):
                if not _NEGATION.search(normalised[: found.start()]):
                    return SafetyFlag(entry_id=entry_id, reason=reason)  # type: ignore[arg-type]
    return None
