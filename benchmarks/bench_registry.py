"""Replay real merged NeMo Gym PRs through `gym-review check` and score every check against an answer key.

The PRs, and what each check should say about each of their servers, are in
benchmarks/registry_corpus.yaml: an answer key written by reading the files (see docs/corpus.md), never
a snapshot of the tool. Each PR is rebuilt from NeMo Gym's git mirror as base = the squash commit's
parent and head = the squash commit, and reviewed twice with `--no-docker`:

  * defaults:  the commits as they are (no .gym-review.yaml: the bot's defaults);
  * nemo_gym:  docs/nemo-gym.gym-review.yaml committed into the base as .gym-review.yaml (base' = the
               parent's tree plus the file, head' = the squash commit's tree plus the file, child of base',
               with the squash commit's author, committer and message, so GR120 judges the same commit).

Commits are made in a throwaway `git clone --shared --no-checkout` of the mirror (nothing is checked
out, no NeMo Gym file is written anywhere). The key's `dco_branches` are PR branches the mirror still
has: their own commits are replayed the same way, with the config, to judge GR120 on them.

Per check it prints: how often the key expects a failure, how often the tool reports one, agreement,
false alarms (the tool fails or errors where the key says pass, skip or pre-existing), misses (the key
says fail and the tool does not), other disagreements (e.g. pass for skip), then totals and the median
and maximum seconds per PR. --list prints every false alarm and miss with the key's reason.

Run: python benchmarks/bench_registry.py [--mirror DIR] [--only PR,...] [--config defaults|nemo_gym]
     [--list] [--keep DIR] [--strict]
The mirror defaults to $GYM_REVIEW_NEMO_GYM_MIRROR, else /work/.mirror/NVIDIA-NeMo+Gym/repo (brought by
`fetch github:NVIDIA-NeMo/Gym`); without it the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
KEY_FILE = ROOT / "benchmarks" / "registry_corpus.yaml"
NEMO_CONFIG = ROOT / "docs" / "nemo-gym.gym-review.yaml"
MIRROR_ENV = "GYM_REVIEW_NEMO_GYM_MIRROR"
DEFAULT_MIRROR = Path("/work/.mirror/NVIDIA-NeMo+Gym/repo")
CONFIGS = ("defaults", "nemo_gym")
KEY_STATUSES = ("pass", "fail", "skip", "pre_existing")
PR_SCOPE = ("GR120",)
TOOL_TIMEOUT_S = 300
BENCH_IDENTITY = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_AUTHOR_DATE": "1700000000 +0000",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_DATE": "1700000000 +0000",
}
# The order in which a tool outcome is "worse": several findings for one check (GR120 per server) fold into one.
SEVERITY_ORDER = ("skip", "pass", "pre_existing", "waived", "other", "fail", "error")


class BenchError(Exception):
    """The bench cannot run (no mirror, bad key): one line, exit 2."""


# -- the answer key -----------------------------------------------------------------------------------


def load_key(path: Path) -> dict:
    try:
        key = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BenchError(f"cannot read the answer key {path}: {exc}") from exc
    if not isinstance(key, dict) or not isinstance(key.get("prs"), list):
        raise BenchError(f"{path}: not an answer key (no `prs` list)")
    return key


def expected(entry: dict, config: str) -> dict[str, list]:
    """A server's (or the PR scope's) expectations under one configuration: `expect`, then `nemo_gym` over it."""
    merged = dict(entry.get("expect") or {})
    if config == "nemo_gym":
        merged.update(entry.get("nemo_gym") or {})
    return merged


# -- git: the throwaway clone and the commits with the config -------------------------------------------


def git(repo: Path, *args: str, env: dict | None = None, stdin: str | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        input=stdin,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args[:3])} failed: {done.stderr.strip()[:300]}")
    return done.stdout


def find_mirror(given: str | None) -> Path:
    path = Path(given or os.environ.get(MIRROR_ENV) or DEFAULT_MIRROR)
    probe = subprocess.run(["git", "-C", str(path), "rev-parse", "--git-dir"], capture_output=True, text=True)
    if not path.is_dir() or probe.returncode != 0:
        raise BenchError(
            f"NeMo Gym's git mirror is not at {path}: bring it with `fetch github:NVIDIA-NeMo/Gym`, or point "
            f"--mirror (or ${MIRROR_ENV}) at a clone with full history. Nothing was measured."
        )
    return path


def make_clone(mirror: Path, into: Path) -> Path:
    """A clone sharing the mirror's objects, with a work tree `gym-review` accepts but nothing checked out."""
    clone = into / "gym"
    done = subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", "--shared", str(mirror), str(clone)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BenchError(f"cannot clone {mirror}: {done.stderr.strip()[:300]}")
    git(clone, "config", "gc.auto", "0")
    return clone


def has_commit(repo: Path, sha: str) -> bool:
    done = subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{sha}^{{commit}}"], capture_output=True)
    return done.returncode == 0


def identity_of(repo: Path, sha: str) -> tuple[dict, str]:
    """The author, committer (with dates) and message of a commit, to make its twin with another tree."""
    raw = git(repo, "cat-file", "commit", sha)
    header, _, message = raw.partition("\n\n")
    env = {}
    for line in header.splitlines():
        role, _, value = line.partition(" ")
        if role in ("author", "committer"):
            who, _, when = value.rpartition("> ")
            name, _, email = who.partition(" <")
            prefix = "GIT_AUTHOR" if role == "author" else "GIT_COMMITTER"
            env.update({f"{prefix}_NAME": name, f"{prefix}_EMAIL": email, f"{prefix}_DATE": when})
    return env, message


class ConfigCommits:
    """Commits that carry docs/nemo-gym.gym-review.yaml as .gym-review.yaml, built with a private index."""

    def __init__(self, repo: Path, config: Path, scratch: Path):
        self.repo = repo
        self.blob = git(repo, "hash-object", "-w", "--stdin", stdin=config.read_text(encoding="utf-8")).strip()
        self.index_env = {"GIT_INDEX_FILE": str(scratch / "bench-index")}
        self._trees: dict[str, str] = {}

    def tree_with_config(self, commit: str) -> str:
        if commit not in self._trees:
            git(self.repo, "read-tree", f"{commit}^{{tree}}", env=self.index_env)
            git(
                self.repo,
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{self.blob},.gym-review.yaml",
                env=self.index_env,
            )
            self._trees[commit] = git(self.repo, "write-tree", env=self.index_env).strip()
        return self._trees[commit]

    def twin(self, commit: str, parents: list[str], like: str | None) -> str:
        """commit's tree plus the config, on `parents`, as `like` (author, committer, message) or as the bench."""
        env, message = identity_of(self.repo, like) if like else (BENCH_IDENTITY, "bench: .gym-review.yaml\n")
        args = ["commit-tree", self.tree_with_config(commit)]
        for parent in parents:
            args += ["-p", parent]
        return git(self.repo, *args, env=env, stdin=message).strip()

    def squash_pair(self, parent: str, squash: str) -> tuple[str, str]:
        base = self.twin(parent, [parent], None)
        return base, self.twin(squash, [base], squash)

    def branch_pair(self, base: str, head: str) -> tuple[str, str]:
        """base' on base, and every commit of base..head replayed on it (merges keep their outside parents)."""
        new_base = self.twin(base, [base], None)
        mapped = {base: new_base}
        for line in git(
            self.repo, "rev-list", "--reverse", "--topo-order", "--parents", f"{base}..{head}"
        ).splitlines():
            commit, *parents = line.split()
            mapped[commit] = self.twin(commit, [mapped.get(p, p) for p in parents], commit)
        return new_base, mapped[head]


# -- running the tool and reading its report -------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    exit_code: int
    servers: dict[str, dict] = field(default_factory=dict)  # name -> {"status": ..., "checks": {id: outcome}}
    pr: dict[str, str] = field(default_factory=dict)  # PR-scope id -> outcome
    messages: dict[tuple[str, str], str] = field(default_factory=dict)
    problem: str | None = None  # why there is no report


def run_tool(repo: Path, base: str, head: str, out: Path) -> Run:
    command = [sys.executable, "-m", "gym_review_bot", "check", "--repo", str(repo), "--base", base, "--head", head]
    command += ["--no-docker", "--quiet", "--json", str(out)]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return Run(time.perf_counter() - start, -1, problem=f"timed out after {TOOL_TIMEOUT_S} s")
    run = Run(time.perf_counter() - start, done.returncode)
    try:
        report = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        run.problem = f"no JSON report (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-300:]}"
        return run
    read_report(report, run)
    return run


def outcome_of(finding: dict) -> str:
    status = finding.get("status")
    if status == "fail":
        if finding.get("waived"):
            return "waived"
        return "pre_existing" if finding.get("pre_existing") else "fail"
    return status if status in ("pass", "skip", "error") else "other"


def worse(a: str | None, b: str) -> str:
    if a is None:
        return b
    return a if SEVERITY_ORDER.index(a) >= SEVERITY_ORDER.index(b) else b


def read_report(report: dict, run: Run) -> None:
    """Fold the report (schema 1, extra fields ignored) into per-server and PR-scope outcomes."""
    for server in report.get("servers") or []:
        if not isinstance(server, dict) or not isinstance(server.get("name"), str):
            continue
        checks: dict[str, str] = {}
        for finding in server.get("findings") or []:
            cid = finding.get("id") if isinstance(finding, dict) else None
            if not isinstance(cid, str):
                continue
            outcome = outcome_of(finding)
            if cid in PR_SCOPE:  # reported per server by older versions: judged once per PR here
                run.pr[cid] = worse(run.pr.get(cid), outcome)
            else:
                checks[cid] = worse(checks.get(cid), outcome)
            if outcome in ("fail", "error", "pre_existing"):
                run.messages[(server["name"], cid)] = str(finding.get("message") or "")[:300]
        run.servers[server["name"]] = {"status": server.get("status"), "checks": checks}
    pr_part = report.get("pr") if isinstance(report.get("pr"), dict) else {}
    for finding in pr_part.get("findings") or []:
        cid = finding.get("id") if isinstance(finding, dict) else None
        if cid in PR_SCOPE:
            run.pr[cid] = worse(run.pr.get(cid), outcome_of(finding))
            if outcome_of(finding) in ("fail", "error"):
                run.messages[("(PR)", cid)] = str(finding.get("message") or "")[:300]


# -- scoring -------------------------------------------------------------------------------------------


def judge(expect: str, got: str | None) -> str:
    """agree | false_alarm | miss | other."""
    got = got or "absent"
    if got == expect:
        return "agree"
    if got in ("fail", "error") and expect in ("pass", "skip", "pre_existing"):
        return "false_alarm"
    if got == "pre_existing" and expect in ("pass", "skip"):
        return "false_alarm"
    if expect == "fail" or (expect == "pre_existing" and got in ("pass", "skip", "absent")):
        return "miss"
    return "other"


@dataclass
class Tally:
    rows: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    findings: list[tuple] = field(default_factory=list)  # (kind, pr, server, check, got, reason, message)
    seconds: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, pr: int, server: str, cid: str, want: list, got: str | None, message: str) -> None:
        verdict = judge(want[0], got)
        row = self.rows[cid]
        row["key_fail"] += want[0] == "fail"
        row["tool_fail"] += got in ("fail", "error")
        row[verdict] += 1
        if verdict in ("false_alarm", "miss"):
            self.findings.append((verdict, pr, server, cid, got or "absent", want[1] if len(want) > 1 else "", message))


def score_pr(pr: dict, config: str, run: Run, tally: Tally) -> None:
    number = pr["pr"]
    if run.problem:
        tally.notes.append(f"#{number}: {run.problem}")
    for name, entry in (pr.get("servers") or {}).items():
        got = run.servers.get(name)
        if got is None and not run.problem:
            tally.notes.append(f"#{number} {name}: not in the tool's report (key: {entry.get('status')})")
        elif got is not None and got.get("status") != entry.get("status"):
            was = f", renamed from {entry['renamed_from']}" if entry.get("renamed_from") else ""
            tally.notes.append(f"#{number} {name}: tool says {got.get('status')}, key says {entry.get('status')}{was}")
        checks = (got or {}).get("checks", {})
        for cid, want in sorted(expected(entry, config).items()):
            tally.add(number, name, cid, want, checks.get(cid), run.messages.get((name, cid), ""))
    for name, got in run.servers.items():
        if name not in (pr.get("servers") or {}) and got.get("status") != "removed":
            failing = sorted(c for c, o in got["checks"].items() if o in ("fail", "error"))
            tally.notes.append(
                f"#{number} {name}: reported as {got.get('status')} but not a server the key reviews"
                + (f" (failing: {', '.join(failing)})" if failing else "")
            )
    for cid, want in sorted(expected(pr.get("pr_scope") or {}, config).items()):
        tally.add(number, "(PR)", cid, want, run.pr.get(cid), run.messages.get(("(PR)", cid), ""))


# -- output --------------------------------------------------------------------------------------------


COLUMNS = ("key_fail", "tool_fail", "agree", "false_alarm", "miss", "other")


def print_table(title: str, tally: Tally, show_list: bool) -> None:
    print(f"\n== {title}")
    print(f"{'check':<7}" + "".join(f"{c:>13}" for c in COLUMNS))
    total: Counter = Counter()
    for cid in sorted(tally.rows):
        row = tally.rows[cid]
        total.update(row)
        print(f"{cid:<7}" + "".join(f"{row[c]:>13}" for c in COLUMNS))
    print(f"{'total':<7}" + "".join(f"{total[c]:>13}" for c in COLUMNS))
    if tally.seconds:
        print(
            f"seconds per PR: median {statistics.median(tally.seconds):.2f}, max {max(tally.seconds):.2f} "
            f"({len(tally.seconds)} runs)"
        )
    for note in tally.notes:
        print(f"note: {note}")
    if show_list:
        for kind, pr, server, cid, got, reason, message in sorted(tally.findings, key=lambda f: (f[3], f[0], f[1])):
            label = "FALSE ALARM" if kind == "false_alarm" else "MISS"
            print(
                f"{label:<11} {cid} #{pr} {server}: tool {got}"
                + (f" ({message.splitlines()[0][:160]})" if message else "")
            )
            print(f"{'':<11} key: {reason}")
    elif tally.findings:
        print(f"({len(tally.findings)} false alarms and misses: --list shows each with the key's reason)")


# -- main ----------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", help=f"NeMo Gym's git mirror (default ${MIRROR_ENV}, else {DEFAULT_MIRROR})")
    parser.add_argument("--key", default=str(KEY_FILE), help="the answer key (default: %(default)s)")
    parser.add_argument("--only", help="comma-separated PR numbers")
    parser.add_argument("--config", choices=CONFIGS, help="run one configuration only")
    parser.add_argument("--no-branches", action="store_true", help="skip the PR-branch DCO section")
    parser.add_argument("--list", action="store_true", help="print every false alarm and miss")
    parser.add_argument("--keep", help="keep each JSON report in this directory")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any false alarm or miss is found")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        mirror = find_mirror(args.mirror)
        key = load_key(Path(args.key))
        return run_bench(mirror, key, args)
    except BenchError as exc:
        print(f"bench_registry: {exc}", file=sys.stderr)
        return 2


def run_bench(mirror: Path, key: dict, args: argparse.Namespace) -> int:
    only = {int(n) for n in args.only.split(",")} if args.only else None
    prs = [pr for pr in key["prs"] if only is None or pr["pr"] in only]
    configs = (args.config,) if args.config else CONFIGS
    keep = Path(args.keep) if args.keep else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    try:
        clone = make_clone(mirror, scratch)
        with_config = ConfigCommits(clone, NEMO_CONFIG, scratch)
        tallies = {config: Tally() for config in configs}
        missing = [pr["pr"] for pr in prs if not (has_commit(clone, pr["squash"]) and has_commit(clone, pr["parent"]))]
        print(f"mirror {mirror}: {len(prs)} PRs in the key" + (f", not in the mirror: {missing}" if missing else ""))
        for pr in prs:
            if pr["pr"] in missing:
                continue
            for config in configs:
                base, head = pr["parent"], pr["squash"]
                if config == "nemo_gym":
                    base, head = with_config.squash_pair(base, head)
                out = (keep or scratch) / f"{pr['pr']}-{config}.json"
                run = run_tool(clone, base, head, out)
                tallies[config].seconds.append(run.seconds)
                score_pr(pr, config, run, tallies[config])
        for config in configs:
            print_table(
                f"{config}: {len(prs) - len(missing)} merged PRs, parent -> squash commit", tallies[config], args.list
            )
        branch_findings = 0
        if not args.no_branches and "nemo_gym" in configs:
            branch_findings = run_branches(clone, with_config, key, only, scratch, keep, args.list)
        found = sum(len(t.findings) for t in tallies.values()) + branch_findings
        return 1 if args.strict and found else 0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_branches(clone: Path, with_config: ConfigCommits, key: dict, only, scratch: Path, keep, show: bool) -> int:
    """GR120 on PR branches the mirror still has: their own commits, the DCO App's rules, config in the base."""
    tally = Tally()
    for branch in key.get("dco_branches") or []:
        if only is not None and branch["pr"] not in only:
            continue
        if not (has_commit(clone, branch["base"]) and has_commit(clone, branch["head"])):
            tally.notes.append(f"#{branch['pr']} {branch['branch']}: commits not in the mirror")
            continue
        base, head = with_config.branch_pair(branch["base"], branch["head"])
        out = (keep or scratch) / f"{branch['pr']}-branch.json"
        run = run_tool(clone, base, head, out)
        tally.seconds.append(run.seconds)
        if run.problem:
            tally.notes.append(f"#{branch['pr']}: {run.problem}")
        for cid, want in sorted(expected(branch, "nemo_gym").items()):
            tally.add(
                branch["pr"],
                f"branch {branch['branch']}",
                cid,
                want,
                run.pr.get(cid),
                run.messages.get(("(PR)", cid), ""),
            )
    if tally.rows:
        print_table("nemo_gym, PR branches: GR120 on each branch's own commits", tally, show)
    return len(tally.findings)


if __name__ == "__main__":
    sys.exit(main())
