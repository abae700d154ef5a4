"""Runs inside the sandbox container: copy the server to the writable tmpfs, then serve it or test it.

This file is copied into the image and run by the image's own Python; it imports nothing from the bot.
"""

import base64
import hashlib
import os
import runpy
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SOURCE_ROOT = "/src"
WORK_ROOT = "/work"
JUNIT_MARK = "gym-review: junit+ "  # the report follows in base64 chunks, one per line
END_MARK = "gym-review: junit-end "  # then this line, the last of the container's output
JUNIT_CHUNK = 8000
MAX_JUNIT_BYTES = 4 * 1024 * 1024
# Set in the run image only: there, and only there, the launcher may end every other process of its user.
SANDBOX_ENV = "GYM_REVIEW_SANDBOX"


def mark(event: str) -> None:
    """A wall-clock mark the bot reads back from the log to split the boot time."""
    print(f"gym-review: t={time.time():.3f} event={event}", flush=True)


def copy_server(server_dir: str) -> str:
    """Copy the read-only server directory (and the root's pytest config) to the writable tmpfs."""
    dst = os.path.join(WORK_ROOT, server_dir)
    shutil.copytree(os.path.join(SOURCE_ROOT, server_dir), dst, symlinks=True, dirs_exist_ok=True)
    for name in os.listdir(SOURCE_ROOT):
        path = os.path.join(SOURCE_ROOT, name)
        if os.path.isfile(path) and not os.path.islink(path):
            shutil.copy(path, os.path.join(WORK_ROOT, name))
    os.chdir(dst)
    # `resources_servers.<name>` imports resolve to this copy before the installed wheel's namespace.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (WORK_ROOT, os.environ.get("PYTHONPATH")) if p)
    sys.path.insert(0, WORK_ROOT)
    return dst


def has_pytest_config(directory: str) -> bool:
    """Whether pytest would find its configuration in this directory."""
    markers = {"pytest.ini": "", "pyproject.toml": "[tool.pytest", "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}
    for name, marker in markers.items():
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                if marker in fh.read():
                    return True
    return False


def pytest_argv(report_path: str) -> list[str]:
    """pytest on tests/, its verbosity fixed (the summary line is always printed), its junit report to `report_path`."""
    argv = [sys.executable, "-m", "pytest", "tests/", "--verbosity=-1", "-rfE", "-p", "no:cacheprovider"]
    argv += ["--color=no", f"--junitxml={report_path}"]
    directory = os.getcwd()
    while not has_pytest_config(directory) and directory not in (WORK_ROOT, "/"):
        directory = os.path.dirname(directory)
    if not has_pytest_config(directory):
        # Outside NeMo Gym's tree its root config is missing: apply the asyncio mode it sets.
        argv += ["-o", "asyncio_mode=auto"]
    return argv


def collect(argv_for) -> tuple[int, bytes, bool]:
    """Run pytest in a child; (its exit code, the junit report it wrote, whether the report was over the cap).

    The report path is a FIFO under a fresh directory with random names, read while pytest runs: what
    reaches it after pytest's process has ended and the other processes are gone is never read.
    """
    private = tempfile.mkdtemp(prefix="gym-review-")
    fifo = os.path.join(private, secrets.token_hex(16) + ".xml")
    os.mkfifo(fifo, 0o600)
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # read and write: a reader is there before pytest opens it
    report, over = bytearray(), False

    def drain() -> None:
        nonlocal over
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            if len(report) + len(chunk) > MAX_JUNIT_BYTES:
                over = True
            else:
                report.extend(chunk)

    child = subprocess.Popen(argv_for(fifo))
    while child.poll() is None:
        if select.select([fd], [], [], 0.2)[0]:
            drain()
    drain()
    end_other_processes()
    drain()
    os.close(fd)
    code = child.returncode
    return (code if code >= 0 else 128 - code), bytes(report), over


def end_other_processes() -> None:
    """In the sandbox's tests container, kill what the tests left running, so nothing writes after pytest."""
    if not os.environ.get(SANDBOX_ENV) or os.getuid() == 0 or os.getpid() == 1:
        return
    me = os.getpid()
    for _ in range(100):
        others = [n for n in os.listdir("/proc") if n.isdigit() and int(n) not in (1, me) and _alive(n)]
        if not others:
            return
        try:
            os.kill(-1, signal.SIGKILL)  # every process of this user but this one and init
        except OSError:
            pass
        time.sleep(0.05)


def _alive(pid: str) -> bool:
    """Whether a process is more than a zombie (init reaps those)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def report_lines(code: int, report: bytes, over: bool) -> list[str]:
    """The report as the bot reads it: base64 chunks, then one end line (the container's last output)."""
    encoded = base64.b64encode(report).decode()
    lines = [JUNIT_MARK + encoded[i : i + JUNIT_CHUNK] for i in range(0, len(encoded), JUNIT_CHUNK)]
    digest = hashlib.sha256(report).hexdigest()
    lines.append(f"{END_MARK}exit={code} bytes={len(report)} sha256={digest} oversize={int(over)}")
    return lines


def run_tests() -> None:
    """Run pytest, then print its junit report for the bot and exit with pytest's code."""
    code, report, over = collect(pytest_argv)
    sys.stdout.flush()
    print("\n" + "\n".join(report_lines(code, report, over)), flush=True)
    sys.exit(code)


def serve(server_dir: str, config_file: str, config_key: str, entrypoint: str) -> None:
    """Resolve the config as `ng_run +config_paths=[FILE]` does, then start the entrypoint as its child would."""
    from nemo_gym import global_config
    from omegaconf import OmegaConf

    sys.argv = [sys.argv[0], f"+config_paths=[{config_file}]"]
    resolved = global_config.get_global_config_dict()
    mark("config-resolved")
    os.environ[global_config.NEMO_GYM_CONFIG_DICT_ENV_VAR_NAME] = OmegaConf.to_yaml(resolved)
    os.environ[global_config.NEMO_GYM_CONFIG_PATH_ENV_VAR_NAME] = config_key
    # A server process reads its config from the environment, never from the parent's parse.
    global_config._GLOBAL_CONFIG_DICT = None
    os.chdir(os.path.join(WORK_ROOT, server_dir))
    sys.argv = [entrypoint]
    sys.path.insert(0, os.path.dirname(os.path.abspath(entrypoint)))
    print(f"gym-review: starting {entrypoint} as {config_key}", flush=True)
    runpy.run_path(entrypoint, run_name="__main__")


def main() -> None:
    mode, server_dir = sys.argv[1], sys.argv[2]
    mark("launcher-start")
    copy_server(server_dir)
    if mode == "test":
        run_tests()
    else:
        serve(server_dir, *sys.argv[3:6])


if __name__ == "__main__":
    main()
