"""Runs inside the replay client's container, on the base image's `python3 -I`: standard library only.

The container shares its network namespace with the server's and has no other interface, so the
server is on 127.0.0.1. Its main process answers for the model servers the config names (stand-ins
that record each call and refuse every completion); the bot runs the other modes with `docker exec`:

    standins CALLS_FILE PORT...                       stand-in model servers, until killed
    get URL TIMEOUT CAP                               one GET: {"status", "error"} as JSON
    replay URL ITEMS CALLS CONCURRENCY TIMEOUT CAP DEADLINE   POST each item to URL, a JSON line each

Everything a server sends is read with a byte cap and a total deadline per request.
"""

import http.client
import json
import math
import os
import socket
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_ERROR_TEXT = 300
STANDIN_REFUSAL = (
    "gym-review-bot sandbox: this model server is a stand-in; model calls cannot be answered during the "
    "replay (the call was recorded)."
)


# --- stand-in model servers ------------------------------------------------------------------------


class StandIn(BaseHTTPRequestHandler):
    calls_file = "/tmp/calls.jsonl"
    lock = threading.Lock()

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _record(self):
        with self.lock, open(self.calls_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"port": self.server.server_port, "method": self.command, "path": self.path}) + "\n")

    def _answer(self, code, payload):
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - the base class's naming
        path = urllib.parse.urlsplit(self.path).path.rstrip("/")
        self._record()
        if path.endswith("/models"):
            self._answer(200, {"object": "list", "data": [{"id": "gym-review-stand-in", "object": "model"}]})
        else:
            self._answer(200, {"status": "ok"})

    def do_POST(self):  # noqa: N802
        self._record()
        length = min(int(self.headers.get("content-length") or 0), 64 * 1024 * 1024)
        while length > 0:
            chunk = self.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)
        self._answer(503, {"error": {"message": STANDIN_REFUSAL, "type": "gym_review_stand_in"}})


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


def count_calls(calls_file):
    if not calls_file or not os.path.exists(calls_file):
        return 0
    with open(calls_file, "rb") as fh:
        return sum(1 for _ in fh)


def replay(url, items_file, calls_file, concurrency, timeout, cap, deadline):
    concurrency, timeout, cap = int(concurrency), float(timeout), int(cap)
    end = time.monotonic() + float(deadline)
    stop = threading.Event()
    out_lock = threading.Lock()
    if calls_file == "-":
        calls_file = ""

    def emit(result):
        with out_lock:
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()

    def one(item):
        result = {"line": item["line"], "returned": None, "error": None, "aborted": False, "status": None}
        left = end - time.monotonic()
        if stop.is_set() or left <= 0:
            why = "the server stopped answering" if stop.is_set() and left > 0 else "the replay deadline passed"
            result.update(error=f"not replayed: {why}", aborted=True, deadline=left <= 0)
            emit(result)
            return
        before = count_calls(calls_file)
        body = json.dumps(item["body"], separators=(",", ":")).encode()
        status, data, error = request(url, "POST", body, min(timeout, left), cap)
        result["status"] = status
        if calls_file:
            result["model_calls"] = count_calls(calls_file) - before
        if error is not None:
            aborted = status is None
            result.update(error=error, aborted=aborted)
            if aborted:
                stop.set()
        elif status != 200:
            text = (data or b"")[:MAX_ERROR_TEXT].decode("utf-8", "replace")
            result["error"] = f"HTTP {status}: {text}"
        else:
            result["returned"], result["error"] = reward_of(data)
        emit(result)

    with open(items_file, encoding="utf-8") as fh, ThreadPoolExecutor(max(1, concurrency)) as pool:
        pending = []
        for text in fh:
            pending.append(pool.submit(one, json.loads(text)))
            if len(pending) >= concurrency * 4:
                pending = [f for f in pending if not f.done()]
                if len(pending) >= concurrency * 4:
                    pending[0].result()
        for fut in pending:
            fut.result()


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "standins":
        standins(args[0], args[1:])
    elif mode == "get":
        get(*args)
    elif mode == "replay":
        replay(*args)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main()
