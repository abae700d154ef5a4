"""Quoted PR text renders as exactly the text (issue 19, item 11): the comment is rendered with cmarkgfm and the
visible text of each quoted value compared with the original."""

from __future__ import annotations

from html.parser import HTMLParser

import cmarkgfm
import pytest

from gym_review_bot.checks.quote import LINE_BREAK, code, values
from gym_review_bot.checks.readme import find_licensing
from gym_review_bot.discover import discover_pr
from gym_review_bot.render.markdown import CommentContext, render_markdown
from gym_review_bot.render.safety import md_inert
from gym_review_bot.review import ReviewOptions, review
from tests.conftest import GitRepo, good_server_files

ZWSP = "\u200b"  # the renderer's invisible break inside a link, a mention or a reference


class CodeTexts(HTMLParser):
    """The visible text of every <code> element, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "code":
            if self._depth == 0:
                self.texts.append("")
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.texts[-1] += data


def code_texts(markdown: str) -> list[str]:
    html = cmarkgfm.github_flavored_markdown_to_html(markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    parser = CodeTexts()
    parser.feed(html)
    return [t.replace(ZWSP, "") for t in parser.texts]


TRICKY = [
    "Data: the example images are the ones used by the `circle_click` benchmark",  # issue 19's inverted case
    "``double`` and `single` and ```triple```",
    "`starts with a backtick",
    "ends with a backtick`",
    " spaced on both sides ",
    "Code: *Apache* _2.0_ | Data: [CC](x) <b>bold</b> &amp; \\# not a heading",
    "mentions @octocat, refs #12 and GH-3, a link https://example.com and www.example.com",
    "NVIDIA Internal Use Only, Do Not Distribute",
]


@pytest.mark.parametrize("value", TRICKY)
def test_a_quoted_value_renders_as_exactly_its_text(value: str) -> None:
    message = f"README.md line 7: {code(value)} is a placeholder where a licence belongs."
    assert code_texts(f"- {md_inert(message)}") == [value]


def test_a_list_in_a_quoted_value_stays_readable_item_by_item() -> None:
    value = "Data:\n- HotPotQA: CC BY-SA 4.0\n- ours: TBD"
    [shown] = code_texts(f"- {md_inert('line 3: ' + code(value) + ' is a placeholder')}")
    assert shown == value.replace("\n", LINE_BREAK)
    assert shown.split(LINE_BREAK) == value.split("\n")  # each line, and only those, between the breaks


def test_values_with_commas_stay_one_value_each() -> None:
    allowed = ["Apache 2.0", "NVIDIA Internal Use Only, Do Not Distribute", "MIT"]
    assert code_texts(md_inert(f"Allowed values: {values(allowed)}.")) == allowed


def test_plain_text_around_code_spans_is_unchanged_and_no_span_inverts() -> None:
    message = "The PR says " + code("a `b` c") + " and then " + code("d") + "."
    html = cmarkgfm.github_flavored_markdown_to_html(md_inert(message), options=cmarkgfm.Options.CMARK_OPT_UNSAFE)
    assert code_texts(md_inert(message)) == ["a `b` c", "d"]
    assert "and then" in html and "<code>and then" not in html


def repo_with_readme(repo: GitRepo, readme: str) -> str:
    repo.git("checkout", "-q", "-b", "pr")
    files = dict(good_server_files("quoted"))
    files["README.md"] = readme
    repo.server("quoted", files)
    repo.commit("add quoted")
    report = review(discover_pr(repo.path, "main"), ReviewOptions()).report
    return render_markdown(report, context=CommentContext())


def test_the_comment_quotes_readme_lines_exactly(repo: GitRepo) -> None:
    bare = "Data: the example images are the ones used by the `circle_click` benchmark"
    placeholder = "Code: ``TBD`` (see `LICENSE`)"
    readme = (
        "# Quoted\n\nA server. Start it with `ng_run +config_paths=[configs/quoted.yaml]`.\n\n"
        f"# Licensing information\n{placeholder}\n{bare}\n"
    )
    shown = code_texts(repo_with_readme(repo, readme))
    assert placeholder in shown  # GR109's placeholder line, as written
    readme = readme.replace(placeholder, "Code: Apache 2.0")
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "pr")
    assert bare in code_texts(repo_with_readme(repo, readme))  # GR114's line naming neither licence nor origin


def test_the_suggested_heading_pastes_into_a_readme_the_bot_accepts(repo: GitRepo) -> None:
    md = repo_with_readme(repo, "# Quoted\n\nA server. Start it with `ng_run`.\n")
    [heading] = [t for t in code_texts(md) if "Licensing information" in t]
    assert heading == "# Licensing information"
    pasted = f"# Quoted\n\nA server.\n\n{heading}\nCode: Apache 2.0\nData: CC BY 4.0\n"
    found = find_licensing(pasted)
    assert found is not None and found.first_line == 5
