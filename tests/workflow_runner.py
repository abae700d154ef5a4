"""Run the shipped workflows' steps as written, the way a GitHub runner would, against the fake GitHub.

It reads a workflow's YAML and runs its jobs in order: `run:` lines in bash with the `env:` the YAML
gives, the Action's modes (`python -m gym_review_bot.github.action`) with the `with:` inputs as the
runner passes them to a container action (`INPUT_<NAME>`, the action.yml defaults for the rest), and
the three actions the workflows use, as their READMEs document them:
- actions/checkout: the event's ref unless `ref:` is given (on `pull_request` that is the merge commit
  `refs/pull/N/merge`; on `workflow_run`, `pull_request_target` and `schedule` the default branch),
  `fetch-depth` (1 by default, 0 for all branches and tags), `sparse-checkout`;
  https://github.com/actions/checkout#usage
- actions/upload-artifact: a file is stored under its own name, a directory's files under their paths in it;
  https://github.com/actions/upload-artifact#usage
- actions/download-artifact: `name` into `path`; `pattern` puts each artifact in a directory named after it;
  `run-id` takes another run's artifacts. https://github.com/actions/download-artifact#usage

Expressions (`${{ }}`) are evaluated by a small evaluator of the syntax the workflows use (contexts,
`==`, `!=`, `&&`, `||`, `!`, literals, `fromJSON`, `always`, `startsWith`); anything else fails the test,
so the runner keeps up with the YAML. Where this machine differs from a runner, a test passes
`overrides` (inputs replaced for a step, e.g. `docker: false` where no daemon or registry image is wanted).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
ACTION = "gym-review-bot/gym-review-bot@"
_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|[!(),.\[\]])|('(?:[^']|'')*')|([A-Za-z_][A-Za-z0-9_-]*)|([0-9]+))")


# --- expressions ------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str, ctx: dict):
        self.tokens = [t for t in _tokens(text)]
        self.ctx, self.i = ctx, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, want: str | None = None) -> str:
        token = self.peek()
        if token is None or (want is not None and token != want):
            raise ValueError(f"expression: expected {want!r}, got {token!r}")
        self.i += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ValueError(f"expression: unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value or right
        return value

    def and_(self) -> Any:
        value = self.compare()
        while self.peek() == "&&":
            self.take()
            right = self.compare()
            value = value and right
        return value

    def compare(self) -> Any:
        value = self.unary()
        while self.peek() in ("==", "!="):
            op = self.take()
            right = self.unary()
            same = (
                str(value).lower() == str(right).lower() if value is not None and right is not None else value == right
            )
            value = same if op == "==" else not same
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not self.unary()
        return self.primary()

    def primary(self) -> Any:
        token = self.take()
        if token == "(":
            value = self.or_()
            self.take(")")
            return value
        if token.startswith("'"):
            return token[1:-1].replace("''", "'")
        if token.isdigit():
            return int(token)
        if token in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token]
        if self.peek() == "(":
            self.take("(")
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return _call(token, args)
        if token not in self.ctx:
            raise ValueError(f"expression: unknown context {token!r}")
        value = self.ctx[token]
        while self.peek() in (".", "["):
            if self.take() == ".":
                key = self.take()
            else:
                key = self.or_()
                self.take("]")
            value = value.get(key) if isinstance(value, dict) else (value[key] if isinstance(value, list) else None)
        return value


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if not match:
            raise ValueError(f"expression: cannot read {text[pos:]!r}")
        out.append(next(g for g in match.groups() if g is not None))
        pos = match.end()
    return out


def _call(name: str, args: list) -> Any:
    if name == "fromJSON":
        return json.loads(args[0])
    if name in ("always", "success"):
        return True
    if name == "startsWith":
        return str(args[0]).lower().startswith(str(args[1]).lower())
    raise ValueError(f"expression: function {name} is not supported here")


def evaluate(value: Any, ctx: dict) -> Any:
    """A YAML value with `${{ }}` replaced: a whole-string expression keeps its type, others become text."""
    if isinstance(value, dict):
        return {k: evaluate(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [evaluate(v, ctx) for v in value]
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = _EXPR.fullmatch(value.strip())
    if whole:
        return _Parser(whole.group(1), ctx).parse()
    return _EXPR.sub(lambda m: _text(_Parser(m.group(1), ctx).parse()), value)


def condition(text: str | None, ctx: dict) -> bool:
    if text is None:
        return True
    inner = _EXPR.fullmatch(text.strip())
    return bool(_Parser(inner.group(1) if inner else text, ctx).parse())


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


# --- the runner -------------------------------------------------------------------------------------------
@dataclass
class Run:
    """One workflow run: its id, artifacts (name -> {path: bytes}), job results and outputs, step logs."""

    run_id: int
    artifacts: dict[str, dict[str, bytes]] = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)

    @property
    def conclusion(self) -> str:
        return "failure" if any(j["result"] == "failure" for j in self.jobs.values()) else "success"


@dataclass
class Runner:
    fake: Any  # tests.fake_github.FakeGithub
    remote: Path  # the repository's git remote (a bare repository)
    tmp: Path
    token: str
    overrides: dict[str, dict[str, str]] = field(default_factory=dict)  # action mode -> inputs replaced
    workflows: Path = WORKFLOWS
    runs: dict[int, Run] = field(default_factory=dict)

    def run(self, workflow: str, event_name: str, event: dict, run_id: int) -> Run:
        spec = yaml.safe_load((self.workflows / workflow).read_text())
        run = Run(run_id)
        self.runs[run_id] = run
        event_path = self.tmp / f"event-{run_id}.json"
        event_path.write_text(json.dumps(event))
        github = {
            "event": event,
            "event_name": event_name,
            "repository": self.fake.repo,
            "token": self.token,
            "run_id": str(run_id),
        }
        for job_name, job in spec["jobs"].items():
            needs = job.get("needs") or []
            needs = [needs] if isinstance(needs, str) else needs
            needs_ctx = {n: run.jobs[n] for n in needs}
            ctx = {"github": github, "needs": needs_ctx, "matrix": {}, "steps": {}, "vars": {}}
            if any(run.jobs[n]["result"] != "success" for n in needs) and "always()" not in str(job.get("if")):
                run.jobs[job_name] = {"result": "skipped", "outputs": {}}
                continue
            if not condition(job.get("if"), ctx):
                run.jobs[job_name] = {"result": "skipped", "outputs": {}}
                continue
            evaluate((job.get("concurrency") or {}), ctx)  # the group's expression must evaluate
            matrix = evaluate(((job.get("strategy") or {}).get("matrix")) or {}, ctx)
            axes = [{}] if not matrix else [{k: v} for k, values in matrix.items() for v in values]
            results = [self._job(run, job_name, job, {**ctx, "matrix": m}, event_name, event_path) for m in axes]
            run.jobs[job_name] = {
                "result": "failure" if "failure" in [r[0] for r in results] else "success",
                "outputs": results[-1][1],
            }
        return run

    def _job(self, run: Run, name: str, job: dict, ctx: dict, event_name: str, event_path: Path) -> tuple[str, dict]:
        index = len(list(self.tmp.glob(f"ws-{run.run_id}-*")))
        workspace = self.tmp / f"ws-{run.run_id}-{index}-{name}"
        workspace.mkdir()
        temp = self.tmp / f"temp-{run.run_id}-{index}"
        temp.mkdir()
        ctx = {**ctx, "steps": {}}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_"))}
        env.update(
            GITHUB_WORKSPACE=str(workspace),
            GITHUB_EVENT_PATH=str(event_path),
            GITHUB_EVENT_NAME=event_name,
            GITHUB_REPOSITORY=self.fake.repo,
            GITHUB_SERVER_URL=self.fake.url,
            GITHUB_API_URL=self.fake.url,
            GITHUB_RUN_ID=str(run.run_id),
            GITHUB_JOB=name,
            GITHUB_STEP_SUMMARY=str(temp / "summary.md"),
            RUNNER_TEMP=str(temp),
        )
        for number, step in enumerate(job.get("steps", [])):
            out = temp / f"output-{number}"
            out.touch()
            step_env = {
                **env,
                "GITHUB_OUTPUT": str(out),
                **{k: _text(v) for k, v in evaluate(step.get("env") or {}, ctx).items()},
            }
            inputs = evaluate(step.get("with") or {}, ctx)
            uses = step.get("uses", "")
            if uses.startswith("actions/checkout@"):
                code = self._checkout(workspace, inputs, ctx["github"])
            elif uses.startswith("actions/upload-artifact@"):
                code = self._upload(run, workspace, inputs)
            elif uses.startswith("actions/download-artifact@"):
                code = self._download(run, workspace, inputs)
            elif uses.startswith(ACTION):
                code = self._action(workspace, inputs, step_env, run)
            elif "run" in step:
                code = self._shell(workspace, step["run"], step_env, run)
            else:
                raise AssertionError(f"{name}: a step the runner does not know: {uses or step}")
            if "id" in step:
                ctx["steps"][step["id"]] = {"outputs": _outputs(out)}
            if code != 0:
                run.logs.append(f"{name}: step {step.get('id') or step.get('name') or uses} exited {code}")
                return "failure", evaluate(job.get("outputs") or {}, ctx)
        return "success", {k: _text(v) for k, v in evaluate(job.get("outputs") or {}, ctx).items()}

    # --- the actions ---
    def _checkout(self, workspace: Path, inputs: dict, github: dict) -> int:
        event = github["event"]
        ref = inputs.get("ref") or ""
        if not ref and github["event_name"] == "pull_request":
            ref = f"refs/pull/{event['pull_request']['number']}/merge"  # GITHUB_REF on pull_request
        if not ref:
            ref = f"refs/heads/{self.fake.default_branch}"  # workflow_run, pull_request_target, schedule
        depth = int(inputs.get("fetch-depth", 1))
        git = _git(workspace)
        git("init", "-q")
        git("remote", "add", "origin", f"file://{self.remote}")
        if inputs.get("sparse-checkout"):
            git("sparse-checkout", "set", "--no-cone", *str(inputs["sparse-checkout"]).split())
        if depth == 0:
            git("fetch", "-q", "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
        git("fetch", "-q", *([f"--depth={depth}"] if depth else []), "origin", ref)
        git("checkout", "-q", "--detach", "FETCH_HEAD")
        return 0

    def _upload(self, run: Run, workspace: Path, inputs: dict) -> int:
        path = workspace / inputs["path"]
        if path.is_dir():
            files = {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
        else:
            files = {path.name: path.read_bytes()}
        run.artifacts[inputs["name"]] = files
        return 0

    def _download(self, run: Run, workspace: Path, inputs: dict) -> int:
        source = self.runs[int(inputs["run-id"])] if inputs.get("run-id") else run
        target = workspace / inputs.get("path", ".")
        if "name" in inputs:
            chosen = {"": source.artifacts[inputs["name"]]}
        else:
            pattern = re.compile(re.escape(inputs["pattern"]).replace(r"\*", ".*"))
            chosen = {name: files for name, files in source.artifacts.items() if pattern.fullmatch(name)}
        for sub, files in chosen.items():
            for rel, data in files.items():
                dest = target / sub / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(data)
        return 0

    def _action(self, workspace: Path, inputs: dict, env: dict, run: Run) -> int:
        spec = yaml.safe_load((ROOT / "action.yml").read_text())
        given = {k: _text(v) for k, v in inputs.items()}
        given.update(self.overrides.get(given.get("mode", "check"), {}))
        for name, meta in spec["inputs"].items():  # the runner passes every input, defaults included
            env[f"INPUT_{name.upper()}"] = given.get(name, str(meta.get("default", "")))
        done = subprocess.run(
            [sys.executable, "-m", "gym_review_bot.github.action"],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
        )
        run.logs.append(f"action {given.get('mode')}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done.returncode

    def _shell(self, workspace: Path, script: str, env: dict, run: Run) -> int:
        bash = shutil.which("bash") or "/bin/bash"
        done = subprocess.run(
            [bash, "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=workspace,
            env=env,
            capture_output=True,
            text=True,
        )
        run.logs.append(f"run: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done.returncode


def _outputs(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            found[key] = value
    return found


def _git(cwd: Path):
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "protocol.file.allow=always", *args], cwd=cwd, check=True, capture_output=True, text=True
        ).stdout.strip()

    return git
