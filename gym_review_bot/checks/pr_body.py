"""Check the PR description for what the contribution guide's step 7 asks of it (GR301-GR305).

The required parts, the words that name each and their severities come from `PrBodySettings`
(the registry's `.gym-review.yaml` `pr_body:`), the guide's step 7 by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gym_review_bot.checks import quote
from gym_review_bot.checks.base import Check, Outcome, SkipCheck, failed, passed, skipped
from gym_review_bot.checks.licence import is_placeholder as is_licence_placeholder
from gym_review_bot.checks.licence import names_licence, says_synthetic, split_label
from gym_review_bot.checks.pull import PrContext
from gym_review_bot.config import PartSettings, PrBodySettings
from gym_review_bot.evidence.body import ParsedBody, normalize

MAX_QUOTED = 80


@dataclass
class PartText:
    """What the body says under the labels that name one part."""

    labels: list[str]
    text: str
    pairs: list[tuple[str | None, str]] = field(default_factory=list)  # (a lead-in label or None, its text)


def label_part(label: str, settings: PrBodySettings) -> str | None:
    """The part a heading or label names: the synonym found earliest in it (the longer on a tie)."""
    padded = f" {normalize(label)} "
    for weak in (False, True):
        best: tuple[int, int, str] | None = None
        for part_id, part in settings.parts.items():
            for synonym in part.weak_synonyms if weak else part.synonyms:
                word = normalize(synonym)
                at = padded.find(f" {word} ") if word else -1
                if at >= 0:
                    rank = (at, -len(word), part_id)
                    best = rank if best is None or rank < best else best
        if best:
            return best[2]
    return None


def part_texts(body: ParsedBody, settings: PrBodySettings) -> dict[str, PartText]:
    """Each part's text: its sections' own text and that of deeper, unlabelled (or unmatched) sections."""
    found: dict[str, PartText] = {}
    parts = [label_part(s.label, settings) if s.label else None for s in body.sections]
    for i, section in enumerate(body.sections):
        part = parts[i]
        if part is None:
            continue
        chunks = list(section.blocks)
        pairs: list[tuple[str | None, str]] = [(None, block) for block in section.blocks]
        for j in range(i + 1, len(body.sections)):
            deeper = body.sections[j]
            if deeper.level <= section.level or parts[j] is not None:
                break
            chunks += [deeper.label, *deeper.blocks] if deeper.label else deeper.blocks
            pairs.append((deeper.label or None, " ".join(deeper.blocks)))
        entry = found.setdefault(part, PartText([], ""))
        entry.labels.append(section.label)
        entry.text = (entry.text + "\n" + "\n".join(chunks)).strip()
        entry.pairs += pairs
    return found


def is_placeholder(text: str, settings: PrBodySettings) -> bool:
    norm = normalize(text)
    if not norm:
        return True
    stripped = text.strip()
    if stripped[:1] in "<[" and stripped[-1:] in ">]" and len(stripped) < 300:
        return True  # `<describe the environment>`, `[your text here]`
    holders = {normalize(p) for p in settings.placeholders}
    return norm in holders or any(norm.startswith(h + " ") for h in holders if h in ("describe", "todo", "tbd"))


def _quote(text: str) -> str:
    """PR text on one line, its line breaks kept visible (LINE_BREAK): a list stays a list, item by item."""
    one_line = quote.LINE_BREAK.join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return one_line if len(one_line) <= MAX_QUOTED else one_line[: MAX_QUOTED - 1] + "…"


def _part_check(part_id: str, part: PartSettings) -> Check:
    def run(ctx: PrContext) -> Outcome:
        body = _require_body(ctx)
        settings = ctx.policy.pr_body
        found = part_texts(body, settings).get(part_id)
        names = ", ".join(f"`{s}`" for s in part.synonyms[:4])
        if found is None:
            return failed(
                f"The PR description has no part for this (a heading or label such as {names}).", key="absent"
            )
        labels = ", ".join(f"“{_quote(label)}”" for label in found.labels)
        if is_placeholder(found.text, settings) or len(normalize(found.text).split()) < part.min_words:
            return failed(f"{labels} is empty or still holds the template's placeholder.", key="empty")
        if part_id in LICENCE_PARTS:
            problem = licence_problem(found)
            if problem:
                return failed(f"{labels}: {problem}.", key="licence:" + normalize(problem)[:200])
        words = set(normalize(found.text).split())
        text = f" {normalize(found.text)} "
        for group in part.must_mention:
            if not any(w in words or f" {normalize(w)} " in text for w in group):
                return failed(
                    f"{labels} does not say its {_group_name(group)} (none of: {', '.join(group[:6])}, ...).",
                    key="missing:" + group[0],
                )
        return passed(f"Described under {labels}.", key="present")

    fix = part.fix or f"Add a section named like {part.synonyms[0]}."
    return Check(part_id, part.severity, part.title, fix, family="description", run=run, scope="pr")


LICENCE_PARTS = frozenset({"GR304"})  # parts read as a licence statement, by the rule GR109 follows


def licence_problem(part: PartText) -> str | None:
    """Why a licensing part fails as GR109 would fail a README: a placeholder where a licence belongs (`Data: ?`,
    `Code - TBD`), or no licence named at all; None when it names one."""
    for label, text in part.pairs:
        for line in text.split("\n") if label is None else [text]:
            inner_label, value = split_label(line) if label is None else (label, line)
            if inner_label is not None and value.strip() and is_licence_placeholder(value):
                return (
                    f"{quote.code(_quote(f'{inner_label}: {value.strip()}'))} is a placeholder where a licence belongs"
                )
            if inner_label is None and line.strip() and is_licence_placeholder(line):
                return f"{quote.code(_quote(line))} is a placeholder where a licence belongs"
    if not names_licence(part.text) and not says_synthetic(part.text):
        return "it names no licence (an SPDX id or name, e.g. Apache-2.0, CC-BY-4.0, or a link to the upstream one)"
    return None


def _group_name(group: list[str]) -> str:
    names = {"source": "source", "domain": "domain", "data": "data licence", "code": "code licence"}
    return names.get(group[0], "required detail")


def _require_body(ctx: PrContext) -> ParsedBody:
    if ctx.body is None:
        raise SkipCheck("No PR description was given (--pr-body); the description was not checked.", "not_requested")
    return ctx.body


def _synthetic(ctx: PrContext) -> Outcome:
    import re2  # linear-time matching of PR text; loaded only when a body is checked

    body = _require_body(ctx)
    settings = ctx.policy.pr_body
    families = "|".join(re2.escape(normalize(f)) for f in settings.model_families if normalize(f))
    model = re2.compile(rf"(?:^| )(?:{families})[0-9a-z]*(?: |$)")
    synthetic = [f" {normalize(w)} " for w in settings.synthetic_words if normalize(w)]
    negations = {normalize(n) for n in settings.negations}
    for section in body.sections:
        lines = [section.label, *section.blocks]
        section_names_model = any(model.search(normalize(line)) for line in lines)
        for line in lines:
            norm = f" {normalize(line)} "
            if not any(s in norm for s in synthetic) or negations & set(norm.split()):
                continue
            if not section_names_model:
                return failed(
                    f"The description mentions synthetic data (“{_quote(line)}”) without naming the model(s) "
                    "that generated it.",
                    key=normalize(line)[:200],
                )
            return passed("Synthetic data is mentioned with the model that made it.", key="named")
    return skipped("The description does not mention synthetic data.")


def pr_body_checks(settings: PrBodySettings) -> list[Check]:
    """GR301-GR305 and a registry's own parts, with the severities its `pr_body:` section gives."""
    checks = [_part_check(part_id, part) for part_id, part in settings.parts.items()]
    checks.append(
        Check(
            "GR305",
            settings.synthetic_severity,
            "Synthetic data names the model that made it",
            "Name the model(s) that generated synthetic data, e.g. `Prompts were generated with Qwen3-235B-A22B`.",
            family="description",
            run=_synthetic,
            scope="pr",
        )
    )
    return sorted(checks, key=lambda c: c.id)
