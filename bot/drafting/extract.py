"""From a parsed article to drafted records.

Each section gets a role from its heading's words (:func:`~bot.drafting.language.heading_role`);
a heading that names no role is a sub-heading of the last one that did (a benefit's name under
"Benefits", a mistake under "Common Mistakes"), and inside a FAQ every question heading stays a
question. Then each role fills its fields:

* title: the name, its plural and other names ("also called", "AKA", ", or ...,", "refers to");
* what (and the introduction): the summary (the first sentence defining the name) and facts;
* steps: methods, one per variant (a lead-in such as "To perform it on a cable machine:", or a
  variation section that gives instructions), with setup (a "Setting Up" section, a
  "Starting Position" group), steps (list items, or paragraphs that instruct) and tips
  ("Coach's Tip - ...");
* muscles: nested lists under "primary"/"stabiliser" labels, or sentences, each muscle with the
  bracketed detail the article gives and its role from the sentence's words;
* mistakes: "Error:"/"Correction:" pairs, "Mistake: fix" items, or a sub-heading per mistake
  with the sentences that remedy it as its fix;
* cautions: the section's items and paragraphs ("avoid" groups become ``avoid_if``, "should
  do" groups ``suits``), and warning sentences met in mistakes, steps, programming and FAQ;
* alternatives, variations, benefits, programming, FAQ: items ("Name: text"), sub-headings with
  their paragraphs, or paragraphs.

A comparison article ("A vs. B") gets a topic record and an exercise record per side
(:mod:`bot.drafting.compare`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.drafting.article import (
    TITLE_SEPARATOR,
    Article,
    Item,
    ItemList,
    Paragraph,
    Section,
)
from bot.drafting.language import (
    PRIMARY_CUES,
    SETUP_WORDS,
    STABILISER_CUES,
    TIP_PREFIX,
    heading_role,
    is_alternative,
    is_caution,
    is_fix,
    is_instruction,
    muscles_in,
    sentences,
    word_set,
    words_of,
)
from bot.drafting.model import (
    DraftRecord,
    Value,
    Where,
    plural,
    sentence_case,
    singular,
    slug,
    todo,
)

MAX_FACTS = 6
# "It is sometimes called ...": the exercise the section is about, as the subject.
PRONOUN_SUBJECT = re.compile(r"^\W*(it|this exercise|this move|this movement)\b", re.I)
META = re.compile(
    r"\b(in this (article|guide|exercise guide|post)|we outline|read on|as discussed|"
    r"further down|below|this article will|let['\u2019]s (look|dive))\b",
    re.IGNORECASE,
)
CHATTY = re.compile(r"\b(we hear you ask|you might (ask|wonder))\b", re.IGNORECASE)
CONFUSION = re.compile(
    r"\b(confused (for|with)|not to be confused|differs? from|different from)\b", re.I
)
AVOID_LABEL = re.compile(
    r"\b(avoid|caution|shouldn['\u2019]?t|should not|consult|not recommended|contraindicat\w*|"
    r"careful)\b",
    re.IGNORECASE,
)
SUITS_LABEL = re.compile(
    r"\b(should do|who (it['\u2019]s|is) for|benefit most|suits|"
    r"(good|great|ideal|best|suitable|recommended|perfect)\b.*\bfor)\b",
    re.IGNORECASE,
)
ERROR_LABEL = re.compile(r"^(error|mistake|problem|fault|what happens|wrong)\b", re.I)
FIX_LABEL = re.compile(r"^(correction|fix|how to fix|solution|cue|instead|right|do this)\b", re.I)
HARDER = re.compile(
    r"\b(harder|advanced|increase|challeng\w*|progress\w*|add(ing)? weight|heavier)\b", re.I
)
EASIER = re.compile(
    r"\b(easier|support(ed)?|beginners?|regress\w*|simpler|assisted|lighter)\b", re.I
)
LEAD_IN_VARIANT = re.compile(
    r"\b(?:on|with|using|in|at)\s+(?:an?\s+|the\s+)?([\w\s'-]{2,40}?)\s*:$", re.IGNORECASE
)
NAME_VERBS = word_set(
    """
    also share shares is are can provide provides offer offers make makes work works has
    have involve involves will would may might do does
    """
)
DISCOURSE = re.compile(
    r"^((in fact|also|however|alternatively|similarly|likewise|additionally|plus),?\s+)+",
    re.IGNORECASE,
)
GENERIC_NAMES = word_set(
    """
    movement exercise exercises option options one alternative alternatives variation
    version it this that these those
    """
)
NAME_FILLERS = re.compile(
    r"^(in fact,?\s+|also,?\s+|the\s+|a\s+|an\s+|ever-popular\s+|popular\s+|classic\s+|"
    r"simple\s+)+",
    re.IGNORECASE,
)
FAQ_INTENTS = (
    ("muscles", r"\bmuscles?\b|\bwork\b|\btarget"),
    ("benefits", r"\bbenefits?\b|\bgood for\b|\bhelp\b"),
    ("mistakes", r"\bmistakes?\b|\berrors?\b|\bwrong\b"),
    ("cautions", r"\bsafe\b|\bcaution\b|\bavoid\b|\bwho should\b|\binjur|\bpain\b"),
    ("variations", r"\bchalleng|\bharder\b|\beasier\b|\bvariation|\bprogress|\bbodyweight\b"),
    ("alternatives", r"\binstead\b|\balternative"),
    ("programming", r"\bhow (many|often|long|much)\b|\bsets?\b|\breps?\b|\bplateau"),
    ("steps", r"\bhow (do|to)\b|\bperform\b"),
)


@dataclass
class Roled:
    """A section and the role it plays; ``sub`` when its heading names one item of the role
    (a benefit, a mistake, a question) rather than the role itself."""

    section: Section
    role: str
    sub: bool = False


def roles(article: Article) -> list[Roled]:
    """Each section with its role."""
    out: list[Roled] = []
    parent = "intro"
    for section in article.sections:
        if section.heading is None:
            out.append(Roled(section, "intro"))
            continue
        own = heading_role(section.heading)
        if parent == "faq" and section.heading.rstrip().endswith("?"):
            out.append(Roled(section, "faq", sub=True))
        elif own is None:
            out.append(Roled(section, parent, sub=parent not in ("intro",)))
        else:
            parent = own
            out.append(Roled(section, own))
    return out


@dataclass
class Drafter:
    """Drafts one exercise record from an article."""

    article: Article
    source: str
    name: str = ""
    aliases: list[Value] = field(default_factory=list)
    record: DraftRecord = field(init=False)

    def __post_init__(self) -> None:
        self.name = subject_name(self.article.title)
        self.record = DraftRecord(slug(self.name), "exercise")
        self._seen: set[str] = set()
        self._methods: list[dict[str, Any]] = []
        self._cautions: list[Value] = []
        self._avoid: list[dict[str, Any]] = []
        self._suits: list[Value] = []
        self._facts: list[Value] = []
        self._summary: Value | None = None
        self._muscles: dict[str, list[dict[str, Any]]] = {"primary": [], "stabilisers": []}
        self._muscle_names: set[str] = set()
        self._mistakes: list[dict[str, Any]] = []
        self._alternatives: list[dict[str, Any]] = []
        self._variations: list[dict[str, Any]] = []
        self._benefits: list[dict[str, Any]] = []
        self._programming: list[dict[str, Any]] = []
        self._faq: list[dict[str, Any]] = []
        self._checklist: list[Value] = []
        self._intro: list[Value] = []
        self._last_alternative_line = -10

    # -- the whole record ------------------------------------------------------------------

    def draft(self) -> DraftRecord:
        """The drafted record."""
        roled = roles(self.article)
        self._names(roled)
        self._find_summary(roled)
        for part in roled:
            self._section(part)
        return self._assemble()

    def _section(self, part: Roled) -> None:
        handler = {
            "intro": self._what,
            "what": self._what,
            "steps": self._steps,
            "muscles": self._muscles_section,
            "mistakes": self._mistakes_section,
            "cautions": self._cautions_section,
            "alternatives": self._alternatives_section,
            "variations": self._variations_section,
            "benefits": self._benefits_section,
            "programming": self._programming_section,
            "faq": self._faq_section,
            "checklist": self._checklist_section,
        }.get(part.role)
        if handler is not None:
            handler(part)
        if part.role not in ("mistakes", "faq", "conclusion", "noise"):
            self._prose_mistakes(part)

    def _assemble(self) -> DraftRecord:
        record = self.record
        title_where = Where("(title)", self.article.title_line, self.article.title_line)
        f: dict[str, Any] = {}
        f["name"] = Value(self.name, title_where, rewrite=False)
        f["aliases"] = self.aliases
        f["source"] = self.source
        f["summary"] = self._summary or todo("what it is, in a sentence or two")
        f["facts"] = (self._facts + self._intro)[:MAX_FACTS]
        muscles = {k: v for k, v in self._muscles.items() if v}
        f["muscles"] = muscles or None
        f["methods"] = [m for m in self._methods if m["steps"] or m.get("setup")]
        for method in f["methods"]:
            if not method["steps"]:
                method["steps"] = [todo("the steps of this variation")]
        f["checklist"] = self._checklist
        f["mistakes"] = self._mistakes
        f["cautions"] = self._cautions
        f["avoid_if"] = self._avoid
        f["alternatives"] = self._alternatives
        f["variations"] = self._variations
        f["benefits"] = self._benefits
        f["suits"] = self._suits
        f["programming"] = self._programming
        f["faq"] = self._faq
        record.fields = f
        optional = (
            "aliases", "facts", "muscles", "methods", "checklist", "mistakes", "cautions",
            "avoid_if", "alternatives", "variations", "benefits", "suits", "programming", "faq",
        )  # fmt: skip
        record.unfilled = [name for name in optional if not f.get(name)]
        record.unfilled += ["keywords", "movement", "level", "difficulty", "equipment", "related"]
        if self._summary is None:
            record.unfilled.insert(0, "summary (required)")
        return record

    # -- names ---------------------------------------------------------------------------

    def _names(self, roled: list[Roled]) -> None:
        title_where = Where("(title)", self.article.title_line, self.article.title_line)
        seen = {self.name.lower()}

        def add(alias: str, where: Where, note: str | None = None) -> None:
            alias = re.sub(r"\s+", " ", alias.strip(" \"'\u201c\u201d.,")).lower()
            if alias and alias not in seen and len(alias.split()) <= 6:
                seen.add(alias)
                self.aliases.append(Value(alias, where, rewrite=False, note=note))

        add(plural(self.name.lower()), title_where, "the name's plural")
        early = [r for r in roled if r.role in ("intro", "what", "steps")][:4]
        for part in early:
            for block in part.section.blocks:
                if not isinstance(block, Paragraph):
                    continue
                where = Where(part.section.name, block.first, block.last)
                for alias in other_names(block.text, self.name):
                    add(alias, where)
                    add(plural(alias), where, "its plural")

    # -- what it is -------------------------------------------------------------------------

    def _find_summary(self, roled: list[Roled]) -> None:
        """The first sentence that defines the name, in "what it is" sections first."""
        ordered = [r for r in roled if r.role == "what"] + [r for r in roled if r.role == "intro"]
        for part in ordered:
            for block in part.section.blocks:
                if not isinstance(block, Paragraph):
                    continue
                for sentence in sentences(block.text):
                    if defines(sentence, self.name) and not META.search(sentence):
                        where = Where(part.section.name, block.first, block.last)
                        self._summary = Value(sentence, where)
                        return

    def _what(self, part: Roled) -> None:
        for block in part.section.blocks:
            if not isinstance(block, Paragraph) or block.text.endswith(":"):
                continue
            where = Where(part.section.name, block.first, block.last)
            summary = self._summary.text if self._summary is not None else None
            kept = [
                s
                for s in sentences(block.text)
                if not META.search(s) and not CHATTY.search(s) and s != summary
            ]
            text = " ".join(kept)
            if not text:
                continue
            if CONFUSION.search(text):
                self.record.hints.append(
                    f"distinct_from: the article sets it apart from something ({where})"
                )
            self._add(self._facts if part.role == "what" else self._intro, Value(text, where))

    # -- steps ---------------------------------------------------------------------------

    def _method(self, name: str | None, where: Where) -> dict[str, Any]:
        method: dict[str, Any] = {
            "name": Value(sentence_case(name), where, rewrite=False)
            if name
            else Value(self.name, where, rewrite=False),
            "setup": [],
            "steps": [],
            "tips": [],
        }
        self._methods.append(method)
        return method

    def _current_method(self, where: Where, *, new_name: str | None = None) -> dict[str, Any]:
        if new_name is not None:
            if self._methods and not self._methods[-1]["steps"] and not self._methods[-1]["setup"]:
                self._methods[-1]["name"] = Value(sentence_case(new_name), where, rewrite=False)
                return self._methods[-1]
            return self._method(new_name, where)
        if not self._methods:
            return self._method(None, where)
        return self._methods[-1]

    def _steps(self, part: Roled) -> None:
        section = part.section
        setup = bool(section.heading and SETUP_WORDS.search(section.heading))
        started = False  # whether this section has given an instruction yet
        for block in section.blocks:
            where_block = Where(section.name, block.first, getattr(block, "last", block.first))
            if isinstance(block, Paragraph):
                text = block.text
                if text.endswith(":"):
                    variant = LEAD_IN_VARIANT.search(text)
                    if variant:
                        self._current_method(where_block, new_name=variant.group(1))
                    continue
                tip = TIP_PREFIX.match(text)
                if tip:
                    method = self._current_method(where_block)
                    self._add(method["tips"], Value(text[tip.end() :], where_block))
                    continue
                parts = sentences(text)
                instructs = any(is_instruction(s) for s in parts)
                if not (instructs or started):
                    self._caution_sentences(parts, where_block)
                    if part.role == "steps" and not self._methods:
                        self._add(self._facts, Value(text, where_block))
                    continue
                started = True
                method = self._current_method(where_block)
                target = method["setup"] if setup else method["steps"]
                if all(is_instruction(s) for s in parts) and len(parts) > 1:
                    for sentence in parts:
                        self._add(target, Value(sentence, where_block))
                else:
                    self._add(target, Value(text, where_block))
            else:
                started = True
                self._step_list(block, section.name, setup)

    def _step_list(self, block: ItemList, heading: str, setup: bool) -> None:
        method = self._current_method(Where(heading, block.first, block.first))
        for item in block.items:
            where = Where(heading, item.first, item.last)
            if item.children:
                label = item.label or item.text.rstrip(":")
                in_setup = setup or bool(SETUP_WORDS.search(label))
                target = method["setup"] if in_setup else method["steps"]
                for child in item.children:
                    self._add(target, Value(child.text, Where(heading, child.first, child.last)))
            else:
                target = method["setup"] if setup else method["steps"]
                self._add(target, Value(item.text, where))

    # -- muscles -------------------------------------------------------------------------

    def _muscles_section(self, part: Roled) -> None:
        section = part.section
        first_sentence = not any(self._muscles.values())
        for block in section.blocks:
            if isinstance(block, ItemList):
                for item in block.items:
                    role = muscle_role(item.label or item.text)
                    children = item.children or (item,)
                    for child in children:
                        where = Where(section.name, child.first, child.last)
                        self._muscle_item(child, role or "primary", where)
                continue
            if block.text.endswith(":"):
                continue
            where = Where(section.name, block.first, block.last)
            for sentence in sentences(block.text):
                own = [m.span() for m in re.finditer(name_pattern(self.name), sentence, re.I)]
                found = [
                    m for m in muscles_in(sentence) if not any(a <= m.start < b for a, b in own)
                ]
                if not found:
                    continue
                role = muscle_role(sentence) or ("primary" if first_sentence else None)
                first_sentence = False
                if role is None:
                    continue
                for mention in found:
                    detail = Value(mention.detail, where) if mention.detail else None
                    self._add_muscle(role, mention.name, detail, where)

    def _muscle_item(self, item: Item, role: str, where: Where) -> None:
        label = item.label or item.text
        name, _, bracket = label.partition("(")
        name = name.strip()
        if not name or len(name.split()) > 6:
            return
        details = [bracket.rstrip(") ").strip()] if bracket else []
        if item.label is not None and item.body:
            details.append(item.body)
        detail = Value("; ".join(d for d in details if d), where) if details else None
        self._add_muscle(role, name, detail, where)

    def _add_muscle(self, role: str, name: str, detail: Value | None, where: Where) -> None:
        key = name.lower()
        if key in self._muscle_names:
            return
        self._muscle_names.add(key)
        muscle: dict[str, Any] = {"name": Value(key, where, rewrite=False)}
        if detail is not None:
            muscle["detail"] = detail
        self._muscles[role].append(muscle)

    # -- mistakes ------------------------------------------------------------------------

    def _mistakes_section(self, part: Roled) -> None:
        section = part.section
        paragraphs = [
            b for b in section.blocks if isinstance(b, Paragraph) and not b.text.endswith(":")
        ]
        for block in section.blocks:
            if isinstance(block, ItemList):
                for item in block.items:
                    self._mistake_item(item, section.name)
        if part.sub and paragraphs:
            self._mistake_paragraphs(section.heading or "", paragraphs, section.name)
        elif paragraphs:
            for paragraph in paragraphs:
                self._mistake_paragraphs(None, [paragraph], section.name)

    def _mistake_item(self, item: Item, heading: str) -> None:
        where = Where(heading, item.first, item.last)
        mistake: Value | None = None
        fix: list[str] = []
        if item.children:
            name = (item.label or item.text).rstrip(":")
            described: list[str] = []
            for child in item.children:
                label = child.label or ""
                if FIX_LABEL.match(label):
                    fix.append(child.body)
                elif ERROR_LABEL.match(label):
                    described.append(child.body)
                elif described:
                    fix.append(child.text)
                else:
                    described.append(child.text)
            mistake = Value(f"{name}: {' '.join(described)}" if described else name, where)
        elif item.label is not None:
            body = sentences(item.body)
            fixing = [s for s in body if is_fix(s)]
            rest = [s for s in body if s not in fixing]
            mistake = Value(f"{item.label}: {' '.join(rest)}" if rest else item.label, where)
            fix = fixing
        else:
            body = sentences(item.text)
            fix = [s for s in body[1:] if is_fix(s)]
            mistake = Value(" ".join(s for s in body if s not in fix), where)
        self._pair(mistake, fix, where)

    def _mistake_paragraphs(
        self, heading: str | None, paragraphs: list[Paragraph], section: str
    ) -> None:
        first, last = paragraphs[0].first, paragraphs[-1].last
        where = Where(section, first, last)
        described: list[str] = []
        fix: list[str] = []
        for index, paragraph in enumerate(paragraphs):
            pwhere = Where(section, paragraph.first, paragraph.last)
            parts = sentences(paragraph.text)
            self._caution_sentences(parts, pwhere)
            for position, sentence in enumerate(parts):
                opening = index == 0 and position == 0
                if not opening and is_fix(sentence) and not is_caution(sentence):
                    fix.append(sentence)
                elif index == 0 or (not fix and not is_caution(sentence)):
                    described.append(sentence)
        text = " ".join(described[:2])
        mistake = Value(f"{heading}: {text}" if heading else text, where)
        self._pair(mistake, fix, where)

    def _prose_mistakes(self, part: Roled) -> None:
        for block in part.section.blocks:
            if isinstance(block, Paragraph):
                where = Where(part.section.name, block.first, block.last)
                for mistake, fix in prose_mistakes(sentences(block.text)):
                    self._pair(Value(mistake, where), [fix] if fix else [], where)

    def _pair(self, mistake: Value, fix: list[str], where: Where) -> None:
        entry: dict[str, Any] = {
            "mistake": mistake,
            "fix": Value(" ".join(fix), where) if fix else todo("how to put it right"),
        }
        if not fix:
            self.record.hints.append(f"mistakes: no fix found for one mistake ({where})")
        if mistake.text.lower() not in self._seen:
            self._seen.add(mistake.text.lower())
            self._mistakes.append(entry)

    # -- cautions ------------------------------------------------------------------------

    def _cautions_section(self, part: Roled) -> None:
        section = part.section
        for block in section.blocks:
            if isinstance(block, ItemList):
                for item in block.items:
                    self._caution_item(item, section.name)
                continue
            if block.text.endswith(":"):
                continue
            where = Where(section.name, block.first, block.last)
            parts = sentences(block.text)
            if any(is_alternative(s) for s in parts) or self._continues_alternative(block.text):
                self._alternative_paragraph(block.text, where)
                continue
            self._add(self._cautions, Value(block.text, where))

    def _caution_item(self, item: Item, heading: str) -> None:
        label = item.label or item.text.rstrip(":")
        if item.children and AVOID_LABEL.search(label):
            for child in item.children:
                where = Where(heading, child.first, child.last)
                who = child.label or child.text
                why = child.body if child.label else ""
                self._avoid.append(
                    {
                        "who": Value(who, where),
                        "why": Value(why, where) if why else todo("why they should be careful"),
                    }
                )
        elif item.children and SUITS_LABEL.search(label):
            for child in item.children:
                self._add(self._suits, Value(child.text, Where(heading, child.first, child.last)))
        elif item.children:
            for child in item.children:
                self._add(
                    self._cautions, Value(child.text, Where(heading, child.first, child.last))
                )
        else:
            self._add(self._cautions, Value(item.text, Where(heading, item.first, item.last)))

    def _caution_sentences(self, parts: Iterable[str], where: Where) -> None:
        for sentence in parts:
            if is_caution(sentence):
                self._add(self._cautions, Value(sentence, where))

    # -- alternatives and variations -----------------------------------------------------

    def _alternatives_section(self, part: Roled) -> None:
        section = part.section
        for block in section.blocks:
            if isinstance(block, ItemList):
                for item in block.items:
                    where = Where(section.name, item.first, item.last)
                    name = item.label or alternative_name(item.text, self.name)
                    if name:
                        self._alternatives.append(
                            {
                                "name": Value(name, where, rewrite=False),
                                "why": Value(item.body, where),
                            }
                        )
            elif not block.text.endswith(":"):
                self._alternative_paragraph(
                    block.text, Where(section.name, block.first, block.last)
                )

    def _alternative_paragraph(self, text: str, where: Where) -> None:
        name = alternative_name(text, self.name)
        follows = self._alternatives and self._last_alternative_line >= where.first - 3
        if self._continues_alternative(text) or (name is None and follows):
            last = self._alternatives[-1]
            why: Value = last["why"]
            span = Where(why.where.heading if why.where else where.heading,
                         why.where.first if why.where else where.first, where.last)  # fmt: skip
            last["why"] = Value(f"{why.text} {text}", span)
            self._last_alternative_line = where.last
            return
        if name is None:
            return
        self._alternatives.append(
            {"name": Value(name, where, rewrite=False), "why": Value(text, where)}
        )
        self._last_alternative_line = where.last

    def _continues_alternative(self, text: str) -> bool:
        if not self._alternatives:
            return False
        name: Value = self._alternatives[-1]["name"]
        head = singular(name.text.split()[-1]).lower()
        return len(head) > 3 and head in " ".join(singular(w) for w in words_of(text))

    def _variations_section(self, part: Roled) -> None:
        section = part.section
        instructing = [
            b
            for b in section.blocks
            if isinstance(b, Paragraph) and any(is_instruction(s) for s in sentences(b.text))
        ]
        if instructing and section.heading:
            self._variant_method(part, instructing)
            return
        for block in section.blocks:
            if isinstance(block, ItemList):
                for item in block.items:
                    where = Where(section.name, item.first, item.last)
                    name = item.label or (section.heading if part.sub else None)
                    self._variation(name, item.body if item.label else item.text, where)
            elif not block.text.endswith(":"):
                where = Where(section.name, block.first, block.last)
                self._variation(section.heading if part.sub else None, block.text, where)

    def _variant_method(self, part: Roled, instructing: list[Paragraph]) -> None:
        section = part.section
        heading = section.heading or ""
        name = variant_name(heading, self.name)
        where = Where(section.name, section.line, section.line)
        method = self._method(name, where)
        described: list[Paragraph] = []
        for block in section.blocks:
            if not isinstance(block, Paragraph):
                continue
            bwhere = Where(section.name, block.first, block.last)
            parts = sentences(block.text)
            if block in instructing:
                for sentence in parts:
                    target = method["steps"] if is_instruction(sentence) else method["tips"]
                    self._add(target, Value(sentence, bwhere))
            elif method["steps"]:
                self._add(method["tips"], Value(block.text, bwhere))
            else:
                described.append(block)
        if described:
            first = described[0]
            self._variation(
                name,
                " ".join(d.text for d in described),
                Where(section.name, first.first, described[-1].last),
            )

    def _variation(self, name: str | None, text: str, where: Where) -> None:
        direction = "harder" if HARDER.search(text) else "easier" if EASIER.search(text) else None
        entry: dict[str, Any] = {
            "name": Value(sentence_case(name), where, rewrite=False)
            if name
            else todo("a short name"),
            "text": Value(text, where),
        }
        if direction:
            entry["direction"] = Value(
                direction, where, rewrite=False, note="guessed from its words"
            )
        if text.lower() not in self._seen:
            self._seen.add(text.lower())
            self._variations.append(entry)

    # -- benefits, programming, checklist --------------------------------------------------

    def _benefits_section(self, part: Roled) -> None:
        self._points(part, self._benefits)

    def _programming_section(self, part: Roled) -> None:
        for block in part.section.blocks:
            if isinstance(block, Paragraph):
                self._caution_sentences(
                    sentences(block.text), Where(part.section.name, block.first, block.last)
                )
        self._points(part, self._programming, name_from_heading=True)

    def _points(
        self, part: Roled, into: list[dict[str, Any]], *, name_from_heading: bool = False
    ) -> None:
        section = part.section
        paragraphs = [
            b
            for b in section.blocks
            if isinstance(b, Paragraph) and not b.text.endswith(":") and not CHATTY.search(b.text)
        ]
        for block in section.blocks:
            if isinstance(block, ItemList):
                for item in block.items:
                    where = Where(section.name, item.first, item.last)
                    name = (
                        Value(item.label, where, rewrite=False)
                        if item.label
                        else todo("a short name")
                    )
                    into.append({"name": name, "text": Value(item.body, where)})
        if not paragraphs:
            return
        if (part.sub or name_from_heading) and section.heading:
            where = Where(section.name, paragraphs[0].first, paragraphs[-1].last)
            heading = section.heading
            if name_from_heading and not part.sub:
                heading = variant_name(heading, self.name) or heading
            into.append(
                {
                    "name": Value(
                        sentence_case(heading),
                        Where(section.name, section.line, section.line),
                        rewrite=False,
                    ),
                    "text": Value(" ".join(p.text for p in paragraphs), where),
                }
            )
            return
        for block in paragraphs:
            where = Where(section.name, block.first, block.last)
            into.append({"name": todo("a short name"), "text": Value(block.text, where)})

    def _checklist_section(self, part: Roled) -> None:
        for block in part.section.blocks:
            if isinstance(block, ItemList):
                for item in block.items:
                    where = Where(part.section.name, item.first, item.last)
                    self._add(self._checklist, Value(item.text, where))

    # -- FAQ -----------------------------------------------------------------------------

    def _faq_section(self, part: Roled) -> None:
        section = part.section
        if not part.sub or not section.heading:
            return
        paragraphs = [b for b in section.blocks if isinstance(b, Paragraph)]
        if not paragraphs:
            return
        where = Where(section.name, paragraphs[0].first, paragraphs[-1].last)
        answer = " ".join(p.text for p in paragraphs)
        for paragraph in paragraphs:
            pwhere = Where(section.name, paragraph.first, paragraph.last)
            parts = sentences(paragraph.text)
            self._caution_sentences(parts, pwhere)
            for sentence in parts:
                if is_alternative(sentence):
                    self._alternative_paragraph(sentence, pwhere)
        entry: dict[str, Any] = {
            "q": Value(
                section.heading, Where(section.name, section.line, section.line), rewrite=False
            ),
            "a": Value(answer, where),
            "intent": Value(
                faq_intent(section.heading),
                where,
                rewrite=False,
                note="guessed from the question's words",
            ),
        }
        stance = re.match(r"^(yes|no|it depends)\b", answer, re.IGNORECASE)
        if stance:
            value = {"yes": "yes", "no": "no"}.get(stance.group(1).lower(), "depends")
            entry["stance"] = Value(value, where, rewrite=False)
        self._faq.append(entry)

    # -- helpers -------------------------------------------------------------------------

    def _add(self, into: list[Value], value: Value) -> None:
        key = value.text.lower()
        if value.text and key not in self._seen:
            self._seen.add(key)
            into.append(value)


# -- reading names and sentences ---------------------------------------------------------------


def subject_name(title: str) -> str:
    """The exercise a title names: the part before its separator, singular, in sentence case
    ("Reverse Squats - How to Perform..." -> "Reverse squat")."""
    head = TITLE_SEPARATOR.split(title, maxsplit=1)[0].strip()
    head = re.sub(r"^(the|a|an)\s+", "", head, flags=re.IGNORECASE)
    words = head.split()
    if words:
        words[-1] = singular(words[-1])
    return sentence_case(" ".join(words)) or "Draft"


def name_pattern(name: str) -> str:
    """A regex for ``name`` and its plural, case-insensitive."""
    words = [re.escape(w) for w in name.lower().split()]
    if not words:
        return r"(?!)"
    words[-1] = words[-1] + r"(?:e?s)?"
    return r"\b" + r"[\s-]+".join(words) + r"\b"


def defines(sentence: str, name: str) -> bool:
    """Whether ``sentence`` says what ``name`` is ("The reverse squat is an exercise...")."""
    match = re.search(name_pattern(name), sentence, re.IGNORECASE)
    if not match:
        return False
    rest = sentence[match.end() :]
    return bool(
        re.match(r"[\"'\u201d,]*\s*(\([^)]*\)\s*)?(,[^,]{0,60},\s*)?(is|are)\s+(a|an|the)\b", rest)
    )


def other_names(text: str, name: str) -> Iterator[str]:
    """Other names the text gives ``name``: "(AKA the eccentric squat)", "also called X",
    "the backwards leg hold, or standing hip extension,", "refers to a standing hip extension"."""
    pattern = name_pattern(name)
    for sentence in sentences(text):
        confused = CONFUSION.search(sentence) or re.search(r"another exercise", sentence, re.I)
        if confused:
            sentence = sentence[: confused.start()]  # names given before it still count
        named = re.search(pattern, sentence, re.IGNORECASE) or PRONOUN_SUBJECT.match(sentence)
        if not named:
            continue
        after = sentence[named.end() :]
        for match in re.finditer(
            r"\((?:aka|a\.k\.a\.?|also known as|also called|or)\s+(?:the\s+|an?\s+)?([^)]+)\)",
            after,
            re.IGNORECASE,
        ):
            yield match.group(1)
        alternate = re.match(r"[\"'\u201d]*,\s+or\s+(?:the\s+|an?\s+)?([\w\s'-]{3,40}?),", after)
        if alternate:
            yield alternate.group(1)
        for match in re.finditer(
            r"\b(?:also|sometimes|often)?\s*(?:called|known as|referred to as|nicknamed)\s+"
            r"(?:the\s+|an?\s+)?[\"\u201c]?([A-Za-z][\w\s'-]{2,40}?)[\"\u201d]?(?=[,.;)]|\s+(?:and|or|is|which|with)\b)",
            after,
            re.IGNORECASE,
        ):
            yield match.group(1)
        for match in re.finditer(
            r"\b(?:refers? to|referring to|interpreted as)\s+(?:a|an|the)\s+([\w\s-]{3,40}?)"
            r"(?=\s+with\b|[,.;]|\s+is\b|\s+an?\b)",
            after,
            re.IGNORECASE,
        ):
            yield match.group(1)


def muscle_role(text: str) -> str | None:
    """ "stabilisers" or "primary" from a label's or sentence's words, if they say."""
    if STABILISER_CUES.search(text):
        return "stabilisers"
    if PRIMARY_CUES.search(text):
        return "primary"
    return None


def alternative_name(text: str, name: str) -> str | None:
    """The exercise a sentence offers instead ("such as psoas marches", "Banded psoas marches
    also share..."); None when it names none."""
    first = sentences(text)[0] if text else ""
    first = DISCOURSE.sub("", first)
    such = re.search(
        r"\b(?:such as|like|try|swap (?:it )?for|replace (?:it )?with)\s+(?:the\s+|an?\s+)?"
        r"([\w\s'-]{3,40}?)(?=[,.;:)]|\s+(?:as|which|that|to|for|and|instead|if)\b|$)",
        first,
        re.IGNORECASE,
    )
    candidates = [such.group(1)] if such else []
    words = first.split()
    subject: list[str] = []
    for word in words:
        if word.lower().strip(",") in NAME_VERBS:
            break
        subject.append(word)
        if word.endswith(","):
            break
    if subject and len(subject) <= 7:
        candidates.append(" ".join(subject))
    own = re.compile(name_pattern(name), re.IGNORECASE)
    for candidate in candidates:
        cleaned = NAME_FILLERS.sub("", candidate.strip(" ,")).strip()
        cleaned = re.sub(r"\s+(exercise|movement)s?$", "", cleaned, flags=re.IGNORECASE)
        tokens = cleaned.split()
        if (
            1 <= len(tokens) <= 5
            and not own.search(cleaned)
            and tokens[0].lower() not in ("if", "you", "it", "this", "we", "they", "there")
            and cleaned.lower() not in GENERIC_NAMES
        ):
            return cleaned.lower()
    return None


def variant_name(heading: str, name: str) -> str | None:
    """A variant's name from its heading, without the exercise's own name and the word
    "variation" ("Reverse Squats With Bands (At Home Variation)" -> "With Bands (At Home)")."""
    text = re.sub(name_pattern(name), "", heading, flags=re.IGNORECASE)
    text = re.sub(r"\b(variation|version)s?\b", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", text))
    text = re.sub(r"\s+", " ", text).strip(" -\u2013:")
    text = re.sub(r"^(for|of|the)\s+", "", text, flags=re.IGNORECASE)
    text = re.sub(r"\s+(for|of|with|on|to)(?=\s*\(|$)", "", text, flags=re.IGNORECASE)
    return text.strip() or None


def faq_intent(question: str) -> str:
    """The section a FAQ's question asks about, from its words."""
    lowered = question.lower()
    for intent, pattern in FAQ_INTENTS:
        if re.search(pattern, lowered):
            return intent
    return "what"


MOST_PEOPLE = re.compile(
    r"\b(most people|many people|a lot of people|people often|a common mistake|"
    r"the most common mistake|beginners often|many lifters)\b",
    re.IGNORECASE,
)
IF_NOT = re.compile(r"^\W*if you(['\u2019]re| are)\b.*\b(not|n['\u2019]t)\b", re.IGNORECASE)
REMEDY_START = re.compile(
    r"^\W*(we want|you want|instead|but by|by \w+ing|so |the fix|the answer|rather)", re.I
)
SIGN = re.compile(
    r"\b(it['\u2019]s|that['\u2019]s|this is) a (sure )?(sign|signal|indication)\b", re.I
)


def prose_mistakes(parts: list[str]) -> Iterator[tuple[str, str]]:
    """(mistake, fix) pairs told in prose: "Most people just bend their knees first..." then
    "We want to...", or "If you're just feeling it in your quads, you're not..." then "But by
    ...". A "sign it is too heavy" sentence is a mistake whose fix the article does not give
    (the fix is then empty)."""
    for index, sentence in enumerate(parts):
        following = parts[index + 1] if index + 1 < len(parts) else ""
        if (MOST_PEOPLE.search(sentence) or IF_NOT.search(sentence)) and following:
            if REMEDY_START.search(following) or (is_fix(following) and not is_caution(following)):
                yield sentence, following
        elif SIGN.search(sentence):
            yield sentence, ""
