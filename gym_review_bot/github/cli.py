"""The GitHub commands' arguments and runners; PyGithub loads only when one of them runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from gym_review_bot.argtypes import OneLineParser, repo_name

if TYPE_CHECKING:
    from gym_review_bot.catalogue import Catalogue
    from gym_review_bot.config import GithubSettings

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


def _pr_number(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 10**9:
        raise argparse.ArgumentTypeError(f"expected a PR number, got {value!r}")
    return int(value)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    def target(name: str, help_text: str, pr: bool = True) -> OneLineParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--repo", dest="gh_repo", type=repo_name, required=True, metavar="OWNER/NAME")
        if pr:
            parser.add_argument("--pr", type=_pr_number, required=True, metavar="N", help="the pull request number")
        parser.add_argument(
            "--config-repo",
            type=Path,
            default=Path("."),
            metavar="DIR",
            help="a trusted checkout of the registry (its base branch; default: .); never a PR's checkout",
        )
        parser.add_argument(
            "--config-ref",
            default="HEAD",
            metavar="REF",
            help="the commit whose .gym-review.yaml `github:` applies, read with git (default: HEAD)",
        )
        parser.add_argument("--bot-login", metavar="LOGIN", help="the bot's account (default: github-actions[bot])")
        return parser

    publish = target("publish", "post the report on the PR: one comment, a status, a label (needs GITHUB_TOKEN)")
    publish.add_argument("--report", type=Path, required=True, metavar="FILE", help="the JSON report to publish")
    merge = target("merge", "merge the PR when the ready label, a passing review and approvals are there", pr=False)
    merge.add_argument(
        "--pr", type=_pr_number, metavar="N", help="the PR (default: every open PR with the ready label)"
    )
    target("new-head", "new commits on a PR: take the ready and passing labels off, set the status pending")
    command = target("command", "act on a /gym-review comment (recheck, override)")
    command.add_argument("--comment-id", type=_pr_number, required=True, metavar="ID")
    triage = target("triage", "list open PRs touching resources_servers/ with their review state", pr=False)
    triage.add_argument("--markdown", type=Path, metavar="FILE", help="also write a Markdown table to FILE")

    plan = commands.add_parser("plan", help="print the changed servers as JSON for a strategy.matrix")
    plan.add_argument("--repo", type=Path, default=Path("."), help="the NeMo Gym checkout (default: .)")
    plan.add_argument("--base", required=True, metavar="REF", help="the PR's base ref")
    plan.add_argument("--head", default="HEAD", metavar="REF")
    plan.add_argument("--output", type=Path, metavar="FILE", help="also write the plan to FILE")
    plan.add_argument(
        "--audit", type=Path, metavar="FILE", help="the last audit report: the sample's cost and reusable base results"
    )
    joined = commands.add_parser("merge-reports", help="join per-server reports into one (missing ones are errors)")
    joined.add_argument("--plan", type=Path, required=True, metavar="FILE")
    joined.add_argument("--json", type=Path, required=True, metavar="FILE", help="write the joined report here")
    joined.add_argument("reports", type=Path, nargs="*", metavar="REPORT")


def _trusted(args: argparse.Namespace) -> Catalogue:
    """The registry's rules from the trusted checkout (read with git), as a catalogue; --bot-login applied."""
    from dataclasses import replace

    from gym_review_bot.catalogue import Catalogue
    from gym_review_bot.config import load_trusted_policy

    policy = load_trusted_policy(args.config_repo, args.config_ref).policy
    if args.bot_login:
        policy = replace(policy, github=replace(policy.github, bot_login=args.bot_login))
    return Catalogue(policy)  # validates the check ids the file names


def _settings(args: argparse.Namespace) -> GithubSettings:
    return _trusted(args).policy.github


def _github_command(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def wrapped(args: argparse.Namespace) -> int:
        from gym_review_bot.github.client import GithubError, PullRequestGone

        try:
            return run(args)
        except PullRequestGone as exc:
            print(f"gym-review: {exc}; nothing to do", file=sys.stderr)
            return EXIT_OK
        except GithubError as exc:
            print(f"gym-review: error: {exc}", file=sys.stderr)
            return EXIT_USAGE

    return wrapped


def _refusal(line: str) -> int:
    """A refusal (the status says `error` already) is one line on stderr and exit 3; anything else stdout."""
    if line.startswith("refused") or ": refused: " in line:
        print(f"gym-review: {line}", file=sys.stderr)
        return EXIT_INCOMPLETE
    print(line)
    return EXIT_OK


@_github_command
def run_publish(args: argparse.Namespace) -> int:
    from gym_review_bot.github.client import connect
    from gym_review_bot.github.publish import publish

    return _refusal(publish(connect(), args.gh_repo, args.pr, args.report, _trusted(args)))


@_github_command
def run_merge(args: argparse.Namespace) -> int:
    from gym_review_bot.github.client import connect
    from gym_review_bot.github.event import labeled
    from gym_review_bot.github.merge import merge_gate, ready_prs

    catalogue = _trusted(args)
    settings = catalogue.policy.github
    event = labeled(args.pr) if args.pr else None
    if event is not None and event[0] != settings.labels.ready:  # merge runs on every label; only one matters
        print(f"PR #{args.pr}: the label {event[0][:50]!r} is not the ready label: nothing to do")
        return EXIT_OK
    gh = connect()
    code = EXIT_OK
    for number in [args.pr] if args.pr else ready_prs(gh, args.gh_repo, settings):
        code = max(code, _refusal(merge_gate(gh, args.gh_repo, number, catalogue, event[1] if event else None).line))
    return code


@_github_command
def run_new_head(args: argparse.Namespace) -> int:
    from gym_review_bot.github.client import connect
    from gym_review_bot.github.newhead import new_head

    print(new_head(connect(), args.gh_repo, args.pr, _settings(args)))
    return EXIT_OK


@_github_command
def run_command(args: argparse.Namespace) -> int:
    from gym_review_bot.github.chatops import handle_comment
    from gym_review_bot.github.client import connect

    print(handle_comment(connect(), args.gh_repo, args.pr, args.comment_id, _settings(args)))
    return EXIT_OK


@_github_command
def run_triage(args: argparse.Namespace) -> int:
    from gym_review_bot.github.client import connect
    from gym_review_bot.github.triage import print_table, triage_rows, write_markdown

    rows = triage_rows(connect(), args.gh_repo, _settings(args))
    print_table(rows)
    if args.markdown:
        write_markdown(rows, args.markdown)
    return EXIT_OK


def run_plan(args: argparse.Namespace) -> int:
    from gym_review_bot.plan import make_plan

    text = make_plan(args.repo.resolve(), args.base, args.head, args.audit)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    print(text)
    return EXIT_OK


def run_merge_reports(args: argparse.Namespace) -> int:
    from gym_review_bot.plan import merge_reports

    report = merge_reports(args.plan, args.reports)
    args.json.write_text(report.to_json() + "\n", encoding="utf-8")
    print(f"joined {len(report.servers)} server report(s): verdict {report.verdict}")
    return {"pass": EXIT_OK, "fail": EXIT_FAIL}.get(report.verdict, EXIT_INCOMPLETE)


COMMANDS = {
    "publish": run_publish,
    "merge": run_merge,
    "new-head": run_new_head,
    "command": run_command,
    "triage": run_triage,
    "plan": run_plan,
    "merge-reports": run_merge_reports,
}
