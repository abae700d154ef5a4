"""Small NeMo Gym 0.4.0 servers for the sandbox tests, each with one way to misbehave."""

from __future__ import annotations

import json

# verify() gives 1.0 when the assistant's text contains the expected answer: rewards vary across rollouts.
ANSWER_APP = """
from nemo_gym.base_resources_server import (
    BaseResourcesServerConfig,
    BaseVerifyRequest,
    BaseVerifyResponse,
    SimpleResourcesServer,
)


class AnswerConfig(BaseResourcesServerConfig):
    pass


class AnswerVerifyRequest(BaseVerifyRequest):
    expected_answer: str


def response_text(body) -> str:
    return "".join(
        getattr(part, "text", "") or ""
        for item in body.response.output
        if getattr(item, "type", None) == "message"
        for part in item.content
    )


{extra}


class AnswerServer(SimpleResourcesServer):
    config: AnswerConfig

    async def verify(self, body: AnswerVerifyRequest) -> BaseVerifyResponse:
        {verify_body}
        return BaseVerifyResponse(**body.model_dump(), reward=reward)


if __name__ == "__main__":
    AnswerServer.run_webserver()
"""

FAIR_VERIFY = "reward = 1.0 if body.expected_answer in response_text(body) else 0.0"

CONFIG = """{name}:
  resources_servers:
    {name}:
      entrypoint: app.py
      domain: knowledge
      verified: false
      description: A sandbox test server
{name}_simple_agent:
  responses_api_agents:
    simple_agent:
      entrypoint: app.py
      resources_server:
        type: resources_servers
        name: {name}
      model_server:
        type: responses_api_models
        name: policy_model
"""

PASSING_TEST = """
def test_answer_is_found():
    assert "Paris" in "It is Paris."
"""

FAILING_TEST = """
def test_that_fails():
    assert 1 + 1 == 3, "arithmetic is broken"
"""

QUESTIONS = [
    ("What is the capital of France?", "Paris", "It is Paris."),
    ("What is 2 + 2?", "4", "The answer is 4."),
    ("Which planet is red?", "Mars", "I think it is Venus."),
    ("Who wrote Hamlet?", "Shakespeare", "William Shakespeare wrote it."),
    ("What is H2O?", "water", "It is a gas."),
]


def rollout(question: str, answer: str, text: str, reward: float) -> dict:
    """A rollout as NeMo Gym stores it, nulls included."""
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": question, "type": "message"}],
            "instructions": None,
            "temperature": None,
            "tools": [],
        },
        "response": {
            "id": "resp_1",
            "created_at": 1756074069.0,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "model": "test-model",
            "object": "response",
            "output": [
                {
                    "id": "msg_1",
                    "content": [{"annotations": [], "text": text, "type": "output_text", "logprobs": []}],
                    "role": "assistant",
                    "status": "completed",
                    "type": "message",
                }
            ],
            "parallel_tool_calls": True,
            "temperature": None,
            "tool_choice": "auto",
            "tools": [],
            "top_p": None,
        },
        "expected_answer": answer,
        "reward": reward,
    }


def rollouts_jsonl(rewards: list[float] | None = None) -> str:
    """Five rollouts; their stored rewards are what the fair verify() returns unless given."""
    rows = []
    for i, (question, answer, text) in enumerate(QUESTIONS):
        fair = 1.0 if answer in text else 0.0
        rows.append(rollout(question, answer, text, fair if rewards is None else rewards[i]))
    return "".join(json.dumps(r) + "\n" for r in rows)


def examples_jsonl() -> str:
    return "".join(
        json.dumps({"responses_create_params": {"input": [{"role": "user", "content": q}]}, "expected_answer": a})
        + "\n"
        for q, a, _ in QUESTIONS
    )


def answer_server(
    name: str,
    verify_body: str = FAIR_VERIFY,
    extra: str = "",
    rewards: list[float] | None = None,
    test: str = PASSING_TEST,
    requirements: str = "nemo-gym==0.4.0\n",
) -> dict[str, str]:
    """The files of a server directory, relative to it."""
    return {
        "app.py": ANSWER_APP.replace("{extra}", extra).replace("{verify_body}", verify_body),
        f"configs/{name}.yaml": CONFIG.format(name=name),
        "requirements.txt": requirements,
        "tests/test_app.py": test,
        "data/example.jsonl": examples_jsonl(),
        "data/example_rollouts.jsonl": rollouts_jsonl(rewards),
        "README.md": f"# {name}\n\nLicense: Apache-2.0\n",
    }


# A server without NeMo Gym (it boots in a moment): POST /verify answers 0.123, or `verify_status`.
STDLIB_APP = """
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/" and {endless_root!r}:
            self.send_response(200)
            self.end_headers()
            while True:
                self.wfile.write(b"x" * 65536)
        self.answer(200, {{"openapi": "3.1.0", "paths": {{}}}} if self.path == "/openapi.json" else {{}})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/verify" and {verify_status} == 200:
            self.answer(200, {{"reward": 0.123}})
        else:
            self.answer({verify_status}, {{"detail": "Not Found"}})

    def answer(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"""
