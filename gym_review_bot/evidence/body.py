"""A PR description parsed as Markdown into labelled sections; everything in it is hostile text.

markdown-it-py does the parsing (bounded nesting, on a bounded body); nothing here runs a regular
expression over the raw body. Labels are headings, bold lead-ins (`**Licence:** MIT`), `Label: text`
lead-ins and checklist items (`- [x] Licence: MIT`).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

MAX_BODY_CHARS = 128 * 1024  # GitHub caps a PR body at 65,536 characters
MAX_BLOCKS = 5000
MAX_LABEL_CHARS = 60
MAX_LABEL_WORDS = 5
_NOT_IN_LABELS = (".", ";", ",", "(", "`", "//")
LABEL_LEVEL = 7  # labels sit below every heading level; nested list labels deeper still
_CHECKBOXES = ("[x] ", "[X] ", "[ ] ")


@dataclass
class Link:
    text: str
    href: str
    image: bool = False


@dataclass
class Section:
    """A heading or a labelled lead-in, with the text that follows it up to the next one."""

    label: str
    level: int
    blocks: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    checkbox: bool = False


@dataclass
class ParsedBody:
    sections: list[Section]  # the first one (label "") holds what comes before any label
    truncated: bool = False

    def text(self) -> str:
        return "\n".join(s.label + "\n" + "\n".join(s.blocks) for s in self.sections)

    def links(self) -> list[Link]:
        return [link for s in self.sections for link in s.links]


def normalize(text: str) -> str:
    """Lower case, letters and digits only, single spaces: what synonyms are matched against."""
    out = []
    for ch in unicodedata.normalize("NFKC", text).lower():
        out.append(ch if ch.isalnum() else " ")
    return " ".join("".join(out).split())


def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt  # only when a PR body is checked

    return MarkdownIt("commonmark", {"maxNesting": 20}).enable("table")


def parse_body(text: str) -> ParsedBody:
    truncated = len(text) > MAX_BODY_CHARS
    tokens = _parser().parse(text[:MAX_BODY_CHARS])
    return ParsedBody(_Builder().build(tokens), truncated)


class _Builder:
    def __init__(self) -> None:
        self.sections: list[Section] = [Section("", 0)]
        self.list_depth = 0
        self.blocks = 0

    def build(self, tokens: list[Token]) -> list[Section]:
        pending_heading: int | None = None
        row: list[str] = []
        previous = ""
        for token in tokens:
            if self.blocks >= MAX_BLOCKS:
                break
            kind = token.type
            if kind == "heading_open":
                pending_heading = int(token.tag[1:]) if token.tag[1:].isdigit() else 6
            elif kind in ("bullet_list_open", "ordered_list_open"):
                self.list_depth += 1
            elif kind in ("bullet_list_close", "ordered_list_close"):
                self.list_depth -= 1
                if self.sections[-1].level > LABEL_LEVEL + self.list_depth:
                    # text after a list belongs to what held the list, not to its last item's label
                    self.sections.append(Section("", LABEL_LEVEL + self.list_depth))
            elif kind == "tr_open":
                row = []
            elif kind == "tr_close":
                self._add_text(" | ".join(row))
            elif kind in ("fence", "code_block"):
                self._add_text(token.content[:20_000])
            elif kind == "inline":
                lines = _inline(token.children or [])
                if pending_heading is not None:
                    text = " ".join(line.text for line in lines).strip()
                    self.sections.append(Section(text, pending_heading, links=[k for x in lines for k in x.links]))
                    pending_heading = None
                elif previous in ("th_open", "td_open"):
                    row.append(" ".join(line.text for line in lines).strip())
                    self.sections[-1].links.extend(k for x in lines for k in x.links)
                else:
                    for n, line in enumerate(lines):
                        self._add_inline(line.text, line.links, line.bold, item_start=n == 0)
            self.blocks += 1
            previous = kind
        return self.sections

    def _add_text(self, text: str) -> None:
        if text.strip():
            self.sections[-1].blocks.append(text.strip())

    def _add_inline(self, text: str, links: list[Link], bold_lead: str | None, item_start: bool) -> None:
        level = LABEL_LEVEL + self.list_depth
        checkbox = item_start and self.list_depth > 0 and text.startswith(_CHECKBOXES)
        if checkbox:
            text = text[4:]
        label, rest = _split_label(text, bold_lead)
        if label is None and checkbox:
            label, rest = text.strip(), ""
        if label is None:
            self._add_text(text)
            self.sections[-1].links.extend(links)
            return
        section = Section(label, level, links=links, checkbox=checkbox)
        if rest.strip():
            section.blocks.append(rest.strip())
        self.sections.append(section)


@dataclass
class _Line:
    text: str = ""
    links: list[Link] = field(default_factory=list)
    bold: str | None = None  # the line's bold lead-in, when it opens with one


def _inline(children: list[Token]) -> list[_Line]:
    """The lines of an inline run (split at line breaks): plain text, links and images, bold lead-in."""
    lines = [_Line()]
    parts: list[str] = []
    bold: list[str] | None = None
    bold_done = False
    href: str | None = None
    link_text: list[str] = []
    for child in children:
        kind = child.type
        line = lines[-1]
        if kind == "strong_open" and not bold_done and not "".join(parts).strip():
            bold = []
        elif kind == "strong_close" and bold is not None and not bold_done:
            bold_done = True
            line.bold = "".join(bold)
        elif kind in ("text", "code_inline"):
            parts.append(child.content)
            if bold is not None and not bold_done:
                bold.append(child.content)
            if href is not None:
                link_text.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            line.text = "".join(parts)
            lines.append(_Line())
            parts, bold, bold_done = [], None, False
        elif kind == "link_open":
            href, link_text = str(child.attrs.get("href") or ""), []
        elif kind == "link_close" and href is not None:
            line.links.append(Link("".join(link_text), href))
            href = None
        elif kind == "image":
            line.links.append(Link(child.content, str(child.attrs.get("src") or ""), image=True))
    lines[-1].text = "".join(parts)
    return lines


def _split_label(text: str, bold_lead: str | None) -> tuple[str | None, str]:
    stripped = text.strip()
    if bold_lead and stripped.startswith(bold_lead.strip()):
        label = bold_lead.strip().rstrip(":").strip()
        rest = stripped[len(bold_lead.strip()) :].lstrip(" :-–—")
        if label:
            return label, rest
    colon = stripped.find(":", 0, MAX_LABEL_CHARS + 1)
    if colon > 0:
        label = stripped[:colon]
        if len(label.split()) <= MAX_LABEL_WORDS and not any(c in label for c in _NOT_IN_LABELS):
            return label.strip(), stripped[colon + 1 :].strip()
    return None, stripped
