"""The connection to GitHub: PyGithub with retries, and GitHub errors turned into one clear line."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import github
from github import Auth, Github, GithubException, GithubRetry

from gym_review_bot.errors import UsageError

DEFAULT_API_URL = "https://api.github.com"
# A primary rate limit that resets later than this is not waited for: the run says when it resets.
MAX_RATE_LIMIT_WAIT_S = 60.0
# Retried on 5xx and rate limits: reads, edits and deletes (doing them twice is doing them once) and the
# POSTs whose repeat is harmless (a status, a label, a review request). Never PUT (a merge): a merge
# answered 502 is checked by reading the PR again. A comment is created through `once` (no retries):
# a POST answered 5xx may have been done, so it is looked for before it is sent again.
RETRIED = frozenset({"GET", "HEAD", "OPTIONS", "PATCH", "DELETE", "POST"})


class GithubError(Exception):
    """GitHub refused or failed a request; the message is one line and never holds the token."""


class PullRequestGone(GithubError):
    """The PR was closed, merged or deleted while we worked: nothing left to do."""


def connect(token: str | None = None, api_url: str | None = None, backoff_s: float = 1.0) -> Github:
    """A client from `GITHUB_TOKEN` and `GITHUB_API_URL` (as Actions set them) with retries on 5xx and rate limits."""
    token = token if token is not None else os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set")
    quiet()
    retry = GithubRetry(
        allowed_methods=RETRIED,
        total=4,
        backoff_factor=backoff_s,
        secondary_rate_wait=max(backoff_s, 1.0) * 5,
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT_S,
        respect_retry_after_header=True,
    )
    return Github(
        auth=Auth.Token(token),
        base_url=(api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
        per_page=100,
        retry=retry,
        lazy=True,  # objects load on first use, so a status or a label costs no extra read
        seconds_between_requests=None,
        seconds_between_writes=None,
        timeout=30,
    )


def quiet() -> None:
    """PyGithub logs every retry and failure to stderr (it gives its logger a StreamHandler at INFO), urllib3 its
    retries; a failure is our one stderr line, so neither logs."""
    for name in ("github", "urllib3"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False


def once(gh: Github) -> Github:
    """The same client without retries, for a write that must not be sent twice (creating a comment)."""
    return Github(**{**gh.requester.kwargs, "retry": None})


def _reset_time(headers: dict | None) -> str:
    value = (headers or {}).get("x-ratelimit-reset") or (headers or {}).get("X-RateLimit-Reset")
    if value and str(value).isdigit():
        return datetime.fromtimestamp(int(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "an unknown time"


def describe(exc: Exception, token: str = "") -> str:
    """One line for a GitHub failure, with the token scrubbed (it never appears even if echoed back)."""
    if isinstance(exc, github.RateLimitExceededException):
        text = f"the GitHub API rate limit is exhausted; it resets at {_reset_time(exc.headers)}"
    elif isinstance(exc, GithubException):
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        text = f"GitHub answered {exc.status}: {str(message or exc.data or 'no message')[:300]}"
    else:
        text = f"GitHub is unreachable: {type(exc).__name__}: {str(exc)[:300]}"
    text = " ".join(text.split())
    token = token or os.environ.get("GITHUB_TOKEN", "")
    return text.replace(token, "***") if token else text


@contextmanager
def github_errors(what: str) -> Iterator[None]:
    """Turn PyGithub and transport exceptions into GithubError / PullRequestGone with one clean line."""
    try:
        yield
    except GithubError:
        raise
    except GithubException as exc:
        if exc.status in (404, 410):
            raise PullRequestGone(f"{what}: not found (closed or deleted?)") from None
        raise GithubError(f"{what}: {describe(exc)}") from None
    except (OSError, ValueError) as exc:  # requests' ConnectionError is an OSError; urllib3 MaxRetryError too
        raise GithubError(f"{what}: {describe(exc)}") from None
