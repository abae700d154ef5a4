"""pip requirements files as pip reads them: the one reader behind GR108, GR207 and the sandbox's install plan.

Lines are joined and comments dropped as pip's `req_file.py` does; a line that starts with an option is
parsed by an optparse parser with pip's own requirements-file options, so every spelling pip accepts
(`-iURL`, `-i URL`, `--index-url=URL`, `--index URL`, ...) reads the same here. A requirement is PEP 508
(packaging's `Requirement`), a URL, or a local path with extras that are valid names; anything else is
an error naming the line, so nothing unparsed ever reaches pip or a shell.
"""

from __future__ import annotations

import functools
import optparse
import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING

import re2

if TYPE_CHECKING:
    from packaging.requirements import Requirement

MAX_LINES = 1_000  # logical lines (or pyproject dependencies) read from one file; real ones have a few dozen
MAX_LINE_CHARS = 10_000

# pip's requirements-file options: (names, canonical name, takes a value). The canonical name is pip's.
FILE_OPTIONS = (
    (("-i", "--index-url"), True),
    (("--extra-index-url",), True),
    (("--no-index",), False),
    (("-c", "--constraint"), True),
    (("-r", "--requirement"), True),
    (("-e", "--editable"), True),
    (("-f", "--find-links"), True),
    (("--no-binary",), True),
    (("--only-binary",), True),
    (("--prefer-binary",), False),
    (("--require-hashes",), False),
    (("--pre",), False),
    (("--trusted-host",), True),
    (("--use-feature",), True),
)
# Options pip accepts after a requirement on the same line.
REQUIREMENT_OPTIONS = ((("--hash",), True), (("--config-settings",), True), (("--global-option",), True))
# Options that point pip somewhere other than the default index.
INDEX_OPTIONS = frozenset({"--index-url", "--extra-index-url", "--find-links", "--no-index", "--trusted-host"})
ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar.lz")
_URL = re2.compile(r"(?i)^([a-z][a-z0-9+.-]*://|file:)")
_VCS = re2.compile(r"(?i)^(git|hg|svn|bzr)\+")
_NAME = re2.compile(r"(?i)^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$")  # PEP 508 names, extras included


class _OptionError(Exception):
    pass


class _Parser(optparse.OptionParser):
    def error(self, msg: str):  # optparse would print and exit
        raise _OptionError(msg)


def _parser(options: tuple) -> _Parser:
    parser = _Parser(add_help_option=False, usage=optparse.SUPPRESS_USAGE)

    def record(option: optparse.Option, _opt: str, value: str | None, p: optparse.OptionParser) -> None:
        p.values.found.append((option.get_opt_string(), value))

    for names, takes_value in options:
        kwargs = {"type": "string", "nargs": 1} if takes_value else {}
        parser.add_option(*names, action="callback", callback=record, **kwargs)
    return parser


_LINE_PARSER = _parser(FILE_OPTIONS)
_REQUIREMENT_PARSER = _parser(REQUIREMENT_OPTIONS)


@dataclass(frozen=True)
class ReqLine:
    """One logical line of a requirements file, parsed; `error` says why pip (or we) would refuse it."""

    line: int  # its first physical line, from 1
    text: str  # the logical line: continuations joined, comment dropped
    options: tuple[tuple[str, str | None], ...] = ()  # (pip's long option name, value), in order
    requirement: Requirement | None = None  # PEP 508, `name @ url` included
    target: str | None = None  # a URL or local path requirement (extras split off)
    extras: tuple[str, ...] = ()  # the extras of a URL or path requirement (a Requirement keeps its own)
    editable: bool = False
    marker: str | None = None  # the environment marker of a URL or path requirement (packaging accepts it)
    error: str | None = None

    @property
    def is_requirement(self) -> bool:
        return self.requirement is not None or self.target is not None

    def all_extras(self) -> tuple[str, ...]:
        return tuple(sorted(self.requirement.extras)) if self.requirement is not None else self.extras

    def marker_text(self) -> str:
        """The requirement's environment marker, "" without one."""
        if self.requirement is not None:
            return str(self.requirement.marker) if self.requirement.marker else ""
        return self.marker or ""

    def spec(self) -> str | None:
        """Where the requirement comes from: its URL or path, or None for an index requirement."""
        if self.requirement is not None:
            return self.requirement.url
        return self.target

    def render(self) -> str:
        """The line as pip should read it, rebuilt from what was parsed (never the raw text)."""
        if self.requirement is not None:
            head = str(self.requirement)
        elif self.target is not None:
            head = self.target + (f"[{','.join(self.extras)}]" if self.extras else "")
            head += f" ; {self.marker}" if self.marker else ""
        else:
            head = ""
        if self.editable:
            head = f"-e {head}"
        opts = [opt if value is None else f"{opt}={shlex.quote(value)}" for opt, value in self.options]
        return " ".join(part for part in (head, *opts) if part)


def is_valid_name(name: str) -> bool:
    """Whether `name` is a PEP 508 name (a project or an extra)."""
    return len(name) <= 200 and _NAME.fullmatch(name) is not None


def is_url(spec: str) -> bool:
    return _URL.search(spec) is not None


def is_vcs(spec: str) -> bool:
    return _VCS.search(spec) is not None


def _strip_comment(line: str) -> str:
    """pip's `(^|\\s+)#.*$`: a `#` at the start or after whitespace starts a comment."""
    start = 0
    while (at := line.find("#", start)) != -1:
        if at == 0 or line[at - 1].isspace():
            return line[:at]
        start = at + 1
    return line


def _is_comment_line(line: str) -> bool:
    return line.lstrip().startswith("#")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines as pip joins them (a trailing backslash continues), comments stripped, numbered from 1."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0

    def emit(number: int, line: str) -> None:
        line = _strip_comment(line).strip()
        if line:
            out.append((number, line))

    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.endswith("\\") or _is_comment_line(raw):
            if _is_comment_line(raw):
                raw = " " + raw
            if pending:
                pending.append(raw)
                emit(start, "".join(pending))
                pending = []
            else:
                emit(number, raw)
        else:
            if not pending:
                start = number
            pending.append(raw.strip("\\"))
        if len(out) > MAX_LINES:
            break
    if pending:
        emit(start, "".join(pending))
    return out


def _split_extras(spec: str) -> tuple[str, str]:
    """`./pkg[dev,test]` as (`./pkg`, `dev,test`)."""
    if spec.endswith("]") and "[" in spec:
        at = spec.rindex("[")
        return spec[:at], spec[at + 1 : -1]
    return spec, ""


def _looks_like_path(spec: str) -> bool:
    if "@" in spec and not spec.startswith((".", "/", "~", "\\")) and "/" not in spec.split("@", 1)[0]:
        return False  # `name @ url`: PEP 508
    head = spec.split("[", 1)[0]
    return spec.startswith((".", "/", "~", "\\")) or "/" in head or "\\" in head or head.endswith(ARCHIVE_SUFFIXES)


def split_marker(spec: str, url: bool | None = None) -> tuple[str, str | None, str | None]:
    """(requirement, marker, error): pip's split at the first `;` (`; ` for a URL), the marker checked by packaging.

    Only the part before the marker is then judged as a path, a URL or a PEP 508 requirement: what a
    marker compares against (`platform_system != "a/b"`) is packaging's to read.
    """
    separator = "; " if (is_url(spec) if url is None else url) else ";"
    if separator not in spec:
        return spec.strip(), None, None
    head, _, marker_text = spec.partition(separator)
    marker_text = marker_text.strip()
    if not marker_text:
        return head.strip(), None, None
    from packaging.markers import InvalidMarker, Marker  # packaging loads only for a line that needs it

    try:
        Marker(marker_text)
        return head.strip(), marker_text, None
    except InvalidMarker as exc:
        return head.strip(), None, f"has an environment marker packaging refuses ({str(exc).splitlines()[0][:160]})"


def parse_spec(spec: str) -> tuple[Requirement | None, str | None, tuple[str, ...], str | None, str | None]:
    """A requirement's spec as (PEP 508 requirement, URL or path, its extras, its marker, error)."""
    head, marker, error = split_marker(spec)
    if error:
        return None, None, (), None, error
    if is_url(head) or _looks_like_path(head):
        if any(c.isspace() for c in head):
            return None, None, (), None, "is a URL or path with whitespace in it"
        if is_url(head):
            return None, head, (), marker, None
        path, extras_text = _split_extras(head)
        extras = tuple(e.strip() for e in extras_text.split(",")) if extras_text else ()
        bad = [e for e in extras if not is_valid_name(e)]
        if bad or any(c in path for c in "[]'\"$`;|&<>"):
            shown = bad[0] if bad else path
            return None, None, (), None, f"is not a path with valid extras (`{shown[:60]}` is not a PEP 508 name)"
        return None, path, tuple(sorted(set(extras))), marker, None
    from packaging.requirements import Requirement

    try:
        return Requirement(head + (f" ; {marker}" if marker else "")), None, (), None, None
    except ValueError as exc:  # InvalidRequirement, and InvalidSpecifier that packaging lets escape
        return None, None, (), None, f"is not a valid PEP 508 requirement ({str(exc).splitlines()[0][:160]})"


def _parse_options(parser: _Parser, words: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    values = optparse.Values({"found": []})
    _, leftover = parser.parse_args(words, values)
    return values.found, leftover


def parse_line(number: int, text: str) -> ReqLine:
    """One logical line, parsed as pip would (and as uv reads `-e name @ path`)."""
    if len(text) > MAX_LINE_CHARS:
        return ReqLine(number, text[:200], error=f"is longer than {MAX_LINE_CHARS:,} characters")
    if text.startswith("-"):
        return _options_line(number, text)
    # pip's break_args_options: the requirement runs to the first word that starts with `-`.
    words = text.split(" ")
    cut = next((i for i, word in enumerate(words) if word.startswith("-")), len(words))
    spec, options_text = " ".join(words[:cut]).strip(), " ".join(words[cut:])
    try:
        options, leftover = _parse_options(_REQUIREMENT_PARSER, shlex.split(options_text))
    except (_OptionError, ValueError) as exc:
        return ReqLine(number, text, error=f"has an option pip does not accept after a requirement ({exc})")
    if leftover:
        return ReqLine(number, text, error=f"has unexpected text after its options (`{leftover[0][:60]}`)")
    requirement, target, extras, marker, error = parse_spec(spec)
    return ReqLine(number, text, tuple(options), requirement, target, extras, marker=marker, error=error)


def _options_line(number: int, text: str) -> ReqLine:
    marker = None
    if text.startswith(("-e", "--editable")):
        # The marker of `-e path ; marker` is split off before the words are (shlex would drop its quotes).
        text_part, marker, error = split_marker(text, url="://" in text)
        if error:
            return ReqLine(number, text, error=error)
    else:
        text_part = text
    try:
        options, leftover = _parse_options(_LINE_PARSER, shlex.split(text_part))
    except _OptionError as exc:
        return ReqLine(number, text, error=f"is not a pip requirements-file option line ({exc})")
    except ValueError as exc:  # shlex: unbalanced quotes
        return ReqLine(number, text, error=f"cannot be split into words ({exc})")
    editables = [value or "" for opt, value in options if opt == "--editable"]
    if not editables:
        if leftover:
            return ReqLine(number, text, error=f"has unexpected text after its options (`{leftover[0][:60]}`)")
        return ReqLine(number, text, tuple(options))
    if len(options) > 1:
        return ReqLine(number, text, error="combines `-e` with other options; put each on its own line")
    # uv reads `-e name[extras] @ path`: the words after the option belong to it.
    spec = " ".join([editables[0], *leftover]).strip()
    if not spec:
        return ReqLine(number, text, error="`-e` needs a path or URL")
    spec += f" ; {marker}" if marker else ""
    requirement, target, extras, marker, error = parse_spec(spec)
    if requirement is not None and requirement.url is None:
        error = "is an editable install of a name, not of a path or URL (`-e ./path` or `-e name @ path`)"
    return ReqLine(number, text, (), requirement, target, extras, editable=True, marker=marker, error=error)


@functools.lru_cache(maxsize=16)
def parse_requirements_text(text: str) -> tuple[ReqLine, ...]:
    """Every logical line of a requirements file, parsed; one more error line when the file is too long."""
    lines = logical_lines(text)
    parsed = [parse_line(number, line) for number, line in lines[:MAX_LINES]]
    if len(lines) > MAX_LINES:
        number, line = lines[MAX_LINES]
        parsed.append(ReqLine(number, line[:200], error=f"is past the first {MAX_LINES:,} lines; nothing more is read"))
    return tuple(parsed)


@dataclass
class Pyproject:
    """What pyproject.toml says about dependencies, or the first malformed key (and its line)."""

    text: str
    dependencies: list[tuple[str, Requirement | None, str | None]]  # (text, parsed, why it is not PEP 508)
    uv_sources: dict[str, dict]  # [tool.uv.sources], entries that are tables
    error: str | None = None
    error_line: int | None = None
    _lines: dict[str, int] | None = None

    def line_of(self, dependency: str) -> int:
        """The line a dependency is written on (the `dependencies` line when they are written inline)."""
        if self._lines is None:
            self._lines = _string_lines(self.text)
        return self._lines.get(dependency, self._lines.get("", 1))


def _string_lines(text: str) -> dict[str, int]:
    """The line of each dependency written one to a line (`"numpy>=2",`): one pass, no pattern matching."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("dependencies"):
            found.setdefault("", number)  # where the list starts: the line of dependencies written inline
        item = line.strip().removeprefix("dependencies").strip().lstrip("=[").strip().rstrip(",]").strip()
        if len(item) >= 2 and item[0] == item[-1] and item[0] in "'\"":
            found.setdefault(item[1:-1], number)
    return found


def _kind(value: object) -> str:
    names = {dict: "a table", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a date or time")


@functools.lru_cache(maxsize=4)
def read_pyproject(text: str) -> Pyproject:
    """[project.dependencies] and [tool.uv.sources] of a pyproject.toml, checked for shape at every step."""
    import tomllib  # only a server with a pyproject.toml needs it

    try:
        data = tomllib.loads(text)
    except RecursionError:
        return Pyproject(text, [], {}, "is not readable: its arrays or tables nest too deeply")
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = message.rsplit("(at line ", 1)[-1].split(",", 1)[0] if "(at line " in message else ""
        return Pyproject(text, [], {}, f"is not valid TOML ({message[:200]})", int(line) if line.isdigit() else None)
    project = data.get("project", {})
    if not isinstance(project, dict):
        return Pyproject(text, [], {}, f"is malformed: `project` is {_kind(project)}, not a table")
    deps = project.get("dependencies", [])
    if not isinstance(deps, list):
        return Pyproject(text, [], {}, f"is malformed: `project.dependencies` is {_kind(deps)}, not an array")
    if len(deps) > MAX_LINES:
        return Pyproject(
            text, [], {}, f"lists {len(deps):,} dependencies, more than the {MAX_LINES:,} the review reads"
        )
    from packaging.requirements import Requirement

    out: list[tuple[str, Requirement | None, str | None]] = []
    for i, dep in enumerate(deps):
        if not isinstance(dep, str):
            return Pyproject(text, [], {}, f"is malformed: `project.dependencies[{i}]` is {_kind(dep)}, not a string")
        try:
            out.append((dep, Requirement(dep), None))
        except ValueError as exc:  # InvalidRequirement, and InvalidSpecifier that packaging lets escape
            out.append((dep, None, f"is not a valid PEP 508 requirement ({str(exc).splitlines()[0][:160]})"))
    sources: object = data
    for key in ("tool", "uv", "sources"):
        sources = sources.get(key, {}) if isinstance(sources, dict) else sources
        if not isinstance(sources, dict):
            where = {"tool": "tool", "uv": "tool.uv", "sources": "tool.uv.sources"}[key]
            return Pyproject(text, out, {}, f"is malformed: `{where}` is {_kind(sources)}, not a table")
    return Pyproject(text, out, {k: v for k, v in sources.items() if isinstance(v, dict)})
