"""A small GitHub REST API on 127.0.0.1 for PyGithub: real HTTP, state in memory, requests counted.

Pagination follows GitHub (default 30 a page, at most 100, `Link` headers); `GET /user` answers 403
as it does for workflow and App tokens; `faults` queues canned answers (5xx, rate limits) by path.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Fault:
    method: str
    path_re: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=lambda: {"message": "Server Error"})


@dataclass
class PR:
    number: int
    author: str
    head: str
    files: list[str]
    body: str = ""
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    created_at: str = "2026-11-01T00:00:00Z"
    merged: bool = False
    commits: list[str] = field(default_factory=list)


class FakeGithub:
    def __init__(self, repo: str = "org/gym"):
        self.repo = repo
        self.pulls: dict[int, PR] = {}
        self.comments: list[dict] = []
        self.statuses: list[dict] = []
        self.reviews: dict[int, list[dict]] = {}
        self.roles: dict[str, str] = {}
        self.runs: list[dict] = []
        self.reruns: list[int] = []
        self.merges: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.seen_tokens: set[str] = set()
        self.rate_remaining = 5000
        self._lock = threading.Lock()
        self._next_id = 1000
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGithub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- state helpers for tests ---
    def add_pr(self, number: int, author: str = "contrib", head: str = "a" * 40, files=None, **kw: Any) -> PR:
        pr = PR(number, author, head, list(files or ["resources_servers/word_count/app.py"]), **kw)
        self.pulls[number] = pr
        return pr

    def add_comment(self, number: int, login: str, body: str) -> dict:
        with self._lock:
            self._next_id += 1
            comment = {"id": self._next_id, "number": number, "login": login, "body": body}
            self.comments.append(comment)
        return comment

    def pr_comments(self, number: int) -> list[dict]:
        return [c for c in self.comments if c["number"] == number]

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    def reset_counts(self) -> None:
        self.requests.clear()

    # --- JSON shapes ---
    def api(self, path: str) -> str:
        return f"{self.url}/repos/{self.repo}{path}"

    def user(self, login: str) -> dict:
        return {"login": login, "id": abs(hash(login)) % 10**8, "type": "User", "url": f"{self.url}/users/{login}"}

    def pull_json(self, pr: PR) -> dict:
        return {
            "id": pr.number,
            "number": pr.number,
            "state": pr.state,
            "merged": pr.merged,
            "title": f"PR {pr.number}",
            "body": pr.body,
            "user": self.user(pr.author),
            "head": {"sha": pr.head, "ref": "feature", "label": "x:feature"},
            "base": {"sha": "b" * 40, "ref": "main", "label": "org:main"},
            "labels": [{"name": n, "id": i} for i, n in enumerate(pr.labels)],
            "requested_reviewers": [self.user(u) for u in pr.requested],
            "created_at": pr.created_at,
            "updated_at": pr.created_at,
            "commits": len(pr.commits) or 1,
            "url": self.api(f"/pulls/{pr.number}"),
            "issue_url": self.api(f"/issues/{pr.number}"),
            "html_url": f"{self.url}/{self.repo}/pull/{pr.number}",
        }

    def comment_json(self, c: dict) -> dict:
        return {
            "id": c["id"],
            "body": c["body"],
            "user": self.user(c["login"]),
            "url": self.api(f"/issues/comments/{c['id']}"),
            "html_url": f"{self.url}/{self.repo}/pull/{c['number']}#issuecomment-{c['id']}",
            "issue_url": self.api(f"/issues/{c['number']}"),
            "created_at": "2026-11-02T00:00:00Z",
            "updated_at": c.get("updated_at", "2026-11-02T00:00:00Z"),
        }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGithub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode() if data is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        merged = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": str(self.fake.rate_remaining),
            "X-RateLimit-Reset": str(int(time.time()) + 3600),
            **(headers or {}),
        }
        for k, v in merged.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(raw)

    def _page(self, items: list, query: dict) -> None:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        base = f"{self.fake.url}{urlsplit(self.path).path}"
        if page < last:
            links.append(f'<{base}?per_page={per_page}&page={page + 1}>; rel="next"')
            links.append(f'<{base}?per_page={per_page}&page={last}>; rel="last"')
        self._send(200, chunk, {"Link": ", ".join(links)} if links else None)

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        fake.requests.append((method, path))
        auth = self.headers.get("Authorization", "")
        fake.seen_tokens.add(auth.removeprefix("token ").removeprefix("Bearer "))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        for fault in list(fake.faults):
            if fault.method == method and re.search(fault.path_re, path):
                fake.faults.remove(fault)
                return self._send(fault.status, fault.body, fault.headers)
        if path == "/user":
            return self._send(403, {"message": "Resource not accessible by integration"})
        prefix = f"/repos/{fake.repo}"
        if not path.startswith(prefix):
            return self._send(404, {"message": "Not Found"})
        with fake._lock:
            result = _route(fake, method, path[len(prefix) :], query, body)
        if result is None:
            return self._send(404, {"message": "Not Found"})
        status, data = result
        if isinstance(data, _Paged):
            return self._page(data.items, query)
        self._send(status, data)


@dataclass
class _Paged:
    items: list


def _route(fake: FakeGithub, method: str, path: str, query: dict, body: Any):  # noqa: C901 - a routing table
    routed = _issue_route(fake, method, path, query, body)  # repository issues (the audit): the section at the end
    if routed is not None:
        return routed
    m = re.fullmatch(r"/pulls/(\d+)(/.*)?", path)
    if m:
        pr = fake.pulls.get(int(m.group(1)))
        if pr is None:
            return None
        rest = m.group(2) or ""
        if method == "GET" and rest == "":
            return 200, fake.pull_json(pr)
        if method == "GET" and rest == "/files":
            return 200, _Paged([{"filename": f, "status": "added", "sha": "c" * 40} for f in pr.files])
        if method == "GET" and rest == "/reviews":
            return 200, _Paged(fake.reviews.get(pr.number, []))
        if method == "POST" and rest == "/requested_reviewers":
            pr.requested += body.get("reviewers", [])
            return 201, fake.pull_json(pr)
        if method == "PUT" and rest == "/merge":
            if body.get("sha") and body["sha"] != pr.head:
                return 409, {"message": "Head branch was modified"}
            pr.merged, pr.state = True, "closed"
            fake.merges.append({"number": pr.number, **body})
            return 200, {"merged": True, "sha": "d" * 40, "message": "merged"}
        return None
    if method == "GET" and path == "/pulls":
        state = query.get("state", ["open"])[0]
        return 200, _Paged([fake.pull_json(p) for p in fake.pulls.values() if state == "all" or p.state == state])
    m = re.fullmatch(r"/issues/(\d+)/comments", path)
    if m:
        number = int(m.group(1))
        if number not in fake.pulls:
            return None
        if method == "GET":
            return 200, _Paged([fake.comment_json(c) for c in fake.pr_comments(number)])
        if method == "POST":
            fake._next_id += 1
            c = {"id": fake._next_id, "number": number, "login": "github-actions[bot]", "body": body["body"]}
            fake.comments.append(c)
            return 201, fake.comment_json(c)
    m = re.fullmatch(r"/issues/comments/(\d+)", path)
    if m:
        c = next((c for c in fake.comments if c["id"] == int(m.group(1))), None)
        if c is None:
            return None
        if method == "PATCH":
            c["body"], c["updated_at"] = body["body"], "2026-11-03T00:00:00Z"
        return 200, fake.comment_json(c)
    m = re.fullmatch(r"/issues/(\d+)/labels(?:/(.+))?", path)
    if m and int(m.group(1)) in fake.pulls:
        pr = fake.pulls[int(m.group(1))]
        if method == "POST":
            names = body if isinstance(body, list) else body.get("labels", [])
            pr.labels += [n for n in names if n not in pr.labels]
        elif method == "DELETE" and m.group(2) in pr.labels:
            pr.labels.remove(m.group(2))
        elif method == "DELETE":
            return None
        return 200, [{"name": n} for n in pr.labels]
    m = re.fullmatch(r"/statuses/([0-9a-f]{40})", path)
    if m and method == "POST":
        fake.statuses.append({"sha": m.group(1), **body})
        return 201, {"id": len(fake.statuses), **body}
    m = re.fullmatch(r"/collaborators/([^/]+)/permission", path)
    if m and method == "GET":
        role = fake.roles.get(m.group(1))
        if role is None:
            return 404, {"message": "Not Found"}
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)
        return 200, {"permission": legacy, "role_name": role, "user": fake.user(m.group(1))}
    if method == "GET" and path == "/actions/runs":
        runs = [r for r in fake.runs if r["head_sha"] == query.get("head_sha", [r["head_sha"]])[0]]
        return 200, {"total_count": len(runs), "workflow_runs": runs}
    m = re.fullmatch(r"/actions/runs/(\d+)/rerun", path)
    if m and method == "POST":
        fake.reruns.append(int(m.group(1)))
        return 201, {}
    m = re.fullmatch(r"/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", path)
    if m and method == "GET":
        pr = next((p for p in fake.pulls.values() if p.head == m.group(2)), None)
        ahead = 0
        if pr and m.group(1) in pr.commits:
            ahead = len(pr.commits) - 1 - pr.commits.index(m.group(1))
        return 200, {"ahead_by": ahead, "behind_by": 0, "status": "ahead", "total_commits": ahead, "commits": []}
    return None


# === Repository issues (issue 21: the registry audit's publish, gym_review_bot/github/audit_issues.py) ==========
# Self-contained: the issues live in `fake.repo_issues` (made on first use), their routes in `_issue_route`,
# which `_route` asks first; PR numbers stay the rest of the fake's. Each behaviour cites GitHub's documentation.

AUDIT_CREATED_AT = "2026-12-01T00:00:00Z"
MAX_ISSUE_BODY = 65_536


@dataclass
class RepoIssue:
    number: int
    title: str
    body: str
    author: str
    labels: list[str] = field(default_factory=list)
    state: str = "open"
    state_reason: str | None = None
    comments: list[dict] = field(default_factory=list)
    created_at: str = AUDIT_CREATED_AT
    edits: int = 0


def repo_issues(fake: FakeGithub) -> dict[int, RepoIssue]:
    return fake.__dict__.setdefault("repo_issues", {})


def add_issue(fake: FakeGithub, title: str, body: str = "", author: str = "someone", **kw: Any) -> RepoIssue:
    """An issue already in the repository (a test's starting state)."""
    issue = RepoIssue(_next_issue_number(fake), title, body, author, **kw)
    repo_issues(fake)[issue.number] = issue
    return issue


def _next_issue_number(fake: FakeGithub) -> int:
    # Issues and pull requests share one sequence of numbers: "GitHub's REST API considers every pull request an
    # issue, but not every issue is a pull request." https://docs.github.com/en/rest/issues/issues
    return max([0, *fake.pulls, *repo_issues(fake)]) + 1


def issue_json(fake: FakeGithub, issue: RepoIssue) -> dict:
    return {
        "id": 50_000 + issue.number,
        "number": issue.number,
        "title": issue.title,
        "body": issue.body,
        "state": issue.state,
        "state_reason": issue.state_reason,
        "user": fake.user(issue.author),
        "labels": [{"name": n, "id": i} for i, n in enumerate(issue.labels)],
        "comments": len(issue.comments),
        "created_at": issue.created_at,
        "updated_at": issue.created_at,
        "url": fake.api(f"/issues/{issue.number}"),
        "html_url": f"{fake.url}/{fake.repo}/issues/{issue.number}",
        "comments_url": fake.api(f"/issues/{issue.number}/comments"),
    }


def _too_long(body: Any) -> tuple[int, dict] | None:
    # An issue body over 65,536 characters is refused with 422 "body is too long (maximum is 65536 characters)":
    # https://github.com/googleapis/release-please/issues/1034 ; https://github.com/PyGithub/PyGithub/issues/1906
    if isinstance(body, str) and len(body) > MAX_ISSUE_BODY:
        error = {
            "resource": "Issue",
            "code": "custom",
            "field": "body",
            "message": "body is too long (maximum is 65536 characters)",
        }
        return 422, {"message": "Validation Failed", "errors": [error]}
    return None


def _list_issues(fake: FakeGithub, query: dict) -> tuple[int, _Paged]:
    # List repository issues: `state` defaults to open (open, closed, all); `labels` is "a list of comma separated
    # label names" and an issue must carry each; `sort` defaults to created, `direction` to desc; pull requests
    # are listed too, with a `pull_request` key. https://docs.github.com/en/rest/issues/issues#list-repository-issues
    state = query.get("state", ["open"])[0]
    wanted = [n for n in query.get("labels", [""])[0].split(",") if n]
    items = [(i.number, issue_json(fake, i), i.state, i.labels) for i in repo_issues(fake).values()]
    items += [(p.number, {**fake.pull_json(p), "pull_request": {}}, p.state, p.labels) for p in fake.pulls.values()]
    shown = [j for _, j, st, labels in items if (state == "all" or st == state) and all(n in labels for n in wanted)]
    ascending = query.get("direction", ["desc"])[0] == "asc"
    return 200, _Paged(sorted(shown, key=lambda j: j["number"], reverse=not ascending))


def _create_issue(fake: FakeGithub, body: dict) -> tuple[int, dict]:
    # Create an issue: `title` is required; answers 201 with the issue. "Only users with push access can set labels
    # for new issues. Labels are silently dropped otherwise." (the workflow token with issues: write has it here)
    # https://docs.github.com/en/rest/issues/issues#create-an-issue
    if not body or not body.get("title"):
        return 422, {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
        }
    refused = _too_long(body.get("body"))
    if refused:
        return refused
    issue = RepoIssue(_next_issue_number(fake), body["title"], body.get("body") or "", "github-actions[bot]")
    issue.labels = [label if isinstance(label, str) else label.get("name", "") for label in body.get("labels") or []]
    repo_issues(fake)[issue.number] = issue
    return 201, issue_json(fake, issue)


def _update_issue(fake: FakeGithub, issue: RepoIssue, body: dict) -> tuple[int, dict]:
    # Update an issue: title, body, `state` (open or closed) and `state_reason` (completed, not_planned,
    # reopened), which is "ignored unless `state` is changed"; `labels` replaces the set.
    # https://docs.github.com/en/rest/issues/issues#update-an-issue
    refused = _too_long(body.get("body"))
    if refused:
        return refused
    if "title" in body:
        issue.title = body["title"]
    if "body" in body:
        issue.body = body["body"] or ""
    if "labels" in body:
        issue.labels = [label if isinstance(label, str) else label.get("name", "") for label in body["labels"]]
    if body.get("state") in ("open", "closed") and body["state"] != issue.state:
        issue.state = body["state"]
        issue.state_reason = body.get("state_reason") or ("completed" if issue.state == "closed" else "reopened")
    issue.edits += 1
    return 200, issue_json(fake, issue)


def _issue_comments(fake: FakeGithub, issue: RepoIssue, method: str, body: Any) -> tuple[int, Any]:
    # Issue comments: listed oldest first, created with 201; their body has the same 65,536-character cap.
    # https://docs.github.com/en/rest/issues/comments#list-issue-comments ;
    # https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
    if method == "GET":
        return 200, _Paged([fake.comment_json(c) for c in issue.comments])
    refused = _too_long(body.get("body") if isinstance(body, dict) else None)
    if refused:
        return refused
    fake._next_id += 1
    comment = {"id": fake._next_id, "number": issue.number, "login": "github-actions[bot]", "body": body["body"]}
    issue.comments.append(comment)
    return 201, fake.comment_json(comment)


def _issue_route(fake: FakeGithub, method: str, path: str, query: dict, body: Any):
    """Repository issues that are not pull requests; None for every other path (the rest of the fake's)."""
    if path == "/issues":
        if method == "GET":
            return _list_issues(fake, query)
        return _create_issue(fake, body) if method == "POST" else None
    m = re.fullmatch(r"/issues/(\d+)(/comments)?", path)
    issue = repo_issues(fake).get(int(m.group(1))) if m else None
    if issue is None:
        return None
    if m.group(2):
        return _issue_comments(fake, issue, method, body)
    if method == "GET":
        return 200, issue_json(fake, issue)
    return _update_issue(fake, issue, body or {}) if method == "PATCH" else None
