"""Judging a core change's sample: each sampled server reviewed at the head and, when something fails there, at
the merge base (the last audit's result when its keys match, else a run of its own), compared check by check.

A server's review at either commit is the review `check --server NAME` gives it (static checks, the sandbox),
under the merge base's rules. No new run starts once `--audit-timeout` has passed: a server left out is `error`,
as is one whose review crashed; each run is otherwise bounded by the sandbox's own limits.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field, replace

from gym_review_bot.audit.models import AuditReport
from gym_review_bot.blast import BLAST_JOB_NOTE, DEFAULT_AUDIT_TIMEOUT_S
from gym_review_bot.blast.affected import changed_paths, changed_shared
from gym_review_bot.blast.baseline import BaseKeys, base_keys, from_audit
from gym_review_bot.blast.compare import compare
from gym_review_bot.blast.sample import find_radius
from gym_review_bot.catalogue import Catalogue
from gym_review_bot.config import load_policy
from gym_review_bot.discover import Discovery, ServerTarget
from gym_review_bot.errors import UsageError
from gym_review_bot.models import BlastRadius, SampledServer, ServerReport
from gym_review_bot.review import ReviewOptions, review
from gym_review_bot.sources import SourceTree

IN_OTHER_JOBS = "the sampled servers are reviewed in their own jobs (`check --blast`) and joined by merge-reports."


@dataclass
class SampleRequest:
    """What `check` was asked about a core change's sample."""

    names: list[str] | None = None  # --blast: only these affected servers (a blast job); None: the whole sample
    matrix_job: bool = False  # --server: a job of the PR's own servers; the sample is judged in other jobs
    audit: AuditReport | None = None  # --audit: the last audit report, for the merge base's results
    timeout: float = DEFAULT_AUDIT_TIMEOUT_S  # --audit-timeout
    notes: list[str] = field(default_factory=list)  # what the sample's runs had to say (sandbox clean-up)


def blast_review(found: Discovery, options: ReviewOptions, request: SampleRequest) -> BlastRadius | None:
    """The core change's reach and the sample's results, for `review(found, options, blast)`; None when the PR
    changes no shared code. With --blast only the named servers are judged, and the PR's own servers are left to
    their own jobs (`found` then reviews none)."""
    if found.base is None:
        return None
    changed = changed_paths(found)
    if request.matrix_job:
        modules = changed_shared(found, changed)
        return BlastRadius(modules=modules, reason=IN_OTHER_JOBS) if modules else None
    size = load_policy(found.base).policy.github.audit_sample
    radius = find_radius(found, size, changed)
    if request.names is not None:
        _only_these(found, radius, request.names)
        targets = list(dict.fromkeys(request.names))
    else:
        targets = radius.sampled if radius else []
    if radius is None:
        return None
    radius.results = judge_sample(found, radius, targets, options, request)
    return radius


def _only_these(found: Discovery, radius: BlastRadius | None, names: list[str]) -> None:
    """A blast job: the named servers must be affected (and not the PR's own); the PR's servers are not reviewed."""
    if radius is None:
        raise UsageError(f"--blast {names[0]}: this PR changes no shared code (nemo_gym/ or a library)")
    reached = {s.name for s in radius.affected} - set(radius.in_pr)
    for name in names:
        if name not in reached:
            raise UsageError(f"--blast {name}: not a server this PR's change reaches (or one the PR changes itself)")
    found.pr_servers = list(found.servers)
    found.servers = []
    found.notes.append(f"{BLAST_JOB_NOTE} {', '.join(names)} reviewed here; the PR's own servers in their own jobs.")


def judge_sample(
    found: Discovery, radius: BlastRadius, names: list[str], options: ReviewOptions, request: SampleRequest
) -> list[SampledServer]:
    """One row per named server, in order: judged, or why not (not_run without the sandbox, error without a daemon)."""
    modules = {s.name: s.modules for s in radius.affected}
    if options.sandbox != "run":
        outcome = "not_run" if options.sandbox == "not_requested" else "error"
        why = f"{options.sandbox_reason}; the sample is judged with the sandbox."
        return [SampledServer(name=n, modules=modules.get(n, []), outcome=outcome, reason=why) for n in names]
    deadline = time.monotonic() + request.timeout
    keys = base_keys(found, names, _base_image_id(found.base, options)) if request.audit else None
    sandbox_ids = {c.id for c in Catalogue(load_policy(found.base).policy).sandbox_checks()}  # type: ignore[arg-type]
    return [_judge(found, name, modules.get(name, []), options, request, keys, sandbox_ids, deadline) for name in names]


def _base_image_id(tree: SourceTree | None, options: ReviewOptions) -> str | None:
    """The id of the image the sandbox builds on (the audit's `base_image` key), or None when it is not there."""
    from gym_review_bot.sandbox import docker_api
    from gym_review_bot.sandbox.image import base_image

    assert tree is not None and options.sandbox_options is not None
    client = docker_api.client()
    try:
        return docker_api.image_exists(client, base_image(tree, options.sandbox_options))
    finally:
        client.close()


def _judge(
    found: Discovery,
    name: str,
    modules: list[str],
    options: ReviewOptions,
    request: SampleRequest,
    keys: BaseKeys | None,
    sandbox_ids: set[str],
    deadline: float,
) -> SampledServer:
    start = time.monotonic()
    timeout = f"--audit-timeout ({request.timeout:g} s) ran out before"
    if start >= deadline:
        return SampledServer(name=name, modules=modules, outcome="error", reason=f"{timeout} it was reviewed.")
    assert found.base is not None
    try:
        head = _review_at(found, found.head, found.head_sha, name, options, request.notes)
        base, base_from = None, "none"
        failing = [f.id for f in head.findings if f.status == "fail"]
        if failing:
            base = from_audit(request.audit, name, keys) if keys is not None else None
            base_from = "audit"
        if failing and base is None:
            if time.monotonic() >= deadline:
                reason = f"{timeout} its merge base was reviewed ({', '.join(failing)} fail here)."
                return SampledServer(name=name, modules=modules, outcome="error", reason=reason)
            with_sandbox = any(i in sandbox_ids for i in failing)  # else the static checks settle it
            at_base = options if with_sandbox else replace(options, sandbox="not_requested", sandbox_options=None)
            base, base_from = _review_at(found, found.base, found.base_sha, name, at_base, request.notes), "run"
        row = compare(name, modules, head, base, found.head)
        row.base_from = base_from  # type: ignore[assignment]
    except Exception as exc:  # noqa: BLE001 - one server's crash is its row's `error`, never the review's
        reason = f"its review crashed: {type(exc).__name__}: {str(exc)[:300]}"
        row = SampledServer(name=name, modules=modules, outcome="error", reason=reason)
    row.seconds = round(time.monotonic() - start, 1)
    return row


def _review_at(
    found: Discovery, tree: SourceTree, sha: str | None, name: str, options: ReviewOptions, notes: list[str]
) -> ServerReport:
    """The server's review at one commit, as `check --server NAME` would give it, under the merge base's rules."""
    one = [ServerTarget(name, "checked")]
    at = Discovery(tree, base=found.base, head_sha=sha, base_sha=found.base_sha, servers=one)
    sandbox = copy.deepcopy(options.sandbox_options) if options.sandbox_options else None
    reviewed = review(at, replace(options, sandbox_options=sandbox, pr_body=None))
    notes += [n for n in reviewed.report.notes if n not in notes]
    return reviewed.report.servers[0]
