"""One way to read a licence statement, for every check that reads one: the README's (GR109, GR114, GR119), the
PR description's `## Licensing` (GR304) and a dataset's `license:` value (GR113).

One placeholder list and one rule:
- a value that stands where a licence belongs (`?`, `TBD`, `N/A`, `-`, `CC-BY-?`, `pending`, ...) is a placeholder;
- a statement names a licence (an SPDX id or a name, a DatasetConfig value, a LICENSE file or an upstream pointer);
- a single licence statement covers the data when the README says the data is synthetic or made for the server;
- a `Data:` line that names neither a licence nor a synthetic origin leaves the data uncovered (GR114, a warning);
- GR109 is for no licence at all, or for placeholders.

Every pattern here runs on PR text: re2, linear time whatever the input.
"""

from __future__ import annotations

import re2

LICENCE_NAME = re2.compile(
    r"(?i)\b(apache|mit\b|bsd|[al]?gpl|gnu (general|lesser|affero)|mpl|mozilla public|cc[- ]?by|cc0|"
    r"creative commons|unlicen[cs]e|isc\b|public domain|odc[- ]?by|odbl|pddl|openrail|llama \d|"
    r"python software foundation|psf\b|eclipse public|epl\b|artistic licen|zlib|boost software|wtfpl|"
    r"cdla|nvidia [\w ]*licen[cs]e|nvidia open model|gemma terms|eupl|bsl-1\.0|upl-1\.0|ms-pl|0bsd)"
)
UPSTREAM = re2.compile(
    r"(?i)(upstream|original|source)[^.\n]{0,60}licen[cs]e|licen[cs]e[^.\n]{0,60}(upstream|original)|"
    r"see [^.\n]{0,80}licen[cs]e|\]\([^)]*licen[cs]e[^)]*\)"
)
LICENCE_FILE = re2.compile(r"\bLICEN[CS]E(\.md|\.txt)?\b")  # a pointer to the licence file, in capitals
# A link to the upstream dataset is where its licence is found: good enough for the data.
DATASET_LINK = re2.compile(r"(?i)https?://|\]\(")
URL = re2.compile(r"(?i)(https?://|www\.)\S*|\]\([^)]*\)")
# What says the data was made for the server, not taken from somewhere under a licence of its own.
SYNTHETIC = re2.compile(
    r"(?i)\b(synthetic(ally)?|procedurally generated|hand[- ]?(written|crafted|made)|"
    r"(written|created|made|authored|generated|constructed|designed|produced) (by hand |manually )?"
    r"(specifically )?for (this|the) (server|environment|env|resources? server)|"
    r"no (external|third[- ]party|upstream) (data|datasets?))\b"
)

# Values that stand where a licence belongs, compared without case, spaces or punctuation: `T.B.D.` is `tbd`.
PLACEHOLDER_VALUES = frozenset(
    {
        "", "tbd", "tba", "tbc", "todo", "na", "none", "null", "nil", "false", "unknown", "unspecified",
        "notspecified", "pending", "pendinglegal", "pendinglegalreview", "tobedetermined", "tobedecided",
        "tobeannounced", "tobeconfirmed", "comingsoon", "later", "xxx", "license", "licence", "fillin", "fillmein",
        "insertlicense", "insertlicence", "yourlicense", "yourlicence", "placeholder", "fixme", "wip", "todecide",
        "notyetdecided", "undecided", "unclear", "notsure",
    }
)  # fmt: skip
# Words and phrases that make any value a placeholder wherever they stand in it (`Apache 2.0 (TBD)`).
PLACEHOLDER_WORDS = frozenset({"tbd", "tba", "tbc", "todo", "pending", "unknown", "fixme", "unspecified"})
PLACEHOLDER_PHRASES = (
    "to be determined", "to be decided", "to be announced", "to be confirmed", "coming soon", "not specified",
    "not yet decided", "t.b.d", "t.b.a",
)  # fmt: skip
_DECORATION = "*_`>#"


def normalise(text: str) -> str:
    """A licence value without Markdown decoration, line breaks or closing punctuation, lower-cased."""
    if "<br" in text:
        text = text.replace("<br>", " ").replace("<br/>", " ").replace("<br />", " ")
    text = text.strip().strip(_DECORATION).strip()
    if text[:2] in ("- ", "* ", "+ "):
        text = text[2:]
    return " ".join(text.strip().strip("*_`").strip().rstrip(".,;:!").lower().split())


def is_placeholder(value: object) -> bool:
    """Whether a value stands where a licence belongs without naming one (the one list every check uses).

    Not a string (YAML `false`, `null`, a number) is a placeholder; so is anything holding a `?` outside a
    link (`CC-BY-?`, `MIT?`), only punctuation (`-`, `---`, an em dash), a `<...>` or `[... licence ...]`
    template, or a placeholder word (`TBD`, `pending`, `unknown`) anywhere in it.
    """
    if not isinstance(value, str):
        return True
    norm = normalise(value)
    if "".join(filter(str.isalnum, norm)) in PLACEHOLDER_VALUES:
        return True
    if norm.startswith("<") and norm.endswith(">"):
        return True
    if norm.startswith("[") and norm.endswith("]") and "licen" in norm:
        return True
    if "?" in norm and "?" in URL.sub(" ", norm):
        return True
    for word in PLACEHOLDER_WORDS:  # plain loops and `in` first: this runs on every line of a README's lists
        if word in norm and _has_word(norm, word):
            return True
    for phrase in PLACEHOLDER_PHRASES:
        if phrase in norm:
            return True
    return False


def _has_word(text: str, word: str) -> bool:
    """Whether `word` stands in text as a whole word: str.find and a look at its neighbours, no regex (this
    runs on every line of a README's lists, where a regex call's own cost was most of the time)."""
    at = text.find(word)
    while at != -1:
        end = at + len(word)
        if (at == 0 or not text[at - 1].isalnum()) and (end == len(text) or not text[end].isalnum()):
            return True
        at = text.find(word, at + 1)
    return False


def names_licence(text: str, known: tuple[str, ...] = (), links: bool = True) -> bool:
    """Whether text names a recognised licence (SPDX id, spelled-out name, a DatasetConfig value) or links to one."""
    if LICENCE_NAME.search(text) or UPSTREAM.search(text) or LICENCE_FILE.search(text):
        return True
    if links and DATASET_LINK.search(text):
        return True
    lowered = text.lower()
    return any(value.lower() in lowered for value in known)


def says_synthetic(text: str) -> bool:
    """Whether text says the data is synthetic or was made for the server (no licence of its own to name)."""
    return SYNTHETIC.search(text) is not None


def is_rule_line(line: str) -> bool:
    """A setext heading's underline or a thematic break (`---`, `***`, `===`): Markdown, not a value."""
    marks = line.replace(" ", "").replace("\t", "")
    return len(marks) >= 3 and marks[0] in "-*_=" and not marks.strip(marks[0])


SEPARATORS = (":", " - ", " \u2013 ", " \u2014 ")  # `Data: MIT`, `Data - MIT`, `Data – MIT`, `Data — MIT`
MAX_LABEL = 60


def split_label(line: str) -> tuple[str | None, str]:
    """`**Code**: Apache 2.0` or `- Data — N/A` as (label, value); a line with no short label as (None, line)."""
    body = line.strip()
    while body[:2] in ("- ", "* ", "+ ") or body[:1] == ">":
        body = body[2:].strip() if body[:1] != ">" else body[1:].strip()
    cut, sep = -1, ""
    for mark in SEPARATORS:
        at = body.find(mark, 0, MAX_LABEL + 20)
        if at > 0 and (cut == -1 or at < cut) and "://" not in body[: at + 3]:
            cut, sep = at, mark
    if cut == -1:
        return None, line
    label = normalise(body[:cut])
    if not label or len(label) > MAX_LABEL or not any(c.isalpha() for c in label):
        return None, line
    return label, body[cut + len(sep) :]


def table_cells(line: str) -> list[str] | None:
    """The cells of a Markdown table row (`| Data | N/A |`), or None when the line is not one."""
    stripped = line.strip()
    if "|" not in stripped or stripped.count("|") < (2 if stripped.startswith("|") else 1):
        return None
    cells = [c.strip() for c in stripped.strip("|").split("|")]
    return cells if len(cells) >= 2 else None


def is_table_rule(cells: list[str]) -> bool:
    """`|---|:--:|`: the row under a table's header."""
    return all(c and not c.strip("-: ") for c in cells)
