"""The comment a maintainer reads in ten seconds (issue 11): summary first, the delta, one line per problem.

Comments are rendered with cmarkgfm (GitHub's renderer) and their structure asserted on the HTML.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import cmarkgfm
import pytest

from gym_review_bot.catalogue import FAMILIES, Catalogue
from gym_review_bot.discover import discover_pr
from gym_review_bot.judge import judge
from gym_review_bot.models import Finding, Report, ServerReport
from gym_review_bot.render.layout import FOLD_SERVERS, Delta, Links
from gym_review_bot.render.markdown import CUT_HEADLINE, CommentContext, comment_length, fit_comment, render_markdown
from gym_review_bot.render.sticky import Extras, compose
from gym_review_bot.render.summary import CommentSummary
from gym_review_bot.render.terminal import render_terminal
from gym_review_bot.review import ReviewOptions, review
from tests.conftest import GitRepo, finalized, good_server_files

REPO = "NVIDIA-NeMo/Gym"
RUN = "https://github.com/NVIDIA-NeMo/Gym/actions/runs/42"
# The tags GitHub's renderer makes from Markdown itself (lists, tables, emphasis, code, links, headings).
MARKDOWN_TAGS = {"h2", "h3", "p", "ul", "li", "strong", "em", "a", "pre", "table", "thead", "tbody", "tr", "th", "td"}
RAW_HTML_ALLOWED = {"details", "summary", "sub", "code"}


def gfm(text: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(text, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)


class Tags(HTMLParser):
    """Every tag and every link in rendered HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    return tags


def raw_html_tags(md: str) -> set[str]:
    """Tags written as raw HTML in the Markdown source, outside fenced blocks (comments excluded)."""
    outside = re.sub(r"(?ms)^ *(`{3,}|~{3,}).*?^ *\1 *$", "", md)
    return {m.lower() for m in re.findall(r"<([A-Za-z][A-Za-z0-9]*)", outside)}


def problem_items(html: str) -> list[str]:
    """The list items of problems: they start with an icon and a bold check id."""
    return re.findall(r"<li>\s*(?:<p>)?(?:❌|⚠️|🚫|🔒|🕰️) <strong>(GR\d+)</strong>(.*?)(?=<li>|</ul>)", html, re.S)


def finding(check_id: str, status: str = "fail", message: str = "", **kw) -> Finding:
    defaults = {"severity": "error", "title": f"Title of {check_id}", "fix": f"Fix {check_id} like so."}
    return Finding(id=check_id, status=status, message=message or f"{check_id} went wrong.", **{**defaults, **kw})


def server(name: str, findings: list[Finding], status: str = "added") -> ServerReport:
    return ServerReport(name=name, path=f"resources_servers/{name}", status=status, findings=findings, sandbox_ran=True)


@pytest.fixture
def three_failures(repo: GitRepo) -> tuple[Report, str]:
    """A one-server PR with three failures (domain, licence, requirements), reviewed by the real pipeline."""
    files = good_server_files("word_ladder")
    files["configs/word_ladder.yaml"] = files["configs/word_ladder.yaml"].replace("domain: knowledge", "domain: words")
    files["README.md"] = files["README.md"].replace("Code: Apache 2.0", "Code: ?")
    files["requirements.txt"] = "numpy>=>1.26\n"
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("word_ladder", files)
    head = repo.commit("add word_ladder")
    report = review(discover_pr(repo.path, "main"), ReviewOptions()).report
    failing = sorted(f.id for s in report.servers for f in s.findings if f.status == "fail")
    assert failing == ["GR104", "GR108", "GR109"], failing
    return report, head


def ctx(report: Report, **kw) -> CommentContext:
    return CommentContext(links=Links(REPO, report.head_sha), **kw)


# --- 1. summary first -------------------------------------------------------------------------------


def test_the_verdict_line_then_a_table_with_one_cell_per_family(three_failures) -> None:
    report, _ = three_failures
    md = render_markdown(report, context=ctx(report))
    html = gfm(md)
    assert html.index("<h2>") < html.index("<table>") < html.index("<h3>")  # verdict, table, then the problems
    assert "changes needed" in html.split("</h2>")[0]
    header = re.findall(r"<th[^>]*>(.*?)</th>", html.split("</thead>")[0])
    assert header == ["server", *FAMILIES]
    [row] = re.findall(r"<tr>\s*<td>(.*?)</tr>", html, re.S)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + row)
    assert cells[0] == "<code>word_ladder</code>"
    by_family = dict(zip(FAMILIES, cells[1:], strict=True))
    for check in ("GR104", "GR108", "GR109"):
        assert by_family[Catalogue().family(check)] == "❌", (check, by_family)
    assert by_family["data"] == "✅" and by_family["files"] == "✅"
    assert by_family["sandbox"] == "⏭️"  # not requested: never shown as a pass


def test_a_check_that_could_not_run_is_never_a_pass_in_the_table() -> None:
    findings = [finding("GR101", "pass", "ok"), finding("GR102", "error", "the check crashed")]
    report = finalized(Report(servers=[server("srv", findings)]))
    row = [line for line in render_markdown(report).split("\n") if line.startswith("| <code>srv")][0]
    assert row.split(" | ")[2] == "🚫"  # code: GR101 passed, GR102 could not run


def test_failing_servers_come_first_and_the_rest_fold() -> None:
    servers = [server(f"ok{i}", [finding("GR101", "pass", "ok")]) for i in range(FOLD_SERVERS + 2)]
    servers.insert(3, server("broken", [finding("GR104", "fail", "domain `x` is not allowed")]))
    report = finalized(Report(servers=servers))
    html = gfm(render_markdown(report))
    tables = html.split("<table>")
    assert len(tables) == 3  # the problems table, then the folded one
    assert "<code>broken</code>" in tables[1] and "<code>ok0</code>" not in tables[1]
    assert f"{FOLD_SERVERS + 2} more servers without problems</summary>" in tables[1]
    assert "<code>ok0</code>" in tables[2]
    assert html.count("<h3>") == 1  # only the failing server has a section


def test_the_pr_description_has_its_own_line() -> None:
    from gym_review_bot.models import PrReport

    report = Report(servers=[server("srv", [finding("GR101", "pass", "ok")])], pr=PrReport(findings=[]))
    report.pr.findings = [finding("GR301", message="No `## Environment` section."), finding("GR302", "pass", "ok")]
    report = finalized(report)
    md = render_markdown(report)
    assert "PR description: ❌ (GR301)" in md


# --- 2. what changed since the last review ----------------------------------------------------------


def published(report: Report, previous: CommentSummary | None, **kw) -> tuple[str, CommentSummary]:
    extras = Extras(repo=REPO, previous=previous, first_comment=previous is None, **kw)
    return compose(report, judge(report), extras)


def test_the_first_review_has_no_delta_line(three_failures) -> None:
    report, _ = three_failures
    body, summary = published(report, None)
    assert "Since " not in body and summary.since is None


def test_the_delta_counts_fixed_new_and_unchanged_fingerprints(three_failures) -> None:
    report, head = three_failures
    fps = {f.id: f.fingerprint for f in report.servers[0].findings if f.status == "fail"}
    previous = CommentSummary(
        verdict="fail",
        complete=False,
        head="0123456789abcdef0123456789abcdef01234567",
        state="failure",
        failing=[("GR104", fps["GR104"]), ("GR105", "f" * 20), ("GR108", "e" * 20)],
    )
    body, summary = published(report, previous)
    html = gfm(body)
    assert "<strong>Since 0123456:</strong> 2 fixed, 2 new (GR108, GR109), 1 still failing." in html
    assert html.index("Since 0123456") < html.index("<table>")  # visible without scrolling
    # A re-run on the same head says the same thing, so the comment is not edited for nothing.
    again, summary_again = published(report, summary)
    assert summary_again.digest == summary.digest and "2 fixed, 2 new (GR108, GR109)" in again
    # A re-push that changes nothing says so.
    summary.head = "fedcba9876543210fedcba9876543210fedcba98"
    same, _ = published(report, summary)
    assert "<strong>Since fedcba9:</strong> no change (3 failures still failing)." in gfm(same)


def test_a_delta_line_renders_a_truncated_previous_list_as_at_least() -> None:
    report = finalized(Report(servers=[server("s", [finding("GR101", "pass", "ok")])]))
    md = render_markdown(report, context=CommentContext(delta=Delta("a" * 40, fixed=3, partial=True)))
    assert "**Since aaaaaaa:** 3+ fixed." in md


# --- 3. one line per problem ------------------------------------------------------------------------


def test_each_problem_is_one_line_linking_its_file_and_line_at_the_head_sha(three_failures) -> None:
    # Reproduction: each failing line repeated its file path twice, the fix was fused into the
    # message, and no file was a link.
    report, head = three_failures
    md = render_markdown(report, context=ctx(report, run_url=RUN, first_comment=True))
    html = gfm(md)
    items = dict(problem_items(html))
    assert sorted(items) == ["GR104", "GR108", "GR109"]
    base = f"https://github.com/{REPO}/blob/{head}/resources_servers/word_ladder/"
    for item in items.values():
        link = re.search(r'<a href="([^"]+)">([^<]+)</a>', item)
        assert link and link.group(1).startswith(base), item
        shown = link.group(2)
        if ":" in shown:  # file:line links to the line
            assert link.group(1).endswith(f"#L{shown.split(':')[1]}")
        visible = item.split("<details>")[0]
        assert visible.count("word_ladder/") == 1  # the path once, in the link, never in the message
        assert "<details><summary>Fix</summary>" in item  # the advice folded, not fused into the line
    assert items["GR104"].index("configs/word_ladder.yaml:") >= 0
    tags = parse(html)
    assert all(
        h.startswith(base) or h == RUN or h.startswith("https://github.com/NVIDIA-NeMo/Gym/blob/main/")
        for h in tags.hrefs
    )


def test_links_point_only_at_the_head_sha_and_never_climb_out_of_the_repository() -> None:
    sha = "b" * 40
    hostile = [
        finding("GR100", file="resources_servers/s/../../../attacker/repo/x", line=1),
        finding("GR101", file="/etc/passwd"),
        finding("GR102", file="resources_servers/s/a b)(c#d?.py", line=3),
        finding("GR103", file="resources_servers/s/configs/s.yaml", line=4, message="see https://evil.example/x"),
    ]
    report = finalized(Report(servers=[server("s", hostile)], head_sha=sha))
    html = gfm(render_markdown(report, context=CommentContext(links=Links(REPO, sha))))
    hrefs = parse(html).hrefs
    assert hrefs == [
        f"https://github.com/{REPO}/blob/{sha}/resources_servers/s/a%20b%29%28c%23d%3F.py#L3",
        f"https://github.com/{REPO}/blob/{sha}/resources_servers/s/configs/s.yaml#L4",
    ]
    # Without a valid repository and SHA from the bot, nothing is a link.
    for links in (Links(None, sha), Links("a/b/c", sha), Links(REPO, "main"), Links(REPO, sha, "http://x")):
        assert parse(gfm(render_markdown(report, context=CommentContext(links=links)))).hrefs == []


def test_warnings_come_after_errors_and_passes_and_skips_are_folded() -> None:
    findings = [
        finding("GR110", severity="warning", message="A warning."),
        finding("GR101", "pass", "ok"),
        finding("GR104", message="An error."),
        finding("GR201", "skip", "Skipped: no Docker.", skip_kind="not_requested"),
        finding("GR202", "skip", "Skipped: no Docker.", skip_kind="not_requested"),
    ]
    md = render_markdown(finalized(Report(servers=[server("s", findings)])))
    html = gfm(md)
    assert [check for check, _ in problem_items(html)] == ["GR104", "GR110"]
    folded = html.split("<summary>✅ 1 passed · ⏭️ 2 skipped</summary>")[1].split("</details>")[0]
    assert "GR101" in folded and "⏭️ GR201–GR202 (not requested)" in folded
    assert "Fix GR104 like so." in html  # a message without advice of its own gets the check's fix


def test_log_excerpts_are_folded_with_the_fix() -> None:
    message = "The server did not start.\n```\nTraceback\nImportError: x\n```\nHow to fix: import less."
    report = finalized(Report(servers=[server("s", [finding("GR202", message=message, fix="")])]))
    html = gfm(render_markdown(report))
    [(_, item)] = problem_items(html)
    visible, folded = item.split("<details>", 1)
    assert "did not start" in visible and "Traceback" not in visible
    assert "<summary>Fix and log</summary>" in folded and "<pre><code>Traceback" in folded


def test_no_raw_html_beyond_details_summary_sub_and_code(three_failures) -> None:
    report, _ = three_failures
    hostile = finding("GR104", message="<img src=x> <details><script>alert(1)</script> [x](https://e.example)")
    report.servers[0].findings.append(hostile)
    md = render_markdown(report, context=ctx(report, run_url=RUN, first_comment=True, delta=Delta("c" * 40, fixed=1)))
    assert raw_html_tags(md) <= RAW_HTML_ALLOWED
    assert parse(gfm(md)).tags <= MARKDOWN_TAGS | RAW_HTML_ALLOWED


# --- 4. footer --------------------------------------------------------------------------------------


def test_the_footer_says_version_run_recheck_and_reproduction_and_the_guide_once(three_failures) -> None:
    report, _ = three_failures
    report.tool_version = "0.1.0"
    first, summary = published(report, None, run_url=RUN)
    foot = gfm(first).split("<sub>gym-review ")[1]
    assert foot.startswith(f"0.1.0 at {report.head_sha[:7]} ·") and f'<a href="{RUN}">' in foot
    assert "<code>/gym-review recheck</code>" in foot
    assert "<code>gym-review check --repo . --base origin/main</code>" in foot
    assert "CONTRIBUTING.md" in foot and summary.guide
    # The same comment keeps its guide link when edited; a bot comment that never had it does not gain it.
    edited, _ = published(report, summary)
    assert "CONTRIBUTING.md" in edited
    summary.guide = False
    assert "CONTRIBUTING.md" not in published(report, summary)[0]
    # The run link is not part of the digest: a re-run elsewhere does not edit the comment.
    assert published(report, None, run_url=RUN + "1")[1].digest == published(report, None, run_url=RUN)[1].digest


def test_fingerprints_are_listed_only_for_a_check_failing_more_than_once() -> None:
    # An override records the fingerprints failing when it is given: a check failing once needs none.
    once = [finding("GR104", fingerprint="a" * 20), finding("GR108", fingerprint="b" * 20)]
    report = finalized(Report(servers=[server("s", once)], head_sha="1" * 40))
    body, _ = published(report, None)
    assert "FINGERPRINT" not in body and "a" * 20 not in body.split("<!-- gym-review-bot:summary")[0]
    assert "maintainers: <code>/gym-review override GRxxx &quot;reason&quot;</code>" in gfm(body)
    twice = [*once, finding("GR104", fingerprint="c" * 20, file="resources_servers/s/configs/b.yaml")]
    report = finalized(Report(servers=[server("s", twice)], head_sha="1" * 40))
    html = gfm(published(report, None)[0])
    folded = html.split("<summary>Overriding one failure of a check (maintainers)</summary>")[1].split("</details>")[0]
    assert "<code>/gym-review override GRxxx:FINGERPRINT &quot;reason&quot;</code>" in folded
    listed = re.findall(r"<li>(GR\d+): <code>([0-9a-f]+)</code></li>", folded)
    assert listed == [("GR104", "a" * 20), ("GR104", "c" * 20)]
    # Nothing blocks: no override hint at all.
    clean = finalized(Report(servers=[server("s", [finding("GR101", "pass", "ok")])], head_sha="1" * 40))
    assert "override" not in published(clean, None)[0]


def test_a_hostile_file_name_in_a_link_text_stays_text() -> None:
    # The link text is the PR's own file name (plain text since issue 11, no longer inside <code>).
    name = "x](javascript:alert(1)) @octocat #12 GH-3 www.evil.example <img src=x> `y`.py"  # no `/`: it links
    bad = finding("GR104", file=f"resources_servers/s/{name}", line=3)
    report = finalized(Report(servers=[server("s", [bad])], head_sha="1" * 40))
    md = render_markdown(report, context=CommentContext(links=Links(REPO, "1" * 40)))
    html = gfm(md)
    [href] = parse(html).hrefs  # one link: the bot's, to the file at the head SHA
    assert href.startswith(f"https://github.com/{REPO}/blob/{'1' * 40}/resources_servers/s/x%5D")
    assert href.endswith("#L3") and "javascript" not in href.split("/s/")[0]
    text = html.split("<a href=")[1].split('">', 1)[1].split("</a>")[0]  # the link's text
    assert "@octocat" not in text and "<img" not in html and "www.evil" not in text  # broken by zero-width spaces
    assert raw_html_tags(md) <= RAW_HTML_ALLOWED
    # A name that could leave the repository (`//`, `..`) gets no link at all, only inert text.
    report.servers[0].findings[0].file = "resources_servers/s/../../x](https://evil.example/).py"
    assert parse(gfm(render_markdown(report, context=CommentContext(links=Links(REPO, "1" * 40))))).hrefs == []


def test_a_run_url_markdown_could_act_on_is_dropped() -> None:
    report = finalized(Report(servers=[server("s", [finding("GR101", "pass", "ok")])]))
    for url in ("javascript:alert(1)", "https://x.example/a)(b", "https://x.example/a b", "http://x.example/run"):
        assert parse(gfm(render_markdown(report, context=CommentContext(run_url=url)))).hrefs == []


# --- 5. terminal ------------------------------------------------------------------------------------


def test_the_terminal_shows_the_same_table_plain_unless_coloured(three_failures) -> None:
    report, _ = three_failures
    plain = render_terminal(report)
    assert "\x1b" not in plain
    head = plain.split("\n")[0].split()
    assert head == ["server", *FAMILIES]
    row = next(line for line in plain.split("\n") if line.startswith("word_ladder"))
    assert row.split()[1:] == ["ok", "FAIL", "FAIL", "ok", "FAIL", "skip", "skip"]
    assert plain.index("word_ladder   ") < plain.index("[FAIL] GR104")  # the table, then the failures
    line = next(line for line in plain.split("\n") if "[FAIL] GR109" in line)
    assert line.endswith(
        "(resources_servers/word_ladder/README.md:9): `Code: ?` is a placeholder where a licence belongs."
    )
    coloured = render_terminal(report, color=True)
    assert "\x1b[31mFAIL" in coloured


def test_the_terminal_gives_one_line_per_failure_unless_verbose(three_failures) -> None:
    report, _ = three_failures
    lines = render_terminal(report).rstrip().split("\n")
    start = lines.index("FAIL resources_servers/word_ladder (added)")
    failures = lines[start + 1 : start + 4]
    assert [line.split()[1] for line in failures] == ["GR104", "GR108", "GR109"]
    assert all(line.startswith("  [FAIL] ") for line in failures) and lines[start + 4] == ""
    assert not any(line.startswith(("  [SKIP]", "  [PASS]", "         ")) for line in lines)
    assert lines[-2].startswith("more: --verbose") and lines[-1].startswith("verdict: FAIL")
    verbose = render_terminal(report, verbose=True)
    assert "         Name the licence" in verbose and "  [SKIP] GR114: waits on GR109" in verbose
    assert "  [PASS] GR100 GR101" in verbose and "more: --verbose" not in verbose


def test_the_terminal_table_keeps_server_names_inert() -> None:
    name = "[bold red]x[/]\x1b[2J\n::error::injected ##[group]"
    report = finalized(Report(servers=[server(name, [finding("GR104", message="bad")])]))
    for color in (False, True):
        text = render_terminal(report, color=color)
        assert "[bold red]x[/]\\x1b[2J\\n::error::injected" in text.replace("\n", "")  # shown, not obeyed
        assert "\x1b[2J" not in text
        assert not [line for line in text.split("\n") if line.lstrip().startswith("::") or "##[" in line]


# --- 6. size ----------------------------------------------------------------------------------------


def as_the_action_runs_it(report: Report) -> Report:
    """The same review as the Action gives it: the sandbox ran and passed, the description was checked and
    passed, and the attached evidence was compared (what the Docker and evidence tests check for real)."""
    from gym_review_bot.models import PrReport

    for srv in report.servers:
        srv.sandbox_ran = True
        for f in srv.findings:
            if f.skip_kind == "not_requested" or f.id == "GR407":
                f.status, f.skip_kind, f.message = "pass", None, "Passed."
    report.pr = PrReport(findings=[finding(f"GR30{i}", "pass", "Passed.") for i in range(1, 6)])
    return finalized(report)


def test_a_one_server_pr_with_three_failures_stays_short(three_failures) -> None:
    # Issue 11: under 2,500 characters, as GitHub shows the first comment (guide and run links included).
    report, _ = three_failures
    report = as_the_action_runs_it(report)
    assert report.complete and report.summary.errors == 3
    md = render_markdown(report, context=ctx(report, run_url=RUN, first_comment=True))
    assert comment_length(md) < 2_500, comment_length(md)
    visible = re.sub(r"(?s)<details>.*?</details>", "", md)  # what shows before anything is unfolded
    assert comment_length(visible) < 1_700, comment_length(visible)
    # As published: with the maintainers' override hint; the hidden summary shows nowhere.
    body, _ = published(report, None, run_url=RUN)
    shown = re.sub(r"<!-- gym-review-bot:summary [A-Za-z0-9_=-]+ -->", "", body)
    assert comment_length(shown) < 2_500, comment_length(shown)
    assert "maintainers: <code>/gym-review override GRxxx" in gfm(body)


def test_a_review_without_sandbox_or_description_says_what_it_lacks_in_little_room(three_failures) -> None:
    # A local run (no Docker, no --pr-body) adds the incomplete line and the list of checks not run.
    report, _ = three_failures
    md = render_markdown(report, context=ctx(report, run_url=RUN, first_comment=True))
    # 6 sandbox checks, 9 evidence checks and the 5 of the PR description: all not requested
    assert "**Incomplete:** sandbox not run (1 server); 20 checks not requested." in md
    assert comment_length(md) < 2_700, comment_length(md)


def test_folded_parts_are_cut_first(three_failures) -> None:
    report, _ = three_failures
    context = ctx(report)
    full = render_markdown(report, context=context)
    md = fit_comment(report, judge(report), limit=comment_length(full) - 1, context=context)
    assert f"**{CUT_HEADLINE}** the lists of passing and skipped checks." in md
    assert md.count("<summary>Fix</summary>") == 3  # the fixes stay until the lists are gone
    assert all(f"**{check}**" in md for check in ("GR104", "GR108", "GR109"))


def test_the_demo_comment_renders(tmp_path: Path) -> None:
    from tests.test_render_safety import run_cli

    md_path = tmp_path / "demo.md"
    proc = run_cli("demo", "--markdown", str(md_path))
    assert proc.returncode == 0, proc.stderr  # the demo exits 0 whatever it finds
    html = gfm(md_path.read_text())
    assert "<table>" in html and len(problem_items(html)) >= 3


def test_sandbox_timings_are_folded_with_the_passing_checks() -> None:
    from gym_review_bot.models import Timings

    srv = server("s", [finding("GR201", "pass", "built")])
    srv.timings = Timings(build_s=1.0, boot_s=2.0, replay_s=None, tests_s=3.5)
    html = gfm(render_markdown(finalized(Report(servers=[srv]))))
    folded = html.split("<summary>✅ 1 passed</summary>")[1].split("</details>")[0]
    assert "Sandbox timings: build 1.0 s, boot 2.0 s, replay –, tests 3.5 s." in folded


def test_a_path_at_the_start_of_a_message_or_skip_reason_keeps_its_case() -> None:
    message = "resources_servers/s/data/example.jsonl has no rows to compare with."
    skip = finding("GR110", "skip", message, skip_kind="not_applicable")
    fail = finding("GR109", "fail", "resources_servers/s/README.md: data/notes.md is named but absent.")
    fail.file = "resources_servers/s/README.md"
    html = gfm(render_markdown(finalized(Report(servers=[server("s", [skip, fail])]))))
    assert f"GR110: {message}" in html and "Resources_servers" not in html
    assert ": data/notes.md is named but absent." in html and "Data/notes.md" not in html
