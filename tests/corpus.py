"""The nemo-gym 0.4.0 wheel as a test corpus: downloaded once into a cache, unpacked once, shared."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

VERSION = "0.4.0"
WHEEL = f"nemo_gym-{VERSION}-py3-none-any.whl"
UNPACKED = f"nemo_gym-{VERSION}"
DOWNLOAD_TIMEOUT_S = 300


class CorpusUnavailable(Exception):
    """The wheel could not be downloaded or unpacked; the message says why."""


def cache_dir() -> Path:
    """$GYM_REVIEW_CACHE, else ~/.cache/gym-review-bot."""
    configured = os.environ.get("GYM_REVIEW_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "gym-review-bot"


def wheel_path() -> Path:
    """The wheel file itself, downloaded into the cache on first use."""
    cache = cache_dir()
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusUnavailable(f"cannot create the cache directory {cache}: {exc}") from exc
    wheel = cache / WHEEL
    if not wheel.is_file():
        _download(cache, wheel)
    return wheel


def corpus_root() -> Path:
    """The unpacked wheel (holding nemo_gym/ and resources_servers/), fetched on first use."""
    root = cache_dir() / UNPACKED
    if (root / "resources_servers").is_dir():
        return root
    _unpack(wheel_path(), root)
    return root


def _download(cache: Path, wheel: Path) -> None:
    # Download into a private temp dir, then rename: a concurrent caller never sees half a wheel.
    with tempfile.TemporaryDirectory(dir=cache, prefix=".download-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--python-version", "3.12", "--disable-pip-version-check", f"nemo-gym=={VERSION}", "-d", tmp,
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CorpusUnavailable(f"`pip download nemo-gym=={VERSION}` did not finish: {exc}") from exc
        fetched = Path(tmp) / WHEEL
        if done.returncode != 0 or not fetched.is_file():
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise CorpusUnavailable(f"`pip download nemo-gym=={VERSION}` failed: {last[0]}")
        os.replace(fetched, wheel)


def _unpack(wheel: Path, root: Path) -> None:
    staging = Path(tempfile.mkdtemp(dir=root.parent, prefix=".unpack-"))
    try:
        try:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(staging)
        except (zipfile.BadZipFile, OSError) as exc:
            wheel.unlink(missing_ok=True)  # a corrupt download is fetched again next time
            raise CorpusUnavailable(f"cannot unpack {wheel}: {exc}") from exc
        if not (staging / "resources_servers").is_dir():
            raise CorpusUnavailable(f"{wheel} has no resources_servers/ directory")
        staging.chmod(0o755)  # mkdtemp makes it private
        try:
            os.rename(staging, root)
        except OSError:
            # Another process unpacked it first; its copy is as good as ours.
            if not (root / "resources_servers").is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def server_dirs(root: Path) -> list[str]:
    """Every directory under resources_servers/, as the review's --all sees them."""
    return sorted(
        p.name for p in (root / "resources_servers").iterdir() if p.is_dir() and not p.name.startswith((".", "__"))
    )


if __name__ == "__main__":
    print(corpus_root())
