"""Chat-ops from PR comments: `/gym-review recheck` and `/gym-review override GRxxx "reason"`.

The PR's comments are the record. An accepted override gets a reply from the bot that names the
command comment and the fingerprints it covers; at each publish the bot re-reads its replies, checks
that the command comment is still there unchanged, and re-checks its author's permission.
"""

from __future__ import annotations

import base64
import binascii
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
    """The first `/gym-review` line of a comment; None when the comment holds no command."""
    for line in (body or "").splitlines()[:50]:
        match = _COMMAND.match(line.strip("\r"))
        if not match:
            continue
        verb, rest = match.group(1), match.group(2)
        if verb == "recheck" and not rest.strip():
            return Command("recheck")
        if verb == "override":
            args = _OVERRIDE.match(rest)
            if args:
                return Command("override", args.group(1), args.group(2) or "", args.group(3).strip())
        return Command("unknown")
    return None


def record(comment_id: int, check_id: str, fingerprints: list[str], by: str) -> str:
    data = {"comment": comment_id, "id": check_id, "fps": fingerprints, "by": by}
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
    """Waivers from the bot's override replies whose command comment still stands and whose author may still write."""
    by_id = {c.id: c for c in comments}
    waivers: dict[str, Waiver] = {}
    for reply in comments:
        if reply.user is None or reply.user.login != bot_login:
            continue
        data = _read_record(reply.body)
        source = by_id.get(data["comment"]) if data else None
        if source is None or source.user is None or source.user.login != data.get("by"):
            continue
        command = parse_command(source.body)
        if command is None or command.verb != "override" or command.check_id != data.get("id"):
            continue
        if permissions.role(source.user.login) not in WRITE_ROLES:
            continue
        for fp in data["fps"]:
            if isinstance(fp, str):
                waivers[fp] = Waiver(command.check_id, command.reason, "override", fingerprint=fp, by=source.user.login)
    return waivers
