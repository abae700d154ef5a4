"""Runs inside the sandbox container: copy the server to the writable tmpfs, then serve it or test it.

This file is copied into the image and run by the image's own Python; it imports nothing from the bot.
"""

import base64
import os
import runpy
import shutil
import subprocess
import sys
import time

SOURCE_ROOT = "/src"
WORK_ROOT = "/work"
JUNIT_PATH = "/tmp/gym-review-junit.xml"
JUNIT_MARK = "gym-review: junit+ "  # the report follows in base64 chunks, one per line
JUNIT_CHUNK = 8000
MAX_JUNIT_BYTES = 4 * 1024 * 1024


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


def run_tests() -> None:
    """Run pytest in a child writing a junit report, then print the report for the bot and exit with pytest's code."""
    argv = [sys.executable, "-m", "pytest", "tests/", "-q", "-rfE", "-p", "no:cacheprovider", "--color=no"]
    argv += [f"--junitxml={JUNIT_PATH}"]
    directory = os.getcwd()
    while not has_pytest_config(directory) and directory != WORK_ROOT:
        directory = os.path.dirname(directory)
    if not has_pytest_config(directory):
        # Outside NeMo Gym's tree its root config is missing: apply the asyncio mode it sets.
        argv += ["-o", "asyncio_mode=auto"]
    if os.path.exists(JUNIT_PATH):
        os.remove(JUNIT_PATH)
    code = subprocess.call(argv)
    sys.stdout.flush()
    if os.path.isfile(JUNIT_PATH):
        with open(JUNIT_PATH, "rb") as fh:
            report = base64.b64encode(fh.read(MAX_JUNIT_BYTES + 1)).decode()
        for start in range(0, len(report), JUNIT_CHUNK):
            print(JUNIT_MARK + report[start : start + JUNIT_CHUNK], flush=True)
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
