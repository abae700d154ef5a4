"""The configuration layer: `.gym-review.yaml`'s schema and how it is read. It imports neither the checks
nor the GitHub adapter; the check catalogue validates the check ids a file names."""

from gym_review_bot.config.github import GithubSettings, Labels
from gym_review_bot.config.load import LoadedPolicy, load_policy, load_trusted_policy, parse_policy, policy_notes
from gym_review_bot.config.policy import POLICY_FILE, Policy, default_policy
from gym_review_bot.config.pr_body import DEFAULT_PARTS, PartSettings, PrBodySettings

__all__ = [
    "DEFAULT_PARTS",
    "POLICY_FILE",
    "GithubSettings",
    "Labels",
    "LoadedPolicy",
    "PartSettings",
    "Policy",
    "PrBodySettings",
    "default_policy",
    "load_policy",
    "load_trusted_policy",
    "parse_policy",
    "policy_notes",
]
