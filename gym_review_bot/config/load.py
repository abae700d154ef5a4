"""Reading `.gym-review.yaml`: from the merge base (the review) or a trusted commit (the GitHub commands).

Never from a PR's head or a working tree. Unknown keys and bad values stop with a UsageError (exit 2)
naming the key path and what is allowed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gym_review_bot.config.policy import POLICY_FILE, Policy, default_policy
from gym_review_bot.config.strict import validate
from gym_review_bot.errors import UsageError
from gym_review_bot.models import PolicySource
from gym_review_bot.safeload import UnsafeInput, load_yaml
from gym_review_bot.sources import GitTree, SourceTree

if TYPE_CHECKING:
    from pydantic import ValidationError

MAX_POLICY_BYTES = 256 * 1024


@dataclass
class LoadedPolicy:
    """The rules in force and where they came from (for the report)."""

    policy: Policy = field(default_factory=default_policy)
    source: PolicySource = field(default_factory=PolicySource)


def load_policy(tree: SourceTree) -> LoadedPolicy:
    """The policy of a checkout state (the merge base in PR mode); UsageError when it is invalid."""
    entry = tree.get(POLICY_FILE)
    if entry is None:
        return LoadedPolicy()
    if entry.kind != "file":
        raise UsageError(f"{POLICY_FILE}: is a {entry.kind}, not a file; commit the file itself")
    if entry.size > MAX_POLICY_BYTES:
        raise UsageError(f"{POLICY_FILE}: is {entry.size:,} bytes, over the {MAX_POLICY_BYTES:,}-byte cap")
    raw = tree.read(entry, MAX_POLICY_BYTES + 1)
    policy = parse_policy(raw)
    blob_sha = entry.oid or hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()  # git's blob id
    return LoadedPolicy(policy, PolicySource(source="file", path=POLICY_FILE, blob_sha=blob_sha))


def load_trusted_policy(repo: Path, ref: str = "HEAD") -> LoadedPolicy:
    """`.gym-review.yaml` in commit `ref` of a trusted checkout (the base branch), read with git.

    Never from the working tree (a PR's files there must not decide the bot's settings); a missing
    file gives the defaults.
    """
    from gym_review_bot import git

    if not git.is_repo(repo):
        raise UsageError(f"--config-repo {repo}: not a git checkout; run in the registry's base checkout")
    commit = git.resolve(repo, ref)
    if commit is None:
        raise UsageError(f"--config-ref {ref}: no such commit in {repo}")
    # GitTree lists only what is asked for: the workflows' sparse checkout is a partial clone, and sizing
    # every blob of the tree would fetch each one
    return load_policy(GitTree(repo, commit))


def parse_policy(raw: bytes) -> Policy:
    """Validate the file's bytes; UsageError naming the key and what is allowed."""
    try:
        data = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"{POLICY_FILE}: not valid UTF-8 (byte {exc.start})") from exc
    except (UnsafeInput, yaml.YAMLError) as exc:
        raise UsageError(f"{POLICY_FILE}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(f"{POLICY_FILE}: the top level must be a mapping of keys (version, examples, rules, ...)")
    from pydantic import ValidationError  # the boundary: only a file that exists is validated

    try:
        return validate(Policy, data)
    except ValidationError as exc:
        raise UsageError(f"{POLICY_FILE}: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    """The first error as `key.path: what is wrong; allowed: ...`, on one line."""
    err = exc.errors(include_url=False)[0]
    loc = [str(part) for part in err["loc"]]
    path = ".".join(loc) or "(top level)"
    if err["type"] == "unexpected_keyword_argument":  # a key a section (a dataclass) does not have
        allowed = _fields_at(loc[:-1])
        return f"{path}: unknown key; allowed here: {', '.join(allowed)}"
    if err["type"] in ("missing", "missing_keyword_only_argument"):
        return f"{path}: required key is missing"
    if err["type"] == "dataclass_type":  # a section given something other than a mapping
        return f"{path}: Input should be a valid dictionary or instance of {err['ctx']['class_name']}"
    message = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}"


def _fields_at(loc: list[str]) -> list[str]:
    """The keys the section allows at a path (list indexes and dict keys pass through)."""
    section: Any = Policy
    for part in loc:
        annotation = typing.get_type_hints(section).get(part) if _is_section(section) else None
        if annotation is None:
            continue  # an index into a list of sections, or a key of a mapping of them
        section = next((a for a in (annotation, *typing.get_args(annotation)) if _is_section(a)), None)
        if section is None:
            return []
    return [f.name for f in dataclasses.fields(section)] if section is not None else []


def _is_section(annotation: object) -> bool:
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def policy_notes(policy: Policy, today: date) -> list[str]:
    """Report notes about the policy itself: waivers that no longer hold."""
    return [
        f"{POLICY_FILE}: the waiver of {w.check}{' on ' + w.server if w.server else ''} expired on "
        f"{w.expires.isoformat()} and is ignored ({w.reason})."
        for w in policy.waivers
        if w.expires is not None and w.expires < today
    ]
