"""Recorded judge calls in stored rollouts: the layouts the replay understands, and the stand-in's answers.

Standard library only. The replay client's container imports it (`_replay_client.py`, on the base image's
`python3 -I`): the replay process reads each row's recording with `recording_of` and hands it to the
stand-in model servers, which answer each call with `Recording.answer`. The bot imports it too, to count
statically which rollouts hold a recording (benchmarks/bench_judge_replay.py).

A recording is a list of calls, each with what the judge was asked (a whole request, or only its user
message, or nothing) and what it answered (a response object, or its output text). A call is matched:

- by request, when the layout holds one: after normalising what changes between runs or what verify()
  fills from its config (ids, timestamps, nulls and empty values, key order, `model`, `stream`, other
  transport fields, and the sampling settings of the judge's deployment: temperature, token limits...),
  the messages must be equal, and so must the other parameters (tools, the output format) when the
  call uses the API the recording was made with (Responses or Chat Completions);
- by user message, when the layout holds only the prompt (`rubric_evaluations`);
- by the recorded output's keys, for structured outputs (each answers the call whose request names all
  its keys);
- else in call order: the first call gets the first recorded output.

A call no recorded call matches is `unmatched`, with a short description of the first difference from
the nearest recorded request. Every answer is in the wire format of the path called: `/v1/responses`
gets a Responses API object, `/v1/chat/completions` a Chat Completions object, `/verify` (a delegated
resources server) the recorded verify response.
"""

import difflib
import json
import unicodedata

# (layout, what it holds) in the order they are tried; the README and the error message list them.
LAYOUTS = (
    ("judge_evaluations", "a list of {responses_create_params, response}: each judge request and response"),
    ("judge_responses_create_params + judge_response", "one judge request and its response"),
    ("delegated_response", "the verify response of the resources server verify() delegates to"),
    ("rubric_evaluations", "a list of {judge_prompt, judge_response}: each user message and the judge's text"),
    ("judge_output / judge_raw / judge_text / judge_response", "the judge's output text of one call"),
    ("judgement_gen_base + judgement_base_gen", "the judge's output texts of two calls, in call order"),
    ("answer_judgment + explanation_judgment", "structured judge outputs, each routed by its keys"),
)
LAYOUT_NAMES = tuple(name for name, _ in LAYOUTS)
OUTPUT_TEXT_KEYS = ("judge_output", "judge_raw", "judge_text")
ORDERED_TEXT_KEYS = ("judgement_gen_base", "judgement_base_gen")
KEYED_OUTPUT_KEYS = ("answer_judgment", "explanation_judgment")
# Layouts holding the judge's answers only: a changed judge prompt cannot be seen from them.
PROMPT_BLIND_LAYOUTS = frozenset(
    (*OUTPUT_TEXT_KEYS, "judge_response", " + ".join(ORDERED_TEXT_KEYS), " + ".join(KEYED_OUTPUT_KEYS))
)
# Top-level request fields that are transport, bookkeeping or filled from the model server's config.
TRANSPORT_FIELDS = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "service_tier",
        "background",
        "include",
        "prompt_cache_key",
        "prompt_cache_retention",
        "safety_identifier",
        "previous_response_id",
    }
)
# Sampling settings of the judge's deployment, filled from the config (the wheel's math_with_autograder recorded
# `max_output_tokens: null` and its config now sends 2048): not what the judge is asked.
SAMPLING_FIELDS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "seed",
        "max_output_tokens",
        "max_tokens",
        "max_completion_tokens",
        "max_tool_calls",
        "n",
        "frequency_penalty",
        "presence_penalty",
        "repetition_penalty",
        "top_logprobs",
        "logprobs",
        "truncation",
        "reasoning",
        "reasoning_effort",
        "extra_body",
    }
)
VOLATILE_KEYS = frozenset({"id", "call_id", "item_id", "response_id", "request_id", "created", "created_at"})
DEFAULTS = {"parallel_tool_calls": True, "tool_choice": "auto"}  # the APIs' defaults, sent or not
TEXT_PART_TYPES = ("input_text", "output_text", "text")
MAX_DIFF_SNIPPET = 90
STANDIN_MODEL = "gym-review-recorded-judge"
UNANSWERABLE = "the recorded answer cannot be given in the format of this call"


# --- reading a row's recording --------------------------------------------------------------------


def _call(request=None, kind=None, prompt=None, keys=None, response=None, text=None):
    return {"request": request, "kind": kind, "prompt": prompt, "keys": keys, "response": response, "text": text}


def recording_of(row):
    """The recording a stored rollout holds: {"layout", "requests", "calls"}; None when it holds none.

    `requests`: the calls can be matched by what the judge was asked (so a changed prompt is seen).
    A layout key whose value is null (no judge call when the rollout was recorded) is no recording.
    """
    if not isinstance(row, dict):
        return None
    for read in (_evaluations, _request_and_response, _delegated, _rubric, _output_text, _ordered, _keyed):
        found = read(row)
        if found is not None:
            return found
    return None


def _listed(row, key, fields, check, make):
    """The calls of a list-of-objects layout: None when any entry lacks its fields (then it is no recording)."""
    items = row.get(key)
    if not isinstance(items, list) or not items:
        return None
    calls = []
    for item in items:
        values = [item.get(f) for f in fields] if isinstance(item, dict) else None
        if values is None or not all(isinstance(v, check) for v in values):
            return None
        calls.append(make(*values))
    return {"layout": key, "requests": True, "calls": calls}


def _evaluations(row):
    make = lambda params, response: _call(request=params, kind="responses", response=response)  # noqa: E731
    return _listed(row, "judge_evaluations", ("responses_create_params", "response"), dict, make)


def _request_and_response(row):
    params, response = row.get("judge_responses_create_params"), row.get("judge_response")
    if not isinstance(params, dict) or not isinstance(response, dict):
        return None
    layout = "judge_responses_create_params + judge_response"
    return {"layout": layout, "requests": True, "calls": [_call(request=params, kind="responses", response=response)]}


def _delegated(row):
    response = row.get("delegated_response")
    if not isinstance(response, dict) or "reward" not in response:
        return None
    return {"layout": "delegated_response", "requests": True, "calls": [_call(kind="verify", response=response)]}


def _rubric(row):
    make = lambda prompt, text: _call(prompt=prompt, text=text)  # noqa: E731
    return _listed(row, "rubric_evaluations", ("judge_prompt", "judge_response"), str, make)


def _output_text(row):
    for key in OUTPUT_TEXT_KEYS:
        if isinstance(row.get(key), str):
            return {"layout": key, "requests": False, "calls": [_call(text=row[key])]}
    response = row.get("judge_response")
    if isinstance(response, str):
        return {"layout": "judge_response", "requests": False, "calls": [_call(text=response)]}
    if isinstance(response, dict) and isinstance(response.get("output") or response.get("choices"), list):
        return {"layout": "judge_response", "requests": False, "calls": [_call(response=response)]}
    return None


def _ordered(row):
    """arena_judge's two calls, sent at once (asyncio.gather): the candidate first (gen-base), then the baseline
    first (base-gen). With both answers known, a call is routed by which comes first in it (`first`); else in
    the order the calls arrive."""
    texts = [row.get(key) for key in ORDERED_TEXT_KEYS]
    if not all(isinstance(t, str) for t in texts):
        return None
    calls = [_call(text=t) for t in texts]
    candidate, baseline = _policy_text(row.get("response")), row.get("baseline_answer")
    if candidate and isinstance(baseline, str) and baseline and candidate != baseline:
        calls[0]["first"], calls[1]["first"] = [candidate, baseline], [baseline, candidate]
    return {"layout": " + ".join(ORDERED_TEXT_KEYS), "requests": False, "calls": calls}


def _policy_text(response):
    """The output text of the rollout's own (policy) response, a Responses API object."""
    return output_text(response) if isinstance(response, dict) else ""


def _keyed(row):
    outputs = [row.get(key) for key in KEYED_OUTPUT_KEYS]
    if not all(isinstance(o, dict) and o for o in outputs):
        return None
    calls = [_call(keys=sorted(o), text=json.dumps(o, ensure_ascii=False)) for o in outputs]
    return {"layout": " + ".join(KEYED_OUTPUT_KEYS), "requests": False, "calls": calls}


# --- normalising requests ----------------------------------------------------------------------------


def normalised(value):
    """Without volatile keys (ids, timestamps), nulls and empty values; key order does not matter to ==."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE_KEYS:
                continue
            item = normalised(item)
            if item is None or item == [] or item == {}:
                continue
            out[key] = item
        return out
    if isinstance(value, list):
        return [normalised(v) for v in value]
    return value


def _parts(content):
    """A message's content as [kind, value] parts: a string and a list of one text part are the same."""
    if isinstance(content, str):
        return [["text", content]]
    if not isinstance(content, list):
        return [["content", normalised(content)]]
    parts = []
    for part in content:
        if isinstance(part, str):
            parts.append(["text", part])
        elif isinstance(part, dict) and part.get("type", "text") in TEXT_PART_TYPES and "text" in part:
            parts.append(["text", part["text"]])
        elif isinstance(part, dict) and ("image_url" in part or "file_id" in part):
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            parts.append(["image", url or part.get("file_id")])
        else:
            parts.append(["part", normalised({k: v for k, v in part.items() if k != "type"})])
    return parts


def _message(item):
    """[role, parts] for a message item; ["item", the normalised item] for anything else (a tool call)."""
    if isinstance(item, dict) and "role" in item and "content" in item:
        extra = normalised({k: v for k, v in item.items() if k not in ("role", "content", "type", "status")})
        return [str(item["role"]), _parts(item["content"])] + ([extra] if extra else [])
    if isinstance(item, dict):
        return ["item", normalised({k: v for k, v in item.items() if k != "status"})]
    return ["item", item]


def canonical(body, kind):
    """(messages, parameters) of a Responses or Chat Completions request, normalised."""
    if not isinstance(body, dict):
        return [], {}
    messages = []
    if kind == "chat":
        messages = [_message(m) for m in body.get("messages") or []]
        rest = {k: v for k, v in body.items() if k != "messages"}
    else:
        if isinstance(body.get("instructions"), str) and body["instructions"]:
            messages.append(["instructions", [["text", body["instructions"]]]])
        given = body.get("input")
        if isinstance(given, str):
            messages.append(["user", [["text", given]]])
        elif isinstance(given, list):
            messages.extend(_message(m) for m in given)
        rest = {k: v for k, v in body.items() if k not in ("input", "instructions")}
    params = normalised({k: v for k, v in rest.items() if k not in TRANSPORT_FIELDS and k not in SAMPLING_FIELDS})
    for key, default in DEFAULTS.items():
        if params.get(key) == default:
            del params[key]
    return messages, params


def kind_of(path):
    """The API a path belongs to: "responses", "chat", "verify", or None."""
    path = path.split("?", 1)[0].rstrip("/")
    if path.endswith("/responses"):
        return "responses"
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/verify"):
        return "verify"
    return None


# --- describing a difference --------------------------------------------------------------------------


HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")  # control, format (bidi), unassigned, separators


def _esc(text):
    """A snippet of PR text on one line: quotes, control and format characters (bidi overrides) escaped."""
    quoted = json.dumps(text, ensure_ascii=False)[1:-1]
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in HIDDEN_CATEGORIES else c for c in quoted)


def _text_of(parts):
    return "".join(v if k == "text" else json.dumps(v, sort_keys=True, ensure_ascii=False) for k, v, *_ in parts)


def text_diff(recorded, now):
    """Where two texts first differ: 'recorded "…x…", now "…y…"', each side a short snippet around the change.

    Linear in the texts' length (a common prefix and suffix, no edit distance): a PR's prompt can be long."""
    if recorded == now:
        return "the texts are equal"
    start = 0
    limit = min(len(recorded), len(now))
    while start < limit and recorded[start] == now[start]:
        start += 1
    end = 0  # the common suffix, not overlapping the prefix
    while end < limit - start and recorded[-1 - end] == now[-1 - end]:
        end += 1
    lead = "…" if start > 30 else ""
    old = recorded[max(0, start - 30) : len(recorded) - end + 30][:MAX_DIFF_SNIPPET]
    new = now[max(0, start - 30) : len(now) - end + 30][:MAX_DIFF_SNIPPET]
    return f'at character {start + 1}: recorded "{lead}{_esc(old)}…", now "{lead}{_esc(new)}…"'


def describe(recorded_messages, messages, recorded_params=None, params=None):
    """The first difference between a recorded request and an incoming one, in words."""
    for n, (old, new) in enumerate(zip(recorded_messages, messages, strict=False), start=1):
        if old == new:
            continue
        role = new[0] if new and new[0] != "item" else "item"
        if old[0] != new[0]:
            return f"message {n}: role {_esc(str(new[0]))}, recorded {_esc(str(old[0]))}"
        if old[0] == "item":
            return f"message {n} ({role}) differs: {text_diff(_compact(old[1]), _compact(new[1]))}"
        old_text, new_text = _text_of(old[1]), _text_of(new[1])
        if old_text != new_text:
            return f"message {n} ({role}) differs {text_diff(old_text, new_text)}"
        return f"message {n} ({role}) differs in its parts or fields"
    if len(recorded_messages) != len(messages):
        n = min(len(recorded_messages), len(messages)) + 1
        if len(messages) > len(recorded_messages):
            role = messages[n - 1][0]
            what = f"message {n} ({_esc(str(role))}) is new: {_snippet(_text_of(messages[n - 1][1]))}"
        else:
            role = recorded_messages[n - 1][0]
            what = f"recorded message {n} ({_esc(str(role))}) is missing"
        return f"the request has {len(messages)} messages, the recording {len(recorded_messages)}: {what}"
    if recorded_params is not None and params is not None and recorded_params != params:
        for key in sorted(set(recorded_params) | set(params)):
            if recorded_params.get(key) != params.get(key):
                old, new = _compact(recorded_params.get(key)), _compact(params.get(key))
                return f"the request's `{_esc(key)}`: recorded {_snippet(old)}, now {_snippet(new)}"
    return "the request differs"


def _compact(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _snippet(text):
    return '"' + _esc(text[:MAX_DIFF_SNIPPET]) + ("…" if len(text) > MAX_DIFF_SNIPPET else "") + '"'


# --- answering -----------------------------------------------------------------------------------------


def output_text(response):
    """The text of a recorded Responses API or Chat Completions object."""
    if isinstance(response.get("choices"), list):
        choice = response["choices"][0] if response["choices"] else {}
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else ""
    texts = []
    for item in response.get("output") or []:
        if isinstance(item, dict) and item.get("type", "message") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    texts.append(part["text"])
    return "".join(texts)


def responses_object(text):
    return {
        "id": "resp_gym_review_recorded",
        "object": "response",
        "created_at": 0,
        "model": STANDIN_MODEL,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": None,
        "temperature": None,
        "top_p": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": [
            {
                "id": "msg_gym_review_recorded",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
    }


def chat_object(text):
    return {
        "id": "chatcmpl-gym-review-recorded",
        "object": "chat.completion",
        "created": 0,
        "model": STANDIN_MODEL,
        "choices": [
            {"index": 0, "finish_reason": "stop", "logprobs": None, "message": {"role": "assistant", "content": text}}
        ],
    }


def wire_answer(call, kind):
    """The recorded answer in the wire format of the API called."""
    response, text = call.get("response"), call.get("text")
    if kind == "verify":
        return response if isinstance(response, dict) else None
    if isinstance(response, dict):
        is_chat = isinstance(response.get("choices"), list)
        if (kind == "chat") == is_chat:
            return response
        text = output_text(response)
    if not isinstance(text, str):
        return None
    return chat_object(text) if kind == "chat" else responses_object(text)


class Recording:
    """One rollout's recorded calls, as the stand-ins answer them (calls may come in any order)."""

    def __init__(self, recording):
        self.layout = recording.get("layout")
        self.requests = bool(recording.get("requests"))
        self.calls = [c for c in recording.get("calls") or [] if isinstance(c, dict)]
        self.used = set()
        self._canonical = {}

    def answer(self, path, body):
        """(the answer to send, None) or (None, why no recorded call matches)."""
        kind = kind_of(path)
        if kind is None:
            return None, f"the recording holds no call to {_esc(path[:80])}"
        if kind == "verify":
            return self._delegated(body)
        keyed = [i for i, c in enumerate(self.calls) if c.get("keys")]
        prompted = [i for i, c in enumerate(self.calls) if c.get("prompt") is not None]
        requested = [i for i, c in enumerate(self.calls) if c.get("request") is not None]
        if requested:
            return self._by_request(kind, body, requested)
        if prompted:
            return self._by_prompt(kind, body, prompted)
        if keyed:
            return self._by_keys(kind, body, keyed)
        return self._in_order(kind, body)

    def _take(self, index, kind):
        answer = wire_answer(self.calls[index], kind)
        if answer is None:
            return None, UNANSWERABLE
        self.used.add(index)
        return answer, None

    def _pick(self, matches):
        unused = [i for i in matches if i not in self.used]
        return (unused or matches)[0]

    def _recorded(self, index):
        if index not in self._canonical:
            call = self.calls[index]
            self._canonical[index] = canonical(call["request"], call.get("kind") or "responses")
        return self._canonical[index]

    def _by_request(self, kind, body, indices):
        messages, params = canonical(body, kind)
        matches = []
        for i in indices:
            old_messages, old_params = self._recorded(i)
            same_api = (self.calls[i].get("kind") or "responses") == kind
            if old_messages == messages and (not same_api or old_params == params):
                matches.append(i)
        if matches:
            return self._take(self._pick(matches), kind)
        best = max(indices, key=lambda i: (_likeness(self._recorded(i)[0], messages), i not in self.used, -i))
        old_messages, old_params = self._recorded(best)
        same_api = (self.calls[best].get("kind") or "responses") == kind
        if same_api:
            return None, describe(old_messages, messages, old_params, params)
        return None, describe(old_messages, messages)

    def _by_prompt(self, kind, body, indices):
        messages, _ = canonical(body, kind)
        users = [_text_of(m[1]) for m in messages if m and m[0] == "user"]
        matches = [i for i in indices if self.calls[i]["prompt"] in users]
        if matches:
            return self._take(self._pick(matches), kind)
        if not users:
            return None, "the request has no user message to compare with the recorded prompts"
        best = max(
            indices, key=lambda i: difflib.SequenceMatcher(None, self.calls[i]["prompt"], users[-1]).quick_ratio()
        )
        return (
            None,
            f"the user message differs from the recorded prompt {text_diff(self.calls[best]['prompt'], users[-1])}",
        )

    def _by_keys(self, kind, body, indices):
        text = json.dumps(body, ensure_ascii=False)
        fits = [i for i in indices if all(f'"{k}"' in text or k in text for k in self.calls[i]["keys"])]
        unused = [i for i in fits if i not in self.used]
        if unused:
            best = max(unused, key=lambda i: len(self.calls[i]["keys"]))
            return self._take(best, kind)
        return None, "no recorded structured output names keys this request asks for"

    def _in_order(self, kind, body=None):
        text = _compact(body) if body is not None else ""
        for i, call in enumerate(self.calls):  # a call whose answers appear in its own order
            first = call.get("first")
            if i not in self.used and first and _comes_first(text, *first):
                return self._take(i, kind)
        for i in range(len(self.calls)):
            if i not in self.used:
                return self._take(i, kind)
        return None, f"verify() made more judge calls than the {len(self.calls)} recorded for this rollout"

    def _delegated(self, body):
        response = next((c.get("response") for c in self.calls if c.get("kind") == "verify"), None)
        if not isinstance(response, dict):
            return None, "the recording holds no delegated verify response"
        sent = normalised(body) if isinstance(body, dict) else {}
        recorded = normalised(response)
        for key in sorted(sent):
            if key not in recorded:
                return None, f"the delegated request's `{_esc(key)}` is not in the recorded verify response"
            if sent[key] != recorded[key]:
                old, new = _compact(recorded[key]), _compact(sent[key])
                return None, f"the delegated request's `{_esc(key)}` differs {text_diff(old, new)}"
        index = next(i for i, c in enumerate(self.calls) if c.get("kind") == "verify")
        self.used.add(index)
        return response, None


def _comes_first(text, one, other):
    """`one` appears in the text before `other` (both as JSON string bodies, as a request carries them)."""
    a, b = text.find(_compact(one)[1:-1]), text.find(_compact(other)[1:-1])
    return a >= 0 and b >= 0 and a < b


def _likeness(old, new):
    """How alike two message lists are: equal messages in place, then the nearest differing text."""
    same = sum(1 for a, b in zip(old, new, strict=False) if a == b)
    ratio = 0.0
    for a, b in zip(old, new, strict=False):
        if a != b:
            ratio = difflib.SequenceMatcher(None, _text_of(a[1]), _text_of(b[1])).quick_ratio() if a[0] != "item" else 0
            break
    return (same, ratio, -abs(len(old) - len(new)))
