"""A review report as publish and the merge gate read it: checked, re-judged under the trusted rules, with the
maintainers' standing overrides. The one judge decides; nothing the report says of itself is taken."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from pydantic import ValidationError

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import GithubSettings
from gym_review_bot.github.commands import MAINTAIN_ROLES, Permissions, override_waivers
from gym_review_bot.github.event import Refused
from gym_review_bot.judge import Judgement, judge
from gym_review_bot.models import Report, read_report
from gym_review_bot.schema import report_schema_text
from gym_review_bot.trust import Untrusted, verify_report
from gym_review_bot.waiver import Waiver

VERIFIED_ID = "GR118"  # a PR setting `verified: true`: passing when its author may maintain the repository


def parse_report(raw: bytes, settings: GithubSettings) -> Report:
    """The report, refused when too big or not valid against schema 1."""
    if len(raw) > settings.max_report_mb * 1024 * 1024:
        raise Refused(f"the report is too big ({len(raw)} bytes)")
    try:
        data = json.loads(raw.decode("utf-8"))
        jsonschema.Draft202012Validator(json.loads(report_schema_text())).validate(data)
        return read_report(data)
    except (ValueError, jsonschema.ValidationError, ValidationError, RecursionError) as exc:
        raise Refused(f"the report is not a valid schema-1 report ({type(exc).__name__})") from None


def verified(report: Report, head: str, catalogue: Catalogue, paths: tuple[str, ...]) -> Judgement:
    """The report re-judged by the trusted rules alone (config waivers); Refused when it is for another commit
    or contradicts those rules or the PR's file list."""
    if report.head_sha != head:
        raise Refused("the review is outdated")
    try:
        return verify_report(report, catalogue, list(paths))
    except Untrusted as exc:
        raise Refused(str(exc)) from None


def effective(
    report: Report, judged: Judgement, catalogue: Catalogue, comments: list[Any], pr: Any, permissions: Permissions
) -> Judgement:
    """The verdict every surface shows: the trusted config's waivers first, then the maintainers' overrides that
    still stand, then GR118 for an author who may maintain the repository."""
    overrides = override_waivers(comments, catalogue.policy.github.bot_login, permissions)
    waivers = [*catalogue.policy.config_waivers(), *overrides.values(), *_verified_waivers(judged, pr, permissions)]
    return judge(report, waivers, catalogue)


def _verified_waivers(judged: Judgement, pr: Any, permissions: Permissions) -> list[Waiver]:
    found = [j.finding for j in judged.where("blocking") if j.finding.id == VERIFIED_ID]
    if not found or permissions.role(pr.user.login) not in MAINTAIN_ROLES:
        return []
    reason = "the author has maintain or admin permission"
    return [Waiver(f.id, reason, "maintainer", fingerprint=f.fingerprint, by=pr.user.login) for f in found]
