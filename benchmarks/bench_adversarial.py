"""Time whole `gym-review check --no-docker` processes on adversarial files, at 1 MB, at 4 MB and at the caps.

Each case is one file of the demo's passing server replaced by a hostile or merely large one, committed
as a PR to a small real git repository. Targets (issues 6 and 16), per case:
  * at 1 MB: under 2 s wall time and 300 MB peak memory for the whole review process;
  * at 4 MB: at most 5 times the 1 MB time (linear work, not quadratic);
  * at the cap (the largest input the review reads: --max-file-mb's 50 MB for text and JSON Lines, the
    512 KiB Python cap): exit 0 or 1 and under 1 GB peak memory.

Issue 16's slow inputs each have a case: blank lines before a bad domain (config.find_line), a README of
`Dependencies` lines (GR119's scan), of headings, K classes x K bases (the class resolver), a rollouts file
of one line, and many files for GR117 (one git process for all). A Python case's sizes are an eighth of
the others' (128 KiB and 512 KiB: larger Python files are GR100 failures, never parsed); the GR117 case's
size is the total of 50-byte files (1 MB: 20,000 files).

Run: python benchmarks/bench_adversarial.py [--case NAME ...] [--sizes 1,4,cap]
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
CAP_MEMORY_TARGET_MB = 1024
TEXT_CAP_MB = 50  # --max-file-mb's default
RATIO_TARGET = 5.0
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    # no background `git gc --auto` (a commit of 80,000 files starts one) writing while the repo is removed
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "gc.auto",
    "GIT_CONFIG_VALUE_0": "0",
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


def config_blank_lines_then_bad_domain(files: dict[str, str], size: int) -> dict[str, str | None]:
    """Blank lines before a bad domain: the line finder's multiline regex took 106 s at 200 KB."""
    rel = next(r for r in files if r.startswith("configs/"))
    head, _, tail = files[rel].partition("      domain: knowledge\n")
    return {rel: fill(head, "\n", size, "      domain: not-a-domain\n" + tail)}


def readme_dependencies_lines(files: dict[str, str], size: int) -> dict[str, str | None]:
    """`Dependencies` lines with no blank between them: GR119's scan was quadratic (75 s at 192 KiB)."""
    return {"README.md": fill("# Adv\n\nA server.\n\n", "Dependencies\n", size, "\n" + files["README.md"])}


def readme_of_headings(files: dict[str, str], size: int) -> dict[str, str | None]:
    """A README of headings: a Markdown parser's token stream took 6 s and 402 MB at 1 MB."""
    return {"README.md": fill("# Adv\n\n", "## Heading\n", size, files["README.md"])}


def app_py_classes_by_bases(files: dict[str, str], size: int) -> dict[str, str | None]:
    """K classes each naming the K before it as bases, at an eighth of the size (the Python cap is 512 KiB)."""
    lines = [files["app.py"].split("class ", 1)[0], "class K0(SimpleResourcesServer):\n    pass\n"]
    total, k = sum(len(line) for line in lines), 1
    while True:
        line = f"class K{k}({', '.join(f'K{j}' for j in range(k))}):\n    pass\n"
        if total + len(line) > size // 8 - 200:  # stay under the cap: a larger file is never parsed
            break
        lines.append(line)
        total += len(line)
        k += 1
    return {"app.py": "\n".join(lines) + f"\nif __name__ == '__main__':\n    K{k - 1}.run_webserver()\n"}


def many_files_for_gr117(files: dict[str, str], size: int) -> dict[str, str | None]:
    """Files of 50 bytes (20,000 at 1 MB) that GR117 reads: one `git cat-file` each took 37 s for 20,000."""
    return {f"pkg/m{n:06d}.txt": f"line {n:06d} of a small file in a big server\n" for n in range(size // 50)}


# Cases whose base commit needs the registry's rules (GR117 is a rule a registry turns on).
BASE_FILES: dict[str, dict[str, str]] = {
    "GR117 over many small files": {".gym-review.yaml": "rules:\n  conflict_artifacts: {enabled: true}\n"},
}
PYTHON_CASES = {"app.py K classes x K bases"}
NO_CAP = {"GR117 over many small files"}  # no cap on a server's number of files: 1 and 4 MB rows only

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
    "config: blank lines, bad domain": config_blank_lines_then_bad_domain,
    "README: Dependencies lines": readme_dependencies_lines,
    "README: headings": readme_of_headings,
    "app.py K classes x K bases": app_py_classes_by_bases,
    "GR117 over many small files": many_files_for_gr117,
}
CAP_MB = {name: TEXT_CAP_MB for name in CASES} | {"app.py (large)": 0.5, "app.py at the Python cap": 0.5}
CAP_MB |= {"tests/test_app.py": 0.5, "app.py K classes x K bases": 4}  # K x K: 4 MB / 8 = the 512 KiB cap


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


def build_repo(into: Path, overrides: dict[str, str | None], base: dict[str, str] | None = None) -> Path:
    """A git repo: the demo's base checkout on main, and a branch adding the server with the hostile file."""
    repo = into / "repo"
    shutil.copytree(FIXTURES / "base", repo)
    write(repo, dict(base or {}))
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
    parser.add_argument("--sizes", default="1,4,cap", help="sizes in MB and `cap`, comma-separated (default 1,4,cap)")
    args = parser.parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",")]
    failures = 0
    print(f"{'case':32} {'MB':>4} {'time s':>8} {'peak MB':>8} {'exit':>4} {'verdict':>8}  target")
    for name in args.case or list(CASES):
        times: dict[str, float] = {}
        for label in sizes:
            if label == "cap" and name in NO_CAP:
                continue
            size_mb = CAP_MB[name] if label == "cap" else float(label)
            with tempfile.TemporaryDirectory(prefix="bench-adv-", ignore_cleanup_errors=True) as tmp:
                overrides = CASES[name](good_files(), int(size_mb * MB))
                repo = build_repo(Path(tmp), overrides, BASE_FILES.get(name))
                elapsed, peak, code, verdict = review(repo, Path(tmp) / "report.json")
            times[label] = elapsed
            if label == "cap":
                ok = code in (0, 1) and peak < CAP_MEMORY_TARGET_MB
                target = f"exit 0/1, < {CAP_MEMORY_TARGET_MB} MB"
            elif label == "1":
                ok = code in (0, 1) and elapsed < TIME_TARGET_S and peak < MEMORY_TARGET_MB
                target = f"< {TIME_TARGET_S:g} s, < {MEMORY_TARGET_MB} MB"
            else:
                ok, target = code in (0, 1), "exit 0/1"
            failures += not ok
            shown = f"{size_mb / 8:g}" if name in PYTHON_CASES else f"{size_mb:g}"
            row = f"{name:32} {shown:>4} {elapsed:>8.2f} {peak:>8} {code:>4} {verdict:>8}"
            print(f"{row}  {target}: {'PASS' if ok else 'FAIL'}", flush=True)
        if "1" in times and "4" in times:
            ratio = times["4"] / times["1"]
            ok = ratio <= RATIO_TARGET
            failures += not ok
            print(f"{name:32} 4/1 ratio {ratio:.2f} (<= {RATIO_TARGET:g}): {'PASS' if ok else 'FAIL'}", flush=True)
    print(f"{failures} target(s) missed" if failures else "all targets met")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
