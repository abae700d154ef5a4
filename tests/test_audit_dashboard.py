"""The audit dashboard: self-contained HTML, escaped names, links only to the audited commit, the issue size cap."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from gym_review_bot.audit.dashboard import MAX_ISSUE_BODY, render_html, render_markdown
from gym_review_bot.audit.models import AuditReport, Keys, Replay, ServerAudit
from gym_review_bot.models import ServerReport
from tests.audit_support import audit, registry
from tests.conftest import good_server_files
from tests.github_support import finding

SHA = "c" * 40
HOSTILE = "<img src=x onerror=alert(1)> @admin #12 www.evil.example \"q'"


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in = tag if tag in ("script", "style") else None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts.append(data)
        elif self._in == "style":
            self.styles.append(data)

    def handle_endtag(self, tag):
        self._in = None


def _server(name: str, *failing: str, domains: tuple[str, ...] = ("math",)) -> ServerAudit:
    findings = [finding(i, "fail" if i in failing else "pass", "x", name) for i in ("GR101", "GR109", "GR203")]
    keys = Keys(server_tree="a" * 40, tool_version="t", policy_blob="defaults", sandbox=True)
    return ServerAudit(
        name=name,
        path=f"resources_servers/{name}",
        domains=list(domains),
        verdict="fail" if failing else "pass",
        complete=True,
        replay=Replay(mode="no_model"),
        keys=keys,
        verified_at="2026-12-01T00:00:00Z",
        verified_commit=SHA,
        report=ServerReport(name=name, path=f"resources_servers/{name}", status="checked", findings=findings),
    )


def _report(*servers: ServerAudit) -> AuditReport:
    return AuditReport(
        generated_at="2026-12-01T00:00:00Z", repository="org/gym", commit=SHA, servers=list(servers), finished=True
    )


def test_the_html_page_loads_nothing_from_outside_and_runs_only_its_own_script(tmp_path):
    repo = registry(tmp_path, ("alpha",))
    repo.server("beta_judge", good_server_files("beta_judge"))
    repo.commit("two")
    _, report, _, html = audit(repo.path, tmp_path / "out", "--github-repo", "org/gym")
    page = Tags()
    page.feed(html)
    names = [t for t, _ in page.tags]
    assert names.count("script") == 1 and names.count("style") == 1
    assert not {"link", "img", "iframe", "object", "embed", "base", "form"} & set(names) - {"form"}
    assert all("src" not in attrs for _, attrs in page.tags)
    hrefs = [attrs["href"] for t, attrs in page.tags if t == "a"]
    sha = report["commit"]
    assert hrefs and all(h.startswith("https://github.com/org/gym/") and sha in h for h in hrefs)
    assert "@import" not in html and "url(" not in html.split("<script>")[0]
    csp = next(a["content"] for t, a in page.tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    digest = base64.b64encode(hashlib.sha256(page.scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp and "default-src 'none'" in csp
    options = [a.get("value") for t, a in page.tags if t == "option"]
    assert "fail" in options and "error" in options and "knowledge" in options  # statuses and the domain


def test_a_hostile_server_name_is_text_everywhere():
    hostile = _server(HOSTILE, "GR109")
    report = _report(hostile, _server("alpha"))
    html = render_html(report)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    page = Tags()
    page.feed(html)
    assert [t for t, _ in page.tags].count("script") == 1
    assert all("resources_servers/alpha" in a["href"] for t, a in page.tags if t == "a" and "tree" in a["href"])
    markdown = render_markdown(report)
    assert "<img" not in markdown and "@\u200b" not in markdown and "@&#8203;admin" in markdown
    assert "www&#8203;.evil" in markdown and "#&#8203;12" in markdown
    assert markdown.count("](https://github.com/org/gym/tree/") == 1  # alpha only: an unsafe name gets no link


def test_the_dashboard_shows_the_judges_verdict_not_the_stored_one():
    forged = _server("alpha", "GR203").model_copy(update={"verdict": "pass", "failing": []})
    markdown = render_markdown(_report(forged))
    assert "1 failing" in markdown and "disagrees with its findings" in markdown
    assert "disagrees with its findings" in render_html(_report(forged))


def test_the_markdown_fits_an_issue_body_for_a_large_registry():
    servers = [_server(f"server_{i:04d}_{'x' * 30}", *(("GR203",) if i % 3 == 0 else ())) for i in range(600)]
    markdown = render_markdown(_report(*servers))
    assert len(markdown) <= MAX_ISSUE_BODY
    assert "200 failing" in markdown and "400 passing" in markdown
    assert re.search(r"and \d+ more", markdown)


def test_links_point_at_the_audited_commit_only():
    report = _report(_server("alpha", "GR109"))
    markdown = render_markdown(report)
    links = re.findall(r"\]\((https?://[^)]+)\)", markdown)
    assert links and all("/org/gym/" in url and SHA in url for url in links)
    bare = report.model_copy(update={"repository": None})
    assert "](http" not in render_markdown(bare) and "href=" not in render_html(bare)
