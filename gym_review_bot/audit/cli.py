"""The audit's commands: `audit`, `audit-plan`, `audit-merge` and `audit-publish` (parsers and runners).

Exit codes of `audit` and `audit-merge`: 0 every server passes, 1 any fails, 3 any could not be
judged (or the audit was stopped), 2 a usage problem before any review.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from gym_review_bot.argtypes import positive_float, positive_int, repo_name

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_CODES = {"pass": EXIT_OK, "fail": EXIT_FAIL}
_REPO = re.compile(r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$")
_SERVER_URL = re.compile(r"^https://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")


def _shard(value: str):  # noqa: ANN202 - returns models.Shard; imported here only when the flag is given
    from gym_review_bot.audit.shard import parse_shard

    return parse_shard(value)


def _outputs(parser: argparse.ArgumentParser, json_required: bool = True) -> None:
    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, required=json_required, metavar="FILE", help="write the audit report here")
    out.add_argument("--markdown", type=Path, metavar="FILE", help="write the dashboard as Markdown (a pinned issue)")
    out.add_argument("--html", type=Path, metavar="FILE", help="write the dashboard as one self-contained HTML page")
    out.add_argument("--previous", type=Path, metavar="FILE", help="the previous audit report: resume and delta")


def add_parsers(commands: argparse._SubParsersAction) -> None:
    from gym_review_bot.sandbox import options as sandbox_options  # flags only: no Docker SDK import

    audit = commands.add_parser("audit", help="re-verify every server of a checkout; write an audit report")
    audit.add_argument("--repo", type=Path, default=Path("."), help="the registry checkout (default: .)")
    audit.add_argument("--server", action="append", metavar="NAME", help="audit only resources_servers/NAME")
    audit.add_argument("--shard", type=_shard, metavar="K/N", help="audit only the K-th of N stable shares")
    audit.add_argument("--jobs", type=positive_int, default=1, metavar="J", help="sandboxes at once (default: 1)")
    audit.add_argument(
        "--max-age",
        type=positive_float,
        default=30.0,
        metavar="DAYS",
        help="carry a previous result over for at most DAYS days (default: 30)",
    )
    audit.add_argument(
        "--github-repo",
        type=repo_name,
        default=None,
        metavar="OWNER/NAME",
        help="where the dashboard's links point (default: $GITHUB_REPOSITORY; none without it)",
    )
    audit.add_argument("--quiet", action="store_true", help="no progress, only the summary line")
    audit.add_argument("--max-file-mb", type=positive_float, default=50, metavar="MB", help="as for check")
    toggle = audit.add_mutually_exclusive_group()
    toggle.add_argument("--docker", dest="docker", action="store_true", default=None, help="run the sandbox")
    toggle.add_argument("--no-docker", dest="docker", action="store_false", help="static checks only (the default)")
    _outputs(audit)
    sandbox_options.add_cli_arguments(audit)

    plan = commands.add_parser("audit-plan", help="list the servers and the shards of an audit (JSON)")
    plan.add_argument("--repo", type=Path, default=Path("."), help="the registry checkout (default: .)")
    plan.add_argument("--shards", type=positive_int, default=16, metavar="N", help="shards wanted (at most 256)")
    plan.add_argument("--server", action="append", metavar="NAME", help="plan only resources_servers/NAME")
    plan.add_argument("--output", type=Path, metavar="FILE", help="also write the plan to FILE")

    merge = commands.add_parser("audit-merge", help="join the shards' audit reports (a missing server is error)")
    merge.add_argument("--plan", type=Path, required=True, metavar="FILE", help="the plan from audit-plan")
    _outputs(merge)
    merge.add_argument("reports", type=Path, nargs="*", metavar="REPORT", help="shard reports, or directories")

    publish = commands.add_parser("audit-publish", help="update the registry-health issue; open/close server issues")
    publish.add_argument("--report", type=Path, required=True, metavar="FILE", help="the merged audit report")
    publish.add_argument("--repo", dest="gh_repo", type=repo_name, required=True, metavar="OWNER/NAME")
    publish.add_argument(
        "--config-repo",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="a trusted checkout of the registry's base branch: .gym-review.yaml and CODEOWNERS (default: .)",
    )
    publish.add_argument("--config-ref", default="HEAD", metavar="REF", help="the commit to read them from")
    publish.add_argument("--dashboard-url", metavar="URL", help="where the HTML dashboard is (linked from the issue)")


def _sandbox(args: argparse.Namespace):  # noqa: ANN202 - a review.ReviewOptions
    from gym_review_bot.review import options_from_flags  # the rules of `check --all`: the sandbox with --docker

    options = options_from_flags(args, pr_mode=False)
    options.max_file_mb = args.max_file_mb
    return options


def _previous(path: Path | None):  # noqa: ANN202 - an AuditReport or None
    from gym_review_bot.audit.merge import read_given_report

    return read_given_report(path, "--previous")


def _emit(report, args: argparse.Namespace) -> int:  # noqa: ANN001 - an AuditReport
    from gym_review_bot.audit.dashboard import write_dashboards
    from gym_review_bot.audit.run import write_report
    from gym_review_bot.render.safety import neutralise_commands

    write_report(args.json, report)
    write_dashboards(report, markdown=args.markdown, html=args.html)
    s = report.summary
    line = (
        f"audit: {report.verdict.upper()} ({s.servers} servers: {s.passed} passed, {s.failed} failed, "
        f"{s.not_judged} not judged; {s.carried} carried over, {s.run} run)"
    )
    if report.delta is not None:
        d = report.delta
        line += f"; since the previous audit: {len(d.newly_failing)} newly failing, {len(d.fixed)} fixed"
    print(neutralise_commands(line))
    if not report.finished:
        print("gym-review: the audit did not finish; the servers it did not reach are `error`", file=sys.stderr)
        return EXIT_INCOMPLETE
    return EXIT_CODES.get(report.verdict, EXIT_INCOMPLETE)


def _writable(args: argparse.Namespace) -> None:
    """Every output's directory exists, checked before an audit that may take hours."""
    from gym_review_bot.errors import UsageError

    for flag in ("json", "markdown", "html"):
        path = getattr(args, flag)
        if path is not None and not path.absolute().parent.is_dir():
            raise UsageError(f"--{flag} {path}: its directory does not exist")


def run_audit_command(args: argparse.Namespace) -> int:
    from gym_review_bot.audit.progress import make_progress
    from gym_review_bot.audit.run import AuditRequest, run_audit

    _writable(args)

    request = AuditRequest(
        repo=args.repo,
        names=args.server,
        shard=args.shard,
        jobs=args.jobs,
        options=_sandbox(args),
        previous=_previous(args.previous),
        max_age_days=args.max_age,
        repository=args.github_repo or _env_repo(),
        server_url=_env_server_url(),
        checkpoint=args.json,
    )
    report = run_audit(request, make_progress(quiet=args.quiet))
    return _emit(report, args)


def _env_repo() -> str | None:
    value = os.environ.get("GITHUB_REPOSITORY", "")
    return value if _REPO.match(value) else None


def _env_server_url() -> str:
    value = os.environ.get("GITHUB_SERVER_URL", "")
    return value if _SERVER_URL.match(value) else "https://github.com"


def run_plan_command(args: argparse.Namespace) -> int:
    from gym_review_bot.audit.merge import make_plan, plan_json

    text = plan_json(make_plan(args.repo, args.shards, args.server))
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text)
    return EXIT_OK


def run_merge_command(args: argparse.Namespace) -> int:
    from gym_review_bot.audit.merge import merge_audits, read_plan

    _writable(args)
    report = merge_audits(read_plan(args.plan), args.reports, _previous(args.previous))
    return _emit(report, args)


def run_publish_command(args: argparse.Namespace) -> int:
    from gym_review_bot.github.audit_issues import publish_audit
    from gym_review_bot.github.client import GithubError, connect

    try:
        line = publish_audit(
            connect(), args.gh_repo, args.report, args.config_repo, args.config_ref, args.dashboard_url
        )
    except GithubError as exc:
        print(f"gym-review: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(line)
    return EXIT_INCOMPLETE if line.startswith("refused") else EXIT_OK


COMMANDS = {
    "audit": run_audit_command,
    "audit-plan": run_plan_command,
    "audit-merge": run_merge_command,
    "audit-publish": run_publish_command,
}
