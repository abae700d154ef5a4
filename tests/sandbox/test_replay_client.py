"""The replay client's script (_replay_client.py) against real HTTP servers on 127.0.0.1, and the verdicts on it.

The script runs here as it runs in its container: `python3 -I`, standard library only.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest
from conftest import make_git_tree, server_files
from sandbox_fixtures import QUESTIONS, answer_server, rollout, rollouts_jsonl

from gym_review_bot.sandbox.client import results_of
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.replay import ReplayResult, Rollout, items_file, read_rollouts
from gym_review_bot.sandbox.runner import _Run, determinism, reproduction

SCRIPT = str(resources.files("gym_review_bot.sandbox").joinpath("_replay_client.py"))
SERVER = "resources_servers/demo"
CAP = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler(BaseHTTPRequestHandler):
    """/verify rewards the expected answer; special answers hang, flood, overflow or call the model."""

    model_url = ""

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/endless":
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                return
        self._send(200, {})

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        answer = body.get("expected_answer")
        if answer == "hang":
            time.sleep(3)
        if answer == "slow":
            time.sleep(0.5)
        if answer == "flood":
            self._raw(200, b'{"reward": 1.0, "pad": "' + b"x" * (2 * CAP) + b'"}')
            return
        if answer == "huge":
            self._raw(200, b'{"reward": 1' + b"0" * 400 + b"}")
            return
        metadata = body.get("responses_create_params", {}).get("metadata") or {}
        if "reward" in metadata:  # a verify() that copies the reward the request carries
            self._send(200, {"reward": float(metadata["reward"])})
            return
        if answer == "judge" and self.model_url:
            try:
                urllib.request.urlopen(urllib.request.Request(self.model_url, data=b"{}", method="POST"), timeout=5)
            except OSError:
                pass
            self._send(200, {"reward": 1.0})
            return
        text = "".join(p.get("text", "") for item in body["response"]["output"] for p in item.get("content", []))
        self._send(200, dict(body, reward=1.0 if answer in text else 0.0))

    def _send(self, code: int, payload: dict) -> None:
        self._raw(code, json.dumps(payload).encode())

    def _raw(self, code: int, data: bytes) -> None:
        try:
            self.send_response(code)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run_client(*args: str, timeout: float = 60) -> tuple[list[dict], float]:
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-I", SCRIPT, *args], capture_output=True, timeout=timeout, check=True)
    return [json.loads(line) for line in done.stdout.decode().splitlines()], time.monotonic() - start


def replay(
    tmp_path: Path, url: str, rollouts: list[Rollout], calls: str = "-", conc: int = 3, timeout: float = 10,
    deadline: float = 60,
) -> tuple[list[ReplayResult], float]:  # fmt: skip
    items = tmp_path / "items.jsonl"
    items.write_bytes(items_file(rollouts))
    lines, took = run_client(
        "replay", url + "/verify", str(items), calls, str(conc), str(timeout), str(CAP), str(deadline)
    )
    stored = {r.line: r.reward for r in rollouts}
    return sorted((ReplayResult.from_client(x, stored[x["line"]]) for x in lines), key=lambda r: r.line), took


def bodies(*answers: str) -> list[Rollout]:
    return [Rollout(i, body=rollout("q", a, "text", 1.0), reward=1.0) for i, a in enumerate(answers, start=1)]


def a_run(tmp_path: Path, **options: float) -> _Run:
    tree = make_git_tree(tmp_path / "repo", server_files("demo", answer_server("demo")))
    return _Run(tree, "demo", SandboxOptions(**options))


def test_replay_reports_mismatches_by_line(tmp_path: Path, url: str) -> None:
    path = f"{SERVER}/data/example_rollouts.jsonl"
    text = rollouts_jsonl([1.0, 1.0, 0.0, 1.0, 1.0])
    rollouts = list(read_rollouts(make_git_tree(tmp_path / "repo", {path: text}), path))
    results, _ = replay(tmp_path, url, rollouts)
    assert [r.line for r in results] == [1, 2, 3, 4, 5]
    assert [r.matches for r in results] == [True, True, True, True, False], [(r.line, r.error) for r in results]
    assert (results[4].stored, results[4].returned) == (1.0, 0.0)


def test_replay_stops_sending_once_a_request_times_out(tmp_path: Path, url: str) -> None:
    rollouts = [Rollout(1, body=rollout("q", "hang", "x", 1.0), reward=1.0)]
    rollouts += [Rollout(i + 2, body=rollout(q, a, t, 1.0), reward=1.0) for i, (q, a, t) in enumerate(QUESTIONS * 4)]
    results, _ = replay(tmp_path, url, rollouts, conc=1, timeout=0.5)
    assert results[0].aborted and "timed out after 0.5 s" in (results[0].error or "")
    assert any("not replayed" in (r.error or "") for r in results)


def test_an_endless_get_answer_is_cut_at_its_cap_and_deadline(url: str) -> None:
    # Reproduction: an endless 200 body on GET / kept the bot past --boot-timeout and grew it to 2.1 GB.
    [answer], took = run_client("get", url + "/endless", "3", str(CAP))
    assert answer["error"] and "exceeds" in answer["error"]
    assert took < 10


def test_a_trickled_answer_is_cut_at_the_deadline(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def trickle() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n")
        try:
            for _ in range(100):
                conn.sendall(b"x")
                time.sleep(0.2)
        except OSError:
            pass
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    [answer], took = run_client("get", f"http://127.0.0.1:{listener.getsockname()[1]}/", "1.5", str(CAP))
    listener.close()
    assert answer["status"] is None and "timed out" in answer["error"]
    assert took < 6  # each byte came within the socket timeout; only a total deadline ends it


def test_a_verify_answer_over_the_cap_or_not_a_float_fails_its_line(tmp_path: Path, url: str) -> None:
    results, _ = replay(tmp_path, url, bodies("flood", "huge"))
    assert "exceeds 1048576 bytes" in (results[0].error or "") and not results[0].aborted
    assert "does not fit a float" in (results[1].error or "")
    run = a_run(tmp_path)
    reproduction(run, results, cause="")
    gr203 = run.outcomes["GR203"]
    assert gr203.status == "fail" and "line 1:" in gr203.message and "line 2:" in gr203.message


def test_a_stored_reward_that_does_not_fit_a_float_is_a_finding_about_its_line(tmp_path: Path) -> None:
    # Reproduction: a 400-digit integer stored reward made GR203 "The sandbox failed ...: OverflowError".
    path = f"{SERVER}/data/example_rollouts.jsonl"
    row = json.dumps(rollout("q", "Paris", "It is Paris.", 1.0)).replace('"reward": 1.0', '"reward": 1' + "0" * 400)
    [r] = read_rollouts(make_git_tree(tmp_path / "repo", {path: row + "\n"}), path)
    assert r.reward is None and "integer of 401 digits" in (r.error or "")
    run = a_run(tmp_path)
    reproduction(run, [ReplayResult(r.line, None, error=r.error)], cause="")
    gr203 = run.outcomes["GR203"]
    assert gr203.status == "fail" and "line 1: " in gr203.message and "does not fit a float" in gr203.message


def test_the_replay_has_an_overall_deadline(tmp_path: Path, url: str) -> None:
    # Reproduction: 40 rollouts at 4 s took 48 s; here 40 at 0.5 s under a 2 s deadline.
    results, took = replay(tmp_path, url, bodies(*["slow"] * 40), conc=1, deadline=2)
    assert took < 6
    assert sum(r.deadline for r in results) >= 30
    run = a_run(tmp_path, replay_timeout=2)
    reproduction(run, results, cause="")
    assert run.outcomes["GR203"].status == "fail" and "--replay-timeout (2 s)" in run.outcomes["GR203"].message


def test_rollouts_cut_short_by_the_deadline_are_counted_under_it_not_listed_as_mismatches(tmp_path: Path) -> None:
    # Reproduction (a 50 MB file under load): the rollouts in flight when the 20 s deadline passed came back as
    # "timed out after 0.0018 s" mismatches, 71,444 of them listed, and the deadline went unnamed.
    in_flight = [ReplayResult(n, 1.0, error="timed out after 0.0018 s", aborted=True) for n in (4, 5)]
    unsent = [ReplayResult(n, None, error="not replayed", aborted=True, deadline=True, usable=False) for n in (6, 7)]
    results = [ReplayResult(1, 1.0, 1.0), ReplayResult(2, 1.0, 1.0), ReplayResult(3, 0.0, 1.0), *in_flight, *unsent]
    run = a_run(tmp_path, replay_timeout=20)
    reproduction(run, results, cause="", out_of_time=True)
    gr203 = run.outcomes["GR203"]
    assert gr203.status == "fail" and "--replay-timeout (20 s)" in gr203.message
    assert "4 of 7 example rollouts were cut short or not sent (lines 4-7)" in gr203.message
    assert "timed out after" not in gr203.message  # cut short by the deadline: not a reward that differs
    assert "1 of 7 example rollouts do not reproduce" in gr203.message and "- line 3:" in gr203.message
    # The client's own flag is enough, and the in-flight rows alone (none flagged) are enough with the host's clock.
    flagged, clock = a_run(tmp_path / "f", replay_timeout=20), a_run(tmp_path / "c", replay_timeout=20)
    reproduction(flagged, results[:2] + unsent, cause="")
    reproduction(clock, results[:2] + in_flight, cause="", out_of_time=True)
    for one in (flagged, clock):
        assert one.outcomes["GR203"].status == "fail" and "--replay-timeout (20 s)" in one.outcomes["GR203"].message
    # Without the deadline, a timed-out rollout is a stalled server's: listed, with the limits' advice.
    stalled = a_run(tmp_path / "s", replay_timeout=20)
    reproduction(stalled, results[:2] + in_flight, cause="")
    assert "- line 4: timed out after 0.0018 s" in stalled.outcomes["GR203"].message
    assert "--replay-timeout" not in stalled.outcomes["GR203"].message


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    port, calls = free_port(), tmp_path / "calls.jsonl"
    proc = subprocess.Popen([sys.executable, "-I", SCRIPT, "standins", str(calls), str(port)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and json.loads(proc.stdout.readline()) == {"standins": [port]}
    yield port, calls
    proc.kill()
    proc.wait()


def test_standins_answer_health_and_models_and_refuse_completions(standin: tuple[int, Path]) -> None:
    port, calls = standin
    base = f"http://127.0.0.1:{port}"
    assert urllib.request.urlopen(base + "/", timeout=5).status == 200
    models = json.load(urllib.request.urlopen(base + "/v1/models", timeout=5))
    assert models["data"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(base + "/v1/responses", data=b"{}"), timeout=5)
    assert refused.value.code == 503 and "stand-in" in refused.value.read().decode()
    assert [json.loads(x)["path"] for x in calls.read_text().splitlines()] == ["/", "/v1/models", "/v1/responses"]


def test_rollouts_that_called_a_model_make_gr203_incomplete_not_pass(
    tmp_path: Path, url: str, standin: tuple[int, Path]
) -> None:
    port, calls = standin
    Handler.model_url = f"http://127.0.0.1:{port}/v1/responses"
    try:
        rollouts = [Rollout(1, body=rollout("q", "Paris", "It is Paris.", 1.0), reward=1.0)] + bodies("x", "judge")[1:]
        rollouts[1].line = 3
        results, _ = replay(tmp_path, url, rollouts, calls=str(calls), conc=1)
    finally:
        Handler.model_url = ""
    assert [(r.line, r.model_calls) for r in results] == [(1, 0), (3, 1)]
    run = a_run(tmp_path)
    reproduction(run, results, cause="")
    gr203 = run.outcomes["GR203"]
    assert gr203.status == "error" and "1 of 2" in gr203.message and "lines 3" in gr203.message
    determinism(run, results, results)
    assert run.outcomes["GR204"].status == "pass"  # only rollouts that called no model are compared


def test_a_real_mismatch_fails_gr203_even_when_another_rollout_called_a_model(tmp_path: Path) -> None:
    results = [ReplayResult(1, 1.0, 0.0), ReplayResult(2, 1.0, 1.0, model_calls=2)]
    run = a_run(tmp_path)
    reproduction(run, results, cause="")
    assert run.outcomes["GR203"].status == "fail" and "called a model" in run.outcomes["GR203"].message


def test_gr203_key_is_lines_and_stored_rewards_not_what_the_server_said(tmp_path: Path) -> None:
    one, two = a_run(tmp_path), _Run(a_run(tmp_path / "b").tree, "demo", SandboxOptions())
    reproduction(one, [ReplayResult(5, 1.0, 0.0)], cause="")
    reproduction(two, [ReplayResult(5, 1.0, 0.25, error=None)], cause="exited with code 3")
    assert one.outcomes["GR203"].key == two.outcomes["GR203"].key == "5:1.0"


# --- a stored rollouts file, read by the client one line at a time --------------------------------


def replay_file(tmp_path: Path, url: str, text: str, keys: list[str] | None = None, deadline: float = 60) -> list:
    path, keys_file = tmp_path / "rollouts.jsonl", tmp_path / "keys.json"
    path.write_text(text)
    keys_file.write_text(json.dumps(keys))
    lines, _ = run_client(
        "rollouts", url + "/verify", str(path), str(keys_file), "-", "3", "10", str(CAP), str(deadline)
    )
    return sorted((r for x in lines for r in results_of(x)), key=lambda r: r.line)


def test_a_rollouts_file_is_replayed_row_by_row_with_its_stored_rewards_and_problems(tmp_path: Path, url: str) -> None:
    rows = rollouts_jsonl([1.0, 1.0, 0.0, 1.0, 1.0]).splitlines()
    huge = rows[0].replace('"reward": 1.0', '"reward": 1' + "0" * 400)
    no_rollout = json.dumps({"responses_create_params": {}, "reward": 1.0})
    text = "\n".join([rows[0], "", "{not json", no_rollout, huge, rows[4], rows[0]]) + "\n"
    results = replay_file(tmp_path, url, text, keys=["responses_create_params", "response", "expected_answer"])
    assert [r.line for r in results] == [1, 3, 4, 5, 6, 7]  # the blank line 2 is no row
    one, bad_json, not_rollout, big, stale, again = results
    assert (one.stored, one.returned, one.usable, one.error) == (1.0, 1.0, True, None)
    assert not bad_json.usable and "not valid JSON" in (bad_json.error or "") and bad_json.status is None
    assert not not_rollout.usable and "is not a rollout" in (not_rollout.error or "")
    assert not big.usable and "integer of 401 digits" in (big.error or "")
    assert (stale.stored, stale.returned) == (1.0, 0.0)  # "It is a gas." is not "water"
    assert one.prompt and one.prompt == again.prompt != stale.prompt  # the same question, the same prompt


def test_the_rollouts_file_past_the_deadline_is_reported_without_being_sent(tmp_path: Path, url: str) -> None:
    text = "".join(json.dumps(rollout("q", "slow", "x", 1.0)) + "\n" for _ in range(40))
    start = time.monotonic()
    results = replay_file(tmp_path, url, text, deadline=1.5)
    assert time.monotonic() - start < 6
    assert len(results) == 40 and sum(r.deadline for r in results) >= 25


def test_a_copied_reward_is_found_in_the_request_as_a_leak(tmp_path: Path, url: str) -> None:
    rows = []
    for i, (question, answer, text) in enumerate(QUESTIONS):
        row = rollout(question, answer, text, float(i % 2))
        row["responses_create_params"]["metadata"] = {"reward": str(float(i % 2)), "id": "7"}
        rows.append(json.dumps(row))
    results = replay_file(tmp_path, url, "\n".join(rows) + "\n")
    assert [r.returned for r in results] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert all("responses_create_params.metadata.reward" in r.leaks for r in results)
    probes_file = tmp_path / "rollouts.jsonl"
    lines, _ = run_client(
        "probe", url + "/verify", str(probes_file), str(tmp_path / "keys.json"), "2,4", "-", "2", "10", str(CAP), "30"
    )
    probed = [ReplayResult.from_client(x) for x in lines]
    assert sorted((r.line, r.probe) for r in probed) == [
        (2, "empty response"), (2, "unrelated text"), (4, "empty response"), (4, "unrelated text"),
    ]  # fmt: skip
    assert all(r.returned == 1.0 and "responses_create_params.metadata.reward" in r.leaks for r in probed)
    from gym_review_bot.sandbox import probes

    outcome = probes.judge(results, probed, 1.0, "app.py")
    assert outcome.status == "fail" and "Likely leak" in outcome.message
    assert "`responses_create_params.metadata.reward`" in outcome.message
    assert "empty response: 1 on every one of the 2 prompts probed" in outcome.message


def rows(*stored: tuple[float, str]) -> list[ReplayResult]:
    """First-replay results: (stored reward, prompt) per line, each reproduced."""
    return [ReplayResult(i, s, s, prompt=p) for i, (s, p) in enumerate(stored, start=1)]


def probed(answers: dict[tuple[int, str], float | None]) -> list[ReplayResult]:
    return [ReplayResult(line, None, returned, probe=kind) for (line, kind), returned in answers.items()]


def test_probes_go_to_every_distinct_top_prompt_not_the_first_rollout() -> None:
    from gym_review_bot.sandbox import probes

    # Reproduction: probes built on the first rollout only, which earned 0, hid a verify() rewarding anything.
    first = rows((0.0, "a"), (1.0, "b"), (1.0, "b"), (1.0, "c"), (0.5, "d"))
    assert probes.probe_lines(first) == ([2, 4], 1.0)
    assert probes.probe_lines(rows((1.0, "a"), (1.0, "b"))) == ([], None)  # no variance: nothing to judge
    many = rows(*[(1.0, f"p{i}") for i in range(100)], (0.0, "z"))
    assert len(probes.probe_lines(many)[0]) == probes.MAX_PROBE_PROMPTS


def test_a_probe_fails_gr206_only_when_it_gets_the_top_reward_on_every_prompt() -> None:
    from gym_review_bot.sandbox import probes

    first = rows((0.0, "a"), (1.0, "b"), (1.0, "c"))
    every = probed({(2, "empty response"): 1.0, (3, "empty response"): 1.0, (2, "unrelated text"): 0.0,
                    (3, "unrelated text"): 0.0})  # fmt: skip
    outcome = probes.judge(first, every, 1.0, "app.py")
    assert outcome.status == "fail" and "empty response: 1 on every one of the 2 prompts" in outcome.message
    assert outcome.key == "empty response"
    some = probed({(2, "empty response"): 1.0, (3, "empty response"): 0.0, (2, "unrelated text"): 0.0,
                   (3, "unrelated text"): 0.0})  # fmt: skip
    partial = probes.judge(first, some, 1.0, "app.py")
    assert partial.status == "pass" and "empty response: 1 on 1 of the 2 prompts probed (lines 2)" in partial.message
    unknown = probed({(2, "empty response"): None, (3, "empty response"): 0.0, (2, "unrelated text"): 0.0,
                      (3, "unrelated text"): 0.0})  # fmt: skip
    unknown[0].aborted = True
    assert probes.judge(first, unknown, 1.0, "app.py").status == "error"  # a probe that timed out proves nothing
    assert probes.judge(first, [], 1.0, "app.py").status == "error"


def test_a_number_equal_to_the_reward_is_a_leak_only_when_it_tracks_varying_rewards() -> None:
    from gym_review_bot.sandbox import probes

    first = [ReplayResult(1, 0.0, 0.0, leaks=("x.r", "t")), ReplayResult(2, 1.0, 1.0, leaks=("x.r", "t"))]
    probe_hits = [ReplayResult(2, None, 1.0, probe="empty response", leaks=("x.r", "t"))]
    assert probes.leak_paths(first, probe_hits) == ["t", "x.r"]
    assert probes.leak_paths(first, [ReplayResult(2, None, 0.0, probe="empty response", leaks=())]) == []
    same = [ReplayResult(1, 1.0, 1.0, leaks=("temperature",)), ReplayResult(2, 1.0, 1.0, leaks=("temperature",))]
    assert probes.leak_paths(same, [ReplayResult(1, None, 1.0, probe="x", leaks=("temperature",))]) == []
