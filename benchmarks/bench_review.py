"""Time whole `gym-review check` processes on real NeMo Gym trees.

Targets, wall time on the 2-core machine, median of the runs:
  * NeMo Gym main (issue 15): one PR adding one server to NeMo Gym's main tree (114 servers, ~4,000 files,
    from the mirror that `fetch github:NVIDIA-NeMo/Gym` brings), under 0.5 s for the whole process.
  * PR mode on the nemo-gym 0.4.0 wheel: one PR adding one server to its ~95 servers, under 0.5 s.
  * `--all` over every server of the wheel, under 5 s.

Before timing, the package's byte-code is written (compileall, as `pip install` does): the figures are of an
installed tool, not of one that compiles its modules from source on every run.

Run: python benchmarks/bench_review.py [--runs N] [--server NAME] [--main-server NAME] [--mirror DIR]
Prints min/median/max per scenario, PASS/FAIL against the target, and, when a target is missed,
the ten slowest imports (python -X importtime) of that command. Without the mirror the NeMo Gym main
scenario says so and is left out (not passed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from corpus import CorpusUnavailable, corpus_root  # noqa: E402

PR_TARGET_S = 0.5  # issue 6: under 0.5 s whole process
MAIN_TARGET_S = 0.5  # issue 15: the same on NeMo Gym's main tree
ALL_TARGET_S = 5.0
DEFAULT_SERVER = "example_single_tool_call"
MIRROR_ENV = "GYM_REVIEW_NEMO_GYM_MIRROR"
DEFAULT_MIRROR = Path("/work/.mirror/NVIDIA-NeMo+Gym/repo")
MAIN_REF = "07d6b0d07"  # NeMo Gym main as fetched for this benchmark (114 servers)
MAIN_SERVER = "citation_if"  # a server added by a recent one-server PR (#2586)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def gym_review_command() -> list[str]:
    """The installed console script, as a user runs it; else the module."""
    script = shutil.which("gym-review")
    return [script] if script else [sys.executable, "-m", "gym_review_bot"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def build_pr_repo(wheel: Path, server: str, into: Path) -> Path:
    """A git repo whose base commit is the wheel's tree without SERVER and whose HEAD adds it."""
    repo = into / "gym"
    repo.mkdir()
    shutil.copytree(wheel / "nemo_gym", repo / "nemo_gym")
    shutil.copytree(wheel / "resources_servers", repo / "resources_servers", ignore=_skip_top(server))
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "-m", "base: the wheel without one server")
    git(repo, "checkout", "--quiet", "-b", "pr")
    shutil.copytree(wheel / "resources_servers" / server, repo / "resources_servers" / server)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "-m", f"add {server}")
    return repo


def build_main_pr(mirror: Path, server: str, into: Path) -> tuple[Path, str, str] | None:
    """A clone of the mirror (shared objects, nothing checked out) where HEAD is NeMo Gym main and the base is
    main without SERVER: a one-server PR in the real 114-server tree. (repo, base, head) or None."""
    repo = into / "gym-main"
    done = subprocess.run(
        ["git", "clone", "-q", "--shared", "--no-checkout", str(mirror), str(repo)], capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"  cannot clone the mirror: {done.stderr.strip()[-300:]}")
        return None
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", f"{MAIN_REF}^{{commit}}"], capture_output=True, text=True
    )
    if head.returncode != 0:
        print(f"  the mirror has no commit {MAIN_REF}")
        return None
    head_sha = head.stdout.strip()
    index = {**os.environ, **GIT_ENV, "GIT_INDEX_FILE": str(into / "bench-index")}
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], env=index, check=True, capture_output=True, text=True)  # noqa: E731
    run("read-tree", head_sha)
    run("rm", "-r", "-q", "--cached", f"resources_servers/{server}")
    tree = run("write-tree").stdout.strip()
    base = run("commit-tree", tree, "-p", f"{head_sha}~1", "-m", f"base: main without {server}").stdout.strip()
    head2 = run("commit-tree", f"{head_sha}^{{tree}}", "-p", base, "-m", f"add {server}").stdout.strip()
    return repo, base, head2


def find_mirror(given: str | None) -> Path | None:
    path = Path(given or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR)
    return path if (path / "HEAD").exists() or (path / ".git").exists() else None


def _skip_top(server: str):
    def ignore(directory: str, names: list[str]) -> list[str]:
        return [server] if Path(directory).name == "resources_servers" and server in names else []

    return ignore


def time_runs(command: list[str], runs: int, cwd: Path) -> tuple[list[float], int]:
    """Wall seconds of each run, and the last exit code; stops on a crash."""
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        code = done.returncode
        if code not in (0, 1):
            print(f"  command exited {code}:\n{done.stderr[-2000:]}")
            break
    return times, code


def byte_compile() -> str:
    """Write the package's byte-code, as `pip install` does for an installed package: without it (an editable
    install under PYTHONDONTWRITEBYTECODE=1) every run compiles ~60 modules from source first (~0.2 s)."""
    import compileall

    import gym_review_bot

    package = Path(gym_review_bot.__file__).parent
    # the demo's fixture servers are data, reviewed as files: no __pycache__ among them
    ok = compileall.compile_dir(str(package), quiet=1, rx=re.compile(r"[/\\]demo[/\\]fixtures[/\\]"))
    written = "written" if ok else "NOT all written (the figures include compiling from source)"
    dont = " (PYTHONDONTWRITEBYTECODE is set here)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""
    return f"byte-code of {package}: {written}{dont}"


def report(label: str, times: list[float], code: int, target: float) -> bool:
    median = statistics.median(times)
    ok = median < target and code in (0, 1)
    print(
        f"{label}: min {min(times):.3f} s, median {median:.3f} s, max {max(times):.3f} s "
        f"over {len(times)} run(s); exit {code}; target < {target:g} s: {'PASS' if ok else 'FAIL'}"
    )
    return ok


def check_pr_report(path: Path, server: str) -> bool:
    """The PR run must review exactly the one added server, or its timing means nothing."""
    try:
        servers = [(s["name"], s["status"]) for s in json.loads(path.read_text(encoding="utf-8"))["servers"]]
    except (OSError, ValueError, KeyError) as exc:
        print(f"  cannot read the PR report {path.name}: {exc}: FAIL")
        return False
    if servers != [(server, "added")]:
        print(f"  the PR report lists {servers}, not [({server!r}, 'added')]: FAIL")
        return False
    return True


def slowest_imports(command: list[str], cwd: Path, top: int = 10) -> None:
    """The imports with the highest cumulative time when COMMAND runs under -X importtime."""
    argv = command[1:] if command[0] != sys.executable else command[2:]
    module_args = argv if command[0] == sys.executable else ["-m", "gym_review_bot", *argv]
    done = subprocess.run([sys.executable, "-X", "importtime", *module_args], cwd=cwd, capture_output=True, text=True)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if match:
            rows.append((int(match.group(2)), int(match.group(1)), len(match.group(3)), match.group(4)))
    total_us = sum(cumulative for cumulative, _, depth, _ in rows if depth == 1)
    print(f"  imports: {total_us / 1e6:.3f} s at top level; slowest {top} by cumulative time:")
    for cumulative, own, depth, name in sorted(rows, reverse=True)[:top]:
        print(f"    {cumulative / 1e3:8.1f} ms cumulative {own / 1e3:7.1f} ms self  {'  ' * (depth - 1)}{name}")


def baseline(runs: int) -> float:
    times, _ = time_runs([sys.executable, "-c", "pass"], runs, Path.cwd())
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10, help="runs per scenario (default: 10)")
    parser.add_argument("--server", default=DEFAULT_SERVER, help=f"the server the PR adds (default: {DEFAULT_SERVER})")
    parser.add_argument("--importtime", action="store_true", help="print the slowest imports even when on target")
    parser.add_argument("--main-server", default=MAIN_SERVER, help="the server the NeMo Gym main PR adds")
    parser.add_argument("--mirror", help=f"NeMo Gym's git mirror (default ${MIRROR_ENV}, else {DEFAULT_MIRROR})")
    args = parser.parse_args()
    try:
        wheel = corpus_root()
    except CorpusUnavailable as exc:
        print(f"cannot download the nemo-gym 0.4.0 wheel (offline?): {exc}")
        return 2
    servers = sorted(p.name for p in (wheel / "resources_servers").iterdir() if p.is_dir())
    if args.server not in servers:
        print(f"--server {args.server}: not a directory of the wheel's resources_servers/")
        return 2
    base = gym_review_command()
    print(f"corpus: {wheel} ({len(servers)} directories under resources_servers/)")
    print(byte_compile())
    print(f"command: {' '.join(base)}; cpus: {os.cpu_count()}; python: {sys.version.split()[0]}")
    print(f"python startup alone (python -c pass): median {baseline(args.runs):.3f} s")
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        tmp_path = Path(tmp)
        start = time.perf_counter()
        repo = build_pr_repo(wheel, args.server, tmp_path)
        took = time.perf_counter() - start
        print(f"built the PR repository in {took:.1f} s (base: the wheel minus {args.server})")
        scenarios = [
            (
                f"PR mode, one PR adding {args.server}",
                [*base, "check", "--repo", str(repo), "--base", "main", "--no-docker", "--json", "pr.json"],
                PR_TARGET_S,
            ),
            (
                f"--all over the wheel's {len(servers)} servers",
                [*base, "check", "--repo", str(wheel), "--all", "--no-docker", "--json", "all.json"],
                ALL_TARGET_S,
            ),
        ]
        mirror = find_mirror(args.mirror)
        if mirror is None:
            print("NeMo Gym main: no mirror found (fetch github:NVIDIA-NeMo/Gym, or --mirror DIR): left out")
        else:
            built = build_main_pr(mirror, args.main_server, tmp_path)
            if built is None:
                results.append(False)
            else:
                main_repo, main_base, main_head = built
                scenarios.insert(
                    0,
                    (
                        f"NeMo Gym main ({MAIN_REF}, 114 servers), one PR adding {args.main_server}",
                        [*base, "check", "--repo", str(main_repo), "--base", main_base, "--head", main_head,
                         "--no-docker", "--json", "main.json"],
                        MAIN_TARGET_S,
                    ),
                )  # fmt: skip
        for label, command, target in scenarios:
            times, code = time_runs(command, args.runs, tmp_path)
            ok = report(label, times, code, target)
            if command[-1] == "pr.json":
                ok = check_pr_report(tmp_path / "pr.json", args.server) and ok
            if command[-1] == "main.json":
                ok = check_pr_report(tmp_path / "main.json", args.main_server) and ok
            results.append(ok)
            if not ok or args.importtime:
                slowest_imports(command, tmp_path)
    print("overall:", "PASS" if all(results) else "FAIL")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
