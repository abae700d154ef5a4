"""Time whole `gym-review check --no-docker` processes on adversarial files, at 1 MB and at 4 MB.

Each case is one file of the demo's passing server replaced by a hostile or merely large one, committed
as a PR to a small real git repository. Targets (issue 6), per case:
  * at 1 MB: under 2 s wall time and 300 MB peak memory for the whole review process;
  * at 4 MB: at most 5 times the 1 MB time (linear work, not quadratic).

Run: python benchmarks/bench_adversarial.py [--case NAME ...] [--sizes 1,4]
Prints, per case and size, wall time, the child's peak RSS (getrusage of that process), the exit code
and verdict, and the 4 MB / 1 MB time ratio, each with PASS/FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "gym_review_bot" / "demo" / "fixtures"
GOOD_SERVER = FIXTURES / "pr" / "resources_servers" / "trivia_match"
SERVER = "adv"
MB = 1024 * 1024
TIME_TARGET_S = 2.0
MEMORY_TARGET_MB = 300
RATIO_TARGET = 5.0
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def good_files() -> dict[str, str]:
    return {
        p.relative_to(GOOD_SERVER).as_posix().replace("trivia_match", SERVER): p.read_text().replace(
            "trivia_match", SERVER
        )
        for p in sorted(GOOD_SERVER.rglob("*"))
        if p.is_file()
    }


def fill(head: str, unit: str, size: int, tail: str = "") -> str:
    """head + unit repeated to `size` characters + tail."""
    return head + unit * max(0, (size - len(head) - len(tail)) // len(unit)) + tail


def _rows(files: dict[str, str], rel: str) -> list[str]:
    return [line for line in files[rel].splitlines() if line.strip()]


# Each case: (the file it replaces, how to build it at a size). Builders get the good server's files.
def app_py(files: dict[str, str], size: int) -> dict[str, str | None]:
    return {"app.py": fill(files["app.py"] + "\n", "x_0 = [1, 2, 3] + [4, 5, 6]\n", size)}


def rollout_of_one_char_messages(files: dict[str, str], size: int) -> dict[str, str | None]:
    rows = [json.loads(line) for line in _rows(files, "data/example_rollouts.jsonl")]
    message = '{"role": "user", "content": "a"}, '
    inputs = "[" + message * (size // len(message)) + '{"role": "user", "content": "a"}]'
    long = json.dumps(rows[0]).replace(json.dumps(rows[0]["responses_create_params"]["input"]), inputs, 1)
    return {"data/example_rollouts.jsonl": "\n".join([long, *map(json.dumps, rows[1:])]) + "\n"}


def readme_licensing_then_blank_lines(files: dict[str, str], size: int) -> dict[str, str | None]:
    return {"README.md": fill("# Adv\n\n## Licensing information\n", " \n", size, "Code: ?\n")}


def example_jsonl(files: dict[str, str], size: int) -> dict[str, str | None]:
    rows = _rows(files, "data/example.jsonl")
    return {"data/example.jsonl": fill("", "\n".join(rows) + "\n", size)}


def example_rollouts_jsonl(files: dict[str, str], size: int) -> dict[str, str | None]:
    rows = _rows(files, "data/example_rollouts.jsonl")
    return {"data/example_rollouts.jsonl": fill("", "\n".join(rows) + "\n", size)}


def config_yaml(files: dict[str, str], size: int) -> dict[str, str | None]:
    rel = next(r for r in files if r.startswith("configs/"))
    return {rel: fill(files[rel] + "\nextra_notes:\n", "  - a note about this server, repeated\n", size)}


def requirements_txt(files: dict[str, str], size: int) -> dict[str, str | None]:
    return {
        "requirements.txt": fill(
            files["requirements.txt"], "some-package[extra]>=1.0; python_version >= '3.10'\n", size
        )
    }


def pyproject_toml(files: dict[str, str], size: int) -> dict[str, str | None]:
    head = '[project]\nname = "adv"\nversion = "0.1"\ndependencies = [\n'
    return {"requirements.txt": None, "pyproject.toml": fill(head, '  "some-package>=1.0",\n', size, "]\n")}


def readme_md(files: dict[str, str], size: int) -> dict[str, str | None]:
    para = "Some words about the environment, its *tools* and `rewards`, with a [link](https://example.org).\n\n"
    return {"README.md": fill("# Adv\n\n", "## Section\n\n" + para * 5, size, files["README.md"])}


def tests_test_app_py(files: dict[str, str], size: int) -> dict[str, str | None]:
    unit = "def test_case_0():\n    assert [1, 2] + [3] == [1, 2, 3]\n\n"
    return {"tests/test_app.py": fill(files["tests/test_app.py"] + "\n", unit, size)}


def app_py_at_the_cap(files: dict[str, str], size: int) -> dict[str, str | None]:
    """The largest app.py the review parses (just under the 512 KiB Python cap), whatever the size asked."""
    return app_py(files, 500 * 1024)


CASES: dict[str, Callable[[dict[str, str], int], dict[str, str | None]]] = {
    "app.py (large)": app_py,
    "app.py at the Python cap": app_py_at_the_cap,
    "rollout of 1-char messages": rollout_of_one_char_messages,
    "README licensing + ' \\n'*N": readme_licensing_then_blank_lines,
    "data/example.jsonl": example_jsonl,
    "data/example_rollouts.jsonl": example_rollouts_jsonl,
    "configs/*.yaml": config_yaml,
    "requirements.txt": requirements_txt,
    "pyproject.toml": pyproject_toml,
    "README.md": readme_md,
    "tests/test_app.py": tests_test_app_py,
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env={**os.environ, **GIT_ENV})


def write(root: Path, files: dict[str, str | None]) -> None:
    for rel, text in files.items():
        path = root / rel
        if text is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def build_repo(into: Path, overrides: dict[str, str | None]) -> Path:
    """A git repo: the demo's base checkout on main, and a branch adding the server with the hostile file."""
    repo = into / "repo"
    shutil.copytree(FIXTURES / "base", repo)
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "-m", "base")
    git(repo, "checkout", "--quiet", "-b", "pr")
    write(repo / "resources_servers" / SERVER, {**good_files(), **overrides})
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--no-verify", "-m", "add a server")
    return repo


# The review's own peak (VmHWM): getrusage's ru_maxrss of a child also counts the forking parent's RSS.
PEAK_WRAPPER = (
    "import sys\n"
    "from gym_review_bot.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
    "print('PEAK_KB', hwm, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def review(repo: Path, out: Path) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS in MB of that one process, exit code, verdict."""
    command = [sys.executable, "-c", PEAK_WRAPPER, "check", "--repo", str(repo), "--base", "main"]
    command += ["--no-docker", "--json", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if "Traceback" in stderr:
        print(stderr, file=sys.stderr)
    verdict = json.loads(out.read_text()).get("verdict", "?") if out.exists() else "no report"
    peaks = [int(line.split()[1]) for line in stderr.splitlines() if line.startswith("PEAK_KB ")]
    return elapsed, (peaks[0] if peaks else usage.ru_maxrss) // 1024, proc.returncode, verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", action="append", choices=list(CASES), help="run only these cases")
    parser.add_argument("--sizes", default="1,4", help="file sizes in MB, comma-separated (default 1,4)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    failures = 0
    print(f"{'case':32} {'MB':>3} {'time s':>8} {'peak MB':>8} {'exit':>4} {'verdict':>8}  target")
    for name in args.case or list(CASES):
        times: dict[int, float] = {}
        for size in sizes:
            with tempfile.TemporaryDirectory(prefix="bench-adv-") as tmp:
                repo = build_repo(Path(tmp), CASES[name](good_files(), size * MB))
                elapsed, peak, code, verdict = review(repo, Path(tmp) / "report.json")
            times[size] = elapsed
            ok = code in (0, 1) and (size != 1 or (elapsed < TIME_TARGET_S and peak < MEMORY_TARGET_MB))
            failures += not ok
            target = f"< {TIME_TARGET_S:g} s, < {MEMORY_TARGET_MB} MB" if size == 1 else "exit 0/1"
            row = f"{name:32} {size:>3} {elapsed:>8.2f} {peak:>8} {code:>4} {verdict:>8}"
            print(f"{row}  {target}: {'PASS' if ok else 'FAIL'}")
        if 1 in times and 4 in times:
            ratio = times[4] / times[1]
            ok = ratio <= RATIO_TARGET
            failures += not ok
            print(f"{name:32} 4/1 ratio {ratio:.2f} (<= {RATIO_TARGET:g}): {'PASS' if ok else 'FAIL'}")
    print(f"{failures} target(s) missed" if failures else "all targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
