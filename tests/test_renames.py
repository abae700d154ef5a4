"""Renamed servers (issue 19, item 9) on hand-made git repositories: a rename is a change, matched with its old
self; GR118 and the evidence checks still apply when data/ or verify()'s module changed; deleting one server and
adding an unrelated one is no rename."""

from __future__ import annotations

from gym_review_bot.discover import discover_pr
from gym_review_bot.models import Finding
from gym_review_bot.review import ReviewOptions, review
from tests.conftest import ALL_RULES, GitRepo, good_server_files


def old_server(repo: GitRepo, rules: str | None = None, verified: str = "false") -> dict[str, str]:
    """Commit `old_srv` (its README's licence still the scaffold's: a GR109 failure at the base), branch `pr`."""
    files = dict(good_server_files("old_srv"))
    licence = "Code: Apache 2.0\nData: CC BY 4.0 (questions written for this demo)"
    assert licence in files["README.md"]
    files["README.md"] = files["README.md"].replace(licence, "Code: ?\nData: ?")
    files["configs/old_srv.yaml"] = files["configs/old_srv.yaml"].replace("verified: false", f"verified: {verified}")
    repo.server("old_srv", files)
    if rules is not None:
        repo.write({".gym-review.yaml": rules})
    repo.commit("old_srv")
    repo.git("checkout", "-q", "-b", "pr")
    return files


def rename(repo: GitRepo, files: dict[str, str], changes: dict[str, str | None] | None = None) -> None:
    """Move old_srv to new_srv as a contributor would: the name replaced in the files that carry it."""
    repo.git("rm", "-q", "-r", "resources_servers/old_srv")
    moved = {rel.replace("old_srv", "new_srv"): text.replace("old_srv", "new_srv") for rel, text in files.items()}
    repo.server("new_srv", {**moved, **(changes or {})})
    repo.commit("rename old_srv to new_srv")


def servers(repo: GitRepo) -> dict[str, tuple[str, str | None, bool]]:
    found = discover_pr(repo.path, "main")
    return {t.name: (t.status, t.renamed_from, t.reworked) for t in found.servers}


def findings(repo: GitRepo, name: str = "new_srv") -> dict[str, Finding]:
    report = review(discover_pr(repo.path, "main"), ReviewOptions()).report
    server = next(s for s in report.servers if s.name == name)
    return {f.id: f for f in server.findings}


def test_a_rename_is_a_change_matched_with_its_old_self(repo: GitRepo) -> None:
    files = old_server(repo)
    rename(repo, files)
    assert servers(repo) == {"new_srv": ("changed", "old_srv", False)}
    found = discover_pr(repo.path, "main")
    assert any("new_srv is resources_servers/old_srv renamed" in n for n in found.notes)
    assert not any("old_srv is removed" in n for n in found.notes)
    f = findings(repo)
    # the scaffold licence failed at the base too: reported with the new path, pre-existing, not new
    assert f["GR109"].status == "fail" and f["GR109"].pre_existing, f["GR109"].message
    assert "resources_servers/new_srv/README.md" in f["GR109"].message
    assert not any(i.startswith("GR4") for i in f)  # a plain change is not asked for evidence


def test_a_new_failure_in_a_renamed_server_is_new(repo: GitRepo) -> None:
    files = old_server(repo)
    rename(repo, files, {"requirements.txt": "-e ../../\nnot a requirement line ~~\n"})
    f = findings(repo)
    assert f["GR108"].status == "fail" and not f["GR108"].pre_existing


def test_gr118_and_evidence_apply_when_data_or_the_verify_module_changed(repo: GitRepo) -> None:
    files = old_server(repo, ALL_RULES, verified="true")
    # a plain rename carries `verified: true` over: nothing for GR118 to say
    rename(repo, files)
    assert findings(repo)["GR118"].status == "pass", findings(repo)["GR118"].message
    # a changed data file makes it a new server for GR118 and the evidence checks
    rows = files["data/example.jsonl"].splitlines()
    repo.server("new_srv", {"data/example.jsonl": "\n".join(reversed(rows)) + "\n"})
    repo.commit("reorder the examples")
    assert servers(repo) == {"new_srv": ("changed", "old_srv", True)}
    f = findings(repo)
    assert f["GR118"].status == "fail" and "is new and has `verified: true`" in f["GR118"].message
    assert f["GR401"].status == "skip"  # asked of it again: no description, nothing to profile
    found = discover_pr(repo.path, "main")
    assert any("data/example.jsonl" in n and "GR118" in n for n in found.notes)


def test_verify_module_changed_makes_a_rename_reworked(repo: GitRepo) -> None:
    files = old_server(repo)
    app = files["app.py"]
    assert "def verify(" in app
    rename(repo, files, {"app.py": app + "\n\ndef helper() -> int:\n    return 1\n"})
    assert servers(repo) == {"new_srv": ("changed", "old_srv", True)}


def test_delete_one_and_add_an_unrelated_one_is_no_rename(repo: GitRepo) -> None:
    old_server(repo)
    repo.git("rm", "-q", "-r", "resources_servers/old_srv")
    unrelated = {
        "app.py": "# another server\nfrom nemo_gym import x\n\n\nclass Other:\n    async def verify(self, body):\n"
        "        return {'reward': 0.5, 'why': 'a different server altogether'}\n",
        "configs/other.yaml": "other:\n  resources_servers:\n    other:\n      entrypoint: app.py\n",
        "README.md": "# Other\n\nNothing like the old one.\n",
    }
    repo.server("other", unrelated)
    repo.commit("replace old_srv with other")
    assert servers(repo) == {"old_srv": ("removed", None, False), "other": ("added", None, False)}


def test_less_than_half_of_the_old_files_paired_is_no_rename(repo: GitRepo) -> None:
    files = old_server(repo)
    repo.git("rm", "-q", "-r", "resources_servers/old_srv")
    # only requirements.txt and the example rows come along: 2 of the old server's 7 files
    repo.server(
        "new_srv",
        {
            "requirements.txt": files["requirements.txt"],
            "data/example.jsonl": files["data/example.jsonl"],
            "app.py": "# rewritten\nclass New:\n    async def verify(self, body):\n        return {'reward': 1}\n",
            "configs/new_srv.yaml": "new_srv:\n  resources_servers:\n    new_srv:\n      entrypoint: app.py\n",
        },
    )
    repo.commit("new_srv")
    assert servers(repo) == {"new_srv": ("added", None, False), "old_srv": ("removed", None, False)}
