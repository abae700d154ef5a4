"""GR205's evidence: the report the launcher prints once the tests' processes are gone, and what it says.

The launcher (`_launcher.py`) runs pytest with its junit report going to a FIFO under a random path,
read while pytest runs; once pytest has exited it kills every other process of the tests, then prints
the report (base64 lines) and one end line with pytest's exit code: the container's last output. Only
that final block counts, so a report a test prints on its own comes before it and is never read.

A run passes only when everything agrees: the end line's exit code and the container's, pytest's own
summary line, the junit report's totals and its test cases; and at least one test passed. The tests
are the pull request's own code and run in pytest's process, so a suite that forges all of these
consistently cannot be told from one that passes (docs/sandbox.md, Limits).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from gym_review_bot.checks.base import Outcome, failed, passed
from gym_review_bot.models import Location

JUNIT_MARK = "gym-review: junit+ "  # as _launcher.py prints them
END_MARK = "gym-review: junit-end "
MAX_JUNIT_BYTES = 4 * 1024 * 1024
MAX_LISTED = 20
CONTRADICTION = "the test run's results contradict each other"
_END = re.compile(r"^exit=(-?\d+) bytes=(\d+) sha256=([0-9a-f]{64}) oversize=([01])$")
# pytest's last line: "1 failed, 2 passed, 1 skipped in 0.12s", "no tests ran in 0.01s" (maybe between '=' rules).
_SUMMARY = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+|no tests ran) in [\d.]+s(?: \([\d:]+\))?\s*=*$")


@dataclass
class Sealed:
    """What the launcher printed last: pytest's exit code and junit report, and the output before them."""

    exit_code: int
    junit: bytes
    oversize: bool
    output: str  # what the test run printed before the report


@dataclass
class Counts:
    tests: int
    passed: int
    failures: int
    errors: int
    skipped: int  # skipped and xfailed tests (junit records an xfail as skipped)

    def brief(self) -> str:
        return f"{self.passed} passed, {self.skipped} skipped, {self.failures} failed, {self.errors} errors"


def read_sealed(stdout: bytes) -> Sealed | None:
    """The launcher's final block, when the output ends with it and it is intact; else None."""
    lines = stdout.decode("utf-8", "replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines or not lines[-1].startswith(END_MARK):
        return None
    end = _END.match(lines[-1][len(END_MARK) :].strip())
    if end is None:
        return None
    first = len(lines) - 1
    while first > 0 and lines[first - 1].startswith(JUNIT_MARK):
        first -= 1
    try:
        junit = base64.b64decode("".join(ln[len(JUNIT_MARK) :].strip() for ln in lines[first:-1]), validate=True)
    except (ValueError, binascii.Error):
        return None
    if len(junit) != int(end.group(2)) or hashlib.sha256(junit).hexdigest() != end.group(3):
        return None
    return Sealed(int(end.group(1)), junit, end.group(4) == "1", "\n".join(lines[:first]))


def junit_counts(data: bytes) -> tuple[Counts | None, str]:
    """The junit report's counts, or why it cannot be believed (not one document, totals that disagree)."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None, "the junit report declares a DOCTYPE or entities, which pytest never writes"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return None, f"the junit report is not one well-formed XML document ({exc})"
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if not suites or root.tag not in ("testsuite", "testsuites"):
        return None, "the junit report has no <testsuite>"
    declared = Counts(0, 0, 0, 0, 0)
    found = Counts(0, 0, 0, 0, 0)
    try:
        for suite in suites:
            declared.tests += int(suite.get("tests", "0"))
            declared.failures += int(suite.get("failures", "0"))
            declared.errors += int(suite.get("errors", "0"))
            declared.skipped += int(suite.get("skipped", "0"))
            for case in suite.iter("testcase"):
                found.tests += 1
                kinds = [child.tag for child in case]
                found.failures += kinds.count("failure")
                found.errors += kinds.count("error")
                found.skipped += kinds.count("skipped")
                found.passed += not any(k in ("failure", "error", "skipped") for k in kinds)
    except ValueError:
        return None, "the junit report's totals are not numbers"
    declared.passed = found.passed
    if declared != found:
        return None, f"the junit report's totals ({_totals(declared)}) are not its test cases ({_totals(found)})"
    return found, ""


def _totals(c: Counts) -> str:
    return f"{c.tests} tests, {c.failures} failures, {c.errors} errors, {c.skipped} skipped"


def summary_counts(output: str) -> dict[str, int] | None:
    """pytest's own result line (the last one it printed), as {word: count}; None when there is none."""
    for line in reversed(output.splitlines()[-200:]):
        match = _SUMMARY.match(line.strip())
        if match:
            if match.group(1) == "no tests ran":
                return {}
            counts: dict[str, int] = {}
            for part in match.group(1).split(", "):
                number, word = part.split(" ", 1)
                word = {"errors": "error", "warnings": "warning"}.get(word, word)
                counts[word] = counts.get(word, 0) + int(number)
            return counts
    return None


def summary_line(output: str) -> str:
    for line in reversed(output.splitlines()[-200:]):
        if _SUMMARY.match(line.strip()):
            return line.strip("= ")
    return "no pytest summary"


def summary_disagrees(summary: dict[str, int], counts: Counts) -> str:
    """How pytest's result line and the junit report differ, '' when they agree."""
    said = {
        "passed": summary.get("passed", 0) + summary.get("xpassed", 0),
        "failed": summary.get("failed", 0),
        "errors": summary.get("error", 0),
        "skipped": summary.get("skipped", 0) + summary.get("xfailed", 0),
    }
    junit = {"passed": counts.passed, "failed": counts.failures, "errors": counts.errors, "skipped": counts.skipped}
    if said == junit:
        return ""
    return (
        "pytest's summary line says "
        + ", ".join(f"{v} {k}" for k, v in said.items())
        + "; its junit report says "
        + ", ".join(f"{v} {k}" for k, v in junit.items())
    )


def _tail(text: str, n: int) -> str:
    return "\n".join(text.splitlines()[-n:])


def _fence(text: str) -> str:
    return f"\n```\n{text.strip() or '(no output)'}\n```"


def failed_files(server_dir: str, failed_lines: list[str]) -> list[str]:
    """The test files of pytest's FAILED/ERROR lines, repository-relative, in order."""
    files: list[str] = []
    for line in failed_lines:
        match = re.match(r"^(?:FAILED|ERROR) ([^\s:]+\.py)", line)
        path = posixpath.normpath(f"{server_dir}/{match.group(1)}") if match else None
        if path and path.startswith(server_dir + "/") and path not in files:
            files.append(path)
    return files


def without_report(log: str) -> str:
    return "\n".join(ln for ln in log.splitlines() if not ln.startswith((JUNIT_MARK, END_MARK)))


def judge(server_dir: str, code: int, stdout: bytes, cause: str = "", log: str = "") -> Outcome:
    """GR205 for a test container that exited with `code`, from its standard output (`log`: both streams' tail)."""
    where = f"{server_dir}/tests"
    sealed = read_sealed(stdout)
    shown = without_report(log) or (sealed.output if sealed else stdout.decode("utf-8", "replace"))
    if sealed is None:
        return failed(
            f"`pytest tests/` ended (exit code {code}) without the sandbox's report of the run, so whether the "
            f"tests passed cannot be told. Last lines:{_fence(_tail(shown, 30))}",
            file=where,
            key="no report",
        )
    output = sealed.output
    if sealed.exit_code != code:
        return _contradiction(where, f"pytest exited with code {sealed.exit_code}, its container with {code}", output)
    if code == 5:
        return failed(
            f"No test ran: pytest collected no tests in tests/ ({summary_line(output)}).", file=where, key="no tests"
        )
    if not sealed.junit and not sealed.oversize:
        return failed(
            f"`pytest tests/` wrote no junit report (exit code {code}), so whether the tests passed cannot be told; "
            f"a test run that ends without its report (e.g. `os._exit` in a test or conftest.py) fails. "
            f"Last lines:{_fence(_tail(shown, 30))}",
            file=where,
            key="no junit report",
        )
    if sealed.oversize:
        return failed(f"pytest's junit report is over {MAX_JUNIT_BYTES // 1024 // 1024} MB.", file=where, key="big")
    counts, why = junit_counts(sealed.junit)
    if counts is None:
        return _contradiction(where, why, output)
    if code == 0 and counts.failures + counts.errors:
        return _contradiction(where, f"pytest exited with code 0, its junit report lists {counts.brief()}", output)
    if code != 0 and not counts.failures + counts.errors:
        return _contradiction(where, f"pytest exited with code {code}, its junit report lists {counts.brief()}", output)
    summary = summary_counts(output)
    if summary is None and code == 0:
        return _contradiction(where, "pytest printed no result line, though it exited with code 0", output)
    differ = summary_disagrees(summary, counts) if summary is not None else ""
    if differ:
        return _contradiction(where, differ, output)
    if counts.failures + counts.errors:
        return _test_failures(server_dir, code, counts, output, cause)
    if counts.passed == 0:
        return failed(
            f"No test ran: `pytest tests/` reports {counts.passed} passed, {counts.skipped} skipped "
            "(skipped and xfail tests prove nothing about the server).",
            file=where,
            key="no test ran",
        )
    return passed(
        f"`pytest tests/` passes ({counts.passed} passed, {counts.skipped} skipped; {summary_line(output)}).", key=""
    )


def _contradiction(where: str, detail: str, output: str) -> Outcome:
    return failed(
        f"Not a pass: {CONTRADICTION} ({detail}). Last lines:{_fence(_tail(output, 20))}\n"
        "How to fix: Let pytest write its own report and exit with its own code; do not change either "
        "in conftest.py or a plugin.",
        file=where,
        key="contradiction",
    )


def _test_failures(server_dir: str, code: int, counts: Counts, output: str, cause: str) -> Outcome:
    where = f"{server_dir}/tests"
    failed_lines = [ln for ln in output.splitlines() if ln.startswith(("FAILED ", "ERROR "))][:MAX_LISTED]
    detail = "\n".join(failed_lines) or _tail(output, 30)
    reason = f" The test process {cause}." if cause and "exited" not in cause else ""
    files = failed_files(server_dir, failed_lines)
    return failed(
        f"`pytest tests/` failed (exit code {code}; {counts.brief()}).{reason}{_fence(detail)}",
        file=files[0] if files else where,
        locations=[Location(file=f) for f in files] or [Location(file=where)],
        key="\n".join(sorted(ln.split(" - ")[0] for ln in failed_lines)) or f"exit {code}",
    )
