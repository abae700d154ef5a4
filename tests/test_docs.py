"""The README's check catalogue and CLI reference stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from gym_review_bot.checks import EVIDENCE_CHECKS, PR_BODY_CHECKS, STATIC_CHECKS
from gym_review_bot.cli import build_parser
from gym_review_bot.sandbox.catalogue import SANDBOX_CHECKS

README = (Path(__file__).parent.parent / "README.md").read_text()


def catalogue_rows() -> dict[str, tuple[str, str]]:
    rows = re.findall(r"^\| (GR\d{3}) \| (error|warning) \| ([^|]+) \|", README, re.MULTILINE)
    return {check_id: (severity, title.strip()) for check_id, severity, title in rows}


def test_every_check_is_in_the_catalogue_with_its_severity_and_title() -> None:
    rows = catalogue_rows()
    checks = [*STATIC_CHECKS, *SANDBOX_CHECKS, *PR_BODY_CHECKS, *EVIDENCE_CHECKS]
    expected = {c.id: (c.severity, c.title) for c in checks}
    assert rows == expected


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
