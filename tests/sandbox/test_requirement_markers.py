"""GR108 and the install plan read environment markers as packaging does; paths and URLs are judged outside them.

pip splits a requirement's marker off at the first `;` (at `; ` for a URL) and only then decides
whether the rest is a path, a URL or a PEP 508 requirement (`parse_req_from_line`). Whatever is in
a marker's quoted values (`/`, `@`, `[`, `\\`, `~`, `:`) is data for packaging's `Marker`, never a path.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import make_git_tree
from packaging.markers import InvalidMarker, Marker

from gym_review_bot.reqfile import parse_line
from gym_review_bot.sandbox.requirements import read_requirements

SERVER = "resources_servers/demo"

# Every marker variable packaging knows, compared with values holding characters that look like paths or URLs.
VARIABLES = (
    "os_name", "sys_platform", "platform_machine", "platform_python_implementation", "platform_release",
    "platform_system", "platform_version", "python_version", "python_full_version", "implementation_name",
    "implementation_version", "extra",
)  # fmt: skip
VALUES = ("a/b", "./x", "../..", "/abs", "x@y", "git+https://h/x", "C:\\\\dir", "~user", "[x]", "p.whl", "#1 SMP")
OPERATORS = ("==", "!=", "in", "not in", "<", ">=", "~=", "===")


def markers() -> list[str]:
    """Markers packaging accepts, from each variable, operator and path-like value."""
    out = []
    for variable, op, value in itertools.product(VARIABLES, OPERATORS, VALUES):
        text = f'{variable} {op} "{value}"'
        try:
            Marker(text)
        except InvalidMarker:
            continue
        out.append(text)
    out += [
        "platform_system != \"a/b\" and (python_version >= '3.8' or os_name == 'nt/x')",
        "'linux/x' in sys_platform",
        'python_version>"3"',
    ]
    return out


MARKERS = markers()


def test_there_are_markers_of_every_kind_to_try() -> None:
    assert len(MARKERS) > 200 and any("/" in m for m in MARKERS) and any("@" in m for m in MARKERS)


def test_a_requirement_with_any_marker_packaging_accepts_is_valid() -> None:
    wrong = []
    for marker in MARKERS:
        for line in (f"six==1.16.0 ; {marker}", f"six==1.16.0;{marker}", f"six[socks] >=1.0; {marker}"):
            req = parse_line(1, line)
            ok = req.error is None and req.requirement is not None and req.target is None
            if not ok or req.requirement.marker != Marker(marker) or req.render() != str(req.requirement):
                wrong.append((line, req.error))
    assert wrong == []


def test_the_issue_line_is_valid_and_installed_as_an_index_requirement(tmp_path: Path) -> None:
    line = 'six==1.16.0 ; platform_system != "a/b"'
    tree = make_git_tree(tmp_path / "repo", {f"{SERVER}/requirements.txt": line + "\n"})
    reqs = read_requirements(tree, SERVER)
    assert reqs.invalid == [] and reqs.local == [] and reqs.url_dependencies == []
    assert reqs.lines == ['six==1.16.0; platform_system != "a/b"']


@pytest.mark.parametrize("marker", ['python_version >= "3/8"', "sys_platform == 'linux'"])
def test_urls_and_paths_keep_their_marker_and_are_judged_without_it(marker: str) -> None:
    url = parse_line(1, f"https://example.com/pkg-1.0.tar.gz ; {marker}")
    assert url.error is None and url.target == "https://example.com/pkg-1.0.tar.gz"
    assert url.render() == f"https://example.com/pkg-1.0.tar.gz ; {marker}"
    named = parse_line(1, f"pkg @ https://example.com/pkg-1.0.tar.gz ; {marker}")
    assert named.error is None and named.requirement is not None
    assert named.requirement.url == "https://example.com/pkg-1.0.tar.gz" and named.requirement.marker == Marker(marker)
    path = parse_line(1, f"./pkg[dev] ; {marker}")
    assert path.error is None and (path.target, path.extras) == ("./pkg", ("dev",))
    assert path.marker == marker and path.render() == f"./pkg[dev] ; {marker}"
    editable = parse_line(1, f"-e ../..[dev] ; {marker}")
    assert editable.error is None and editable.editable and editable.target == "../.."


def test_a_url_splits_its_marker_only_at_semicolon_space_as_pip_does() -> None:
    # pip: `https://h/p;v=1` is one URL (URLs may hold `;`), `https://h/p ; marker` is a URL and a marker.
    whole = parse_line(1, "https://example.com/p.whl;v=1")
    assert whole.error is None and whole.target == "https://example.com/p.whl;v=1" and whole.marker is None


@pytest.mark.parametrize(
    "line",
    [
        'six ; python_version >>> "3"',
        "six ; no_such_variable == '1'",
        "six ; python_version",
        "./pkg ; platform_system ==",
        "https://example.com/p.whl ; os_name = 'x'",
    ],
)
def test_a_marker_packaging_refuses_is_an_error(line: str) -> None:
    req = parse_line(1, line)
    assert req.error is not None and not req.is_requirement, line


def test_paths_and_urls_outside_markers_are_still_judged(tmp_path: Path) -> None:
    text = '../../../../elsewhere ; python_version > "3"\nlib @ file:///opt/lib ; os_name == "posix"\n'
    text += 'git+https://e.com/x.git ; sys_platform == "linux/a"\n'
    tree = make_git_tree(tmp_path / "repo", {f"{SERVER}/requirements.txt": text})
    reqs = read_requirements(tree, SERVER)
    assert reqs.lines == [] and reqs.local == [] and reqs.invalid == []
    assert [u.line for u in reqs.url_dependencies] == [1, 2, 3]


def test_a_local_package_keeps_its_marker_in_the_install_plan(tmp_path: Path) -> None:
    files = {f"{SERVER}/requirements.txt": './pkg[dev] ; sys_platform == "linux"\n', f"{SERVER}/pkg/setup.py": ""}
    tree = make_git_tree(tmp_path / "repo", files)
    [dep] = read_requirements(tree, SERVER).local
    assert (dep.path, dep.extras, dep.marker) == (f"{SERVER}/pkg", "[dev]", 'sys_platform == "linux"')


def test_gr108_passes_marker_lines_and_fails_a_bad_marker(server_tree) -> None:
    good = 'six==1.16.0 ; platform_system != "a/b"\nnumpy ; python_version >= "3.8" and os_name != "c:/x"\n'
    assert server_tree({"requirements.txt": good})["GR108"].status == "pass"
    bad = server_tree({"requirements.txt": 'numpy==1.26\nsix ; python_version >>> "3"\n'})["GR108"]
    assert bad.status == "fail" and bad.line == 2, bad.message


def test_pip_reads_the_same_lines_the_same_way() -> None:
    """pip itself is the oracle: every line accepted here is one pip accepts, with the same marker."""
    constructors = pytest.importorskip("pip._internal.req.constructors")
    # Left out: packaging versions write a backslash in a value differently, and pip normalises `extra` names.
    lines = [f"six==1.16.0 ; {m}" for m in MARKERS[::5] if "\\" not in m and not m.startswith("extra")]
    lines += ['https://e.com/pkg-1.0.tar.gz ; python_version >= "3/8"', "pkg @ https://e.com/p.whl ; os_name == 'a/b'"]
    for line in lines:
        ours = parse_line(1, line)
        theirs = constructors.install_req_from_line(line)
        assert ours.error is None, line
        assert str(Marker(ours.marker_text())) == str(theirs.markers), line  # pip vendors its own packaging
