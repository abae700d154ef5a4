"""Which servers a change to shared code reaches: those whose Python imports a changed module, directly or
through other modules of the checkout. Nothing is imported or run: import statements are read from the text
(one linear scan a file; a full parse of the ~800 files a registry's servers reach took seconds), and
resolved to files with the same module lookup as GR102's class resolver (`Checkout.module_path`). A statement
is read where it starts a line or follows a `;`, functions' own imports included (they run when the code
does); an `import` line inside a string counts too. Not read: `__import__`/importlib calls and a statement
after `if x:` on the same line."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from gym_review_bot import git
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.checks.pyclasses import module_name
from gym_review_bot.discover import SERVERS_DIR, Discovery, is_server
from gym_review_bot.sources import Entry, GitTree

CORE_DIR = "nemo_gym"
MAX_FILES_PER_SERVER = 5_000  # a bound on the walk: a server reaching more is reported as such
MAX_SOURCE_BYTES = 512 * 1024  # as for every Python file the review reads (checks/checkout.MAX_PYTHON_BYTES)
PREFETCH_BYTES = 8 * 1024 * 1024  # Python read ahead per `git cat-file --batch` run (one round trip a file cost most)
_MODULE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.")


def _names(text: str) -> list[str]:
    """`a.b as c, d` -> ["a.b", "d"] (a line continuation's backslash is no name)."""
    names = [n.strip().split(" as ")[0].strip() for n in text.split(",")]
    return [n for n in names if n and n != "\\"]


def _keyword(text: str, word: str) -> bool:
    return text.startswith(word) and text[len(word) : len(word) + 1] in (" ", "\t")


def import_statements(text: str) -> list[tuple[str | None, list[str]]]:
    """(from-module or None, names) of every import statement; dots of a relative import kept on the module.

    One pass over the lines (each read once, parentheses included: linear on any text): a statement starts a
    line or follows a `;`; `from m import (...)` runs to its `)` over lines, comments dropped."""
    out: list[tuple[str | None, list[str]]] = []
    lines = text.split("\n") if "import" in text else []
    i = 0
    while i < len(lines):
        line, i = lines[i], i + 1
        if "import" not in line:
            continue
        for part in line.split(";"):
            statement = part.lstrip(" \t")
            if _keyword(statement, "import"):
                out.append((None, _names(statement[7:].split("#", 1)[0])))
                continue
            found = _from_import(statement) if _keyword(statement, "from") else None
            if found is None:
                continue
            module, names = found
            if not names.startswith("("):
                out.append((module, _names(names.split("#", 1)[0])))
                continue
            body = [names[1:].split("#", 1)[0]]
            while ")" not in body[-1] and i < len(lines):
                body.append(lines[i].split("#", 1)[0])
                i += 1
            out.append((module, _names(" ".join(body).split(")", 1)[0])))
            if len(body) > 1:
                break  # the parentheses ran over lines: the rest of this one was inside them
    return out


def _from_import(statement: str) -> tuple[str, str] | None:
    """`from <module> import <names>` -> (module, names as written), or None when it is not that."""
    rest = statement[5:].lstrip(" \t")
    end = 0
    while end < len(rest) and rest[end] in _MODULE_CHARS:
        end += 1
    module, after = rest[:end], rest[end:]
    if not module or after[:1] not in (" ", "\t"):
        return None
    after = after.lstrip(" \t")
    return (module, after[7:].lstrip(" \t")) if _keyword(after, "import") else None


@dataclass
class Reach:
    """A server and the changed modules it imports (repository paths), and whether the walk was cut short."""

    server: str
    modules: set[str] = field(default_factory=set)
    cut_short: bool = False


def shared_modules(changed: list[str], checkout: Checkout) -> list[str]:
    """The changed Python files other servers can import: nemo_gym/, and libraries under resources_servers/
    (a directory there that is not a server)."""
    out = []
    for path in changed:
        if not path.endswith(".py"):
            continue
        parts = path.split("/")
        if parts[0] == CORE_DIR:
            out.append(path)
        elif parts[0] == SERVERS_DIR and len(parts) > 2 and not is_server(checkout.tree, parts[1]):
            out.append(path)
    return sorted(set(out))


def changed_paths(found: Discovery) -> list[str]:
    """Every path a PR changes (renames under both names); none outside PR mode."""
    return [c.path for c in found.changes()]


def changed_shared(found: Discovery, changed: list[str] | None = None) -> list[str]:
    """The shared modules a PR changes: nemo_gym/'s, and a library's under resources_servers/ (a directory that is a
    server neither at the merge base nor at the head: a server the PR adds is no library)."""
    if found.base is None:
        return []
    changed = changed_paths(found) if changed is None else changed
    at_base = shared_modules(changed, Checkout(found.base))
    return sorted(set(at_base) & set(shared_modules(changed, Checkout(found.head))))


class ImportGraph:
    """Each Python file's imports resolved to files of one checkout, memoised."""

    def __init__(self, checkout: Checkout, statements: dict[str, list] | None = None):
        self.checkout = checkout
        self._imports: dict[str, set[str]] = {}
        self._files: dict[tuple[str, bool], set[str]] = {}  # a dotted name's files: most modules import the same few
        # import statements by blob id: the merge base and the head share most files, read once for both
        self._statements = statements if statements is not None else {}

    def prefetch(self, prefixes: tuple[str, ...]) -> None:
        """Read the import statements of every Python file under these folders ahead, a few MiB per git run
        (one `git cat-file` round trip a file, as the walk asks for them, cost most of `plan`'s time)."""
        tree = self.checkout.tree
        if not isinstance(tree, GitTree):
            return
        todo = [
            e
            for prefix in prefixes
            for e in tree.walk(prefix)
            if e.path.endswith(".py") and _readable(e) and e.oid and e.oid not in self._statements
        ]
        while todo:
            batch, size = [], 0
            while todo and (not batch or size + todo[-1].size <= PREFETCH_BYTES):
                batch.append(todo.pop())
                size += batch[-1].size
            blobs = git.read_blobs(tree.repo, list({e.oid for e in batch if e.oid}))
            for oid, blob in blobs.items():
                self._statements[oid] = import_statements(blob.decode("utf-8", "replace"))

    def imports(self, path: str) -> set[str]:
        if path not in self._imports:
            self._imports[path] = self._resolve(path)
        return self._imports[path]

    def _resolve(self, path: str) -> set[str]:
        entry = self.checkout.tree.get(path)
        if entry is None or not _readable(entry):
            return set()
        key = entry.oid or path
        if key not in self._statements:
            self._statements[key] = import_statements(self.checkout.tree.read(entry).decode("utf-8", "replace"))
        found: set[str] = set()
        package = module_name(path) if path.endswith("/__init__.py") else module_name(posixpath.dirname(path))
        for source, names in self._statements[key]:  # function-level imports count: they run when code does
            if source is None:
                for name in names:
                    found |= self._module_files(name)
                continue
            level = len(source) - len(source.lstrip("."))
            base = _absolute(package, source.lstrip(".") or None, level)
            if base is None:
                continue
            found |= self._module_files(base)
            for name in names:  # `from pkg import submodule`
                if name != "*":
                    found |= self._module_files(f"{base}.{name}", parents=False)
        found.discard(path)
        return found

    def _module_files(self, module: str, parents: bool = True) -> set[str]:
        """The file of a dotted module and (importing it runs them) its packages' __init__.py files."""
        key = (module, parents)
        if key not in self._files:
            self._files[key] = self._find_module_files(module, parents)
        return self._files[key]

    def _find_module_files(self, module: str, parents: bool) -> set[str]:
        names = [module]
        if parents:
            parts = module.split(".")
            names += [".".join(parts[:i]) for i in range(1, len(parts))]
        return {p for p in (self.checkout.module_path(n) for n in names if n) if p is not None}

    def reach(self, server: str, targets: set[str]) -> Reach:
        """Which of `targets` a server's Python files import, following imports through the checkout."""
        result = Reach(server)
        start = [e.path for e in self.checkout.tree.walk(f"{SERVERS_DIR}/{server}") if e.path.endswith(".py")]
        seen, stack = set(start), list(start)
        while stack:
            if len(seen) > MAX_FILES_PER_SERVER:
                result.cut_short = True
                break
            for imported in self.imports(stack.pop()):
                if imported not in seen:
                    seen.add(imported)
                    stack.append(imported)
        result.modules = seen & targets
        return result


def _readable(entry: Entry) -> bool:
    return entry.kind == "file" and not entry.missing and entry.size <= MAX_SOURCE_BYTES


def _absolute(package: str, module: str | None, level: int) -> str | None:
    """`from ..x import y` in a module of `package`, as a dotted name (None when it climbs out of the tree)."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else [])) or None


def affected(checkouts: list[Checkout], changed: list[str], servers: list[str]) -> dict[str, Reach]:
    """The servers (of those given) that import a changed shared module, at any of the checkouts (the merge
    base and the head: a PR can add an import as well as change a module). Servers reached by none are left out."""
    out: dict[str, Reach] = {}
    statements: dict[str, list] = {}
    for checkout in checkouts:
        targets = set(shared_modules(changed, checkout))
        if not targets:
            continue
        checkout.tree.walk("")  # the whole tree at once: every server is walked (one listing, not one each)
        graph = ImportGraph(checkout, statements)
        graph.prefetch((CORE_DIR, SERVERS_DIR))
        for server in servers:
            if not is_server(checkout.tree, server):
                continue
            reach = graph.reach(server, targets)
            if reach.modules or reach.cut_short:
                known = out.setdefault(server, Reach(server))
                known.modules |= reach.modules
                known.cut_short = known.cut_short or reach.cut_short
    return out
