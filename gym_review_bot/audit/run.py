"""`gym-review audit`: review every server of a checkout (or one shard of them) and write one audit report.

Each server is reviewed as `check --server NAME` would (static checks, and the sandbox with --docker),
judged once by the judge, unless `--previous` holds a result for it whose keys are all unchanged
(keys.py): then that result is carried over. The report is rewritten after every server, so a run that
is killed leaves what it finished (`finished: false`), and the servers it did not finish are `error`.
"""

from __future__ import annotations

import copy
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gym_review_bot import git
from gym_review_bot.audit.carry import DEFAULT_MAX_AGE_DAYS, carried, previous_entries, why_run
from gym_review_bot.audit.delta import compute_delta, failing_since, summarise
from gym_review_bot.audit.facts import domains
from gym_review_bot.audit.judging import judge_server, not_judged
from gym_review_bot.audit.keys import changed, tool_version
from gym_review_bot.audit.models import AuditReport, BaseImage, Keys, ServerAudit, Shard
from gym_review_bot.audit.replay import mark_not_replayable, replay_of
from gym_review_bot.audit.reverify import reverify_mode
from gym_review_bot.audit.shard import share
from gym_review_bot.audit.treehash import tree_hash
from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import LoadedPolicy, load_policy
from gym_review_bot.discover import Discovery, ServerTarget, discover_local
from gym_review_bot.errors import UsageError
from gym_review_bot.models import ServerReport
from gym_review_bot.review import ReviewOptions, review
from gym_review_bot.sources import FsTree

BUILD_CHECK = "GR201"
CHECKPOINT_EVERY_S = 2.0  # a killed run loses at most this much finished work
SANDBOX_MEMORY_SHARE = 2  # a sandbox runs its server and its tests at once, each under --memory


@dataclass
class AuditRequest:
    repo: Path
    names: list[str] | None = None  # --server; None: every server
    shard: Shard | None = None
    jobs: int = 1
    options: ReviewOptions = field(default_factory=ReviewOptions)
    previous: AuditReport | None = None
    max_age_days: float = DEFAULT_MAX_AGE_DAYS
    repository: str | None = None  # OWNER/NAME, for the dashboard's links
    server_url: str = "https://github.com"
    checkpoint: Path | None = None  # the JSON report, rewritten after every server


@dataclass
class _Audit:
    """What every server's audit shares."""

    request: AuditRequest
    tree: FsTree
    every_server: list[str]
    planned: list[str]
    commit: str | None
    nemo_gym_tree: str | None
    rules: LoadedPolicy
    catalogue: Catalogue
    base: BaseImage | None
    started: datetime
    previous: dict[str, ServerAudit]
    notes: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def sandbox(self) -> bool:
        return self.request.options.sandbox == "run"

    @property
    def now(self) -> str:
        return _iso(self.started)


def _iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def prepare(request: AuditRequest) -> _Audit:
    """The checkout, its servers (this shard's share), the rules and what the results depend on."""
    root = request.repo.resolve()
    found = discover_local(root, request.names)  # UsageError (exit 2) for a bad --repo or --server
    every = sorted(t.name for t in found.servers)
    rules = load_policy(found.head)
    if request.options.sandbox_options is not None:
        hosts = request.options.sandbox_options.package_hosts
        extra = [h if ":" in h else f"{h}:443" for h in rules.policy.sandbox.package_hosts]
        request.options.sandbox_options.package_hosts = hosts + [h for h in extra if h not in hosts]
    audit = _Audit(
        request=request,
        tree=FsTree(root),
        every_server=every,
        planned=share(every, request.shard),
        commit=git.resolve(root, "HEAD") if git.is_repo(root) else None,
        nemo_gym_tree=tree_hash(root, "nemo_gym"),
        rules=rules,
        catalogue=Catalogue(rules.policy),
        base=None,
        started=datetime.now(UTC),
        previous=previous_entries(request.previous),
        notes=list(found.notes),
    )
    if audit.sandbox:
        audit.base = _base_image(audit)
    return audit


def _base_image(audit: _Audit) -> BaseImage:
    from gym_review_bot.sandbox import docker_api
    from gym_review_bot.sandbox.image import base_image, ensure_base

    options = audit.request.options.sandbox_options
    assert options is not None
    ref = base_image(audit.tree, options)
    scope = docker_api.RunScope(docker_api.client())
    try:
        image_id, error = ensure_base(scope, ref)
    finally:
        scope.close()
    if error:
        audit.notes.append(f"The sandbox's base image is unavailable: {error}")
    return BaseImage(ref=ref, id=image_id)


def effective_jobs(jobs: int, memory: str, total_memory: int | None = None) -> tuple[int, str | None]:
    """At most as many sandboxes at once as the machine's memory holds at --memory each (server and tests)."""
    from gym_review_bot.sandbox.options import size_bytes

    if jobs <= 1:
        return 1, None
    total = total_memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    fits = max(1, total // (SANDBOX_MEMORY_SHARE * size_bytes(memory)))
    if jobs <= fits:
        return jobs, None
    gib = total / 1024**3
    held = f"{gib:.0f} GiB of memory hold {fits} sandbox(es) at --memory {memory}"
    return fits, f"--jobs {jobs} lowered to {fits}: {held}"


def _keys(audit: _Audit, name: str) -> Keys:
    base = audit.base.id if audit.base else None
    return Keys(
        server_tree=tree_hash(audit.tree.root, f"resources_servers/{name}") or "",
        nemo_gym_tree=audit.nemo_gym_tree,
        base_image=base,
        tool_version=tool_version(),
        policy_blob=audit.rules.source.blob_sha or "defaults",
        sandbox=audit.sandbox,
    )


def _packages(audit: _Audit, name: str) -> str | None:
    from gym_review_bot.audit.packages import installed_packages

    assert audit.request.options.sandbox_options is not None
    return installed_packages(audit.tree, name, audit.request.options.sandbox_options).digest


def audit_server(audit: _Audit, name: str) -> ServerAudit:
    """One server's result: carried over when every key is unchanged, else reviewed now. Never raises for
    what the server does; a crash of the bot itself is this server's `error`."""
    start = time.monotonic()
    try:
        keys = _keys(audit, name)
        before = audit.previous.get(name)
        reason = why_run(before, keys, audit.started, audit.request.max_age_days)
        if reason is None and audit.sandbox:
            keys.packages = _packages(audit, name)
            assert before is not None and before.keys is not None
            reason = changed(before.keys, keys, with_packages=True)
        if reason is None:
            assert before is not None
            return carried(before, keys)
        entry = _review(audit, name, keys, reason)
    except Exception as exc:  # noqa: BLE001 - one server's crash is that server's `error`, never the audit's
        why = f"the audit of this server crashed: {type(exc).__name__}: {str(exc)[:300]}"
        entry = not_judged(name, why, audit.now, audit.commit)
    return entry.model_copy(update={"wall_s": round(time.monotonic() - start, 2)})


def _review(audit: _Audit, name: str, keys: Keys, reason: str) -> ServerAudit:
    found = Discovery(audit.tree, head_sha=audit.commit, servers=[ServerTarget(name, "checked")])
    reviewed = review(found, _own_options(audit.request.options))
    with audit.lock:
        audit.notes += [n for n in reviewed.report.notes if n not in audit.notes]
    server: ServerReport = reviewed.report.servers[0]
    reverify = reverify_mode(audit.tree, server.path)
    if reverify == "unsupported":
        server = mark_not_replayable(server)
    judged = judge_server(server, audit.catalogue)
    if audit.sandbox and keys.packages is None and _built(server):
        keys.packages = _packages(audit, name)
    return ServerAudit(
        name=name,
        path=server.path,
        domains=domains(audit.tree, server.path),
        verdict=judged.verdict,
        complete=judged.complete,
        checks=judged.checks,
        failing=judged.failing,
        not_run=judged.not_run,
        timings=server.timings,
        replay=replay_of(server, reverify),
        reverify_mode=reverify,
        keys=keys,
        verified_at=audit.now,
        verified_commit=audit.commit,
        reason=reason,
        report=server,
    )


def _built(server: ServerReport) -> bool:
    return any(f.id == BUILD_CHECK and f.status == "pass" for f in server.findings)


def _own_options(options: ReviewOptions) -> ReviewOptions:
    """A copy for one review (review() adds the registry's package hosts to its sandbox options)."""
    sandbox = copy.deepcopy(options.sandbox_options) if options.sandbox_options else None
    return replace(options, sandbox_options=sandbox)


def assemble(audit: _Audit, results: dict[str, ServerAudit], finished: bool) -> AuditReport:
    """The report of what is done so far; when `finished`, every planned server has an entry."""
    today = audit.now[:10]
    servers = []
    for name in audit.planned:
        entry = results.get(name)
        if entry is None:
            if not finished:
                continue
            entry = not_judged(name, "not run: the audit was stopped before this server", audit.now, audit.commit)
        servers.append(failing_since(entry, audit.previous.get(name), today, audit.commit))
    verdict, summary = summarise(servers)
    report = AuditReport(
        tool_version=tool_version(),
        generated_at=audit.now,
        repository=audit.request.repository,
        server_url=audit.request.server_url,
        commit=audit.commit,
        nemo_gym_tree=audit.nemo_gym_tree,
        base_image=audit.base,
        policy=audit.rules.source,
        sandbox=audit.sandbox,
        shard=audit.request.shard,
        planned=audit.planned,
        finished=finished,
        verdict=verdict,
        summary=summary,
        servers=servers,
        notes=list(audit.notes),
    )
    if audit.request.previous is not None:
        every = set(audit.every_server) if audit.request.shard is None and audit.request.names is None else None
        report.delta = compute_delta(servers, audit.request.previous, every)
    return report


def write_report(path: Path, report: AuditReport) -> None:
    """Atomically: a reader (or a killed run) never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(report.to_json() + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cancelled CI job) stops the audit like Ctrl-C: the running sandbox cleans up, what is done is
    written. Python's own Ctrl-C handler raises KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Progress(Protocol):
    """Where a run says how far it is (audit/progress.py: a bar on a terminal, plain lines in CI)."""

    def start(self, total: int) -> None: ...
    def done(self, entry: ServerAudit) -> None: ...
    def close(self) -> None: ...


def run_audit(request: AuditRequest, progress: Progress) -> AuditReport:
    """Audit the planned servers; the report says `finished: false` when it was interrupted."""
    audit = prepare(request)
    jobs = 1
    if audit.sandbox and request.options.sandbox_options is not None:
        jobs, note = effective_jobs(request.jobs, request.options.sandbox_options.memory)
        if note:
            audit.notes.append(note)
    results: dict[str, ServerAudit] = {}
    written = [time.monotonic()]

    def finish(entry: ServerAudit) -> None:
        results[entry.name] = entry
        progress.done(entry)
        if request.checkpoint is not None and time.monotonic() - written[0] >= CHECKPOINT_EVERY_S:
            write_report(request.checkpoint, assemble(audit, results, finished=False))
            written[0] = time.monotonic()

    progress.start(len(audit.planned))
    finished = False
    try:
        with _sigterm_as_interrupt():
            if jobs == 1:
                for name in audit.planned:
                    finish(audit_server(audit, name))
            else:
                _in_parallel(audit, jobs, finish)
            finished = True
    except KeyboardInterrupt:
        pass
    finally:
        progress.close()
    return assemble(audit, results, finished=True) if finished else _stopped(audit, results)


def _stopped(audit: _Audit, results: dict[str, ServerAudit]) -> AuditReport:
    report = assemble(audit, results, finished=True)
    report.finished = False
    report.notes.append(f"The audit was stopped after {len(results)} of {len(audit.planned)} servers.")
    return report


def _in_parallel(audit: _Audit, jobs: int, finish: Any) -> None:
    """Up to `jobs` servers at once; on an interrupt no new one starts and the running ones end first."""
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="gym-review-audit")
    futures: list[Future[ServerAudit]] = [pool.submit(audit_server, audit, name) for name in audit.planned]
    done: set[int] = set()
    try:
        for future in as_completed(futures):
            done.add(id(future))
            finish(future.result())
    except KeyboardInterrupt:
        pool.shutdown(wait=True, cancel_futures=True)
        for future in futures:
            if id(future) not in done and future.done() and not future.cancelled():
                finish(future.result())
        raise
    finally:
        pool.shutdown(wait=True)
