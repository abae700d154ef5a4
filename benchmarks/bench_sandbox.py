"""Sandbox speed: a warm-cache run of one server end to end, and replay throughput against a bare client.

Usage: python benchmarks/bench_sandbox.py [--rollouts 1000] [--rounds 3] [--concurrency 8]

Needs a Docker daemon and a base image ($GYM_REVIEW_BASE_IMAGE, default gym-review-base:trixie built
by .ci/setup-docker.sh). Uses NeMo Gym 0.4.0's real `example_single_tool_call` server from the wheel.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from gym_review_bot.sandbox import docker_api
from gym_review_bot.sandbox.client import SERVER_URL, ReplayClient
from gym_review_bot.sandbox.docker_api import unavailable_reason as docker_unavailable_reason
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.replay import read_rollouts
from gym_review_bot.sandbox.runner import run_sandbox, serving
from gym_review_bot.sources import GitTree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from corpus import wheel_path  # noqa: E402  (the tests' cached download of the nemo-gym wheel)

SERVER = "example_single_tool_call"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def server_repo(root: Path, rollouts: int | None = None) -> GitTree:
    """example_single_tool_call in a git repo, pinned to nemo-gym 0.4.0, its rollouts repeated to `rollouts`."""
    prefix = f"resources_servers/{SERVER}/"
    with zipfile.ZipFile(wheel_path()) as archive:
        for name in archive.namelist():
            if name.startswith(prefix) and not name.endswith("/") and "__pycache__" not in name:
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(archive.read(name))
    (root / prefix / "requirements.txt").write_text("nemo-gym==0.4.0\n")
    if rollouts:
        path = root / prefix / "data/example_rollouts.jsonl"
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        path.write_text("".join(lines[i % len(lines)] + "\n" for i in range(rollouts)))
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@b", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=root, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True)
    return GitTree(root, head.stdout.strip())


def options(concurrency: int) -> SandboxOptions:
    return SandboxOptions(
        base_image=os.environ.get("GYM_REVIEW_BASE_IMAGE") or "gym-review-base:trixie",
        ca_bundle=CA_BUNDLE if CA_BUNDLE.is_file() else None,
        concurrency=concurrency,
    )


def bench_end_to_end(opts: SandboxOptions, rounds: int) -> None:
    print("== Warm cache: build + boot + replay + tests of one server with 5 rollouts ==")
    with tempfile.TemporaryDirectory() as tmp:
        tree = server_repo(Path(tmp))
        t0 = time.monotonic()
        warm = run_sandbox(tree, SERVER, opts)  # fills the dependency cache when it is empty
        print(f"warm-up run: {time.monotonic() - t0:.1f} s ({warm.findings[0].message})")
        walls = []
        for i in range(rounds):
            start = time.monotonic()
            result = run_sandbox(tree, SERVER, opts)
            wall = time.monotonic() - start
            walls.append(wall)
            t, b = result.timings, result.boot_detail
            nemo = b.get("nemo_gym_config_s", 0) + b.get("nemo_gym_server_start_s", 0)
            print(
                f"run {i + 1}: wall {wall:.1f} s | build {t.build_s} s, boot {t.boot_s} s, replay {t.replay_s} s, "
                f"tests {t.tests_s} s (concurrent with boot + replay)"
            )
            if b and t.boot_s:
                print(
                    f"        boot: container start {b['container_start_s']} s, NeMo Gym config resolution "
                    f"{b['nemo_gym_config_s']} s, NeMo Gym server start (Ray + uvicorn) "
                    f"{b['nemo_gym_server_start_s']} s -> NeMo Gym's own start-up {nemo:.1f} s "
                    f"= {100 * nemo / t.boot_s:.0f} % of boot"
                )
            statuses = {f.id: f.status for f in result.findings}
            print(f"        findings: {statuses}")
        print(f"median wall: {statistics.median(walls):.1f} s (target < 30 s)\n")


# A plain concurrent client: keep-alive connections, no caps, no deadlines, no result checks.
BARE_CLIENT = """
import http.client, sys, threading
from concurrent.futures import ThreadPoolExecutor
url, path, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
bodies = open(path, "rb").read().splitlines()
local = threading.local()
def post(data):
    conn = getattr(local, "conn", None) or http.client.HTTPConnection("127.0.0.1", 8000, timeout=60)
    local.conn = conn
    conn.request("POST", "/verify", body=data, headers={"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
with ThreadPoolExecutor(concurrency) as pool:
    list(pool.map(post, bodies))
"""


def bare_client(client: ReplayClient, bodies: list[bytes], concurrency: int) -> float:
    """Requests per second of a plain client in the same namespace, started the same way (copy in, exec)."""
    start = time.monotonic()
    docker_api.put_files(client.container, {"/opt/gym-review-client/bare.jsonl": b"\n".join(bodies) + b"\n"})
    command = ["python3", "-I", "-c", BARE_CLIENT, SERVER_URL, "/opt/gym-review-client/bare.jsonl", str(concurrency)]
    code, _, err = docker_api.exec_output(client.container, command, 1 << 20, 120)
    if code != 0:
        raise SystemExit(f"bare client failed: {err}")
    return len(bodies) / (time.monotonic() - start)


def bot_client(client: ReplayClient, tree: GitTree, path: str, concurrency: int) -> tuple[float, int]:
    """Requests per second of the sandbox's replay as a run does it: the rollouts file streamed in, the
    client parsing each row, sending it with bounded reads and reporting it, the bot reading each result."""
    client.start_deadline()
    start = time.monotonic()
    entry = tree.get(path)
    assert entry is not None
    client.load_rollouts(tree, entry, None)
    results = client.replay_file(concurrency)
    rps = len(results) / (time.monotonic() - start)
    return rps, sum(r.matches for r in results)


def bench_throughput(opts: SandboxOptions, rollouts: int, rounds: int) -> None:
    print(f"== Replay throughput: {rollouts} rollouts, concurrency {opts.concurrency}, one NeMo Gym server ==")
    print("(both clients run inside the server's network namespace, started with docker exec)")
    with tempfile.TemporaryDirectory() as tmp:
        tree = server_repo(Path(tmp), rollouts)
        path = f"resources_servers/{SERVER}/data/example_rollouts.jsonl"
        usable = [r for r in read_rollouts(tree, path) if r.body is not None and not r.error]
        bodies = [json.dumps(r.body, separators=(",", ":")).encode() for r in usable]
        with serving(tree, SERVER, opts) as client:
            bare_client(client, bodies[:100], opts.concurrency)  # warm both paths up
            client.replay(usable[:100], opts.concurrency)
            bare, bot = [], []
            for i in range(rounds):  # interleaved, so drift in the server hits both alike
                bare.append(bare_client(client, bodies, opts.concurrency))
                rps, matched = bot_client(client, tree, path, opts.concurrency)
                bot.append(rps)
                print(f"round {i + 1}: bare client {bare[-1]:.0f} req/s, sandbox replay {rps:.0f} req/s "
                      f"({matched}/{rollouts} rewards reproduced)")  # fmt: skip
    ratio = statistics.median(bot) / statistics.median(bare)
    print(
        f"median: bare {statistics.median(bare):.0f} req/s, sandbox replay {statistics.median(bot):.0f} req/s "
        f"-> {100 * ratio:.0f} % of the bare client (target >= 80 %)\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="end-to-end runs")
    parser.add_argument("--replay-rounds", type=int, default=7, help="interleaved throughput rounds (noisy)")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    reason = docker_unavailable_reason()
    if reason:
        sys.exit(f"bench_sandbox: {reason}")
    opts = options(args.concurrency)
    bench_end_to_end(opts, args.rounds)
    bench_throughput(opts, args.rollouts, args.replay_rounds)


if __name__ == "__main__":
    main()
