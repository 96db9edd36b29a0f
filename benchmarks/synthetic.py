"""Synthetic knowledge bases: thousands of plausible exercises generated from a seed.

Names combine a position, a piece of equipment and a movement ("half-kneeling landmine press");
every record has aliases, muscles, methods, a checklist, mistakes, cautions, alternatives,
variations, benefits, programming and FAQs, written from templates. ``language.yaml`` and
``sources.yaml`` are the shipped ones, so the engine reads questions exactly as it does in
production.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge import KnowledgeBase, default_knowledge_dir

POSITIONS = (
    "single-leg", "split-stance", "staggered", "wide-stance", "narrow-stance", "sumo",
    "kneeling", "half-kneeling", "seated", "standing", "lying", "prone", "supine", "incline",
    "decline", "deficit", "elevated", "paused", "tempo", "isometric", "alternating", "lateral",
    "rotational", "offset", "cossack", "bulgarian", "pendulum", "zercher", "hack", "jefferson",
)  # fmt: skip
EQUIPMENT = (
    "barbell", "dumbbell", "kettlebell", "cable", "band", "landmine", "trap bar", "sandbag",
    "medicine ball", "suspension strap", "smith machine", "safety bar", "weight plate",
    "bodyweight", "sliding disc", "stability ball",
)  # fmt: skip
MOVEMENTS = (
    "squat", "lunge", "deadlift", "row", "press", "curl", "raise", "bridge", "hold", "march",
    "swing", "step-up", "pull", "fly", "extension", "crunch", "plank", "carry", "thrust",
    "hinge", "good morning", "pullover", "rollout", "shrug", "kickback", "rotation",
)  # fmt: skip
MUSCLES = (
    ("glutes", ("gluteus maximus", "butt")),
    ("quadriceps", ("quads",)),
    ("hamstrings", ("hams",)),
    ("calves", ("gastrocnemius",)),
    ("hip flexors", ("psoas", "iliacus")),
    ("adductors", ("inner thigh",)),
    ("core", ("abs", "obliques")),
    ("lower back", ("erector spinae",)),
    ("lats", ("latissimus dorsi",)),
    ("upper back", ("rhomboids", "traps")),
    ("chest", ("pecs",)),
    ("shoulders", ("deltoids",)),
    ("biceps", ("arm flexors",)),
    ("triceps", ("arm extensors",)),
    ("forearms", ("grip",)),
)
LEVELS = ("beginner", "intermediate", "advanced")
KINDS = ("compound", "isolation", "hold", "stretch", "pattern")
STEPS = (
    "Set the {equipment} up at about hip height and check it is secure.",
    "Stand tall with your feet hip-width apart and brace your core.",
    "Take a breath in and set your shoulders down and back.",
    "Lower slowly under control for a count of three.",
    "Drive through your whole foot to return to the start.",
    "Exhale as you pass the hardest part of the rep.",
    "Pause for a moment where your {muscle} are most stretched.",
    "Keep your spine neutral and your gaze a little ahead of you.",
    "Move only as far as you can without your lower back rounding.",
    "Finish each rep standing tall, then reset before the next one.",
)
CHECKS = (
    "Core braced before every rep.",
    "Knees tracking over the toes.",
    "Neutral spine from start to finish.",
    "Slow lowering phase, no bouncing.",
    "Weight spread over the whole foot.",
    "Shoulders down, away from the ears.",
    "Full range of motion you can control.",
    "Breathing steady: out on the effort.",
)
MISTAKES = (
    ("Rushing the lowering phase.", "Count to three on the way down."),
    ("Letting the lower back round.", "Reduce the range or the load until it stays neutral."),
    ("Knees caving inwards.", "Push the knees out in line with the toes."),
    ("Holding the breath for the whole set.", "Exhale through the hardest part of each rep."),
    ("Using momentum to swing the {equipment}.", "Lighten the load and pause at the top."),
    ("Going too heavy too soon.", "Start light and add load gradually over weeks."),
)
CAUTIONS = (
    "Stop if you feel sharp pain in the joints rather than effort in the {muscle}.",
    "Build up the load gradually; the {muscle} tire quickly at first.",
    "Warm up the hips and knees before heavy sets.",
    "People with recent back surgery should check with a physiotherapist first.",
)
BENEFITS = (
    ("Stronger {muscle}", "Builds strength in the {muscle} through a full range of motion."),
    ("Better balance", "Trains the small stabilising muscles around the ankle and hip."),
    ("Joint friendly", "Loads the muscles without heavy compression of the spine."),
    ("Athletic power", "Carries over to sprinting, jumping and changing direction."),
    ("Home friendly", "Needs only a {equipment}, so it fits a home workout."),
)
PROGRAMMING = (
    ("Sets and reps", "Do 3 sets of 8 to 12 reps, resting about 90 seconds between sets."),
    ("Frequency", "Train it two or three times a week with a rest day in between."),
    ("Progression", "Add a little load or one rep each week while form stays clean."),
    ("Warm-up", "Do one light set of 15 reps before your working sets."),
)


def plural(name: str) -> str:
    """``name`` with its last word in the plural ("hack squat" -> "hack squats")."""
    head, _, last = name.rpartition(" ")
    if last.endswith("y") and last[-2:-1] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "es" if last.endswith(("sh", "ch", "s", "x")) else "s"
    return f"{head} {last}".strip()


def _names(count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """``count`` distinct (position, equipment, movement) triples."""
    combos = [(p, e, m) for p in POSITIONS for e in EQUIPMENT for m in MOVEMENTS]
    if count > len(combos):
        raise ValueError(f"at most {len(combos)} distinct exercises can be generated")
    return rng.sample(combos, count)


def _slug(*parts: str) -> str:
    return "-".join(" ".join(parts).replace("-", " ").split())


def _record(
    position: str, equipment: str, movement: str, ids: list[str], source: str, rng: random.Random
) -> dict[str, Any]:
    name = f"{position} {equipment} {movement}"
    primary = rng.sample(MUSCLES, 2)
    stabiliser = rng.choice([m for m in MUSCLES if m not in primary])
    muscle = primary[0][0]
    fill = {"equipment": equipment, "muscle": muscle}
    rid = _slug(position, equipment, movement)
    others = [i for i in rng.sample(ids, 3) if i != rid][:2]
    return {
        "id": rid,
        "kind": "exercise",
        "name": name.capitalize(),
        "aliases": [
            plural(name),
            f"{position} {movement} with a {equipment}",
            f"{position} {plural(movement)} with a {equipment}",
            f"{equipment} {position} {movement}",
        ],
        "source": source,
        "summary": (
            f"A {movement} variation done {position.replace('-', ' ')} "
            f"with a {equipment}, mainly for the {primary[0][0]} and {primary[1][0]}."
        ),
        "facts": [
            f"The {position.replace('-', ' ')} position changes how much the {muscle} work.",
            f"Popular with athletes who need strong {primary[1][0]}.",
        ],
        "keywords": [position, equipment, movement, muscle],
        "movement": rng.choice(KINDS),
        "level": rng.choice(LEVELS),
        "equipment": [equipment],
        "muscles": {
            "primary": [{"name": n, "aliases": list(a)} for n, a in primary],
            "stabilisers": [{"name": stabiliser[0], "aliases": list(stabiliser[1])}],
        },
        "methods": [
            {
                "name": f"With a {equipment}",
                "equipment": [equipment],
                "steps": [s.format(**fill) for s in rng.sample(STEPS, 5)],
            }
        ],
        "checklist": rng.sample(CHECKS, 4),
        "mistakes": [
            {"mistake": m.format(**fill), "fix": f.format(**fill)}
            for m, f in rng.sample(MISTAKES, 3)
        ],
        "cautions": [c.format(**fill) for c in rng.sample(CAUTIONS, 2)],
        "avoid_if": [{"who": "People with an acute injury", "why": "Let it heal first."}],
        "alternatives": [
            {"exercise": other, "why": f"Trains the {muscle} with less equipment."}
            for other in others
        ],
        "variations": [
            {
                "name": f"Heavier {movement}",
                "text": "Add load at 12 easy reps.",
                "direction": "harder",
            },
            {
                "name": f"Bodyweight {movement}",
                "text": "Learn the pattern first.",
                "direction": "easier",
            },
        ],
        "benefits": [
            {"name": n.format(**fill), "text": t.format(**fill)}
            for n, t in rng.sample(BENEFITS, 2)
        ],
        "programming": [{"name": n, "text": t} for n, t in rng.sample(PROGRAMMING, 2)],
        "faq": [
            {
                "q": f"How heavy should my {plural(name)} be?",
                "also": [f"{name} weight", f"how much weight for a {name}"],
                "a": "Pick a load you can lift for 10 clean reps with two in reserve.",
                "intent": "programming",
            },
            {
                "q": f"Is the {name} good for beginners?",
                "also": [f"{name} for beginners"],
                "a": f"Yes, with a light {equipment} and a slow tempo.",
                "intent": "benefits",
            },
        ],
    }


def write_knowledge(directory: Path, count: int, seed: int = 7) -> Path:
    """Write a knowledge base of ``count`` generated exercises into ``directory``."""
    rng = random.Random(seed)
    shipped = default_knowledge_dir({})
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("language.yaml", "sources.yaml"):
        shutil.copy(shipped / name, directory / name)
    sources = yaml.safe_load((shipped / "sources.yaml").read_text(encoding="utf-8"))
    articles = [a["id"] for a in sources["articles"]]
    triples = _names(count, rng)
    ids = [_slug(*t) for t in triples]
    folder = directory / "exercises"
    folder.mkdir(exist_ok=True)
    for triple in triples:
        record = _record(*triple, ids, rng.choice(articles), rng)
        text = yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100)
        (folder / f"{record['id']}.yaml").write_text(text, encoding="utf-8")
    return directory


# Exercises no generated record covers: a question about one should be declined.
UNCOVERED = ("bench press", "pull up", "burpee", "dip", "snatch", "clean and jerk", "pushup")
ASKS = (
    "how do I do a {name}",
    "what muscles does the {name} work",
    "form checklist for the {name}",
    "common mistakes with {names}",
    "is the {name} safe",
    "what can I do instead of a {name}",
    "how many sets of {names} should I do",
    "benefits of the {name}",
)
FOLLOW_UPS = ("how do I do it?", "what muscles does it work?", "any common mistakes?")


def _ask(name: str, rng: random.Random) -> str:
    return rng.choice(ASKS).format(name=name, names=plural(name))


def _typo(word: str, rng: random.Random) -> str:
    """Swap two neighbouring letters of a long enough word."""
    if len(word) < 6:
        return word
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def conversations(kb: KnowledgeBase, count: int, seed: int = 11) -> list[tuple[str, ...]]:
    """About ``count`` messages in conversations: named asks, typos, uncovered exercises and
    follow-ups that rely on context (each tuple is one conversation)."""
    rng = random.Random(seed)
    names = [r.name.lower() for r in kb.records.values()]
    out: list[tuple[str, ...]] = []
    sent = 0
    while sent < count:
        name = rng.choice(names)
        roll = rng.random()
        if roll < 0.55:
            convo: tuple[str, ...] = (_ask(name, rng),)
        elif roll < 0.7:
            convo = (_ask(" ".join(_typo(w, rng) for w in name.split()), rng),)
        elif roll < 0.8:
            convo = (_ask(rng.choice(UNCOVERED), rng),)
        else:
            convo = (_ask(name, rng), *rng.sample(FOLLOW_UPS, 2))
        out.append(convo)
        sent += len(convo)
    return out
