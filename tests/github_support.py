"""Shared pieces for the GitHub tests: fixture reports and a client pointed at the fake server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.checks.blast import BLAST_CHECK, NO_SHARED_CODE
from gym_review_bot.judge import judge, sealed
from gym_review_bot.models import Finding, PrReport, Report, ServerReport, Timings, make_fingerprint

TOKEN = "ghs_TESTTOKEN0123456789abcdefSECRET"
HEAD = "a" * 40


def finding(
    check_id: str, status: str = "pass", message: str = "ok", server: str = "word_count", severity: str = "error"
) -> Finding:
    return Finding(
        id=check_id,
        severity=severity,
        status=status,
        skip_kind="not_applicable" if status == "skip" else None,
        title=f"check {check_id}",
        message=message,
        file=f"resources_servers/{server}/app.py",
        fingerprint=make_fingerprint(check_id, server, f"resources_servers/{server}/app.py", message),
    )


def _finding(catalogue: Catalogue, check_id: str, failing: tuple[str, ...], errors: tuple[str, ...], server: str):
    """One finding as a review under `catalogue`'s rules makes it: every check present, each with its severity."""
    severity = catalogue.severity(check_id) or "error"
    if check_id in failing:
        return finding(check_id, "fail", f"{check_id} is wrong", server, severity)
    if check_id in errors:
        return finding(check_id, "error", "the sandbox timed out", server, severity)
    off = catalogue.disabled(check_id)
    if check_id == BLAST_CHECK and not off:  # a one-server PR changes no shared code: GR501 does not apply
        return finding(check_id, "skip", NO_SHARED_CODE, server, severity)
    if off:
        made = finding(check_id, "skip", off, server, severity)
        return replace(made, skip_kind="disabled_by_policy")
    return finding(check_id, server=server, severity=severity)


def make_report(
    *failing: str,
    head: str = HEAD,
    server: str = "word_count",
    complete: bool = True,
    catalogue: Catalogue | None = None,
) -> Report:
    """A complete, sealed PR report for one added server: every check the catalogue runs, `failing` ones failed
    (server or PR checks), GR205 `error` when not `complete`; judged under `catalogue`'s rules."""
    catalogue = catalogue or Catalogue()
    errors = () if complete else ("GR205",)
    findings = [_finding(catalogue, i, failing, errors, server) for i in catalogue.expected_for("added")]
    pr = [_finding(catalogue, c.id, failing, (), "(pull request)") for c in catalogue.pr_checks()]
    srv = ServerReport(
        name=server,
        path=f"resources_servers/{server}",
        status="added",
        findings=findings,
        sandbox_ran=True,
        timings=Timings(build_s=1.0),
    )
    report = Report(
        head_sha=head, base_sha="b" * 40, servers=[srv], pr=PrReport(findings=pr), generated_at="2026-11-26T00:00:00Z"
    )
    return sealed(report, judge(report, catalogue.policy.config_waivers(), catalogue))[0]


def failing(report: Report, check_id: str) -> Finding:
    """The report's finding of a check (a server's, else the PR's own)."""
    findings = [f for s in report.servers for f in s.findings] + (report.pr.findings if report.pr else [])
    return next(f for f in findings if f.id == check_id)


def rules(**github: object) -> Catalogue:
    """The trusted rules publish works under: the defaults with these `github:` settings."""
    from gym_review_bot.config import Policy
    from gym_review_bot.config.strict import validate

    return Catalogue(validate(Policy, {"github": github}))


def write_report(path: Path, report: Report) -> Path:
    path.write_text(report.to_json(), encoding="utf-8")
    return path


def client(fake):
    from gym_review_bot.github.client import connect

    return connect(TOKEN, fake.url, backoff_s=0.01)


REVIEW_WORKFLOW = ".github/workflows/gym-review.yml"
PUBLISH_WORKFLOW = ".github/workflows/gym-review-publish.yml"


def review_run(fake, number: int, report: Report | None = None, raw: bytes | str | None = None, **kw) -> dict:
    """The review workflow's run of the PR's head, with the report artifact its `join` job uploads."""
    head = report.head_sha if report is not None else fake.pulls[number].head
    run = fake.add_run(number, head, REVIEW_WORKFLOW, **kw)
    data = raw if raw is not None else report.to_json()
    fake.add_artifact(run, "gym-review-report", {"report.json": data, "pr-number.txt": f"{number}\n"})
    return run


def as_publish_run(fake, monkeypatch, tmp_path: Path, run: dict) -> dict:
    """What the publish workflow's run sees: the `workflow_run` event of the review run, and its own run id
    (a run of the publish workflow on the default branch: what its status links to)."""
    import json

    own = fake.add_run(None, "0" * 40, PUBLISH_WORKFLOW, event="workflow_run")
    (tmp_path / "event.json").write_text(json.dumps({"action": "completed", "workflow_run": run}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
    monkeypatch.setenv("GITHUB_SERVER_URL", fake.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", fake.repo)
    monkeypatch.setenv("GITHUB_RUN_ID", str(own["id"]))
    return own


def publish_reviewed(fake, monkeypatch, tmp_path: Path, number: int, report: Report, catalogue=None, **kw) -> str:
    """A review run of the head with `report` as its artifact, then publish as the publish workflow runs it."""
    from gym_review_bot.github.publish import publish

    run = review_run(fake, number, report)
    as_publish_run(fake, monkeypatch, tmp_path, run)
    path = write_report(tmp_path / f"report-{run['id']}.json", report)
    line = publish(client(fake), fake.repo, number, path, catalogue or rules(**kw))
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    return line


def approve(fake, number: int, login: str = "maint", sha: str | None = None, state: str = "APPROVED") -> None:
    reviews = fake.reviews.setdefault(number, [])
    commit = sha or fake.pulls[number].head
    reviews.append({"id": len(reviews) + 1, "user": fake.user(login), "state": state, "commit_id": commit})


def config_checkout(path: Path, config: str | None = None) -> Path:
    """The registry's base branch as the workflows check it out: the commands read `.gym-review.yaml` with git."""
    from tests.conftest import GitRepo

    repo = GitRepo(path)
    if config is not None:
        repo.write({".gym-review.yaml": config})
    repo.commit("base branch")
    return path


def cli_env(fake, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
    env.update(GITHUB_TOKEN=TOKEN, GITHUB_API_URL=fake.url, **extra)
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "gym_review_bot", *args], env=env, capture_output=True, text=True, cwd=cwd
    )
