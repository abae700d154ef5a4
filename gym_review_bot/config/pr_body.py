"""`.gym-review.yaml` `pr_body:`: the required parts of a PR description and the evidence severities."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated, Literal

from gym_review_bot.config.strict import Rule, Strict

Severity = Literal["error", "warning"]


@dataclass(frozen=True, kw_only=True)
class PartSettings(Strict):
    """One required part of the description: the words that name it and what it must say."""

    title: str
    severity: Severity = "error"
    synonyms: list[str]  # matched as whole words in a heading or label, case and punctuation ignored
    # matched only when no part's synonyms match: "Description of the verification logic" is GR302's
    weak_synonyms: list[str] = field(default_factory=list)
    min_words: Annotated[int, Rule(ge=0, le=1000)] = 3
    must_mention: list[list[str]] = field(default_factory=list)  # each group: one of its words must appear
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


def _merge_defaults(value: object) -> object:
    """A registry's `parts:` over the default parts; a default part it names keeps what it leaves out."""
    if not isinstance(value, dict):
        return value
    given = {
        key: {**asdict(DEFAULT_PARTS[key]), **part} if key in DEFAULT_PARTS and isinstance(part, dict) else part
        for key, part in value.items()
    }
    return {**{key: asdict(part) for key, part in DEFAULT_PARTS.items()}, **given}


@dataclass(frozen=True, kw_only=True)
class PrBodySettings(Strict):
    """`.gym-review.yaml` `pr_body:` -- the required parts of a PR description and the evidence severities."""

    # by check id: a registry's parts are merged over the defaults (a default part it names keeps the
    # defaults of what it leaves out)
    parts: Annotated[dict[str, PartSettings], Rule(before=_merge_defaults)] = field(
        default_factory=lambda: dict(DEFAULT_PARTS)
    )
    placeholders: list[str] = field(default_factory=lambda: list(DEFAULT_PLACEHOLDERS))
    synthetic_words: list[str] = field(
        default_factory=lambda: [
            "synthetic",
            "synthetically",
            "llm generated",
            "model generated",
            "distilled",
            "generated by",
            "generated with",
            "generated using",
        ]
    )
    negations: list[str] = field(default_factory=lambda: ["no", "not", "none", "without", "never"])
    model_families: list[str] = field(default_factory=lambda: list(DEFAULT_MODEL_FAMILIES))
    synthetic_severity: Severity = "warning"  # GR305
    evidence_severity: dict[str, Severity] = field(default_factory=dict)  # e.g. {"GR411": "warning"}
    disabled: list[str] = field(default_factory=list)  # check ids the registry does not ask for
