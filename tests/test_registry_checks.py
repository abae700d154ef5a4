"""GR115-GR121, the registry's own rules, failing and passing on small real git repositories."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from gym_review_bot.discover import discover_pr
from gym_review_bot.models import Finding
from gym_review_bot.review import ReviewOptions, review
from tests.conftest import ALL_RULES, GitRepo, good_server_files

SPDX = "# SPDX-FileCopyrightText: Copyright (c) 2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.\n"
SPDX += "# SPDX-License-Identifier: Apache-2.0\n"
METRICS = json.dumps({"name": "example", "Number of examples": 5}, indent=4)
SCAFFOLD_README = """# Description

Data links: ?

# Licensing information
Code: ?
Data: ?

Dependencies
- nemo_gym: Apache 2.0
?
"""


def nvidia_server(name: str = "srv") -> dict[str, str | bytes | None]:
    """The demo's good server with NVIDIA headers on its Python files and its example metrics."""
    files: dict[str, str | bytes | None] = dict(good_server_files(name))
    for rel, text in list(files.items()):
        if rel.endswith(".py") and isinstance(text, str):
            files[rel] = SPDX + "\n".join(text.splitlines()[2:]) + "\n"  # replace the demo's own header
    files["data/example_metrics.json"] = METRICS
    return files


def open_pr(repo: GitRepo, rules: str | None = ALL_RULES, base_server: dict | None = None) -> None:
    """Commit the rules (and an existing server) on main, then branch `pr`."""
    if rules is not None:
        repo.write({".gym-review.yaml": rules})
    if base_server is not None:
        repo.server("srv", base_server)
    repo.commit("registry rules")
    repo.git("checkout", "-q", "-b", "pr")


def signed_commit(repo: GitRepo, message: str = "change") -> str:
    repo.git("add", "-A")
    repo.git("commit", "-q", "-s", "--allow-empty", "-m", message)
    return repo.git("rev-parse", "HEAD")


def findings(repo: GitRepo) -> dict[str, Finding]:
    report = review(discover_pr(repo.path, "main"), ReviewOptions()).report
    assert report.pr is not None  # GR120, about the PR's commits, is one of the PR's own checks
    return {f.id: f for f in [*report.servers[0].findings, *report.pr.findings]}


def add_server(repo: GitRepo, overrides: dict[str, str | bytes | None] | None = None) -> dict[str, Finding]:
    repo.server("srv", {**nvidia_server(), **(overrides or {})})
    signed_commit(repo, "add srv")
    return findings(repo)


def test_a_compliant_new_server_passes_every_registry_rule(repo: GitRepo) -> None:
    open_pr(repo)
    found = add_server(repo)
    for check_id in ("GR115", "GR116", "GR117", "GR118", "GR119", "GR120", "GR121"):
        assert found[check_id].status == "pass", (check_id, found[check_id].message)


def test_rules_are_off_by_default_except_the_readme(repo: GitRepo) -> None:
    open_pr(repo, rules=None)
    found = add_server(repo, {"app.py": "print('no header')\n", "data/x_conflict.jsonl": "{}\n"})
    for check_id in ("GR115", "GR116", "GR117", "GR118", "GR120", "GR121"):
        assert (found[check_id].status, found[check_id].skip_kind) == ("skip", "disabled_by_policy"), check_id
        assert ".gym-review.yaml" in found[check_id].message
    assert found["GR119"].status == "pass"


# -- GR115 ---------------------------------------------------------------------------------------


def test_gr115_fails_naming_each_added_file_without_a_header(repo: GitRepo) -> None:
    open_pr(repo)
    found = add_server(repo, {"app.py": "import os\n", "tools/run.sh": "#!/bin/sh\necho hi\n"})
    f = found["GR115"]
    assert f.status == "fail" and f.severity == "error"
    assert "resources_servers/srv/app.py" in f.message and "resources_servers/srv/tools/run.sh" in f.message
    assert {loc.file for loc in f.locations} == {"resources_servers/srv/app.py", "resources_servers/srv/tools/run.sh"}
    assert "test_app.py" not in f.message  # that one has the header


def test_gr115_accepts_either_header_a_shebang_and_exempts_empty_and_unmatched_files(repo: GitRepo) -> None:
    open_pr(repo)
    found = add_server(
        repo,
        {
            "app.py": "# Copyright (c) 2025, NVIDIA CORPORATION.  All rights reserved.\nimport os\n",
            "tools/run.sh": "#!/bin/bash\n" + SPDX + "echo hi\n",
            "__init__.py": "",
            "tools/__init__.py": "\n",
            "configs/extra.yaml": "no_header: true\n",  # *.yaml is not in `files`
        },
    )
    assert found["GR115"].status == "pass", found["GR115"].message


def test_gr115_needs_every_line_of_a_multi_line_header(repo: GitRepo) -> None:
    open_pr(repo)
    only_first = SPDX.splitlines()[0] + "\nimport os\n"
    assert add_server(repo, {"app.py": only_first})["GR115"].status == "fail"


NEMO_GYM_RULES = (Path(__file__).resolve().parent.parent / "docs" / "nemo-gym.gym-review.yaml").read_text()
APACHE_BOILERPLATE = """#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
"""
# The shapes of NeMo Gym's vendored files (#1949 toolsandbox, #2068 iheval, #1976 legal_agent_bench).
APPLE_MODIFIED = (
    "# Copyright (C) 2024 Apple Inc. All Rights Reserved.\n# Originally Apple MIT License\n#\n"
    "# SPDX-FileCopyrightText: Modifications Copyright (c) 2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.\n"
    "# SPDX-License-Identifier: Apache-2.0\n#\n# NVIDIA modifications to this file are licensed under Apache-2.0.\n"
    "import heapq\n"
)
GOOGLE_VERBATIM = "# coding=utf-8\n# Copyright 2024 The Google Research Authors.\n" + APACHE_BOILERPLATE + "import re\n"
HARVEY_MIT = (
    "# SPDX-FileCopyrightText: Copyright (c) 2026 Harvey AI\n"
    "# SPDX-FileCopyrightText: Copyright (c) 2026 NVIDIA CORPORATION & AFFILIATES. All rights reserved.\n"
    "# SPDX-License-Identifier: MIT\nimport json\n"
)


def test_gr115_accepts_the_header_after_an_upstream_notice_where_the_registry_says_so(repo: GitRepo) -> None:
    # NeMo Gym's copyright CI accepts an Apache licence line within the first 10 lines (issue 19, item 1)
    open_pr(repo, rules=NEMO_GYM_RULES)
    vendored = {
        "vendor/PROVENANCE.md": "Vendored from upstream. License: Apache-2.0.\n",
        "vendor/evaluation.py": APPLE_MODIFIED,
        "vendor/instructions.py": GOOGLE_VERBATIM,
    }
    found = add_server(repo, vendored)
    assert found["GR115"].status == "pass", found["GR115"].message
    # an MIT file with NVIDIA's copyright line has no Apache licence line; a header below line 10 is too late
    late = "#!/usr/bin/env python\n" + "# upstream notice\n" * 10 + SPDX + "x = 1\n"
    repo.server("srv", {"vendor/mit.py": HARVEY_MIT, "vendor/late.py": late})
    signed_commit(repo)
    f = findings(repo)["GR115"]
    assert f.status == "fail", f.message
    assert "2 added file(s) do not carry within their first 10 lines" in f.message
    assert "vendor/mit.py" in f.message and "vendor/late.py" in f.message and "evaluation.py" not in f.message


def test_gr115_wants_the_header_on_the_first_line_by_default(repo: GitRepo) -> None:
    open_pr(repo)  # ALL_RULES: within_lines left at 1
    f = add_server(repo, {"vendor/evaluation.py": APPLE_MODIFIED})["GR115"]
    assert f.status == "fail" and "do not start with" in f.message and "vendor/evaluation.py" in f.message


def test_gr115_checks_only_files_the_pr_adds(repo: GitRepo) -> None:
    legacy = nvidia_server()
    legacy["app.py"] = "# an old file without the header\n" + str(legacy["app.py"])
    open_pr(repo, base_server=legacy)
    repo.server("srv", {"README.md": str(legacy["README.md"]) + "\nMore words.\n"})
    signed_commit(repo)
    assert findings(repo)["GR115"].status == "pass"
    repo.server("srv", {"helper.py": "x = 1\n"})
    signed_commit(repo)
    f = findings(repo)["GR115"]
    assert f.status == "fail" and "helper.py" in f.message and "app.py" not in f.message


def test_gr115_does_not_apply_outside_pr_mode(server_tree) -> None:
    # The checkout's own .gym-review.yaml turns the rules on; without a base they cannot tell what was added.
    found = server_tree(checkout_files={".gym-review.yaml": ALL_RULES})
    assert "GR120" not in found  # the PR's commits: a check of the PR itself, with no PR to check here
    for check_id in ("GR115", "GR118", "GR121"):
        assert (found[check_id].status, found[check_id].skip_kind) == ("skip", "not_applicable"), check_id
        assert "PR mode" in found[check_id].message


# -- GR116 ---------------------------------------------------------------------------------------


def test_gr116_fails_when_the_metrics_file_is_missing(repo: GitRepo) -> None:
    open_pr(repo)
    f = add_server(repo, {"data/example_metrics.json": None})["GR116"]
    assert f.status == "fail" and "example_metrics.json is missing" in f.message and "gym dataset collate" in f.message


def test_gr116_fails_when_the_count_differs_from_the_examples(repo: GitRepo) -> None:
    open_pr(repo)
    f = add_server(repo, {"data/example_metrics.json": json.dumps({"Number of examples": 4})})["GR116"]
    assert f.status == "fail" and '"Number of examples": 4' in f.message and "5 row(s)" in f.message


@pytest.mark.parametrize("content", ["{not json", "[5]", '{"Number of examples": "5"}', '{"Number of examples": NaN}'])
def test_gr116_fails_on_unreadable_metrics(repo: GitRepo, content: str) -> None:
    open_pr(repo)
    assert add_server(repo, {"data/example_metrics.json": content})["GR116"].status == "fail"


def test_gr116_passes_when_the_count_matches(repo: GitRepo) -> None:
    open_pr(repo)
    f = add_server(repo)["GR116"]
    assert f.status == "pass" and '"Number of examples": 5' in f.message


# -- GR117 ---------------------------------------------------------------------------------------


def test_gr117_fails_on_a_conflict_copy_under_data(repo: GitRepo) -> None:
    open_pr(repo)
    f = add_server(repo, {"data/example_CONFLICT_1.jsonl": "{}\n"})["GR117"]
    assert f.status == "fail" and "resources_servers/srv/data/example_CONFLICT_1.jsonl" in f.message


def test_gr117_fails_on_marker_lines_naming_file_and_line(repo: GitRepo) -> None:
    open_pr(repo)
    text = "x = 1\n<<<<<<< HEAD\ny = 2\n=======\ny = 3\n>>>>>>> main\n"
    f = add_server(repo, {"helper.py": SPDX + text})["GR117"]
    assert f.status == "fail" and f.file == "resources_servers/srv/helper.py" and f.line == 4
    assert "line 4" in f.message


def test_gr117_passes_on_setext_headings_and_arrows_mid_line(repo: GitRepo) -> None:
    open_pr(repo)
    readme = str(nvidia_server()["README.md"]) + "\nNotes\n=======\n\nx <<<<<<< y and a >>>>>>> b\n"
    # The SEARCH/REPLACE edit format of coding prompts (NeMo Gym's swerl servers teach it) is not a conflict.
    prompt = SPDX + 'PROMPT = """\n<<<<<<< SEARCH\nold\n=======\nnew\n>>>>>>> REPLACE\n"""\n'
    assert add_server(repo, {"README.md": readme, "prompts.py": prompt})["GR117"].status == "pass"


# -- GR118 ---------------------------------------------------------------------------------------


def without_verified(files: dict) -> dict:
    return {**files, "configs/srv.yaml": str(files["configs/srv.yaml"]).replace("      verified: false\n", "")}


def test_gr118_fails_when_a_new_server_has_no_verified_flag(repo: GitRepo) -> None:
    open_pr(repo)
    repo.server("srv", without_verified(nvidia_server()))
    signed_commit(repo)
    f = findings(repo)["GR118"]
    assert f.status == "fail" and "srv.resources_servers.srv is new and has no `verified`" in f.message
    assert f.file == "resources_servers/srv/configs/srv.yaml" and f.line == 3


def test_gr118_fails_when_a_new_server_claims_verified(repo: GitRepo) -> None:
    open_pr(repo)
    cfg = str(nvidia_server()["configs/srv.yaml"]).replace("verified: false", "verified: true")
    f = add_server(repo, {"configs/srv.yaml": cfg})["GR118"]
    assert f.status == "fail" and "`verified: true`" in f.message  # the value as the YAML writes it


def test_gr118_fails_when_a_pr_turns_verified_to_true(repo: GitRepo) -> None:
    open_pr(repo, base_server=nvidia_server())
    cfg = str(nvidia_server()["configs/srv.yaml"]).replace("verified: false", "verified: true")
    repo.server("srv", {"configs/srv.yaml": cfg})
    signed_commit(repo)
    f = findings(repo)["GR118"]
    assert f.status == "fail" and "turns `verified` to true" in f.message


def test_gr118_passes_for_a_change_that_leaves_the_flag_alone(repo: GitRepo) -> None:
    verified = nvidia_server()
    verified["configs/srv.yaml"] = str(verified["configs/srv.yaml"]).replace("verified: false", "verified: true")
    open_pr(repo, base_server=verified)
    repo.server("srv", {"README.md": str(verified["README.md"]) + "\nMore words.\n"})
    signed_commit(repo)
    assert findings(repo)["GR118"].status == "pass"


def test_gr118_passes_for_a_new_unverified_server(repo: GitRepo) -> None:
    open_pr(repo)
    assert add_server(repo)["GR118"].status == "pass"


# -- GR119 (on by default) -----------------------------------------------------------------------


def test_gr119_fails_on_the_scaffold_readme(server_tree) -> None:
    f = server_tree({"README.md": SCAFFOLD_README})["GR119"]
    assert f.status == "fail" and f.severity == "warning"
    assert "no description" in f.message
    assert "line 3: `Data links:` is still a placeholder" in f.message
    assert "line 11: the `Dependencies` list still has a `?` line" in f.message
    assert "how to start the server" in f.message


def test_gr119_fails_without_the_start_command(server_tree) -> None:
    readme = "# Srv\n\nA trivia server.\n\n# Licensing information\nCode: Apache 2.0\nData: MIT\n"
    f = server_tree({"README.md": readme})["GR119"]
    assert f.status == "fail" and "how to start the server" in f.message and "description" not in f.message


@pytest.mark.parametrize(
    "start", ["ng_run +entrypoint=resources_servers/srv", "gym env start srv", "use `configs/srv.yaml`"]
)
def test_gr119_passes_a_completed_readme_without_a_description_heading(server_tree, start: str) -> None:
    readme = (
        "# srv\n\nA trivia server that rewards naming the right entity.\n\nData links: https://example.org/d\n\n"
        f"Run it: {start}\n\n# Licensing information\nCode: Apache 2.0\nData: MIT\n\n"
        "Dependencies\n- nemo_gym: Apache 2.0\n- rapidfuzz: MIT\n---\n"
    )
    f = server_tree({"README.md": readme})["GR119"]
    assert f.status == "pass", f.message


@pytest.mark.parametrize(
    "links", ["Data links:\n- A: https://example.org/a\n- B: https://example.org/b", "Data links: \nA: x"]
)
def test_gr119_accepts_data_links_over_the_lines_below(server_tree, links: str) -> None:
    # #291 math_with_judge and workplace_assistant: `Data links:` heads its list
    readme = f"# srv\n\nA trivia server.\n\n{links}\n\nRun `gym env start srv`.\n\n# Licensing\nCode: MIT\nData: MIT\n"
    assert server_tree({"README.md": readme})["GR119"].status == "pass"
    blank = readme.replace(links, "Data links:\n")
    assert "`Data links:` is still a placeholder" in server_tree({"README.md": blank})["GR119"].message


def test_gr119_problems_the_base_already_had_are_pre_existing(repo: GitRepo) -> None:
    # #291 example_multi_step: the base lacked a description and a start command; the PR added the description
    base = nvidia_server()
    base["README.md"] = "# Srv\n\nData links: https://example.org/d\n\n# Licensing information\nCode: MIT\nData: MIT\n"
    open_pr(repo, rules=None, base_server=base)
    readme = base["README.md"].replace("\n\nData links", "\n\nA trivia server.\n\nData links")
    repo.server("srv", {"README.md": readme})
    signed_commit(repo)
    f = findings(repo)["GR119"]
    assert f.status == "fail" and f.pre_existing and "description" not in f.message, f.message
    repo.server("srv", {"README.md": readme + "\nDependencies\n- ?\n"})  # a new problem makes it new
    signed_commit(repo)
    assert not findings(repo)["GR119"].pre_existing


# -- GR120 ---------------------------------------------------------------------------------------


def test_gr120_fails_naming_each_unsigned_commit(repo: GitRepo) -> None:
    open_pr(repo)
    repo.server("srv", nvidia_server())
    signed_commit(repo, "add srv")
    unsigned = repo.commit("fix typo")
    other = repo.git("commit", "-q", "--allow-empty", "-m", "x\n\nSigned-off-by: Someone Else <else@example.org>")
    del other
    other_sha = repo.git("rev-parse", "HEAD")
    f = findings(repo)["GR120"]
    assert f.status == "fail" and "2 of 3 commit(s)" in f.message
    assert unsigned[:12] in f.message and other_sha[:12] in f.message and "git commit -s" in f.message


def test_gr120_passes_when_every_commit_is_signed_off_by_its_author(repo: GitRepo) -> None:
    open_pr(repo)
    repo.server("srv", nvidia_server())
    signed_commit(repo, "add srv")
    signed_commit(repo, "more")
    f = findings(repo)["GR120"]
    assert f.status == "pass" and "All 2 commit(s)" in f.message


def test_gr120_ignores_commits_already_on_the_base(repo: GitRepo) -> None:
    repo.commit("an old unsigned commit on main")
    open_pr(repo)
    repo.server("srv", nvidia_server())
    signed_commit(repo, "add srv")
    assert findings(repo)["GR120"].status == "pass"


def dco_commit(repo: GitRepo, message: str, author: str = "Ada Lovelace <ada@example.org>", committer: str = "") -> str:
    """A commit with this author (and committer), made as git makes it; its message as given."""
    name, email = author[:-1].split(" <")
    c_name, c_email = committer[:-1].split(" <") if committer else (name, email)
    env = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": c_name,
        "GIT_COMMITTER_EMAIL": c_email,
    }
    subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", message],
        cwd=repo.path, check=True, env={**os.environ, **env},
    )  # fmt: skip
    return repo.git("rev-parse", "HEAD")


@pytest.mark.parametrize(
    "message, committer, passes",
    [
        ("x\n\nSigned-off-by: Ada Lovelace <ada@example.org>", "", True),
        ("x\n\nsigned-off-by: ADA LOVELACE <ADA@EXAMPLE.ORG>", "", True),  # the App compares case-insensitively
        # signed off by the committer (a maintainer who applied the patch): the App accepts it
        ("x\n\nSigned-off-by: Grace Hopper <grace@example.org>", "Grace Hopper <grace@example.org>", True),
        # a line anywhere in the message, as the App's pattern finds it (not only git's final trailers)
        ("x\n\nSigned-off-by: Ada Lovelace <ada@example.org>\n\nMore words after it.", "", True),
        ("x", "", False),
        ("x\n\nSigned-off-by: Someone Else <else@example.org>", "", False),
    ],
)
def test_gr120_follows_the_dco_apps_rules(repo: GitRepo, message: str, committer: str, passes: bool) -> None:
    open_pr(repo)
    repo.server("srv", nvidia_server())
    repo.git("add", "-A")
    dco_commit(repo, message, committer=committer)
    assert (findings(repo)["GR120"].status == "pass") is passes


def test_gr120_says_what_it_expected_and_what_it_found(repo: GitRepo) -> None:
    open_pr(repo)
    repo.server("srv", nvidia_server())
    repo.git("add", "-A")
    sha = dco_commit(repo, "x\n\nSigned-off-by: Someone Else <else@example.org>")
    f = findings(repo)["GR120"]
    assert (
        f'{sha[:12]} (Ada Lovelace <ada@example.org>): Expected "Ada Lovelace <ada@example.org>", but got' in f.message
    )
    assert '"Someone Else <else@example.org>"' in f.message


def test_gr120_fails_an_invalid_email_and_skips_bots_and_merges(repo: GitRepo) -> None:
    open_pr(repo)
    repo.server("srv", nvidia_server())
    repo.git("add", "-A")
    bad = dco_commit(repo, "x\n\nSigned-off-by: Ada <ada@localhost>", author="Ada <ada@localhost>")
    dco_commit(repo, "bump", author="dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>")
    f = findings(repo)["GR120"]
    assert f.status == "fail" and "1 of 2 commit(s)" in f.message
    assert f"{bad[:12]} (Ada <ada@localhost>): ada@localhost is not a valid email address." in f.message
    repo.git("checkout", "-q", "-b", "side", "main")
    dco_commit(repo, "side\n\nSigned-off-by: Ada Lovelace <ada@example.org>")
    repo.git("checkout", "-q", "pr")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "side")  # an unsigned merge commit: skipped, as the App does
    merge = repo.git("rev-parse", "HEAD")
    after = findings(repo)["GR120"]
    assert "1 of 3 commit(s)" in after.message and merge[:12] not in after.message


# -- GR121 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data/train.jsonl", "data/my_validation.jsonl", "data/sub/example_prepare.jsonl"])
def test_gr121_fails_on_a_committed_dataset(repo: GitRepo, name: str) -> None:
    open_pr(repo)
    f = add_server(repo, {name: "{}\n"})["GR121"]
    assert f.status == "fail" and f"resources_servers/srv/{name}" in f.message


def test_gr121_passes_without_datasets(repo: GitRepo) -> None:
    open_pr(repo)
    assert add_server(repo, {"data/trainer_notes.md": "notes\n"})["GR121"].status == "pass"


def test_gr121_is_about_added_files_only(repo: GitRepo, tmp_path: Path) -> None:
    old = {**nvidia_server(), "data/train.jsonl": "{}\n"}
    open_pr(repo, base_server=old)
    repo.server("srv", {"README.md": str(old["README.md"]) + "\nMore.\n"})
    signed_commit(repo)
    assert findings(repo)["GR121"].status == "pass"


def test_gr120_is_an_error_when_the_commits_cannot_be_listed(repo: GitRepo) -> None:
    from gym_review_bot.checks.base import run_checks
    from gym_review_bot.checks.commits import CHECKS
    from gym_review_bot.checks.pull import PrContext, PullRequest
    from gym_review_bot.config import parse_policy
    from gym_review_bot.sources import GitTree

    open_pr(repo)
    repo.server("srv", nvidia_server())
    head = signed_commit(repo, "add srv")
    tree = GitTree(repo.path, head)
    gone = PullRequest(tree, frozenset(), repo.path, "0" * 40, head)  # a base git does not have
    policy = parse_policy(ALL_RULES.encode())
    [f] = run_checks(CHECKS, PrContext(None, policy, gone), "(pull request)", policy)
    assert f.status == "error" and "Could not list the PR's commits" in f.message
