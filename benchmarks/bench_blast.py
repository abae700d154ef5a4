"""Time `gym-review plan` on NeMo Gym main's own core changes (issue 22).

For the 20 most recent commits of NeMo Gym main that touch `nemo_gym/` (`git log --first-parent main --
nemo_gym`), each reviewed as a PR against its first parent, it runs the whole `gym-review plan` process and
prints the affected count (servers importing a changed module), the sample (`github.audit_sample`, 8 by default)
and the seconds the process took. Target: under 2 s each, on this 2-core machine.

The repository is a clone of the mirror (`fetch github:NVIDIA-NeMo/Gym`) with shared objects and nothing checked
out: `plan` reads both commits with git, as it does in CI.

Run: python benchmarks/bench_blast.py [--mirror DIR] [--main REF] [--commits N] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 2.0
DEFAULT_MIRROR = Path("/work/.mirror/NVIDIA-NeMo+Gym/repo")
MAIN_REF = "07d6b0d07"  # NeMo Gym main as fetched for the benchmarks (114 servers)
SHOWN_SAMPLE = 8


def gym_review_command() -> list[str]:
    """The console script of the Python running this (a venv's own), else one on PATH, else the module."""
    beside = Path(sys.executable).parent / "gym-review"
    script = str(beside) if beside.is_file() else shutil.which("gym-review")
    return [script] if script else [sys.executable, "-m", "gym_review_bot"]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


def core_commits(repo: Path, main: str, count: int) -> list[tuple[str, str]]:
    """(sha, subject) of main's most recent first-parent commits touching nemo_gym/."""
    out = git(repo, "log", "--first-parent", f"-n{count}", "--format=%H %s", main, "--", "nemo_gym")
    return [tuple(line.split(" ", 1)) for line in out.splitlines() if line]  # type: ignore[misc]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def plan_once(repo: Path, sha: str) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds (the process and its git children: what the machine's load does not inflate)
    and the plan."""
    cpu = children_cpu()
    start = time.perf_counter()
    done = subprocess.run(
        [*gym_review_command(), "plan", "--repo", str(repo), "--base", f"{sha}^", "--head", sha],
        capture_output=True,
        text=True,
    )
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"plan failed on {sha[:9]}: {done.stderr.strip()}")
    return took, children_cpu() - cpu, json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    parser.add_argument("--main", default=MAIN_REF, help=f"NeMo Gym main's commit (default {MAIN_REF})")
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1, help="runs per commit; the median is shown")
    args = parser.parse_args()
    if not (args.mirror / "HEAD").is_file():
        print(f"no NeMo Gym mirror at {args.mirror} (fetch github:NVIDIA-NeMo/Gym); nothing measured")
        return 2
    with tempfile.TemporaryDirectory(prefix="bench-blast-") as tmp:
        repo = Path(tmp) / "gym"
        subprocess.run(
            ["git", "clone", "-q", "--shared", "--no-checkout", str(args.mirror), str(repo)],
            check=True,
            capture_output=True,
        )
        commits = core_commits(repo, args.main, args.commits)
        print(f"`gym-review plan` on NeMo Gym main ({args.main}): its {len(commits)} most recent nemo_gym/ commits")
        print(f"load average at the start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
        print(f"{'commit':<10} {'affected':>8} {'seconds':>8} {'cpu s':>6}  sample (first {SHOWN_SAMPLE}) · subject")
        times, cpus = [], []
        for sha, subject in commits:
            runs = [plan_once(repo, sha) for _ in range(args.runs)]
            took, cpu = statistics.median(t for t, _, _ in runs), statistics.median(c for _, c, _ in runs)
            times.append(took)
            cpus.append(cpu)
            blast = runs[-1][2]["blast"]
            count = blast["count"] if blast else 0
            sample = ", ".join(blast["sampled"][:SHOWN_SAMPLE]) if blast and blast["sampled"] else "-"
            if blast is None:
                sample = "(no shared Python module changed)"
            print(f"{sha[:9]:<10} {count:>8} {took:>8.2f} {cpu:>6.2f}  {sample} · {subject[:60]}")
    verdict = "PASS" if max(times) < TARGET_S else "FAIL"
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(
        f"\nplan: median {statistics.median(times):.2f} s, max {max(times):.2f} s per commit "
        f"(target < {TARGET_S:g} s each): {verdict}; CPU (user + system, git included) median "
        f"{statistics.median(cpus):.2f} s, max {max(cpus):.2f} s"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
