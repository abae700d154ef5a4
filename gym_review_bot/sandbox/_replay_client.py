"""Runs inside the replay client's container, on the base image's `python3 -I`: standard library only.

The container shares its network namespace with the server's and has no other interface, so the
server is on 127.0.0.1. Its main process answers for the model servers the config names (stand-ins
that record each call and answer it from the current rollout's recorded judge calls, or refuse it:
_recorded_judge.py, next to this script); the bot runs the other modes with `docker exec`:

    standins CALLS_FILE PORT...                  stand-in model servers, until killed
    get URL TIMEOUT CAP                          one GET: {"status", "error"} as JSON
    replay URL ITEMS CALLS CONC TIMEOUT CAP DEADLINE
                                                 POST each item ({"line", "body"}) to URL, a JSON line each
    rollouts URL FILE KEYS CALLS CONC TIMEOUT CAP DEADLINE
                                                 the same for each row of a stored rollouts file, read
                                                 one line at a time (KEYS: a JSON list of the keys the
                                                 agent sent, or -); rows that cannot be replayed are
                                                 reported with why
    probe URL FILE KEYS LINES CALLS CONC TIMEOUT CAP DEADLINE
                                                 an empty and an unrelated response for each listed row

Everything a server sends is read with a byte cap and a total deadline per request. A result that got
a reward lists the paths of the request whose number equals it (`leaks`).
"""

import hashlib
import http.client
import itertools
import json
import math
import os
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# `python3 -I` leaves the script's directory off sys.path: the recorded judge module sits next to this script.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _recorded_judge  # noqa: E402 - after the path it is found on

MAX_ERROR_TEXT = 300
STANDIN_REFUSAL = (
    "gym-review-bot sandbox: this model server is a stand-in; model calls cannot be answered during the "
    "replay (the call was recorded)."
)
RECORDING_SUFFIX = ".recording.json"  # next to the calls file: the current rollout's recorded judge calls
MAX_MODEL_REQUEST_BYTES = 64 * 1024 * 1024


# --- stand-in model servers ------------------------------------------------------------------------


class StandIn(BaseHTTPRequestHandler):
    """A model server: answers a call from the current rollout's recording (written next to the calls file by the
    replay), else refuses it.

    Each call is written to the calls file with its outcome: `answered`, `unmatched` (the recording holds
    no such call; `why` says how it differs), `unanswerable` or `no recording`.
    """

    calls_file = "/tmp/calls.jsonl"
    lock = threading.Lock()
    current = {"token": None, "recording": None}  # the rollout being replayed and its calls' state

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _record(self, outcome="answered", why=None, token=None):
        entry = {"port": self.server.server_port, "method": self.command, "path": self.path, "outcome": outcome}
        if why:
            entry["why"] = why[:400]
        if token is not None:
            entry["token"] = token
        with self.lock, open(self.calls_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")

    def _answer(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, message):
        self._answer(503, {"error": {"message": message, "type": "gym_review_stand_in"}})

    def do_GET(self):  # noqa: N802 - the base class's naming
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        self._record()
        if path.endswith("/models"):
            self._answer(200, {"object": "list", "data": [{"id": "gym-review-stand-in", "object": "model"}]})
        else:
            self._answer(200, {"status": "ok"})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        data = self.rfile.read(length) if 0 <= length <= MAX_MODEL_REQUEST_BYTES else b""
        if length > MAX_MODEL_REQUEST_BYTES:
            _drain(self.rfile, length)
        token, recording = current_recording(self.calls_file + RECORDING_SUFFIX)
        if recording is None:
            self._record("no recording", token=token)
            self._refuse(STANDIN_REFUSAL)
            return
        try:
            body = json.loads(data)
        except (ValueError, RecursionError):
            body = None
        with self.lock:
            answer, why = recording.answer(self.path, body)
        if answer is not None:
            self._record(token=token)
            self._answer(200, answer)
            return
        outcome = "unanswerable" if why == _recorded_judge.UNANSWERABLE else "unmatched"
        self._record(outcome, why, token)
        self._refuse(f"gym-review-bot sandbox: the recorded judge calls hold no answer to this call: {why}")


def _drain(stream, length):
    while length > 0:
        chunk = stream.read(min(length, 65536))
        if not chunk:
            break
        length -= len(chunk)


def current_recording(path):
    """(token, Recording) of the rollout being replayed; the same Recording while its token stays, so a
    recorded call is answered once before it is answered again. (None, None) when there is none."""
    try:
        with open(path, encoding="utf-8") as fh:
            written = json.load(fh)
    except (OSError, ValueError):
        return None, None
    token = written.get("token") if isinstance(written, dict) else None
    with StandIn.lock:
        if StandIn.current["token"] != token:
            held = written.get("recording") if isinstance(written, dict) else None
            StandIn.current = {"token": token, "recording": _recorded_judge.Recording(held) if held else None}
        return token, StandIn.current["recording"]


def set_recording(calls_file, token, recording):
    """Hand the next rollout's recording (or none) to the stand-ins: written whole, then renamed into place."""
    path = calls_file + RECORDING_SUFFIX
    with open(path + ".new", "w", encoding="utf-8") as fh:
        json.dump({"token": token, "recording": recording}, fh)
    os.replace(path + ".new", path)


def standins(calls_file, ports):
    StandIn.calls_file = calls_file
    open(calls_file, "a").close()
    for port in ports:
        server = ThreadingHTTPServer(("127.0.0.1", int(port)), StandIn)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"standins": [int(p) for p in ports]}), flush=True)
    while True:
        time.sleep(3600)


# --- bounded HTTP ------------------------------------------------------------------------------------


_local = threading.local()


def _connection(host, port, timeout):
    """This thread's keep-alive connection to the server (a new one after any trouble)."""
    conn = getattr(_local, "conn", None)
    if conn is None or (conn.host, conn.port) != (host, port):
        conn = _local.conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn.timeout = timeout
    if conn.sock is not None:
        conn.sock.settimeout(timeout)
    return conn


def _drop(conn):
    conn.close()
    if getattr(_local, "conn", None) is conn:
        _local.conn = None


def request(url, method, body, timeout, cap):
    """(status, body bytes, error): one request, its whole exchange within `timeout`, its body within `cap`."""
    parts = urllib.parse.urlsplit(url)
    conn = _connection(parts.hostname, parts.port or 80, timeout)
    if conn.sock is not None:
        # A kept connection the server may have closed while idle: on that, once more on a new one.
        status, data, error = _exchange(conn, parts, method, body, timeout, cap)
        if error is None or not error.startswith("connection failed") or status is not None:
            return status, data, error
        conn = _connection(parts.hostname, parts.port or 80, timeout)
    return _exchange(conn, parts, method, body, timeout, cap)


def _exchange(conn, parts, method, body, timeout, cap):
    cut = threading.Event()
    key = object()
    with _watch_lock:
        _watched[key] = (time.monotonic() + timeout, conn, cut)
    _start_watchdog()
    late = f"timed out after {timeout:g} s"
    keep = False
    try:
        headers = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, parts.path or "/", body=body, headers=headers)
        resp = conn.getresponse()
        data = bytearray()
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            data += chunk
            if len(data) > cap:
                return resp.status, None, f"the answer exceeds {cap} bytes"
        if cut.is_set():  # the deadline ended the body early: not an answer
            return None, None, late
        keep = not resp.will_close
        return resp.status, bytes(data), None
    except (OSError, http.client.HTTPException) as exc:
        if cut.is_set() or isinstance(exc, TimeoutError):
            return None, None, late
        return None, None, f"connection failed ({type(exc).__name__}: {str(exc)[:160]})"
    finally:
        with _watch_lock:
            _watched.pop(key, None)
        if not keep or cut.is_set():
            _drop(conn)


_watched = {}
_watch_lock = threading.Lock()
_watchdog = []


def _start_watchdog():
    """One thread ends every request past its deadline (a timer per request costs a thread each)."""
    with _watch_lock:
        if _watchdog:
            return
        _watchdog.append(threading.Thread(target=_watch, daemon=True))
    _watchdog[0].start()


def _watch():
    while True:
        time.sleep(0.05)
        now = time.monotonic()
        with _watch_lock:
            late = [key for key, (deadline, _, _) in _watched.items() if deadline <= now]
            ended = [_watched.pop(key) for key in late]
        for _, conn, cut in ended:
            _cut(conn, cut)


def _cut(conn, cut):
    """The deadline: end a request however slowly the server sends (a socket timeout bounds only gaps)."""
    cut.set()
    try:
        if conn.sock is not None:
            conn.sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def get(url, timeout, cap):
    status, _, error = request(url, "GET", None, float(timeout), int(cap))
    print(json.dumps({"status": status, "error": error}), flush=True)


# --- replay ------------------------------------------------------------------------------------------


def reward_of(data):
    """(reward, error) of a /verify answer: a finite float or why not."""

    def no_constants(name):
        raise ValueError(f"{name} is not a number")

    try:
        value = json.loads(data, parse_constant=no_constants)
    except (ValueError, RecursionError) as exc:
        return None, f"the answer is not JSON ({str(exc)[:100]})"
    if not isinstance(value, dict):
        return None, "the answer is not a JSON object"
    reward = value.get("reward")
    if isinstance(reward, bool) or not isinstance(reward, (int, float)):
        return None, f"the answer has no numeric `reward` (found {_short(reward)})"
    try:
        number = float(reward)
    except OverflowError:
        return None, f"the answer's `reward` does not fit a float ({len(str(reward))} digits)"
    if not math.isfinite(number):
        return None, "the answer's `reward` is not finite"
    return number, None


def _short(value):
    text = repr(value) if not isinstance(value, str) else repr(value[:80])
    return text[:100]


def calls_since(calls_file, offset):
    """(the calls file's size, the calls written from `offset` on)."""
    if not calls_file or not os.path.exists(calls_file):
        return offset, []
    with open(calls_file, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    calls = []
    for line in data.splitlines():
        try:
            calls.append(json.loads(line))
        except ValueError:
            calls.append({"outcome": "unreadable"})
    return offset + len(data), calls


def judge_summary(calls, token):
    """What the stand-ins did for one rollout: its calls, how many the recording answered, the first call it
    holds no answer to and why. Calls of another token (a late call of an earlier rollout) are not its own."""
    own = [c for c in calls if c.get("token") in (None, token)]
    answered = sum(1 for c in own if c.get("outcome", "answered") == "answered")
    summary = {"model_calls": len(own), "judge_answered": answered}
    unmatched = next((c for c in own if c.get("outcome") == "unmatched"), None)
    if unmatched is not None:
        summary["judge_unmatched"] = str(unmatched.get("why") or "the request differs")[:400]
    return summary


# --- the rows to send ---------------------------------------------------------------------------------

MAX_ROW_BYTES = 64 * 1024 * 1024
MAX_LEAK_PATHS = 20
TOLERANCE = 1e-6
# One is picked per run, and the probe's message id is random: a verify() cannot tell a probe by its text.
UNRELATED_TEXTS = (
    "The quick brown fox jumps over the lazy dog. Bananas are yellow.",
    "Tides are caused mostly by the Moon's gravity. A violin has four strings.",
    "Honey never spoils if it is sealed. The capital of Mongolia is Ulaanbaatar.",
    "Penguins cannot fly, but they swim well. Copper turns green as it weathers.",
)


def strip_nulls(value):
    """Drop keys whose value is null, recursively: stored rollouts carry nulls today's schema rejects."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


def stored_reward(raw):
    """(the stored reward as a finite float, or why it is not one)."""
    if not isinstance(raw, bool) and isinstance(raw, (int, float)):
        try:
            number = float(raw)
            if math.isfinite(number):
                return number, None
        except OverflowError:
            pass
    if isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) > 10**30:
        found = f"an integer of {len(str(abs(raw)))} digits"
    else:
        found = repr(raw) if len(repr(raw)) <= 80 else repr(raw)[:77] + "..."
    return None, f"has no stored `reward` that is a finite float (found {found})"


def read_rows(path):
    """(line number, parsed row or None, error) for each non-blank line; one line in memory at a time."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(iter(lambda: fh.readline(MAX_ROW_BYTES + 1), b""), start=1):
            if len(raw) > MAX_ROW_BYTES and not raw.endswith(b"\n"):
                _skip_rest_of_line(fh)
                yield number, None, f"line is longer than {MAX_ROW_BYTES:,} bytes"
                continue
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield number, None, "line is not valid UTF-8"
                continue
            try:
                yield number, json.loads(text, parse_constant=_no_constant), None
            except RecursionError:
                yield number, None, "is JSON nested too deeply"
            except ValueError as exc:
                yield number, None, f"not valid JSON ({str(exc).splitlines()[0][:200]})"


def _skip_rest_of_line(fh):
    chunk = b""
    while not chunk.endswith(b"\n"):
        chunk = fh.readline(1 << 20)
        if not chunk:
            return


def _no_constant(name):
    raise ValueError(f"{name} is not a number")


def rollout_item(number, row, keys):
    """What to send for one stored rollout: the verify request the agent sent (the example's keys, the
    response), its stored reward and its prompt; or why the row cannot be replayed."""
    if not isinstance(row, dict) or "response" not in row or "responses_create_params" not in row:
        why = "is not a rollout (needs `responses_create_params` and `response`)"
        return {"line": number, "error": why, "usable": False}
    body = strip_nulls({k: v for k, v in row.items() if k != "reward" and (keys is None or k in keys)})
    reward, error = stored_reward(row.get("reward"))
    item = {"line": number, "body": body, "stored": reward, "usable": True, "prompt": prompt_of(body)}
    recording = _recorded_judge.recording_of(row)
    if recording is not None:
        item["recording"] = recording
    if error:
        item.update(error=error, body=None, usable=False)
    return item


def prompt_of(body):
    """A short digest of what the model was asked: the request's `input` (else the whole request)."""
    params = body.get("responses_create_params")
    asked = params.get("input") if isinstance(params, dict) and "input" in params else body
    text = json.dumps(asked, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def probe_bodies(body, text):
    """An empty response and an unrelated one, built on a stored rollout so the request validates."""
    response = body.get("response") if isinstance(body.get("response"), dict) else {}
    message = {
        "id": f"msg_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }
    return {
        "empty response": dict(body, response=dict(response, output=[])),
        "unrelated text": dict(body, response=dict(response, output=[message])),
    }


def read_keys(path):
    if path == "-":
        return None
    with open(path, encoding="utf-8") as fh:
        keys = json.load(fh)
    return set(keys) if isinstance(keys, list) else None


def rollout_items(path, keys_file, end):
    """Every row of a stored rollouts file as an item; once the deadline has passed, the rest of the rows are
    one item, `late_ranges` (the line numbers of the rows not sent, as [first, last] runs), found unparsed."""
    keys = read_keys(keys_file)
    for number, row, error in read_rows(path):
        if time.monotonic() >= end:
            yield {"late_ranges": late_ranges(path, number)}
            return
        if error:
            yield {"line": number, "error": error, "usable": False}
        else:
            yield rollout_item(number, row, keys)


def late_ranges(path, first):
    """[first, last] runs of the non-blank lines from line `first` on, without parsing them."""
    ranges = []
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if number < first or not raw.strip():
                continue
            if ranges and ranges[-1][1] == number - 1:
                ranges[-1][1] = number
            else:
                ranges.append([number, number])
    return ranges


def probe_items(path, keys_file, lines_text):
    """For each listed line of a stored rollouts file, its two probes."""
    keys, wanted = read_keys(keys_file), {int(n) for n in lines_text.split(",") if n}
    text = secrets.choice(UNRELATED_TEXTS)
    for number, row, error in read_rows(path):
        if number in wanted and not error:
            item = rollout_item(number, row, keys)
            for kind, body in probe_bodies(item.get("body") or {}, text).items() if item.get("usable") else ():
                yield {"line": number, "probe": kind, "body": body}


def json_items(path):
    with open(path, encoding="utf-8") as fh:
        for text in fh:
            yield json.loads(text)


def leaks(value, reward, path=""):
    """Paths in a request body whose number (or numeric string) equals the reward it got: a copied reward."""
    found = []
    stack = [(value, path)]
    while stack and len(found) < MAX_LEAK_PATHS:
        node, where = stack.pop()
        if isinstance(node, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]") for i, v in enumerate(node))
        elif _number(node) is not None and abs(_number(node) - reward) <= TOLERANCE:
            found.append(where)
    return sorted(found)


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    if isinstance(value, str) and len(value) <= 40:
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


# --- replay ------------------------------------------------------------------------------------------


def send_all(url, items, calls_file, concurrency, timeout, cap, deadline, end=None):
    """POST each item's body to URL (a JSON line each on stdout); items without a body are reported as they are."""
    concurrency, timeout, cap = int(concurrency), float(timeout), int(cap)
    end = end if end is not None else time.monotonic() + float(deadline)
    stop = threading.Event()
    out_lock = threading.Lock()
    if calls_file == "-":
        calls_file = ""
    tokens = itertools.count(1)

    def emit(result):
        text = json.dumps(result) + "\n"
        with out_lock:
            sys.stdout.write(text)

    def unsent(item):
        """A result for an item that is not sent: a row that cannot be replayed (its own error), or one too late."""
        item.pop("body", None)
        item["layout"] = (item.pop("recording", None) or {}).get("layout")
        result = {"returned": None, "error": None, "aborted": False, "status": None, **item}
        left = end - time.monotonic()
        if result.pop("late", False) or stop.is_set() or left <= 0:
            why = "the server stopped answering" if stop.is_set() and left > 0 else "the replay deadline passed"
            result.update(error=f"not replayed: {why}", aborted=True, deadline=left <= 0)
        emit(result)

    def one(item):
        if stop.is_set() or end - time.monotonic() <= 0:
            unsent(item)
            return
        body, recording = item.pop("body"), item.pop("recording", None)
        result = {"returned": None, "error": None, "aborted": False, "status": None, **item}
        if recording is not None:
            result["layout"] = recording.get("layout")
        left = end - time.monotonic()
        if calls_file:  # one rollout at a time (concurrency 1): the stand-ins answer from its recording
            token = f"{os.getpid()}:{next(tokens)}"
            set_recording(calls_file, token, recording)
            before = os.path.getsize(calls_file) if os.path.exists(calls_file) else 0
        data_out = json.dumps(body, separators=(",", ":")).encode()
        status, data, error = request(url, "POST", data_out, min(timeout, left), cap)
        result["status"] = status
        if calls_file:
            _, calls = calls_since(calls_file, before)
            result.update(judge_summary(calls, token))
        if error is not None:
            aborted = status is None
            # A request the overall deadline cut is the deadline's doing, not a stalled server's.
            result.update(error=error, aborted=aborted, deadline=aborted and time.monotonic() >= end - 0.05)
            if aborted:
                stop.set()
        elif status != 200:
            text = (data or b"")[:MAX_ERROR_TEXT].decode("utf-8", "replace")
            result["error"] = f"HTTP {status}: {text}"
        else:
            result["returned"], result["error"] = reward_of(data)
            if result["returned"] is not None:
                result["leaks"] = leaks(body, result["returned"])
        emit(result)

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        pending = []
        for item in items:
            if "late_ranges" in item:
                emit(item)
                continue
            if item.get("body") is None or stop.is_set() or time.monotonic() >= end:
                unsent(item)  # no request to make: answered here, without a thread
                continue
            pending.append(pool.submit(one, item))
            if len(pending) >= concurrency * 4:
                pending = [f for f in pending if not f.done()]
                if len(pending) >= concurrency * 4:
                    pending[0].result()
        for fut in pending:
            fut.result()
    sys.stdout.flush()


def replay(url, items_file, calls_file, concurrency, timeout, cap, deadline):
    send_all(url, json_items(items_file), calls_file, concurrency, timeout, cap, deadline)


def replay_rollouts(url, rollouts_file, keys_file, calls_file, concurrency, timeout, cap, deadline):
    end = time.monotonic() + float(deadline)
    items = rollout_items(rollouts_file, keys_file, end)
    send_all(url, items, calls_file, concurrency, timeout, cap, deadline, end)


def probe(url, rollouts_file, keys_file, lines, calls_file, concurrency, timeout, cap, deadline):
    send_all(url, probe_items(rollouts_file, keys_file, lines), calls_file, concurrency, timeout, cap, deadline)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "standins":
        standins(args[0], args[1:])
    elif mode == "get":
        get(*args)
    elif mode == "replay":
        replay(*args)
    elif mode == "rollouts":
        replay_rollouts(*args)
    elif mode == "probe":
        probe(*args)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
