"""The answer key of benchmarks/bench_registry.py is complete and well formed (no NeMo Gym mirror needed)."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
KEY = ROOT / "benchmarks" / "registry_corpus.yaml"
SERVER_CHECKS = [f"GR{n}" for n in range(100, 122) if n != 120] + ["GR207"] + [f"GR{n}" for n in range(401, 409)]
PR_SCOPE_CHECKS = ["GR120"]
STATUSES = {"pass", "fail", "skip", "pre_existing"}
KINDS = {"add", "change", "rename", "core"}
SHA = re.compile(r"^[0-9a-f]{40}$")
RENAMES = {"verifif": "turing_vif", "gymnasium": "base_gymnasium"}  # issue 19's example, and #1136


@pytest.fixture(scope="module")
def key() -> dict:
    return yaml.safe_load(KEY.read_text(encoding="utf-8"))


def _values(block: dict | None):
    yield from (block or {}).items()


def _check_value(where: str, cid: str, value) -> None:
    assert isinstance(value, list) and len(value) == 2, f"{where} {cid}: [status, reason], got {value!r}"
    status, reason = value
    assert status in STATUSES, f"{where} {cid}: unknown status {status!r}"
    assert isinstance(reason, str) and reason.strip(), f"{where} {cid}: no reason"
    assert "\n" not in reason, f"{where} {cid}: the reason is one line"


def test_header_documents_the_format() -> None:
    head = KEY.read_text(encoding="utf-8").split("\nschema:", 1)[0]
    for word in ("squash", "parent", "kind", "expect", "nemo_gym", "pre_existing", "pr_scope", "dco_branches"):
        assert word in head, f"the comment block at the top does not explain `{word}`"


def test_checks_list_is_the_server_checks(key: dict) -> None:
    assert key["checks"] == SERVER_CHECKS


def test_prs_are_unique_with_real_shas(key: dict) -> None:
    numbers = [pr["pr"] for pr in key["prs"]]
    assert len(numbers) == len(set(numbers)), [n for n, c in Counter(numbers).items() if c > 1]
    for pr in key["prs"]:
        assert SHA.match(pr["squash"]) and SHA.match(pr["parent"]), pr["pr"]
        assert pr["squash"] != pr["parent"]
        assert pr["kind"] in KINDS, pr["pr"]
        assert f"(#{pr['pr']})" in pr["title"], f"#{pr['pr']}: the squash subject names the PR"


def test_the_corpus_covers_what_issue_19_asks(key: dict) -> None:
    prs = key["prs"]
    kinds = Counter(pr["kind"] for pr in prs)
    assert len(prs) >= 60
    assert kinds["add"] >= 30, kinds
    assert kinds["change"] >= 15, kinds
    assert kinds["core"] >= 5, kinds
    renamed = {name: s["renamed_from"] for pr in prs for name, s in pr["servers"].items() if "renamed_from" in s}
    for new, old in RENAMES.items():
        assert renamed.get(new) == old
    assert sum(1 for pr in prs if not pr["servers"]) >= 5, "PRs that touch nemo_gym/ and no server"


def test_kind_matches_the_servers(key: dict) -> None:
    for pr in key["prs"]:
        statuses = [s["status"] for s in pr["servers"].values()]
        renamed = [s for s in pr["servers"].values() if "renamed_from" in s]
        if pr["kind"] == "core":
            assert not statuses, pr["pr"]
        elif pr["kind"] == "add":
            assert "added" in statuses and not renamed, pr["pr"]
        elif pr["kind"] == "change":
            assert statuses and set(statuses) == {"changed"} and not renamed, pr["pr"]
        else:
            assert renamed, pr["pr"]


def test_every_server_expects_every_check(key: dict) -> None:
    for pr in key["prs"]:
        for name, server in pr["servers"].items():
            where = f"#{pr['pr']} {name}"
            assert server["status"] in ("added", "changed"), where
            assert list(server["expect"]) == SERVER_CHECKS, f"{where}: expect holds every check, in order"
            for cid, value in _values(server["expect"]):
                _check_value(where, cid, value)
            for cid, value in _values(server.get("nemo_gym")):
                assert cid in SERVER_CHECKS, f"{where}: nemo_gym names unknown {cid}"
                _check_value(f"{where} (nemo_gym)", cid, value)
                assert value != server["expect"][cid], f"{where} {cid}: nemo_gym repeats expect"
            if "renamed_from" in server:
                assert server["status"] == "changed", f"{where}: a rename is changed"
                assert server["renamed_from"] in (pr.get("removed") or {}), f"{where}: the old name is removed"
            if server["status"] == "added":
                statuses = {v[0] for _, v in _values(server["expect"])} | {
                    v[0] for _, v in _values(server.get("nemo_gym"))
                }
                assert "pre_existing" not in statuses, f"{where}: an added server has no pre-existing failure"


def test_registry_rules_are_off_by_default(key: dict) -> None:
    """GR115-GR118 and GR121 need .gym-review.yaml: skipped under the defaults, judged under nemo_gym."""
    for pr in key["prs"]:
        for name, server in pr["servers"].items():
            for cid in ("GR115", "GR116", "GR117", "GR118", "GR121"):
                assert server["expect"][cid][0] == "skip", f"#{pr['pr']} {name} {cid}"
                assert cid in (server.get("nemo_gym") or {}), f"#{pr['pr']} {name} {cid}: judged under nemo_gym"


def test_pr_scope_holds_gr120(key: dict) -> None:
    for pr in key["prs"]:
        scope = pr["pr_scope"]
        assert list(scope["expect"]) == PR_SCOPE_CHECKS, pr["pr"]
        assert scope["expect"]["GR120"][0] == "skip", f"#{pr['pr']}: DCO is off by default"
        _check_value(f"#{pr['pr']} pr_scope", "GR120", scope["expect"]["GR120"])
        _check_value(f"#{pr['pr']} pr_scope (nemo_gym)", "GR120", scope["nemo_gym"]["GR120"])


def test_dco_branches(key: dict) -> None:
    branches = key["dco_branches"]
    assert len(branches) >= 5
    assert {b["nemo_gym"]["GR120"][0] for b in branches} == {"pass", "fail"}, "both outcomes are represented"
    for b in branches:
        assert SHA.match(b["base"]) and SHA.match(b["head"]) and b["base"] != b["head"], b["branch"]
        assert isinstance(b["commits"], int) and b["commits"] >= 1
        _check_value(f"branch {b['branch']}", "GR120", b["nemo_gym"]["GR120"])


def test_bench_reads_the_key_and_scores_a_report(key: dict) -> None:
    """The bench's scoring, on a hand-made report shaped like schema 1 (extra fields must not matter)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_registry as bench

    pr = next(p for p in key["prs"] if p["servers"])
    name, server = next(iter(pr["servers"].items()))
    want = bench.expected(server, "defaults")
    findings = [
        {
            "id": cid,
            "status": v[0] if v[0] != "pre_existing" else "fail",
            "pre_existing": v[0] == "pre_existing",
            "new_field": 1,
        }
        for cid, v in want.items()
    ]
    report = {
        "servers": [{"name": name, "status": server["status"], "findings": findings, "extra": {}}],
        "pr": {"findings": [{"id": "GR120", "status": "skip"}]},
        "future_field": [],
    }
    run = bench.Run(0.5, 0)
    bench.read_report(report, run)
    tally = bench.Tally()
    bench.score_pr(pr, "defaults", run, tally)
    assert not tally.findings and sum(row["agree"] for row in tally.rows.values()) == len(want) + 1
    assert bench.judge("pass", "fail") == "false_alarm" and bench.judge("fail", "pass") == "miss"
    assert bench.judge("pre_existing", "fail") == "false_alarm" and bench.judge("fail", "pre_existing") == "miss"
    assert bench.judge("skip", "error") == "false_alarm" and bench.judge("fail", None) == "miss"


def test_bench_says_plainly_when_the_mirror_is_missing(tmp_path: Path, capsys) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_registry as bench

    assert bench.main(["--mirror", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "mirror is not at" in err and "fetch github:NVIDIA-NeMo/Gym" in err
