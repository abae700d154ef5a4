"""What a server needs installed: its requirements, split into index packages, checkout paths and URL pulls."""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
import tomllib
from dataclasses import dataclass, field

from gym_review_bot.reqfile import logical_lines
from gym_review_bot.sources import SourceTree

# Options that point pip somewhere other than PyPI.
INDEX_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--no-index": "--no-index",
    "--trusted-host": "--trusted-host",
}
INCLUDE_OPTIONS = {"-r", "--requirement", "-c", "--constraint"}
EDITABLE_OPTIONS = {"-e", "--editable"}
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.I)
_VCS = re.compile(r"^(git|hg|svn|bzr)\+", re.I)
_NAMED = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*@\s*(.+?)\s*$")
_MAX_INCLUDE_DEPTH = 5
# Other servers of NeMo Gym's own tree: never part of a dependency install of the checkout root.
SERVER_TREES = ("resources_servers/", "responses_api_agents/", "responses_api_models/")


@dataclass
class UrlDependency:
    """A requirement line that leaves PyPI (GR207)."""

    file: str
    line: int
    text: str
    reason: str


@dataclass
class LocalDependency:
    """A directory of the checkout installed as a package (e.g. `-e nemo-gym[dev] @ ../../`)."""

    path: str  # repository-relative directory, "" for the root
    extras: str = ""


@dataclass
class Requirements:
    """The install plan of one server."""

    source: str | None = None  # repository-relative requirements.txt / pyproject.toml
    lines: list[str] = field(default_factory=list)  # handed to `pip install -r`
    local: list[LocalDependency] = field(default_factory=list)
    url_dependencies: list[UrlDependency] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def requirements_text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


def resolve_dir(base_dir: str, relative: str) -> str | None:
    """A path relative to a repository directory, or None when it leaves the checkout."""
    if relative.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(base_dir, relative))
    if joined == ".":
        return ""
    if joined.startswith("../") or joined == "..":
        return None
    return joined


def _local_target(spec: str) -> str | None:
    """The path of a `file:` URL or plain path requirement, else None."""
    if spec.startswith("file:"):
        spec = spec.removeprefix("file:").removeprefix("//")
        return spec if spec and not spec.startswith("/") else ("/" + spec.lstrip("/"))
    if spec.startswith((".", "/")) or spec in ("", "."):
        return spec
    return None


class _Parser:
    def __init__(self, tree: SourceTree, server_dir: str, allow_urls: bool):
        self.tree = tree
        self.server_dir = server_dir
        self.allow_urls = allow_urls
        self.result = Requirements()

    def url(self, file: str, line: int, text: str, reason: str) -> None:
        self.result.url_dependencies.append(UrlDependency(file, line, text, reason))
        if self.allow_urls:
            self.result.lines.append(text)

    def local(self, file: str, line: int, text: str, target: str, extras: str) -> None:
        path = resolve_dir(posixpath.dirname(file), target)
        if path is None or not (self.tree.is_dir(path) or path == ""):
            self.url(file, line, text, f"installs {target!r}, which is not a directory of this checkout")
            return
        self.result.local.append(LocalDependency(path, extras))

    def requirement(self, file: str, line: int, text: str, editable: bool = False) -> None:
        named = _NAMED.match(text)
        spec = named.group(3) if named else text.strip()
        extras = (named.group(2) or "") if named else ""
        target = _local_target(spec)
        if target is not None and not target.startswith("/"):
            self.local(file, line, text, target, extras)
        elif target is not None:
            self.url(file, line, text, "installs from an absolute path outside the checkout")
        elif _VCS.match(spec):
            self.url(file, line, text, "installs from a version-control URL")
        elif _URL.match(spec):
            self.url(file, line, text, "installs from a URL")
        elif editable:
            self.url(file, line, text, "is an editable install of something that is not a checkout path")
        else:
            self.result.lines.append(text.strip())

    def parse_file(self, path: str, depth: int = 0) -> None:
        entry = self.tree.get(path)
        if entry is None or entry.kind != "file":
            self.result.notes.append(f"{path} is not a regular file of the checkout; not installed")
            return
        text = self.tree.read(entry).decode("utf-8", "replace")
        for lineno, line in logical_lines(text):
            self.parse_line(path, lineno, line, depth)

    def parse_line(self, path: str, lineno: int, line: str, depth: int) -> None:
        try:
            words = shlex.split(line, comments=False, posix=True)
        except ValueError:
            words = line.split()
        first = words[0].split("=", 1)[0] if words else ""
        if first in INDEX_OPTIONS:
            self.url(path, lineno, line, f"changes the package index ({INDEX_OPTIONS[first]})")
        elif first in INCLUDE_OPTIONS:
            target = words[0].split("=", 1)[1] if "=" in words[0] else (words[1] if len(words) > 1 else "")
            included = resolve_dir(posixpath.dirname(path), target)
            if included is None or depth >= _MAX_INCLUDE_DEPTH:
                self.url(path, lineno, line, "includes a file outside the checkout or nested too deeply")
            elif first in ("-c", "--constraint"):
                self.result.notes.append(f"{path}:{lineno}: constraints file {target} not applied")
            else:
                self.parse_file(included, depth + 1)
        elif first in EDITABLE_OPTIONS:
            rest = line.split(None, 1)[1] if " " in line.strip() else line.split("=", 1)[-1]
            self.requirement(path, lineno, rest.strip(), editable=True)
        elif first.startswith("-"):
            self.result.lines.append(line)  # --pre, --prefer-binary, ...: pip judges them
        else:
            self.requirement(path, lineno, line)


def _parse_pyproject(parser: _Parser, path: str) -> None:
    entry = parser.tree.get(path)
    try:
        data = tomllib.loads(parser.tree.read(entry).decode("utf-8")) if entry else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        parser.result.notes.append(f"{path} is not valid TOML ({exc}); nothing installed from it")
        return
    sources = data.get("tool", {}).get("uv", {}).get("sources", {})
    text = parser.tree.read(entry).decode("utf-8") if entry else ""
    for dep in data.get("project", {}).get("dependencies", []) or []:
        if not isinstance(dep, str):
            continue
        lineno = next((i for i, ln in enumerate(text.splitlines(), 1) if dep in ln), None) or 1
        name = re.split(r"[\s\[<>=!~;@]", dep, maxsplit=1)[0]
        source = sources.get(name) if isinstance(sources, dict) else None
        if isinstance(source, dict) and isinstance(source.get("path"), str):
            named = re.match(r"^[^\[]*(\[[^\]]*\])?", dep)
            parser.local(path, lineno, dep, source["path"], (named.group(1) or "") if named else "")
        elif isinstance(source, dict) and (source.get("git") or source.get("url") or source.get("index")):
            parser.url(path, lineno, dep, "is pulled from a URL, VCS or index set in [tool.uv.sources]")
        else:
            parser.requirement(path, lineno, dep)


def read_requirements(tree: SourceTree, server_dir: str, allow_urls: bool = False) -> Requirements:
    """The server's install plan from requirements.txt, else pyproject.toml's [project.dependencies]."""
    parser = _Parser(tree, server_dir, allow_urls)
    req_txt, pyproject = f"{server_dir}/requirements.txt", f"{server_dir}/pyproject.toml"
    if tree.get(req_txt):
        parser.result.source = req_txt
        parser.parse_file(req_txt)
    elif tree.get(pyproject):
        parser.result.source = pyproject
        _parse_pyproject(parser, pyproject)
    return parser.result


def local_files(tree: SourceTree, dep: LocalDependency) -> list:
    """The files a checkout-path dependency installs from: its tree minus the other servers' trees."""
    out = []
    for entry in tree.walk(dep.path):
        rel = entry.path[len(dep.path) + 1 :] if dep.path else entry.path
        other_server = rel.startswith(SERVER_TREES)  # the server itself is copied at run time
        if entry.kind == "file" and not other_server and not rel.startswith(".git/"):
            out.append(entry)
    return out


def content_digest(tree: SourceTree, entries: list) -> str:
    """A digest of paths and contents (git object ids where the tree has them)."""
    h = hashlib.sha256()
    for entry in entries:
        h.update(entry.path.encode() + b"\0")
        if entry.oid:
            h.update(entry.oid.encode())
        else:
            with tree.stream(entry) as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()
