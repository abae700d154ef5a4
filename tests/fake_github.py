"""A small GitHub REST API on 127.0.0.1 for PyGithub: real HTTP, state in memory, requests counted.

It behaves as GitHub's documentation says where the bot depends on it; each behaviour names the page
it follows. What tests set up directly (a maintainer adding a label, a writer editing a comment, a
workflow run and its artifact) goes through helpers that record what GitHub would record (the
`labeled` event, the edit time). `faults` queues canned answers (5xx, rate limits, a 502 after the
write was done) and `delays` slows requests down, by method and path.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
import time
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

BOT = "github-actions[bot]"
# "List pull requests files: Responses include a maximum of 3000 files. The paginated response returns
# 30 files per page by default." https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files
MAX_PR_FILES = 3000
# Pagination: 30 items a page by default, `per_page` at most 100, `Link` headers with rel="next" and
# rel="last". https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
DEFAULT_PER_PAGE, MAX_PER_PAGE = 30, 100


@dataclass
class Fault:
    method: str
    path_re: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=lambda: {"message": "Server Error"})
    after: bool = False  # answer the fault only after doing the request (a 502 from a proxy after the write)


@dataclass
class Delay:
    method: str
    path_re: str
    seconds: float
    count: int = 1


@dataclass
class PR:
    number: int
    author: str
    head: str
    files: list[dict]
    body: str = ""
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    requested: list[str] = field(default_factory=list)
    created_at: str = "2026-11-01T00:00:00Z"
    merged: bool = False
    commits: list[str] = field(default_factory=list)
    head_ref: str = "feature"
    fork: bool = False  # the head branch lives in the author's fork
    changed_files: int | None = None  # GitHub's count; the files list stops at MAX_PR_FILES
    merge_commit: str | None = None
    base_sha: str = "b" * 40


def file_entry(item: str | dict) -> dict:
    """A PR file as GitHub lists it; a rename carries `previous_filename` (status `renamed`).
    https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files (the `diff-entry` schema)"""
    entry = {"filename": item, "status": "modified"} if isinstance(item, str) else dict(item)
    entry.setdefault("status", "renamed" if entry.get("previous_filename") else "modified")
    entry.setdefault("sha", "c" * 40)
    return entry


class FakeGithub:
    def __init__(self, repo: str = "org/gym", default_branch: str = "main"):
        self.repo = repo
        self.default_branch = default_branch
        self.pulls: dict[int, PR] = {}
        self.comments: list[dict] = []
        self.statuses: list[dict] = []
        self.events: dict[int, list[dict]] = {}
        self.reviews: dict[int, list[dict]] = {}
        self.roles: dict[str, str] = {}
        self.runs: list[dict] = []
        self.artifacts: dict[int, list[dict]] = {}
        self.blobs: dict[int, bytes] = {}
        self.blob_requests: list[str] = []  # the Authorization header each archive download carried
        self.reruns: list[int] = []
        self.merges: list[dict] = []
        self.requests: list[tuple[str, str]] = []
        self.faults: list[Fault] = []
        self.delays: list[Delay] = []
        self.seen_tokens: set[str] = set()
        self.rate_remaining = 5000
        self.clock = datetime(2026, 11, 1, 12, tzinfo=UTC)  # PRs default to being opened at 00:00 that day
        self._lock = threading.Lock()
        self._next_id = 1000
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGithub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- time and ids ---
    def now(self) -> str:
        """GitHub's timestamps (ISO 8601, UTC, whole seconds); each call is a second later than the last."""
        self.clock += timedelta(seconds=1)
        return self.clock.strftime("%Y-%m-%dT%H:%M:%SZ")

    def advance(self, seconds: float) -> None:
        self.clock += timedelta(seconds=seconds)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # --- state helpers for tests (what people and other workflows do) ---
    def add_pr(self, number: int, author: str = "contrib", head: str = "a" * 40, files=None, **kw: Any) -> PR:
        items = files if files is not None else ["resources_servers/word_count/app.py"]
        pr = PR(number, author, head, [file_entry(f) for f in items], **kw)
        self.pulls[number] = pr
        return pr

    def set_files(self, number: int, files: list) -> None:
        self.pulls[number].files = [file_entry(f) for f in files]

    def push(self, number: int, head: str) -> None:
        """New commits on the PR's branch: a new head (GitHub records no event a bot can date the push by)."""
        self.pulls[number].head = head

    def add_comment(self, number: int, login: str, body: str) -> dict:
        with self._lock:
            at = self.now()
            comment = {"id": self.new_id(), "number": number, "login": login, "body": body, "created_at": at}
            comment["updated_at"] = at
            self.comments.append(comment)
        return comment

    def edit_comment(self, comment_id: int, body: str) -> None:
        """Someone edits a comment: its author stays, `updated_at` moves. People with write access may edit
        anyone's comments on issues and pull requests ("Edit and delete anyone's comments on commits, pull
        requests, and issues": Write, Maintain, Admin).
        https://docs.github.com/en/organizations/managing-user-access-to-your-organizations-repositories/managing-repository-roles/repository-roles-for-an-organization"""
        comment = next(c for c in self.comments if c["id"] == comment_id)
        comment["body"], comment["updated_at"] = body, self.now()

    def label(self, number: int, name: str, by: str = "maint") -> None:
        """A person adds a label: GitHub records a `labeled` issue event with `created_at`.
        https://docs.github.com/en/rest/issues/events#list-issue-events (the `labeled-issue-event` schema)"""
        pr = self.pulls[number]
        if name not in pr.labels:
            pr.labels.append(name)
        self._event(number, "labeled", name, by)

    def unlabel(self, number: int, name: str, by: str = "maint") -> None:
        self.pulls[number].labels.remove(name)
        self._event(number, "unlabeled", name, by)

    def _event(self, number: int, kind: str, name: str, actor: str) -> None:
        self.events.setdefault(number, []).append(
            {
                "id": self.new_id(),
                "event": kind,
                "label": {"name": name, "color": "ededed"},
                "actor": self.user(actor),
                "created_at": self.now(),
                "commit_id": None,
                "commit_url": None,
                "url": self.api(f"/issues/events/{self._next_id}"),
            }
        )

    def add_status(self, sha: str, state: str, context: str = "gym-review", creator: str = BOT, **kw: Any) -> dict:
        """A commit status as a workflow (or anyone with push access) sets it; every workflow token writes as
        github-actions[bot]. https://docs.github.com/en/rest/commits/statuses#create-a-commit-status"""
        status = {
            "id": self.new_id(),
            "sha": sha,
            "state": state,
            "context": context,
            "description": kw.get("description"),
            "target_url": kw.get("target_url"),
            "created_at": self.now(),
            "creator": creator,
        }
        self.statuses.append(status)
        return status

    def add_run(
        self,
        number: int | None,
        head: str,
        path: str = ".github/workflows/gym-review.yml",
        event: str = "pull_request",
        head_branch: str | None = None,
        head_repo: str | None = None,
        conclusion: str = "success",
        run_id: int | None = None,
    ) -> dict:
        """A workflow run. `pull_requests` is empty for a fork's PR (and for a run on a branch of no PR).
        https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run ;
        https://github.com/github/docs/issues/22501 (pull_requests is not reported for forked PRs)"""
        pr = self.pulls.get(number) if number else None
        branch = head_branch or (pr.head_ref if pr else self.default_branch)
        repo = head_repo or (self._head_repo(pr) if pr else self.repo)
        run_id = run_id or self.new_id()
        url = self.api(f"/actions/runs/{run_id}")
        pulls = []
        if pr is not None and not pr.fork and event.startswith("pull_request"):
            pulls = [{"number": pr.number, "id": pr.number, "url": self.api(f"/pulls/{pr.number}"), **self._refs(pr)}]
        run = {
            "id": run_id,
            "name": Path(path).stem,
            "path": path,
            "head_sha": head,
            "head_branch": branch,
            "head_repository": {"full_name": repo, "name": repo.split("/")[1], "url": f"{self.url}/repos/{repo}"},
            "repository": {"full_name": self.repo, "url": f"{self.url}/repos/{self.repo}"},
            "event": event,
            "status": "completed",
            "conclusion": conclusion,
            "pull_requests": pulls,
            "created_at": self.now(),
            "url": url,
            "html_url": f"{self.url}/{self.repo}/actions/runs/{run_id}",
            "rerun_url": f"{url}/rerun",
            "artifacts_url": f"{url}/artifacts",
        }
        self.runs.append(run)
        return run

    def add_artifact(self, run: dict, name: str, files: dict[str, bytes | str]) -> dict:
        """An artifact of a run: a zip of its files. Downloading it answers a redirect to a short-lived URL
        on another host. https://docs.github.com/en/rest/actions/artifacts#download-an-artifact"""
        raw = io.BytesIO()
        with zipfile.ZipFile(raw, "w") as archive:
            for rel, data in files.items():
                archive.writestr(rel, data)
        artifact_id = self.new_id()
        self.blobs[artifact_id] = raw.getvalue()
        artifact = {
            "id": artifact_id,
            "name": name,
            "size_in_bytes": len(raw.getvalue()),
            "url": self.api(f"/actions/artifacts/{artifact_id}"),
            "archive_download_url": self.api(f"/actions/artifacts/{artifact_id}/zip"),
            "expired": False,
            "created_at": self.now(),
            "workflow_run": {"id": run["id"], "head_sha": run["head_sha"], "head_branch": run["head_branch"]},
        }
        self.artifacts.setdefault(run["id"], []).append(artifact)
        return artifact

    def pr_comments(self, number: int) -> list[dict]:
        return [c for c in self.comments if c["number"] == number]

    def pr_statuses(self, sha: str, context: str = "gym-review") -> list[dict]:
        return [s for s in self.statuses if s["sha"] == sha and s["context"] == context]

    def writes(self) -> list[tuple[str, str]]:
        return [r for r in self.requests if r[0] != "GET"]

    def reset_counts(self) -> None:
        self.requests.clear()

    # --- git: the PR's refs, as a workflow's checkout fetches them ---
    def publish_git_refs(self, number: int, remote: Path, base_ref: str = "main") -> str:
        """In the bare repository `remote`, the refs GitHub keeps for a PR: `refs/pull/N/head` (its head) and
        `refs/pull/N/merge` (a test merge of the head into the base); returns the merge commit. On
        `pull_request`, GITHUB_REF is `refs/pull/N/merge` and GITHUB_SHA the last merge commit, which is what
        actions/checkout checks out without `ref:`.
        https://docs.github.com/en/actions/reference/workflows-and-actions/events-that-trigger-workflows#pull_request ;
        `merge_commit_sha`: https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request"""
        pr = self.pulls[number]

        def git(*args: str) -> str:
            env = {"GIT_AUTHOR_NAME": "GitHub", "GIT_AUTHOR_EMAIL": "noreply@github.com"}
            env.update({"GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"})
            done = subprocess.run(
                ["git", *args], cwd=remote, check=True, capture_output=True, text=True, env={**os.environ, **env}
            )
            return done.stdout.strip()

        base = git("rev-parse", f"refs/heads/{base_ref}")
        tree = git("merge-tree", "--write-tree", base, pr.head).splitlines()[0]
        merge = git("commit-tree", tree, "-p", base, "-p", pr.head, "-m", f"Merge {pr.head} into {base}")
        git("update-ref", f"refs/pull/{number}/head", pr.head)
        git("update-ref", f"refs/pull/{number}/merge", merge)
        pr.merge_commit = merge
        return merge

    # --- JSON shapes ---
    def api(self, path: str) -> str:
        return f"{self.url}/repos/{self.repo}{path}"

    def user(self, login: str) -> dict:
        kind = "Bot" if login.endswith("[bot]") else "User"
        return {"login": login, "id": abs(hash(login)) % 10**8, "type": kind, "url": f"{self.url}/users/{quote(login)}"}

    def _head_repo(self, pr: PR) -> str:
        return f"{pr.author}/{self.repo.split('/')[1]}" if pr.fork else self.repo

    def _repo_json(self, full_name: str) -> dict:
        owner, name = full_name.split("/")
        return {
            "full_name": full_name,
            "name": name,
            "owner": self.user(owner),
            "fork": full_name != self.repo,
            "default_branch": self.default_branch,
            "url": f"{self.url}/repos/{full_name}",
        }

    def _refs(self, pr: PR) -> dict:
        head_repo = self._head_repo(pr)
        return {
            "head": {"sha": pr.head, "ref": pr.head_ref, "label": f"{head_repo.split('/')[0]}:{pr.head_ref}"}
            | {"repo": self._repo_json(head_repo)},
            "base": {"sha": pr.base_sha, "ref": self.default_branch, "label": f"{self.repo.split('/')[0]}:main"}
            | {"repo": self._repo_json(self.repo)},
        }

    def pull_json(self, pr: PR) -> dict:
        """A pull request as GET /pulls/N answers it; `changed_files` counts every file, also past the files
        list's 3000. https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request"""
        return {
            "id": pr.number,
            "number": pr.number,
            "state": pr.state,
            "merged": pr.merged,
            "title": f"PR {pr.number}",
            "body": pr.body,
            "user": self.user(pr.author),
            **self._refs(pr),
            "labels": [{"name": n, "id": i} for i, n in enumerate(pr.labels)],
            "requested_reviewers": [self.user(u) for u in pr.requested],
            "created_at": pr.created_at,
            "updated_at": pr.created_at,
            "commits": len(pr.commits) or 1,
            "changed_files": pr.changed_files if pr.changed_files is not None else len(pr.files),
            "merge_commit_sha": pr.merge_commit,
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
            "created_at": c.get("created_at", "2026-11-02T00:00:00Z"),
            "updated_at": c.get("updated_at", c.get("created_at", "2026-11-02T00:00:00Z")),
        }

    def status_json(self, s: dict) -> dict:
        return {
            "id": s["id"],
            "url": self.api(f"/statuses/{s['sha']}"),
            "state": s["state"],
            "description": s["description"],
            "target_url": s["target_url"],
            "context": s["context"],
            "created_at": s["created_at"],
            "updated_at": s["created_at"],
            "creator": self.user(s["creator"]),
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

    def _send(self, status: int, data: Any, headers: dict[str, str] | None = None, raw: bytes | None = None) -> None:
        if raw is None:
            raw = json.dumps(data).encode() if data is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if data is not None or not raw else "application/zip")
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

    def _page(self, paged: _Paged, query: dict) -> None:
        per_page = min(int(query.get("per_page", [str(DEFAULT_PER_PAGE)])[0]), MAX_PER_PAGE)
        page = int(query.get("page", ["1"])[0])
        items = paged.items
        chunk = items[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        kept = {k: v[0] for k, v in query.items() if k not in ("page", "per_page")}  # `since`, `head_sha`, ...
        base = f"{self.fake.url}{urlsplit(self.path).path}"
        if page < last:
            for rel, number in (("next", page + 1), ("last", last)):
                links.append(f'<{base}?{urlencode({**kept, "per_page": per_page, "page": number})}>; rel="{rel}"')
        data = {"total_count": len(items), paged.key: chunk} if paged.key else chunk
        self._send(200, data, {"Link": ", ".join(links)} if links else None)

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        auth = self.headers.get("Authorization", "")
        if path.startswith("/_blobs/"):  # the storage host an artifact download redirects to (no token needed)
            fake.blob_requests.append(auth)
            blob = fake.blobs.get(int(path.rsplit("/", 1)[1]))
            return self._send(200 if blob else 404, None, raw=blob or b"")
        fake.requests.append((method, path))
        fake.seen_tokens.add(auth.removeprefix("token ").removeprefix("Bearer "))
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null") if length else None
        for delay in list(fake.delays):
            if delay.method == method and re.search(delay.path_re, path):
                delay.count -= 1
                if delay.count <= 0:
                    fake.delays.remove(delay)
                time.sleep(delay.seconds)
                break
        late = None
        for fault in list(fake.faults):
            if fault.method == method and re.search(fault.path_re, path):
                fake.faults.remove(fault)
                if not fault.after:
                    return self._send(fault.status, fault.body, fault.headers)
                late = fault
                break
        if path == "/user":
            return self._send(403, {"message": "Resource not accessible by integration"})
        prefix = f"/repos/{fake.repo}"
        if not path.startswith(prefix):
            return self._send(404, {"message": "Not Found"})
        with fake._lock:
            result = _route(fake, method, path[len(prefix) :], query, body)
        if late is not None:
            return self._send(late.status, late.body, late.headers)
        if result is None:
            return self._send(404, {"message": "Not Found"})
        status, data = result[0], result[1]
        headers = result[2] if len(result) > 2 else None
        if isinstance(data, _Paged):
            return self._page(data, query)
        self._send(status, data, headers)


@dataclass
class _Paged:
    items: list
    key: str | None = None  # list responses wrapped in an object (`workflow_runs`, `artifacts`)


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
            # At most 3000 entries, in the order the test gave (GitHub documents no order).
            return 200, _Paged(pr.files[:MAX_PR_FILES])
        if method == "GET" and rest == "/reviews":
            return 200, _Paged(fake.reviews.get(pr.number, []))
        if method == "POST" and rest == "/requested_reviewers":
            pr.requested += [r for r in body.get("reviewers", []) if r not in pr.requested]
            return 201, fake.pull_json(pr)
        if method == "PUT" and rest == "/merge":
            # 405 when not mergeable (e.g. already merged), 409 when `sha` is not the head.
            # https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request
            if pr.state != "open":
                return 405, {"message": "Pull Request is not mergeable"}
            if body.get("sha") and body["sha"] != pr.head:
                return 409, {"message": "Head branch was modified. Review and try the merge again."}
            pr.merged, pr.state = True, "closed"
            fake.merges.append({"number": pr.number, **body})
            return 200, {"merged": True, "sha": "d" * 40, "message": "Pull Request successfully merged"}
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
            # Ascending by id; `since` keeps those "last updated after the given time".
            # https://docs.github.com/en/rest/issues/comments#list-issue-comments
            since = query.get("since", [""])[0]
            listed = [c for c in fake.pr_comments(number) if not since or fake.comment_json(c)["updated_at"] >= since]
            return 200, _Paged([fake.comment_json(c) for c in listed])
        if method == "POST":
            at = fake.now()
            c = {"id": fake.new_id(), "number": number, "login": BOT, "body": body["body"], "created_at": at}
            c["updated_at"] = at
            fake.comments.append(c)
            return 201, fake.comment_json(c)
    m = re.fullmatch(r"/issues/(\d+)/events", path)
    if m and method == "GET" and int(m.group(1)) in fake.pulls:
        return 200, _Paged(fake.events.get(int(m.group(1)), []))  # oldest first
    m = re.fullmatch(r"/issues/comments/(\d+)", path)
    if m:
        c = next((c for c in fake.comments if c["id"] == int(m.group(1))), None)
        if c is None:
            return None
        if method == "PATCH":
            c["body"], c["updated_at"] = body["body"], fake.now()
        elif method == "DELETE":
            fake.comments.remove(c)
            return 204, None
        return 200, fake.comment_json(c)
    m = re.fullmatch(r"/issues/(\d+)/labels(?:/(.+))?", path)
    if m and int(m.group(1)) in fake.pulls:
        number = int(m.group(1))
        pr = fake.pulls[number]
        if method == "POST":  # the token's account adds them: `labeled` events by the bot
            names = body if isinstance(body, list) else body.get("labels", [])
            for name in [n for n in names if n not in pr.labels]:
                fake.label(number, name, by=BOT)
        elif method == "DELETE" and m.group(2) in pr.labels:
            fake.unlabel(number, m.group(2), by=BOT)
        elif method == "DELETE":
            return 404, {"message": "Label does not exist"}
        return 200, [{"name": n} for n in pr.labels]
    m = re.fullmatch(r"/statuses/([0-9a-f]{40})", path)
    if m and method == "POST":
        given = {k: body.get(k) for k in ("description", "target_url")}
        status = fake.add_status(m.group(1), body["state"], body.get("context") or "default", **given)
        return 201, fake.status_json(status)
    m = re.fullmatch(r"/commits/([0-9a-f]{40})/statuses", path) or re.fullmatch(r"/statuses/([0-9a-f]{40})", path)
    if m and method == "GET":
        # "Statuses are returned in reverse chronological order. The first status in the list will be the
        # latest one. This resource is also available via a legacy route: GET /repos/:owner/:repo/statuses/:ref"
        # https://docs.github.com/en/rest/commits/statuses#list-commit-statuses-for-a-reference
        listed = [fake.status_json(s) for s in reversed(fake.statuses) if s["sha"] == m.group(1)]
        return 200, _Paged(listed)
    m = re.fullmatch(r"/collaborators/([^/]+)/permission", path)
    if m and method == "GET":
        role = fake.roles.get(m.group(1))
        if role is None:
            return 404, {"message": "Not Found"}
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)
        return 200, {"permission": legacy, "role_name": role, "user": fake.user(m.group(1))}
    if method == "GET" and path == "/actions/runs":
        # Filters by head_sha, event and branch; newest first.
        # https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository
        runs = [r for r in reversed(fake.runs) if _run_matches(r, query)]
        return 200, _Paged(runs, "workflow_runs")
    m = re.fullmatch(r"/actions/runs/(\d+)(/rerun|/artifacts)?", path)
    if m:
        run = next((r for r in fake.runs if r["id"] == int(m.group(1))), None)
        if run is None:
            return None
        if method == "POST" and m.group(2) == "/rerun":
            fake.reruns.append(run["id"])
            return 201, {}
        if method == "GET" and m.group(2) == "/artifacts":
            return 200, _Paged(fake.artifacts.get(run["id"], []), "artifacts")
        if method == "GET" and m.group(2) is None:
            return 200, run
        return None
    m = re.fullmatch(r"/actions/artifacts/(\d+)/zip", path)
    if m and method == "GET" and int(m.group(1)) in fake.blobs:
        # "Gets a redirect URL to download an archive ... Look for `Location:` in the response header"; the
        # URL is on another host (storage), so clients drop the token. `localhost` is that other host here.
        location = f"http://localhost:{fake.port}/_blobs/{m.group(1)}"
        return 302, None, {"Location": location}
    m = re.fullmatch(r"/compare/([0-9a-f]+)\.\.\.([0-9a-f]+)", path)
    if m and method == "GET":
        pr = next((p for p in fake.pulls.values() if p.head == m.group(2)), None)
        ahead = 0
        if pr and m.group(1) in pr.commits:
            ahead = len(pr.commits) - 1 - pr.commits.index(m.group(1))
        return 200, {"ahead_by": ahead, "behind_by": 0, "status": "ahead", "total_commits": ahead, "commits": []}
    return None


def _run_matches(run: dict, query: dict) -> bool:
    wanted = {"head_sha": run["head_sha"], "event": run["event"], "branch": run["head_branch"]}
    return all(query.get(key, [value])[0] == value for key, value in wanted.items())


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
