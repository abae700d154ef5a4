"""Make docs/audit-dashboard.png: the audit's HTML dashboard after two weekly audits (documented, not run in CI).

Needs a Docker daemon, the base image ($GYM_REVIEW_BASE_IMAGE, default gym-review-base:trixie), the nemo-gym
0.4.0 wheel (tests/corpus.py downloads it) and headless Chromium from Debian (`apt-get install -y chromium`).
Run from the repository root:

    python3 docs/make_audit_png.py              # writes docs/audit-dashboard.png
    python3 docs/make_audit_png.py --keep DIR   # also keeps the registry, both reports and the page

It audits eight of the wheel's servers (pinned to nemo-gym==0.4.0) with the sandbox, then changes two of them
as a registry decays (a stored reward edited, a requirement that no longer installs) and audits again with
`--previous`: the page shows the delta, the carried results and the two newly failing servers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_audit import CA_BUNDLE, SERVERS, commit, registry  # noqa: E402  (the benchmark's registry of wheel servers)


def audit(repo: Path, out: Path, *extra: str) -> None:
    base = os.environ.get("GYM_REVIEW_BASE_IMAGE") or "gym-review-base:trixie"
    ca = ["--ca-bundle", str(CA_BUNDLE)] if CA_BUNDLE.is_file() else []
    command = [sys.executable, "-m", "gym_review_bot", "audit", "--repo", str(repo), "--docker", "--base-image", base]
    subprocess.run([*command, *ca, "--jobs", "2", "--json", str(out), "--quiet", *extra], check=False)


def decay(repo: Path) -> None:
    rollouts = repo / "resources_servers/example_single_tool_call/data/example_rollouts.jsonl"
    lines = rollouts.read_text().splitlines()
    row = json.loads(lines[0])
    row["reward"] = 0.0 if row["reward"] else 1.0
    rollouts.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with open(repo / "resources_servers/format_verification/requirements.txt", "a") as fh:
        fh.write("gym-review-audit-no-such-package==21.0.0\n")
    commit(repo, "a stored reward edited; a requirement that no longer installs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="keep the registry, the reports and the page here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="audit-png-"))
    try:
        repo = registry(work, SERVERS)
        audit(repo, work / "week1.json")
        decay(repo)
        audit(repo, work / "week2.json", "--previous", str(work / "week1.json"), "--html", str(work / "audit.html"))
        shot = ROOT / "docs" / "audit-dashboard.png"
        subprocess.run(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1400,980", f"--screenshot={shot}", (work / "audit.html").as_uri()],
            check=True, capture_output=True,
        )  # fmt: skip
        print(f"wrote {shot}")
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
