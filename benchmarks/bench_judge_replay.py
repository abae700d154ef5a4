"""How many judge servers the recorded-judge replay (issue 20) can answer, and how long it takes.

Static part (no Docker): for the nemo-gym 0.4.0 wheel's servers and for a NeMo Gym git tree at a commit
(default: the bare mirror's main, 07d6b0d), every server whose configs name a judge model, and for each the
rows of its data/example_rollouts.jsonl (what the sandbox replays) by the recording layout the replay reads from them
(gym_review_bot/sandbox/_recorded_judge.py), placeholder rows, and rows with none. A server is:
  * `replayable`   - some row holds a judge recording the replay answers from;
  * `judge unused` - every row records that the judge was not called (e.g. `judge_evaluations: null`): the
                     rollouts replay with no model;
  * `placeholder`  - its rollouts are placeholder rows (not JSON, `<PLACEHOLDER ROW>`), or absent;
  * `no recording` - its rows hold no judge request or output the replay can answer from.
Target (issue 20): on NeMo Gym main, at least 22 judge servers have a layout the replay understands.

Docker part (--docker): the sandbox run of the three servers the Docker tests use (equivalence_llm_judge,
xstest, simpleqa; the wheel's files, nemo-gym==0.4.0), printing the replay time and how each rollout was
replayed.

Coverage part (--coverage): the sandbox run of the wheel's 11 servers whose rollouts carry `judge_evaluations`;
each that boots should get a complete GR203 (pass or fail, not `error`).

Run: python benchmarks/bench_judge_replay.py [--repo PATH] [--commit REV] [--docker] [--coverage] [--list]
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gym_review_bot.sandbox import _recorded_judge  # noqa: E402

MIRROR = Path("/work/.mirror/NVIDIA-NeMo+Gym/repo")
MAIN = "07d6b0d"
TARGET_MAIN = 22
DOCKER_SERVERS = ("equivalence_llm_judge", "xstest", "simpleqa")
# The wheel's servers whose rollouts carry `judge_evaluations` (issue 20's list): --coverage runs each.
EVALUATIONS_SERVERS = (
    "equivalence_llm_judge",
    "math_with_judge",
    "math_with_autograder",
    "physics_judge",
    "ugphysics_judge",
    "polymath",
    "xstest",
    "text_to_sql",
    "terminus_judge",
    "ns_tools",
    "labbench2_vlm",
)
MODEL_TYPES = ("responses_api_models", "resources_servers")


# --- reading a tree: the wheel's directory, or a git commit -------------------------------------------------


class DirFiles:
    def __init__(self, root: Path):
        self.root = root

    def servers(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for server in sorted((self.root / "resources_servers").iterdir()):
            if server.is_dir():
                found[server.name] = [str(p.relative_to(server)) for p in server.rglob("*") if p.is_file()]
        return found

    def read(self, server: str, rel: str) -> bytes | None:
        path = self.root / "resources_servers" / server / rel
        return path.read_bytes() if path.is_file() else None


class GitFiles:
    def __init__(self, repo: Path, commit: str):
        self.repo, self.commit = repo, commit

    def servers(self) -> dict[str, list[str]]:
        listed = subprocess.run(
            ["git", "-C", str(self.repo), "ls-tree", "-r", "--name-only", self.commit, "resources_servers/"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split("\n")
        found: dict[str, list[str]] = collections.defaultdict(list)
        for path in listed:
            parts = path.split("/", 2)
            if len(parts) == 3:
                found[parts[1]].append(parts[2])
        return dict(found)

    def read(self, server: str, rel: str) -> bytes | None:
        done = subprocess.run(
            ["git", "-C", str(self.repo), "show", f"{self.commit}:resources_servers/{server}/{rel}"],
            capture_output=True,
        )
        return done.stdout if done.returncode == 0 else None  # files of 4 MiB and more are absent from the mirror


# --- classifying ---------------------------------------------------------------------------------------------


def names_a_judge(value: object, key: str = "") -> bool:
    """A config names a judge model: a `*judge*` key referencing a model server, or naming a judge model."""
    lowered = key.lower()
    if isinstance(value, dict):
        if "judge" in lowered and value.get("type") in MODEL_TYPES and value.get("name"):
            return True
        return any(names_a_judge(v, str(k)) for k, v in value.items())
    if isinstance(value, list):
        return any(names_a_judge(v, key) for v in value)
    return "judge" in lowered and "model" in lowered and isinstance(value, str) and bool(value.strip())


def is_judge_server(files: DirFiles | GitFiles, server: str, paths: list[str]) -> bool:
    for rel in paths:
        if rel.startswith("configs/") and rel.endswith((".yaml", ".yml")):
            try:
                if names_a_judge(yaml.safe_load(files.read(server, rel) or b"")):
                    return True
            except yaml.YAMLError:
                continue
    return False


# NeMo Gym's judge servers set `judge_evaluations` to null when verify() did not call the judge (a library check
# settled the reward). Other keys' nulls are not read so: gdpval's null `judge_response` is an invalid answer.
NULL_KEYS = ("judge_evaluations",)
ROLLOUTS = "data/example_rollouts.jsonl"  # what the sandbox replays


def classify(files: DirFiles | GitFiles, server: str, paths: list[str]) -> tuple[str, collections.Counter]:
    """(class, row counts by layout) of a server's stored rollouts."""
    counts: collections.Counter = collections.Counter()
    for rel in [p for p in paths if p == ROLLOUTS]:
        data = files.read(server, rel)
        if data is None:
            counts["absent file"] += 1
            continue
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                counts["placeholder"] += 1
                continue
            recording = _recorded_judge.recording_of(row)
            if recording is not None:
                counts[recording["layout"]] += 1
            elif isinstance(row, dict) and any(k in row and row[k] is None for k in NULL_KEYS):
                counts["judge not called"] += 1
            else:
                counts["none"] += 1
    layouts = [k for k in counts if k in _recorded_judge.LAYOUT_NAMES or k in _recorded_judge.OUTPUT_TEXT_KEYS]
    layouts += [k for k in counts if k == "judge_response"]
    if layouts:
        return "replayable", counts
    if counts["judge not called"] and not counts["none"]:
        return "judge unused", counts
    if not counts or set(counts) <= {"placeholder", "absent file"}:
        return "placeholder", counts
    return "no recording", counts


def static_report(label: str, files: DirFiles | GitFiles, listing: bool, target: int | None) -> None:
    servers = files.servers()
    judges = [s for s, paths in servers.items() if is_judge_server(files, s, paths)]
    classes: dict[str, list[str]] = collections.defaultdict(list)
    print(f"\n== {label}: {len(servers)} servers, {len(judges)} name a judge model in their configs")
    for server in judges:
        klass, counts = classify(files, server, servers[server])
        classes[klass].append(server)
        if listing:
            shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no rollouts file"
            print(f"  {server:40} {klass:13} {shown}")
    for klass in ("replayable", "judge unused", "placeholder", "no recording"):
        print(f"  {klass:13} {len(classes[klass]):3}: {', '.join(sorted(classes[klass]))}")
    understood = len(classes["replayable"]) + len(classes["judge unused"])
    verdict = ""
    if target is not None:
        verdict = f" (target >= {target}: {'PASS' if understood >= target else 'FAIL'})"
    print(f"  a layout the replay understands: {understood} of {len(judges)}{verdict}")


# --- Docker --------------------------------------------------------------------------------------------------


def docker_report(names: tuple[str, ...], title: str) -> None:
    from gym_review_bot.sandbox.options import SandboxOptions
    from gym_review_bot.sandbox.runner import run_sandbox
    from tests.corpus import wheel_path
    from tests.docker_support import base_image, ca_bundle
    from tests.sandbox.conftest import NEMO_GYM_REQUIREMENT, make_git_tree, server_files, wheel_server

    options = SandboxOptions(base_image=base_image(), ca_bundle=ca_bundle(), boot_timeout=180, request_timeout=30)
    print(f"\n== {title} (the wheel's files, nemo-gym==0.4.0)")
    for name in names:
        files = wheel_server(wheel_path(), name)
        # Outside NeMo Gym's tree `-e nemo-gym[dev] @ ../../` is no checkout: the released nemo-gym instead, the
        # server's other requirements kept (math-verify, datasets, ...).
        lines = files.get("requirements.txt", b"").decode().splitlines()
        kept = [line for line in lines if not line.strip().startswith("-e nemo-gym")]
        files["requirements.txt"] = (NEMO_GYM_REQUIREMENT + "".join(f"{line}\n" for line in kept)).encode()
        with tempfile.TemporaryDirectory() as tmp:
            tree = make_git_tree(Path(tmp) / "repo", server_files(name, files))
            start = time.monotonic()
            result = run_sandbox(tree, name, options)
            took = time.monotonic() - start
        found = {f.id: f for f in result.findings}
        r, t = result.replay, result.timings
        how = (
            f"{r.rollouts} rollouts: {r.recorded_judge} recorded judge, {r.no_model} no model, "
            f"{r.judge_prompt_changed} prompt changed, {r.not_replayable} not replayable"
            if r
            else "not replayed"
        )
        print(
            f"  {name:24} replay (both passes) {t.replay_s} s, boot {t.boot_s} s, whole run {took:.1f} s; "
            f"GR202 {found['GR202'].status}, GR203 {found['GR203'].status}; {how}"
        )
        failed = next((found[c] for c in ("GR201", "GR202", "GR203") if found[c].status in ("fail", "error")), None)
        if failed is not None:
            print("    " + failed.message.split("\nHow to fix")[0].replace("\n", "\n    ")[:600])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=MIRROR, help="a NeMo Gym git repository (bare is fine)")
    parser.add_argument("--commit", default=MAIN)
    parser.add_argument("--docker", action="store_true", help="also time the sandbox replay of three servers")
    parser.add_argument("--coverage", action="store_true", help="run the sandbox on the 11 judge_evaluations servers")
    parser.add_argument("--only", nargs="*", default=None, help="with --coverage: these servers only")
    parser.add_argument("--list", action="store_true", help="one line per judge server")
    args = parser.parse_args()
    from tests.corpus import corpus_root

    static_report("nemo-gym 0.4.0 wheel", DirFiles(corpus_root()), args.list, None)
    if args.repo.exists():
        target = TARGET_MAIN if args.commit == MAIN else None
        static_report(f"NeMo Gym {args.commit}", GitFiles(args.repo, args.commit), args.list, target)
    else:
        print(f"\n(no NeMo Gym repository at {args.repo}: --repo PATH)")
    if args.docker:
        docker_report(DOCKER_SERVERS, "replay time in the sandbox")
    if args.coverage:
        names = tuple(n for n in EVALUATIONS_SERVERS if args.only is None or n in args.only)
        docker_report(names, "GR203 of the wheel's judge_evaluations servers")


if __name__ == "__main__":
    main()
