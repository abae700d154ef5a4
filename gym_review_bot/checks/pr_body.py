"""Check the PR description for what the contribution guide's step 7 asks of it (GR301-GR305).

The required parts, the words that name each and their severities come from `PrBodySettings`
(the registry's `.gym-review.yaml` `pr_body:`), the guide's step 7 by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gym_review_bot.checks.base import Check, Outcome, SkipCheck, failed, passed, run_checks, skipped
from gym_review_bot.evidence.body import ParsedBody, normalize
from gym_review_bot.models import Finding, Severity

PR_SCOPE = "(pull request)"  # the "server" a PR body finding is fingerprinted under
MAX_QUOTED = 80


class PartSettings(BaseModel):
    """One required part of the description: the words that name it and what it must say."""

    model_config = ConfigDict(extra="forbid")

    title: str
    severity: Severity = "error"
    synonyms: list[str]  # matched as whole words in a heading or label, case and punctuation ignored
    # matched only when no part's synonyms match: "Description of the verification logic" is GR302's
    weak_synonyms: list[str] = Field(default_factory=list)
    min_words: int = Field(default=3, ge=0, le=1000)
    must_mention: list[list[str]] = Field(default_factory=list)  # each group: one of its words must appear
    fix: str = ""


DEFAULT_PARTS: dict[str, PartSettings] = {
    "GR301": PartSettings(
        title="The PR describes the environment",
        synonyms=["environment", "overview", "what does this pr do", "what this pr does"],
        weak_synonyms=["description", "summary", "about", "motivation", "context"],
        fix="Add a `## Environment` section saying what the environment is and what the model must do.",
    ),
    "GR302": PartSettings(
        title="The PR describes the verification logic",
        synonyms=["verification", "verifier", "verify", "reward function", "reward logic", "grading", "scoring"],
        fix="Add a `## Verification logic` section: how verify() decides the reward, and what earns 0 and 1.",
    ),
    "GR303": PartSettings(
        title="The PR describes the prompts/tasks: source and domain",
        synonyms=["prompts", "prompt", "tasks", "task", "dataset", "data source", "data sources", "source data"],
        min_words=2,
        must_mention=[
            [
                "source",
                "from",
                "dataset",
                "http",
                "https",
                "huggingface",
                "hf",
                "generated",
                "collected",
                "derived",
                "written",
                "scraped",
                "curated",
                "adapted",
                "synthetic",
            ],
            [
                "domain",
                "math",
                "maths",
                "mathematics",
                "coding",
                "code",
                "programming",
                "agent",
                "agentic",
                "tool",
                "knowledge",
                "reasoning",
                "instruction",
                "science",
                "games",
                "safety",
                "medical",
                "legal",
                "finance",
                "chemistry",
                "physics",
                "biology",
                "search",
                "conversation",
                "multimodal",
                "vision",
            ],
        ],
        fix="Add a `## Prompts / tasks` section naming where the prompts come from (source) and their domain.",
    ),
    "GR304": PartSettings(
        title="The PR states licences for data and software",
        synonyms=["licence", "license", "licences", "licenses", "licensing", "licencing", "copyright"],
        min_words=1,
        must_mention=[
            ["data", "dataset", "datasets", "prompts", "tasks"],
            ["code", "software", "server", "implementation", "repository", "environment", "library", "libraries"],
        ],
        fix="Add a `## Licensing` section: the data's licence and the code's licence (e.g. `Data: CC BY 4.0`).",
    ),
}
# Registries write the guide's text into their own templates; these strings left in place mean "not filled in".
DEFAULT_PLACEHOLDERS = [
    "todo",
    "tbd",
    "tba",
    "n a",
    "na",
    "none",
    "fill in",
    "fill me in",
    "coming soon",
    "wip",
    "to do",
    "xxx",
    "describe",
    "add description",
    "placeholder",
    "lorem ipsum",
]
DEFAULT_MODEL_FAMILIES = [
    "gpt",
    "claude",
    "llama",
    "qwen",
    "mistral",
    "mixtral",
    "gemini",
    "deepseek",
    "nemotron",
    "gemma",
    "grok",
    "olmo",
    "phi",
    "o1",
    "o3",
    "o4",
    "command",
    "kimi",
    "glm",
]


class PrBodySettings(BaseModel):
    """`.gym-review.yaml` `pr_body:` -- the required parts of a PR description and the evidence severities."""

    model_config = ConfigDict(extra="forbid")

    parts: dict[str, PartSettings] = Field(default_factory=dict)  # by check id; merged over the defaults
    placeholders: list[str] = Field(default_factory=lambda: list(DEFAULT_PLACEHOLDERS))
    synthetic_words: list[str] = [
        "synthetic",
        "synthetically",
        "llm generated",
        "model generated",
        "distilled",
        "generated by",
        "generated with",
        "generated using",
    ]
    negations: list[str] = ["no", "not", "none", "without", "never"]
    model_families: list[str] = Field(default_factory=lambda: list(DEFAULT_MODEL_FAMILIES))
    synthetic_severity: Severity = "warning"  # GR305
    evidence_severity: dict[str, Severity] = Field(default_factory=dict)  # e.g. {"GR411": "warning"}
    disabled: list[str] = Field(default_factory=list)  # check ids the registry does not ask for

    @field_validator("parts", mode="before")
    @classmethod
    def _complete_parts(cls, value: object) -> object:
        """A default part named in the settings keeps the defaults of what the settings leave out."""
        if not isinstance(value, dict):
            return value
        return {
            key: {**DEFAULT_PARTS[key].model_dump(), **part}
            if key in DEFAULT_PARTS and isinstance(part, dict)
            else part
            for key, part in value.items()
        }

    @model_validator(mode="after")
    def _merge_defaults(self) -> PrBodySettings:
        self.parts = {**DEFAULT_PARTS, **self.parts}
        return self


@dataclass
class PrBodyContext:
    body: ParsedBody | None  # None: no --pr-body
    settings: PrBodySettings


@dataclass
class PartText:
    """What the body says under the labels that name one part."""

    labels: list[str]
    text: str


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
        for j in range(i + 1, len(body.sections)):
            deeper = body.sections[j]
            if deeper.level <= section.level or parts[j] is not None:
                break
            chunks += [deeper.label, *deeper.blocks] if deeper.label else deeper.blocks
        entry = found.setdefault(part, PartText([], ""))
        entry.labels.append(section.label)
        entry.text = (entry.text + "\n" + "\n".join(chunks)).strip()
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
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= MAX_QUOTED else one_line[: MAX_QUOTED - 1] + "…"


def _part_check(part_id: str, part: PartSettings) -> Check:
    def run(ctx: PrBodyContext) -> Outcome:
        body = _require_body(ctx, part_id)
        found = part_texts(body, ctx.settings).get(part_id)
        names = ", ".join(f"`{s}`" for s in part.synonyms[:4])
        if found is None:
            return failed(
                f"The PR description has no part for this (a heading or label such as {names}).", key="absent"
            )
        labels = ", ".join(f"“{_quote(label)}”" for label in found.labels)
        if is_placeholder(found.text, ctx.settings) or len(normalize(found.text).split()) < part.min_words:
            return failed(f"{labels} is empty or still holds the template's placeholder.", key="empty")
        words = set(normalize(found.text).split())
        text = f" {normalize(found.text)} "
        for group in part.must_mention:
            if not any(w in words or f" {normalize(w)} " in text for w in group):
                return failed(
                    f"{labels} does not say its {_group_name(group)} (none of: {', '.join(group[:6])}, ...).",
                    key="missing:" + group[0],
                )
        return passed(f"Described under {labels}.", key="present")

    return Check(part_id, part.severity, part.title, part.fix or f"Add a section named like {part.synonyms[0]}.", run)


def _group_name(group: list[str]) -> str:
    names = {"source": "source", "domain": "domain", "data": "data licence", "code": "code licence"}
    return names.get(group[0], "required detail")


def _require_body(ctx: PrBodyContext, check_id: str) -> ParsedBody:
    if check_id in ctx.settings.disabled:
        raise SkipCheck("Turned off by this registry's `.gym-review.yaml` (pr_body.disabled).", "disabled_by_policy")
    if ctx.body is None:
        raise SkipCheck("No PR description was given (--pr-body); the description was not checked.", "not_requested")
    return ctx.body


def _synthetic(ctx: PrBodyContext) -> Outcome:
    import re2  # linear-time matching of PR text; loaded only when a body is checked

    body = _require_body(ctx, "GR305")
    settings = ctx.settings
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
    checks = [_part_check(part_id, part) for part_id, part in settings.parts.items()]
    checks.append(
        Check(
            "GR305",
            settings.synthetic_severity,
            "Synthetic data names the model that made it",
            "Name the model(s) that generated synthetic data, e.g. `Prompts were generated with Qwen3-235B-A22B`.",
            _synthetic,
        )
    )
    return sorted(checks, key=lambda c: c.id)


CHECKS = pr_body_checks(PrBodySettings())  # the defaults, for the README catalogue


def check_pr_body(body: ParsedBody | None, settings: PrBodySettings) -> list[Finding]:
    """GR301-GR305 (and a registry's own parts) on the PR description."""
    return run_checks(pr_body_checks(settings), PrBodyContext(body, settings), PR_SCOPE)
