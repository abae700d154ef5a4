"""`.gym-review.yaml`: validation, read at the merge base only, severity overrides, the floor, waivers."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from gym_review_bot.catalogue import Catalogue
from gym_review_bot.checks.base import apply_rules
from gym_review_bot.config import Policy, parse_policy, policy_notes
from gym_review_bot.discover import discover_local, discover_pr
from gym_review_bot.errors import UsageError
from gym_review_bot.judge import Judgement, judge, sealed
from gym_review_bot.models import Finding, Report, ServerReport, plain
from gym_review_bot.review import Reviewed, ReviewOptions, review
from tests.conftest import ALL_RULES, GitRepo, good_server_files

ISSUE_EXAMPLE = (
    r"""
version: 1
examples: {rows: 5, exact: true}
rollouts: {rows: 5, exact: true}
"""
    + ALL_RULES
    + r"""severity: {GR112: error, GR114: off}
waivers:
  - {check: GR109, server: legacy_env, reason: "licence under legal review", expires: 2027-01-31,
     fingerprint: null}
sandbox: {package_hosts: ["index.example.org:443"]}
github: {}
pr_body: {}
"""
)
TODAY = date(2026, 11, 26)


def bad(text: str) -> str:
    """The one-line message a bad file stops with: its schema (config layer) or its check ids (the catalogue)."""
    with pytest.raises(UsageError) as info:
        Catalogue(parse_policy(text.encode()))
    message = str(info.value)
    assert "\n" not in message
    return message


# -- validation ----------------------------------------------------------------------------------


def test_the_issue_example_parses_with_every_key() -> None:
    policy = parse_policy(ISSUE_EXAMPLE.encode())
    assert policy.examples.rows == 5 and policy.examples.exact is True
    assert policy.rollouts.exact is True
    assert policy.rules.copyright_header.enabled and policy.rules.copyright_header.files == ["*.py", "*.sh"]
    assert len(policy.rules.copyright_header.headers) == 2
    assert all(getattr(policy.rules, r).enabled for r in ("example_metrics", "dco", "committed_datasets"))
    assert policy.severity == {"GR112": "error", "GR114": "off"}
    [waiver] = policy.waivers
    assert (waiver.check, waiver.server, waiver.expires, waiver.fingerprint) == (
        "GR109",
        "legacy_env",
        date(2027, 1, 31),
        None,
    )
    assert policy.sandbox.package_hosts == ["index.example.org:443"]


def test_empty_file_and_no_keys_give_the_guides_defaults() -> None:
    for text in ("", "version: 1\n", "{}\n"):
        policy = parse_policy(text.encode())
        assert policy == Policy()
    defaults = Policy()
    assert (defaults.examples.rows, defaults.examples.exact) == (5, False)
    assert (defaults.rollouts.rows, defaults.rollouts.exact) == (5, False)
    assert not any(getattr(defaults.rules, r).enabled for r in (f.name for f in dataclasses.fields(defaults.rules)))


def test_unknown_top_level_key_names_it_and_the_allowed_keys() -> None:
    message = bad("version: 1\nwaiver: []\n")
    assert message.startswith(".gym-review.yaml: waiver: unknown key")
    assert "waivers" in message and "severity" in message and "rules" in message


def test_unknown_nested_key_names_its_path() -> None:
    message = bad("rules:\n  copyright_header:\n    enabled: true\n    file: ['*.py']\n")
    assert "rules.copyright_header.file: unknown key" in message
    assert "files" in message and "headers" in message
    assert "rules.dcoo: unknown key" in bad("rules: {dcoo: {enabled: true}}\n")
    assert "examples.row: unknown key" in bad("examples: {row: 5}\n")
    assert "waivers.0.until: unknown key" in bad("waivers: [{check: GR109, reason: x, until: 2027-01-01}]\n")
    assert "github.token: unknown key" in bad("github: {token: x}\n")


def test_bad_values_name_the_key_and_what_is_allowed() -> None:
    message = bad("severity: {GR112: fatal}\n")
    assert "severity.GR112" in message and "'error', 'warning' or 'off'" in message
    assert "version" in bad("version: 2\n")
    assert "examples.rows" in bad("examples: {rows: 0}\n")
    assert "examples.exact" in bad("examples: {exact: 'yes'}\n")  # strict: no string-to-bool guessing
    assert "rules.dco.enabled" in bad("rules: {dco: {enabled: 1}}\n")
    assert "waivers.0.expires" in bad("waivers: [{check: GR109, reason: x, expires: soon}]\n")
    assert "waivers.0.reason" in bad("waivers: [{check: GR109}]\n")
    assert "waivers.0.check" in bad("waivers: [{check: gr109, reason: x}]\n")
    assert "top level must be a mapping" in bad("- a\n- b\n")
    assert "not valid YAML" in bad("rules: [\n")
    assert "sandbox.package_hosts.0" in bad("sandbox: {package_hosts: ['https://evil.example/simple']}\n")
    assert "sandbox.package_hosts.1" in bad("sandbox: {package_hosts: ['ok.example:443', 'a b']}\n")


def test_unknown_check_ids_are_refused() -> None:
    assert "severity.GR999: unknown check id" in bad("severity: {GR999: warning}\n")
    assert "waivers.0.check: unknown check id GR998" in bad("waivers: [{check: GR998, reason: x}]\n")


@pytest.mark.parametrize("check_id", ["GR100", "GR101", "GR103"])
@pytest.mark.parametrize("level", ["warning", "off"])
def test_the_severity_floor_cannot_be_lowered(check_id: str, level: str) -> None:
    message = bad(f"severity: {{{check_id}: {level}}}\n")
    assert message.startswith(".gym-review.yaml: severity:") and check_id in message and "stay `error`" in message


def test_the_floor_checks_may_be_named_at_error() -> None:
    assert parse_policy(b"severity: {GR100: error, GR101: error, GR103: error}\n").severity["GR100"] == "error"


def test_an_invalid_header_regex_exits_naming_the_key() -> None:
    text = "rules:\n  copyright_header:\n    enabled: true\n    headers: [['^# ok', '^(unclosed']]\n"
    message = bad(text)
    assert "rules.copyright_header.headers.0.1" in message and "RE2" in message
    # A backreference is a backtracking feature: RE2 refuses it, so it can never run on PR text.
    assert "RE2" in bad("rules:\n  copyright_header:\n    headers: [['^(a)\\1$']]\n")
    assert "lists no `headers`" in bad("rules: {copyright_header: {enabled: true}}\n")
    assert "headers.0" in bad("rules: {copyright_header: {enabled: true, headers: [[]]}}\n")


# -- the rules on a finding: severity and `off` (checks.base.apply_rules), waivers (the judge) ----------


def finding(check_id: str = "GR109", status: str = "fail", severity: str = "error", fp: str = "f" * 20) -> Finding:
    return Finding(id=check_id, severity=severity, status=status, message="m", fingerprint=fp)  # type: ignore[arg-type]


def policy(text: str) -> Policy:
    return parse_policy(text.encode())


def under(text: str, f: Finding) -> Finding:
    return apply_rules(Catalogue().get(f.id), f, policy(text))  # type: ignore[arg-type]


def judged(text: str, *findings: Finding, server: str = "srv") -> Judgement:
    report = Report(
        servers=[ServerReport(name=server, path=f"resources_servers/{server}", status="added", findings=[*findings])]
    )
    return judge(report, policy(text).config_waivers(), today=TODAY)


def test_off_turns_a_check_into_a_skip_disabled_by_policy() -> None:
    f = finding("GR114", severity="warning")
    off = under("severity: {GR114: off}\n", f)
    assert (off.status, off.skip_kind) == ("skip", "disabled_by_policy")
    assert "GR114: off" in off.message and judged("", off).klass(off) == "skipped"
    assert (f.status, f.message) == ("fail", "m")  # a copy: the finding itself is never changed


def test_severity_override_raises_and_lowers() -> None:
    up = under("severity: {GR112: error, GR104: warning}\n", finding("GR112", severity="warning"))
    down = under("severity: {GR112: error, GR104: warning}\n", finding("GR104"))
    assert up.severity == "error" and judged("", up).klass(up) == "blocking"
    assert down.severity == "warning" and judged("", down).klass(down) == "warning"


def test_active_waiver_keeps_fail_but_does_not_block() -> None:
    f = finding()
    text = "waivers: [{check: GR109, server: srv, reason: legal review, expires: 2027-01-31}]\n"
    judgement = judged(text, f)
    assert f.status == "fail" and judgement.klass(f) == "waived" and judgement.verdict == "pass"
    report, _ = sealed(Report(servers=[ServerReport(name="srv", path="p", status="added", findings=[f])]), judgement)
    waived = report.servers[0].findings[0].waived
    assert waived is not None and f.waived is None  # recorded on the sealed copy, never on the judged finding
    assert (waived.reason, waived.source, waived.expires) == ("legal review", "config", date(2027, 1, 31))


def test_waiver_expiring_today_still_holds() -> None:
    f = finding()
    assert judged("waivers: [{check: GR109, reason: r, expires: 2026-11-26}]\n", f).klass(f) == "waived"


def test_expired_waiver_is_ignored_with_a_note() -> None:
    f = finding()
    text = "waivers: [{check: GR109, server: srv, reason: legal review, expires: 2026-11-25}]\n"
    assert judged(text, f).klass(f) == "blocking"
    [note] = policy_notes(policy(text), TODAY)
    assert "GR109 on srv expired on 2026-11-25" in note and "ignored" in note


def test_waiver_for_another_server_does_not_apply() -> None:
    f = finding()
    assert judged("waivers: [{check: GR109, server: legacy_env, reason: r}]\n", f).klass(f) == "blocking"


def test_waiver_without_server_covers_every_server() -> None:
    f = finding()
    assert judged("waivers: [{check: GR109, reason: r}]\n", f).klass(f) == "waived"


def test_waiver_with_fingerprint_waives_only_that_finding() -> None:
    same, other = finding(fp="a" * 20), finding(fp="b" * 20)
    judgement = judged(f"waivers: [{{check: GR109, reason: r, fingerprint: {'a' * 20}}}]\n", same, other)
    assert judgement.klass(same) == "waived" and judgement.klass(other) == "blocking"


def test_waivers_touch_only_failures() -> None:
    passing, erroring = finding(status="pass"), finding(status="error")
    judgement = judged("waivers: [{check: GR109, reason: r}]\n", passing, erroring)
    assert (judgement.klass(passing), judgement.klass(erroring)) == ("passed", "not_run")


def test_a_waived_error_does_not_fail_the_verdict() -> None:
    judgement = judged("waivers: [{check: GR109, reason: r}]\n", finding())
    assert judgement.verdict == "pass" and judgement.summary.waived == 1 and judgement.summary.errors == 0


# -- read from the merge base, end to end -----------------------------------------------------------

NO_LICENCE_README = "# Srv\n\nA server.\n\nRun: ng_run +config_paths=[resources_servers/srv/configs/srv.yaml]\n"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gym_review_bot", *args], capture_output=True, text=True, timeout=120)


def pr_review(repo: GitRepo) -> Reviewed:
    return review(discover_pr(repo.path, "main"), ReviewOptions())


def add_failing_server(repo: GitRepo) -> None:
    files = good_server_files("srv")
    files["README.md"] = NO_LICENCE_README
    repo.server("srv", files)


def gr(report: Report, check_id: str) -> Finding:
    return next(f for f in report.servers[0].findings if f.id == check_id)


def test_without_a_file_the_report_says_defaults(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    repo.commit("add srv")
    report, judgement = pr_review(repo)
    assert plain(report.policy) == {"source": "defaults", "path": None, "blob_sha": None}
    assert judgement.klass(gr(report, "GR109")) == "blocking" and report.verdict == "fail"


def test_base_config_waives_and_the_report_names_the_file(repo: GitRepo, tmp_path: Path) -> None:
    repo.write(
        {".gym-review.yaml": "waivers: [{check: GR109, server: srv, reason: legal review, expires: 2099-01-01}]\n"}
    )
    repo.commit("policy")
    blob = repo.git("rev-parse", "main:.gym-review.yaml")
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    repo.commit("add srv")
    out = tmp_path / "r.json"
    proc = run_cli("check", "--repo", str(repo.path), "--base", "main", "--no-docker", "--json", str(out))
    report = json.loads(out.read_text())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert report["policy"] == {"source": "file", "path": ".gym-review.yaml", "blob_sha": blob}
    gr109 = next(f for f in report["servers"][0]["findings"] if f["id"] == "GR109")
    assert gr109["status"] == "fail"
    assert gr109["waived"] == {"reason": "legal review", "source": "config", "expires": "2099-01-01", "by": None}
    assert report["verdict"] == "pass" and report["summary"]["waived"] == 1
    assert "[WAIV] GR109" in proc.stdout  # shown as waived, not as a failure


def test_head_changing_the_config_has_no_effect_and_gets_a_note(repo: GitRepo) -> None:
    repo.write({".gym-review.yaml": "severity: {GR119: warning}\n"})
    repo.commit("policy")
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    # The PR tries to waive its own failure and to turn the check off: neither may count.
    repo.write({".gym-review.yaml": "severity: {GR109: warning}\nwaivers: [{check: GR109, reason: trust me}]\n"})
    repo.commit("add srv and relax the rules")
    report, judgement = pr_review(repo)
    f = gr(report, "GR109")
    assert f.severity == "error" and f.waived is None and judgement.klass(f) == "blocking"
    assert report.verdict == "fail"
    assert any("takes effect after merge" in n for n in report.notes)
    assert report.policy.blob_sha == repo.git("rev-parse", "main:.gym-review.yaml")


def test_head_adding_a_config_gets_the_note_and_the_defaults(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    repo.write({".gym-review.yaml": "waivers: [{check: GR109, reason: trust me}]\n"})
    repo.commit("add srv and a config")
    report, _ = pr_review(repo)
    assert report.policy.source == "defaults" and gr(report, "GR109").waived is None
    assert any("takes effect after merge" in n for n in report.notes)


def test_an_unchanged_config_gets_no_note(repo: GitRepo) -> None:
    repo.write({".gym-review.yaml": "version: 1\n"})
    repo.commit("policy")
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    repo.commit("add srv")
    assert not any(".gym-review.yaml" in n for n in pr_review(repo).report.notes)


def test_an_invalid_head_config_is_not_read(repo: GitRepo) -> None:
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    repo.write({".gym-review.yaml": "nonsense: [\n"})
    repo.commit("add srv and a broken config")
    assert pr_review(repo).report.policy.source == "defaults"


def test_off_at_the_base_is_a_skip_end_to_end(repo: GitRepo) -> None:
    repo.write({".gym-review.yaml": "severity: {GR109: off, GR114: off}\n"})
    repo.commit("policy")
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    repo.commit("add srv")
    report = pr_review(repo).report
    assert (gr(report, "GR109").status, gr(report, "GR109").skip_kind) == ("skip", "disabled_by_policy")
    assert report.verdict == "pass"


def test_a_bad_config_at_the_base_exits_2_with_one_line(repo: GitRepo) -> None:
    repo.write({".gym-review.yaml": "severity: {GR100: off}\n"})
    repo.commit("policy")
    repo.git("checkout", "-q", "-b", "pr")
    add_failing_server(repo)
    repo.commit("add srv")
    proc = run_cli("check", "--repo", str(repo.path), "--base", "main", "--no-docker")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("gym-review: error: .gym-review.yaml: severity:") and "GR100" in line


def test_a_symlinked_or_huge_config_is_refused(repo: GitRepo) -> None:
    (repo.path / ".gym-review.yaml").symlink_to("/etc/passwd")
    repo.commit("policy link")
    with pytest.raises(UsageError, match="symlink"):
        pr_review(repo)
    (repo.path / ".gym-review.yaml").unlink()
    repo.write({".gym-review.yaml": "# " + "x" * 300_000 + "\n"})
    repo.commit("policy huge")
    with pytest.raises(UsageError, match="cap"):
        pr_review(repo)


def test_outside_pr_mode_the_checkouts_own_file_is_read(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import BASE_FIXTURE, write_tree

    shutil.copytree(BASE_FIXTURE, tmp_path, dirs_exist_ok=True)
    write_tree(tmp_path, {f"resources_servers/srv/{k}": v for k, v in good_server_files("srv").items()})
    write_tree(tmp_path, {".gym-review.yaml": "severity: {GR112: off}\n"})
    report = review(discover_local(tmp_path, ["srv"]), ReviewOptions()).report
    hashed = subprocess.run(["git", "hash-object", str(tmp_path / ".gym-review.yaml")], capture_output=True, text=True)
    assert report.policy.source == "file" and report.policy.blob_sha == hashed.stdout.strip()
    assert gr(report, "GR112").skip_kind == "disabled_by_policy"


def test_row_counts_for_gr106_and_gr107() -> None:
    exact = policy("examples: {rows: 5, exact: true}\n").examples
    assert exact.accepts(5) and not exact.accepts(6) and not exact.accepts(4)
    assert exact.wanted() == "exactly 5"
    at_least = Policy().rollouts
    assert at_least.accepts(5) and at_least.accepts(6) and not at_least.accepts(4)
    assert at_least.wanted() == "at least 5"


def _rows_review(repo: GitRepo, config: str | None, examples: int, rollouts: int) -> Report:
    if config is not None:
        repo.write({".gym-review.yaml": config})
        repo.commit("policy")
    repo.git("checkout", "-q", "-b", "pr")
    files = good_server_files("srv")
    for rel, count in (("data/example.jsonl", examples), ("data/example_rollouts.jsonl", rollouts)):
        rows = [line for line in files[rel].splitlines() if line.strip()]
        files[rel] = "\n".join((rows * count)[:count]) + "\n"
    repo.server("srv", files)
    repo.commit("add srv")
    return pr_review(repo).report


def test_exact_row_counts_from_the_config_fail_gr106_and_gr107_on_six_rows(repo: GitRepo) -> None:
    exact = "examples: {rows: 5, exact: true}\nrollouts: {rows: 5, exact: true}\n"
    report = _rows_review(repo, exact, examples=6, rollouts=6)
    for check_id in ("GR106", "GR107"):
        f = gr(report, check_id)
        assert f.status == "fail" and "has 6 row(s); this registry asks for exactly 5" in f.message, f.message


def test_exact_row_counts_pass_on_five_rows(repo: GitRepo) -> None:
    report = _rows_review(repo, "examples: {rows: 5, exact: true}\nrollouts: {rows: 5, exact: true}\n", 5, 5)
    assert gr(report, "GR106").status == "pass" and gr(report, "GR107").status == "pass"


def test_by_default_six_rows_pass_and_four_fail_with_at_least(repo: GitRepo) -> None:
    report = _rows_review(repo, None, examples=6, rollouts=4)
    assert gr(report, "GR106").status == "pass"
    f = gr(report, "GR107")
    assert f.status == "fail" and "asks for at least 5" in f.message


def test_the_pr_description_checks_follow_severity_and_waivers_of_the_merge_base(repo: GitRepo) -> None:
    config = "severity:\n  GR301: warning\n  GR304: off\nwaivers:\n  - {check: GR302, reason: in the design doc}\n"
    repo.write({".gym-review.yaml": config})
    repo.commit("registry rules")
    repo.git("checkout", "-q", "-b", "pr")
    repo.server("srv", good_server_files("srv"))
    repo.commit("add srv")
    report, judgement = review(discover_pr(repo.path, "main"), ReviewOptions(pr_body="Nothing here."))
    assert report.pr is not None
    body = {f.id: f for f in report.pr.findings}
    assert body["GR301"].status == "fail" and body["GR301"].severity == "warning"
    assert judgement.klass(body["GR301"]) == "warning"
    assert body["GR302"].waived is not None and body["GR302"].waived.source == "config"
    assert (body["GR304"].status, body["GR304"].skip_kind) == ("skip", "disabled_by_policy")
    assert judgement.klass(body["GR303"]) == "blocking"  # not named: as the guide says


@pytest.mark.parametrize(
    "text",
    [
        "pr_body:\n  disabled: [GR3O1]\n",
        "pr_body:\n  evidence_severity: {GR4111: warning}\n",
        "severity: {EC01: off}\n",
    ],
)
def test_pr_body_check_ids_are_checked_for_typos(text: str) -> None:
    assert "unknown check id" in bad(text)


def test_a_registrys_own_part_can_be_named_in_severity() -> None:
    text = (
        "pr_body:\n  parts:\n    EC01: {title: Eval contract, synonyms: [eval contract]}\nseverity: {EC01: warning}\n"
    )
    assert Catalogue(parse_policy(text.encode())).severity("EC01") == "warning"


# -- pydantic only at the boundary (issue 15, static speed) -------------------------------------------

NO_FILE_RUN = """
import argparse, sys
from datetime import date
from gym_review_bot.config import load_policy, policy_notes
from gym_review_bot.config.load import parse_policy
from gym_review_bot.sandbox.options import add_cli_arguments, options_from_args
from gym_review_bot.sources import GitTree

loaded = load_policy(GitTree(sys.argv[1], sys.argv[2]))
assert loaded.policy.examples.rows == 5 and not loaded.policy.rules.dco.enabled, loaded
assert loaded.source.source == "defaults", loaded.source
assert policy_notes(loaded.policy, date.today()) == [] and loaded.policy.config_waivers() == []
parser = argparse.ArgumentParser()
add_cli_arguments(parser)
assert options_from_args(parser.parse_args([])).memory == "4g"
before = "pydantic" in sys.modules
parse_policy(b"version: 1\\n")  # a file that exists is validated: pydantic loads only now
print(before, "pydantic" in sys.modules)
"""


def test_without_a_config_file_the_config_layer_and_sandbox_options_never_import_pydantic(repo: GitRepo) -> None:
    """A run without .gym-review.yaml has nothing to validate: pydantic (a quarter of a second) stays unloaded."""
    assert not (repo.path / ".gym-review.yaml").exists()
    proc = subprocess.run(
        [sys.executable, "-c", NO_FILE_RUN, str(repo.path), repo.git("rev-parse", "HEAD")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False True"  # not loaded before the file; loaded (and seen) by validating one
