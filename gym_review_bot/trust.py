"""Whether a report made by another job can be believed: re-judged under the trusted rules, never taken at its word.

`publish` and the merge gate read a report that a workflow run wrote. They never trust what it says of
itself: its verdict, completeness and summary are recomputed by the judge with the trusted config's
waivers, and the report is refused when it contradicts the catalogue or that config anywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

from gym_review_bot.blast.affected import CORE_DIR
from gym_review_bot.catalogue import Catalogue
from gym_review_bot.checks.blast import BLAST_CHECK, breaks_outcome
from gym_review_bot.discover import SERVERS_DIR
from gym_review_bot.judge import Judgement, judge
from gym_review_bot.models import Report, ServerReport
from gym_review_bot.plan import PLAN_CHECK_ID

MAX_NAMED = 3  # names in a refusal: it becomes a commit status description (140 characters)


class Untrusted(Exception):
    """The report contradicts the trusted rules or the PR; the message says where (a status description)."""


def touched_servers(paths: Iterable[str]) -> set[str]:
    """The names under resources_servers/ a PR's changed paths touch (files inside, or the entry itself)."""
    names = set()
    for path in paths:
        parts = path.split("/")
        if len(parts) >= 2 and parts[0] == SERVERS_DIR and parts[1]:
            names.add(parts[1])
    return names


def verify_report(report: Report, catalogue: Catalogue, paths: list[str], today: date | None = None) -> Judgement:
    """The report judged by the trusted rules (config waivers only); Untrusted when it contradicts them.

    `paths`: every path the PR's file list names (renames under both names). Refused when the report
    lacks a server those paths touch or a check the catalogue runs for a server, holds a check twice,
    marks a finding of an added server pre-existing, claims a severity, a `disabled_by_policy` skip or a
    waiver the trusted config does not give, or when its stored verdict, completeness or summary differ
    from the recomputation.
    """
    if report.base_sha is None or report.pr is None:
        raise Untrusted("the report is not a PR review (no merge base or PR section)")
    _covers_the_pr(report, paths)
    for server in report.servers:
        _complete_server(server, catalogue)
    _once_each(report.pr.findings, [c.id for c in catalogue.pr_checks()], "the PR")
    _reach_agrees(report, paths)
    _claims_only_what_the_rules_give(report, catalogue)
    judgement = judge(report, catalogue.policy.config_waivers(), catalogue, today)
    _waivers_match(report, judgement)
    stored = (report.verdict, report.complete, report.summary)
    if stored != (judgement.verdict, judgement.complete, judgement.summary):
        raise Untrusted(
            f"the report's own verdict ({report.verdict}, complete={report.complete}) disagrees with its findings "
            f"({judgement.verdict}, complete={judgement.complete})"
        )
    return judgement


def _covers_the_pr(report: Report, paths: list[str]) -> None:
    reviewed = {s.name for s in report.servers}
    other = {entry.path.split("/", 1)[-1]: entry for entry in report.not_reviewed}
    missing = []
    for name in sorted(touched_servers(paths)):
        if name in reviewed:
            continue
        if name in other and not _looks_like_a_server(name, paths):
            continue
        missing.append(name)
    if missing:
        raise Untrusted(f"the report leaves out servers the PR touches: {', '.join(missing[:MAX_NAMED])}")


def _looks_like_a_server(name: str, paths: list[str]) -> bool:
    """A directory the PR changes an app.py or a configs/ file of is a server, whatever a report calls it."""
    prefix = f"{SERVERS_DIR}/{name}/"
    return any(p == prefix + "app.py" or p.startswith(prefix + "configs/") for p in paths)


def _complete_server(server: ServerReport, catalogue: Catalogue) -> None:
    if server.status == "removed":
        if server.findings:
            raise Untrusted(f"the report has findings for {server.name}, which the PR removes")
        return
    if any(f.id == PLAN_CHECK_ID and f.status == "error" for f in server.findings):
        return  # its review is missing altogether: `error` already, whatever else it holds
    _once_each(server.findings, catalogue.expected_for(server.status), server.name)
    if server.status == "added" and any(f.pre_existing for f in server.findings):
        raise Untrusted(f"the report marks a finding of {server.name}, which the PR adds, as pre-existing")


def _once_each(findings: list, expected: list[str], where: str) -> None:
    counts = Counter(f.id for f in findings)
    missing = [i for i in expected if counts[i] == 0]
    extra = sorted(i for i, n in counts.items() if i not in expected or n > 1)
    if missing:
        raise Untrusted(f"the report lacks checks for {where}: {', '.join(missing[:MAX_NAMED])}")
    if extra:
        raise Untrusted(f"the report holds unknown or repeated checks for {where}: {', '.join(extra[:MAX_NAMED])}")


def _reach_agrees(report: Report, paths: list[str]) -> None:
    """GR501 (once in report.pr) says what the report's blast radius says, and never "no shared code" for a PR
    whose file list changes a Python file of nemo_gym/."""
    assert report.pr is not None
    found = next(f for f in report.pr.findings if f.id == BLAST_CHECK)
    if found.skip_kind == "disabled_by_policy":
        return
    if found.skip_kind == "not_applicable":
        if report.blast is not None or any(p.startswith(f"{CORE_DIR}/") and p.endswith(".py") for p in paths):
            raise Untrusted(f"the report says the PR changes no shared code ({BLAST_CHECK}); it changes {CORE_DIR}/")
        return
    if report.blast is None or breaks_outcome(report.blast).status != found.status:
        raise Untrusted(f"the report's {BLAST_CHECK} disagrees with its blast radius")


def _claims_only_what_the_rules_give(report: Report, catalogue: Catalogue) -> None:
    for f in [f for s in report.servers for f in s.findings] + report.pr.findings:  # type: ignore[union-attr]
        if f.id == PLAN_CHECK_ID:
            continue
        if f.severity not in catalogue.allowed_severities(f.id):
            raise Untrusted(f"the report gives {f.id} a severity ({f.severity}) the trusted config does not")
        if f.skip_kind == "disabled_by_policy" and catalogue.disabled(f.id) is None:
            raise Untrusted(f"the report says {f.id} is off by policy; the trusted config does not turn it off")
        if f.waived is not None and f.waived.source != "config":
            raise Untrusted(f"the report carries an override for {f.id}; only the bot's own records give those")


def _waivers_match(report: Report, judgement: Judgement) -> None:
    for item in judgement.judged:
        claimed = item.finding.waived is not None
        given = item.waiver is not None and item.waiver.source == "config"
        if claimed != given:
            raise Untrusted(
                f"the report's waiver of {item.finding.id} does not match the trusted config's waivers"
                if claimed
                else f"the trusted config waives {item.finding.id}, which the report does not say"
            )
