"""What a server's audit result depends on (its resume keys), and which of them changed since the last audit."""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources

from gym_review_bot import __version__
from gym_review_bot.audit.models import Keys

# In the order a reader wants the reason for a re-run: the server's own change first.
KEY_WORDS = {
    "server_tree": "the server's files changed",
    "nemo_gym_tree": "nemo_gym/ changed",
    "policy_blob": ".gym-review.yaml changed",
    "tool_version": "the bot changed",
    "sandbox": "the sandbox was requested differently",
    "base_image": "the base image changed",
    "packages": "the built image's installed packages changed",
}


@cache
def tool_version() -> str:
    """The bot's version and a digest of its own source: a development install with new code is a new bot."""
    h = hashlib.sha256()
    root = resources.files("gym_review_bot")
    stack = [root]
    files = []
    while stack:
        node = stack.pop()
        for child in node.iterdir():
            if child.is_dir() and child.name != "__pycache__" and child.name != "fixtures":
                stack.append(child)
            elif child.name.endswith((".py", ".j2")):
                files.append(child)
    for item in sorted(files, key=lambda f: str(f)):
        h.update(str(item).removeprefix(str(root)).encode() + b"\0" + item.read_bytes() + b"\0")
    return f"{__version__}+{h.hexdigest()[:12]}"


def changed(before: Keys, now: Keys, with_packages: bool) -> str | None:
    """Why a result cannot be carried over (the first key that differs, in words), or None."""
    for name, words in KEY_WORDS.items():
        if name == "packages" and not with_packages:
            continue
        if getattr(before, name) != getattr(now, name):
            return words
    return None
