"""Core-change blast radius (issue 22): which servers a change to shared code reaches, read statically."""

from __future__ import annotations

from gym_review_bot import git
from gym_review_bot.blast.affected import affected, import_statements
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.sources import GitTree
from tests.conftest import GitRepo

APP = (
    "from nemo_gym.base_resources_server import SimpleResourcesServer\n\n\nclass S(SimpleResourcesServer):\n    pass\n"
)


BASE_IMPORT = "from nemo_gym.openai_utils import Response\n"


def _tree(tmp_path) -> GitRepo:
    repo = GitRepo(tmp_path / "gym")
    repo.write(
        {
            "nemo_gym/__init__.py": "",
            "nemo_gym/base_resources_server.py": "from nemo_gym.openai_utils import Response\n",
            "nemo_gym/openai_utils.py": "Response = dict\n",
            "nemo_gym/cli.py": "import sys\n",
            "resources_servers/uses_base/app.py": APP,
            "resources_servers/uses_base/configs/uses_base.yaml": "x: 1\n",
            "resources_servers/plain/app.py": "import json\n",
            "resources_servers/plain/configs/plain.yaml": "x: 1\n",
            "resources_servers/common/__init__.py": "",
            "resources_servers/common/helpers.py": "def helper():\n    return 1\n",
            "resources_servers/uses_lib/app.py": "def f():\n    from resources_servers.common import helpers\n",
            "resources_servers/uses_lib/configs/uses_lib.yaml": "x: 1\n",
            "docs/index.md": "docs\n",
        }
    )
    repo.commit("base")
    return repo


def _reached(repo: GitRepo, changes: dict[str, str]) -> dict[str, set[str]]:
    base = repo.git("rev-parse", "HEAD")
    repo.write(changes)
    head = repo.commit("the change")
    changed = [c.path for c in git.changed_files(repo.path, base, head)]
    trees = [GitTree(repo.path, base), GitTree(repo.path, head)]
    servers = trees[1].subdirs("resources_servers")
    return {name: r.modules for name, r in affected([Checkout(t) for t in trees], changed, servers).items()}


def test_a_module_imported_through_another_reaches_the_server(tmp_path) -> None:
    repo = _tree(tmp_path)
    assert _reached(repo, {"nemo_gym/openai_utils.py": "Response = list\n"}) == {
        "uses_base": {"nemo_gym/openai_utils.py"}
    }


def test_a_shared_library_under_resources_servers_reaches_its_importers(tmp_path) -> None:
    repo = _tree(tmp_path)
    reached = _reached(repo, {"resources_servers/common/helpers.py": "def helper():\n    return 2\n"})
    assert reached == {"uses_lib": {"resources_servers/common/helpers.py"}}  # a function-level import counts


def test_a_package_init_runs_with_any_of_its_modules(tmp_path) -> None:
    repo = _tree(tmp_path)
    reached = _reached(repo, {"nemo_gym/__init__.py": "VERSION = 2\n"})
    assert reached == {"uses_base": {"nemo_gym/__init__.py"}}


def test_docs_and_unimported_modules_reach_no_server(tmp_path) -> None:
    repo = _tree(tmp_path)
    assert _reached(repo, {"docs/index.md": "more docs\n", "nemo_gym/cli.py": "import os\n"}) == {}


def test_import_statements_are_read_from_text_with_parentheses_relative_dots_and_aliases() -> None:
    text = "import a.b as c, d\nfrom .x import (\n    y as z,\n    w,\n)\n    from ..p import q  # later\n"
    assert import_statements(text) == [(None, ["a.b", "d"]), (".x", ["y", "w"]), ("..p", ["q"])]


def test_import_statements_skip_comments_in_parentheses_and_read_each_statement_of_a_line() -> None:
    text = (
        "from util import (  # noqa: E402\n    AnswerJudgment,  # the judge's verdict\n    score,\n)\n"
        "import os; import matplotlib.pyplot as plt\n"
        "from a import (b); from c import d\n"
        "fromage = 'import x'\nimported = 1\nx = 'from y import z'  # not at a line start\n"
    )
    assert import_statements(text) == [
        ("util", ["AnswerJudgment", "score"]),
        (None, ["os"]),
        (None, ["matplotlib.pyplot"]),
        ("a", ["b"]),
        ("c", ["d"]),
    ]


def test_an_unclosed_parenthesis_ends_the_file_without_reading_a_line_twice() -> None:
    text = "from a import (b,\n" * 3 + "import c\n"
    # the first parenthesis runs to the end (Python would refuse the file); nothing after it is a statement
    assert import_statements(text) == [("a", ["b", "from a import (b", "from a import (b", "import c"])]


def test_the_reach_is_read_at_the_merge_base_and_at_the_head(tmp_path) -> None:
    """A PR can add an import of what it changes (reached at the head only) or drop one (at the merge base only):
    both count."""
    repo = _tree(tmp_path)
    added = _reached(
        repo,
        {
            "nemo_gym/cli.py": "import os\n",
            "nemo_gym/base_resources_server.py": f"{BASE_IMPORT}from nemo_gym import cli\n",
        },
    )
    assert added == {"uses_base": {"nemo_gym/cli.py", "nemo_gym/base_resources_server.py"}}
    dropped = _reached(
        repo, {"nemo_gym/openai_utils.py": "Response = list\n", "nemo_gym/base_resources_server.py": "Response = 1\n"}
    )
    assert dropped == {"uses_base": {"nemo_gym/openai_utils.py", "nemo_gym/base_resources_server.py"}}


def test_the_reach_runs_none_of_the_prs_code(tmp_path) -> None:
    """`plan` reads the head's Python as text: a module that would leave a file behind when run leaves none."""
    import json
    import subprocess
    import sys

    repo = _tree(tmp_path)
    marker = tmp_path / "ran"
    payload = f"open({str(marker)!r}, 'w').write('ran')\nResponse = list\n"
    base = repo.git("rev-parse", "HEAD")
    repo.write({"nemo_gym/openai_utils.py": payload, "resources_servers/uses_base/tests/test_app.py": payload})
    head = repo.commit("hostile")
    done = subprocess.run(
        [sys.executable, "-m", "gym_review_bot", "plan", "--repo", str(repo.path), "--base", base, "--head", head],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["blast"]["count"] == 1 and not marker.exists()
