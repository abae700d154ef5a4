"""Replaying example rollouts to a server's /verify: concurrent, bounded, each request timed out."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from gym_review_bot.safeload import is_finite_number, iter_jsonl
from gym_review_bot.sources import SourceTree

MAX_ROLLOUT_LINE_BYTES = 64 * 1024 * 1024
MAX_EXAMPLES_FOR_KEYS = 1000
TOLERANCE = 1e-6
UNRELATED_TEXT = "The quick brown fox jumps over the lazy dog. Bananas are yellow."


@dataclass
class Rollout:
    """One line of example_rollouts.jsonl: the /verify body, its stored reward, or why it is unusable."""

    line: int
    body: dict[str, Any] | None = None
    reward: float | None = None
    error: str | None = None


@dataclass
class Outcome:
    line: int
    stored: float | None
    returned: float | None = None
    error: str | None = None
    aborted: bool = False  # a timeout or a dead connection: the server is not answering

    @property
    def matches(self) -> bool:
        return self.returned is not None and self.stored is not None and abs(self.returned - self.stored) <= TOLERANCE


def strip_nulls(value: Any) -> Any:
    """Drop keys whose value is null, recursively: stored rollouts carry nulls today's schema rejects."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def input_keys(tree: SourceTree, examples_path: str) -> set[str] | None:
    """The top-level keys of the example inputs, or None when there are none to go by."""
    entry = tree.get(examples_path)
    if entry is None or entry.kind != "file":
        return None
    keys: set[str] = set()
    with tree.stream(entry) as fh:
        for n, item in enumerate(iter_jsonl(fh, MAX_ROLLOUT_LINE_BYTES)):
            if isinstance(item.value, dict):
                keys.update(item.value)
            if n >= MAX_EXAMPLES_FOR_KEYS:
                break
    return keys | {"responses_create_params", "response"} if keys else None


def read_rollouts(tree: SourceTree, path: str, keys: set[str] | None = None) -> Iterator[Rollout]:
    """The rollouts of a file; with `keys`, each body keeps only those (what the agent sent to /verify)."""
    entry = tree.get(path)
    if entry is None or entry.kind != "file":
        return
    with tree.stream(entry) as fh:
        for item in iter_jsonl(fh, MAX_ROLLOUT_LINE_BYTES):
            yield _rollout(item.line, item.value, item.error, keys)


def _rollout(line: int, value: Any, error: str | None, keys: set[str] | None = None) -> Rollout:
    if error:
        return Rollout(line, error=error)
    if not isinstance(value, dict) or "response" not in value or "responses_create_params" not in value:
        return Rollout(line, error="is not a rollout (needs `responses_create_params` and `response`)")
    reward = value.get("reward")
    # A rollout is the verify response: the request plus what verify() added. The agent sent the
    # example's fields and the response; the added fields (reward, scores) are not sent back.
    body = strip_nulls({k: v for k, v in value.items() if k != "reward" and (keys is None or k in keys)})
    if not is_finite_number(reward):
        return Rollout(line, body=body, error=f"has no numeric stored `reward` (found {reward!r})")
    return Rollout(line, body=body, reward=float(reward))


class VerifyClient:
    """POSTs to /verify from a bounded pool of threads, one keep-alive connection each."""

    def __init__(self, base_url: str, concurrency: int, timeout: float):
        self.url = base_url.rstrip("/") + "/verify"
        self.concurrency = max(1, concurrency)
        self.timeout = timeout
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # the server is on a local network: no proxy, no netrc
            session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=1, max_retries=0))
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def verify(self, body: dict[str, Any]) -> tuple[float | None, str | None, bool]:
        """(reward, error, aborted) of one request."""
        data = json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"}
        try:
            resp = self._session().post(self.url, data=data, headers=headers, timeout=self.timeout)
        except requests.Timeout:
            return None, f"timed out after {self.timeout:g} s", True
        except requests.ConnectionError as exc:
            return None, f"connection failed ({_reason(exc)})", True
        if resp.status_code != 200:
            return None, f"HTTP {resp.status_code}: {resp.text[:300]}", False
        try:
            reward = resp.json().get("reward")
        except (ValueError, AttributeError):
            return None, "response is not a JSON object", False
        if not is_finite_number(reward):
            return None, f"response has no numeric `reward` (found {reward!r})", False
        return float(reward), None, False

    def replay(self, rollouts: Iterable[Rollout]) -> list[Outcome]:
        """Replay every usable rollout; stop sending once the server stops answering."""
        outcomes: list[Outcome] = []
        pending: set[Future[Outcome]] = set()
        stop = False

        def one(r: Rollout) -> Outcome:
            reward, error, aborted = self.verify(r.body or {})
            return Outcome(r.line, r.reward, reward, error, aborted)

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="replay") as pool:
            for r in rollouts:
                if r.body is None or r.error:
                    outcomes.append(Outcome(r.line, r.reward, error=r.error))
                    continue
                if stop:
                    outcomes.append(Outcome(r.line, r.reward, error="not replayed: the server stopped answering"))
                    continue
                if len(pending) >= self.concurrency * 2:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    stop = self._collect(done, outcomes) or stop
                pending.add(pool.submit(one, r))
            done, _ = wait(pending)
            self._collect(done, outcomes)
        return sorted(outcomes, key=lambda o: o.line)

    @staticmethod
    def _collect(done: set[Future[Outcome]], outcomes: list[Outcome]) -> bool:
        aborted = False
        for fut in done:
            outcome = fut.result()
            outcomes.append(outcome)
            aborted = aborted or outcome.aborted
        return aborted

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests error, in one short line."""
    while exc.args and isinstance(exc.args[-1], Exception):
        exc = exc.args[-1]
    text = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__


def probe_bodies(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """An empty response and an unrelated one, built on a real rollout so the request validates."""
    response = dict(template.get("response") or {})
    message = {
        "id": "msg_gym_review_probe",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": UNRELATED_TEXT, "annotations": []}],
    }
    return {
        "empty response": dict(template, response=dict(response, output=[])),
        "unrelated text": dict(template, response=dict(response, output=[message])),
    }
