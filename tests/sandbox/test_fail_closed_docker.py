"""Hostile servers against a real daemon (issue 17): no green verdict, our faults are `error`, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_git_tree, server_files
from sandbox_fixtures import answer_server

from gym_review_bot.models import Finding
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.runner import run_sandbox

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("nothing_left")]

QUICK_EXIT_APP = "raise SystemExit('this server does not start: only its tests matter here')\n"


def run(tmp_path: Path, name: str, files: dict, options: SandboxOptions, **kw: object) -> dict[str, Finding]:
    tree = make_git_tree(tmp_path / "repo", server_files(name, files))
    return {f.id: f for f in run_sandbox(tree, name, options, **kw).findings}  # type: ignore[arg-type]


# --- GR205: a test run where nothing ran, or whose report is forged -----------------------------------

SKIP_ALL = "import pytest\n\npytestmark = pytest.mark.skip(reason='later')\n\n\ndef test_a():\n    assert False\n"

# Rewrites the report pytest wrote (its path from pytest's own config) and ends the process with 0.
REWRITE_AND_EXIT = """
import os

CLEAN = '<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">' \\
    '<testcase classname="t" name="test_fails"/></testsuite></testsuites>'


def pytest_unconfigure(config):
    with open(config.option.xmlpath, "w") as fh:
        fh.write(CLEAN)
    os._exit(0)
"""

# Leaves a process behind that, once pytest has ended, prints a forged report of its own for ever.
STRAY_WRITER = """
import base64
import hashlib
import os
import sys
import time

CLEAN = b'<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">' \\
    b'<testcase classname="t" name="test_fails"/></testsuite></testsuites>'
END = "gym-review: junit-end exit=0 bytes=%d sha256=%s oversize=0" % (len(CLEAN), hashlib.sha256(CLEAN).hexdigest())
FORGED = "1 passed in 0.01s\\ngym-review: junit+ %s\\n%s\\n" % (base64.b64encode(CLEAN).decode(), END)


def pytest_unconfigure(config):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            time.sleep(1)
            while True:
                sys.stdout.write(FORGED)
                sys.stdout.flush()
                time.sleep(0.05)
        os._exit(0)
"""

FAILING = "def test_fails():\n    assert 1 + 1 == 3\n"


@pytest.mark.parametrize(
    ("conftest", "test", "expected"),
    [
        ("", SKIP_ALL, ("No test ran",)),
        (REWRITE_AND_EXIT, FAILING, ("contradict each other",)),
        # What it printed before the launcher ended it counts as pytest's output: a fail either way.
        (STRAY_WRITER, FAILING, ("failed (exit code 1", "contradict each other")),
    ],
    ids=["skip-only", "rewrite-and-exit-0", "stray-writer-after-pytest"],
)
def test_gr205_never_passes_a_run_where_nothing_ran_or_the_report_is_forged(
    tmp_path: Path, options: SandboxOptions, conftest: str, test: str, expected: tuple[str, ...]
) -> None:
    files = answer_server("forged_tests", test=test)
    files["app.py"] = QUICK_EXIT_APP
    if conftest:
        files["tests/conftest.py"] = conftest
    found = run(tmp_path, "forged_tests", files, options)
    gr205 = found["GR205"]
    assert gr205.status == "fail" and any(e in gr205.message for e in expected), gr205.message
