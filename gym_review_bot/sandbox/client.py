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
from gym_review_bot.sources import Entry, SourceTree

CLIENT_DIR = "/opt/gym-review-client"
CLIENT_SCRIPT = f"{CLIENT_DIR}/client.py"
RECORDED_JUDGE = f"{CLIENT_DIR}/_recorded_judge.py"  # imported by the script: the stand-ins' recorded answers
ROLLOUTS_FILE = f"{CLIENT_DIR}/rollouts.jsonl"
KEYS_FILE = f"{CLIENT_DIR}/keys.json"
CALLS_FILE = "/tmp/gym-review-model-calls.jsonl"
SERVER_URL = f"http://127.0.0.1:{SERVER_PORT}"
MAX_RESULT_LINE_BYTES = 2048  # the client's own JSON line per rollout, error text included


def results_of(item: dict, stored: dict[int, float | None] | None = None) -> list[ReplayResult]:
    """The results one line of the client stands for: one, or the rows the deadline left unsent (`late_ranges`,
    which the client did not parse)."""
    if "late_ranges" not in item:
        return [ReplayResult.from_client(item, (stored or {}).get(int(item["line"])))]
    error = "not replayed: the replay deadline passed"
    return [
        ReplayResult(n, None, error=error, aborted=True, deadline=True, usable=False)
        for first, last in item["late_ranges"]
        for n in range(int(first), int(last) + 1)
    ]


class ClientFailed(Exception):
    """The replay client did not do its job: a fault of the sandbox, reported as `error`."""


def start_client(scope: docker_api.RunScope, image: str, limits: dict[str, Any], standin_ports: list[int]) -> Any:
    """Start the client container, with no network; the server joins its namespace (it holds the loopback)."""
    package = resources.files("gym_review_bot.sandbox")
    script = package.joinpath("_replay_client.py").read_bytes()
    judge = package.joinpath("_recorded_judge.py").read_bytes()
    command = ["python3", "-I", CLIENT_SCRIPT, "standins", CALLS_FILE, *map(str, standin_ports)]
    # Not read-only: Docker copies files only into a writable root; the script writes only to /tmp.
    writable = dict(limits, read_only=False)
    return scope.container(
        image, command, "client", "none", writable, files={CLIENT_SCRIPT: script, RECORDED_JUDGE: judge}
    )


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

    def load_rollouts(self, tree: SourceTree, entry: Entry, keys: set[str] | None) -> None:
        """Stream a stored rollouts file into the client (never held here), with the keys the agent sent."""
        with tree.stream(entry) as fh:
            docker_api.put_stream(self.container, ROLLOUTS_FILE, entry.size, fh)
        keys_json = json.dumps(sorted(keys) if keys is not None else None).encode()
        docker_api.put_files(self.container, {KEYS_FILE: keys_json})

    def _arguments(self, concurrency: int) -> list[str]:
        return [
            CALLS_FILE if self.models else "-",
            str(1 if self.models else max(1, concurrency)),
            f"{self.request_timeout:g}",
            str(MAX_ANSWER_BYTES),
            f"{self.time_left():.3f}",
        ]

    def _stream(self, args: list[str], stored: dict[int, float | None] | None = None) -> list[ReplayResult]:
        """Run the client and turn each line it prints into a result as it comes; sorted by line.

        `stored`: the rewards of the rollouts the bot sent (a stored rollouts file's rows carry their own).
        """
        results: list[ReplayResult] = []

        def take(line: bytes) -> None:
            if not line.strip():
                return
            results.extend(results_of(json.loads(line), stored))

        command = ["python3", "-I", CLIENT_SCRIPT, *args]
        try:
            code, err = docker_api.exec_lines(self.container, command, take, MAX_RESULT_LINE_BYTES, self.quiet())
        except (ValueError, KeyError, TypeError) as exc:
            raise ClientFailed(f"the replay client's output is not what it writes ({exc})") from exc
        if code != 0:
            raise ClientFailed(f"the replay client exited with {code}: {err.strip()[-500:] or '(no output)'}")
        return sorted(results, key=lambda r: (r.line, r.probe or ""))

    def quiet(self) -> float:
        return self.request_timeout + 60

    def replay_file(self, concurrency: int) -> list[ReplayResult]:
        """Replay every row of the loaded rollouts file: one result per non-blank line, in line order.

        Past the deadline the client parses and sends nothing: every row is reported as not replayed.
        """
        args = ["rollouts", SERVER_URL + "/verify", ROLLOUTS_FILE, KEYS_FILE, *self._arguments(concurrency)]
        return self._stream(args)

    def probe_file(self, lines: list[int], concurrency: int) -> list[ReplayResult]:
        """An empty and an unrelated response for each listed row of the loaded rollouts file."""
        if not lines:
            return []
        listed = ",".join(map(str, lines))
        args = ["probe", SERVER_URL + "/verify", ROLLOUTS_FILE, KEYS_FILE, listed, *self._arguments(concurrency)]
        return self._stream(args)

    def replay(self, rollouts: list[Rollout], concurrency: int) -> list[ReplayResult]:
        """POST each rollout's body to /verify; one result per rollout, in line order."""
        if not rollouts:
            return []
        self._batches += 1
        path = f"{CLIENT_DIR}/items-{self._batches}.jsonl"
        docker_api.put_files(self.container, {path: items_file(rollouts)})
        stored = {r.line: r.reward for r in rollouts}
        results = self._stream(["replay", SERVER_URL + "/verify", path, *self._arguments(concurrency)], stored)
        missing = sorted(set(stored) - {r.line for r in results})
        if missing:
            raise ClientFailed(f"the replay client reported no result for line(s) {missing[:10]}")
        return [r for r in results if r.line in stored]
