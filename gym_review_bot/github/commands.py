"""Chat-ops from PR comments: `/gym-review recheck` and `/gym-review override GRxxx "reason"`.

Only a comment's first line is a command, so nothing in a fence or a quote below it ever runs. The
PR's comments are the record. An accepted override gets a reply from the bot that names the command
comment, the fingerprints it covers, the reason as it read it and a digest of the comment's text; at
each publish (and at the merge gate) the bot re-reads its replies, checks that the command comment is
still there unchanged (an edited one counts as withdrawn), and re-checks its author's permission.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import re2

from gym_review_bot.github.client import PullRequestGone, github_errors
from gym_review_bot.waiver import Waiver

WRITE_ROLES = {"write", "maintain", "admin"}
MAINTAIN_ROLES = {"maintain", "admin"}
RECORD_PREFIX = "<!-- gym-review-bot:override "
_COMMAND = re2.compile(r"^/gym-review[ \t]+([a-z]+)(.*)$")
_OVERRIDE = re2.compile(r'^[ \t]+(GR[0-9]{3})(?::([0-9a-f]{8,64}))?[ \t]+"([^"\r\n]{1,500})"[ \t]*$')
_RECORD = re2.compile(r"<!-- gym-review-bot:override ([A-Za-z0-9_=-]+) -->")


@dataclass(frozen=True)
class Command:
    verb: str  # recheck | override | unknown
    check_id: str = ""
    fingerprint: str = ""
    reason: str = ""


def parse_command(body: str) -> Command | None:
    """The command on a comment's first line; None when that line is not a `/gym-review` command."""
    first = (body or "").split("\n", 1)[0].rstrip("\r")
    if first.strip() == "/gym-review":
        return Command("unknown")
    match = _COMMAND.match(first)
    if not match:
        return None
    verb, rest = match.group(1), match.group(2)
    if verb == "recheck" and not rest.strip():
        return Command("recheck")
    if verb == "override":
        args = _OVERRIDE.match(rest)
        if args:
            return Command("override", args.group(1), args.group(2) or "", args.group(3).strip())
    return Command("unknown")


def body_digest(body: str) -> str:
    return hashlib.sha256((body or "").encode("utf-8", "surrogateescape")).hexdigest()[:32]


def record(comment: Any, command: Command, fingerprints: list[str]) -> str:
    """The hidden record of an accepted override: what was read when it was recorded."""
    data = {
        "comment": comment.id,
        "id": command.check_id,
        "fps": fingerprints,
        "by": comment.user.login,
        "reason": command.reason,
        "body": body_digest(comment.body),
    }
    raw = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()
    return f"{RECORD_PREFIX}{raw} -->"


def _read_record(body: str) -> dict | None:
    match = _RECORD.search(body or "")
    if not match:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(match.group(1)))
    except (binascii.Error, ValueError):
        return None
    ok = isinstance(data, dict) and isinstance(data.get("comment"), int) and isinstance(data.get("fps"), list)
    ok = ok and all(isinstance(data.get(k), str) for k in ("id", "by", "reason", "body"))
    return data if ok else None


class Permissions:
    """Each account's role on the repository, read once per run (a revoked maintainer stops counting)."""

    def __init__(self, repo: Any):
        self._repo, self._roles = repo, {}

    def role(self, login: str) -> str:
        if login not in self._roles:
            try:
                with github_errors(f"permission of {login}"):
                    self._roles[login] = self._repo.get_collaborator_role_name(login) or "none"
            except PullRequestGone:  # 404: not a collaborator
                self._roles[login] = "none"
        return self._roles[login]


def override_waivers(comments: list[Any], bot_login: str, permissions: Permissions) -> dict[str, Waiver]:
    """Waivers from the bot's override records whose command comment stands unchanged and whose author may still
    write, with the reason as it was recorded."""
    by_id = {c.id: c for c in comments}
    waivers: dict[str, Waiver] = {}
    for reply in comments:
        if reply.user is None or reply.user.login != bot_login or _edited(reply):
            continue
        data = _read_record(reply.body)
        source = by_id.get(data["comment"]) if data else None
        if source is None or source.user is None or source.user.login != data["by"]:
            continue
        if body_digest(source.body) != data["body"]:  # edited since it was recorded: withdrawn
            continue
        if permissions.role(source.user.login) not in WRITE_ROLES:
            continue
        for fp in data["fps"]:
            if isinstance(fp, str):
                waivers[fp] = Waiver(data["id"], data["reason"], "override", fingerprint=fp, by=data["by"])
    return waivers


def _edited(comment: Any) -> bool:
    """A record someone edited after the bot wrote it is not the bot's word any more."""
    created, updated = getattr(comment, "created_at", None), getattr(comment, "updated_at", None)
    return created is not None and updated is not None and updated > created
