"""The recorded-judge replay (issue 20) without Docker: the layouts read from stored rollouts, the stand-ins'
matching and answers, and the replay client against a real HTTP /verify that asks a judge on 127.0.0.1.

The /verify here is written like NeMo Gym's equivalence_llm_judge: it fills a prompt template with the answer
and the expected answer, sends it to the judge model server it is configured with, rewards `[[A=B]]`, and
records the call as `judge_evaluations`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import pytest
from conftest import make_git_tree, server_files
from sandbox_fixtures import answer_server

from gym_review_bot.models import Finding
from gym_review_bot.sandbox import _recorded_judge as rj
from gym_review_bot.sandbox import probes
from gym_review_bot.sandbox.client import results_of
from gym_review_bot.sandbox.options import SandboxOptions
from gym_review_bot.sandbox.replay import ReplayResult, ServerChange, server_change
from gym_review_bot.sandbox.runner import _Run, determinism, replay_counts, reproduction

SCRIPT = str(resources.files("gym_review_bot.sandbox").joinpath("_replay_client.py"))
CAP = 1024 * 1024
SYSTEM = "You are a strict grader."
TEMPLATE = "Question: {question}\nGold: {gold}\nAnswer: {answer}\nSay [[A=B]] if they are equivalent, else [[A!=B]]."
EDITED = TEMPLATE.replace("[[A=B]]", "[[EQUAL]]")


def judge_request(template: str, question: str, gold: str, answer: str) -> dict:
    return {
        "model": "judge-model",
        "input": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": template.format(question=question, gold=gold, answer=answer)},
        ],
        "temperature": 0.0,
        "max_output_tokens": 512,
    }


def responses_answer(text: str, response_id: str = "resp_1") -> dict:
    return {
        "id": response_id,
        "object": "response",
        "created_at": 1735000000,
        "model": "judge-model",
        "output": [
            {
                "id": f"msg_{response_id}",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
    }


def output_of(answer: dict) -> str:
    if "choices" in answer:
        return answer["choices"][0]["message"]["content"]
    return "".join(p["text"] for item in answer["output"] for p in item["content"])


class JudgedVerify(BaseHTTPRequestHandler):
    """A verify() that asks a judge (the stand-in at `judge_url`) with `template`, and rewards its verdict."""

    judge_url = ""
    template = TEMPLATE
    chat = False  # ask over Chat Completions instead of the Responses API

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        answer = "".join(p.get("text", "") for item in body["response"]["output"] for p in item.get("content", []))
        request = judge_request(self.template, body["question"], body["expected_answer"], answer)
        path = "/v1/responses"
        if self.chat:
            request = {"model": "judge-model", "messages": request["input"], "temperature": 0.0}
            path = "/v1/chat/completions"
        call = urllib.request.Request(self.judge_url + path, data=json.dumps(request).encode(), method="POST")
        try:
            judged = json.load(urllib.request.urlopen(call, timeout=5))
        except urllib.error.HTTPError as exc:
            self._send(500, {"detail": f"judge failed: {exc.code}"})
            return
        reward = 1.0 if "[[A=B]]" in output_of(judged) else 0.0
        self._send(200, dict(body, reward=reward, judge_evaluations=[{"responses_create_params": request}]))

    def _send(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def row(question: str, gold: str, answer: str, verdict: str, reward: float, **extra: object) -> dict:
    """A stored rollout as NeMo Gym writes it: the verify request, the reward, and the judge call recorded with
    the noise of a real run (ids, nulls, the model name, key order)."""
    request = judge_request(TEMPLATE, question, gold, answer)
    recorded = {"stream": None, "metadata": None, **dict(reversed(list(request.items())))}
    recorded["input"] = [dict(m, type="message", id=None) for m in request["input"]]
    recorded["model"] = None
    return {
        "responses_create_params": {"input": [{"role": "user", "content": question}]},
        "response": {"output": [_message(answer)]},
        "question": question,
        "expected_answer": gold,
        "reward": reward,
        "judge_evaluations": [{"responses_create_params": recorded, "response": responses_answer(verdict, "r9")}],
        **extra,
    }


def _message(text: str) -> dict:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


ROWS = [
    row("Capital of France?", "Paris", "It is Paris.", "[[A=B]]", 1.0),
    row("Boiling point of water in C?", "100", "About 90.", "[[A!=B]]", 0.0),
    row("2+2?", "4", "four", "They match. [[A=B]]", 1.0),
]


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    calls = tmp_path / "calls.jsonl"
    proc = subprocess.Popen([sys.executable, "-I", SCRIPT, "standins", str(calls), str(port)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and json.loads(proc.stdout.readline()) == {"standins": [port]}
    yield f"http://127.0.0.1:{port}", calls
    proc.kill()
    proc.wait()


@pytest.fixture
def verify(standin: tuple[str, Path]) -> Iterator[str]:
    JudgedVerify.judge_url = standin[0]
    server = ThreadingHTTPServer(("127.0.0.1", 0), JudgedVerify)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    JudgedVerify.template, JudgedVerify.chat = TEMPLATE, False


def replay_rows(tmp_path: Path, url: str, calls: Path, rows: list[dict], mode: str = "rollouts") -> list[ReplayResult]:
    path, keys = tmp_path / "rollouts.jsonl", tmp_path / "keys.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    keys.write_text(json.dumps(["responses_create_params", "response", "question", "expected_answer"]))
    args = [mode, url + "/verify", str(path), str(keys)]
    if mode == "probe":
        args.append(",".join(str(n) for n in range(1, len(rows) + 1)))
    args += [str(calls), "1", "10", str(CAP), "60"]
    done = subprocess.run([sys.executable, "-I", SCRIPT, *args], capture_output=True, timeout=60, check=True)
    lines = [json.loads(x) for x in done.stdout.decode().splitlines()]
    return sorted((r for x in lines for r in results_of(x)), key=lambda r: (r.line, r.probe or ""))


def a_run(tmp_path: Path, judge_inputs_changed: bool | None = None, rollouts_changed: bool | None = None) -> _Run:
    tree = make_git_tree(tmp_path / "repo", server_files("demo", answer_server("demo")))
    return _Run(tree, "demo", SandboxOptions(), change=ServerChange(judge_inputs_changed, rollouts_changed))


def gr203_finding(run: _Run, results: list[ReplayResult]) -> Finding:
    reproduction(run, results, cause="")
    return next(f for f in run.result().findings if f.id == "GR203")


# --- the replay client with a judge-asking /verify -------------------------------------------------------


def test_clean_recorded_rollouts_pass_gr203_and_gr204(tmp_path: Path, verify: str, standin: tuple[str, Path]) -> None:
    results = replay_rows(tmp_path, verify, standin[1], ROWS)
    assert [(r.line, r.model_calls, r.judge_answered, r.layout) for r in results] == [
        (n, 1, 1, "judge_evaluations") for n in (1, 2, 3)
    ]
    assert all(r.recorded_judge and r.matches for r in results), [(r.error, r.judge_unmatched) for r in results]
    run = a_run(tmp_path)
    reproduction(run, results, cause="")
    assert run.outcomes["GR203"].status == "pass", run.outcomes["GR203"].message
    assert "3 with their recorded judge calls" in run.outcomes["GR203"].message
    second = replay_rows(tmp_path, verify, standin[1], ROWS)  # each rollout's calls are answered afresh
    determinism(run, results, second)
    assert run.outcomes["GR204"].status == "pass"
    counts = replay_counts(results)
    assert (counts.rollouts, counts.recorded_judge, counts.no_model, counts.not_replayable) == (3, 3, 0, 0)
    assert counts.layouts == ["judge_evaluations"]


def test_a_changed_stored_reward_fails_on_its_line(tmp_path: Path, verify: str, standin: tuple[str, Path]) -> None:
    rows = [dict(ROWS[0]), dict(ROWS[1], reward=1.0), dict(ROWS[2])]
    results = replay_rows(tmp_path, verify, standin[1], rows)
    gr203 = gr203_finding(a_run(tmp_path), results)
    assert gr203.status == "fail" and gr203.line == 2
    assert "- line 2: stored reward 1, /verify returned 0" in gr203.message
    assert "line 1" not in gr203.message and "line 3" not in gr203.message


def test_an_edited_judge_prompt_fails_as_prompt_changed_naming_the_message(
    tmp_path: Path, verify: str, standin: tuple[str, Path]
) -> None:
    JudgedVerify.template = EDITED
    results = replay_rows(tmp_path, verify, standin[1], ROWS)
    assert all(r.judge_unmatched for r in results) and not any(r.recorded_judge for r in results)
    gr203 = gr203_finding(a_run(tmp_path), results)
    assert gr203.status == "fail" and gr203.line == 1
    assert "the judge prompt changed since these rollouts were recorded" in gr203.message
    assert "message 2 (user) differs" in gr203.message
    assert "[[A=B]]" in gr203.message and "[[EQUAL]]" in gr203.message  # the short diff, both sides
    assert [loc.line for loc in gr203.locations] == [1, 2, 3] and not gr203.pre_existing
    assert replay_counts(results).judge_prompt_changed == 3
    # Pre-existing only when the PR touches none of the server's code, prompts or configs (False).
    findings = {}
    for touched in (False, True, None):
        findings[touched] = gr203_finding(a_run(tmp_path / str(touched), judge_inputs_changed=touched), results)
    assert findings[False].pre_existing and "Pre-existing" in findings[False].message
    assert not findings[True].pre_existing and not findings[None].pre_existing


def test_a_reward_mismatch_with_a_prompt_change_is_never_pre_existing(tmp_path: Path) -> None:
    results = [ReplayResult(1, 1.0, 0.0), ReplayResult(2, 1.0, None, model_calls=1, judge_unmatched="x")]
    gr203 = gr203_finding(a_run(tmp_path, judge_inputs_changed=False), results)
    assert gr203.status == "fail" and not gr203.pre_existing


@pytest.mark.parametrize("layout", ["judge_output", "judgement_gen_base + judgement_base_gen", "judge_response"])
def test_answers_alone_cannot_show_a_prompt_edit_so_a_pr_changing_the_judge_inputs_but_not_the_rollouts_is_error(
    tmp_path: Path, layout: str
) -> None:
    """A recording of the judge's answers (no request, no prompt) answers whatever verify() asks: when the PR changes
    the server's code, prompts or configs and keeps the rollouts, the reward it reproduces proves nothing."""
    results = [ReplayResult(n, 1.0, 1.0, model_calls=1, judge_answered=1, layout=layout) for n in (1, 2)]
    edited = gr203_finding(a_run(tmp_path / "edited", judge_inputs_changed=True, rollouts_changed=False), results)
    assert edited.status == "error" and "lines 1, 2" in edited.message and f"`{layout}`" in edited.message
    regenerated = gr203_finding(a_run(tmp_path / "new", judge_inputs_changed=True, rollouts_changed=True), results)
    untouched = gr203_finding(a_run(tmp_path / "same", judge_inputs_changed=False, rollouts_changed=False), results)
    added = gr203_finding(a_run(tmp_path / "added"), results)
    assert regenerated.status == untouched.status == added.status == "pass"
    requests = [ReplayResult(n, 1.0, 1.0, model_calls=1, judge_answered=1, layout="judge_evaluations") for n in (1, 2)]
    seen = gr203_finding(a_run(tmp_path / "requests", judge_inputs_changed=True, rollouts_changed=False), requests)
    assert seen.status == "pass"  # the requests were matched: the prompt is what they were recorded with
    wrong = [ReplayResult(1, 1.0, 0.0, model_calls=1, judge_answered=1, layout=layout), results[1]]
    failing = gr203_finding(a_run(tmp_path / "wrong", judge_inputs_changed=True, rollouts_changed=False), wrong)
    assert failing.status == "fail" and "(lines 2)" in failing.message  # a wrong reward still fails, blind or not


def test_rollouts_without_a_recording_stay_error_naming_the_layouts(
    tmp_path: Path, verify: str, standin: tuple[str, Path]
) -> None:
    rows = [{k: v for k, v in r.items() if k != "judge_evaluations"} for r in ROWS]
    results = replay_rows(tmp_path, verify, standin[1], rows)
    assert all(r.model_calls == 1 and r.judge_answered == 0 and r.layout is None for r in results)
    gr203 = gr203_finding(a_run(tmp_path), results)
    assert (
        gr203.status == "error" and "`judge_evaluations`" in gr203.message and "`rubric_evaluations`" in gr203.message
    )
    assert replay_counts(results).not_replayable == 3


def test_a_chat_completions_judge_gets_the_recorded_answer_in_its_format(
    tmp_path: Path, verify: str, standin: tuple[str, Path]
) -> None:
    JudgedVerify.chat = True
    results = replay_rows(tmp_path, verify, standin[1], ROWS)
    assert all(r.recorded_judge and r.matches for r in results), [r.judge_unmatched for r in results]


def test_probes_of_a_judged_server_are_not_applicable_never_a_pass(
    tmp_path: Path, verify: str, standin: tuple[str, Path]
) -> None:
    first = replay_rows(tmp_path, verify, standin[1], ROWS)
    lines, top = probes.probe_lines(first)
    probed = replay_rows(tmp_path, verify, standin[1], [ROWS[n - 1] for n in lines], mode="probe")
    assert probed and all(r.model_calls == 1 and r.judge_answered == 0 for r in probed)
    outcome = probes.judge(first, probed, top or 1.0, "app.py")
    assert outcome.status == "skip" and outcome.skip_kind == "not_applicable"
    assert "no recorded judge calls" in outcome.message


# --- matching, unit by unit ------------------------------------------------------------------------------


def test_volatile_fields_do_not_matter_and_the_prompt_does() -> None:
    recording = rj.Recording(rj.recording_of(ROWS[0]))
    sent = judge_request(TEMPLATE, "Capital of France?", "Paris", "It is Paris.")
    sent.update(model="another-model", stream=False, metadata={"trace": "x"}, user="u1")
    answer, why = recording.answer("/v1/responses", sent)
    assert why is None and output_of(answer) == "[[A=B]]"
    other = judge_request(TEMPLATE, "Capital of France?", "Paris", "It is Lyon.")
    answer, why = rj.Recording(rj.recording_of(ROWS[0])).answer("/v1/responses", other)
    assert answer is None and "message 2 (user) differs" in (why or "") and "Lyon" in (why or "")
    # The deployment's sampling settings are not what the judge is asked; the output format and tools are.
    hotter = dict(sent, temperature=0.7, max_output_tokens=2048)
    answer, why = rj.Recording(rj.recording_of(ROWS[0])).answer("/v1/responses", hotter)
    assert why is None and output_of(answer) == "[[A=B]]"
    formatted = dict(sent, text={"format": {"type": "json_schema", "name": "verdict", "schema": {"type": "object"}}})
    answer, why = rj.Recording(rj.recording_of(ROWS[0])).answer("/v1/responses", formatted)
    assert answer is None and "`text`" in (why or "")


def test_a_diff_snippet_escapes_control_characters_and_quotes() -> None:
    text = rj.text_diff("say [[A=B]] now", 'say "\u202e\n[[X]] now')
    assert "\n" not in text and "\u202e" not in text and "\\u202e" in text
    assert '\\"' in text and "\\n" in text


def test_order_layouts_answer_one_call_each_then_refuse() -> None:
    recording = rj.Recording(rj.recording_of({"judge_output": "GRADE: A"}))
    answer, why = recording.answer("/v1/chat/completions", {"messages": [{"role": "user", "content": "anything"}]})
    assert why is None and answer["choices"][0]["message"]["content"] == "GRADE: A"
    answer, why = recording.answer("/v1/chat/completions", {"messages": [{"role": "user", "content": "again"}]})
    assert answer is None and "more judge calls than the 1 recorded" in (why or "")


def test_a_null_or_empty_layout_key_is_no_recording() -> None:
    assert rj.recording_of({"judge_evaluations": None}) is None
    assert rj.recording_of({"judge_evaluations": []}) is None
    assert rj.recording_of({"judge_output": None}) is None
    assert rj.recording_of({"judge_evaluations": [{"responses_create_params": {}, "response": "text"}]}) is None


def test_judge_inputs_are_the_servers_code_prompts_and_configs_and_the_rollouts_are_told_apart(tmp_path: Path) -> None:
    files = server_files("demo", answer_server("demo"))
    base = make_git_tree(tmp_path / "base", files)
    data_only = dict(files, **{"resources_servers/demo/data/example_rollouts.jsonl": "{}\n"})
    prompt = dict(files, **{"resources_servers/demo/prompt_templates/judge.txt": "Grade it.\n"})
    code = dict(files, **{"resources_servers/demo/app.py": files["resources_servers/demo/app.py"] + "\n# x\n"})
    for name, changed, expected in (("data", data_only, False), ("prompt", prompt, True), ("code", code, True)):
        head = make_git_tree(tmp_path / name, changed)
        change = server_change(base, head, "resources_servers/demo")
        assert change.judge_inputs is expected, name
        assert change.rollouts is (name == "data"), name  # only the first rewrites data/example_rollouts.jsonl
    assert server_change(base, base, "resources_servers/demo") == ServerChange(judge_inputs=False, rollouts=False)


# --- the report ----------------------------------------------------------------------------------------------


def test_the_comments_sandbox_line_says_how_the_rollouts_were_replayed() -> None:
    from gym_review_bot.models import ReplayCounts, Report, ServerReport, Timings, read_report
    from gym_review_bot.render.markdown import render_markdown
    from tests.conftest import finalized

    passed = Finding(id="GR203", severity="error", status="pass", title="t", message="All 5 reproduce.")
    srv = ServerReport(name="s", path="resources_servers/s", status="added", findings=[passed], sandbox_ran=True)
    srv.timings = Timings(build_s=1.0, boot_s=2.0, replay_s=3.0, tests_s=4.0)
    srv.replay = ReplayCounts(rollouts=5, recorded_judge=5, layouts=["judge_evaluations"])
    markdown = render_markdown(finalized(Report(servers=[srv])))
    assert "tests 4\\.0 s. Replay: 5 rollouts, 5 with a recorded judge." in markdown
    srv.replay = ReplayCounts(rollouts=6, no_model=1, recorded_judge=2, judge_prompt_changed=2, not_replayable=1)
    markdown = render_markdown(finalized(Report(servers=[srv])))
    assert (
        "Replay: 6 rollouts, 1 with no model, 2 with a recorded judge, 2 whose judge prompt changed, "
        "1 could not be." in markdown
    )
    assert read_report(Report(servers=[srv]).to_json()).servers[0].replay == srv.replay


# --- the other layouts, on the wheel's own rollouts -------------------------------------------------------------


def wheel_rows(wheel: Path, name: str) -> list[dict]:
    from conftest import wheel_server

    text = wheel_server(wheel, name)["data/example_rollouts.jsonl"].decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_recorded_request_and_response_answers_the_same_request(nemo_gym_wheel: Path) -> None:
    row = wheel_rows(nemo_gym_wheel, "aalcr")[0]
    recording = rj.recording_of(row)
    assert recording is not None and recording["layout"] == "judge_responses_create_params + judge_response"
    sent = dict(row["judge_responses_create_params"], model="from-the-config", stream=False)
    answer, why = rj.Recording(recording).answer("/v1/responses", sent)
    assert why is None and output_of(answer) == rj.output_text(row["judge_response"])
    sent["input"] = [dict(sent["input"][0], content=sent["input"][0]["content"] + " Be lenient.")]
    answer, why = rj.Recording(recording).answer("/v1/responses", sent)
    assert answer is None and "Be lenient." in (why or "")


def test_rubric_evaluations_answer_each_item_by_its_user_message(nemo_gym_wheel: Path) -> None:
    row = wheel_rows(nemo_gym_wheel, "inverse_if")[0]
    items = row["rubric_evaluations"]
    recording = rj.Recording(rj.recording_of(row))
    for item in reversed(items):  # any order
        sent = {
            "model": "m",
            "messages": [{"role": "system", "content": "Grade."}, {"role": "user", "content": item["judge_prompt"]}],
        }
        answer, why = recording.answer("/v1/chat/completions", sent)
        assert why is None and answer["choices"][0]["message"]["content"] == item["judge_response"]
    changed = {"messages": [{"role": "user", "content": items[0]["judge_prompt"].replace("Question", "Task", 1)}]}
    answer, why = rj.Recording(rj.recording_of(row)).answer("/v1/chat/completions", changed)
    assert answer is None and "differs from the recorded prompt" in (why or "")


def test_a_delegated_verify_is_answered_with_the_recorded_verify_response(nemo_gym_wheel: Path) -> None:
    row = wheel_rows(nemo_gym_wheel, "ns_tools")[0]
    delegated = row["delegated_response"]
    recording = rj.Recording(rj.recording_of(row))
    sent = {k: delegated[k] for k in ("responses_create_params", "response", "expected_answer")}
    answer, why = recording.answer("/verify", sent)
    assert why is None and answer["reward"] == delegated["reward"]
    other = dict(sent, expected_answer=str(delegated["expected_answer"]) + "0")
    answer, why = rj.Recording(rj.recording_of(row)).answer("/verify", other)
    assert answer is None and "`expected_answer` differs" in (why or "")


def test_structured_outputs_go_to_the_call_that_names_their_keys() -> None:
    row = {
        "answer_judgment": {"selected_answer": "actor_a", "answer_class": "correct_answer", "rationale": "r1"},
        "explanation_judgment": {"quality_class": "high", "uses_protected_rationale": False, "rationale": "r2"},
    }
    recording = rj.Recording(rj.recording_of(row))

    def asking(*keys: str) -> dict:
        schema = {"type": "object", "properties": {k: {"type": "string"} for k in keys}}
        return {
            "messages": [{"role": "user", "content": "Judge."}],
            "response_format": {"json_schema": {"schema": schema}},
        }

    explanation, why = recording.answer(
        "/v1/chat/completions", asking("quality_class", "uses_protected_rationale", "rationale")
    )
    assert why is None and json.loads(explanation["choices"][0]["message"]["content"])["quality_class"] == "high"
    answer, why = recording.answer("/v1/chat/completions", asking("selected_answer", "answer_class", "rationale"))
    assert why is None and json.loads(answer["choices"][0]["message"]["content"])["selected_answer"] == "actor_a"


def test_arena_judges_two_concurrent_calls_are_routed_by_which_answer_comes_first() -> None:
    row = {
        "response": {"output": [_message("The rain fell like a grudge.")]},
        "baseline_answer": "Fog rolled over the bayou.",
        "judgement_gen_base": "A is better: [[A>B]]",
        "judgement_base_gen": "B is better: [[B>A]]",
    }

    def asking(first: str, second: str) -> dict:
        return {"messages": [{"role": "user", "content": f"[Answer 1]\n{first}\n[Answer 2]\n{second}\nWhich?"}]}

    recording = rj.Recording(rj.recording_of(row))
    swapped, why = recording.answer(
        "/v1/chat/completions", asking(row["baseline_answer"], "The rain fell like a grudge.")
    )
    assert why is None and swapped["choices"][0]["message"]["content"] == row["judgement_base_gen"]
    direct, why = recording.answer(
        "/v1/chat/completions", asking("The rain fell like a grudge.", row["baseline_answer"])
    )
    assert why is None and direct["choices"][0]["message"]["content"] == row["judgement_gen_base"]
    answer, why = recording.answer("/v1/chat/completions", asking("x", "y"))
    assert answer is None and "more judge calls than the 2 recorded" in (why or "")
