"""The README's check catalogue and CLI reference stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from gym_review_bot.catalogue import FAMILIES, PR_FAMILIES, Catalogue
from gym_review_bot.cli import build_parser

README = (Path(__file__).parent.parent / "README.md").read_text()


def catalogue_rows() -> dict[str, tuple[str, str, str]]:
    rows = re.findall(r"^\| (GR\d{3}) \| (error|warning) \| ([a-z]+) \| ([^|]+) \|", README, re.MULTILINE)
    return {check_id: (severity, family, title.strip()) for check_id, severity, family, title in rows}


def test_every_check_is_in_the_catalogue_with_its_severity_family_and_title() -> None:
    """The one list of checks is the README's catalogue: same ids, severities, families and titles."""
    expected = {c.id: (c.severity, c.family, c.title) for c in Catalogue().checks}
    assert catalogue_rows() == expected


def test_every_check_has_a_family_that_is_a_column_or_a_part_of_the_pr_line() -> None:
    for check in Catalogue().checks:
        columns = FAMILIES if check.scope == "server" else PR_FAMILIES
        assert check.family in columns, f"{check.id}: family {check.family!r} is not one of {columns}"


def test_every_cli_option_is_documented() -> None:
    parser = build_parser()
    options = set()
    for action in parser._subparsers._group_actions[0].choices["check"]._actions:  # noqa: SLF001
        options.update(o for o in action.option_strings if o.startswith("--") and o != "--help")
    missing = sorted(o for o in options if f"`{o}" not in README)
    assert missing == []


def test_readme_starts_with_the_two_commands() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.DOTALL)
    assert blocks[0].strip() == "pip install . && gym-review demo"
    assert blocks[1].strip() == "pip install -e '.[test]' && python3 -m pytest -q"


def test_committed_report_schema_is_generated_from_the_models() -> None:
    from gym_review_bot.schema import SCHEMA_FILE, report_schema_text

    committed = (Path(__file__).parent.parent / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == report_schema_text(), f"regenerate: python -m gym_review_bot.schema > {SCHEMA_FILE}"
    assert SCHEMA_FILE in README


def test_the_shipped_configs_are_valid_and_say_which_rulebook_they_follow() -> None:
    from gym_review_bot.config import parse_policy

    shipped = sorted((Path(__file__).parent.parent / "docs").glob("*.gym-review.yaml"))
    assert [p.name for p in shipped] == ["nemo-gym-guide.gym-review.yaml", "nemo-gym.gym-review.yaml"]
    for path in shipped:
        Catalogue(parse_policy(path.read_bytes()))  # the schema and the check ids: exit 2 on any typo
        assert "The rulebook it follows" in path.read_text() and path.name in README
    guide = Catalogue(parse_policy(shipped[0].read_bytes()))
    optional = ["GR107", "GR401", "GR402", "GR403", "GR404", "GR405", "GR408", "GR411", "GR412"]
    assert {guide.severity(i) for i in optional} == {"warning"} and guide.policy.examples.rows == 1
