"""What the comment's layout is built from: check families, links to the head SHA, the delta, short messages.

Nothing here trusts the PR: links are built from the repository and SHA the bot was given and a
file path that is percent-encoded and refused when it could climb out of the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from gym_review_bot.models import Finding, Report, ServerReport

FAMILIES = ("files", "code", "config", "data", "licence", "sandbox", "evidence")
_FAMILY_OF = {
    "GR100": "files",
    "GR117": "files",
    "GR119": "files",
    "GR120": "files",
    "GR101": "code",
    "GR102": "code",
    "GR105": "code",
    "GR108": "code",
    "GR103": "config",
    "GR104": "config",
    "GR118": "config",
    "GR106": "data",
    "GR107": "data",
    "GR110": "data",
    "GR111": "data",
    "GR112": "data",
    "GR116": "data",
    "GR121": "data",
    "GR109": "licence",
    "GR113": "licence",
    "GR114": "licence",
    "GR115": "licence",
}
GUIDE_URL = "https://github.com/NVIDIA-NeMo/Gym/blob/main/CONTRIBUTING.md"
RECHECK = "/gym-review recheck"
OVERRIDE = '/gym-review override GRxxx "reason"'
REPRODUCE = "gym-review check --repo . --base origin/main"
FOLD_SERVERS = 5  # more servers than this: the table shows those with problems, the rest folded

_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SERVER_URL = re.compile(r"^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")
_PAGE_URL = re.compile(r"^https://[A-Za-z0-9.:-]{1,260}/[A-Za-z0-9._~/%-]{0,500}$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
SHORT_CHARS = 160  # the inline part of a message; the rest is folded with the fix


def family(check_id: str) -> str:
    """The column a check counts in; PR description checks (GR3xx) have their own line."""
    if check_id in _FAMILY_OF:
        return _FAMILY_OF[check_id]
    return {"GR2": "sandbox", "GR3": "pr", "GR4": "evidence"}.get(check_id[:3], "files")


def cell_icon(findings: list[Finding], icons: dict[str, str]) -> str:
    """One table cell: the worst outcome among a family's findings (a check that could not run is never a pass)."""
    if not findings:
        return "–"
    if any(f.blocks_merge for f in findings):
        return icons["fail"]
    if any(f.status == "error" for f in findings):
        return icons["error"]
    failing = [f for f in findings if f.status == "fail"]
    if any(f.waived is None and not f.pre_existing for f in failing):
        return icons["warn"]
    if any(f.waived is not None for f in failing):
        return icons["waived"]
    if failing:
        return icons["pre"]
    # Part of the family was not looked at (not asked for, or waiting on a failed prerequisite): not a pass.
    unchecked = any(f.skip_kind in ("not_requested", "prerequisite_failed") for f in findings)
    return icons["pass"] if any(f.status == "pass" for f in findings) and not unchecked else icons["skip"]


def family_cells(findings: list[Finding], icons: dict[str, str]) -> list[str]:
    return [cell_icon([f for f in findings if family(f.id) == name], icons) for name in FAMILIES]


def has_problem(server: ServerReport) -> bool:
    return any(f.status in ("fail", "error") for f in server.findings)


def servers_in_order(report: Report) -> list[ServerReport]:
    """Blocking servers first, then ones with warnings or checks that could not run, then the rest."""
    rank = {True: 0, False: 1}
    return sorted(report.servers, key=lambda s: (rank[s.failed], rank[has_problem(s)]))


@dataclass(frozen=True)
class Links:
    """Where file links point: only ever `server/owner/name/blob/<sha>/<path>`, or nowhere."""

    repo: str | None = None
    sha: str | None = None
    server: str = "https://github.com"

    @property
    def usable(self) -> bool:
        return bool(
            self.repo
            and _REPO.match(self.repo)
            and self.sha
            and _SHA.match(self.sha)
            and _SERVER_URL.match(self.server)
        )

    def to(self, file: str | None, line: int | None = None) -> str | None:
        """The URL of a file (and line) at the head SHA, or None when the path could leave the repository."""
        if not self.usable or not file:
            return None
        parts = file.split("/")
        if file.startswith("/") or any(p in ("", ".", "..") for p in parts) or len(file) > 1000:
            return None
        anchor = f"#L{line}" if isinstance(line, int) and 0 < line < 10_000_000 else ""
        return f"{self.server}/{self.repo}/blob/{self.sha}/{quote(file, safe='/')}{anchor}"


def is_sha(text: str) -> bool:
    return bool(_SHA.match(text))


def page_url(url: str | None) -> str | None:
    """A run or guide URL the bot was given, if it is a plain https URL (nothing Markdown could act on)."""
    return url if url and _PAGE_URL.match(url) and ".." not in url else None


@dataclass
class Delta:
    """What changed since the last review, by failing fingerprints; `head` is the commit compared with."""

    head: str
    fixed: int = 0
    new: list[str] = field(default_factory=list)  # check ids of the new failures, in report order
    new_more: int = 0  # new failures beyond those listed
    still: int = 0
    partial: bool = False  # the previous list was truncated: fixed counts at most what it held


def current_failing(report: Report) -> list[tuple[str, str]]:
    """(check id, fingerprint) of every blocking failure, as the merge decision lists them (PR description too)."""
    findings = [f for s in report.servers for f in s.findings] + (report.pr.findings if report.pr else [])
    return [(f.id, f.fingerprint) for f in findings if f.blocks_merge]


def compute_delta(
    previous_head: str, previous: list[tuple[str, str]], now: list[tuple[str, str]], more: int = 0
) -> Delta:
    """Fixed: failing before, not now; new: failing now, not before; still: both (by check id and fingerprint)."""
    before = {tuple(p) for p in previous}
    current = {tuple(p) for p in now}
    new = [check for check, fp in now if (check, fp) not in before]
    still = len(current & before)
    return Delta(head=previous_head, fixed=len(before - current), new=new, still=still, partial=more > 0)


def short_message(finding: Finding, server_path: str) -> str:
    """The message without the path the line already links: the finding's own file at the start is
    dropped, and other paths are shown relative to the server."""
    text = finding.message
    if finding.file and text.startswith(finding.file):
        rest = text[len(finding.file) :]
        if rest[:1] in (":", " ", ","):
            text = rest.lstrip(":, ")
            text = text[:1].upper() + text[1:]
    if server_path:
        text = text.replace(server_path.rstrip("/") + "/", "")
    if finding.line and text.startswith(f"Line {finding.line}: "):
        text = text[len(f"Line {finding.line}: ") :]  # the link shows the line
    return text


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


def relative(file: str | None, server_path: str) -> str:
    if not file:
        return ""
    prefix = server_path.rstrip("/") + "/"
    return file[len(prefix) :] if server_path and file.startswith(prefix) else file
