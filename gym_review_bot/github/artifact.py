"""The review run of a PR's head, and its report artifact (what the merge gate re-judges; recheck re-runs it).

A review run belongs to a PR when it ran the review workflow on `pull_request` for the PR's head commit
in the PR's head repository and branch (and, when GitHub lists the run's PRs, this PR is among them:
for a fork's PR that list is empty). Another PR with the same head commit never lends its run.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

import requests
from github import GithubException

from gym_review_bot.config import GithubSettings
from gym_review_bot.github.event import Refused

REPORT_ARTIFACT = "gym-review-report"  # the review workflow uploads exactly this (gym-review.yml)
REPORT_FILE, NUMBER_FILE = "report.json", "pr-number.txt"
DOWNLOAD_TIMEOUT_S = 60


class ArtifactMissing(Exception):
    """The review's report cannot be had (no run yet, expired, a download that failed): the gate waits."""


@dataclass(frozen=True)
class ReviewArtifact:
    run_id: int
    report: bytes
    number: str  # what the review job wrote as the PR's number ("" when absent)


def review_runs(repo: Any, pr: Any, settings: GithubSettings) -> list[Any]:
    """The review workflow's runs for this PR's head, newest first."""
    head_repo = (pr.head.repo.full_name if pr.head.repo is not None else "").lower()
    found = []
    for run in repo.get_workflow_runs(head_sha=pr.head.sha, event="pull_request"):
        numbers = [p.number for p in run.pull_requests or []]
        same = (
            run.path == settings.workflow
            and run.head_sha == pr.head.sha
            and run.head_branch == pr.head.ref
            and run.head_repository is not None
            and run.head_repository.full_name.lower() == head_repo
        )
        if same and (not numbers or pr.number in numbers):
            found.append(run)
    return sorted(found, key=lambda r: r.id, reverse=True)


def finished(runs: list[Any]) -> Any | None:
    return next((r for r in runs if r.status == "completed" and r.conclusion != "cancelled"), None)


def download_report(gh: Any, repo: Any, pr: Any, settings: GithubSettings) -> ReviewArtifact:
    """The report artifact of the PR head's latest finished review run."""
    run = finished(review_runs(repo, pr, settings))
    if run is None:
        raise ArtifactMissing("no finished review run for the current head")
    artifact = next((a for a in run.get_artifacts() if a.name == REPORT_ARTIFACT and not a.expired), None)
    if artifact is None:
        raise ArtifactMissing(f"review run {run.id} has no {REPORT_ARTIFACT} artifact (expired?)")
    cap = int(settings.max_report_mb * 1024 * 1024) + 64 * 1024
    if artifact.size_in_bytes > 2 * cap:
        raise Refused(f"the review's artifact is too big ({artifact.size_in_bytes} bytes)")
    raw = _fetch(gh, artifact.archive_download_url, 2 * cap)
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            report = _member(archive, REPORT_FILE, cap)
            number = _member(archive, NUMBER_FILE, 64, required=False)
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise Refused(f"the review's artifact is not a readable zip ({type(exc).__name__})") from None
    return ReviewArtifact(run.id, report, number.decode("ascii", "replace").strip())


def _member(archive: zipfile.ZipFile, name: str, cap: int, required: bool = True) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        if required:
            raise Refused(f"the review's artifact holds no {name}") from None
        return b""
    if info.file_size > cap:
        raise Refused(f"the review's {name} is too big ({info.file_size} bytes)")
    with archive.open(info) as member:
        data = member.read(cap + 1)
    if len(data) > cap:
        raise Refused(f"the review's {name} is too big")
    return data


def _fetch(gh: Any, url: str, cap: int) -> bytes:
    """GET the archive: GitHub answers a redirect to a short-lived URL on another host, fetched without the token."""
    try:
        status, headers, _ = gh.requester.requestJson("GET", url)
    except (GithubException, OSError, ValueError) as exc:
        raise ArtifactMissing(f"the artifact's download failed ({type(exc).__name__})") from None
    location = headers.get("location")
    if status != 302 or not location:
        raise ArtifactMissing(f"the artifact's download answered {status}")
    try:
        with requests.get(location, stream=True, timeout=DOWNLOAD_TIMEOUT_S, allow_redirects=False) as answer:
            answer.raise_for_status()
            data = b""
            for chunk in answer.iter_content(65536):
                data += chunk
                if len(data) > cap:
                    raise Refused("the review's artifact is too big")
            return data
    except requests.RequestException as exc:
        raise ArtifactMissing(f"the artifact's download failed ({type(exc).__name__})") from None
