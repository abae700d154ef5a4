"""What a PR description states about its evidence: numbers, models, training, curves, files.

Every pattern is RE2 (linear time) and runs over one bounded line of the parsed body at a time.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gym_review_bot.evidence.body import Link, ParsedBody, Section, normalize
from gym_review_bot.models import Evidence

_NUMBER_TAIL = r"\s*(?:of|is|was|were|=|:|\||~|≈)?\s*\|?\s*"
_PROMPTS_RE = r"(\d[\d,]*)\s*(prompts|tasks|problems|questions|samples)(\s+(?:per|each|/))?"
_PROMPTS_LABEL_RE = r"(?:^|\W)(?:prompts|tasks|problems|questions)(?:\s*profiled)?" + _NUMBER_TAIL + r"(\d[\d,]*)"
_RESPONSES_RE = (
    r"(\d+)\s*(?:responses|rollouts|samples|generations|completions|attempts)\s*(?:per|for each|each|/)\s*"
    r"(?:prompt|task|problem|question)"
)
_RESPONSES_LABEL_RE = (
    r"(?:responses|rollouts|samples|generations)\s*(?:per|/)\s*(?:prompt|task)" + _NUMBER_TAIL + r"(\d+)"
)
_MEAN_RE = r"(?:mean|average|avg)\.?\s*reward" + _NUMBER_TAIL + r"(-?\d*\.?\d+)\s*(%?)"
_PASS_RE = r"(?:pass\s*rate|pass@1|success\s*rate)" + _NUMBER_TAIL + r"(\d*\.?\d+)\s*(%?)"
_MODEL_RE = (
    r"\b((?:qwen|llama|gpt|claude|mistral|mixtral|gemini|deepseek|nemotron|gemma|phi-|olmo|grok|kimi|glm)"
    r"[a-z0-9.\-_/:]*(?:[ \-](?:\d+(?:\.\d+)?b|a\d+b|instruct|thinking|base|chat))*)"
)
_JSONL_RE = r"([a-z0-9_./\-]+\.jsonl)\b"


@cache
def _patterns() -> dict[str, Any]:
    """The compiled patterns, built on first use (re2 is slow to load; most reviews need no body)."""
    import re2

    return {
        "prompts": re2.compile(_PROMPTS_RE),
        "prompts_label": re2.compile(_PROMPTS_LABEL_RE),
        "responses": re2.compile(_RESPONSES_RE),
        "responses_label": re2.compile(_RESPONSES_LABEL_RE),
        "mean": re2.compile(_MEAN_RE),
        "pass": re2.compile(_PASS_RE),
        "model": re2.compile(_MODEL_RE),
        "jsonl": re2.compile(_JSONL_RE),
    }


REFERENCE_MODELS = ("qwen3-4b", "qwen3-30b-a3b")
BENCHMARKS = (
    "aime",
    "gsm8k",
    "math-500",
    "math500",
    "humaneval",
    "mbpp",
    "mmlu",
    "gpqa",
    "livecodebench",
    "swe-bench",
    "bfcl",
    "tau-bench",
    "arena-hard",
    "ifeval",
    "benchmark",
    "benchmarks",
)
TRAINING_WORDS = ("training", "train", "grpo", "rl")
CURVE_HOSTS = ("wandb.ai", "api.wandb.ai", "mlflow", "tensorboard", "tensorboard.dev", "comet.com")
MAX_LINE_CHARS = 4000


def canonical_model(name: str) -> str:
    """`Qwen/Qwen3 30B A3B` -> `qwen3-30b-a3b`: lower case, org dropped, separators made `-`."""
    base = name.lower().rsplit("/", 1)[-1]
    return "-".join(normalize(base).split())


def is_reference_model(name: str) -> bool:
    canon = canonical_model(name)
    return any(canon == ref or canon.startswith(ref + "-") for ref in REFERENCE_MODELS)


@dataclass
class BodyClaims:
    """The statements of the part of a PR description that speaks for one server."""

    prompts: int | None = None
    responses_per_prompt: int | None = None
    reward_mean: float | None = None
    pass_rate: float | None = None
    models: list[str] = field(default_factory=list)
    equivalent_models: list[str] = field(default_factory=list)  # named in a line that says "equivalent"
    grpo_lines: list[str] = field(default_factory=list)
    grpo_models: list[str] = field(default_factory=list)
    benchmarks: list[str] = field(default_factory=list)
    tool_metrics_stated: bool = False
    training_links: list[Link] = field(default_factory=list)  # images and links that look like curves
    benchmark_links: list[Link] = field(default_factory=list)
    named_files: list[str] = field(default_factory=list)  # *.jsonl paths the body names

    def self_reported(self) -> Evidence | None:
        """The body's own numbers as evidence, when it states any (not verified)."""
        if self.prompts is None and self.reward_mean is None and self.pass_rate is None:
            return None
        return Evidence(
            source="PR body",
            kind="pr_body",
            self_reported=True,
            prompts=self.prompts,
            responses_per_prompt=self.responses_per_prompt,
            responses_per_prompt_max=self.responses_per_prompt,
            models=list(self.models),
            reward_mean=self.reward_mean,
            pass_rate=self.pass_rate,
        )


def _int(text: str) -> int | None:
    digits = text.replace(",", "")
    return int(digits) if digits.isdigit() and len(digits) < 10 else None


def _fraction(number: str, percent: str) -> float | None:
    try:
        value = float(number)
    except ValueError:
        return None
    return value / 100 if percent or value > 1 else value


def _numbers(claims: BodyClaims, line: str) -> None:
    p = _patterns()
    if claims.prompts is None:
        for m in p["prompts"].finditer(line):
            if not m.group(3):
                claims.prompts = _int(m.group(1))
                break
        if claims.prompts is None and (m := p["prompts_label"].search(line)):
            claims.prompts = _int(m.group(1))
    if claims.responses_per_prompt is None and (m := p["responses"].search(line) or p["responses_label"].search(line)):
        claims.responses_per_prompt = _int(m.group(1))
    if claims.reward_mean is None and (m := p["mean"].search(line)):
        claims.reward_mean = _fraction(m.group(1), m.group(2))
    if claims.pass_rate is None and (m := p["pass"].search(line)):
        claims.pass_rate = _fraction(m.group(1), m.group(2))


def _words(line: str) -> set[str]:
    return set(normalize(line).split())


def read_claims(sections: list[Section]) -> BodyClaims:
    p = _patterns()
    claims = BodyClaims()
    training_section = benchmark_section = False
    for section in sections:
        label_words = _words(section.label)
        if section.label and section.level < 7:
            training_section = bool(label_words & {"training", "train", "grpo"})
            benchmark_section = bool(label_words & {"benchmark", "benchmarks", "test", "evaluation", "eval"})
        lines = [section.label, *section.blocks]
        section_models: list[str] = []
        for raw in lines:
            line = raw[:MAX_LINE_CHARS].lower()
            words = _words(line)
            _numbers(claims, line)
            found = [m.group(1).rstrip(".-_/:") for m in p["model"].finditer(line)]
            section_models += found
            for model in found:
                if model not in claims.models and len(claims.models) < 20:
                    claims.models.append(model)
            if "equivalent" in words:
                claims.equivalent_models += found
            if "grpo" in words:
                claims.grpo_lines.append(raw[:200])
            for bench in BENCHMARKS:
                if bench in words or (("-" in bench or bench.isalnum()) and f" {bench} " in f" {line} "):
                    if bench not in claims.benchmarks:
                        claims.benchmarks.append(bench)
            if "tool" in line and "correlation" in words:
                claims.tool_metrics_stated = True
            for m in p["jsonl"].finditer(line):
                if len(claims.named_files) < 20:
                    claims.named_files.append(raw[m.start(1) : m.end(1)])
        if any("grpo" in _words(x) for x in lines):
            claims.grpo_models += section_models
        for link in section.links:
            curve = link.image or any(host in link.href.lower() for host in CURVE_HOSTS)
            if not curve:
                continue
            # the link's text, its file name and the label over it; never the host (`x.test` is not a test)
            text_words = _words(f"{link.text} {link.href.rsplit('/', 1)[-1]}") | label_words
            if (
                benchmark_section
                or text_words & {"test", "benchmark", "eval", "evaluation", "validation"}
                or any(b in text_words for b in claims.benchmarks if b not in ("benchmark", "benchmarks"))
            ):
                claims.benchmark_links.append(link)
            if training_section or text_words & {"train", "training", "accuracy", "reward", "curve", "grpo"}:
                claims.training_links.append(link)
        if any(link.href.lower().endswith(".jsonl") for link in section.links):
            claims.named_files += [link.href for link in section.links if link.href.lower().endswith(".jsonl")][:5]
    return claims


def scope_for_server(body: ParsedBody, server: str, several: bool) -> list[Section] | None:
    """The sections that speak for a server: all of them with one server; with several, those under its name."""
    if not several:
        return body.sections
    name = normalize(server.replace("_", " "))
    picked: list[Section] = []
    level: int | None = None
    for section in body.sections:
        if level is not None and section.level > level:
            picked.append(section)
            continue
        level = None
        label = normalize(section.label.replace("_", " "))
        if name and f" {name} " in f" {label} ":
            picked.append(section)
            level = section.level
    return picked or None


def resolve_named_file(named: str, server_path: str) -> str | None:
    """A path named in the body, inside the server directory of the head commit's tree; else None."""
    text = named.strip()
    for prefix in ("https://", "http://"):
        if text.lower().startswith(prefix):
            at = text.find(f"/{server_path}/")
            if at < 0:
                return None
            text = text[at + 1 :]
    text = text.lstrip("./") if text.startswith("./") else text
    candidate = posixpath.normpath(text if text.startswith(server_path + "/") else posixpath.join(server_path, text))
    if candidate.startswith("/") or not candidate.startswith(server_path + "/"):
        return None
    return candidate
