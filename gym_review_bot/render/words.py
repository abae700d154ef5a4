"""Wording and icons the comment and the terminal share, all read from the judge's classes."""

from __future__ import annotations

import re

from gym_review_bot.judge import Judgement, Klass
from gym_review_bot.models import Finding, ServerReport

MARKER = "<!-- gym-review-bot -->"
ICONS = {"pass": "✅", "fail": "❌", "warn": "⚠️", "skip": "⏭️", "pre": "🕰️", "error": "🚫", "waived": "🔒"}
KLASS_ICON: dict[Klass, str] = {
    "passed": ICONS["pass"],
    "skipped": ICONS["skip"],
    "not_run": ICONS["error"],
    "waived": ICONS["waived"],
    "pre_existing": ICONS["pre"],
    "warning": ICONS["warn"],
    "blocking": ICONS["fail"],
}
# The headline's icon and words for each of the judge's headlines.
HEADLINES = {
    "pass": (ICONS["pass"], "no blocking problems"),
    "fail": (ICONS["fail"], "changes needed"),
    "error": (ICONS["error"], "incomplete"),
    "incomplete": (ICONS["error"], "incomplete"),
}
# The commit status's description (at most 140 characters) for each of the judge's headlines.
STATUS_TEXT = {
    "pass": "passing",
    "fail": "changes needed",
    "error": "incomplete: a check could not run",
    "incomplete": "incomplete: parts of the review did not run",
}
SKIP_KINDS = {
    "not_applicable": "",  # its reason says why
    "prerequisite_failed": "",  # its reason says it: "waits on GR109"
    "not_requested": "not requested",
    "disabled_by_policy": "off by policy",
}
FIX_PREFIX = "How to fix:"
POLICY_OFF = "this registry's rules (.gym-review.yaml) do not ask for them"


def count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def finding_icon(finding: Finding, judgement: Judgement) -> str:
    return KLASS_ICON[judgement.klass(finding)]


def server_icon(server: ServerReport, judgement: Judgement) -> str:
    """❌ when it blocks, 🚫 when a check could not run, else ✅."""
    if judgement.server_blocks(server.name):
        return ICONS["fail"]
    return ICONS["error"] if any(f.status == "error" for f in server.findings) else ICONS["pass"]


def problem_counts(judgement: Judgement, not_run: bool = True) -> str:
    """The heading's counts: "3 errors, 1 warning in 1 server", only the kinds there are."""
    s = judgement.summary
    parts = [count(s.errors, "error"), count(s.warnings, "warning"), f"{s.not_run if not_run else 0} not run"]
    parts.append(f"{s.pre_existing} pre-existing")
    shown = [part for part in parts if not part.startswith("0 ")]
    servers = count(s.servers, "server")
    return f"{', '.join(shown)} in {servers}" if shown else servers


def needs_fix(finding: Finding) -> bool:
    """A failure shows its fix hint, unless its message already gives one (sandbox messages do)."""
    return (
        finding.status == "fail"
        and bool(finding.fix)
        and finding.fix not in finding.message
        and FIX_PREFIX not in finding.message
    )


def skip_groups(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """Skipped findings as (ids, kind, reason): all with the same kind and reason on one line, runs as ranges."""
    groups: dict[tuple[str, str], list[list[str]]] = {}
    previous: tuple[str, str] | None = None
    for f in findings:
        reason = POLICY_OFF if f.skip_kind == "disabled_by_policy" else skip_reason(f)
        key = (SKIP_KINDS.get(f.skip_kind or "", ""), reason) if f.status == "skip" else None
        if key is not None:
            runs = groups.setdefault(key, [])
            if previous == key:
                runs[-1].append(f.id)
            else:
                runs.append([f.id])
        previous = key
    return [(", ".join(_run(r) for r in runs), kind, reason) for (kind, reason), runs in groups.items()]


_WAITS_ON = re.compile(r"^(?:Not run: )?(waits on GR[0-9]+(?:, GR[0-9]+)*)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
SHORT_CHARS = 160  # the inline part of a message; the rest is folded with the fix


def skip_reason(finding: Finding) -> str:
    """Why a check was skipped, short: "waits on GR109" for a failed prerequisite, else the first sentence."""
    waits = _WAITS_ON.match(finding.message)
    if finding.skip_kind == "prerequisite_failed" and waits:
        return waits.group(1)
    text = finding.message.removeprefix("Not run: ").removeprefix("Not applicable: ")
    first, _ = split_message(sentence_case(text))
    return first


_PLAIN_WORD = re.compile(r"^[a-z]+(?=[ ,:;]|$)")


def sentence_case(text: str) -> str:
    """The text with its first letter capitalised, when it starts with a plain word: a path, a file name or
    an identifier (`resources_servers/...`, `data/example.jsonl`, `verify()`) is shown as it is written."""
    return text[:1].upper() + text[1:] if _PLAIN_WORD.match(text) else text


def split_message(text: str) -> tuple[str, str]:
    """(the first sentence, the rest): the first is shown inline, the rest folded with the fix."""
    parts = _SENTENCE_END.split(text, maxsplit=1)
    first = parts[0]
    rest = parts[1] if len(parts) > 1 else ""
    if len(first) > SHORT_CHARS:
        cut = first.rfind(" ", 0, SHORT_CHARS)
        cut = cut if cut > SHORT_CHARS // 2 else SHORT_CHARS
        first, rest = first[:cut] + " …", ("… " + first[cut:].lstrip() + (" " + rest if rest else "")).strip()
    return first, rest


_SAID_ONCE = ("not requested", "off by policy")  # the run's or the registry's choice, the same for every check


def fold_skips(findings: list[Finding]) -> list[tuple[str, str, str]]:
    """Skip lines for the comment: one line per kind where the reason is the run's or the registry's
    choice (said once in the comment's head), one per reason otherwise."""
    merged: dict[str, list[str]] = {}
    lines: list[tuple[str, str, str]] = []
    for ids, kind, reason in skip_groups(findings):
        if kind in _SAID_ONCE:
            merged.setdefault(kind, []).append(ids)
        else:
            lines.append((ids, kind, reason))
    return [(", ".join(ids), kind, "") for kind, ids in merged.items()] + lines


def _run(ids: list[str]) -> str:
    return ids[0] if len(ids) == 1 else f"{ids[0]}–{ids[-1]}"


_NUMBERED = re.compile(r"^([A-Z]+)([0-9]+)$")


def id_runs(findings: list[Finding]) -> str:
    """Check ids as runs of consecutive numbers: `GR100–GR103, GR105, GR110–GR113`."""
    runs: list[list[str]] = []
    last: tuple[str, int] | None = None
    for f in findings:
        m = _NUMBERED.match(f.id)
        key = (m.group(1), int(m.group(2))) if m else None
        if key and last and runs and key == (last[0], last[1] + 1):
            runs[-1].append(f.id)
        else:
            runs.append([f.id])
        last = key
    return ", ".join(_run(r) for r in runs)
