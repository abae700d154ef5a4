"""The dependency install, run as `python3 -I install.py` in the build container (standard library only).

Everything the pull request decides is read from files (requirements.txt, plan.json) and handed to pip
as separate arguments: no shell ever sees it.

The root filesystem is read-only: the install writes only to /opt/venv (a tmpfs of a fixed size, where
pip's temporary files and the local packages' build copies go too, under .gym-review-tmp, removed at the
end) and a small /tmp. Writes past --build-disk fail with ENOSPC.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = Path("/opt/venv")
WORK = VENV / ".gym-review-tmp"  # TMPDIR and the local packages' copies: on the same tmpfs as the venv
PIP = [str(VENV / "bin" / "python"), "-m", "pip"]
# PEP 508 extras: `[name, name]`, each name a PEP 508 identifier.
EXTRAS = re.compile(
    r"^\[\s*[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?(\s*,\s*[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?)*\s*\]$"
)


def run(step: str, args: list[str]) -> None:
    print(f"gym-review-build: {step}", flush=True)
    code = subprocess.call(args, stdin=subprocess.DEVNULL)
    if code != 0:
        print(f"gym-review-build: failed: {step} (exit code {code})", flush=True)
        raise SystemExit(code if code > 0 else 1)


def main() -> None:
    plan = json.loads((HERE / "plan.json").read_text(encoding="utf-8"))
    WORK.mkdir(parents=True, exist_ok=True)
    os.environ["TMPDIR"] = str(WORK)
    targets = []
    for local in plan["local"]:
        extras = local["extras"]
        if extras and not EXTRAS.match(extras):
            print(f"gym-review-build: failed: the extras {extras!r} are not PEP 508 names", flush=True)
            raise SystemExit(2)
        marker = local.get("marker") or ""  # checked by packaging in the bot; pip evaluates it
        copy = WORK / local["dir"]  # setuptools builds in the source tree, which is read-only here
        shutil.copytree(HERE / local["dir"], copy, symlinks=True)
        targets.append(str(copy) + extras.replace(" ", "") + (f" ; {marker}" if marker else ""))
    run("create the virtualenv", [sys.executable, "-m", "venv", str(VENV)])
    requirements = HERE / "requirements.txt"
    if requirements.read_text(encoding="utf-8").strip():
        run("install requirements.txt", [*PIP, "install", "-r", str(requirements)])
    if targets:
        run("install the checkout's packages", [*PIP, "install", *targets])
    # nemo-gym[dev] brings the test tools a server's tests are written for; plain nemo-gym does not.
    if subprocess.call([str(VENV / "bin" / "python"), "-c", "import pytest"], stderr=subprocess.DEVNULL) != 0:
        run("install the test tools", [*PIP, "install", *plan["test_tools"]])
    shutil.rmtree(WORK, ignore_errors=True)
    print("gym-review-build: done", flush=True)


if __name__ == "__main__":
    main()
