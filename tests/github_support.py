"""Shared pieces for the GitHub tests: fixture reports and a client pointed at the fake server."""

from __future__ import annotations

from pathlib import Path

from gym_review_bot.models import Finding, Report, ServerReport, Timings, make_fingerprint

TOKEN = "ghs_TESTTOKEN0123456789abcdefSECRET"
HEAD = "a" * 40


def finding(check_id: str, status: str = "pass", message: str = "ok", server: str = "word_count") -> Finding:
    return Finding(
        id=check_id,
        severity="error",
        status=status,
        skip_kind="not_applicable" if status == "skip" else None,
        title=f"check {check_id}",
        message=message,
        file=f"resources_servers/{server}/app.py",
        fingerprint=make_fingerprint(check_id, server, f"resources_servers/{server}/app.py", message),
    )


def make_report(*failing: str, head: str = HEAD, server: str = "word_count", complete: bool = True) -> Report:
    findings = [finding(f"GR{n}", server=server) for n in range(100, 106)]
    findings += [finding(i, "fail", f"{i} is wrong", server) for i in failing]
    if not complete:
        findings.append(finding("GR205", "error", "the sandbox timed out", server))
    srv = ServerReport(
        name=server,
        path=f"resources_servers/{server}",
        status="added",
        findings=findings,
        sandbox_ran=True,
        timings=Timings(build_s=1.0),
    )
    return Report(head_sha=head, base_sha="b" * 40, servers=[srv], generated_at="2026-11-26T00:00:00Z").finalize()


def write_report(path: Path, report: Report) -> Path:
    path.write_text(report.to_json(), encoding="utf-8")
    return path


def client(fake):
    from gym_review_bot.github.client import connect

    return connect(TOKEN, fake.url, backoff_s=0.01)
