"""What the comment's layout is built from: table cells, links to the head SHA, the delta, short messages.

Nothing here trusts the PR: links are built from the repository and SHA the bot was given and a
file path that is percent-encoded and refused when it could climb out of the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from gym_review_bot.catalogue import FAMILIES, Catalogue
from gym_review_bot.judge import Judgement, Klass
from gym_review_bot.models import Finding, Report, ServerReport
from gym_review_bot.render.words import ICONS, KLASS_ICON, sentence_case

GUIDE_URL = "https://github.com/NVIDIA-NeMo/Gym/blob/main/CONTRIBUTING.md"
RECHECK = "/gym-review recheck"
OVERRIDE = '/gym-review override GRxxx "reason"'
REPRODUCE = "gym-review check --repo . --base origin/main"
FOLD_SERVERS = 5  # more servers than this: the table shows those with problems, the rest folded

_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_SERVER_URL = re.compile(r"^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")
_PAGE_URL = re.compile(r"^https://[A-Za-z0-9.:-]{1,260}/[A-Za-z0-9._~/%-]{0,500}$")
# The worst class among a cell's findings decides its icon, in this order.
_WORST: tuple[Klass, ...] = ("blocking", "not_run", "warning", "waived", "pre_existing")


def cell_icon(findings: list[Finding], judgement: Judgement) -> str:
    """One table cell: the worst outcome among a family's findings (a check that could not run is never a pass)."""
    if not findings:
        return "–"
    klasses = {judgement.klass(f) for f in findings}
    worst = next((k for k in _WORST if k in klasses), None)
    if worst is not None:
        return KLASS_ICON[worst]
    # Part of the family was not looked at (not asked for, or waiting on a failed prerequisite): not a pass.
    unchecked = any(f.skip_kind in ("not_requested", "prerequisite_failed") for f in findings)
    return ICONS["pass"] if "passed" in klasses and not unchecked else ICONS["skip"]


def family_cells(findings: list[Finding], judgement: Judgement, catalogue: Catalogue) -> list[str]:
    by_family: dict[str, list[Finding]] = {}
    for f in findings:
        by_family.setdefault(catalogue.family(f.id) or "", []).append(f)
    return [cell_icon(by_family.get(name, []), judgement) for name in FAMILIES]


def has_problem(server: ServerReport) -> bool:
    return any(f.status in ("fail", "error") for f in server.findings)


def servers_in_order(report: Report, judgement: Judgement) -> list[ServerReport]:
    """Blocking servers first, then ones with warnings or checks that could not run, then the rest."""
    return sorted(report.servers, key=lambda s: (not judgement.server_blocks(s.name), not has_problem(s)))


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
            text = sentence_case(text)
    if server_path:
        text = text.replace(server_path.rstrip("/") + "/", "")
    if finding.line and text.startswith(f"Line {finding.line}: "):
        text = text[len(f"Line {finding.line}: ") :]  # the link shows the line
    return text


def relative(file: str | None, server_path: str) -> str:
    if not file:
        return ""
    prefix = server_path.rstrip("/") + "/"
    return file[len(prefix) :] if server_path and file.startswith(prefix) else file
