"""A sampled server's result at the merge base, from the last audit report when it is the same server on the same
`nemo_gym/` with the same bot (audit/keys.py); and the sample's cost, from that report's sandbox times.

The keys compared are the audit's own: the server's tree and `nemo_gym/`'s tree at the merge base (git tree ids,
which the audit computes from a clean checkout), the bot's version and source digest, `.gym-review.yaml`'s blob
at the merge base, the sandbox, and the base image when it is known. The built image's packages are not
compared: telling them needs the image built, which is the run the report saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from statistics import median

from gym_review_bot import git
from gym_review_bot.audit.keys import changed, tool_version
from gym_review_bot.audit.models import AuditReport, Keys
from gym_review_bot.blast.affected import CORE_DIR
from gym_review_bot.config import load_policy
from gym_review_bot.discover import SERVERS_DIR, Discovery
from gym_review_bot.models import ServerReport
from gym_review_bot.sources import GitTree

# Seconds of one server's sandbox run when no audit report says: the audit's measured median per server
# (docs/audit.md: 8 servers of the nemo-gym 0.4.0 wheel, dependency images already built).
DEFAULT_SANDBOX_S = 23.1


def read_audit(path: Path | None) -> AuditReport | None:
    """The last audit report (--audit), or None; UsageError (exit 2) when it cannot be read."""
    if path is None:
        return None
    from gym_review_bot.audit.merge import read_given_report  # the audit's readers: loaded only for a report to read

    return read_given_report(path, "--audit")


@dataclass(frozen=True)
class BaseKeys:
    """What a server's result at the merge base depends on, for every sampled server at once."""

    trees: dict[str, str]  # repository path -> git tree id at the merge base (nemo_gym, resources_servers/<name>)
    policy_blob: str
    base_image: str | None  # the sandbox's base image id; None: not compared (not known without Docker)

    def of(self, name: str) -> Keys:
        return Keys(
            server_tree=self.trees.get(f"{SERVERS_DIR}/{name}", ""),
            nemo_gym_tree=self.trees.get(CORE_DIR),
            base_image=self.base_image,
            tool_version=tool_version(),
            policy_blob=self.policy_blob,
            sandbox=True,
        )


def base_keys(found: Discovery, names: list[str], base_image: str | None = None) -> BaseKeys:
    """The merge base's keys for these servers: tree ids from one `git ls-tree`, the policy blob."""
    assert isinstance(found.base, GitTree) and found.base_sha is not None
    paths = (CORE_DIR, *(f"{SERVERS_DIR}/{n}" for n in names))
    items = git.list_tree(found.base.repo, found.base_sha, paths, recursive=False)
    trees = {i.path: i.oid for i in items if i.kind == "tree"}
    return BaseKeys(trees, load_policy(found.base).source.blob_sha or "defaults", base_image)


def from_audit(audit: AuditReport | None, name: str, keys: BaseKeys) -> ServerReport | None:
    """The audit's result for the server when every key matches the merge base's (a result it could not judge,
    or one without the sandbox, never counts); else None."""
    entry = next((s for s in audit.servers if s.name == name), None) if audit else None
    if entry is None or entry.keys is None or entry.report is None or entry.verdict not in ("pass", "fail"):
        return None
    now = keys.of(name)
    if not now.server_tree or not entry.keys.sandbox:
        return None
    if now.base_image is None:
        now.base_image = entry.keys.base_image  # not known here: not compared
    return entry.report if changed(entry.keys, now, with_packages=False) is None else None


def median_seconds(audit: AuditReport | None) -> tuple[float, str]:
    """One server's sandbox time: the median of the audit's servers run with the sandbox (not carried), or the
    default; and where it came from."""
    times = [
        s.wall_s
        for s in (audit.servers if audit else [])
        if s.wall_s is not None and not s.carried and s.keys is not None and s.keys.sandbox
    ]
    if not times:
        return DEFAULT_SANDBOX_S, "default (docs/audit.md's measured median per server)"
    return round(median(times), 1), f"the audit report's median over {len(times)} servers run with the sandbox"
