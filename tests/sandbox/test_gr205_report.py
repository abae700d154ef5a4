"""GR205 on real pytest runs: the launcher's report (a FIFO under a random path, printed last) and the verdict on it.

These run the shipped launcher's test mode on this machine, as the tests container runs it (pytest in a
child, its junit report read from the FIFO while it runs), on test suites that pass, skip, xfail, fail
or forge their report; the verdict is the bot's, from the output the launcher printed.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from gym_review_bot.sandbox import testrun

LAUNCHER = str(resources.files("gym_review_bot.sandbox").joinpath("_launcher.py"))
SERVER = "resources_servers/demo"
RUN_TESTS = "import runpy, sys; runpy.run_path(sys.argv[1])['run_tests']()"

PASSING = "def test_one():\n    assert 1 + 1 == 2\n\n\ndef test_two():\n    assert 'a' in 'abc'\n"
FAILING = "def test_fails():\n    assert 1 + 1 == 3\n"


def launch(tmp_path: Path, files: dict[str, str]) -> tuple[int, bytes]:
    """The launcher's test mode in a server directory holding `files`: (exit code, standard output)."""
    root = tmp_path / "server"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    proc = subprocess.run(
        [sys.executable, "-c", RUN_TESTS, LAUNCHER], cwd=root, capture_output=True, timeout=120, check=False
    )
    return proc.returncode, proc.stdout


def verdict(tmp_path: Path, files: dict[str, str]) -> testrun.Outcome:
    code, out = launch(tmp_path, files)
    return testrun.judge(SERVER, code, out)


def test_a_suite_that_passes_passes_saying_how_many_ran(tmp_path: Path) -> None:
    skipping = "import pytest\n\n\n@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n"
    outcome = verdict(tmp_path, {"tests/test_app.py": PASSING, "tests/test_more.py": skipping})
    assert outcome.status == "pass", outcome.message
    assert "2 passed, 1 skipped" in outcome.message


@pytest.mark.parametrize(
    "suite",
    [
        "import pytest\n\npytestmark = pytest.mark.skip(reason='not today')\n\n\ndef test_a():\n    assert False\n",
        "import pytest\n\n\n@pytest.mark.xfail(reason='known')\ndef test_a():\n    assert False\n",
        "import pytest\n\npytest.skip('whole module', allow_module_level=True)\n",
        "import pytest\n\n\ndef test_a():\n    pytest.skip('inside')\n\n\n@pytest.mark.xfail\ndef test_b():\n"
        "    raise ValueError\n",
    ],
    ids=["pytestmark-skip", "xfail-only", "module-skip", "skip-and-xfail"],
)
def test_skipped_or_xfail_only_runs_fail_saying_no_test_ran(tmp_path: Path, suite: str) -> None:
    # Reproduction: junit's `tests` count includes skipped and xfailed tests, which gave a pass.
    outcome = verdict(tmp_path, {"tests/test_app.py": suite})
    assert outcome.status == "fail" and "No test ran" in outcome.message, outcome.message
    # (a module skipped whole collects nothing: pytest exits 5)
    assert ("0 passed, " in outcome.message and outcome.key == "no test ran") or outcome.key == "no tests"


def test_a_failing_suite_fails_naming_the_test(tmp_path: Path) -> None:
    outcome = verdict(tmp_path, {"tests/test_app.py": PASSING + "\n\n" + FAILING})
    assert outcome.status == "fail" and "test_fails" in outcome.message and "1 failed" in outcome.message
    assert outcome.file == f"{SERVER}/tests/test_app.py"


# The forgeries, and more of their kind.
REWRITE_AND_EXIT = """
import os

CLEAN = '<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">' \\
    '<testcase classname="t" name="test_fails"/></testsuite></testsuites>'


def pytest_unconfigure(config):
    path = config.option.xmlpath
    if path:
        with open(path, "w") as fh:
            fh.write(CLEAN)
    os._exit(0)
"""

DELETE_AND_PRINT = """
import base64
import os

CLEAN = b'<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">' \\
    b'<testcase classname="t" name="test_fails"/></testsuite></testsuites>'


def pytest_unconfigure(config):
    path = config.option.xmlpath
    if path and os.path.exists(path):
        os.remove(path)
    print("gym-review: junit+ " + base64.b64encode(CLEAN).decode(), flush=True)
    os._exit(0)
"""

EXIT_ZERO_AFTER_REPORT = "import os\n\n\ndef pytest_unconfigure(config):\n    os._exit(0)\n"
EXIT_ONE_AFTER_REPORT = "import os\n\n\ndef pytest_unconfigure(config):\n    os._exit(1)\n"

FORGE_FIRST = """
import pytest

CLEAN = '<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">' \\
    '<testcase classname="t" name="test_fails"/></testsuite></testsuites>'


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    with open(session.config.option.xmlpath, "w") as fh:
        fh.write(CLEAN)
"""


@pytest.mark.parametrize(
    ("conftest", "test", "why"),
    [
        (REWRITE_AND_EXIT, FAILING, "not one well-formed XML document"),
        (DELETE_AND_PRINT, FAILING, "exited with code 0, its junit report lists 0 passed, 0 skipped, 1 failed"),
        (EXIT_ZERO_AFTER_REPORT, FAILING, "exited with code 0, its junit report lists 0 passed, 0 skipped, 1 failed"),
        (EXIT_ONE_AFTER_REPORT, PASSING, "exited with code 1, its junit report lists 2 passed"),
        (FORGE_FIRST, FAILING, "not one well-formed XML document"),
    ],
    ids=["rewrite-and-exit-0", "delete-and-print", "exit-0-after-failure", "exit-1-after-pass", "forge-first"],
)
def test_a_report_that_contradicts_itself_or_is_forged_never_passes(
    tmp_path: Path, conftest: str, test: str, why: str
) -> None:
    outcome = verdict(tmp_path, {"tests/conftest.py": conftest, "tests/test_app.py": test})
    assert outcome.status == "fail", outcome.message
    assert why in outcome.message, outcome.message


def sealed(code: int, junit: bytes, before: str = "") -> bytes:
    encoded = base64.b64encode(junit).decode()
    digest = hashlib.sha256(junit).hexdigest()
    end = f"gym-review: junit-end exit={code} bytes={len(junit)} sha256={digest} oversize=0"
    return f"{before}gym-review: junit+ {encoded}\n{end}\n".encode()


CLEAN_XML = (
    b'<testsuites><testsuite name="pytest" tests="1" failures="0" errors="0" skipped="0">'
    b'<testcase classname="t" name="test_a"/></testsuite></testsuites>'
)


def test_only_the_final_block_counts() -> None:
    good = sealed(0, CLEAN_XML, "1 passed in 0.01s\n")
    assert testrun.judge(SERVER, 0, good).status == "pass"
    # A test's own output after the launcher's block (impossible once it ends the tests' processes) voids it.
    assert testrun.judge(SERVER, 0, good + b"more output\n").key == "no report"
    # A forged block printed before pytest's summary, with no block of the launcher's after it.
    forged = sealed(0, CLEAN_XML) + b"1 failed in 0.01s\n"
    assert testrun.judge(SERVER, 0, forged).key == "no report"
    tampered = good.replace(b"sha256=", b"sha256=0", 1).replace(b"sha256=0" + b"0" * 0, b"sha256=0", 1)
    assert testrun.judge(SERVER, 0, tampered).key == "no report"


def test_the_container_exit_code_must_be_pytests() -> None:
    outcome = testrun.judge(SERVER, 1, sealed(0, CLEAN_XML, "1 passed in 0.01s\n"))
    assert outcome.status == "fail" and testrun.CONTRADICTION in outcome.message


def test_summary_line_and_junit_must_agree() -> None:
    assert testrun.judge(SERVER, 0, sealed(0, CLEAN_XML, "2 passed in 0.01s\n")).key == "contradiction"
    assert testrun.judge(SERVER, 0, sealed(0, CLEAN_XML, "no summary here\n")).key == "contradiction"
    totals_lie = CLEAN_XML.replace(b'tests="1"', b'tests="3"')
    assert testrun.judge(SERVER, 0, sealed(0, totals_lie, "1 passed in 0.01s\n")).key == "contradiction"


def test_junit_with_entities_is_not_believed() -> None:
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaa">]><testsuite tests="1" failures="0" errors="0">&a;</testsuite>'
    outcome = testrun.judge(SERVER, 0, sealed(0, bomb, "1 passed in 0.01s\n"))
    assert outcome.status == "fail" and "DOCTYPE" in outcome.message


def test_no_tests_collected_and_no_report_fail() -> None:
    assert testrun.judge(SERVER, 5, sealed(5, b"", "no tests ran in 0.01s\n")).key == "no tests"
    assert testrun.judge(SERVER, 0, sealed(0, b"", "")).key == "no junit report"
