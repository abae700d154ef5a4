"""Profile rollouts files: speed on a realistic file, memory on a huge one.

Targets (issue 10), on the 2-core machine:
  * an 8,000-row rollouts file (500 prompts x 16, ~10 KB rows) profiled in under 2 s, read from a
    git commit (as a PR review reads it) and from a plain file;
  * 100,000 rows of ~20 KB (about 2 GB) streamed with peak memory (max RSS of the process) under 500 MB.

Run: python benchmarks/bench_evidence.py [--runs N] [--big-rows N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gym_review_bot.evidence.synthetic import rollouts  # noqa: E402

SPEED_TARGET_S = 2.0
MEMORY_TARGET_MB = 500
SERVER_PATH = "resources_servers/bench_srv"


def write_rollouts(path: Path, prompts: int, per_prompt: int, row_bytes: int) -> int:
    import orjson

    size = 0
    with path.open("wb") as fh:
        for row in rollouts(prompts, per_prompt, lambda i: i % (per_prompt + 1), pad_to=row_bytes):
            data = orjson.dumps(row) + b"\n"
            size += len(data)
            fh.write(data)
    return size


def git_repo(root: Path, rollouts_file: Path) -> Path:
    repo = root / "repo"
    (repo / SERVER_PATH / "data").mkdir(parents=True)
    os.link(rollouts_file, repo / SERVER_PATH / "data" / "profile_rollouts.jsonl")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b"}
    env["GIT_COMMITTER_EMAIL"] = "b@b"
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env)
    return repo


def time_speed(root: Path, runs: int) -> bool:
    from gym_review_bot import git
    from gym_review_bot.evidence.locate import locate_evidence
    from gym_review_bot.evidence.rollouts import profile_rollouts
    from gym_review_bot.sources import GitTree

    path = root / "speed.jsonl"
    size = write_rollouts(path, 500, 16, 10_000)
    repo = git_repo(root, path)
    head = git.resolve(repo, "HEAD") or ""
    plain, via_git = [], []
    for _ in range(runs):
        start = time.perf_counter()
        with path.open("rb") as fh:
            ev = profile_rollouts(fh, str(path))
        plain.append(time.perf_counter() - start)
        start = time.perf_counter()
        found = locate_evidence(GitTree(repo, head), SERVER_PATH, None, 200 * 1024 * 1024)
        via_git.append(time.perf_counter() - start)
    assert ev.rollouts == 8000 and ev.prompts == 500 and found.evidence is not None
    ok = max(statistics.median(plain), statistics.median(via_git)) < SPEED_TARGET_S
    print(f"8,000 rows, {size / 1e6:.1f} MB ({size // 8000:,} B/row), {runs} runs")
    print(f"  plain file:      min {min(plain):.3f} s, median {statistics.median(plain):.3f} s, max {max(plain):.3f} s")
    print(
        f"  git commit tree: min {min(via_git):.3f} s, median {statistics.median(via_git):.3f} s, "
        f"max {max(via_git):.3f} s"
    )
    print(f"  target < {SPEED_TARGET_S} s: {'PASS' if ok else 'FAIL'}")
    return ok


CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[2])
from gym_review_bot.evidence.rollouts import profile_rollouts
start = time.perf_counter()
with open(sys.argv[1], "rb") as fh:
    ev = profile_rollouts(fh, sys.argv[1])
elapsed = time.perf_counter() - start
print(ev.rollouts, ev.prompts, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure_memory(root: Path, rows: int) -> bool:
    path = root / "big.jsonl"
    start = time.perf_counter()
    size = write_rollouts(path, rows // 16, 16, 20_000)
    print(f"{rows:,} rows, {size / 1e9:.2f} GB written in {time.perf_counter() - start:.1f} s")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(ROOT)], capture_output=True, text=True, check=True
    )
    count, prompts, elapsed, rss_kb = out.stdout.split()
    peak_mb = int(rss_kb) / 1024
    ok = int(count) == rows and peak_mb < MEMORY_TARGET_MB
    print(f"  profiled {int(count):,} rollouts of {int(prompts):,} prompts in {float(elapsed):.1f} s")
    print(
        f"  peak memory (max RSS of the process): {peak_mb:.0f} MB; target < {MEMORY_TARGET_MB} MB: "
        f"{'PASS' if ok else 'FAIL'}"
    )
    path.unlink()
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-evidence-") as tmp:
        ok = time_speed(Path(tmp), args.runs)
        ok = measure_memory(Path(tmp), args.big_rows) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
