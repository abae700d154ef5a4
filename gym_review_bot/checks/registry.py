"""A registry's own rules beyond the guide (GR115-GR121), each turned on in `.gym-review.yaml`.

GR119 (the completed README) is the guide's own step 2 and 4, so it runs by default. Everything here
reads PR text with plain string operations or RE2 (linear time): no backtracking regex on PR content.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator
from fnmatch import fnmatchcase

from gym_review_bot.checks.base import Check, CheckError, Outcome, SkipCheck, failed, passed
from gym_review_bot.checks.checkout import Checkout
from gym_review_bot.checks.config import ServerEntry, server_entries
from gym_review_bot.checks.context import ServerContext, damaged_message
from gym_review_bot.checks.licence import is_placeholder, is_rule_line
from gym_review_bot.checks.pull import PullRequest
from gym_review_bot.checks.readme import Licensing, readme_licensing, readme_text
from gym_review_bot.config import POLICY_FILE
from gym_review_bot.discover import is_server
from gym_review_bot.models import Location
from gym_review_bot.renames import RenamedTree
from gym_review_bot.safeload import MAX_ROW_BYTES, bounded_lines, parse_json_line
from gym_review_bot.sources import Entry

MAX_LISTED = 10
HEADER_SNIFF_BYTES = 16 * 1024
MAX_METRICS_BYTES = 1024 * 1024
CONFLICT_MARKERS = (b"<<<<<<<", b">>>>>>>")
# The SEARCH/REPLACE edit format that coding prompts teach looks like a conflict and is not one.
EDIT_FORMAT_LINES = (b"<<<<<<< SEARCH", b">>>>>>> REPLACE")
# The scaffold's data/.gitignore (ng_init_resources_server): full datasets stay out of git.
DATASET_PATTERNS = ("*train.jsonl", "*validation.jsonl", "*_prepare.jsonl")
METRICS_COUNT_KEY = "Number of examples"


def _pull(ctx: ServerContext, what: str) -> PullRequest:
    if ctx.pull is None:
        raise SkipCheck(f"Not applicable outside PR mode (--base): it checks {what}.")
    return ctx.pull


def _listing(items: list[str]) -> str:
    more = f" (and {len(items) - MAX_LISTED} more)" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def _added_under(ctx: ServerContext, pull: PullRequest) -> list[tuple[str, Entry]]:
    """(path relative to the server, entry) for each regular file the PR adds to this server."""
    prefix = ctx.path + "/"
    found = []
    for path in sorted(pull.added_files):
        entry = ctx.tree.get(path) if path.startswith(prefix) else None
        if entry is not None and entry.kind == "file":
            found.append((path[len(prefix) :], entry))
    return found


# -- GR115 copyright header ------------------------------------------------------------------------


def _matches_glob(rel: str, patterns: list[str]) -> bool:
    """A pattern with a `/` matches the path below the server; one without, the file name."""
    name = posixpath.basename(rel)
    return any(fnmatchcase(rel if "/" in p else name, p) for p in patterns)


def _has_header(lines: list[str], headers: list[list], within: int) -> bool:
    """Whether some entry's lines match consecutive lines starting on one of the first `within` lines."""
    return any(
        len(lines) >= start + len(entry)
        and all(rx.search(line) for rx, line in zip(entry, lines[start:], strict=False))
        for start in range(min(within, len(lines)))
        for entry in headers
    )


def _where(within: int) -> str:
    return "start with" if within == 1 else f"carry within their first {within} lines"


def check_copyright_header(ctx: ServerContext) -> Outcome:
    pull = _pull(ctx, "the files a PR adds")
    rule = ctx.policy.rules.copyright_header
    headers = ctx.memo("copyright_headers", rule.compiled)
    checked, missing = 0, []
    for rel, entry in _added_under(ctx, pull):
        if not _matches_glob(rel, rule.files):
            continue
        head = ctx.tree.read(entry, HEADER_SNIFF_BYTES).decode("utf-8", "replace").removeprefix("\ufeff")
        if not head.strip():
            continue  # empty files (an empty __init__.py) are exempt
        checked += 1
        lines = head.splitlines()
        if lines and lines[0].startswith("#!"):
            lines = lines[1:]
        if not _has_header(lines, headers, rule.within_lines):
            missing.append(ctx.full(rel))
    if missing:
        where = (
            "" if rule.within_lines == 1 else f" (after an upstream notice, within the first {rule.within_lines} lines)"
        )
        return failed(
            f"{len(missing)} added file(s) do not {_where(rule.within_lines)} the copyright header this registry "
            f"requires: {_listing(missing)}. Start each with one of the accepted headers{where} (see {POLICY_FILE}, "
            "rules.copyright_header.headers), e.g. `# SPDX-FileCopyrightText: Copyright (c) <year> ...`.",
            file=missing[0],
            locations=[Location(file=path, line=1) for path in missing],
            key="\n".join(missing),
        )
    if not checked:
        return passed(f"No non-empty added file matches {', '.join(rule.files)}.")
    return passed(f"All {checked} added file(s) matching {', '.join(rule.files)} carry a copyright header.")


# -- GR116 example metrics -------------------------------------------------------------------------


def _example_rows(ctx: ServerContext) -> int:
    entry = ctx.find("data/example.jsonl")
    if entry is None:
        raise SkipCheck("Not run: waits on GR106: data/example.jsonl is missing.", "prerequisite_failed")
    with ctx.tree.stream(entry) as fh:  # rows counted, never parsed: a non-blank line is a row
        return sum(1 for _, raw in bounded_lines(fh, MAX_ROW_BYTES) if raw is None or raw.strip())


def check_example_metrics(ctx: ServerContext) -> Outcome:
    file = ctx.full("data/example_metrics.json")
    how = "Generate it with `gym dataset collate ... +mode=example_validation` and commit it."
    entry = ctx.find("data/example_metrics.json")
    if entry is None:
        return failed(f"{file} is missing. {how}", file=file)
    if entry.size > MAX_METRICS_BYTES:
        return failed(f"{file} is {entry.size:,} bytes, over the {MAX_METRICS_BYTES:,}-byte cap. {how}", file=file)
    try:
        metrics = parse_json_line(ctx.tree.read(entry))
    except (UnicodeDecodeError, ValueError) as exc:
        return failed(f"{file} is not valid JSON ({str(exc).splitlines()[0][:200]}). {how}", file=file)
    count = metrics.get(METRICS_COUNT_KEY) if isinstance(metrics, dict) else None
    if not isinstance(count, int) or isinstance(count, bool):
        return failed(f'{file} has no integer "{METRICS_COUNT_KEY}". {how}', file=file)
    rows = _example_rows(ctx)
    if count != rows:
        return failed(
            f'{file} reports "{METRICS_COUNT_KEY}": {count}, but data/example.jsonl has {rows} row(s). '
            "Regenerate the metrics from the committed examples.",
            file=file,
            key=f"{count}!={rows}",
        )
    return passed(f'{file} reports "{METRICS_COUNT_KEY}": {count}, matching data/example.jsonl.', file=file)


# -- GR117 merge-conflict artifacts ----------------------------------------------------------------


def _line_at(content: bytes, pos: int) -> bytes:
    end = content.find(b"\n", pos)
    return content[pos : end if end != -1 else len(content)]


def _marker_line(content: bytes) -> int | None:
    """The first line that starts with a conflict marker, 1-based."""
    first = None
    for marker in CONFLICT_MARKERS:
        pos = content.find(marker)
        while pos != -1 and (
            (pos > 0 and content[pos - 1 : pos] != b"\n") or _line_at(content, pos).rstrip() in EDIT_FORMAT_LINES
        ):
            pos = content.find(marker, pos + 1)
        if pos != -1 and (first is None or pos < first):
            first = pos
    return None if first is None else content.count(b"\n", 0, first) + 1


def check_conflict_artifacts(ctx: ServerContext) -> Outcome:
    problems: list[tuple[str, int | None, str]] = []
    to_read: list[Entry] = []
    for entry in ctx.tree.walk(ctx.path):
        if entry.kind != "file":
            continue
        if entry.missing:  # the repository is damaged (GR100 says so): what the file holds is unknown
            raise CheckError(damaged_message(entry.path, entry.oid))
        rel = entry.path[len(ctx.path) + 1 :]
        if rel.startswith("data/") and "conflict" in posixpath.basename(rel).lower():
            problems.append((entry.path, None, "is a merge-conflict copy"))
        elif entry.size <= ctx.max_file_bytes:  # GR100's cap: larger ones are never read whole
            to_read.append(entry)
    for entry in to_read:  # a git tree reads them all through one `git cat-file --batch` process
        content = ctx.tree.read(entry)
        if b"\0" in content[:8192]:
            continue  # binary
        line = _marker_line(content)
        if line is not None:
            problems.append((entry.path, line, f"line {line} is a conflict marker"))
    problems.sort(key=lambda p: p[0])
    if problems:
        return failed(
            "Merge-conflict leftovers: "
            + _listing([f"{path} {why}" for path, _, why in problems])
            + ". Resolve the conflict, delete the conflict copies, and commit the result.",
            file=problems[0][0],
            line=problems[0][1],
            locations=[Location(file=path, line=line) for path, line, _ in problems],
            key="\n".join(path for path, _, _ in problems),
        )
    return passed("No conflict copies under data/ and no conflict marker lines in the server's files.")


# -- GR118 verified flag ---------------------------------------------------------------------------


def _entry_key(e: ServerEntry) -> tuple[str, str, str]:
    return (e.config.rel, e.top, e.name)


def _entry_line(e: ServerEntry) -> int | None:
    """The line of `<name>:` below the `resources_servers:` key (the top-level name is often the same)."""
    lines = e.config.text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "resources_servers:"), 0)
    for i in range(start, len(lines)):
        if lines[i].strip().removesuffix(":").strip("'\"") == e.name and lines[i].rstrip().endswith(":"):
            return i + 1
    return None


# NeMo Gym reads `verified` into a pydantic `bool` (nemo_gym/server_metadata.py): these read as true.
TRUE_STRINGS = frozenset({"1", "on", "t", "true", "y", "yes"})


def reads_as_true(value: object) -> bool:
    """Whether NeMo Gym's metadata (a pydantic bool, lax mode) reads the value as true."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value == 1
    return isinstance(value, str) and value.strip().lower() in TRUE_STRINGS


def _yaml_value(value: object) -> str:
    """A `verified` value as the YAML says it, with its type when that is not a boolean."""
    if isinstance(value, bool):
        return f"`verified: {str(value).lower()}`"
    if isinstance(value, str):
        return f"`verified: {json.dumps(value[:40])}` (a string)"
    if value is None:
        return "`verified: null`"
    kind = "a number" if isinstance(value, int | float) else "not a boolean"
    return f"`verified: {str(value)[:40]}` ({kind})"


def _verified(e: ServerEntry) -> object:
    return e.body.get("verified") if isinstance(e.body, dict) else None


def _verified_before(
    ctx: ServerContext, pull: PullRequest, entries: list[ServerEntry]
) -> dict[tuple[str, str, str], object]:
    """Each entry's `verified` at the merge base, by entry key. A plain rename (ctx.renamed_from, data/ and
    verify()'s module unchanged) brings its old entries along: matched by key with the old name read as the new,
    else in order. A rename that changed either is judged as new: nothing before."""
    tree, renamed = pull.base, ctx.renamed_from is not None and not ctx.reworked
    if renamed:
        tree = RenamedTree(pull.base, ctx.renamed_from or "", ctx.name)
    elif not is_server(pull.base, ctx.name):
        return {}
    base_ctx = ServerContext(tree, ctx.name, Checkout(tree), ctx.max_file_bytes)
    try:
        old = [(_entry_key(e), _verified(e)) for e in server_entries(base_ctx)]
    except SkipCheck:  # the base's server is a link: nothing of it was verified
        return {}
    before = dict(old)
    if renamed:
        swap = (ctx.renamed_from or "", ctx.name)
        before = {tuple(part.replace(*swap) for part in key): value for key, value in old}  # type: ignore[misc]
        for e, (_, value) in zip(entries, old, strict=False):
            before.setdefault(_entry_key(e), value)
    return before


def check_verified_flag(ctx: ServerContext) -> Outcome:
    pull = _pull(ctx, "what a PR does to the `verified` flag")
    entries = server_entries(ctx)
    if not entries:
        raise SkipCheck("Not run: waits on GR103: no config defines a resources_servers entry.", "prerequisite_failed")
    before = _verified_before(ctx, pull, entries)
    bad: list[tuple[ServerEntry, str]] = []
    for e in entries:
        value = e.body.get("verified") if isinstance(e.body, dict) else None
        where = f"{ctx.full(e.config.rel)}: {e.top}.resources_servers.{e.name}"
        if _entry_key(e) not in before:
            if value is not False:  # the YAML boolean false, nothing that merely looks like it
                shown = "has no `verified`" if value is None else f"has {_yaml_value(value)}"
                bad.append((e, f"{where} is new and {shown}; a new server starts with the boolean `verified: false`"))
        elif reads_as_true(value) and not reads_as_true(before[_entry_key(e)]):
            bad.append(
                (
                    e,
                    f"{where} turns `verified` to true ({_yaml_value(value)}, which NeMo Gym reads as true); only "
                    "a maintainer does that, after baselining",
                )
            )
    if bad:
        return failed(
            "; ".join(msg for _, msg in bad) + ".",
            file=ctx.full(bad[0][0].config.rel),
            line=_entry_line(bad[0][0]),
            locations=[Location(file=ctx.full(e.config.rel), line=_entry_line(e)) for e, _ in bad],
            key="\n".join("/".join(_entry_key(e)) for e, _ in bad),
        )
    return passed("The PR sets no `verified: true`, and every new resources server entry has `verified: false`.")


# -- GR119 completed README ------------------------------------------------------------------------


def _is_placeholder(value: str) -> bool:
    return is_placeholder(value) and bool(value.strip())  # the licence checks' list: `?`, `TBD`, `N/A`, ...


def _is_blank_or_placeholder(value: str) -> bool:
    return not value.strip() or is_placeholder(value)


def _label_value(line: str, label: str) -> str | None:
    """The text after `label:` on a line (emphasis and list bullets around the label ignored)."""
    bare = line.strip().lstrip("-*>_ #").replace("**", "").replace("__", "")
    if not bare.lower().startswith(label.lower()):
        return None
    rest = bare[len(label) :].lstrip()
    return rest[1:] if rest.startswith(":") else None


def _text_lines(lines: list[str]) -> Iterator[tuple[int, str]]:
    """(index, text) of the lines that are paragraph text: not in a code fence or an HTML comment, not a
    heading (ATX or setext), not an HTML block line, not indented code. One pass, a few string operations
    a line, whatever the README holds (a parser's token stream cost seconds and 400 MB on 1 MB of headings)."""
    fence = ""
    in_comment = False
    pending: tuple[int, str] | None = None  # a text line: a setext heading's title when `===`/`---` follows
    for i, raw in enumerate(lines):
        line = raw.lstrip(" ")
        indent = len(raw) - len(line)
        if fence:
            if indent <= 3 and line.startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            continue
        if in_comment:
            in_comment = "-->" not in raw
            continue
        stripped = line.strip()
        if pending is not None and stripped and stripped[0] in "=-" and not stripped.strip(stripped[0]):
            pending = None  # the line above was a setext heading, not text
            continue
        if pending is not None:
            yield pending
            pending = None
        if not stripped or indent > 3 or line.startswith("#"):
            continue
        if line.startswith(("```", "~~~")):
            fence = line[0] * (len(line) - len(line.lstrip(line[0])))
        elif line.startswith("<!--"):
            in_comment = "-->" not in line[4:]
        elif not line.startswith("<"):
            text = stripped.lstrip(">").strip()
            while text[:2] in ("- ", "* ", "+ "):
                text = text[2:].strip()
            if text:
                pending = (i, text)
    if pending is not None:
        yield pending


def _has_description(text: str, licensing: Licensing | None) -> bool:
    """A paragraph line before the licensing section that is neither a label line nor a placeholder."""
    lines = text.splitlines()
    # an SPDX header (the README's own, often above the title) is no licensing section: read the whole README
    stop = licensing.first_line - 1 if licensing and not licensing.spdx else len(lines)
    for _, content in _text_lines(lines[:stop]):
        if _label_value(content, "Data links") is None and not _is_placeholder(content):
            return True
    return False


def _placeholder_lines(lines: list[str]) -> list[tuple[int, str]]:
    """(line, what) for `?`/TBD left on the scaffold's `Data links:` line and in its `Dependencies` list; one pass."""
    found = []
    in_dependencies = False
    for i, line in enumerate(lines):
        if not line.strip():
            in_dependencies = False
            continue
        if is_rule_line(line):
            continue
        if in_dependencies and (_is_placeholder(line) or (":" in line and _is_placeholder(line.split(":", 1)[1]))):
            found.append((i + 1, "the `Dependencies` list still has a `?` line"))
        value = _label_value(line, "Data links")
        if value is not None and not value.strip() and i + 1 < len(lines) and lines[i + 1].strip():
            value = lines[i + 1].strip().lstrip("-*+ ")  # `Data links:` over its list (or a line): the list is it
        if value is not None and _is_blank_or_placeholder(value):
            found.append((i + 1, "`Data links:` is still a placeholder"))
        if line.strip().lstrip("#* ").rstrip("*: ").lower() == "dependencies":
            in_dependencies = True
    return found


def _names_start_command(ctx: ServerContext, text: str) -> bool:
    if "ng_run" in text or "gym env" in text:
        return True
    return any(f"configs/{posixpath.basename(rel)}" in text for rel in ctx.config_files())


def check_readme_completed(ctx: ServerContext) -> Outcome:
    file, text = readme_text(ctx)
    if text is None:
        raise SkipCheck("Not run: waits on GR109: README.md is missing.", "prerequisite_failed")
    lines = text.splitlines()
    problems: list[tuple[int | None, str]] = []
    if not _has_description(text, readme_licensing(ctx)):
        problems.append((None, "there is no description before the licensing section"))
    problems += _placeholder_lines(lines)
    if not _names_start_command(ctx, text):
        problems.append((None, "it does not say how to start the server (`ng_run +config_paths=[...]` or `gym env`)"))
    if problems:
        first_line = next((line for line, _ in problems if line), None)
        return failed(
            f"{file} is not completed: "
            + "; ".join(f"line {line}: {what}" if line else what for line, what in problems)
            + ". Describe the environment, fill in the scaffold's `?` lines, and document the command that starts it.",
            file=file,
            line=first_line,
            # one location per problem, keyed by it: a README that had them all at the base is pre-existing
            locations=[Location(file=file, line=line, key=what) for line, what in problems],
            key="\n".join(what for _, what in problems),
        )
    return passed(
        f"{file} describes the server, has no scaffold placeholders left, and says how to start it.", file=file
    )


# -- GR121 committed datasets ----------------------------------------------------------------------


def check_committed_datasets(ctx: ServerContext) -> Outcome:
    pull = _pull(ctx, "the files a PR adds")
    added = [
        ctx.full(rel)
        for rel, _ in _added_under(ctx, pull)
        if rel.startswith("data/") and any(fnmatchcase(posixpath.basename(rel), p) for p in DATASET_PATTERNS)
    ]
    if added:
        return failed(
            f"The PR commits dataset files the scaffold's data/.gitignore keeps out of git: {_listing(added)}. "
            "Remove them; publish full datasets in a dataset registry and reference them from the config.",
            file=added[0],
            locations=[Location(file=path) for path in added],
            key="\n".join(added),
        )
    return passed(f"The PR adds no files matching {', '.join(DATASET_PATTERNS)} under data/.")


CHECKS = [
    Check(
        "GR115",
        "error",
        "Added files carry the copyright header",
        "Start every new source file with one of the copyright headers listed in .gym-review.yaml.",
        family="licence",
        run=check_copyright_header,
        rule="copyright_header",
    ),
    Check(
        "GR116",
        "error",
        "data/example_metrics.json matches data/example.jsonl",
        "Run `gym dataset collate ... +mode=example_validation` and commit data/example_metrics.json.",
        family="data",
        run=check_example_metrics,
        rule="example_metrics",
    ),
    Check(
        "GR117",
        "error",
        "No merge-conflict leftovers",
        "Resolve conflicts fully: no `<<<<<<<`/`>>>>>>>` lines, no `*conflict*` files under data/.",
        family="files",
        run=check_conflict_artifacts,
        rule="conflict_artifacts",
    ),
    Check(
        "GR118",
        "error",
        "New servers start unverified",
        "Give every resources server entry of a new server the YAML boolean `verified: false`; never set it to "
        "true (or anything NeMo Gym reads as true) yourself.",
        family="config",
        run=check_verified_flag,
        rule="verified_flag",
    ),
    Check(
        "GR119",
        "warning",
        "README.md is completed",
        "Describe the environment, replace the scaffold's `?` lines, and document the command that starts it.",
        family="files",
        run=check_readme_completed,
    ),
    Check(
        "GR121",
        "error",
        "No full datasets committed",
        "Remove files matching *train.jsonl, *validation.jsonl, *_prepare.jsonl from data/.",
        family="data",
        run=check_committed_datasets,
        rule="committed_datasets",
    ),
]
