"""What a server needs installed: its requirements, split into index packages, checkout paths and URL pulls."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass, field

from gym_review_bot.reqfile import (
    INDEX_OPTIONS,
    ReqLine,
    is_url,
    is_valid_name,
    is_vcs,
    parse_requirements_text,
    read_pyproject,
)
from gym_review_bot.sources import SourceTree

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
class InvalidLine:
    """A requirement line neither pip nor the review can read safely (GR108 fails it); never installed."""

    file: str
    line: int
    text: str
    reason: str


@dataclass
class LocalDependency:
    """A directory of the checkout installed as a package (e.g. `-e nemo-gym[dev] @ ../../`)."""

    path: str  # repository-relative directory, "" for the root
    extras: str = ""  # "" or "[a,b]": PEP 508 names only (see valid_extras), sorted
    marker: str = ""  # an environment marker packaging accepts; pip evaluates it in the build

    def __post_init__(self) -> None:
        if not valid_extras(self.extras):
            raise ValueError(f"not a list of PEP 508 extras: {self.extras[:80]!r}")
        if self.marker:
            from packaging.markers import Marker  # loaded only for a marker to check

            Marker(self.marker)  # InvalidMarker is a ValueError


def valid_extras(extras: str) -> bool:
    """Whether `extras` is "" or `[name,...]` with PEP 508 names: safe to put after a path anywhere."""
    if not extras:
        return True
    if not (extras.startswith("[") and extras.endswith("]")):
        return False
    return all(is_valid_name(name) for name in extras[1:-1].split(","))


@dataclass
class Requirements:
    """The install plan of one server."""

    source: str | None = None  # repository-relative requirements.txt / pyproject.toml
    lines: list[str] = field(default_factory=list)  # handed to `pip install -r`
    local: list[LocalDependency] = field(default_factory=list)
    url_dependencies: list[UrlDependency] = field(default_factory=list)
    invalid: list[InvalidLine] = field(default_factory=list)  # refused lines: the install plan is incomplete
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
    if not is_url(spec):
        return spec
    return None


class _Parser:
    def __init__(self, tree: SourceTree, server_dir: str, allow_urls: bool):
        self.tree = tree
        self.server_dir = server_dir
        self.allow_urls = allow_urls
        self.result = Requirements()

    def url(self, file: str, line: int, text: str, reason: str, rendered: str | None = None) -> None:
        self.result.url_dependencies.append(UrlDependency(file, line, text, reason))
        if self.allow_urls and rendered:
            self.result.lines.append(rendered)

    def invalid(self, file: str, line: int, text: str, reason: str) -> None:
        self.result.invalid.append(InvalidLine(file, line, text, reason))

    def local(self, file: str, line: int, text: str, target: str, extras: tuple[str, ...], marker: str = "") -> None:
        path = resolve_dir(posixpath.dirname(file), target)
        if path is None or not (self.tree.is_dir(path) or path == ""):
            self.url(file, line, text, f"installs {target!r}, which is not a directory of this checkout")
            return
        self.result.local.append(LocalDependency(path, f"[{','.join(extras)}]" if extras else "", marker))

    def requirement(self, file: str, line: int, req: ReqLine) -> None:
        spec = req.spec()
        target = _local_target(spec) if spec is not None else None
        if target is not None and not target.startswith("/"):
            self.local(file, line, req.text, target, req.all_extras(), req.marker_text())
        elif target is not None:
            self.url(file, line, req.text, "installs from an absolute path outside the checkout")
        elif spec is not None and is_vcs(spec):
            self.url(file, line, req.text, "installs from a version-control URL", req.render())
        elif spec is not None:
            self.url(file, line, req.text, "installs from a URL", req.render())
        elif req.editable:
            self.url(file, line, req.text, "is an editable install of something that is not a checkout path")
        else:
            self.result.lines.append(req.render())

    def parse_file(self, path: str, depth: int = 0) -> None:
        entry = self.tree.get(path)
        if entry is None or entry.kind != "file":
            self.result.notes.append(f"{path} is not a regular file of the checkout; not installed")
            return
        text = self.tree.read(entry).decode("utf-8", "replace")
        for req in parse_requirements_text(text):
            self.parse_line(path, req, depth)

    def parse_line(self, path: str, req: ReqLine, depth: int) -> None:
        if req.error:
            self.invalid(path, req.line, req.text, req.error)
        elif req.is_requirement:
            self.requirement(path, req.line, req)
        else:
            for option, value in req.options:
                self.option(path, req, option, value or "", depth)

    def option(self, path: str, req: ReqLine, option: str, value: str, depth: int) -> None:
        rendered = option if not value else ReqLine(req.line, req.text, ((option, value),)).render()
        if option in INDEX_OPTIONS:
            self.url(path, req.line, req.text, f"changes the package index ({option})", rendered)
        elif option in ("--requirement", "--constraint"):
            included = resolve_dir(posixpath.dirname(path), value)
            if included is None or depth >= _MAX_INCLUDE_DEPTH:
                self.url(path, req.line, req.text, "includes a file outside the checkout or nested too deeply")
            elif option == "--constraint":
                self.result.notes.append(f"{path}:{req.line}: constraints file {value} not applied")
            else:
                self.parse_file(included, depth + 1)
        else:
            self.result.lines.append(rendered)  # --pre, --prefer-binary, --only-binary=...: pip judges them


def _parse_pyproject(parser: _Parser, path: str) -> None:
    entry = parser.tree.get(path)
    try:
        text = parser.tree.read(entry).decode("utf-8") if entry else ""
    except UnicodeDecodeError as exc:
        parser.result.notes.append(f"{path} is not valid UTF-8 ({exc}); nothing installed from it")
        return
    project = read_pyproject(text)
    if project.error:
        parser.invalid(path, project.error_line or 1, "pyproject.toml", project.error)
        parser.result.notes.append(f"{path} {project.error}; nothing installed from it")
        return
    for dep, requirement, error in project.dependencies:
        if requirement is None:
            parser.invalid(path, project.line_of(dep), dep, error or "is not a valid requirement")
            continue
        source = project.uv_sources.get(requirement.name)
        # Only lines that end up in a finding need their number: finding it costs a pass over the file.
        lineno = project.line_of(dep) if source is not None or requirement.url else 0
        req = ReqLine(lineno, dep, requirement=requirement)
        if source is not None and isinstance(source.get("path"), str):
            parser.local(path, lineno, dep, source["path"], req.all_extras(), req.marker_text())
        elif source is not None and (source.get("git") or source.get("url") or source.get("index")):
            parser.url(path, lineno, dep, "is pulled from a URL, VCS or index set in [tool.uv.sources]")
        else:
            parser.requirement(path, lineno, req)


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
