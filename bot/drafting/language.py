"""What the drafter knows of how exercise articles are written: sentences, the words that mark
an instruction, a fix, a caution or an alternative, the words that say what a section is about,
and the names of muscles (general anatomy, not any one article's).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` (word lists kept readable in the source)."""
    return frozenset(text.split())


# -- sentences ---------------------------------------------------------------------------------

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "et al.", "dr.", "mr.", "ms.", "no.")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'\u201d\u2019)]?\s+(?=[\"'\u201c(]?[A-Z0-9])")


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences (abbreviations such as "e.g." do not end one)."""
    protected = text
    for index, abbreviation in enumerate(_ABBREVIATIONS):
        protected = re.sub(
            re.escape(abbreviation), f"\x00{index}\x00", protected, flags=re.IGNORECASE
        )
    parts = _SENTENCE_END.split(protected)
    out: list[str] = []
    for part in parts:
        for index, abbreviation in enumerate(_ABBREVIATIONS):
            part = part.replace(f"\x00{index}\x00", abbreviation)
        if part.strip():
            out.append(part.strip())
    return out


def words_of(text: str) -> list[str]:
    """Lower-case words of ``text``."""
    return re.findall(r"[a-z0-9]+(?:['\u2019][a-z]+)?", text.lower())


# -- what a sentence does ----------------------------------------------------------------------

# Verbs an instruction starts with ("Stand tall", "Brace your core").
IMPERATIVE_VERBS = word_set(
    """
    add adjust aim alternate anchor arch attach avoid bend begin brace breathe bring check
    choose clench come complete contract count cross curl do don't drive drop engage ensure
    exhale extend face finish fix flex focus get go grab grip hang hinge hold hook imagine
    inhale keep kneel lay lead lean let lie lift load lock loop lower maintain make move
    pause perform picture place plant point press pull push put raise reach relax release
    repeat rest return reverse roll rotate secure set shift sink sit slide squat squeeze
    stand start step stop straighten stretch switch take tense think tighten tilt tuck turn
    twist use walk wrap slow limit practise practice stay time track film warm cool drink
    wear reduce increase decrease lighten swap replace pick find feel notice watch look gaze
    """
)
_LEADING_ADVERBS = word_set(
    """
    slowly gently carefully then now next finally first again simply always never also
    actively consciously steadily smoothly
    """
)
_THIRD_PERSON_STEP = re.compile(
    r"\b(the |a |you |they )?(lifter|exerciser|athlete|user|person|trainee|you)\s+"
    r"(will|should|must|then|now)\b",
    re.IGNORECASE,
)
_RECOMMENDED = re.compile(
    r"\b(it is (recommended|advisable|best)|we (advise|recommend)|you(['\u2019]ll)? want to|"
    r"make sure (that )?you|the (first|second|next) (part|step) is)\b",
    re.I,
)
_IDIOMS = re.compile(r"^\W*(simply put|put simply|that said|in short),?\s*", re.IGNORECASE)
FIX_CUES = re.compile(
    r"\b(remed\w*|fix\w*|correct\w*|instead|advis\w*|recommend\w*|should|try|make sure|ensure|"
    r"address\w*|focus on|prevent\w*|the solution|to avoid|avoid|keep|use an?|start with)\b",
    re.IGNORECASE,
)
CAUTION_CUES = re.compile(
    r"\b(injur\w*|pain\w*|strain\w*|risk\w*|danger\w*|unsafe|hurt\w*|make matters worse|"
    r"aggravat\w*|exacerbat\w*|consult\w*|caution\w*|careful\w*|too heavy|stop the exercise|"
    r"overtrain\w*|wear on|excessive wear|set yourself up for|don['\u2019]?t want|avoid|"
    r"irritat\w*)\b",
    re.IGNORECASE,
)
POSITIVE_CONTEXT = re.compile(
    r"\b(injury prevention|prevent(s|ing)? injur\w*|reduce[sd]? (the )?risk|avoid such problems|"
    r"reduc\w* (unwanted )?pressure|without placing stress|rehab\w*|post-injury|"
    r"avoid\w* (some |any |an )?injur\w*|help(s)? (to )?(avoid|prevent))\b",
    re.IGNORECASE,
)
ALTERNATIVE_CUES = re.compile(
    r"\b(alternatives?|instead of|substitut\w*|swap\w*|similar (movement|exercise|pattern)|"
    r"share[sd]? (a lot of )?the (same )?(biomechanics|mechanics)|more suitable|"
    r"mechanically similar)\b",
    re.IGNORECASE,
)
TIP_PREFIX = re.compile(
    r"^(?:coach['\u2019]?s|pro|quick|expert|top|trainer['\u2019]?s)\s+tips?\s*[\u2013\u2014:-]\s*",
    re.IGNORECASE,
)
SETUP_WORDS = re.compile(
    r"\b(set(ting)? ?up|setup|starting position|start position|preparation|get(ting)? into "
    r"position|before you (start|begin))\b",
    re.IGNORECASE,
)


def is_instruction(sentence: str) -> bool:
    """Whether ``sentence`` tells someone what to do: it starts with a verb ("Stand tall",
    "Slowly lower the leg", "Keeping your back flat, push..."), or says what the lifter will or
    should do, or what is recommended."""
    sentence = _IDIOMS.sub("", sentence)
    tokens = words_of(sentence)
    while tokens and tokens[0] in _LEADING_ADVERBS:
        tokens = tokens[1:]
    if tokens and tokens[0] in IMPERATIVE_VERBS:
        return True
    # "Keeping your back straight and bracing your core, push your hips back"
    _, comma, rest = sentence.partition(",")
    rest_tokens = words_of(rest)
    if comma and rest_tokens and rest_tokens[0] in IMPERATIVE_VERBS:
        return True
    return bool(_THIRD_PERSON_STEP.search(sentence) or _RECOMMENDED.search(sentence))


def is_fix(sentence: str) -> bool:
    """Whether ``sentence`` says how to put a mistake right."""
    tokens = words_of(sentence)
    return bool(FIX_CUES.search(sentence)) or bool(tokens and tokens[0] in IMPERATIVE_VERBS)


def is_caution(sentence: str) -> bool:
    """Whether ``sentence`` warns (an injury, pain, a risk, who should be careful)."""
    return bool(CAUTION_CUES.search(sentence)) and not POSITIVE_CONTEXT.search(sentence)


def is_alternative(sentence: str) -> bool:
    """Whether ``sentence`` offers another exercise in place of this one."""
    return bool(ALTERNATIVE_CUES.search(sentence))


# -- what a heading says a section is about ---------------------------------------------------

ROLES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (role, re.compile(pattern, re.IGNORECASE))
    for role, pattern in (
        ("noise", r"\b(related (articles|reading|posts)|references|sources|about the author|"
         r"further reading|you may also like|more from|bibliography)\b"),
        ("faq", r"\b(frequently asked|faqs?|common questions|questions and answers|q ?& ?a)\b"),
        ("conclusion", r"\b(bottom line|conclusions?|final (words|thoughts|verdict)|summary|"
         r"takeaways?|wrapping up|in short|the verdict)\b"),
        ("mistakes", r"\b(mistakes?|errors?|wrong|pitfalls?|faults?|corrections?)\b"),
        ("cautions", r"\b(safety|precautions?|cautions?|who should|shouldn['\u2019]?t|"
         r"should not|things to consider|considerations|risks?|warnings?|"
         r"contraindications?|is it safe)\b"),
        ("muscles", r"\b(muscles?|worked|anatomy|targets?)\b"),
        ("alternatives", r"\b(alternatives?|substitutes?|instead|similar exercises|swaps?)\b"),
        ("variations", r"\b(variations?|progressions?|regressions?|modifications?|versions?)\b"),
        ("programming", r"\b(routine|programming|program|sets and reps|reps and sets|"
         r"integrat\w*|how often|frequency|schedule|selecting a weight|choosing a weight|"
         r"how much weight|weight selection|dosage|workouts?)\b"),
        ("benefits", r"\b(benefits?|advantages?|pros)\b"),
        ("checklist", r"\b(checklist|form cues|cues|key points|form tips)\b"),
        ("steps", r"\b(how to|perform(ing)?|execution|step[- ]by[- ]step|steps?|technique|"
         r"instructions|set(ting)? ?up|setup|do it|the repetition|starting position)\b"),
        ("what", r"\b(what (is|are)|what['\u2019]s|understanding|overview|introduction|"
         r"definition|why is|why (you|do|use)|explained)\b"),
    )
)  # fmt: skip


def heading_role(heading: str) -> str | None:
    """The kind of section a heading announces, if its words say so."""
    for role, pattern in ROLES:
        if pattern.search(heading):
            return role
    return None


# -- muscles -----------------------------------------------------------------------------------

# Muscle and muscle-group names, general anatomy; longer names first when matched.
MUSCLE_NAMES = tuple(
    sorted(
        (
            " ".join(name.split())
            for name in """
    abdominals| abs| abdominal muscles| rectus abdominis| transverse abdominis| transversus
    abdominis| obliques| internal obliques| external obliques| core| core muscles| deep
    core| deep core muscles| hip flexors| hip flexor| psoas| psoas major| psoas minor|
    iliacus| iliopsoas| pectineus| rectus femoris| sartorius| tensor fasciae latae|
    quadriceps| quadriceps femoris| quads| quad| vastus lateralis| vastus medialis|
    hamstrings| hamstring| biceps femoris| semitendinosus| semimembranosus| glutes| glute|
    gluteus maximus| gluteus medius| gluteus minimus| gluteal muscles| gluteus muscle group|
    gluteals| hip abductors| hip adductors| hip abductors and adductors| abductors|
    adductors| lower back| erector spinae| erectors| spinal erectors| back extensors|
    posterior chain| calves| calf| calf muscles| gastrocnemius| soleus| tibialis anterior|
    peroneals| ankle stabilizers| ankle stabilisers| lats| latissimus dorsi| traps|
    trapezius| rhomboids| rear delts| deltoids| delts| shoulders| rotator cuff| chest|
    pectorals| pecs| pectoralis major| biceps| triceps| forearms| upper back| mid back|
    neck| hip stabilizers| hip stabilisers
    """.split("|")  # noqa: SIM905 - a readable list of names with spaces
            if name.strip()
        ),
        key=len,
        reverse=True,
    )
)
_MUSCLE = re.compile(
    r"\b(" + "|".join(re.escape(name) for name in MUSCLE_NAMES) + r")\b",
    re.IGNORECASE,
)
PRIMARY_CUES = re.compile(
    r"\b(primar\w*|prime movers?|main(ly)?|chiefly|major|target\w*|mostly|movers?)\b",
    re.IGNORECASE,
)
STABILISER_CUES = re.compile(
    r"\b(stabili[sz]\w*|accessory|secondary|synergists?|support\w*|assist\w*|stable)\b",
    re.IGNORECASE,
)
_NEGATED_MUSCLE = re.compile(r"\b(taken out|left out|not|no|without|less)\b", re.IGNORECASE)


@dataclass(frozen=True)
class MuscleMention:
    """A muscle named in a sentence, and the detail the article gives in brackets after it."""

    name: str
    detail: str | None
    start: int
    end: int


def muscles_in(sentence: str) -> Iterator[MuscleMention]:
    """The muscles ``sentence`` names, with a bracketed list after one as its detail ("hip
    flexors (psoas major, iliacus, and pectineus)"); names inside those brackets are detail,
    not muscles of their own; a muscle said to be left out ("the quads are taken out") is
    skipped."""
    brackets = [(m.start(), m.end()) for m in re.finditer(r"\([^)]*\)", sentence)]
    for match in _MUSCLE.finditer(sentence):
        if any(start < match.start() < end for start, end in brackets):
            continue
        detail = None
        after = sentence[match.end() :]
        bracket = re.match(r"\s*(?:muscles?|group)?\s*\(([^)]*)\)", after)
        if bracket and _MUSCLE.search(bracket.group(1)):
            detail = bracket.group(1).strip()
        following = sentence[match.end() : match.end() + 30]
        preceding = sentence[max(0, match.start() - 12) : match.start()]
        if re.match(r"\s+(are|is) (taken|left) out", following) or re.search(
            r"\b(not|no|without)\s+(the\s+)?$", preceding
        ):
            continue
        yield MuscleMention(match.group(1), detail, match.start(), match.end())


def is_muscle(text: str) -> bool:
    """Whether ``text`` is, or starts with, a muscle name."""
    return bool(_MUSCLE.match(text.strip()))
