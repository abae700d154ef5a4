"""Registry audit figures: the static audit of NeMo Gym's main tree, and the sandbox audit of wheel servers.

Usage:
  python benchmarks/bench_audit.py static [--runs 3]     # `audit --no-docker` over the fetched main tree (114 servers)
  python benchmarks/bench_audit.py sandbox [--servers N]  # `audit --docker` over the wheel's servers, then a resume

`static` needs the NeMo Gym mirror (/work/.mirror/NVIDIA-NeMo+Gym/repo, or $GYM_MIRROR); it checks out main into
a temp dir. `sandbox` needs a Docker daemon, the base image ($GYM_REVIEW_BASE_IMAGE, default gym-review-base:trixie)
and the nemo-gym 0.4.0 wheel (tests/corpus.py downloads it); the servers' requirement is pinned to
nemo-gym==0.4.0, so they share one dependency image (warm after the first build). It prints per-server times,
the resume hit rate after one server changed, and the wall time projected for 114 servers over 16 and 64 shards.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from corpus import corpus_root  # noqa: E402  (the tests' cached download of the nemo-gym wheel)

MIRROR = Path(os.environ.get("GYM_MIRROR", "/work/.mirror/NVIDIA-NeMo+Gym/repo"))
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Wheel servers whose only requirement is nemo-gym itself (pinned to 0.4.0 here) and that boot in the sandbox.
SERVERS = (
    "example_single_tool_call",
    "equivalence_rule",
    "format_verification",
    "circle_count",
    "example_tool_call_multireward",
    "example_multi_step",
    "example_session_state_mgmt",
    "single_step_tool_use_with_argument_comparison",
)
REGISTRY_SERVERS = 114  # NeMo Gym main at 07d6b0d
SHARD_OVERHEAD_S = 90  # a fresh runner: checkout, installing the bot, pulling the base image (not measured here)
GIT = ["git", "-c", "user.name=b", "-c", "user.email=b@b", "-c", "commit.gpgsign=false"]


def audit(repo: Path, out: Path, *args: str) -> tuple[float, dict]:
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "audit", "--repo", str(repo), "--json", str(out), "--quiet", *args],
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - start, json.loads(out.read_text())


def checkout_main(tmp: Path) -> Path:
    repo = tmp / "gym"
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(MIRROR), str(repo)], check=True)
    # Files of 4 MiB and more are absent from the mirror: git says so and checks out the rest.
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=repo, capture_output=True)
    return repo


def static(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = checkout_main(Path(tmp))
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
        walls, report = [], {}
        for n in range(runs):
            wall, report = audit(repo, Path(tmp) / f"audit{n}.json", "--no-docker")
            walls.append(wall)
        resumed, again = audit(
            repo, Path(tmp) / "resumed.json", "--no-docker", "--previous", str(Path(tmp) / "audit0.json")
        )
    s, r = report["summary"], again["summary"]
    print(
        f"NeMo Gym main {head.stdout.strip()}: {s['servers']} servers "
        f"({s['passed']} pass, {s['failed']} fail, {s['not_judged']} not judged)"
    )
    print(
        f"audit --no-docker, wall: median {statistics.median(walls):.1f} s of {runs} runs "
        f"(min {min(walls):.1f}, max {max(walls):.1f}); target < 15 s"
    )
    print(f"resumed from that report: {resumed:.1f} s ({r['carried']} of {r['servers']} carried over)")


def registry(tmp: Path, names: tuple[str, ...]) -> Path:
    unpacked = corpus_root()
    repo = tmp / "registry"
    shutil.copytree(unpacked / "nemo_gym", repo / "nemo_gym")
    for name in names:
        shutil.copytree(
            unpacked / "resources_servers" / name,
            repo / "resources_servers" / name,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        (repo / "resources_servers" / name / "requirements.txt").write_text("nemo-gym==0.4.0\n")
    subprocess.run([*GIT, "init", "-q", "-b", "main"], cwd=repo, check=True)
    commit(repo, "registry")
    return repo


def commit(repo: Path, message: str) -> None:
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", message], cwd=repo, check=True)


def sandbox(count: int, cold_build_s: float, jobs: int) -> None:
    names = SERVERS[:count]
    flags = ["--docker", "--base-image", os.environ.get("GYM_REVIEW_BASE_IMAGE") or "gym-review-base:trixie"]
    flags += ["--ca-bundle", str(CA_BUNDLE)] if CA_BUNDLE.is_file() else []
    with tempfile.TemporaryDirectory() as tmp:
        repo = registry(Path(tmp), names)
        first_wall, first = audit(repo, Path(tmp) / "first.json", *flags, "--jobs", str(jobs))
        readme = repo / "resources_servers" / names[0] / "README.md"
        readme.write_text(readme.read_text() + "\nOne more line.\n")
        commit(repo, f"{names[0]}: README")
        second_wall, second = audit(
            repo, Path(tmp) / "second.json", *flags, "--previous", str(Path(tmp) / "first.json")
        )
    runs = [s["wall_s"] for s in first["servers"]]
    total = sum(s["wall_s"] for s in first["servers"])
    print(
        f"{len(names)} wheel servers, first audit (dependency image warm, --jobs {jobs}): wall {first_wall:.1f} s "
        f"for {total:.1f} s of server audits"
    )
    for s in first["servers"]:
        t = s["timings"] or {}
        print(
            f"  {s['name']}: {s['verdict']}, {s['wall_s']:.1f} s (build {t.get('build_s')}, boot {t.get('boot_s')}, "
            f"replay {t.get('replay_s')}, tests {t.get('tests_s')}); replay: {s['replay']['mode']}"
        )
    median, longest = statistics.median(runs), max(runs)
    print(f"per server: median {median:.1f} s, max {longest:.1f} s")
    rerun = [s["name"] for s in second["servers"] if not s["carried"]]
    carried = [s for s in second["servers"] if s["carried"]]
    hit = len(carried) / len(second["servers"])
    print(
        f"second audit, {names[0]} changed: wall {second_wall:.1f} s; re-run {rerun}; "
        f"carried {len(carried)} of {len(second['servers'])} (resume hit rate {hit:.0%})"
    )
    check = (second_wall - sum(s["wall_s"] or 0 for s in second["servers"] if not s["carried"])) / max(1, len(carried))
    print(f"  a carried server costs about {check:.1f} s (its dependency image looked up and its packages listed)")
    assert rerun == [names[0]], f"only {names[0]} should have run again, not {rerun}"
    for shards in (16, 64):
        per_shard = math.ceil(REGISTRY_SERVERS / shards)
        warm = per_shard * median
        cold = per_shard * (cold_build_s + median)
        print(
            f"projection, {REGISTRY_SERVERS} servers over {shards} shards ({per_shard} each): "
            f"warm dependency images {warm / 60:.1f} min "
            f"(every server as slow as the slowest: {per_shard * longest / 60:.1f} min); "
            f"fresh runners, one {cold_build_s:.0f} s install per server: {(cold + SHARD_OVERHEAD_S) / 60:.1f} min; "
            f"runner minutes {(REGISTRY_SERVERS * (cold_build_s + median) + shards * SHARD_OVERHEAD_S) / 60:.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("static")
    s.add_argument("--runs", type=int, default=3)
    d = sub.add_parser("sandbox")
    d.add_argument("--servers", type=int, default=len(SERVERS))
    d.add_argument("--jobs", type=int, default=1, help="sandboxes at once in the first audit")
    d.add_argument(
        "--cold-build-s",
        type=float,
        default=135.0,
        help="one dependency install on a fresh runner (docs/sandbox.md: 130-135 s for nemo-gym 0.4.0)",
    )
    args = parser.parse_args()
    if args.what == "static":
        static(args.runs)
    else:
        sandbox(args.servers, args.cold_build_s, args.jobs)


if __name__ == "__main__":
    main()
