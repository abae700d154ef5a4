"""The replay client's container: the only thing that talks to the server, from inside its network namespace.

It runs our standard-library script (_replay_client.py) on the base image's `python3 -I`, never the
PR's interpreter or venv, with no network but the loopback it shares with the server.
"""

from __future__ import annotations

import json
import time
from importlib import resources
from typing import Any

from gym_review_bot.sandbox import docker_api
from gym_review_bot.sandbox.replay import MAX_ANSWER_BYTES, ReplayResult, Rollout, items_file
from gym_review_bot.sandbox.server_config import SERVER_PORT

CLIENT_DIR = "/opt/gym-review-client"
CLIENT_SCRIPT = f"{CLIENT_DIR}/client.py"
CALLS_FILE = "/tmp/gym-review-model-calls.jsonl"
SERVER_URL = f"http://127.0.0.1:{SERVER_PORT}"
MAX_RESULT_LINE_BYTES = 2048  # the client's own JSON line per rollout, error text included


class ClientFailed(Exception):
    """The replay client did not do its job: a fault of the sandbox, reported as `error`."""


def start_client(scope: docker_api.RunScope, image: str, limits: dict[str, Any], standin_ports: list[int]) -> Any:
    """Start the client container, with no network; the server joins its namespace (it holds the loopback)."""
    script = resources.files("gym_review_bot.sandbox").joinpath("_replay_client.py").read_bytes()
    command = ["python3", "-I", CLIENT_SCRIPT, "standins", CALLS_FILE, *map(str, standin_ports)]
    # Not read-only: Docker copies files only into a writable root; the script writes only to /tmp.
    writable = dict(limits, read_only=False)
    return scope.container(image, command, "client", "none", writable, files={CLIENT_SCRIPT: script})


class ReplayClient:
    """Drives the client container with `docker exec`; every run of it is bounded by the replay's deadline."""

    def __init__(self, container: Any, request_timeout: float, replay_timeout: float, models: bool):
        self.container = container
        self.request_timeout = request_timeout
        self.replay_timeout = replay_timeout
        self.models = models
        self.deadline: float | None = None
        self._batches = 0

    def _run(self, args: list[str], cap: int, quiet: float) -> bytes:
        code, out, err = docker_api.exec_output(self.container, ["python3", "-I", CLIENT_SCRIPT, *args], cap, quiet)
        if code != 0:
            raise ClientFailed(f"the replay client exited with {code}: {err.strip()[-500:] or '(no output)'}")
        return out

    def get(self, path: str, timeout: float) -> tuple[int | None, str | None]:
        """(HTTP status, error) of one bounded GET to the server."""
        out = self._run(["get", SERVER_URL + path, f"{timeout:g}", str(MAX_ANSWER_BYTES)], 4096, timeout + 30)
        try:
            answer = json.loads(out)
            status = answer.get("status")
            return (status if isinstance(status, int) else None), answer.get("error")
        except (ValueError, AttributeError) as exc:
            raise ClientFailed(f"the replay client printed no answer ({exc})") from exc

    def start_deadline(self) -> None:
        self.deadline = time.monotonic() + self.replay_timeout

    def time_left(self) -> float:
        if self.deadline is None:
            self.start_deadline()
        assert self.deadline is not None
        return max(0.0, self.deadline - time.monotonic())

    def replay(self, rollouts: list[Rollout], concurrency: int) -> list[ReplayResult]:
        """POST each rollout's body to /verify; one result per rollout, in line order."""
        if not rollouts:
            return []
        self._batches += 1
        path = f"{CLIENT_DIR}/items-{self._batches}.jsonl"
        docker_api.put_files(self.container, {path: items_file(rollouts)})
        args = [
            "replay",
            SERVER_URL + "/verify",
            path,
            CALLS_FILE if self.models else "-",
            str(1 if self.models else max(1, concurrency)),
            f"{self.request_timeout:g}",
            str(MAX_ANSWER_BYTES),
            f"{self.time_left():.3f}",
        ]
        out = self._run(args, MAX_RESULT_LINE_BYTES * len(rollouts) + 4096, self.request_timeout + 60)
        stored = {r.line: r.reward for r in rollouts}
        results: dict[int, ReplayResult] = {}
        try:
            for text in out.decode("utf-8").splitlines():
                item = json.loads(text)
                results[int(item["line"])] = ReplayResult.from_client(item, stored.get(int(item["line"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ClientFailed(f"the replay client's output is not what it writes ({exc})") from exc
        missing = sorted(set(stored) - set(results))
        if missing:
            raise ClientFailed(f"the replay client reported no result for line(s) {missing[:10]}")
        return [results[line] for line in sorted(results) if line in stored]
