"""`gym-review`: parse arguments, run a command, set the exit code.

0 pass, 1 fail, 2 usage or infrastructure problem before any review, 3 the review ran but could not
tell (verdict `error`: the report says what did not run and why).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from gym_review_bot import __version__
from gym_review_bot.argtypes import OneLineParser, output_directory, positive_float, pr_body_source
from gym_review_bot.audit import cli as audit_cli
from gym_review_bot.discover import Discovery, discover_local, discover_pr, select_servers
from gym_review_bot.errors import UsageError
from gym_review_bot.git import GitError
from gym_review_bot.github import cli as github_cli

if TYPE_CHECKING:  # the review's machinery (every check) loads only for a command that reviews, not for `plan`
    from gym_review_bot.judge import Judgement
    from gym_review_bot.models import BlastRadius, Report
    from gym_review_bot.review import ReviewOptions

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
EXIT_CODES = {"pass": EXIT_OK, "fail": EXIT_FINDINGS, "error": EXIT_INCOMPLETE}


def build_parser() -> argparse.ArgumentParser:
    from gym_review_bot.sandbox import options as sandbox_options  # flags only: no Docker SDK import

    parser = OneLineParser(
        prog="gym-review",
        description="Review NeMo Gym pull requests that add or change resource servers.",
    )
    parser.add_argument("--version", action="version", version=f"gym-review {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=OneLineParser)

    check = commands.add_parser("check", help="review a PR's servers (or named servers) and report")
    check.add_argument("--repo", type=Path, default=Path("."), help="the NeMo Gym checkout (default: .)")
    check.add_argument("--base", metavar="REF", help="PR mode: review what HEAD changes since its merge base with REF")
    check.add_argument("--all", action="store_true", help="review every server in the checkout (no git needed)")
    check.add_argument(
        "--server",
        action="append",
        metavar="NAME",
        help="review resources_servers/NAME (repeatable; no git needed); with --base: only these of the PR's servers",
    )
    check.add_argument("--head", metavar="REF", default="HEAD", help="PR mode: the PR's head commit (default: HEAD)")
    _add_evidence_flags(check)
    _add_blast_flags(check)
    _add_common(check, sandbox_options)

    demo = commands.add_parser("demo", help="review a bundled demo PR in a throwaway git repo")
    _add_common(demo, sandbox_options)

    cleanup = commands.add_parser("cleanup", help="remove containers and networks that dead runs left behind")
    cleanup.add_argument("--cache", action="store_true", help="also remove the dependency cache images")
    github_cli.add_parsers(commands)  # publish, merge, command, triage, plan, merge-reports
    audit_cli.add_parsers(commands)  # audit, audit-plan, audit-merge, audit-publish
    return parser


def _add_common(parser: argparse.ArgumentParser, sandbox_options: ModuleType) -> None:
    out = parser.add_argument_group("output")
    out.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report (schema 1) to FILE")
    out.add_argument("--markdown", type=Path, metavar="FILE", help="write the PR checklist comment to FILE")
    out.add_argument("--quiet", action="store_true", help="print only the verdict line")
    out.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print each failure's fix and log excerpt, and the skipped and passing checks",
    )
    parser.add_argument(
        "--max-file-mb",
        type=positive_float,
        default=50,
        metavar="MB",
        help="size cap for files the review reads (default: 50)",
    )
    toggle = parser.add_mutually_exclusive_group()
    toggle.add_argument(
        "--docker",
        dest="docker",
        action="store_true",
        default=None,
        help="run the sandbox; exit 2 if no daemon",
    )
    toggle.add_argument("--no-docker", dest="docker", action="store_false", help="never run the sandbox")
    sandbox_options.add_cli_arguments(parser)


MAX_PR_BODY_BYTES = 1024 * 1024  # GitHub caps a PR body at 65,536 characters


def _add_evidence_flags(parser: argparse.ArgumentParser) -> None:
    evidence = parser.add_argument_group("PR description and evidence")
    evidence.add_argument(
        "--pr-body",
        type=pr_body_source,
        metavar="FILE",
        help="the PR description (Markdown) to check, - for standard input (GR3xx; GR4xx read it too)",
    )
    evidence.add_argument(
        "--max-evidence-mb",
        type=positive_float,
        default=100,
        metavar="MB",
        help="size cap for profiling and rollouts files, streamed (default: 100)",
    )
    evidence.add_argument(
        "--artifacts-dir",
        type=output_directory,
        metavar="DIR",
        help="write PNG charts of each added server's evidence into DIR (needs matplotlib)",
    )


def _add_blast_flags(parser: argparse.ArgumentParser) -> None:
    from gym_review_bot.blast import DEFAULT_AUDIT_TIMEOUT_S

    blast = parser.add_argument_group("core change (a PR changing nemo_gym/ or a shared library: GR501)")
    blast.add_argument(
        "--blast",
        action="append",
        metavar="NAME",
        help="PR mode: review only this server the change reaches (repeatable; a blast job of the matrix), "
        "compared with the merge base",
    )
    blast.add_argument(
        "--audit",
        type=Path,
        metavar="FILE",
        help="the last audit report: a sampled server's merge-base result is taken from it when it matches",
    )
    blast.add_argument(
        "--audit-timeout",
        type=positive_float,
        default=DEFAULT_AUDIT_TIMEOUT_S,
        metavar="S",
        help=f"seconds after which no sampled server's review starts (default: {DEFAULT_AUDIT_TIMEOUT_S:g})",
    )


def _read_pr_body(source: str | None) -> str | None:
    if source is None:
        return None
    try:
        if source == "-":
            raw = sys.stdin.buffer.read(MAX_PR_BODY_BYTES + 1)
        else:
            with open(source, "rb") as fh:
                raw = fh.read(MAX_PR_BODY_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"--pr-body {source}: {exc.strerror}") from exc
    return raw[:MAX_PR_BODY_BYTES].decode("utf-8", "replace").removeprefix("\ufeff")


def _emit(report: Report, judgement: Judgement, args: argparse.Namespace) -> None:
    from gym_review_bot.render.safety import stop_commands
    from gym_review_bot.render.terminal import render_terminal  # Jinja2 and rich load only here

    if args.json:
        _write(args.json, report.to_json() + "\n")
    if args.markdown:
        from gym_review_bot.render.markdown import render_markdown

        _write(args.markdown, render_markdown(report, judgement))
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    text = render_terminal(report, judgement, color=color, verbose=args.verbose).rstrip()
    if args.quiet:
        _print(text.splitlines()[-1])  # the verdict line: no PR text in it
    elif os.environ.get("GITHUB_ACTIONS") == "true":
        _print(stop_commands(text))  # the runner processes no workflow command inside, whatever we missed
    else:
        _print(text)


def _print(text: str) -> None:
    """Print to standard output; a reader that went away (`| head -1`) ends the printing, not the run."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _silence_stdout()


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so nothing (not even the interpreter's last flush) hits the broken pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


def check_outputs(args: argparse.Namespace) -> None:
    """Every output file can be written, tried before anything is reviewed (UsageError, exit 2, naming the
    flag): a report must never be half written, e.g. the JSON with its verdict and then no comment."""
    for flag in ("json", "markdown"):
        path: Path | None = getattr(args, flag, None)
        if path is None:
            continue
        existed = path.exists() or path.is_symlink()
        try:
            with open(path, "a", encoding="utf-8"):  # appends nothing: only opens it for writing
                pass
        except OSError as exc:
            raise UsageError(f"--{flag} {path}: cannot be written ({exc.strerror})") from exc
        if not existed:
            path.unlink(missing_ok=True)


def _check_scope(args: argparse.Namespace) -> None:
    """One of --base, --all, --server; --base with --server is PR mode for some of the PR's servers (a matrix job)."""
    if args.all and (args.base is not None or args.server):
        raise UsageError("--all cannot be combined with --base or --server")
    if not (args.all or args.base is not None or args.server):
        raise UsageError("say what to review: --base REF (a PR), --all, or --server NAME")
    if args.blast and (args.base is None or args.server):
        raise UsageError("--blast needs --base (PR mode) and cannot be combined with --server")


def run_check(args: argparse.Namespace) -> int:
    from gym_review_bot.review import options_from_flags, review

    _check_scope(args)
    check_outputs(args)
    pr_mode = args.base is not None
    options = options_from_flags(args, pr_mode)
    repo = args.repo.resolve()
    if pr_mode:
        found = discover_pr(repo, args.base, args.head)
        if args.server:
            select_servers(found, args.server)
    else:
        found = discover_local(repo, None if args.all else args.server)
    options.pr_body = _read_pr_body(args.pr_body)
    options.max_evidence_mb = args.max_evidence_mb
    reviewed = review(found, options, _blast(found, options, args) if pr_mode else None)
    report, judgement = reviewed.report, reviewed.judgement
    _emit(report, judgement, args)
    if args.artifacts_dir is not None:
        from gym_review_bot.evidence.charts import write_charts  # matplotlib loads only here

        for path in write_charts(report, args.artifacts_dir):
            _print(f"chart: {path}")
    return EXIT_CODES.get(judgement.verdict, EXIT_INCOMPLETE)


def _blast(found: Discovery, options: ReviewOptions, args: argparse.Namespace) -> BlastRadius | None:
    """A PR changing shared code: the servers it reaches, and the sample judged (or why not)."""
    from gym_review_bot.blast.affected import changed_shared

    if not args.blast and not changed_shared(found):
        return None  # the common case, without loading the sample's machinery
    from gym_review_bot.blast.baseline import read_audit
    from gym_review_bot.blast.run import SampleRequest, blast_review

    request = SampleRequest(args.blast, bool(args.server), read_audit(args.audit), args.audit_timeout)
    radius = blast_review(found, options, request)
    found.notes += request.notes
    return radius


def run_demo(args: argparse.Namespace) -> int:
    from gym_review_bot.demo import demo_repository
    from gym_review_bot.review import options_from_flags, review

    check_outputs(args)
    options = options_from_flags(args, pr_mode=False)
    with demo_repository() as (repo, base):
        _print(f"Demo: a PR in a throwaway repository ({repo}) adds two servers; reviewing it.\n")
        reviewed = review(discover_pr(repo, base), options)
        _emit(reviewed.report, reviewed.judgement, args)
    return EXIT_OK


def run_cleanup(args: argparse.Namespace) -> int:
    from gym_review_bot.sandbox.cleanup import cleanup
    from gym_review_bot.sandbox.docker_api import unavailable_reason

    reason = unavailable_reason()
    if reason:
        raise UsageError(f"cleanup: no Docker daemon reachable ({reason})")
    print(cleanup(cache=args.cache))
    return EXIT_OK


COMMANDS = {"check": run_check, "demo": run_demo, "cleanup": run_cleanup}
COMMANDS.update(github_cli.COMMANDS)  # the GitHub commands (PyGithub loads only when one runs)
COMMANDS.update(audit_cli.COMMANDS)  # the registry audit


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UsageError, GitError) as exc:
        from gym_review_bot.render.safety import escape_terminal

        print(f"gym-review: error: {escape_terminal(exc)}", file=sys.stderr)  # git's stderr may quote PR paths
        return EXIT_USAGE
    except BrokenPipeError:  # standard output's reader went away (`| head -1`): no traceback
        _silence_stdout()
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gym-review: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
