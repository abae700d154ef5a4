"""Output nothing from a PR can hijack: terminal and Actions logs, the Markdown comment, its size (issue 6, item 6).

Markdown is checked with cmarkgfm, GitHub's own renderer (cmark-gfm with the autolink extension).
GitHub's references (`#123`, `owner/repo#123`, `GH-123`) and @mentions are a later pass of GitHub's
over the rendered HTML that cmarkgfm does not do, so for those the tests look at the source.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import cmarkgfm
import pytest

from gym_review_bot.checks.base import failed
from gym_review_bot.models import Finding, Report, ServerReport
from gym_review_bot.render.markdown import (
    CUT_HEADLINE,
    GITHUB_LIMIT,
    comment_length,
    fit_comment,
    judge_recorded,
    render_markdown,
)
from gym_review_bot.render.safety import (
    escape_terminal,
    fence,
    md_inert,
    neutralise_commands,
    split_fenced,
    stop_commands,
)
from gym_review_bot.render.terminal import render_terminal
from gym_review_bot.render.words import MARKER
from gym_review_bot.sandbox.catalogue import BY_ID, sandbox_finding
from tests.conftest import GitRepo, finalized, good_server_files

INJECTION = "::error title=x::injected"
HOSTILE = (
    "domain: https://evil.example/phish www.evil.example HTTP://X.Y ftp://f.example/x mailto:a@b.example "
    "me@evil.example <img src=x onerror=alert(1)> <a href='//x'>x</a> [t](http://t) ![i](http://i) "
    "<https://auto.example> _https://u.example a_www.u.example (http://p.example) *www.e.example* "
    "#123 owner/repo#45 GH-67 gh-8 @octocat @org/team --> &amp; `code https://c.example`"
)


def gfm(text: str) -> str:
    """HTML as GitHub renders it, raw HTML kept (GitHub passes a sanitised subset; none must come from the PR)."""
    return cmarkgfm.github_flavored_markdown_to_html(text, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)


def workflow_command_lines(text: str) -> list[str]:
    """Lines the Actions runner would act on: `::` after leading blanks, or `##[` anywhere."""
    return [line for line in text.split("\n") if line.lstrip().startswith("::") or "##[" in line]


# --- terminal and CI logs -------------------------------------------------------------------------


def test_escape_terminal_spells_out_control_characters() -> None:
    raw = "a\x1b[2Jb\rc\nd\te\x07f\x9bg\u202eh\x00"
    assert escape_terminal(raw) == "a\\x1b[2Jb\\rc\\nd\\te\\x07f\\x9bg\\u202eh\\x00"
    multi = escape_terminal("one\r\ntwo\rthree\n\tfour\x1b", single_line=False)
    assert multi == "one\ntwo\\rthree\n\tfour\\x1b"
    assert escape_terminal("plain text: ok") == "plain text: ok"
    assert escape_terminal(None) == ""


def test_escape_terminal_breaks_the_legacy_command_form_anywhere() -> None:
    assert "##[" not in escape_terminal("x ##[error]boom ##[group]")


def test_neutralise_commands_leaves_no_workflow_command_line() -> None:
    text = f"{INJECTION}\n   {INJECTION}\n\u3000\u00a0::warning::x\nok :: fine\nx ##[error]y\n::"
    out = neutralise_commands(text)
    assert workflow_command_lines(out) == []
    assert "ok :: fine" in out.split("\n")
    assert "   \\" + INJECTION in out.split("\n")  # still readable, only made inert
    assert neutralise_commands("nothing to do\n  here") == "nothing to do\n  here"


def test_stop_commands_wraps_with_a_fresh_random_token() -> None:
    one, two = stop_commands(INJECTION), stop_commands(INJECTION)
    first, *_, last = one.split("\n")
    token = first.removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token) and last == f"::{token}::"
    assert INJECTION in one and one != two


def sandbox_report(log: str, server_name: str = "srv") -> Report:
    """A report whose GR202 failure carries a log excerpt, fenced as the sandbox fences it."""
    gr202 = sandbox_finding("GR202", failed(f"The server did not start. Last log lines:\n```\n{log}\n```"), server_name)
    server = ServerReport(name=server_name, path=f"resources_servers/{server_name}", status="added", findings=[gr202])
    return finalized(Report(servers=[server]))


def test_a_log_line_cannot_inject_a_workflow_command() -> None:
    # Reproduction: a server printing `::error title=x::injected` reached the Actions log from column 0.
    text = render_terminal(sandbox_report(f"starting\n{INJECTION}\n  ##[error]legacy\n\x1b[31mred"), verbose=True)
    assert workflow_command_lines(text) == []
    assert "\\" + INJECTION in text and "\\x1b[31mred" in text and "\x1b" not in text
    log_lines = [line for line in text.split("\n") if "starting" in line or "injected" in line]
    assert log_lines and all(line.startswith("         ") for line in log_lines)  # indented, line by line


def test_server_names_keep_no_raw_escape_or_newline() -> None:
    # Reproduction: server names kept raw ESC and newline characters in the terminal.
    name = f"evil\x1b]0;title\x07\n{INJECTION}"
    text = render_terminal(sandbox_report("log", server_name=name))
    assert "\x1b" not in text and "\x07" not in text
    assert "resources_servers/evil\\x1b]0;title\\x07\\n::error" in text
    assert workflow_command_lines(text) == []


def test_colour_marks_only_our_own_tags() -> None:
    text = render_terminal(sandbox_report("  [PASS] not ours"), color=True, verbose=True)
    assert "\033[31m[FAIL]\033[0m" in text
    assert "[PASS] not ours" in text and "\033[32m" not in text


# --- verdict semantics ------------------------------------------------------------------------------


def finding(check_id: str, status: str, message: str, **kw) -> Finding:
    defaults = {"severity": "error", "title": f"Title of {check_id}", "fix": f"Fix {check_id} like so."}
    return Finding(id=check_id, status=status, message=message, **{**defaults, **kw})


def semantics_report() -> Report:
    findings = [
        finding("GR101", "pass", "parses"),
        finding("GR102", "error", "the check crashed: RecursionError"),
        finding("GR109", "skip", "Not run: waits on GR108", skip_kind="prerequisite_failed"),
        finding("GR201", "skip", "Skipped: --no-docker was given", skip_kind="not_requested"),
    ]
    server = ServerReport(name="srv", path="resources_servers/srv", status="added", findings=findings)
    return finalized(Report(servers=[server]))


def test_error_findings_are_shown_as_not_run_in_markdown() -> None:
    report = semantics_report()
    assert report.verdict == "error" and not report.complete
    md = render_markdown(report)
    assert "## 🚫 gym-review: incomplete, 1 check could not run (1 server)" in md
    assert "**The merge gate must not pass this review:** a check that could not run is not a pass" in md
    assert "- 🚫 **GR102** Title of GR102 (could not run): the check crashed: RecursionError" in md
    assert "GR102" not in md.split("<details>")[1]  # not among the passes
    assert "**Incomplete:** sandbox not run (1 server)" in md
    assert "⏭️ GR109: waits on GR108" in md and "⏭️ GR201 (not requested)" in md


def test_error_findings_are_err_on_the_terminal() -> None:
    text = render_terminal(semantics_report(), verbose=True)
    assert "  [ERR ] GR102 Title of GR102 (could not run): the check crashed: RecursionError" in text  # one line
    assert "[SKIP] GR201 (not requested)" in text
    last = text.rstrip().split("\n")[-1]
    assert last.startswith("verdict: ERROR: review incomplete: 1 check could not run; the merge gate must not pass")
    assert "incomplete: sandbox not run (1 server)" in text


def test_a_passing_but_incomplete_review_says_so() -> None:
    server = ServerReport(name="s", path="resources_servers/s", status="added", findings=[finding("GR101", "pass", "")])
    report = finalized(Report(servers=[server]))
    assert report.verdict == "pass" and not report.complete
    assert render_terminal(report).rstrip().split("\n")[-1].startswith("verdict: PASS (incomplete)")
    assert "sandbox not run" in render_markdown(report)
    report.servers[0].sandbox_ran = True  # the sealed copy's server
    report = finalized(report)
    assert "Incomplete" not in render_markdown(report) and "incomplete" not in render_terminal(report)


def test_failures_show_how_to_fix_once() -> None:
    static = finding("GR104", "fail", "domain `x` is not allowed")
    sandbox = sandbox_finding("GR202", failed("did not start\nHow to fix: Start faster."), "s")
    server = ServerReport(name="s", path="resources_servers/s", status="added", findings=[static, sandbox])
    report = finalized(Report(servers=[server]))
    md, text = render_markdown(report), render_terminal(report, verbose=True)
    assert "<summary>Fix</summary>\n\n  Fix GR104 like so." in md  # under "Fix", the hint needs no label
    assert "         How to fix: Fix GR104 like so." in text
    assert md.count("How to fix") == 1 and text.count("How to fix") == 2  # the sandbox's own, not twice
    assert "Start faster." in md and sandbox.fix not in md


# --- Markdown ---------------------------------------------------------------------------------------


def test_md_inert_links_nothing_in_githubs_renderer() -> None:
    # Reproduction: `domain: https://evil.example/phish` became a link.
    source = md_inert(HOSTILE)
    html = gfm(f"- ❌ **GR104** {source}")
    assert "<a" not in html and "<img" not in html and "<https" not in html
    assert "&lt;img src=x" in html and "https:\u200b//evil.example/phish" in html


def test_md_inert_breaks_github_references_and_mentions() -> None:
    # cmarkgfm leaves `#123`, `owner/repo#45`, `GH-67` and @mentions to GitHub's later HTML pass, which
    # links them wherever they appear as text: so the source must not hold them whole.
    source = md_inert(HOSTILE)
    text = gfm(source)
    for ref in ("#123", "repo#45", "GH-67", "gh-8", "@octocat", "@org"):
        assert ref not in source and ref not in text
    assert "#&#8203;123" in source and "GH&#8203;-67" in source and "@&#8203;octocat" in source


@pytest.mark.parametrize(
    "token", ["https://x.example/p", "HTTP://x.example", "ftp://x.example", "www.x.example", "a@x.example"]
)
def test_md_inert_links_no_url_whatever_surrounds_it(token: str) -> None:
    for before in " _*~([<>\"'`!:;,.-=+/\\|&#@a1é ​":
        for after in " _*~)]>.,;:!?'\"`/":
            html = gfm(f"- ok: {md_inert(before + token + after)}")
            assert "<a" not in html, (before, token, after, html)


def test_md_inert_text_starts_no_block_where_it_starts_a_line() -> None:
    for text in ("- item", "+ item", "1. item", "2) item", "===", "---", "    indented code", "> quote", "# h"):
        html = gfm(f"- note\n\n  {md_inert(text)}")
        assert not re.search(r"<(ul|ol|h\d|hr|pre|blockquote)>.*<(ul|ol|h\d|hr|pre|blockquote)", html, re.S), html
        assert html.count("<li>") == 1 and "<h" not in html and "<hr" not in html and "<pre" not in html


def test_md_inert_is_one_line_and_closes_no_comment() -> None:
    source = md_inert("a\nb\r--> c\n# heading\n- item")
    assert "\n" not in source and "\r" not in source and "-->" not in source
    assert "<h1" not in gfm(source) and "<li" not in gfm(source)


def test_fence_is_longer_than_any_backtick_run_inside() -> None:
    log = "```\n</code> -->\n`````` ``` \n~~~\n  ```"
    block = fence(log)
    assert block.startswith("~~~~\n") or block.startswith("```````\n")
    html = gfm(block)
    assert html.count("<pre>") == 1 and html.count("<code>") == 1
    assert "&lt;/code&gt; --&gt;" in html and "`````` ```" in html


def test_a_log_excerpt_renders_as_one_code_block_nothing_breaks_out_of() -> None:
    # Reproduction: fenced logs came out as `<code></code><code> ... </code>`.
    log = f"line 1\n```\n</code></pre><img src=x>\n--> {MARKER}\nhttps://evil.example #9 @octocat\n\n```\nafter\r\nlast"
    md = render_markdown(sandbox_report(log))
    html = gfm(md)
    assert html.count("<pre>") == 1 and "<img" not in html and "<a" not in html
    [block] = re.findall(r"<pre><code>(.*?)</code></pre>", html, re.S)
    assert block.split("\n")[:3] == ["line 1", "```", "&lt;/code&gt;&lt;/pre&gt;&lt;img src=x&gt;"]
    assert "after\nlast" in block and "https://evil.example #9 @octocat" in block  # verbatim
    assert md.count(MARKER) == 1 and md.startswith(MARKER + "\n")
    assert "How to fix" in html.split("</pre>")[1]  # the text after the block is outside it


def test_split_fenced_takes_the_outermost_fences() -> None:
    assert split_fenced("why:\n```\na\n```\nb\n```\nHow to fix: x") == ("why:", "a\n```\nb", "How to fix: x")
    assert split_fenced("no block ``` here") == ("no block ``` here", None, "")


# --- size -------------------------------------------------------------------------------------------


def test_one_huge_log_is_cut_and_the_failure_kept() -> None:
    # Reproduction: one long log made a 75,085-character comment.
    report = sandbox_report("x" * 1_000_000)
    md = render_markdown(report)
    assert comment_length(md) <= GITHUB_LIMIT
    assert md.startswith(MARKER + "\n## ")
    assert f"- ❌ **GR202** {BY_ID['GR202'].title}: The server did not start." in md
    assert f"**{CUT_HEADLINE}**" in md and "log excerpts" in md


def test_a_small_report_is_not_cut() -> None:
    md = render_markdown(sandbox_report("short log"))
    assert CUT_HEADLINE not in md and "short log" in md


def many_servers(n: int) -> Report:
    servers = []
    for i in range(n):
        findings = [finding(f"GR1{k:02d}", "pass", f"check {k} passed on server {i}") for k in range(15)]
        if i % 2:
            findings[4] = finding("GR104", "fail", f"domain `bad{i}` is not allowed " + "why " * 30)
        servers.append(ServerReport(name=f"s{i}", path=f"resources_servers/s{i}", status="checked", findings=findings))
    return finalized(Report(servers=servers))


def test_two_thousand_servers_fall_back_to_counts() -> None:
    report = many_servers(2000)
    start = time.monotonic()
    md = render_markdown(report)
    elapsed = time.monotonic() - start
    assert comment_length(md) <= GITHUB_LIMIT
    assert md.startswith(MARKER + "\n")
    assert f"**{CUT_HEADLINE}**" in md and "per-server counts" in md
    assert "1000 servers with no failing check" in md
    assert "resources\\_servers/s1</code> (checked): 1 blocking failure" in md
    assert elapsed < 60, elapsed


def test_fewer_servers_keep_every_failing_id_and_title() -> None:
    report = many_servers(300)
    md = fit_comment(report, judge_recorded(report))
    assert comment_length(md) <= GITHUB_LIMIT
    assert md.count("**GR104** Title of GR104") == 150
    assert f"**{CUT_HEADLINE}** the lists of passing and skipped checks" in md  # says what was cut
    assert "<details><summary>✅" not in md and "more servers without problems (list cut)" in md  # lists folded


def test_comment_length_counts_utf16_units() -> None:
    assert comment_length("a😀") == 3


# --- end to end: the real CLI on a hostile PR ---------------------------------------------------------


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gym_review_bot", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NO_COLOR": "1", "GITHUB_ACTIONS": "", **(env or {})},
    )


@pytest.fixture
def hostile_pr(repo: GitRepo) -> GitRepo:
    """A PR adding a server with an ESC in its name and a domain that carries URLs, refs and a command."""
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("evil")
    domain = json.dumps(f"https://evil.example/phish #12 GH-3 @octocat\n{INJECTION}\n ##[error]x")
    files["configs/evil.yaml"] = files["configs/evil.yaml"].replace("domain: knowledge", f"domain: {domain}")
    repo.server("evil", files)
    repo.server("evil\x1b[2Jname\n::warning::x", good_server_files("other"))
    repo.commit("hostile")
    return repo


def test_cli_output_from_a_hostile_pr_is_inert(hostile_pr: GitRepo, tmp_path: Path) -> None:
    md_path = tmp_path / "comment.md"
    proc = run_cli("check", "--repo", str(hostile_pr.path), "--base", "main", "--no-docker", "--markdown", str(md_path))
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert "\x1b" not in out and "resources_servers/evil\\x1b[2Jname" in out
    assert workflow_command_lines(out) == []
    assert "GR104" in out and out.rstrip().split("\n")[-1].startswith("verdict: FAIL")
    md = md_path.read_text()
    html = gfm(md)
    assert md.startswith(MARKER + "\n") and "<a" not in html and "<img" not in html
    assert "evil.example" in html and "@octocat" not in md and "#12" not in md and "GH-3" not in md
    assert "\x1b" not in md


def test_cli_under_actions_wraps_the_report_in_stop_commands(hostile_pr: GitRepo) -> None:
    args = ("check", "--repo", str(hostile_pr.path), "--base", "main", "--no-docker")
    proc = run_cli(*args, env={"GITHUB_ACTIONS": "true"})
    lines = proc.stdout.rstrip().split("\n")
    token = lines[0].removeprefix("::stop-commands::")
    assert re.fullmatch(r"[0-9a-f]{32}", token) and lines[-1] == f"::{token}::"
    assert workflow_command_lines("\n".join(lines[1:-1])) == []
    again = run_cli(*args, env={"GITHUB_ACTIONS": "true"}).stdout.split("\n")[0]
    assert again != lines[0]  # a fresh token each run
    plain = run_cli(*args).stdout
    assert "stop-commands" not in plain


def test_cli_quiet_prints_only_the_verdict_line(hostile_pr: GitRepo) -> None:
    args = ("check", "--repo", str(hostile_pr.path), "--base", "main", "--no-docker", "--quiet")
    for env in ({}, {"GITHUB_ACTIONS": "true"}):
        proc = run_cli(*args, env=env)
        assert proc.returncode == 1
        assert proc.stdout.count("\n") == 1 and proc.stdout.startswith("verdict: FAIL (incomplete)")


@pytest.mark.corpus
def test_all_over_the_nemo_gym_wheel_fits_one_comment(tmp_path: Path) -> None:
    # Reproduction: `--all` over the wheel made a 247,352-character comment.
    sys.path.insert(0, str(Path(__file__).parent))
    from corpus import CorpusUnavailable, corpus_root

    try:
        root = corpus_root()
    except CorpusUnavailable as exc:
        pytest.skip(f"cannot download the nemo-gym 0.4.0 wheel (offline?): {exc}")
    md_path, json_path = tmp_path / "all.md", tmp_path / "all.json"
    proc = run_cli("check", "--repo", str(root), "--all", "--markdown", str(md_path), "--json", str(json_path))
    assert proc.returncode in (0, 1, 3), proc.stderr
    md, report = md_path.read_text(), json.loads(json_path.read_text())
    assert comment_length(md) <= GITHUB_LIMIT and md.startswith(MARKER + "\n")
    assert CUT_HEADLINE in md
    failing = {(f["id"], f["title"]) for s in report["servers"] for f in s["findings"] if f["status"] == "fail"}
    if "per-server counts" not in md:
        assert all(f"**{i}** {md_inert(t)}" in md for i, t in failing)
    assert workflow_command_lines(proc.stdout) == []


def test_error_lines_on_stderr_are_escaped(tmp_path: Path) -> None:
    (tmp_path / "resources_servers").mkdir()
    proc = run_cli("check", "--repo", str(tmp_path), "--server", f"x\x1b[2J\n{INJECTION}")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "\x1b" not in proc.stderr and "x\\x1b[2J\\n::error" in proc.stderr


@pytest.mark.docker
def test_a_server_printing_a_workflow_command_injects_nothing(repo: GitRepo, tmp_path: Path) -> None:
    # Reproduction: a server printing `::error title=x::injected` injected a workflow command via its log.
    from tests.docker_support import base_image, ca_bundle, docker_skip_reason

    reason = docker_skip_reason()
    if reason:
        pytest.skip(f"Docker tests skipped: {reason}")
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("loud")
    noise = [INJECTION, "##[warning]legacy", "```", "</code></pre> -->", "https://evil.example/x @octocat #1"]
    files["app.py"] = f"import sys\nprint({chr(10).join(noise)!r}, flush=True)\nsys.exit(1)\n" + files["app.py"]
    repo.server("loud", files)
    repo.commit()
    md_path = tmp_path / "c.md"
    ca = ["--ca-bundle", str(ca_bundle())] if ca_bundle() else []
    args = ("check", "--repo", str(repo.path), "--base", "main", "--base-image", base_image(), *ca)
    args += ("--markdown", str(md_path), "--boot-timeout", "60", "--verbose")  # as the Action runs it
    proc = run_cli(*args, env={"GITHUB_ACTIONS": "true"}, timeout=1800)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stdout.rstrip().split("\n")
    token = lines[0].removeprefix("::stop-commands::")
    assert lines[-1] == f"::{token}::" and workflow_command_lines("\n".join(lines[1:-1])) == []
    assert "\\" + INJECTION in proc.stdout and "GR202" in proc.stdout
    md = md_path.read_text()
    html = gfm(md)
    assert "<a" not in html and "<img" not in html
    blocks = re.findall(r"<pre><code>(.*?)</code></pre>", html, re.S)
    assert any(INJECTION in b and "```\n&lt;/code&gt;&lt;/pre&gt; --&gt;" in b for b in blocks), md
