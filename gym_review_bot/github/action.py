"""The GitHub Action's entry point (`python -m gym_review_bot.github.action`): inputs from `INPUT_*`.

`check` reads the PR's number and body from `$GITHUB_EVENT_PATH`, runs the review (of one server with
the `server` input, for a matrix), and writes the job summary, annotations and outputs; `plan` and
`merge-reports` split and join a many-server review; `publish`, `merge`, `new-head`, `command` and `triage` run
the commands of that name, their PR and comment taken from the event unless given.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from gym_review_bot import cli
from gym_review_bot.judge import Judgement
from gym_review_bot.models import Report, read_report
from gym_review_bot.plan import is_safe
from gym_review_bot.render.markdown import judge_recorded, render_markdown
from gym_review_bot.text import LEGACY_COMMAND, ZWSP, escape_chars

MODES = ("check", "plan", "merge-reports", "publish", "merge", "new-head", "command", "triage")
IMAGE_CA_BUNDLE = Path("/etc/gym-review/ca-bundle.crt")  # the Dockerfile's optional CA bundle
SUMMARY_LIMIT = 1_000_000  # GitHub's job summary limit is 1 MiB per step


def action_input(name: str, default: str = "") -> str:
    """An input as the runner passes it to a container action (`INPUT_GITHUB-TOKEN`, hyphens kept)."""
    for key in (f"INPUT_{name.upper()}", f"INPUT_{name.upper().replace('-', '_')}"):
        value = os.environ.get(key)
        if value is not None and value.strip():
            return value.strip()
    return default


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


# The judge's class as an annotation level: only what blocks (or an error-severity check that could not
# run) is `::error`; waived and pre-existing failures are `::notice`, never an error.
LEVELS = {"blocking": "error", "warning": "warning", "waived": "notice", "pre_existing": "notice"}


def annotations(report: Report, judgement: Judgement) -> list[str]:
    """`::error` / `::warning` / `::notice` lines for failing findings that have a location."""
    lines = []
    for server in report.servers:
        for f in server.findings:
            klass = judgement.klass(f)
            if klass not in (*LEVELS, "not_run") or not f.file:
                continue
            level = LEVELS.get(klass) or ("error" if f.severity == "error" else "warning")
            props = f"file={escape_property(_inert(f.file))}"
            if f.line:
                props += f",line={f.line}"
            props += f",title={escape_property(_inert(f'{f.id} {f.title}'.strip()))}"
            lines.append(f"::{level} {props}::{escape_data(_inert(f.message))}")
    return lines


def _inert(text: str) -> str:
    """PR text inside an annotation: control, format (bidi) and surrogate characters spelled out, and `##[`
    broken (the runner reads it anywhere in a line; a `::` after an encoded newline is data, left as is)."""
    return escape_chars(text).replace(LEGACY_COMMAND, f"#{ZWSP}#[")


def _event() -> dict:
    path = os.environ.get("GITHUB_EVENT_PATH")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        data = {}
    return data if isinstance(data, dict) else {}


def _set_outputs(values: dict[str, str]) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        for key, value in values.items():
            out.write(f"{key}={value}\n")  # every value is one line: ours, or JSON with ASCII escapes


def _base_ref(event: dict) -> str:
    pr = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else {}
    base = action_input("base-ref") or str((pr.get("base") or {}).get("sha") or "")
    if not base:
        raise SystemExit("gym-review action: no base-ref input and no pull_request event to take it from")
    return base


def _check_argv(out_dir: Path, event: dict) -> list[str]:
    pr = event.get("pull_request") if isinstance(event.get("pull_request"), dict) else {}
    workspace = os.environ.get("GITHUB_WORKSPACE", ".")
    server, blast = action_input("server"), action_input("blast")
    for name, value in (("server", server), ("blast", blast)):
        if value and not is_safe(value):
            raise SystemExit(f"gym-review action: the {name} input has characters outside [A-Za-z0-9_.-]")
    scope = ["--base", _base_ref(event), *(["--server", server] if server else [])]  # PR mode, also per server
    scope += [*(["--blast", blast] if blast else []), *_audit_flags()]  # one sampled server of a core change
    argv = ["check", "--repo", workspace, *scope, "--json", str(out_dir / "report.json")]
    argv += ["--markdown", str(out_dir / "comment.md"), "--verbose"]  # the run's log is the comment's "logs" link
    docker = action_input("docker", "true").lower()
    argv.append("--no-docker" if docker in ("false", "no", "0", "off") else "--docker")
    if action_input("base-image"):
        argv += ["--base-image", action_input("base-image")]
    if IMAGE_CA_BUNDLE.is_file():
        argv += ["--ca-bundle", str(IMAGE_CA_BUNDLE)]
    body = pr.get("body")  # None when the PR has no description: checked as an empty one
    (out_dir / "pr-body.md").write_text(body if isinstance(body, str) else "", encoding="utf-8")
    argv += ["--pr-body", str(out_dir / "pr-body.md")]
    return argv


def _audit_file() -> list[str]:
    """--audit for the last audit's report, when the workflow fetched one (a plain file in the workspace)."""
    given = action_input("audit")
    path = Path(os.environ.get("GITHUB_WORKSPACE", ".")) / given if given else None
    return ["--audit", str(path)] if path is not None and path.is_file() and not path.is_symlink() else []


def _audit_flags() -> list[str]:
    timeout = action_input("audit-timeout")
    return _audit_file() + (["--audit-timeout", timeout] if timeout else [])


def _out_dir() -> tuple[Path, Path]:
    """A fresh output directory in the workspace (fails if the PR brought one: nothing is written through it)."""
    workspace = Path(os.environ.get("GITHUB_WORKSPACE", "."))
    out_dir = (
        workspace / f"gym-review-out-{os.environ.get('GITHUB_RUN_ID', 'local')}-{os.environ.get('GITHUB_JOB', 'job')}"
    )
    out_dir.mkdir()
    return workspace, out_dir


def run_plan() -> int:
    workspace, out_dir = _out_dir()
    plan_file = out_dir / "plan.json"
    code = cli.main(
        ["plan", "--repo", str(workspace), "--base", _base_ref(_event()), "--output", str(plan_file), *_audit_file()]
    )
    if code == cli.EXIT_OK:
        plan = json.loads(plan_file.read_text(encoding="utf-8"))
        matrix = json.dumps(plan["servers"], ensure_ascii=True, separators=(",", ":"))
        sample = json.dumps((plan.get("blast") or {}).get("sampled", []), ensure_ascii=True, separators=(",", ":"))
        where = plan_file.relative_to(workspace).as_posix()
        _set_outputs({"servers": matrix, "blast": sample, "plan": where})
    return code


def run_merge_reports() -> int:
    workspace, out_dir = _out_dir()
    reports = sorted(str(p) for p in Path(action_input("reports", "reports")).rglob("*.json") if p.is_file())
    code = cli.main(
        ["merge-reports", "--plan", action_input("plan", "plan.json"), "--json", str(out_dir / "report.json"), *reports]
    )
    return _finish(workspace, out_dir, code)


def run_check() -> int:
    workspace, out_dir = _out_dir()
    code = cli.main(_check_argv(out_dir, _event()))
    return _finish(workspace, out_dir, code)


def _finish(workspace: Path, out_dir: Path, code: int) -> int:
    """Annotations, job summary and outputs from the report in out_dir; the exit code as `fail-on` says."""
    report_path = out_dir / "report.json"
    if not report_path.is_file():
        _set_outputs({"verdict": "error", "complete": "false", "report": "", "dir": "", "servers": "[]"})
        return code or cli.EXIT_INCOMPLETE
    number = _event_number(_event())
    if number:  # for the publish workflow, which checks it against the run's head SHA
        (out_dir / "pr-number.txt").write_text(f"{number}\n", encoding="ascii")
    report = read_report(report_path.read_text(encoding="utf-8"))
    judgement = judge_recorded(report)  # as the review wrote it: its own config waivers, no overrides
    for line in annotations(report, judgement):
        print(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(render_markdown(report, judgement)[:SUMMARY_LIMIT])
    servers = [s.name for s in report.servers if is_safe(s.name)]
    _set_outputs(
        {
            "verdict": judgement.verdict,
            "complete": "true" if judgement.complete else "false",
            "report": report_path.relative_to(workspace).as_posix(),
            "dir": out_dir.relative_to(workspace).as_posix(),
            "servers": json.dumps(servers, ensure_ascii=True, separators=(",", ":")),
        }
    )
    if action_input("fail-on", "error") == "never":
        return cli.EXIT_OK
    return code


def _event_number(event: dict) -> str:
    for key in ("pull_request", "issue"):  # pull_request(_target) events; issue_comment on a PR
        item = event.get(key)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            return str(item["number"])
    return ""


def _github_argv(mode: str) -> list[str]:
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    argv = [mode, "--repo", repo]
    event = _event()
    number = action_input("pr") or _event_number(event)
    if mode in ("publish", "command", "new-head") or (mode == "merge" and number):
        argv += ["--pr", number]
    if mode == "command":
        comment = event.get("comment") if isinstance(event.get("comment"), dict) else {}
        argv += ["--comment-id", action_input("comment-id") or str(comment.get("id", ""))]
    if mode == "publish":
        argv += ["--report", action_input("report", "report.json")]
    if action_input("bot-login"):
        argv += ["--bot-login", action_input("bot-login")]
    # the settings come from the workspace's checkout (the base branch, never the PR), read with git
    argv += ["--config-repo", os.environ.get("GITHUB_WORKSPACE", ".")]
    return argv


def main() -> int:
    mode = action_input("mode", "check")
    if mode not in MODES:
        print(f"gym-review action: mode must be one of {', '.join(MODES)}", file=sys.stderr)
        return cli.EXIT_USAGE
    if action_input("github-token"):
        os.environ["GITHUB_TOKEN"] = action_input("github-token")
    local = {"check": run_check, "plan": run_plan, "merge-reports": run_merge_reports}
    if mode in local:
        return local[mode]()
    return cli.main(_github_argv(mode))


if __name__ == "__main__":
    sys.exit(main())
